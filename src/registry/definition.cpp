// Loading registry definitions (config/registries/*.yaml) and checking them against each other.
#include "registry/registry.h"

#include "base/config.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <map>

namespace onewindow::registry {

namespace {

struct TypeEntry {
  FieldType type;
  std::string_view name;
};
constexpr TypeEntry type_table[] = {
    {FieldType::string, "string"},
    {FieldType::integer, "integer"},
    {FieldType::decimal, "decimal"},
    {FieldType::date, "date"},
    {FieldType::enumeration, "enum"},
    {FieldType::division, "division"},
    {FieldType::reference, "reference"},
    {FieldType::citizen_id, "citizen_id"},
    {FieldType::unified_social_credit_code, "uscc"},
};

struct SensitivityEntry {
  Sensitivity sensitivity;
  std::string_view name;
};
constexpr SensitivityEntry sensitivity_table[] = {
    {Sensitivity::public_data, "public"},
    {Sensitivity::internal, "internal"},
    {Sensitivity::personal, "personal"},
    {Sensitivity::sensitive, "sensitive"},
};

// Names become column and index names in the storage, so they stay within what every SQL engine
// takes unquoted.
bool is_valid_name(std::string_view name) {
  if (name.empty() || name.size() > 48 || name[0] < 'a' || name[0] > 'z') return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
  });
}

// Reads one definition file; keeps the file name and the parsed document together so that every
// error can name both.
class DefinitionReader {
 public:
  DefinitionReader(std::string file, const std::set<std::string>& department_keys)
      : file_(std::move(file)), department_keys_(department_keys) {}

  Result<RegistryDefinition> read(const YAML::Node& document, std::string_view expected_name);

 private:
  Error error(std::string code, const YAML::Node& node, const std::string& field, std::string_view message) const {
    return config_error(std::move(code), file_, config_line(node), field, message);
  }

  Result<FieldDefinition> read_field(const YAML::Node& item, int index);
  Status read_validators(const YAML::Node& item, const std::string& path, FieldDefinition& field);
  Result<std::vector<EnumValue>> read_values(const YAML::Node& node, const std::string& path);
  Result<Masking> read_masking(const YAML::Node& node, const std::string& path);
  Result<bool> read_flag(const YAML::Node& item, const std::string& path, const char* key);
  Result<std::optional<int>> read_count(const YAML::Node& item, const std::string& path, const char* key);
  Result<std::optional<double>> read_number(const YAML::Node& item, const std::string& path, const char* key);
  Result<std::optional<Date>> read_date(const YAML::Node& item, const std::string& path, const char* key);
  Status read_key(const YAML::Node& document, RegistryDefinition& registry);
  Status read_indexes(const YAML::Node& node, RegistryDefinition& registry);

  std::string file_;
  const std::set<std::string>& department_keys_;
};

Result<bool> DefinitionReader::read_flag(const YAML::Node& item, const std::string& path, const char* key) {
  auto text = config_text(item, file_, path, key, false);
  if (!text.ok()) return text.take_error();
  if (text->empty() || *text == "false") return false;
  if (*text == "true") return true;
  return error("config.bad_value", item[key], path + "." + key, "must be true or false");
}

Result<std::optional<int>> DefinitionReader::read_count(const YAML::Node& item, const std::string& path,
                                                        const char* key) {
  auto text = config_text(item, file_, path, key, false);
  if (!text.ok()) return text.take_error();
  if (text->empty()) return std::optional<int>();
  int count = 0;
  auto [end, problem] = std::from_chars(text->data(), text->data() + text->size(), count);
  if (problem != std::errc() || end != text->data() + text->size() || count < 0) {
    return error("config.bad_value", item[key], path + "." + key, "must be a whole number, 0 or more");
  }
  return std::optional<int>(count);
}

Result<std::optional<double>> DefinitionReader::read_number(const YAML::Node& item, const std::string& path,
                                                            const char* key) {
  auto text = config_text(item, file_, path, key, false);
  if (!text.ok()) return text.take_error();
  if (text->empty()) return std::optional<double>();
  char* end = nullptr;
  double number = std::strtod(text->c_str(), &end);
  if (end != text->c_str() + text->size() || !std::isfinite(number)) {
    return error("config.bad_value", item[key], path + "." + key, "must be a number");
  }
  return std::optional<double>(number);
}

