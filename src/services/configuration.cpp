// Service items read from config/services/*.yaml; see services.h and docs/services.md.
#include "services/services.h"

#include "base/config.h"
#include "services/forms.h"

#include <algorithm>
#include <fstream>
#include <regex>
#include <sstream>

namespace onewindow::services {

namespace {

const std::set<std::string> service_types = {"administrative_licensing", "administrative_confirmation", "public_service",
                                             "other"};
const std::set<std::string> applicant_kinds = {"citizen", "enterprise_user"};
const std::set<std::string> file_types = {"application/pdf", "image/jpeg", "image/png"};

bool is_name(const std::string& text) {
  static const std::regex name("[a-z][a-z0-9_]{0,63}");
  return std::regex_match(text, name);
}

// Reads one service file; `file` names it in errors.
class Reader {
 public:
  Reader(std::string file, const std::set<std::string>& departments, const registry::RegistryCatalog& registries,
         const license::LicenseConfiguration* licenses)
      : file_(std::move(file)), departments_(departments), registries_(registries), licenses_(licenses) {}

  Error error(const YAML::Node& node, std::string_view field, const std::string& code, const std::string& message) const {
    return config_error(code, file_, config_line(node), field, message);
  }

  Result<std::string> text(const YAML::Node& mapping, const std::string& path, const char* key, bool required = true) const {
    return config_text(mapping, file_, path, key, required);
  }

  Status department(const YAML::Node& node, std::string_view field, const std::string& key) const {
    if (!departments_.contains(key)) {
      return error(node, field, "services.unknown_department", "no department " + key + " in config/departments.yaml");
    }
    return ok_status();
  }

  Result<int> working_days(const YAML::Node& mapping, const char* key) const {
    auto written = text(mapping, "", key);
    if (!written.ok()) return written.take_error();
    int days = 0;
    try {
      std::size_t used = 0;
      days = std::stoi(*written, &used);
      if (used != written->size()) throw std::invalid_argument("trailing");
    } catch (const std::exception&) {
      return error(mapping[key], key, "config.bad_value", std::string(key) + " is a whole number of working days");
    }
    if (days < 1 || days > 365) return error(mapping[key], key, "config.bad_value", std::string(key) + " is 1 to 365 working days");
    return days;
  }

  Result<ServiceItem> read(const YAML::Node& root, const std::filesystem::path& directory) const {
    if (!root.IsMap()) return error(root, "", "config.bad_value", "a service file is a mapping");
    ONEWINDOW_TRY(check_known_keys(root, file_, "",
                                   {"code", "name", "name_en", "type", "competent_department", "implementing_departments",
                                    "intake_department", "applicant_kinds", "legal_basis", "conditions", "materials",
                                    "statutory_limit", "promised_limit", "fees", "process", "form", "licenses", "records"}));
    ServiceItem service;
    service.file = file_;
    for (auto [key, target] : {std::pair{"code", &service.code}, std::pair{"name", &service.name},
                               std::pair{"type", &service.type}, std::pair{"competent_department", &service.competent_department},
                               std::pair{"legal_basis", &service.legal_basis}, std::pair{"process", &service.process}}) {
      auto value = text(root, "", key);
      if (!value.ok()) return value.take_error();
      *target = *value;
    }
    auto english = text(root, "", "name_en", false);
    if (!english.ok()) return english.take_error();
    service.english_name = *english;
    static const std::regex code("[A-Z0-9][A-Z0-9-]{2,39}");
    if (!std::regex_match(service.code, code)) {
      return error(root["code"], "code", "config.bad_value", "a service code is 3 to 40 capital letters, digits and -");
    }
    if (!service_types.contains(service.type)) {
      return error(root["type"], "type", "config.bad_value",
                   "type is administrative_licensing, administrative_confirmation, public_service or other");
    }
    ONEWINDOW_TRY(department(root["competent_department"], "competent_department", service.competent_department));
    auto implementing = config_text_list(root, file_, "", "implementing_departments");
    if (!implementing.ok()) return implementing.take_error();
    if (implementing->empty()) {
      return error(root, "implementing_departments", "config.missing_field", "a service has at least one implementing department");
    }
    for (const auto& key : *implementing) ONEWINDOW_TRY(department(root["implementing_departments"], "implementing_departments", key));
    service.implementing_departments = *implementing;
    auto intake = text(root, "", "intake_department", false);
    if (!intake.ok()) return intake.take_error();
    if (!intake->empty()) service.intake_department = *intake;
    ONEWINDOW_TRY(department(root["intake_department"], "intake_department", service.intake_department));
    auto kinds = config_text_list(root, file_, "", "applicant_kinds");
    if (!kinds.ok()) return kinds.take_error();
    for (const auto& kind : *kinds) {
      if (!applicant_kinds.contains(kind)) {
        return error(root["applicant_kinds"], "applicant_kinds", "config.bad_value", "applicant kinds are citizen and enterprise_user");
      }
    }
    service.applicant_kinds = kinds->empty() ? std::vector<std::string>{"citizen"} : *kinds;
    auto conditions = config_text_list(root, file_, "", "conditions");
    if (!conditions.ok()) return conditions.take_error();
    service.conditions = *conditions;

    auto statutory = working_days(root, "statutory_limit");
    if (!statutory.ok()) return statutory.take_error();
    auto promised = working_days(root, "promised_limit");
    if (!promised.ok()) return promised.take_error();
    service.statutory_limit = *statutory;
    service.promised_limit = *promised;
    if (service.promised_limit > service.statutory_limit) {
      return error(root["promised_limit"], "promised_limit", "services.promised_over_statutory",
                   "the promised limit (" + std::to_string(service.promised_limit) +
                       " working days) is above the statutory one (" + std::to_string(service.statutory_limit) + ")");
    }
    ONEWINDOW_TRY(read_fees(root["fees"], service));
    ONEWINDOW_TRY(read_materials(root["materials"], service));
    ONEWINDOW_TRY(read_form(root["form"], directory, service));
    ONEWINDOW_TRY(read_licenses(root["licenses"], service));
    ONEWINDOW_TRY(read_records(root["records"], service));
    return service;
  }

