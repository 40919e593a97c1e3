#include "base/identifiers.h"

#include "testing.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <set>
#include <string>
#include <thread>
#include <vector>

namespace onewindow {
namespace {

// ---- Helpers ----

using ScratchDirectory = onewindow::testing::TemporaryDirectory;

constexpr Date today{2026, 1, 1};

// A citizen ID number made from 17 digits and its computed check character.
std::string with_citizen_check(const std::string& first_seventeen) {
  const Result<char> check = citizen_id_check_character(first_seventeen);
  EXPECT_TRUE(check.ok());
  return first_seventeen + (check.ok() ? *check : '?');
}

// A unified social credit code from 16 characters: the organization code check, then the final
// check, computed.
std::string with_credit_checks(const std::string& first_sixteen) {
  const Result<char> organization = organization_code_check_character(first_sixteen.substr(8));
  EXPECT_TRUE(organization.ok());
  const std::string first_seventeen = first_sixteen + (organization.ok() ? *organization : '?');
  const Result<char> check = unified_social_credit_code_check_character(first_seventeen);
  EXPECT_TRUE(check.ok());
  return first_seventeen + (check.ok() ? *check : '?');
}

std::string citizen_error_code(std::string_view text) {
  const Status status = validate_citizen_id(text, today);
  return status.ok() ? "ok" : status.error().code;
}

std::string credit_error_code(std::string_view text) {
  const Status status = validate_unified_social_credit_code(text);
  return status.ok() ? "ok" : status.error().code;
}

// ---- Citizen ID number ----

TEST(CitizenIdTest, ReferenceExamplesAreValid) {
  for (const char* text : {"360426199101010071", "44011320141005001X", "34052419800101001X"}) {
    EXPECT_TRUE(validate_citizen_id(text, today).ok()) << text;
  }
}

TEST(CitizenIdTest, ReadsBirthDateSexAndDivision) {
  const Result<CitizenId> man = CitizenId::parse("360426199101010071", today);
  ASSERT_TRUE(man.ok());
  EXPECT_EQ(man->birth_date(), Date(1991, 1, 1));
  EXPECT_EQ(man->sex(), Sex::male);  // sequence 007
  EXPECT_EQ(man->division_code(), "360426");
  EXPECT_EQ(man->text(), "360426199101010071");

  const Result<CitizenId> child = CitizenId::parse("44011320141005001X", today);
  ASSERT_TRUE(child.ok());
  EXPECT_EQ(child->birth_date(), Date(2014, 10, 5));
  EXPECT_EQ(child->sex(), Sex::male);  // sequence 001

  const Result<CitizenId> woman = CitizenId::parse(with_citizen_check("37028519880229002"), today);
  ASSERT_TRUE(woman.ok());
  EXPECT_EQ(woman->birth_date(), Date(1988, 2, 29));
  EXPECT_EQ(woman->sex(), Sex::female);  // sequence 002
}

TEST(CitizenIdTest, LowerCaseXIsReadAsUpperCase) {
  EXPECT_TRUE(validate_citizen_id("44011320141005001x", today).ok());
  const Result<CitizenId> id = CitizenId::parse("34052419800101001x", today);
  ASSERT_TRUE(id.ok());
  EXPECT_EQ(id->text(), "34052419800101001X");
  EXPECT_EQ(normalise_citizen_id("44011320141005001x"), "44011320141005001X");
  EXPECT_EQ(normalise_citizen_id("360426199101010071"), "360426199101010071");
  EXPECT_EQ(normalise_citizen_id("x"), "x");  // not an ID: left for validation to report
}

TEST(CitizenIdTest, EverySingleCharacterChangeFails) {
  for (const std::string valid :
       {"360426199101010071", "44011320141005001X", "34052419800101001X"}) {
    for (std::size_t position = 0; position < valid.size(); ++position) {
      for (char replacement : std::string("0123456789XxA")) {
        const char original = valid[position];
        if (replacement == original || (position == 17 && replacement == 'x' && original == 'X')) {
          continue;
        }
        std::string changed = valid;
        changed[position] = replacement;
        const bool is_valid_character =
            (replacement >= '0' && replacement <= '9') ||
            (position == 17 && (replacement == 'X' || replacement == 'x'));
        EXPECT_EQ(citizen_error_code(changed), is_valid_character
                                                   ? "identifiers.citizen_id_check"
                                                   : "identifiers.citizen_id_characters")
            << "position " << position << " replaced by " << replacement;
      }
    }
  }
}

TEST(CitizenIdTest, EachFailureHasItsCode) {
  EXPECT_EQ(citizen_error_code(""), "identifiers.citizen_id_length");
  EXPECT_EQ(citizen_error_code("36042619910101007"), "identifiers.citizen_id_length");
  EXPECT_EQ(citizen_error_code("3604261991010100711"), "identifiers.citizen_id_length");
  EXPECT_EQ(citizen_error_code("36042619910101007 "), "identifiers.citizen_id_characters");
  EXPECT_EQ(citizen_error_code("36042619910A010071"), "identifiers.citizen_id_characters");
  EXPECT_EQ(citizen_error_code("36042619910101007Y"), "identifiers.citizen_id_characters");
  EXPECT_EQ(citizen_error_code("360426199101010072"), "identifiers.citizen_id_check");
  // Division 99 is no province; 00 neither.
  EXPECT_EQ(citizen_error_code(with_citizen_check("99042619910101007")),
            "identifiers.citizen_id_division");
  EXPECT_EQ(citizen_error_code(with_citizen_check("00000019910101007")),
            "identifiers.citizen_id_division");
  // February 30th, month 13, day 0, and February 29th of a common year.
  EXPECT_EQ(citizen_error_code(with_citizen_check("37020219900230123")),
            "identifiers.citizen_id_birth_date");
  EXPECT_EQ(citizen_error_code(with_citizen_check("37020219901301123")),
            "identifiers.citizen_id_birth_date");
  EXPECT_EQ(citizen_error_code(with_citizen_check("37020219900100123")),
            "identifiers.citizen_id_birth_date");
  EXPECT_EQ(citizen_error_code(with_citizen_check("37020219890229123")),
            "identifiers.citizen_id_birth_date");
  // Born tomorrow, and born today.
  EXPECT_EQ(citizen_error_code(with_citizen_check("37020220260102123")),
            "identifiers.citizen_id_birth_date_future");
  EXPECT_EQ(citizen_error_code(with_citizen_check("37020220260101123")), "ok");
}

TEST(CitizenIdTest, ErrorsNameTheFieldButNeverTheNumber) {
  const std::vector<std::string> invalid = {
      "360426199101010072",                     // check
      with_citizen_check("99042619910101007"),  // division
      with_citizen_check("37020219900230123"),  // birth date
      with_citizen_check("37020220260102123"),  // future
      "3604261991010100A1",                     // characters
      "36042619910101007",                      // length
  };
  for (const std::string& text : invalid) {
    const Status status = validate_citizen_id(text, today, "applicant_id");
    ASSERT_FALSE(status.ok()) << text;
    const Error& error = status.error();
    EXPECT_EQ(error.kind, ErrorKind::invalid_argument);
    EXPECT_EQ(error.details["field"], "applicant_id");
    EXPECT_NE(error.message.find("applicant_id"), std::string::npos);
    // Not the number, nor its division code or birth date.
    EXPECT_EQ(error.message.find(text), std::string::npos) << error.message;
    EXPECT_EQ(error.message.find(text.substr(0, 6)), std::string::npos) << error.message;
    EXPECT_EQ(error.message.find(text.substr(6, 8)), std::string::npos) << error.message;
    EXPECT_EQ(error.details.dump().find(text.substr(0, 6)), std::string::npos);
  }
}

TEST(CitizenIdTest, ComputesTheCheckCharacter) {
  EXPECT_EQ(*citizen_id_check_character("36042619910101007"), '1');
  EXPECT_EQ(*citizen_id_check_character("44011320141005001"), 'X');
  EXPECT_EQ(citizen_id_check_character("3604261991010100").error().code,
            "identifiers.citizen_id_length");
  EXPECT_EQ(citizen_id_check_character("3604261991010100X").error().code,
            "identifiers.citizen_id_characters");
}

// ---- Unified social credit code ----

const std::vector<std::string> valid_credit_codes = {"91110000600037341L", "121200004013590816",
                                                     "91310115MA1K3BTP2B"};

TEST(UnifiedSocialCreditCodeTest, ReferenceExamplesAreValid) {
  for (const std::string& code : valid_credit_codes) {
    EXPECT_TRUE(validate_unified_social_credit_code(code).ok()) << code;
  }
}

TEST(UnifiedSocialCreditCodeTest, EverySingleCharacterChangeFails) {
  const std::string alphabet = "0123456789ABCDEFGHJKLMNPQRTUWXY";
  for (const std::string& valid : valid_credit_codes) {
    for (std::size_t position = 0; position < valid.size(); ++position) {
      for (char replacement : alphabet + "IOSVZa-") {
        if (replacement == valid[position]) continue;
        std::string changed = valid;
        changed[position] = replacement;
        const bool in_alphabet = alphabet.find(replacement) != std::string::npos;
        EXPECT_EQ(credit_error_code(changed),
                  in_alphabet ? "identifiers.unified_social_credit_code_check"
                              : "identifiers.unified_social_credit_code_characters")
            << valid << " position " << position << " replaced by " << replacement;
      }
    }
  }
}

TEST(UnifiedSocialCreditCodeTest, EachFailureHasItsCode) {
  EXPECT_EQ(credit_error_code(""), "identifiers.unified_social_credit_code_length");
  EXPECT_EQ(credit_error_code("91110000600037341"),
            "identifiers.unified_social_credit_code_length");
  EXPECT_EQ(credit_error_code("91110000600037341LL"),
            "identifiers.unified_social_credit_code_length");
  EXPECT_EQ(credit_error_code("91110000600037341l"),
            "identifiers.unified_social_credit_code_characters");
  EXPECT_EQ(credit_error_code("91110000600037341M"),
            "identifiers.unified_social_credit_code_check");
  // Valid check characters around a bad division: a letter in it, and province 99.
  EXPECT_EQ(credit_error_code(with_credit_checks("911100A060003734")),
            "identifiers.unified_social_credit_code_division");
  EXPECT_EQ(credit_error_code(with_credit_checks("9199000060003734")),
            "identifiers.unified_social_credit_code_division");
  // A valid final check over a wrong organization code check character (2 instead of 1).
  const std::string wrong_organization_check = "911100006000373422";
  const std::string first_seventeen = wrong_organization_check.substr(0, 17);
  const std::string code =
      first_seventeen + *unified_social_credit_code_check_character(first_seventeen);
  EXPECT_EQ(credit_error_code(code), "identifiers.unified_social_credit_code_organization_code");
}

TEST(UnifiedSocialCreditCodeTest, ErrorsNameTheField) {
  const Status status =
      validate_unified_social_credit_code("91110000600037341M", "department.uscc");
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.error().kind, ErrorKind::invalid_argument);
  EXPECT_EQ(status.error().details["field"], "department.uscc");
  EXPECT_NE(status.error().message.find("department.uscc"), std::string::npos);
}

TEST(UnifiedSocialCreditCodeTest, ComputesBothCheckCharacters) {
  EXPECT_EQ(*unified_social_credit_code_check_character("91110000600037341"), 'L');
  EXPECT_EQ(*unified_social_credit_code_check_character("12120000401359081"), '6');
  EXPECT_EQ(*unified_social_credit_code_check_character("91310115MA1K3BTP2"), 'B');
  EXPECT_EQ(*organization_code_check_character("60003734"), '1');
  EXPECT_EQ(*organization_code_check_character("MA1K3BTP"), '2');
  EXPECT_EQ(unified_social_credit_code_check_character("9111000060003734").error().code,
            "identifiers.unified_social_credit_code_length");
  EXPECT_EQ(unified_social_credit_code_check_character("9111000060003734I").error().code,
            "identifiers.unified_social_credit_code_characters");
  EXPECT_EQ(organization_code_check_character("6000373").error().code,
            "identifiers.organization_code_length");
  EXPECT_EQ(organization_code_check_character("6000373a").error().code,
            "identifiers.organization_code_characters");
}

TEST(UnifiedSocialCreditCodeTest, OrganizationCheckWritesTenAsXAndElevenAsZero) {
  // Among the bodies 00000000 to 00000999, every check character against the definition
  // C9 = 11 - (S mod 11), including at least one 10 (X) and one 11 (0).
  bool saw_x = false;
  bool saw_zero = false;
  for (int number = 0; number < 1000 && !(saw_x && saw_zero); ++number) {
    std::string body = std::to_string(number);
    body.insert(0, 8 - body.size(), '0');
    int sum = 0;
    const int weights[8] = {3, 7, 9, 10, 5, 8, 4, 2};
    for (int index = 0; index < 8; ++index) sum += (body[index] - '0') * weights[index];
    const int check = 11 - sum % 11;
    const char computed = *organization_code_check_character(body);
    if (check == 10) {
      EXPECT_EQ(computed, 'X') << body;
      saw_x = true;
    } else if (check == 11) {
      EXPECT_EQ(computed, '0') << body;
      saw_zero = true;
    } else {
      EXPECT_EQ(computed, '0' + check) << body;
    }
  }
  EXPECT_TRUE(saw_x);
  EXPECT_TRUE(saw_zero);
}

TEST(UnifiedSocialCreditCodeTest, MakesValidDepartmentCodesForDemoData) {
  // Departments' codes start with 11 (registering authority 1, entity type 1: government organ).
  for (const std::string body : {"QD000001", "QD000002", "LX000017", "00000000", "MB1234XY"}) {
    const std::string code = with_credit_checks("11370200" + body);
    EXPECT_TRUE(validate_unified_social_credit_code(code).ok()) << code;
  }
}

TEST(UnifiedSocialCreditCodeTest, NormaliseUpperCases) {
  EXPECT_EQ(normalise_unified_social_credit_code("91310115ma1k3btp2b"), "91310115MA1K3BTP2B");
  EXPECT_TRUE(validate_unified_social_credit_code(
                  normalise_unified_social_credit_code("91110000600037341l"))
                  .ok());
}

// ---- ISO/IEC 7064 MOD 37,36 ----

// Worked by hand, P starting at 36:
//   "9":  S = (36 + 9) mod 36 = 9,  P = 18 mod 37 = 18;  check value (37 - 18) mod 36 = 19: 'J'.
//   "1M": S = (36 + 1) mod 36 = 1,  P = 2;
//         M is 22: S = (2 + 22) mod 36 = 24, P = 48 mod 37 = 11;  check (37 - 11) mod 36 = 26: 'Q'.
//   "Z":  Z is 35: S = (36 + 35) mod 36 = 35, P = 70 mod 37 = 33; check (37 - 33) mod 36 = 4: '4'.
//   "0":  S = (36 + 0) mod 36 = 0, taken as 36; P = 72 mod 37 = 35; check (37 - 35) = 2: '2'.
TEST(Mod37_36Test, HandComputedVectors) {
  EXPECT_EQ(*mod37_36_check_character("9"), 'J');
  EXPECT_EQ(*mod37_36_check_character("1M"), 'Q');
  EXPECT_EQ(*mod37_36_check_character("Z"), '4');
  EXPECT_EQ(*mod37_36_check_character("0"), '2');
  EXPECT_TRUE(mod37_36_valid("9J"));
  EXPECT_TRUE(mod37_36_valid("1MQ"));
  EXPECT_FALSE(mod37_36_valid("1MR"));
}

TEST(Mod37_36Test, TheStandardsExample) {
  EXPECT_EQ(*mod37_36_check_character("A12425GABC1234002"), 'M');
  EXPECT_TRUE(mod37_36_valid("A12425GABC1234002M"));
}

// A license identifier's checked part: type code (defining agency and sequence), issuer, serial,
// version. Every change of one character changes the check character, and so (for this text)
// does every swap of two different neighbours.
TEST(Mod37_36Test, CatchesEverySubstitutionAndTheseTranspositions) {
  const std::string text = "11370200MB0000035Y00111370200MB0000035Y2026K7Q2M9X4P1B8001";
  const char check = *mod37_36_check_character(text);
  const std::string alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ";
  for (std::size_t index = 0; index < text.size(); ++index) {
    for (char replacement : alphabet) {
      if (replacement == text[index]) continue;
      std::string changed = text;
      changed[index] = replacement;
      EXPECT_NE(*mod37_36_check_character(changed), check) << changed;
    }
    if (index + 1 < text.size() && text[index] != text[index + 1]) {
      std::string swapped = text;
      std::swap(swapped[index], swapped[index + 1]);
      EXPECT_NE(*mod37_36_check_character(swapped), check) << swapped;
    }
  }
}

TEST(Mod37_36Test, RefusesOtherCharactersNamingTheField) {
  auto lower = mod37_36_check_character("abc", "identifier");
  ASSERT_FALSE(lower.ok());
  EXPECT_EQ(lower.error().code, "identifiers.mod37_36_characters");
  EXPECT_EQ(lower.error().details["field"], "identifier");
  EXPECT_EQ(mod37_36_check_character("12.3").error().code, "identifiers.mod37_36_characters");
  EXPECT_EQ(mod37_36_check_character("").error().code, "identifiers.mod37_36_length");
  EXPECT_FALSE(mod37_36_valid("J"));
  EXPECT_FALSE(mod37_36_valid("9j"));
}

// ---- Division codes ----

class DivisionCodesTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    Result<DivisionCodes> loaded = DivisionCodes::load(onewindow::testing::config_dir() / "divisions.yaml");
    ASSERT_TRUE(loaded.ok()) << loaded.error().message;
    table_ = new DivisionCodes(std::move(*loaded));
  }
  static void TearDownTestSuite() {
    delete table_;
    table_ = nullptr;
  }
  void SetUp() override { ASSERT_NE(table_, nullptr) << "config/divisions.yaml did not load"; }
  static const DivisionCodes& table() { return *table_; }

 private:
  static inline DivisionCodes* table_ = nullptr;
};

