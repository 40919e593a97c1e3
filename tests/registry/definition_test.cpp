// Registry definitions: the shipped ones load, and every kind of mistake names file, line and
// field.
#include "identity/identity.h"
#include "registry/registry.h"
#include "testing.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace onewindow::registry {
namespace {

using onewindow::testing::TemporaryDirectory;

std::set<std::string> shipped_department_keys() {
  auto directory = identity::DirectoryConfiguration::load(testing::config_dir() / "departments.yaml");
  EXPECT_TRUE(directory.ok()) << (directory.ok() ? "" : directory.error().message);
  std::set<std::string> keys;
  if (directory.ok()) {
    for (const auto& department : directory->departments) keys.insert(department.key);
  }
  return keys;
}

TEST(ShippedRegistries, LoadAgainstTheShippedDepartments) {
  auto catalog = RegistryCatalog::load(testing::config_dir() / "registries", shipped_department_keys());
  ASSERT_TRUE(catalog.ok()) << catalog.error().message;
  ASSERT_EQ(catalog->all().size(), 2u);
  EXPECT_EQ(catalog->find("nobody"), nullptr);

  const RegistryDefinition* person = catalog->find("person");
  ASSERT_NE(person, nullptr);
  EXPECT_EQ(person->title, "自然人");
  EXPECT_EQ(person->key, "id_number");
  EXPECT_EQ(person->key_kind, KeyKind::citizen_id);
  EXPECT_TRUE(person->key_field().required);
  EXPECT_TRUE(person->key_field().indexed);
  std::map<std::string, std::string> person_authorities = {
      {"id_number", "police"},        {"name", "police"},
      {"sex", "police"},              {"birth_date", "police"},
      {"ethnicity", "police"},        {"household_address", "police"},
      {"household_division", "police"}, {"current_address", "police"},
      {"phone", "police"},            {"marital_status", "civil"},
      {"death_date", "health"},
  };
  for (const auto& [name, authority] : person_authorities) {
    const FieldDefinition* field = person->field(name);
    ASSERT_NE(field, nullptr) << name;
    EXPECT_EQ(field->authority, authority) << name;
  }
  EXPECT_EQ(person->field("ethnicity")->values.size(), 56u);
  EXPECT_EQ(person->field("ethnicity")->value("01")->label, "汉族");
  EXPECT_EQ(person->field("ethnicity")->value("56")->english_label, "Jino");
  EXPECT_EQ(person->field("sex")->value("2")->label, "女");
  EXPECT_EQ(person->field("marital_status")->value("40")->english_label, "divorced");
  EXPECT_EQ(person->field("birth_date")->earliest, Date(1880, 1, 1));
  EXPECT_TRUE(person->field("birth_date")->not_in_future);
  EXPECT_EQ(person->field("name")->masking.rule, MaskRule::surname);
  EXPECT_TRUE(person->field("name")->indexed);
  EXPECT_FALSE(person->field("phone")->indexed);
  ASSERT_EQ(person->indexes.size(), 3u);
  EXPECT_EQ(person->indexes[2].name, "person_household_division_name");
  EXPECT_THAT(person->indexes[2].fields, ::testing::ElementsAre("household_division", "name"));

  const RegistryDefinition* legal_person = catalog->find("legal_person");
  ASSERT_NE(legal_person, nullptr);
  EXPECT_EQ(legal_person->key_kind, KeyKind::unified_social_credit_code);
  std::map<std::string, int> fields_by_authority;
  for (const auto& field : legal_person->fields) ++fields_by_authority[field.authority];
  EXPECT_GT(fields_by_authority["market"], 8);
  EXPECT_EQ(fields_by_authority["tax"], 2);
  EXPECT_EQ(fields_by_authority["hrss"], 2);
  const FieldDefinition* representative = legal_person->field("legal_representative_id");
  ASSERT_NE(representative, nullptr);
  EXPECT_EQ(representative->type, FieldType::reference);
  EXPECT_EQ(representative->target, "person");
  EXPECT_EQ(representative->target_key_kind, KeyKind::citizen_id);
}

TEST(ShippedRegistries, EveryPersonalFieldIsMasked) {
  auto catalog = RegistryCatalog::load(testing::config_dir() / "registries", shipped_department_keys());
  ASSERT_TRUE(catalog.ok()) << catalog.error().message;
  for (const auto& registry : catalog->all()) {
    for (const auto& field : registry.fields) {
      if (field.sensitivity >= Sensitivity::personal) {
        EXPECT_NE(field.masking.rule, MaskRule::none) << registry.name << "." << field.name;
      }
    }
  }
}

// A small valid definition; each mistake below changes one line of it. The nickname field starts
// at line 13.
constexpr const char* sample = R"(registry: sample
title: 样例
title_en: Sample
key: id_number
fields:
  - name: id_number
    label: 号码
    label_en: Number
    type: citizen_id
    authority: police
    sensitivity: sensitive
    mask: {keep_first: 6, keep_last: 4}
  - name: nickname
    label: 昵称
    label_en: Nickname
    type: string
    authority: police
    sensitivity: public
)";

