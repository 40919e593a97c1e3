// validate_value and mask, on hand-made fields and on the shipped definitions.
#include "registry/registry.h"
#include "testing.h"

#include <gtest/gtest.h>

namespace onewindow::registry {
namespace {

using nlohmann::json;

const Date today(2026, 11, 23);

FieldDefinition field_of(FieldType type, std::string name = "value") {
  FieldDefinition field;
  field.name = std::move(name);
  field.type = type;
  field.authority = "police";
  return field;
}

class Values : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    auto loaded = DivisionCodes::load(testing::config_dir() / "divisions.yaml");
    ASSERT_TRUE(loaded.ok()) << loaded.error().message;
    divisions_ = new DivisionCodes(std::move(*loaded));
  }
  static void TearDownTestSuite() {
    delete divisions_;
    divisions_ = nullptr;
  }

  // The error code of validating `value`, or "" when it is valid; checks that an error names the
  // field.
  static std::string check(const FieldDefinition& field, const json& value) {
    Status status = validate_value(field, value, today, *divisions_);
    if (status.ok()) return "";
    EXPECT_EQ(status.error().kind, ErrorKind::invalid_argument);
    EXPECT_EQ(status.error().details["field"], field.name) << status.error().message;
    EXPECT_NE(status.error().message.find(field.name), std::string::npos) << status.error().message;
    return status.error().code;
  }

  static DivisionCodes* divisions_;
};
DivisionCodes* Values::divisions_ = nullptr;

TEST_F(Values, NullIsAbsent) {
  FieldDefinition field = field_of(FieldType::string, "nickname");
  EXPECT_EQ(check(field, json()), "");
  field.required = true;
  EXPECT_EQ(check(field, json()), "registry.value_required");
}

TEST_F(Values, Strings) {
  FieldDefinition field = field_of(FieldType::string, "name");
  field.minimum_length = 2;
  field.maximum_length = 3;
  EXPECT_EQ(check(field, "张三"), "");
  EXPECT_EQ(check(field, "欧阳娜"), "");  // 3 characters, 9 bytes
  EXPECT_EQ(check(field, "张"), "registry.value_length");
  EXPECT_EQ(check(field, "欧阳娜娜"), "registry.value_length");
  EXPECT_EQ(check(field, 12), "registry.value_type");
}

TEST_F(Values, PatternsMatchTheWholeValue) {
  FieldDefinition field = field_of(FieldType::string, "phone");
  field.pattern_text = "1[3-9][0-9]{9}";
  field.pattern.emplace(field.pattern_text, std::regex::ECMAScript);
  EXPECT_EQ(check(field, "13812345678"), "");
  EXPECT_EQ(check(field, "12812345678"), "registry.value_pattern");
  EXPECT_EQ(check(field, "138123456789"), "registry.value_pattern");
  EXPECT_EQ(check(field, "tel 13812345678"), "registry.value_pattern");
}

TEST_F(Values, FixedLengthPatternsMatchAsTheirRegularExpressions) {
  // Patterns checked byte by byte must accept exactly what std::regex accepts; the others are
  // left to std::regex.
  const std::vector<std::string> values = {"13812345678", "12812345678", "1381234567", "138123456789", "1381234567a",
                                           "", "A1", "a1", "Z9", "B-", "1\xE5\xBC\xA0", "abc", "ab", "x"};
  for (const char* pattern : {"1[3-9][0-9]{9}", "[A-Z][0-9]", "abc", "[a-cx]{1}", "[0-9A-Za-z]{2}", "a[b]{1}c?"}) {
    FieldDefinition field = field_of(FieldType::string, "code");
    field.pattern_text = pattern;
    field.pattern.emplace(pattern, std::regex::ECMAScript);
    field.fixed_pattern = fixed_length_pattern(pattern);
    for (const std::string& value : values) {
      bool expected = std::regex_match(value, *field.pattern);
      EXPECT_EQ(check(field, value) == "", expected) << pattern << " on " << value;
    }
  }
  EXPECT_EQ(fixed_length_pattern("1[3-9][0-9]{9}").size(), 11u);
  for (const char* other : {"a|b", "(ab)", "[^0-9]", "a{1,2}", "a*", "a+", "a?", ".", "\\d", "[a-]", "[]", "a{x}", "^a$"}) {
    EXPECT_TRUE(fixed_length_pattern(other).empty()) << other;
  }
}

