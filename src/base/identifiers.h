// Identifiers: the national codes that name persons, organisations and places, and the
// platform's own ids.
//
// - Citizen ID number (公民身份号码, GB 11643-1999): CitizenId, validate_citizen_id().
// - Unified social credit code (统一社会信用代码, GB 32100-2015), with the organization code
//   (GB 11714-1997) embedded in it: validate_unified_social_credit_code().
// - Division codes (行政区划代码, GB/T 2260): DivisionCodes, a table loaded from
//   config/divisions.yaml.
// - ISO/IEC 7064 MOD 37,36 check characters (electronic license identifiers, license/):
//   mod37_36_check_character().
// - Platform ids: new_id("app") gives "app_01jd3r7w4q..." ids that sort by creation.
// - redact_identifiers(): masks citizen ID numbers in text bound for logs.
//
// Personal ID numbers must never reach logs: no error message here contains the number, or any
// part of it, that was checked.
//
// Every failure is an Error::invalid with a stable code ("identifiers.citizen_id_check", ...) and
// the field named by the caller.
//
// Thread safety: every function may be called from several threads at once. A DivisionCodes is
// immutable once loaded; its const methods may be called concurrently.
#pragma once

#include <array>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "base/clock.h"
#include "base/result.h"

namespace onewindow {

// ---- Citizen ID number ----------------------------------------------------------------------

enum class Sex { female, male };

// A citizen ID number that passed every check: 6-digit division code, birth date YYYYMMDD,
// 3-digit sequence (odd for men, even for women), check character (ISO 7064 MOD 11-2).
class CitizenId {
 public:
  static constexpr std::size_t length = 18;

  // Checks, in this order, each failure with its own code:
  //   identifiers.citizen_id_length              not 18 characters
  //   identifiers.citizen_id_characters          not 17 digits then a digit or X (x is read as X)
  //   identifiers.citizen_id_check               the check character does not match
  //   identifiers.citizen_id_division            the first two digits are no GB/T 2260 province
  //   identifiers.citizen_id_birth_date          the birth date is not a real date
  //   identifiers.citizen_id_birth_date_future   the birth date is after `today`
  // `today` is the date in China Standard Time (Clock::today()).
  static Result<CitizenId> parse(std::string_view text, Date today,
                                 std::string_view field = "citizen_id");

  // The 18 characters, with a final x upper-cased.
  std::string_view text() const { return std::string_view(characters_.data(), length); }
  // The division code of the place of first registration (6 digits).
  std::string_view division_code() const { return text().substr(0, 6); }
  Date birth_date() const { return birth_date_; }
  // From the parity of the 3-digit sequence: odd for men, even for women.
  Sex sex() const;