TEST_F(DivisionCodesTest, KnowsEveryProvince) {
  int provinces = 0;
  for (const Division& division : table().all()) {
    if (division.level == DivisionLevel::province) ++provinces;
  }
  EXPECT_EQ(provinces, 34);
  const Division* shandong = table().find("370000");
  ASSERT_NE(shandong, nullptr);
  EXPECT_EQ(shandong->name, "山东省");
  EXPECT_EQ(shandong->english_name, "Shandong Province");
  EXPECT_EQ(table().parent("370000"), nullptr);
}

TEST_F(DivisionCodesTest, KnowsQingdaoAndLaixi) {
  const Division* laixi = table().find("370285");
  ASSERT_NE(laixi, nullptr);
  EXPECT_EQ(laixi->name, "莱西市");
  EXPECT_EQ(laixi->english_name, "Laixi");
  EXPECT_EQ(laixi->level, DivisionLevel::county);
  EXPECT_EQ(laixi->parent_code, "370200");

  const Division* qingdao = table().parent("370285");
  ASSERT_NE(qingdao, nullptr);
  EXPECT_EQ(qingdao->code, "370200");
  EXPECT_EQ(qingdao->name, "青岛市");
  EXPECT_EQ(qingdao->level, DivisionLevel::prefecture);
  EXPECT_EQ(table().parent("370200")->code, "370000");

  std::vector<std::string> districts;
  for (const Division* child : table().children("370200")) districts.push_back(child->code);
  EXPECT_EQ(districts,
            (std::vector<std::string>{"370202", "370203", "370211", "370212", "370213", "370214",
                                      "370215", "370281", "370283", "370285"}));
  EXPECT_EQ(table().children("370000").size(), 16U);
  EXPECT_TRUE(table().children("370285").empty());
}