TEST_F(Values, Integers) {
  FieldDefinition field = field_of(FieldType::integer, "employees");
  field.minimum = 0;
  field.maximum = 1000000;
  EXPECT_EQ(check(field, 0), "");
  EXPECT_EQ(check(field, 250), "");
  EXPECT_EQ(check(field, -1), "registry.value_range");
  EXPECT_EQ(check(field, 1000001), "registry.value_range");
  EXPECT_EQ(check(field, 2.5), "registry.value_type");
  EXPECT_EQ(check(field, "250"), "registry.value_type");
}

TEST_F(Values, Decimals) {
  FieldDefinition field = field_of(FieldType::decimal, "capital");
  field.minimum = 0;
  EXPECT_EQ(check(field, "1000000.50"), "");
  EXPECT_EQ(check(field, 12.5), "");
  EXPECT_EQ(check(field, 12), "");
  EXPECT_EQ(check(field, "-0.01"), "registry.value_range");
  EXPECT_EQ(check(field, -3), "registry.value_range");
  for (const char* bad : {"", "1.", ".5", "1e5", "12,000", " 1", "abc"}) {
    EXPECT_EQ(check(field, bad), "registry.value_type") << bad;
  }
  EXPECT_EQ(check(field, json::array()), "registry.value_type");
}

TEST_F(Values, Dates) {
  FieldDefinition field = field_of(FieldType::date, "birth_date");
  field.not_in_future = true;
  field.earliest = Date(1880, 1, 1);
  EXPECT_EQ(check(field, "1990-01-01"), "");
  EXPECT_EQ(check(field, "2026-11-23"), "");  // today is not the future
  EXPECT_EQ(check(field, "2026-11-24"), "registry.value_future");
  EXPECT_EQ(check(field, "1879-12-31"), "registry.value_range");
  EXPECT_EQ(check(field, "2026-02-30"), "clock.date_nonexistent");
  EXPECT_EQ(check(field, "1990/01/01"), "clock.date_format");
  EXPECT_EQ(check(field, 19900101), "registry.value_type");

  FieldDefinition window = field_of(FieldType::date, "valid_until");
  window.latest = Date(2030, 12, 31);
  EXPECT_EQ(check(window, "2029-01-01"), "");  // the future is fine without not_in_future
  EXPECT_EQ(check(window, "2031-01-01"), "registry.value_range");
}

TEST_F(Values, Enumerations) {
  FieldDefinition field = field_of(FieldType::enumeration, "marital_status");
  field.values = {{"10", "未婚", "unmarried"}, {"20", "已婚", "married"}};
  EXPECT_EQ(check(field, "20"), "");
  EXPECT_EQ(check(field, "30"), "registry.value_enum");
  EXPECT_EQ(check(field, 20), "registry.value_type");
}

TEST_F(Values, Divisions) {
  FieldDefinition field = field_of(FieldType::division, "household_division");
  EXPECT_EQ(check(field, "370285"), "");
  EXPECT_EQ(check(field, "379999"), "identifiers.division_unknown");
  EXPECT_EQ(check(field, "3702"), "identifiers.division_format");
}

TEST_F(Values, CitizenIdsWithTheirCheckCharacter) {
  FieldDefinition field = field_of(FieldType::citizen_id, "id_number");
  EXPECT_EQ(check(field, "360426199101010071"), "");
  EXPECT_EQ(check(field, "44011320141005001X"), "");
  EXPECT_EQ(check(field, "44011320141005001x"), "");
  EXPECT_EQ(check(field, "360426199101010072"), "identifiers.citizen_id_check");
  EXPECT_EQ(check(field, "36042619910101007"), "identifiers.citizen_id_length");
  auto check_character = citizen_id_check_character("37020220270101001");
  ASSERT_TRUE(check_character.ok());
  EXPECT_EQ(check(field, std::string("37020220270101001") + *check_character), "identifiers.citizen_id_birth_date_future");
  // The message names the field but never the number.
  Status status = validate_value(field, "360426199101010072", today, *divisions_);
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.error().message.find("360426"), std::string::npos) << status.error().message;
}

TEST_F(Values, UnifiedSocialCreditCodes) {
  FieldDefinition field = field_of(FieldType::unified_social_credit_code, "uscc");
  EXPECT_EQ(check(field, "91110000600037341L"), "");
  EXPECT_EQ(check(field, "91310115MA1K3BTP2B"), "");
  EXPECT_EQ(check(field, "91110000600037341M"), "identifiers.unified_social_credit_code_check");
  EXPECT_EQ(check(field, "9111000060003734"), "identifiers.unified_social_credit_code_length");
}