 private:
  Status read_fees(const YAML::Node& node, ServiceItem& service) const {
    if (!node || node.IsNull()) return ok_status();
    if (!node.IsSequence()) return error(node, "fees", "config.bad_value", "fees is a list of {name, amount}");
    static const std::regex amount("(0|[1-9][0-9]{0,8})(\\.[0-9]{1,2})?");
    for (std::size_t i = 0; i < node.size(); ++i) {
      std::string path = "fees[" + std::to_string(i) + "]";
      ONEWINDOW_TRY(check_known_keys(node[i], file_, path + ".", {"name", "amount"}));
      auto name = text(node[i], path, "name");
      if (!name.ok()) return name.take_error();
      auto yuan = text(node[i], path, "amount");
      if (!yuan.ok()) return yuan.take_error();
      if (!std::regex_match(*yuan, amount)) {
        return error(node[i]["amount"], path + ".amount", "config.bad_value", "an amount is yuan with at most two decimals");
      }
      service.fees.push_back({*name, *yuan});
    }
    return ok_status();
  }

  Status read_materials(const YAML::Node& node, ServiceItem& service) const {
    if (!node || node.IsNull()) return ok_status();
    if (!node.IsSequence()) return error(node, "materials", "config.bad_value", "materials is a list");
    for (std::size_t i = 0; i < node.size(); ++i) {
      const YAML::Node& entry = node[i];
      std::string path = "materials[" + std::to_string(i) + "]";
      ONEWINDOW_TRY(check_known_keys(entry, file_, path + ".",
                                     {"code", "name", "name_en", "form", "key", "departments", "content_types", "max_bytes",
                                      "replaced_by"}));
      MaterialDefinition material;
      for (auto [key, target, required] :
           {std::tuple{"code", &material.code, true}, std::tuple{"name", &material.name, true},
            std::tuple{"name_en", &material.english_name, false}, std::tuple{"replaced_by", &material.replaced_by, false}}) {
        auto value = text(entry, path, key, required);
        if (!value.ok()) return value.take_error();
        *target = *value;
      }
      if (!is_name(material.code)) {
        return error(entry["code"], path + ".code", "config.bad_value", "a material code is a-z, 0-9 and _, starting with a letter");
      }
      if (service.material(material.code)) {
        return error(entry["code"], path + ".code", "services.duplicate_material", "material " + material.code + " is listed twice");
      }
      auto form = text(entry, path, "form", false);
      if (!form.ok()) return form.take_error();
      if (*form == "copy") {
        material.form = MaterialForm::copy;
      } else if (*form == "electronic") {
        material.form = MaterialForm::electronic;
      } else if (!form->empty() && *form != "original") {
        return error(entry["form"], path + ".form", "config.bad_value", "form is original, copy or electronic");
      }
      auto key = text(entry, path, "key", false);
      if (!key.ok()) return key.take_error();
      if (*key == "false") {
        material.key = false;
      } else if (!key->empty() && *key != "true") {
        return error(entry["key"], path + ".key", "config.bad_value", "key is true or false");
      }
      auto departments = config_text_list(entry, file_, path, "departments");
      if (!departments.ok()) return departments.take_error();
      for (const auto& department : *departments) {
        if (!service.implemented_by(department) && department != service.intake_department) {
          return error(entry["departments"], path + ".departments", "services.unknown_department",
                       "department " + department + " does not implement the service");
        }
      }
      material.departments = *departments;
      auto types = config_text_list(entry, file_, path, "content_types");
      if (!types.ok()) return types.take_error();
      for (const auto& type : *types) {
        if (!file_types.contains(type)) {
          return error(entry["content_types"], path + ".content_types", "config.bad_value",
                       "content types are application/pdf, image/jpeg and image/png");
        }
      }
      material.content_types = types->empty() ? std::vector<std::string>(file_types.begin(), file_types.end()) : *types;
      auto most = text(entry, path, "max_bytes", false);
      if (!most.ok()) return most.take_error();
      if (!most->empty()) {
        try {
          material.max_bytes = std::stoll(*most);
        } catch (const std::exception&) {
          material.max_bytes = 0;
        }
        if (material.max_bytes < 1 || material.max_bytes > 50 * 1024 * 1024) {
          return error(entry["max_bytes"], path + ".max_bytes", "config.bad_value", "max_bytes is 1 to 52428800");
        }
      }
      service.materials.push_back(std::move(material));
    }
    return ok_status();
  }