 private:
  CitizenId() = default;
  std::array<char, length> characters_{};
  Date birth_date_;
};

// The checks of CitizenId::parse, without keeping the result.
Status validate_citizen_id(std::string_view text, Date today,
                           std::string_view field = "citizen_id");

// The stored form of a citizen ID number: a final lower-case x becomes X. Anything else is left
// as it is, for validation to report.
std::string normalise_citizen_id(std::string_view text);

// The check character ('0'-'9' or 'X') of the 17 digits that precede it; for making test and
// demo data. Errors: identifiers.citizen_id_length, identifiers.citizen_id_characters.
Result<char> citizen_id_check_character(std::string_view first_seventeen);

// ---- Unified social credit code ---------------------------------------------------------------

// Position 1 registering authority, 2 entity type, 3-8 division code, 9-17 organization code
// (GB 11714, with its own check character at 17), 18 check character. Upper-case letters only
// (see normalise_unified_social_credit_code). Each failure with its own code:
//   identifiers.unified_social_credit_code_length             not 18 characters
//   identifiers.unified_social_credit_code_characters         a character outside
//                                                             0-9 A-H J-N P-R T U W-Y
//   identifiers.unified_social_credit_code_check              the 18th character does not match
//   identifiers.unified_social_credit_code_division           positions 3-8 are not 6 digits
//                                                             beginning with a province
//   identifiers.unified_social_credit_code_organization_code  the 17th character does not match
//                                                             the organization code's check
// Real registries hold a few historical codes that fail these checks; callers that must accept
// them keep an operator-managed exception list and consult it before calling this.
Status validate_unified_social_credit_code(std::string_view text,
                                           std::string_view field = "unified_social_credit_code");

// Upper-cases ASCII letters, so that a code typed in lower case can be validated and stored.
std::string normalise_unified_social_credit_code(std::string_view text);

// The 18th character of a code whose first 17 characters are given (GB 32100: weights
// 1 3 9 27 ... 28, check = alphabet[(31 - S mod 31) mod 31]). Errors:
// identifiers.unified_social_credit_code_length, identifiers.unified_social_credit_code_characters.
// To make a valid code for demo data: take 8 characters (authority, type, division), 8 body
// characters, append organization_code_check_character(body), then this function's character.
Result<char> unified_social_credit_code_check_character(std::string_view first_seventeen);

// The 9th character of a GB 11714 organization code whose first 8 characters (0-9, A-Z) are
// given: weights 3 7 9 10 5 8 4 2, C9 = 11 - (S mod 11), 10 written X and 11 written 0.
// Errors: identifiers.organization_code_length, identifiers.organization_code_characters.
Result<char> organization_code_check_character(std::string_view first_eight);

// ---- ISO/IEC 7064 MOD 37,36 ------------------------------------------------------------------

// The hybrid system MOD 37,36 of ISO/IEC 7064 over the alphabet 0-9 A-Z (values 0 to 35): one
// check character, itself from the same alphabet, that catches every single substitution and
// all but a few (72 of 45,360) transpositions of neighbours. Starting from P = 36, each
// character of value v gives S = (P + v) mod 36 (36 when that is 0) and then P = 2S mod 37; the
// check character is the one of value (37 - P) mod 36. "A12425GABC1234002" gives 'M' (the
// standard's example). Upper-case letters only: identifiers.mod37_36_characters naming `field`
// for any other character, identifiers.mod37_36_length for empty text.
Result<char> mod37_36_check_character(std::string_view text, std::string_view field = "text");

// Whether the last character of `text` is the MOD 37,36 check character of the ones before it.
bool mod37_36_valid(std::string_view text_with_check);

// ---- Division codes (GB/T 2260) ---------------------------------------------------------------

// Read from the code: "370000" a province, "370200" a prefecture, "370285" a county.
enum class DivisionLevel { province, prefecture, county };

struct Division {
  std::string code;          // 6 digits
  std::string name;          // Chinese: 青岛市
  std::string english_name;  // Qingdao
  std::string parent_code;   // empty for a province
  DivisionLevel level = DivisionLevel::province;
};

// The table of division codes. The file (config/divisions.yaml) reads:
//   divisions:
//     - {code: "370000", name: 山东省, name_en: Shandong Province}
//     - {code: "370200", name: 青岛市, name_en: Qingdao, parent: "370000"}
// Every non-province names its parent, which must be in the file, be of a higher level and share
// the code's leading digits (2 for a province parent, 4 for a prefecture parent).
class DivisionCodes {
 public:
  // Errors name the file, the line (1-based) and the field, in the message and in details
  // {file, line, field}: identifiers.division_file_unreadable, identifiers.division_file_syntax,
  // identifiers.division_file_field (missing, wrong form or unknown key),
  // identifiers.division_file_duplicate, identifiers.division_file_parent.
  static Result<DivisionCodes> load(const std::filesystem::path& file);

  // The division with this code, or nullptr. The pointer lives as long as the table.
  const Division* find(std::string_view code) const;
  // The parent of a known code, or nullptr for a province or an unknown code.
  const Division* parent(std::string_view code) const;
  // The divisions whose parent is `code`, by code.
  std::vector<const Division*> children(std::string_view code) const;
  // identifiers.division_format when `code` is not 6 digits, identifiers.division_unknown when
  // the table has no such code.
  Status validate(std::string_view code, std::string_view field = "division") const;

  // Every division, by code.
  const std::vector<Division>& all() const { return divisions_; }

 private:
  std::vector<Division> divisions_;
};

// ---- Platform ids -----------------------------------------------------------------------------

// A new id: prefix, "_", then 26 characters of lower-case Crockford base32 holding a 48-bit
// Unix time in milliseconds followed by 80 random bits. Ids made later sort after ids made
// earlier (by byte order, as strings), to the millisecond across processes and strictly within
// one process, even within one millisecond or when the system clock steps back.
// Precondition (assert): prefix is 1 to 16 characters, a lower-case letter then lower-case
// letters or digits ("app", "lic", "res").
std::string new_id(std::string_view prefix);

// identifiers.id_prefix when `id` does not start with prefix and "_", identifiers.id_format when
// the rest is not 26 lower-case Crockford base32 characters of a 128-bit value.
Status validate_id(std::string_view id, std::string_view prefix, std::string_view field = "id");

// ---- Logs -------------------------------------------------------------------------------------

// Masks every run that looks like a citizen ID number (17 digits then a digit, X or x, not part
// of a longer run of ASCII letters and digits), keeping the first 6 and the last 4 characters:
// "370202199001011234" becomes "370202********1234". The check character is not verified: a
// mistyped number is as personal as a correct one.
std::string redact_identifiers(std::string_view text);

}  // namespace onewindow