TEST_F(Values, ReferencesTakeTheFormOfTheTargetsKey) {
  FieldDefinition field = field_of(FieldType::reference, "legal_representative_id");
  field.target = "person";
  field.target_key_kind = KeyKind::citizen_id;
  EXPECT_EQ(check(field, "360426199101010071"), "");
  EXPECT_EQ(check(field, "360426199101010072"), "identifiers.citizen_id_check");
  field.target_key_kind = KeyKind::unified_social_credit_code;
  EXPECT_EQ(check(field, "91110000600037341L"), "");
  EXPECT_EQ(check(field, "360426199101010071"), "identifiers.unified_social_credit_code_check");
  field.target_key_kind = KeyKind::own_id;
  EXPECT_EQ(check(field, "pet_01"), "");
  EXPECT_EQ(check(field, ""), "registry.value_required");
  EXPECT_EQ(check(field, 7), "registry.value_type");
}

TEST_F(Values, ShippedPersonFields) {
  auto person = load_definition(testing::config_dir() / "registries" / "person.yaml",
                                {"police", "civil", "health"});
  ASSERT_TRUE(person.ok()) << person.error().message;
  EXPECT_EQ(check(*person->field("phone"), "13812345678"), "");
  EXPECT_EQ(check(*person->field("phone"), "0532-1234567"), "registry.value_pattern");
  EXPECT_EQ(check(*person->field("birth_date"), "2030-01-01"), "registry.value_future");
  EXPECT_EQ(check(*person->field("sex"), "1"), "");
  EXPECT_EQ(check(*person->field("sex"), "3"), "registry.value_enum");
  EXPECT_EQ(check(*person->field("ethnicity"), "01"), "");
  EXPECT_EQ(check(*person->field("ethnicity"), "1"), "registry.value_enum");
  EXPECT_EQ(check(*person->field("id_number"), json()), "registry.value_required");
  EXPECT_EQ(check(*person->field("death_date"), json()), "");
}

FieldDefinition masked(MaskRule rule, int keep_first = 0, int keep_last = 0) {
  FieldDefinition field = field_of(FieldType::string);
  field.masking = {rule, keep_first, keep_last};
  return field;
}

TEST(Masking, CitizenIdKeepsSixAndFour) {
  EXPECT_EQ(mask(masked(MaskRule::keep, 6, 4), "370202199001011234"), "370202********1234");
}

TEST(Masking, PhoneKeepsThreeAndFour) {
  EXPECT_EQ(mask(masked(MaskRule::keep, 3, 4), "13812345678"), "138****5678");
}

TEST(Masking, NamesKeepTheFirstCharacterCountingCharactersNotBytes) {
  FieldDefinition name = masked(MaskRule::surname);
  EXPECT_EQ(mask(name, "张"), "*");  // a single character would give the whole name away
  EXPECT_EQ(mask(name, "张三"), "张*");
  EXPECT_EQ(mask(name, "欧阳娜"), "欧**");
  EXPECT_EQ(mask(name, "欧阳娜娜"), "欧***");
  EXPECT_EQ(mask(name, "Li"), "L*");
  EXPECT_EQ(mask(name, "阿依古丽·买买提"), "阿*******");
}

TEST(Masking, AddressKeepsItsFirstCharacters) {
  EXPECT_EQ(mask(masked(MaskRule::keep, 6, 0), "山东省青岛市市南区香港中路1号"), "山东省青岛市*********");
}

TEST(Masking, ShortValuesAreMaskedWhole) {
  EXPECT_EQ(mask(masked(MaskRule::keep, 3, 4), "1234567"), "*******");
  EXPECT_EQ(mask(masked(MaskRule::keep, 3, 4), "12345"), "*****");
  EXPECT_EQ(mask(masked(MaskRule::keep, 6, 4), "张三"), "**");
  EXPECT_EQ(mask(masked(MaskRule::keep, 3, 4), "12345678"), "123*5678");
  EXPECT_EQ(mask(masked(MaskRule::surname), ""), "");
  EXPECT_EQ(mask(masked(MaskRule::full), ""), "");
}

TEST(Masking, FullAndNone) {
  EXPECT_EQ(mask(masked(MaskRule::full), "20"), "***");
  EXPECT_EQ(mask(masked(MaskRule::full), "1990-01-01"), "***");
  EXPECT_EQ(mask(masked(MaskRule::none), "青岛市"), "青岛市");
}

TEST(Masking, MalformedUtf8IsStillMasked) {
  // A stray continuation byte stays with the character before it: nothing is revealed.
  std::string text = std::string("\x80") + "abc";
  EXPECT_EQ(mask(masked(MaskRule::surname), text), "\x80***");
}

}  // namespace
}  // namespace onewindow::registry