  Status read_form(const YAML::Node& node, const std::filesystem::path& directory, ServiceItem& service) const {
    if (!node || !node.IsMap()) return error(node, "form", "config.missing_field", "a service has a form: {schema, fields}");
    ONEWINDOW_TRY(check_known_keys(node, file_, "form.", {"schema", "fields"}));
    auto schema_file = text(node, "form", "schema");
    if (!schema_file.ok()) return schema_file.take_error();
    std::ifstream in(directory / *schema_file, std::ios::binary);
    if (!in) return error(node["schema"], "form.schema", "config.missing_file", "cannot read " + (directory / *schema_file).string());
    std::stringstream contents;
    contents << in.rdbuf();
    nlohmann::json schema = nlohmann::json::parse(contents.str(), nullptr, false);
    if (schema.is_discarded() || !schema.is_object() || !schema.contains("properties") || !schema["properties"].is_object()) {
      return error(node["schema"], "form.schema", "services.bad_schema",
                   *schema_file + " is not a JSON Schema of an object with properties");
    }
    auto compiled = compile_schema(schema);
    if (!compiled.ok()) {
      return error(node["schema"], "form.schema", "services.bad_schema", *schema_file + ": " + compiled.error().message);
    }
    service.form_schema = schema;
    service.compiled_schema = std::move(compiled).value();

    const YAML::Node& fields = node["fields"];
    if (fields && !fields.IsMap()) return error(fields, "form.fields", "config.bad_value", "form.fields maps properties to sources");
    if (fields) {
      for (const auto& entry : fields) {
        std::string name = entry.first.as<std::string>();
        std::string path = "form.fields." + name;
        if (!schema["properties"].contains(name)) {
          return error(entry.first, path, "services.unknown_form_field", "the schema has no property " + name);
        }
      }
    }
    for (const auto& [name, property] : schema["properties"].items()) {
      FieldSource field;
      field.name = name;
      std::string path = "form.fields." + name;
      YAML::Node entry = fields ? fields[name] : YAML::Node();
      if (entry && !entry.IsNull()) {
        ONEWINDOW_TRY(check_known_keys(entry, file_, path + ".", {"registry", "item", "through", "check", "departments"}));
        for (auto [key, target] : {std::pair{"registry", &field.registry}, std::pair{"item", &field.item},
                                   std::pair{"through", &field.through}, std::pair{"check", &field.check}}) {
          auto value = text(entry, path, key, false);
          if (!value.ok()) return value.take_error();
          *target = *value;
        }
        auto departments = config_text_list(entry, file_, path, "departments");
        if (!departments.ok()) return departments.take_error();
        for (const auto& department : *departments) {
          if (!service.implemented_by(department)) {
            return error(entry["departments"], path + ".departments", "services.unknown_department",
                         "department " + department + " does not implement the service");
          }
        }
        field.departments = *departments;
      }
      if (!field.check.empty() && field.check != "citizen_id" && field.check != "uscc") {
        return error(entry["check"], path + ".check", "config.bad_value", "check is citizen_id or uscc");
      }
      if (!field.registry.empty()) {
        const registry::RegistryDefinition* registry = registries_.find(field.registry);
        if (!registry) return error(entry["registry"], path + ".registry", "services.unknown_registry", "no registry " + field.registry);
        if (!registry->field(field.item)) {
          return error(entry["item"], path + ".item", "services.unknown_item",
                       "registry " + field.registry + " has no item " + field.item);
        }
        if (!service.implemented_by(field.through)) {
          return error(entry["through"], path + ".through", "services.unknown_department",
                       "through names the implementing department whose grant reads the item");
        }
      } else if (!field.item.empty() || !field.through.empty()) {
        return error(entry, path, "config.missing_field", "item and through come with registry");
      }
      service.fields.push_back(std::move(field));
    }
    return ok_status();
  }