Result<std::optional<Date>> DefinitionReader::read_date(const YAML::Node& item, const std::string& path,
                                                        const char* key) {
  auto text = config_text(item, file_, path, key, false);
  if (!text.ok()) return text.take_error();
  if (text->empty()) return std::optional<Date>();
  auto date = Date::parse(*text, key);
  if (!date.ok()) return error("config.bad_value", item[key], path + "." + key, "must be a date YYYY-MM-DD");
  return std::optional<Date>(*date);
}

Result<std::vector<EnumValue>> DefinitionReader::read_values(const YAML::Node& node, const std::string& path) {
  std::vector<EnumValue> values;
  if (!node.IsDefined() || node.IsNull()) return values;
  if (!node.IsSequence()) return error("config.bad_value", node, path, "must be a list of {code, label, label_en}");
  std::set<std::string> codes;
  int index = 0;
  for (const auto& item : node) {
    std::string item_path = path + "[" + std::to_string(index++) + "]";
    ONEWINDOW_TRY(check_known_keys(item, file_, item_path + ".", {"code", "label", "label_en"}));
    EnumValue value;
    for (auto [key, target] : {std::pair{"code", &value.code}, std::pair{"label", &value.label},
                               std::pair{"label_en", &value.english_label}}) {
      auto text = config_text(item, file_, item_path, key);
      if (!text.ok()) return text.take_error();
      *target = *text;
    }
    if (!codes.insert(value.code).second) {
      return error("config.bad_value", item["code"], item_path + ".code", "the code " + value.code + " is listed twice");
    }
    values.push_back(std::move(value));
  }
  return values;
}

Result<Masking> DefinitionReader::read_masking(const YAML::Node& node, const std::string& path) {
  Masking masking;
  if (!node.IsDefined() || node.IsNull()) return masking;
  if (node.IsScalar()) {
    const std::string& text = node.Scalar();
    if (text == "none") return masking;
    if (text == "surname") masking.rule = MaskRule::surname;
    else if (text == "full") masking.rule = MaskRule::full;
    else return error("registry.bad_mask", node, path, "must be none, surname, full or {keep_first, keep_last}");
    return masking;
  }
  ONEWINDOW_TRY(check_known_keys(node, file_, path + ".", {"keep_first", "keep_last"}));
  auto first = read_count(node, path, "keep_first");
  if (!first.ok()) return first.take_error();
  auto last = read_count(node, path, "keep_last");
  if (!last.ok()) return last.take_error();
  masking.rule = MaskRule::keep;
  masking.keep_first = first->value_or(0);
  masking.keep_last = last->value_or(0);
  if (masking.keep_first + masking.keep_last == 0) {
    return error("registry.bad_mask", node, path, "keeps nothing: use full, or give keep_first or keep_last");
  }
  return masking;
}

