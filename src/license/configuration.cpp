// License identifiers and the license types of config/licenses/types.yaml; see license.h.
#include "license/license.h"

#include "base/config.h"
#include "base/identifiers.h"

#include <algorithm>
#include <set>

namespace onewindow::license {

namespace {

bool digits(std::string_view text, std::size_t count) {
  return text.size() == count && std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; });
}

bool upper_alphanumeric(std::string_view text) {
  return std::all_of(text.begin(), text.end(), [](char c) { return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z'); });
}

// A name of the file: a lower-case letter, then lower-case letters, digits and _.
bool snake_case(std::string_view text) {
  if (text.empty() || text.size() > 64 || text.front() < 'a' || text.front() > 'z') return false;
  return std::all_of(text.begin(), text.end(),
                     [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_'; });
}

Error bad_identifier(std::string_view field, const std::string& message) {
  return Error::invalid("license.bad_identifier", std::string(field), std::string(field) + ": " + message);
}

}  // namespace

// ---- Identifiers ------------------------------------------------------------------------------

std::string LicenseIdentifier::text() const {
  return std::string(identifier_prefix) + type_code + "." + issuer_code + "." + serial + "." + version + "." + check;
}

Result<LicenseIdentifier> LicenseIdentifier::make(std::string type_code, std::string issuer_code, std::string serial,
                                                  std::string version) {
  const std::string_view field = "identifier";
  if (type_code.size() != 21 || !digits(std::string_view(type_code).substr(18), 3) ||
      !validate_unified_social_credit_code(std::string_view(type_code).substr(0, 18)).ok()) {
    return bad_identifier(field, "the license type code is a USCC and a 3-digit sequence (21 characters)");
  }
  if (!validate_unified_social_credit_code(issuer_code).ok()) {
    return bad_identifier(field, "the issuer code is not a valid unified social credit code");
  }
  if (serial.empty() || serial.size() > 32 || !upper_alphanumeric(serial)) {
    return bad_identifier(field, "the serial is 1 to 32 digits and upper-case letters");
  }
  if (!digits(version, 3)) return bad_identifier(field, "the version is 3 digits");
  auto check = mod37_36_check_character(type_code + issuer_code + serial + version, field);
  if (!check.ok()) return check.take_error();
  return LicenseIdentifier{std::move(type_code), std::move(issuer_code), std::move(serial), std::move(version), *check};
}

Result<LicenseIdentifier> LicenseIdentifier::parse(std::string_view text, std::string_view field) {
  if (text.size() > 200 || !text.starts_with(identifier_prefix)) {
    return bad_identifier(field, "a license identifier starts with " + std::string(identifier_prefix));
  }
  std::vector<std::string> parts;
  std::string_view rest = text.substr(identifier_prefix.size());
  while (true) {
    auto dot = rest.find('.');
    parts.emplace_back(rest.substr(0, dot));
    if (dot == std::string_view::npos) break;
    rest.remove_prefix(dot + 1);
  }
  if (parts.size() != 5 || parts[4].size() != 1) {
    return bad_identifier(field, "a license identifier has a type code, issuer, serial, version and check character");
  }
  auto made = make(parts[0], parts[1], parts[2], parts[3]);
  if (!made.ok()) {
    Error error = made.take_error();
    error.details["field"] = std::string(field);
    return error;
  }
  if (made->check != parts[4][0]) {
    return Error::invalid("license.identifier_check", std::string(field),
                          std::string(field) + ": the check character does not match (mistyped?)");
  }
  return made;
}

// ---- Configuration ----------------------------------------------------------------------------

std::string_view holder_kind_name(HolderKind kind) {
  return kind == HolderKind::citizen ? "citizen" : "legal_person";
}

const DataItem* LicenseType::item(std::string_view name) const {
  for (const DataItem& item : items) {
    if (item.name == name) return &item;
  }
  return nullptr;
}

const LicenseType* LicenseConfiguration::type(std::string_view key_or_code) const {
  for (const LicenseType& type : types) {
    if (type.key == key_or_code || type.type_code() == key_or_code) return &type;
  }
  return nullptr;
}

const Department* LicenseConfiguration::department(std::string_view key) const {
  auto found = departments.find(key);
  return found == departments.end() ? nullptr : &found->second;
}

Result<LicenseConfiguration> LicenseConfiguration::load(const std::filesystem::path& path,
                                                        std::vector<Department> departments) {
  LicenseConfiguration configuration;
  for (Department& department : departments) {
    std::string key = department.key;
    configuration.departments.emplace(std::move(key), std::move(department));
  }
  const std::string file = path.string();
  auto document = load_yaml_file(path);
  if (!document.ok()) return document.take_error();
  ONEWINDOW_TRY(check_known_keys(*document, file, "", {"types"}));
  const YAML::Node listed = (*document)["types"];
  if (!listed || !listed.IsSequence()) {
    return config_error(listed ? "config.bad_value" : "config.missing_field", file, config_line(listed), "types",
                        "must be a list of license types");
  }
  std::set<std::string> keys, type_codes;
  int index = 0;
  for (const YAML::Node& node : listed) {
    std::string path_name = "types[" + std::to_string(index++) + "]";
    ONEWINDOW_TRY(check_known_keys(node, file, path_name + ".",
                                   {"key", "code", "name", "name_en", "department", "defining_agency", "holder",
                                    "validity_years", "items"}));
    auto text = [&](const char* key, bool required) { return config_text(node, file, path_name, key, required); };
    auto bad = [&](const char* code, const char* key, const std::string& message) {
      return config_error(code, file, config_line(node[key].IsDefined() ? node[key] : node), path_name + "." + key,
                          message);
    };
    LicenseType type;
    auto key = text("key", true);
    if (!key.ok()) return key.take_error();
    if (!snake_case(*key)) return bad("config.bad_value", "key", "lower-case letters, digits and _, starting with a letter");
    if (!keys.insert(*key).second) return bad("license.duplicate_type", "key", "another type has the key " + *key);
    type.key = *key;
    auto code = text("code", true);
    if (!code.ok()) return code.take_error();
    if (!digits(*code, 3)) return bad("config.bad_value", "code", "the type's sequence is 3 digits, quoted: \"001\"");
    type.code = *code;
    auto name = text("name", true);
    if (!name.ok()) return name.take_error();
    type.name = *name;
    auto english = text("name_en", false);
    if (!english.ok()) return english.take_error();
    type.english_name = *english;
    auto department = text("department", true);
    if (!department.ok()) return department.take_error();
    const Department* issuer = configuration.department(*department);
    if (issuer == nullptr) {
      return bad("license.unknown_department", "department", "no department " + *department + " in departments.yaml");
    }
    type.department = *department;
    auto agency = text("defining_agency", false);
    if (!agency.ok()) return agency.take_error();
    type.defining_agency = agency->empty() ? issuer->uscc : normalise_unified_social_credit_code(*agency);
    if (Status valid = validate_unified_social_credit_code(type.defining_agency, "defining_agency"); !valid.ok()) {
      return bad("config.bad_value", "defining_agency", valid.error().message);
    }
    if (!type_codes.insert(type.type_code()).second) {
      return bad("license.duplicate_type", "code", "another type of the same defining agency has the code " + type.code);
    }
    auto holder = text("holder", true);
    if (!holder.ok()) return holder.take_error();
    if (*holder == "citizen") {
      type.holder = HolderKind::citizen;
    } else if (*holder == "legal_person") {
      type.holder = HolderKind::legal_person;
    } else {
      return bad("config.bad_value", "holder", "citizen or legal_person");
    }
    auto validity = text("validity_years", false);
    if (!validity.ok()) return validity.take_error();
    if (!validity->empty()) {
      if (validity->size() > 3 || !digits(*validity, validity->size()) || std::stoi(*validity) > 100) {
        return bad("config.bad_value", "validity_years", "a whole number of years from 0 (no expiry) to 100");
      }
      type.validity_years = std::stoi(*validity);
    }
    const YAML::Node items = node["items"];
    if (items.IsDefined() && !items.IsNull()) {
      if (!items.IsSequence()) return bad("config.bad_value", "items", "must be a list of {name, label, label_en}");
      std::set<std::string> names;
      int item_index = 0;
      for (const YAML::Node& entry : items) {
        std::string item_path = path_name + ".items[" + std::to_string(item_index++) + "]";
        ONEWINDOW_TRY(check_known_keys(entry, file, item_path + ".", {"name", "label", "label_en"}));
        DataItem item;
        auto item_name = config_text(entry, file, item_path, "name");
        if (!item_name.ok()) return item_name.take_error();
        if (!snake_case(*item_name) || !names.insert(*item_name).second) {
          return config_error("config.bad_value", file, config_line(entry["name"]), item_path + ".name",
                              "lower-case letters, digits and _, once per type");
        }
        item.name = *item_name;
        auto label = config_text(entry, file, item_path, "label");
        if (!label.ok()) return label.take_error();
        item.label = *label;
        auto english_label = config_text(entry, file, item_path, "label_en", false);
        if (!english_label.ok()) return english_label.take_error();
        item.english_label = *english_label;
        type.items.push_back(std::move(item));
      }
    }
    configuration.types.push_back(std::move(type));
  }
  return configuration;
}

}  // namespace onewindow::license