  Status read_licenses(const YAML::Node& node, ServiceItem& service) const {
    if (!node || node.IsNull()) return ok_status();
    if (!node.IsSequence()) return error(node, "licenses", "config.bad_value", "licenses is a list");
    auto form_field = [&](const YAML::Node& at, const std::string& path, const std::string& name) -> Status {
      if (!service.field(name)) return error(at, path, "services.unknown_form_field", "the form has no field " + name);
      return ok_status();
    };
    for (std::size_t i = 0; i < node.size(); ++i) {
      const YAML::Node& entry = node[i];
      std::string path = "licenses[" + std::to_string(i) + "]";
      ONEWINDOW_TRY(check_known_keys(entry, file_, path + ".",
                                     {"type", "holder", "holder_name", "birth_date", "sex", "division", "data"}));
      LicenseIssue issue;
      for (auto [key, target, required] :
           {std::tuple{"type", &issue.type, true}, std::tuple{"holder", &issue.holder, false},
            std::tuple{"holder_name", &issue.holder_name, false}, std::tuple{"birth_date", &issue.birth_date, false},
            std::tuple{"sex", &issue.sex, false}, std::tuple{"division", &issue.division, false}}) {
        auto value = text(entry, path, key, required);
        if (!value.ok()) return value.take_error();
        *target = *value;
      }
      if (issue.holder.empty()) issue.holder = "applicant";
      if (issue.holder != "applicant" && issue.holder != "new_enterprise" && issue.holder != "new_person") {
        return error(entry["holder"], path + ".holder", "config.bad_value", "holder is applicant, new_enterprise or new_person");
      }
      if (issue.holder != "applicant" && issue.holder_name.empty()) {
        return error(entry, path + ".holder_name", "config.missing_field", "a new holder is named by a form field");
      }
      if (issue.holder == "new_person" && (issue.birth_date.empty() || issue.sex.empty())) {
        return error(entry, path + ".birth_date", "config.missing_field", "a new person's birth date and sex come from form fields");
      }
      for (auto [key, name] : {std::pair{"holder_name", &issue.holder_name}, std::pair{"birth_date", &issue.birth_date},
                               std::pair{"sex", &issue.sex}, std::pair{"division", &issue.division}}) {
        if (!name->empty()) ONEWINDOW_TRY(form_field(entry[key], path + "." + key, *name));
      }
      const license::LicenseType* type = licenses_ ? licenses_->type(issue.type) : nullptr;
      if (licenses_ && !type) {
        return error(entry["type"], path + ".type", "services.unknown_license_type", "no license type " + issue.type);
      }
      if (type && !service.implemented_by(type->department)) {
        return error(entry["type"], path + ".type", "services.unknown_department",
                     "license " + issue.type + " is issued by " + type->department + ", which does not implement the service");
      }
      const YAML::Node& data = entry["data"];
      if (data && !data.IsMap()) return error(data, path + ".data", "config.bad_value", "data maps license items to form fields");
      if (data) {
        for (const auto& item : data) {
          std::string name = item.first.as<std::string>();
          std::string item_path = path + ".data." + name;
          if (type && !type->item(name)) {
            return error(item.first, item_path, "services.unknown_item", "license " + issue.type + " has no item " + name);
          }
          std::string field = item.second.IsScalar() ? item.second.as<std::string>() : "";
          ONEWINDOW_TRY(form_field(item.second, item_path, field));
          issue.data[name] = field;
        }
      }
      service.licenses.push_back(std::move(issue));
    }
    return ok_status();
  }