std::string replaced(std::string text, const std::string& from, const std::string& to) {
  auto position = text.find(from);
  EXPECT_NE(position, std::string::npos) << from;
  if (position != std::string::npos) text.replace(position, from.size(), to);
  return text;
}

const std::set<std::string> department_keys = {"police", "civil"};

class DefinitionMistakes : public ::testing::Test {
 protected:
  // Loads `text` as sample.yaml and checks the error's code, line and field, in the details and
  // at the start of the message.
  void expect_error(const std::string& text, const std::string& code, int line, const std::string& field) {
    auto file = directory_.write("sample.yaml", text);
    auto loaded = load_definition(file, department_keys);
    ASSERT_FALSE(loaded.ok()) << "loaded although " << code << " was expected";
    expect_details(loaded.error(), file.string(), code, line, field);
  }

  static void expect_details(const Error& error, const std::string& file, const std::string& code, int line,
                             const std::string& field) {
    EXPECT_EQ(error.code, code) << error.message;
    EXPECT_EQ(error.details["file"], file);
    EXPECT_EQ(error.details["line"], line) << error.message;
    EXPECT_EQ(error.details["field"], field) << error.message;
    EXPECT_THAT(error.message, ::testing::StartsWith(file + ":" + std::to_string(line) + ": " + field + ": "));
  }

  TemporaryDirectory directory_;
};

TEST_F(DefinitionMistakes, TheSampleLoads) {
  auto loaded = load_definition(directory_.write("sample.yaml", sample), department_keys);
  ASSERT_TRUE(loaded.ok()) << loaded.error().message;
  EXPECT_EQ(loaded->fields.size(), 2u);
  EXPECT_EQ(loaded->fields[1].line, 13);
  EXPECT_EQ(loaded->file, (directory_.path() / "sample.yaml").string());
}

TEST_F(DefinitionMistakes, UnknownKey) {
  expect_error(std::string(sample) + "    colour: red\n", "config.unknown_key", 19, "fields.nickname.colour");
  expect_error(replaced(sample, "title_en", "title_fr"), "config.unknown_key", 3, "title_fr");
}

TEST_F(DefinitionMistakes, UnknownType) {
  expect_error(replaced(sample, "type: string", "type: text"), "registry.unknown_type", 16, "fields.nickname.type");
}

TEST_F(DefinitionMistakes, BadRegularExpression) {
  expect_error(std::string(sample) + "    pattern: \"[a-\"\n", "registry.bad_pattern", 19, "fields.nickname.pattern");
}

TEST_F(DefinitionMistakes, UnknownAuthority) {
  expect_error(replaced(sample, "authority: police\n    sensitivity: public", "authority: mayor\n    sensitivity: public"),
               "registry.unknown_authority", 17, "fields.nickname.authority");
}

TEST_F(DefinitionMistakes, ReferenceToAMissingRegistry) {
  std::string text = replaced(sample, "type: string", "type: reference\n    target: nowhere");
  auto file = directory_.write("sample.yaml", text);
  auto catalog = RegistryCatalog::load(directory_.path(), department_keys);
  ASSERT_FALSE(catalog.ok());
  expect_details(catalog.error(), file.string(), "registry.unknown_reference", 13, "fields.nickname.target");
}

TEST_F(DefinitionMistakes, ReferenceWithoutTarget) {
  expect_error(replaced(sample, "type: string", "type: reference"), "registry.missing_target", 13,
               "fields.nickname.target");
}

TEST_F(DefinitionMistakes, MissingKeyField) {
  expect_error(replaced(sample, "key: id_number", "key: number"), "registry.missing_key_field", 4, "key");
  expect_error(replaced(sample, "key: id_number\n", ""), "config.missing_field", 1, "key");
}

TEST_F(DefinitionMistakes, KeyOfAnUnsuitableType) {
  expect_error(replaced(std::string(sample) + "  - {name: age, label: 年龄, label_en: Age, type: integer, "
                                               "authority: police, sensitivity: public}\n",
                        "key: id_number", "key: age"),
               "registry.bad_key_type", 4, "key");
}

TEST_F(DefinitionMistakes, DuplicateField) {
  expect_error(replaced(sample, "name: nickname", "name: id_number"), "registry.duplicate_field", 13,
               "fields.id_number.name");
}

TEST_F(DefinitionMistakes, IndexOnAnUnknownField) {
  expect_error(std::string(sample) + "indexes:\n  - nickname\n  - [nickname, colour]\n", "registry.unknown_index_field",
               21, "indexes[1]");
  expect_error(std::string(sample) + "indexes:\n  - nickname\n  - [nickname]\n", "registry.duplicate_index", 21,
               "indexes[1]");
}

TEST_F(DefinitionMistakes, EnumWithoutValues) {
  expect_error(replaced(sample, "type: string", "type: enum"), "registry.enum_without_values", 13,
               "fields.nickname.values");
  expect_error(replaced(sample, "type: string", "type: enum\n    values: []"), "registry.enum_without_values", 13,
               "fields.nickname.values");
}

