// Fuzz target: the validators of base/identifiers.h: citizen ID numbers, unified social credit
// codes with their organization codes, MOD 37,36 check characters, platform ids, division codes,
// dates, and redact_identifiers.
//
// Contract checked: each validator gives ok or an Error with an identifiers.* (or clock.*) code
// for any bytes, never crashing, leaking or reaching undefined behaviour; and the parts agree
// with each other: a number completed with the check character a function computes passes that
// check, and redacting text leaves no 18-character ID number in it.
#include "base/clock.h"
#include "base/identifiers.h"

#include <cctype>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

namespace {
using namespace onewindow;

const DivisionCodes& divisions() {
  static const DivisionCodes loaded = [] {
    auto result = DivisionCodes::load(std::string(ONEWINDOW_FUZZ_CONFIG_DIR) + "/divisions.yaml");
    if (!result.ok()) std::abort();  // the fuzz build's config/ is broken, not a validator
    return std::move(result).value();
  }();
  return loaded;
}

void expect_code(const Status& status, std::string_view prefix) {
  if (!status.ok() && status.error().code.rfind(prefix, 0) != 0) __builtin_trap();
}

bool is_digit(char c) { return c >= '0' && c <= '9'; }
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  const Date today(2026, 12, 1);

  // Citizen ID numbers.
  expect_code(validate_citizen_id(text, today), "identifiers.");
  auto citizen = CitizenId::parse(normalise_citizen_id(text), today);
  if (citizen.ok()) {
    (void)citizen->sex();
    if (citizen->birth_date() > today) __builtin_trap();
    if (citizen->division_code().size() != 6) __builtin_trap();
  }
  if (auto check = citizen_id_check_character(text.substr(0, 17)); check.ok()) {
    std::string completed = std::string(text.substr(0, 17)) + *check;
    auto status = validate_citizen_id(completed, today);
    if (!status.ok() && status.error().code == "identifiers.citizen_id_check") __builtin_trap();
  }

  // Unified social credit codes and the organization code inside them.
  expect_code(validate_unified_social_credit_code(text), "identifiers.");
  expect_code(validate_unified_social_credit_code(normalise_unified_social_credit_code(text)), "identifiers.");
  if (auto check = unified_social_credit_code_check_character(text.substr(0, 17)); check.ok()) {
    std::string completed = std::string(text.substr(0, 17)) + *check;
    auto status = validate_unified_social_credit_code(completed);
    if (!status.ok() && status.error().code == "identifiers.unified_social_credit_code_check") __builtin_trap();
  }
  (void)organization_code_check_character(text.substr(0, 8));

  // ISO/IEC 7064 MOD 37,36.
  if (auto check = mod37_36_check_character(text); check.ok()) {
    if (!mod37_36_valid(std::string(text) + *check)) __builtin_trap();
  }
  (void)mod37_36_valid(text);

  // Platform ids, divisions, dates.
  expect_code(validate_id(text, "app"), "identifiers.");
  expect_code(divisions().validate(text), "identifiers.");
  if (auto date = Date::parse(text); date.ok()) {
    if (Date::parse(date->to_string()).value() != *date) __builtin_trap();
  }

  // Redaction: no run of 17 digits then a digit or X, standing alone, survives it.
  std::string redacted = redact_identifiers(text);
  for (std::size_t start = 0; start + 18 <= redacted.size(); ++start) {
    bool digits = true;
    for (std::size_t i = start; i < start + 17 && digits; ++i) digits = is_digit(redacted[i]);
    char last = redacted[start + 17];
    if (!digits || !(is_digit(last) || last == 'X' || last == 'x')) continue;
    auto alphanumeric = [](char c) { return std::isalnum(static_cast<unsigned char>(c)) != 0; };
    bool alone = (start == 0 || !alphanumeric(redacted[start - 1])) &&
                 (start + 18 == redacted.size() || !alphanumeric(redacted[start + 18]));
    if (alone) __builtin_trap();
  }
  return 0;
}