  // What the completed application writes into the registries: each field checked against the
  // registry's definition and its authority here, so that a completed application cannot fail
  // on its configuration (its values are checked when written).
  Status read_records(const YAML::Node& node, ServiceItem& service) const {
    if (!node || node.IsNull()) return ok_status();
    if (!node.IsSequence()) return error(node, "records", "config.bad_value", "records is a list");
    for (std::size_t i = 0; i < node.size(); ++i) {
      const YAML::Node& entry = node[i];
      std::string path = "records[" + std::to_string(i) + "]";
      ONEWINDOW_TRY(check_known_keys(entry, file_, path + ".",
                                     {"registry", "holder", "department", "fields", "values", "completed_on"}));
      RecordWrite record;
      for (auto [key, target] : {std::pair{"registry", &record.registry}, std::pair{"holder", &record.holder},
                                 std::pair{"department", &record.department}}) {
        auto value = text(entry, path, key);
        if (!value.ok()) return value.take_error();
        *target = *value;
      }
      const registry::RegistryDefinition* definition = registries_.find(record.registry);
      if (!definition) {
        return error(entry["registry"], path + ".registry", "services.unknown_registry", "no registry " + record.registry);
      }
      if (record.holder != "new_person" && record.holder != "new_enterprise") {
        return error(entry["holder"], path + ".holder", "config.bad_value", "holder is new_person or new_enterprise");
      }
      if (std::none_of(service.licenses.begin(), service.licenses.end(),
                       [&](const LicenseIssue& issue) { return issue.holder == record.holder; })) {
        return error(entry["holder"], path + ".holder", "config.bad_value",
                     "no license of the service is for the " + record.holder + ": its identifier is made for the licenses");
      }
      ONEWINDOW_TRY(department(entry["department"], path + ".department", record.department));
      if (!service.implemented_by(record.department)) {
        return error(entry["department"], path + ".department", "services.unknown_department",
                     record.department + " does not implement the service");
      }

      std::set<std::string> given;
      // Each registry field named once, in one of the three ways, and owned by the department.
      auto registry_field = [&](const YAML::Node& at, const std::string& field_path, const std::string& name) -> Status {
        const registry::FieldDefinition* field = definition->field(name);
        if (!field || name == definition->key) {
          return error(at, field_path, "services.unknown_item",
                       "registry " + record.registry + " has no field " + name + " to write (its key is the new identifier)");
        }
        if (field->authority != record.department) {
          return error(at, field_path, "registry.field_not_owned",
                       name + " of " + record.registry + " is written by " + field->authority + ", not " + record.department);
        }
        if (!given.insert(name).second) return error(at, field_path, "config.bad_value", name + " is given twice");
        return ok_status();
      };
      for (const char* key : {"fields", "values"}) {
        const YAML::Node& mapping = entry[key];
        if (!mapping || mapping.IsNull()) continue;
        if (!mapping.IsMap()) {
          return error(mapping, path + "." + key, "config.bad_value", std::string(key) + " maps registry fields to " +
                                                                            (key == std::string("fields") ? "form fields" : "values"));
        }
        for (const auto& item : mapping) {
          std::string name = item.first.as<std::string>();
          std::string item_path = path + "." + key + "." + name;
          ONEWINDOW_TRY(registry_field(item.first, item_path, name));
          std::string value = item.second.IsScalar() ? item.second.as<std::string>() : "";
          if (key == std::string("fields")) {
            if (!service.field(value)) return error(item.second, item_path, "services.unknown_form_field", "the form has no field " + value);
            record.fields[name] = value;
          } else {
            if (!item.second.IsScalar()) return error(item.second, item_path, "config.bad_value", "a value is written as text");
            record.values[name] = value;
          }
        }
      }
      auto dates = config_text_list(entry, file_, path, "completed_on");
      if (!dates.ok()) return dates.take_error();
      for (const std::string& name : *dates) ONEWINDOW_TRY(registry_field(entry["completed_on"], path + ".completed_on", name));
      record.completed_on = *dates;
      for (const registry::FieldDefinition& field : definition->fields) {
        if (field.required && field.name != definition->key && !given.contains(field.name)) {
          return error(entry, path + ".fields", "config.missing_field",
                       "a new record of " + record.registry + " needs " + field.name);
        }
      }
      service.records.push_back(std::move(record));
    }
    return ok_status();
  }