TEST_F(DivisionCodesTest, Validates) {
  EXPECT_TRUE(table().validate("370202").ok());
  EXPECT_TRUE(table().validate("110000").ok());
  EXPECT_EQ(table().find("370299"), nullptr);
  EXPECT_EQ(table().parent("370299"), nullptr);
  const Status unknown = table().validate("370299", "node.division");
  ASSERT_FALSE(unknown.ok());
  EXPECT_EQ(unknown.error().code, "identifiers.division_unknown");
  EXPECT_EQ(unknown.error().details["field"], "node.division");
  for (const char* malformed : {"", "37020", "3702000", "37020a", " 370200"}) {
    const Status status = table().validate(malformed);
    ASSERT_FALSE(status.ok()) << malformed;
    EXPECT_EQ(status.error().code, "identifiers.division_format") << malformed;
  }
}

struct BadDivisionFile {
  std::string text;
  std::string code;
  int line;
  std::string field;
};

TEST(DivisionCodesLoadTest, ErrorsNameFileLineAndField) {
  const std::vector<BadDivisionFile> cases = {
      {"divisions:\n  - {code: \"370000\", name: 山东省, name_en: Shandong, parnet: x}\n",
       "identifiers.division_file_field", 2, "divisions[0].parnet"},
      {"divisions:\n  - {code: \"370000\", name: 山东省, name_en: Shandong}\n"
       "  - {code: \"370200\", name: 青岛市, name_en: Qingdao}\n",
       "identifiers.division_file_field", 3, "divisions[1].parent"},
      {"divisions:\n  - code: \"37000\"\n    name: 山东省\n    name_en: Shandong\n",
       "identifiers.division_file_field", 2, "divisions[0].code"},
      {"divisions:\n  - {code: \"370000\", name: 山东省}\n", "identifiers.division_file_field", 2,
       "divisions[0].name_en"},
      {"divisions:\n  - {code: \"370000\", name: 山东省, name_en: Shandong}\n"
       "  - {code: \"370000\", name: 山东省, name_en: Shandong}\n",
       "identifiers.division_file_duplicate", 3, "divisions[1].code"},
      {"divisions:\n  - {code: \"370000\", name: 山东省, name_en: Shandong}\n"
       "  - {code: \"370285\", name: 莱西市, name_en: Laixi, parent: \"370200\"}\n",
       "identifiers.division_file_parent", 3, "divisions[1].parent"},
      {"divisions:\n  - {code: \"370000\", name: 山东省, name_en: Shandong}\n"
       "  - {code: \"320000\", name: 江苏省, name_en: Jiangsu}\n"
       "  - {code: \"370200\", name: 青岛市, name_en: Qingdao, parent: \"320000\"}\n",
       "identifiers.division_file_parent", 4, "divisions[2].parent"},
      {"divisions:\n  - {code: \"370000\", name: 山东省, name_en: Shandong\n",
       "identifiers.division_file_syntax", 0, ""},
  };
  ScratchDirectory directory;
  for (const BadDivisionFile& bad : cases) {
    const std::filesystem::path file = directory.write("divisions.yaml", bad.text);
    const Result<DivisionCodes> loaded = DivisionCodes::load(file);
    ASSERT_FALSE(loaded.ok()) << bad.text;
    const Error& error = loaded.error();
    EXPECT_EQ(error.code, bad.code) << error.message;
    EXPECT_EQ(error.details["file"], file.string());
    EXPECT_NE(error.message.find(file.string()), std::string::npos) << error.message;
    if (bad.line > 0) {
      EXPECT_EQ(error.details["line"], bad.line) << error.message;
      EXPECT_NE(error.message.find(":" + std::to_string(bad.line) + ":"), std::string::npos)
          << error.message;
      EXPECT_EQ(error.details["field"], bad.field) << error.message;
      EXPECT_NE(error.message.find(bad.field), std::string::npos) << error.message;
    }
  }
}