Status DefinitionReader::read_validators(const YAML::Node& item, const std::string& path, FieldDefinition& field) {
  const FieldType type = field.type;
  // Each validator with the types it applies to: one on another type is a mistake to report,
  // not to ignore.
  auto applies = [&](const char* key, std::initializer_list<FieldType> types) -> Status {
    if (!item[key].IsDefined()) return ok_status();
    if (std::find(types.begin(), types.end(), type) != types.end()) return ok_status();
    return error("registry.validator_not_applicable", item[key], path + "." + key,
                 "does not apply to a field of type " + std::string(type_name(type)));
  };
  const auto textual = {FieldType::string};
  const auto numeric = {FieldType::integer, FieldType::decimal, FieldType::date};
  ONEWINDOW_TRY(applies("pattern", textual));
  ONEWINDOW_TRY(applies("min_length", textual));
  ONEWINDOW_TRY(applies("max_length", textual));
  ONEWINDOW_TRY(applies("minimum", numeric));
  ONEWINDOW_TRY(applies("maximum", numeric));
  ONEWINDOW_TRY(applies("not_in_future", {FieldType::date}));
  ONEWINDOW_TRY(applies("values", {FieldType::enumeration}));
  ONEWINDOW_TRY(applies("target", {FieldType::reference}));

  auto pattern = config_text(item, file_, path, "pattern", false);
  if (!pattern.ok()) return pattern.take_error();
  if (!pattern->empty()) {
    try {
      field.pattern.emplace(*pattern, std::regex::ECMAScript);
    } catch (const std::regex_error& problem) {
      return error("registry.bad_pattern", item["pattern"], path + ".pattern",
                   std::string("is not a valid regular expression: ") + problem.what());
    }
    field.pattern_text = *pattern;
    field.fixed_pattern = fixed_length_pattern(*pattern);
  }
  auto minimum_length = read_count(item, path, "min_length");
  if (!minimum_length.ok()) return minimum_length.take_error();
  auto maximum_length = read_count(item, path, "max_length");
  if (!maximum_length.ok()) return maximum_length.take_error();
  field.minimum_length = *minimum_length;
  field.maximum_length = *maximum_length;
  if (field.minimum_length && field.maximum_length && *field.minimum_length > *field.maximum_length) {
    return error("config.bad_value", item["min_length"], path + ".min_length", "is more than max_length");
  }

  if (type == FieldType::date) {
    auto earliest = read_date(item, path, "minimum");
    if (!earliest.ok()) return earliest.take_error();
    auto latest = read_date(item, path, "maximum");
    if (!latest.ok()) return latest.take_error();
    field.earliest = *earliest;
    field.latest = *latest;
    if (field.earliest && field.latest && *field.earliest > *field.latest) {
      return error("config.bad_value", item["minimum"], path + ".minimum", "is after maximum");
    }
  } else {
    auto minimum = read_number(item, path, "minimum");
    if (!minimum.ok()) return minimum.take_error();
    auto maximum = read_number(item, path, "maximum");
    if (!maximum.ok()) return maximum.take_error();
    field.minimum = *minimum;
    field.maximum = *maximum;
    if (field.minimum && field.maximum && *field.minimum > *field.maximum) {
      return error("config.bad_value", item["minimum"], path + ".minimum", "is more than maximum");
    }
  }
  auto not_in_future = read_flag(item, path, "not_in_future");
  if (!not_in_future.ok()) return not_in_future.take_error();
  field.not_in_future = *not_in_future;

  auto values = read_values(item["values"], path + ".values");
  if (!values.ok()) return values.take_error();
  field.values = std::move(*values);
  if (type == FieldType::enumeration && field.values.empty()) {
    return error("registry.enum_without_values", item, path + ".values", "an enum field must list its values");
  }

  auto target = config_text(item, file_, path, "target", false);
  if (!target.ok()) return target.take_error();
  field.target = *target;
  if (type == FieldType::reference && field.target.empty()) {
    return error("registry.missing_target", item, path + ".target", "a reference must name the registry it refers to");
  }
  return ok_status();
}

Result<FieldDefinition> DefinitionReader::read_field(const YAML::Node& item, int index) {
  std::string path = "fields[" + std::to_string(index) + "]";
  if (!item.IsMap()) return error("config.bad_value", item, path, "must be a mapping of keys to values");
  auto name = config_text(item, file_, path, "name");
  if (!name.ok()) return name.take_error();
  if (!is_valid_name(*name)) {
    return error("config.bad_value", item["name"], path + ".name",
                 "must be lower-case letters, digits and _, starting with a letter, at most 48 characters");
  }
  path = "fields." + *name;
  ONEWINDOW_TRY(check_known_keys(item, file_, path + ".",
                                 {"name", "label", "label_en", "type", "required", "pattern", "min_length",
                                  "max_length", "minimum", "maximum", "not_in_future", "values", "target",
                                  "authority", "sensitivity", "mask"}));
  FieldDefinition field;
  field.name = *name;
  field.line = config_line(item);
  for (auto [key, target] : {std::pair{"label", &field.label}, std::pair{"label_en", &field.english_label}}) {
    auto text = config_text(item, file_, path, key);
    if (!text.ok()) return text.take_error();
    *target = *text;
  }

  auto type = config_text(item, file_, path, "type");
  if (!type.ok()) return type.take_error();
  auto known_type = std::find_if(std::begin(type_table), std::end(type_table),
                                 [&](const TypeEntry& entry) { return entry.name == *type; });
  if (known_type == std::end(type_table)) {
    std::string list;
    for (const auto& entry : type_table) list += (list.empty() ? "" : ", ") + std::string(entry.name);
    return error("registry.unknown_type", item["type"], path + ".type", "unknown type; known types: " + list);
  }
  field.type = known_type->type;

  auto required = read_flag(item, path, "required");
  if (!required.ok()) return required.take_error();
  field.required = *required;
  ONEWINDOW_TRY(read_validators(item, path, field));

  auto authority = config_text(item, file_, path, "authority");
  if (!authority.ok()) return authority.take_error();
  if (!department_keys_.count(*authority)) {
    return error("registry.unknown_authority", item["authority"], path + ".authority",
                 "is not the key of a department of config/departments.yaml");
  }
  field.authority = *authority;

  auto sensitivity = config_text(item, file_, path, "sensitivity");
  if (!sensitivity.ok()) return sensitivity.take_error();
  auto known_sensitivity =
      std::find_if(std::begin(sensitivity_table), std::end(sensitivity_table),
                   [&](const SensitivityEntry& entry) { return entry.name == *sensitivity; });
  if (known_sensitivity == std::end(sensitivity_table)) {
    return error("config.bad_value", item["sensitivity"], path + ".sensitivity",
                 "must be public, internal, personal or sensitive");
  }
  field.sensitivity = known_sensitivity->sensitivity;

  auto masking = read_masking(item["mask"], path + ".mask");
  if (!masking.ok()) return masking.take_error();
  field.masking = *masking;
  // A personal value shown whole to everyone who may read the registry is the mistake most
  // worth catching at load.
  if (field.sensitivity >= Sensitivity::personal && field.masking.rule == MaskRule::none) {
    return error("registry.unmasked_personal_field", item["mask"].IsDefined() ? item["mask"] : item, path + ".mask",
                 "a personal or sensitive field needs a mask other than none");
  }
  return field;
}

