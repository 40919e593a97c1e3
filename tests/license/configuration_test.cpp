// License identifiers (their MOD 37,36 check character) and the license types of
// config/licenses/types.yaml, whose mistakes are reported with file, line and field.
#include "license_fixture.h"

#include "base/identifiers.h"

#include <gmock/gmock.h>

namespace onewindow::license {
namespace {

using ::testing::HasSubstr;

TEST(LicenseIdentifierTest, IsMadeWithItsCheckCharacterAndReadBack) {
  auto made = LicenseIdentifier::make("11370200MB0000035Y001", "11370200MB0000035Y", "2026K7Q2M9X4P1B8", "001");
  ASSERT_TRUE(made.ok()) << made.error().message;
  // The check character of the four parts joined without dots.
  EXPECT_EQ(made->check,
            *mod37_36_check_character("11370200MB0000035Y00111370200MB0000035Y2026K7Q2M9X4P1B8001"));
  EXPECT_EQ(made->check, 'Q') << "the example of docs/license.md";
  std::string text = made->text();
  EXPECT_EQ(text, std::string("1.2.156.3005.2.11370200MB0000035Y001.11370200MB0000035Y.2026K7Q2M9X4P1B8.001.") + made->check);
  auto parsed = LicenseIdentifier::parse(text);
  ASSERT_TRUE(parsed.ok()) << parsed.error().message;
  EXPECT_EQ(parsed->text(), text);
  EXPECT_EQ(parsed->serial, "2026K7Q2M9X4P1B8");

  // A mistyped character anywhere in the checked parts is caught by the check character or by
  // the USCC's own check.
  const std::size_t checked_from = identifier_prefix.size();
  const std::size_t checked_to = text.size() - 2;
  for (std::size_t index = checked_from; index < checked_to; ++index) {
    if (text[index] == '.') continue;
    std::string changed = text;
    changed[index] = text[index] == '7' ? '8' : '7';
    EXPECT_FALSE(LicenseIdentifier::parse(changed).ok()) << changed;
  }
}

TEST(LicenseIdentifierTest, ErrorsNameThePartAndTheField) {
  auto expect = [](std::string_view text, const std::string& code, const std::string& says) {
    auto parsed = LicenseIdentifier::parse(text, "related_license");
    ASSERT_FALSE(parsed.ok()) << text;
    EXPECT_EQ(parsed.error().code, code) << text;
    EXPECT_EQ(parsed.error().details["field"], "related_license");
    EXPECT_THAT(parsed.error().message, HasSubstr(says)) << text;
  };
  auto good = LicenseIdentifier::make("11370200MB0000035Y001", "11370200MB0000035Y", "2026A", "001");
  ASSERT_TRUE(good.ok());
  std::string text = good->text();
  expect("2.16.156.1." + text.substr(15), "license.bad_identifier", "starts with 1.2.156.3005.2.");
  expect(text.substr(0, text.size() - 2), "license.bad_identifier", "check character");
  std::string wrong_check = text;
  wrong_check.back() = wrong_check.back() == 'A' ? 'B' : 'A';
  expect(wrong_check, "license.identifier_check", "check character does not match");
  expect("1.2.156.3005.2.11370200MB0000035Y01.11370200MB0000035Y.2026A.001.X", "license.bad_identifier", "type code");
  expect("1.2.156.3005.2.11370200MB0000035Y001.11370200MB0000035X.2026A.001.X", "license.bad_identifier", "issuer");
  expect("1.2.156.3005.2.11370200MB0000035Y001.11370200MB0000035Y.2026a.001.X", "license.bad_identifier", "serial");
  expect("1.2.156.3005.2.11370200MB0000035Y001.11370200MB0000035Y.2026A.1.X", "license.bad_identifier", "version");
}

TEST(LicenseConfigurationTest, TheProjectsTypesLoad) {
  auto loaded = LicenseConfiguration::load(testing::config_dir() / "licenses" / "types.yaml", configured_departments());
  ASSERT_TRUE(loaded.ok()) << loaded.error().message;
  std::set<std::string> keys;
  for (const LicenseType& type : loaded->types) keys.insert(type.key);
  EXPECT_EQ(keys, (std::set<std::string>{"business_license", "seal_engraving_record", "household_registration",
                                         "tax_registration", "social_security_registration", "social_security_card",
                                         "birth_medical_certificate", "medical_insurance_enrolment"}));
  const LicenseType* business = loaded->type("business_license");
  ASSERT_NE(business, nullptr);
  EXPECT_EQ(business->name, "营业执照");
  EXPECT_EQ(business->department, "market");
  EXPECT_EQ(business->type_code(), "11370200MB0000035Y001");
  EXPECT_EQ(business->holder_id_type(), "001");
  EXPECT_EQ(loaded->type("11370200MB0000035Y001"), business) << "found by its type code too";
  EXPECT_EQ(loaded->type("11370200MB0000043R002")->key, "household_registration");
  EXPECT_EQ(loaded->type("social_security_card")->validity_years, 10);
  EXPECT_EQ(loaded->type("social_security_card")->holder_id_type(), "111");
  // Every defining agency is the issuing department, as config/departments.yaml has it.
  for (const LicenseType& type : loaded->types) {
    EXPECT_EQ(type.defining_agency, loaded->department(type.department)->uscc) << type.key;
  }
}

class LicenseConfigurationErrors : public ::testing::Test {
 protected:
  Result<LicenseConfiguration> load(const std::string& text) {
    return LicenseConfiguration::load(directory_.write("types.yaml", text), configured_departments());
  }
  void expect(const std::string& text, const std::string& code, int line, const std::string& field) {
    auto loaded = load(text);
    ASSERT_FALSE(loaded.ok()) << text;
    EXPECT_EQ(loaded.error().code, code) << loaded.error().message;
    EXPECT_EQ(loaded.error().details["line"], line) << loaded.error().message;
    EXPECT_EQ(loaded.error().details["field"], field) << loaded.error().message;
    EXPECT_THAT(loaded.error().message, HasSubstr("types.yaml:" + std::to_string(line) + ": " + field));
  }
  testing::TemporaryDirectory directory_;
};

constexpr const char* good_type = R"(types:
  - key: business_license
    code: "001"
    name: 营业执照
    department: market
    holder: legal_person
)";

TEST_F(LicenseConfigurationErrors, NameTheFileLineAndField) {
  ASSERT_TRUE(load(good_type).ok());
  EXPECT_EQ(load(good_type)->types[0].defining_agency, "11370200MB0000035Y") << "the issuer's USCC by default";
  std::string text = good_type;
  auto with = [&](const std::string& from, const std::string& to) {
    std::string changed = text;
    changed.replace(changed.find(from), from.size(), to);
    return changed;
  };
  expect(with("department: market", "department: mint"), "license.unknown_department", 5, "types[0].department");
  expect(with("code: \"001\"", "code: 1"), "config.bad_value", 3, "types[0].code");
  expect(with("holder: legal_person", "holder: person"), "config.bad_value", 6, "types[0].holder");
  expect(with("holder: legal_person", "holder: legal_person\n    colour: red"), "config.unknown_key", 7, "types[0].colour");
  expect(with("holder: legal_person", "holder: legal_person\n    validity_years: forever"), "config.bad_value", 7,
         "types[0].validity_years");
  expect(with("holder: legal_person", "holder: legal_person\n    defining_agency: 11370200MB0000035X"), "config.bad_value",
         7, "types[0].defining_agency");
  expect(with("    name: 营业执照\n", ""), "config.missing_field", 2, "types[0].name");
  expect(text + "  - {key: business_license, code: \"002\", name: 营业执照, department: market, holder: legal_person}\n",
         "license.duplicate_type", 7, "types[1].key");
  expect(text + "  - {key: other_license, code: \"001\", name: 其他, department: market, holder: legal_person}\n",
         "license.duplicate_type", 7, "types[1].code");
  expect(with("holder: legal_person", "holder: legal_person\n    items:\n      - {name: Bad Name, label: 坏}"),
         "config.bad_value", 8, "types[0].items[0].name");
}

}  // namespace
}  // namespace onewindow::license