TEST(DivisionCodesLoadTest, MissingFileIsNotFound) {
  ScratchDirectory directory;
  const Result<DivisionCodes> loaded = DivisionCodes::load(directory.path() / "none.yaml");
  ASSERT_FALSE(loaded.ok());
  EXPECT_EQ(loaded.error().code, "identifiers.division_file_unreadable");
  EXPECT_EQ(loaded.error().kind, ErrorKind::not_found);
}

// ---- Platform ids ----

TEST(IdTest, HasPrefixAndTwentySixCharacters) {
  const std::string id = new_id("app");
  EXPECT_EQ(id.size(), 4U + 26U);
  EXPECT_EQ(id.substr(0, 4), "app_");
  EXPECT_TRUE(validate_id(id, "app").ok()) << id;
  EXPECT_TRUE(validate_id(new_id("lic2"), "lic2").ok());
}

TEST(IdTest, StartsWithTheTimeInMilliseconds) {
  const auto before = std::chrono::duration_cast<std::chrono::milliseconds>(
      std::chrono::system_clock::now().time_since_epoch());
  const std::string id = new_id("app");
  const auto after = std::chrono::duration_cast<std::chrono::milliseconds>(
      std::chrono::system_clock::now().time_since_epoch());
  // The first 10 characters are 50 bits: two zero bits, then the 48-bit time.
  const std::string alphabet = "0123456789abcdefghjkmnpqrstvwxyz";
  std::int64_t milliseconds = 0;
  for (char character : id.substr(4, 10)) {
    milliseconds = milliseconds * 32 + static_cast<std::int64_t>(alphabet.find(character));
  }
  EXPECT_GE(milliseconds, before.count());
  EXPECT_LE(milliseconds, after.count() + 1);  // one millisecond may be borrowed
}