  std::string file_;
  const std::set<std::string>& departments_;
  const registry::RegistryCatalog& registries_;
  const license::LicenseConfiguration* licenses_;
};

}  // namespace

std::string_view material_form_name(MaterialForm form) {
  switch (form) {
    case MaterialForm::original: return "original";
    case MaterialForm::copy: return "copy";
    case MaterialForm::electronic: return "electronic";
  }
  return "original";
}

const MaterialDefinition* ServiceItem::material(std::string_view code) const {
  for (const auto& material : materials) {
    if (material.code == code) return &material;
  }
  return nullptr;
}

const FieldSource* ServiceItem::field(std::string_view name) const {
  for (const auto& field : fields) {
    if (field.name == name) return &field;
  }
  return nullptr;
}

bool ServiceItem::implemented_by(std::string_view department) const {
  return std::find(implementing_departments.begin(), implementing_departments.end(), department) !=
         implementing_departments.end();
}

nlohmann::json ServiceItem::guide() const {
  nlohmann::json material_list = nlohmann::json::array();
  for (const auto& material : materials) {
    material_list.push_back({{"code", material.code},
                             {"name", material.name},
                             {"name_en", material.english_name},
                             {"form", material_form_name(material.form)},
                             {"key", material.key},
                             {"departments", material.departments},
                             {"content_types", material.content_types},
                             {"max_bytes", material.max_bytes},
                             {"replaced_by", material.replaced_by}});
  }
  nlohmann::json fee_list = nlohmann::json::array();
  for (const auto& fee : fees) fee_list.push_back({{"name", fee.name}, {"amount", fee.amount}});
  nlohmann::json license_list = nlohmann::json::array();
  for (const auto& issue : licenses) license_list.push_back({{"type", issue.type}, {"holder", issue.holder}});
  nlohmann::json field_list = nlohmann::json::array();
  for (const auto& field : fields) {
    nlohmann::json entry = {{"name", field.name}, {"source", field.registry.empty() ? "applicant" : "registry"}};
    if (!field.registry.empty()) {
      entry["registry"] = field.registry;
      entry["item"] = field.item;
      entry["through"] = field.through;
    }
    field_list.push_back(entry);
  }
  return {{"code", code},
          {"name", name},
          {"name_en", english_name},
          {"type", type},
          {"competent_department", competent_department},
          {"implementing_departments", implementing_departments},
          {"intake_department", intake_department},
          {"applicant_kinds", applicant_kinds},
          {"legal_basis", legal_basis},
          {"conditions", conditions},
          {"materials", material_list},
          {"statutory_limit", statutory_limit},
          {"promised_limit", promised_limit},
          {"fees", fee_list},
          {"licenses", license_list},
          {"form", {{"schema", form_schema}, {"fields", field_list}}}};
}

Status ServiceItem::validate_form(const nlohmann::json& values) const { return check_against(*compiled_schema, values); }

Result<ServiceCatalog> ServiceCatalog::load(const std::filesystem::path& directory, const std::set<std::string>& department_keys,
                                            const registry::RegistryCatalog& registries,
                                            const license::LicenseConfiguration* licenses) {
  std::error_code failure;
  if (!std::filesystem::is_directory(directory, failure)) {
    return config_error("config.missing_file", directory.string(), 0, "", "no directory of service items");
  }
  std::vector<std::filesystem::path> files;
  for (const auto& entry : std::filesystem::directory_iterator(directory)) {
    if (entry.path().extension() == ".yaml") files.push_back(entry.path());
  }
  std::sort(files.begin(), files.end());
  ServiceCatalog catalog;
  for (const auto& file : files) {
    auto root = load_yaml_file(file);
    if (!root.ok()) return root.take_error();
    Reader reader(file.string(), department_keys, registries, licenses);
    auto service = reader.read(*root, directory);
    if (!service.ok()) return service.take_error();
    if (catalog.find(service->code)) {
      return config_error("services.duplicate_code", file.string(), config_line((*root)["code"]), "code",
                          "service " + service->code + " is defined twice");
    }
    catalog.services_.push_back(std::move(service).value());
  }
  return catalog;
}

const ServiceItem* ServiceCatalog::find(std::string_view code) const {
  for (const auto& service : services_) {
    if (service.code == code) return &service;
  }
  return nullptr;
}

}  // namespace onewindow::services