Status DefinitionReader::read_key(const YAML::Node& document, RegistryDefinition& registry) {
  auto key = config_text(document, file_, "", "key");
  if (!key.ok()) return key.take_error();
  auto field = std::find_if(registry.fields.begin(), registry.fields.end(),
                            [&](const FieldDefinition& candidate) { return candidate.name == *key; });
  if (field == registry.fields.end()) {
    return error("registry.missing_key_field", document["key"], "key", "names no field of this registry");
  }
  switch (field->type) {
    case FieldType::citizen_id: registry.key_kind = KeyKind::citizen_id; break;
    case FieldType::unified_social_credit_code: registry.key_kind = KeyKind::unified_social_credit_code; break;
    case FieldType::string: registry.key_kind = KeyKind::own_id; break;
    default:
      return error("registry.bad_key_type", document["key"], "key", "the key field must be of type citizen_id, uscc or string");
  }
  registry.key = *key;
  field->required = true;  // a record without its key cannot be stored or found
  field->indexed = true;
  return ok_status();
}

Status DefinitionReader::read_indexes(const YAML::Node& node, RegistryDefinition& registry) {
  if (!node.IsDefined() || node.IsNull()) return ok_status();
  if (!node.IsSequence()) return error("config.bad_value", node, "indexes", "must be a list of field names or lists of them");
  int index = 0;
  for (const auto& item : node) {
    std::string path = "indexes[" + std::to_string(index++) + "]";
    IndexDefinition definition;
    if (item.IsScalar()) {
      definition.fields.push_back(item.Scalar());
    } else if (item.IsSequence()) {
      for (const auto& name : item) {
        if (!name.IsScalar()) return error("config.bad_value", name, path, "must list field names");
        definition.fields.push_back(name.Scalar());
      }
    } else {
      return error("config.bad_value", item, path, "must be a field name or a list of them");
    }
    if (definition.fields.empty()) return error("config.bad_value", item, path, "names no field");
    definition.name = registry.name;
    std::set<std::string> seen;
    for (const auto& name : definition.fields) {
      if (registry.field(name) == nullptr) {
        return error("registry.unknown_index_field", item, path, name + " is no field of this registry");
      }
      if (!seen.insert(name).second) return error("config.bad_value", item, path, name + " is listed twice");
      definition.name += "_" + name;
    }
    for (const auto& other : registry.indexes) {
      if (other.fields == definition.fields) return error("registry.duplicate_index", item, path, "is the same as an earlier index");
    }
    for (auto& field : registry.fields) {
      if (field.name == definition.fields.front()) field.indexed = true;
    }
    registry.indexes.push_back(std::move(definition));
  }
  return ok_status();
}