TEST(IdTest, SortByCreationWithinOneThread) {
  std::string previous = new_id("app");
  for (int index = 0; index < 100000; ++index) {
    std::string next = new_id("app");
    ASSERT_LT(previous, next);
    previous = std::move(next);
  }
}

TEST(IdTest, UniqueAndOrderedAcrossThreads) {
  constexpr int thread_count = 8;
  constexpr int per_thread = 20000;
  std::vector<std::vector<std::string>> made(thread_count);
  std::vector<std::thread> threads;
  for (int thread = 0; thread < thread_count; ++thread) {
    threads.emplace_back([&made, thread] {
      made[thread].reserve(per_thread);
      for (int index = 0; index < per_thread; ++index) made[thread].push_back(new_id("res"));
    });
  }
  for (std::thread& thread : threads) thread.join();
  std::set<std::string> all;
  for (const std::vector<std::string>& ids : made) {
    EXPECT_TRUE(std::is_sorted(ids.begin(), ids.end()));
    all.insert(ids.begin(), ids.end());
  }
  EXPECT_EQ(all.size(), static_cast<std::size_t>(thread_count * per_thread));
  // An id made after every thread finished sorts after all of them.
  EXPECT_LT(*all.rbegin(), new_id("res"));
}

TEST(IdTest, ValidateRejectsWrongForms) {
  const std::string id = new_id("app");
  const std::string suffix = id.substr(4);
  EXPECT_EQ(validate_id(id, "lic").error().code, "identifiers.id_prefix");
  EXPECT_EQ(validate_id(suffix, "app").error().code, "identifiers.id_prefix");
  EXPECT_EQ(validate_id("app", "app").error().code, "identifiers.id_prefix");
  EXPECT_EQ(validate_id("app-" + suffix, "app").error().code, "identifiers.id_prefix");
  EXPECT_EQ(validate_id("app_" + suffix.substr(1), "app").error().code, "identifiers.id_format");
  EXPECT_EQ(validate_id("app_" + suffix + "0", "app").error().code, "identifiers.id_format");
  std::string upper = "app_" + suffix;
  std::transform(upper.begin() + 4, upper.end(), upper.begin() + 4, [](char c) {
    return static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  });
  if (upper != id) {
    EXPECT_EQ(validate_id(upper, "app").error().code, "identifiers.id_format");
  }
  EXPECT_EQ(validate_id("app_" + suffix.substr(0, 25) + "u", "app").error().code,
            "identifiers.id_format");  // u is not Crockford base32
  EXPECT_EQ(validate_id("app_8" + suffix.substr(1), "app").error().code,
            "identifiers.id_format");  // over 128 bits
  const Status status = validate_id("x", "app", "application_id");
  EXPECT_EQ(status.error().details["field"], "application_id");
}