TEST_F(DefinitionMistakes, DuplicateEnumCode) {
  expect_error(replaced(sample, "type: string",
                        "type: enum\n    values:\n      - {code: a, label: 甲, label_en: A}\n"
                        "      - {code: a, label: 乙, label_en: B}"),
               "config.bad_value", 19, "fields.nickname.values[1].code");
}

TEST_F(DefinitionMistakes, ValidatorOnTheWrongType) {
  expect_error(replaced(sample, "type: citizen_id", "type: citizen_id\n    pattern: \"[0-9]+\""),
               "registry.validator_not_applicable", 10, "fields.id_number.pattern");
  expect_error(std::string(sample) + "    not_in_future: true\n", "registry.validator_not_applicable", 19,
               "fields.nickname.not_in_future");
}

TEST_F(DefinitionMistakes, BadValues) {
  expect_error(std::string(sample) + "    max_length: ten\n", "config.bad_value", 19, "fields.nickname.max_length");
  expect_error(std::string(sample) + "    min_length: 5\n    max_length: 2\n", "config.bad_value", 19,
               "fields.nickname.min_length");
  expect_error(std::string(sample) + "    required: yes please\n", "config.bad_value", 19, "fields.nickname.required");
  expect_error(replaced(sample, "sensitivity: public", "sensitivity: secret"), "config.bad_value", 18,
               "fields.nickname.sensitivity");
  expect_error(replaced(sample, "name: nickname", "name: Nick-Name"), "config.bad_value", 13, "fields[1].name");
  expect_error(replaced(sample, "type: string", "type: date\n    minimum: 2000-02-30"), "config.bad_value", 17,
               "fields.nickname.minimum");
  expect_error(replaced(sample, "type: string", "type: integer\n    minimum: 10\n    maximum: 1"), "config.bad_value",
               17, "fields.nickname.minimum");
}

TEST_F(DefinitionMistakes, Masks) {
  expect_error(std::string(sample) + "    mask: blur\n", "registry.bad_mask", 19, "fields.nickname.mask");
  expect_error(std::string(sample) + "    mask: {keep_first: 0}\n", "registry.bad_mask", 19, "fields.nickname.mask");
  expect_error(replaced(sample, "sensitivity: public", "sensitivity: personal"), "registry.unmasked_personal_field",
               13, "fields.nickname.mask");
  expect_error(replaced(sample, "sensitivity: public", "sensitivity: personal\n    mask: none"),
               "registry.unmasked_personal_field", 19, "fields.nickname.mask");
}

TEST_F(DefinitionMistakes, RegistryNameMustMatchTheFile) {
  expect_error(replaced(sample, "registry: sample", "registry: other"), "registry.name_mismatch", 1, "registry");
}

TEST_F(DefinitionMistakes, MissingLabel) {
  expect_error(replaced(sample, "    label: 昵称\n", ""), "config.missing_field", 13, "fields.nickname.label");
}

TEST_F(DefinitionMistakes, SyntaxErrorAndMissingFile) {
  auto missing = load_definition(directory_.path() / "absent.yaml", department_keys);
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().code, "config.missing_file");
  auto file = directory_.write("sample.yaml", std::string(sample) + "    mask: [unclosed\n");
  auto broken = load_definition(file, department_keys);
  ASSERT_FALSE(broken.ok());
  EXPECT_EQ(broken.error().code, "config.syntax");
}

TEST_F(DefinitionMistakes, CatalogReportsTheFirstBadFile) {
  directory_.write("sample.yaml", sample);
  auto bad = directory_.write("zeta.yaml", replaced(replaced(sample, "registry: sample", "registry: zeta"),
                                                    "type: string", "type: text"));
  directory_.write("notes.txt", "not a definition");
  auto catalog = RegistryCatalog::load(directory_.path(), department_keys);
  ASSERT_FALSE(catalog.ok());
  expect_details(catalog.error(), bad.string(), "registry.unknown_type", 16, "fields.nickname.type");
}

TEST_F(DefinitionMistakes, CatalogResolvesReferencesBetweenFiles) {
  directory_.write("sample.yaml", sample);
  directory_.write("pet.yaml", R"(registry: pet
title: 宠物
title_en: Pets
key: tag
fields:
  - {name: tag, label: 编号, label_en: Tag, type: string, authority: civil, sensitivity: public}
  - {name: owner, label: 主人, label_en: Owner, type: reference, target: sample, authority: civil,
     sensitivity: personal, mask: full}
)");
  auto catalog = RegistryCatalog::load(directory_.path(), department_keys);
  ASSERT_TRUE(catalog.ok()) << catalog.error().message;
  ASSERT_NE(catalog->find("pet"), nullptr);
  EXPECT_EQ(catalog->find("pet")->key_kind, KeyKind::own_id);
  EXPECT_EQ(catalog->find("pet")->field("owner")->target_key_kind, KeyKind::citizen_id);
}

TEST_F(DefinitionMistakes, UnreadableDirectory) {
  auto catalog = RegistryCatalog::load(directory_.path() / "absent", department_keys);
  ASSERT_FALSE(catalog.ok());
  EXPECT_EQ(catalog.error().code, "config.missing_file");
}

}  // namespace
}  // namespace onewindow::registry