Result<RegistryDefinition> DefinitionReader::read(const YAML::Node& document, std::string_view expected_name) {
  ONEWINDOW_TRY(check_known_keys(document, file_, "", {"registry", "title", "title_en", "key", "fields", "indexes"}));
  RegistryDefinition registry;
  registry.file = file_;
  for (auto [key, target] : {std::pair{"registry", &registry.name}, std::pair{"title", &registry.title},
                             std::pair{"title_en", &registry.english_title}}) {
    auto text = config_text(document, file_, "", key);
    if (!text.ok()) return text.take_error();
    *target = *text;
  }
  if (!is_valid_name(registry.name)) {
    return error("config.bad_value", document["registry"], "registry",
                 "must be lower-case letters, digits and _, starting with a letter, at most 48 characters");
  }
  // One file per registry, named after it, so that an operator finds a definition by its name.
  if (registry.name != expected_name) {
    return error("registry.name_mismatch", document["registry"], "registry",
                 "must be the file's name without .yaml (" + std::string(expected_name) + ")");
  }

  const YAML::Node fields = document["fields"];
  if (!fields.IsSequence() || fields.size() == 0) {
    return error("config.missing_field", fields.IsDefined() ? fields : document, "fields", "must list at least one field");
  }
  int index = 0;
  for (const auto& item : fields) {
    auto field = read_field(item, index++);
    if (!field.ok()) return field.take_error();
    if (registry.field(field->name) != nullptr) {
      return error("registry.duplicate_field", item["name"], "fields." + field->name + ".name", "a field of this name is defined above");
    }
    registry.fields.push_back(std::move(*field));
  }
  ONEWINDOW_TRY(read_key(document, registry));
  ONEWINDOW_TRY(read_indexes(document["indexes"], registry));
  return registry;
}

}  // namespace

std::string_view type_name(FieldType type) {
  for (const auto& entry : type_table) {
    if (entry.type == type) return entry.name;
  }
  return "unknown";
}

std::string_view sensitivity_name(Sensitivity sensitivity) {
  for (const auto& entry : sensitivity_table) {
    if (entry.sensitivity == sensitivity) return entry.name;
  }
  return "unknown";
}

const EnumValue* FieldDefinition::value(std::string_view code) const {
  for (const auto& candidate : values) {
    if (candidate.code == code) return &candidate;
  }
  return nullptr;
}

const FieldDefinition* RegistryDefinition::field(std::string_view field_name) const {
  for (const auto& candidate : fields) {
    if (candidate.name == field_name) return &candidate;
  }
  return nullptr;
}

const FieldDefinition& RegistryDefinition::key_field() const {
  const FieldDefinition* found = field(key);
  assert(found != nullptr);
  return *found;
}

Result<RegistryDefinition> load_definition(const std::filesystem::path& file,
                                           const std::set<std::string>& department_keys) {
  auto document = load_yaml_file(file);
  if (!document.ok()) return document.take_error();
  DefinitionReader reader(file.string(), department_keys);
  return reader.read(*document, file.stem().string());
}

Result<RegistryCatalog> RegistryCatalog::load(const std::filesystem::path& directory,
                                              const std::set<std::string>& department_keys) {
  std::vector<std::filesystem::path> files;
  std::error_code problem;
  for (std::filesystem::directory_iterator entry(directory, problem), end; !problem && entry != end;
       entry.increment(problem)) {
    if (entry->is_regular_file() && entry->path().extension() == ".yaml") files.push_back(entry->path());
  }
  if (problem) return config_error("config.missing_file", directory.string(), 0, "", "cannot read the directory");
  std::sort(files.begin(), files.end());

  RegistryCatalog catalog;
  for (const auto& file : files) {
    auto definition = load_definition(file, department_keys);
    if (!definition.ok()) return definition.take_error();
    catalog.registries_.push_back(std::move(*definition));
  }
  // References resolve only once every file is read: registries may refer to each other.
  for (auto& registry : catalog.registries_) {
    for (auto& field : registry.fields) {
      if (field.type != FieldType::reference) continue;
      const RegistryDefinition* target = catalog.find(field.target);
      if (target == nullptr) {
        return config_error("registry.unknown_reference", registry.file, field.line, "fields." + field.name + ".target",
                            "names no registry of " + directory.string());
      }
      field.target_key_kind = target->key_kind;
    }
  }
  return catalog;
}

const RegistryDefinition* RegistryCatalog::find(std::string_view name) const {
  for (const auto& registry : registries_) {
    if (registry.name == name) return &registry;
  }
  return nullptr;
}

}  // namespace onewindow::registry