// ---- Redaction ----

TEST(RedactTest, MasksCitizenIdNumbersInASentence) {
  EXPECT_EQ(redact_identifiers("applicant 370202199001011234 submitted"),
            "applicant 370202********1234 submitted");
  EXPECT_EQ(redact_identifiers("申请人身份证号370202199001011234已核验。"),
            "申请人身份证号370202********1234已核验。");
  EXPECT_EQ(redact_identifiers("id=44011320141005001x,other=34052419800101001X"),
            "id=440113********001x,other=340524********001X");
  EXPECT_EQ(redact_identifiers("370202199001011234"), "370202********1234");
  EXPECT_EQ(redact_identifiers("{\"id\":\"360426199101010071\"}"),
            "{\"id\":\"360426********0071\"}");
  EXPECT_EQ(redact_identifiers("person_370202199001011234"), "person_370202********1234");
}

TEST(RedactTest, LeavesOtherTextAlone) {
  for (const char* text : {
           "",
           "nothing to hide",
           "3702021990010112345",      // 19 digits
           "37020219900101123456789",  // longer
           "37020219900101123",        // 17 digits
           "A370202199001011234",      // part of a longer alphanumeric run
           "370202199001011234B",
           "37020219900101123Y",        // not a check character
           "order 91110000600037341L",  // a credit code
           "app_01jd3r7w4q8x9k2m5n6p7q8r9s",
       }) {
    EXPECT_EQ(redact_identifiers(text), text);
  }
}

}  // namespace
}  // namespace onewindow
