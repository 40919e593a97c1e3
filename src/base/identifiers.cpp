#include "base/identifiers.h"

#include "base/config.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cassert>
#include <cstdint>
#include <fstream>
#include <mutex>
#include <random>
#include <sstream>

namespace onewindow {
namespace {

bool is_digit(char character) { return character >= '0' && character <= '9'; }

bool is_ascii_letter_or_digit(char character) {
  return is_digit(character) || (character >= 'a' && character <= 'z') ||
         (character >= 'A' && character <= 'Z');
}

bool all_digits(std::string_view text) {
  for (char character : text) {
    if (!is_digit(character)) return false;
  }
  return true;
}

// The province-level codes of GB/T 2260 (first two digits of a division code). Fixed in code
// rather than read from divisions.yaml so that ID checks need no loaded table; the set is stable
// (the last additions were Chongqing, Hong Kong and Macao, in 1997 and 1999).
constexpr std::array<bool, 100> make_province_table() {
  std::array<bool, 100> table{};
  for (int code : {11, 12, 13, 14, 15, 21, 22, 23, 31, 32, 33, 34, 35, 36, 37, 41, 42,
                   43, 44, 45, 46, 50, 51, 52, 53, 54, 61, 62, 63, 64, 65, 71, 81, 82}) {
    table[static_cast<std::size_t>(code)] = true;
  }
  return table;
}
constexpr std::array<bool, 100> province_table = make_province_table();

// Precondition: the first two characters are digits.
bool has_known_province(std::string_view division_code) {
  return province_table[static_cast<std::size_t>((division_code[0] - '0') * 10 +
                                                 (division_code[1] - '0'))];
}

Error invalid(const char* code, std::string_view field, std::string message) {
  return Error::invalid(code, std::string(field), std::string(field) + " " + message);
}

// ---- Citizen ID number ----

constexpr std::array<int, 17> citizen_id_weights = {7, 9, 10, 5,  8, 4, 2, 1, 6,
                                                    3, 7, 9,  10, 5, 8, 4, 2};
constexpr std::string_view citizen_id_check_characters = "10X98765432";

// Precondition: the first 17 characters are digits.
char compute_citizen_id_check(std::string_view text) {
  int sum = 0;
  for (std::size_t index = 0; index < citizen_id_weights.size(); ++index) {
    sum += (text[index] - '0') * citizen_id_weights[index];
  }
  return citizen_id_check_characters[static_cast<std::size_t>(sum % 11)];
}

// Length and characters: the shape shared by parsing and by computing the check character.
Status check_citizen_id_shape(std::string_view text, std::size_t expected_length,
                              std::string_view field) {
  if (text.size() != expected_length) {
    return invalid("identifiers.citizen_id_length", field,
                   "must be " + std::to_string(expected_length) + " characters, not " +
                       std::to_string(text.size()));
  }
  if (!all_digits(text.substr(0, 17))) {
    return invalid("identifiers.citizen_id_characters", field,
                   "must be 17 digits followed by a digit or X");
  }
  if (expected_length == CitizenId::length) {
    const char last = text[17];
    if (!is_digit(last) && last != 'X' && last != 'x') {
      return invalid("identifiers.citizen_id_characters", field, "must end with a digit or X");
    }
  }
  return ok_status();
}

// ---- Unified social credit code ----

constexpr std::string_view credit_code_alphabet = "0123456789ABCDEFGHJKLMNPQRTUWXY";
constexpr std::array<int, 17> credit_code_weights = {1,  3,  9,  27, 19, 26, 16, 17, 20,
                                                     29, 25, 13, 8,  24, 10, 30, 28};
constexpr std::array<int, 8> organization_code_weights = {3, 7, 9, 10, 5, 8, 4, 2};

constexpr std::array<std::int8_t, 256> make_credit_code_values() {
  std::array<std::int8_t, 256> values{};
  for (auto& value : values) value = -1;
  for (std::size_t index = 0; index < credit_code_alphabet.size(); ++index) {
    values[static_cast<unsigned char>(credit_code_alphabet[index])] =
        static_cast<std::int8_t>(index);
  }
  return values;
}
constexpr std::array<std::int8_t, 256> credit_code_values = make_credit_code_values();

int credit_code_value(char character) {
  return credit_code_values[static_cast<unsigned char>(character)];
}

// GB 11714 values: 0-9, then A-Z as 10-35; -1 for anything else.
int organization_code_value(char character) {
  if (is_digit(character)) return character - '0';
  if (character >= 'A' && character <= 'Z') return character - 'A' + 10;
  return -1;
}

// Precondition: the first 17 characters are in the alphabet.
char compute_credit_code_check(std::string_view text) {
  int sum = 0;
  for (std::size_t index = 0; index < credit_code_weights.size(); ++index) {
    sum += credit_code_value(text[index]) * credit_code_weights[index];
  }
  return credit_code_alphabet[static_cast<std::size_t>((31 - sum % 31) % 31)];
}

// Precondition: the first 8 characters have organization code values.
char compute_organization_code_check(std::string_view text) {
  int sum = 0;
  for (std::size_t index = 0; index < organization_code_weights.size(); ++index) {
    sum += organization_code_value(text[index]) * organization_code_weights[index];
  }
  const int check = 11 - sum % 11;
  if (check == 10) return 'X';
  if (check == 11) return '0';
  return static_cast<char>('0' + check);
}

Status check_credit_code_shape(std::string_view text, std::size_t expected_length,
                               std::string_view field) {
  if (text.size() != expected_length) {
    return invalid("identifiers.unified_social_credit_code_length", field,
                   "must be " + std::to_string(expected_length) + " characters, not " +
                       std::to_string(text.size()));
  }
  for (std::size_t index = 0; index < text.size(); ++index) {
    if (credit_code_value(text[index]) < 0) {
      return invalid("identifiers.unified_social_credit_code_characters", field,
                     "may hold only digits and upper-case letters other than I, O, S, V and Z, "
                     "not the character at position " +
                         std::to_string(index + 1));
    }
  }
  return ok_status();
}

// ---- Loading YAML files ----

// An error in a data file, worded "file:line: field: problem" like a compiler's, so that an
// operator can jump to it. `line` is 1-based; 0 when unknown.
Error file_error(const char* code, const std::filesystem::path& file, int line,
                 const std::string& field, const std::string& problem) {
  return config_error(code, file.string(), line, field, problem);
}


Result<std::string> read_text_file(const std::filesystem::path& file, const char* code) {
  std::ifstream stream(file, std::ios::binary);
  if (!stream) {
    return Error(std::filesystem::exists(file) ? ErrorKind::unavailable : ErrorKind::not_found,
                 code, file.string() + ": cannot be read", nlohmann::json{{"file", file.string()}});
  }
  std::ostringstream text;
  text << stream.rdbuf();
  return text.str();
}

constexpr const char* division_field_code = "identifiers.division_file_field";

Result<std::string> required_string(const YAML::Node& map, const char* key,
                                    const std::filesystem::path& file, const std::string& path) {
  const YAML::Node value = map[key];
  if (!value) {
    return file_error(division_field_code, file, config_line(map), path + "." + key, "is missing");
  }
  if (!value.IsScalar() || value.Scalar().empty()) {
    return file_error(division_field_code, file, config_line(value), path + "." + key,
                      "must be a non-empty string");
  }
  return value.Scalar();
}

DivisionLevel level_of(std::string_view code) {
  if (code.substr(2) == "0000") return DivisionLevel::province;
  if (code.substr(4) == "00") return DivisionLevel::prefecture;
  return DivisionLevel::county;
}

// The divisions of the file, sorted by code, every parent checked.
Result<std::vector<Division>> read_divisions(const YAML::Node& root,
                                             const std::filesystem::path& file) {
  if (!root.IsMap()) {
    return file_error(division_field_code, file, config_line(root), "",
                      "must be a mapping with the key divisions");
  }
  for (const auto& entry : root) {
    if (entry.first.Scalar() != "divisions") {
      return file_error(division_field_code, file, config_line(entry.first), entry.first.Scalar(),
                        "is not a known key (divisions)");
    }
  }
  const YAML::Node list = root["divisions"];
  if (!list || !list.IsSequence()) {
    return file_error(division_field_code, file, config_line(list ? list : root), "divisions",
                      "must be a list of divisions");
  }

  struct Entry {
    Division division;
    int line = 0;
    std::string path;
  };
  std::vector<Entry> entries;
  entries.reserve(list.size());
  for (std::size_t index = 0; index < list.size(); ++index) {
    const YAML::Node item = list[index];
    const std::string path = "divisions[" + std::to_string(index) + "]";
    if (!item.IsMap()) {
      return file_error(division_field_code, file, config_line(item), path,
                        "must be a mapping with code, name, name_en and, below a province, "
                        "parent");
    }
    for (const auto& key : item) {
      const std::string& name = key.first.Scalar();
      if (name != "code" && name != "name" && name != "name_en" && name != "parent") {
        return file_error(division_field_code, file, config_line(key.first), path + "." + name,
                          "is not a known key (code, name, name_en, parent)");
      }
    }
    Entry entry;
    entry.line = config_line(item);
    entry.path = path;
    Result<std::string> code = required_string(item, "code", file, path);
    if (!code.ok()) return code.take_error();
    if (code->size() != 6 || !all_digits(*code) || !has_known_province(*code)) {
      return file_error(division_field_code, file, config_line(item["code"]), path + ".code",
                        "must be 6 digits beginning with a province code");
    }
    entry.division.code = std::move(*code);
    entry.division.level = level_of(entry.division.code);
    Result<std::string> name = required_string(item, "name", file, path);
    if (!name.ok()) return name.take_error();
    entry.division.name = std::move(*name);
    Result<std::string> english_name = required_string(item, "name_en", file, path);
    if (!english_name.ok()) return english_name.take_error();
    entry.division.english_name = std::move(*english_name);
    if (entry.division.level == DivisionLevel::province) {
      if (item["parent"]) {
        return file_error("identifiers.division_file_parent", file, config_line(item["parent"]),
                          path + ".parent", "a province has no parent");
      }
    } else {
      Result<std::string> parent = required_string(item, "parent", file, path);
      if (!parent.ok()) return parent.take_error();
      entry.division.parent_code = std::move(*parent);
    }
    entries.push_back(std::move(entry));
  }

  std::stable_sort(entries.begin(), entries.end(), [](const Entry& left, const Entry& right) {
    return left.division.code < right.division.code;
  });
  for (std::size_t index = 1; index < entries.size(); ++index) {
    if (entries[index].division.code == entries[index - 1].division.code) {
      return file_error("identifiers.division_file_duplicate", file, entries[index].line,
                        entries[index].path + ".code",
                        entries[index].division.code + " is listed twice (also at line " +
                            std::to_string(entries[index - 1].line) + ")");
    }
  }

  for (const Entry& entry : entries) {
    const Division& division = entry.division;
    if (division.level == DivisionLevel::province) continue;
    const auto found = std::lower_bound(entries.begin(), entries.end(), division.parent_code,
                                        [](const Entry& candidate, const std::string& wanted) {
                                          return candidate.division.code < wanted;
                                        });
    const Division* parent = found != entries.end() && found->division.code == division.parent_code
                                 ? &found->division
                                 : nullptr;
    // A prefecture sits under its province; a county under its prefecture, or directly under
    // its province (county-level cities administered by the province).
    const std::size_t shared_digits = parent == nullptr                          ? 0
                                      : parent->level == DivisionLevel::province ? 2
                                                                                 : 4;
    const bool fits = parent != nullptr && parent->level < division.level &&
                      division.code.compare(0, shared_digits, parent->code, 0, shared_digits) == 0;
    if (!fits) {
      return file_error(
          "identifiers.division_file_parent", file, entry.line, entry.path + ".parent",
          division.parent_code + " is not in the file or cannot be the parent of " + division.code);
    }
  }
  std::vector<Division> divisions;
  divisions.reserve(entries.size());
  for (Entry& entry : entries) divisions.push_back(std::move(entry.division));
  return divisions;
}

// ---- Platform ids ----

constexpr std::string_view crockford_alphabet = "0123456789abcdefghjkmnpqrstvwxyz";
constexpr std::size_t id_suffix_length = 26;

constexpr std::array<std::int8_t, 256> make_crockford_values() {
  std::array<std::int8_t, 256> values{};
  for (auto& value : values) value = -1;
  for (std::size_t index = 0; index < crockford_alphabet.size(); ++index) {
    values[static_cast<unsigned char>(crockford_alphabet[index])] = static_cast<std::int8_t>(index);
  }
  return values;
}
constexpr std::array<std::int8_t, 256> crockford_values = make_crockford_values();

// 128 bits: 48 bits of milliseconds, then 80 random bits.
struct IdBits {
  std::uint64_t high = 0;  // milliseconds << 16 | the top 16 random bits
  std::uint64_t low = 0;   // the low 64 random bits
};

// Hands out strictly increasing IdBits in this process.
class IdGenerator {
 public:
  IdBits next() {
    const auto now = std::chrono::duration_cast<std::chrono::milliseconds>(
        std::chrono::system_clock::now().time_since_epoch());
    const std::uint64_t milliseconds =
        static_cast<std::uint64_t>(now.count()) & ((std::uint64_t{1} << 48) - 1);
    std::lock_guard lock(mutex_);
    if (milliseconds > milliseconds_) {
      milliseconds_ = milliseconds;
      draw_random();
    } else if (++random_low_ == 0 && ++random_high_ == 0) {
      // The 80 random bits ran over within one millisecond (or while the system clock stood
      // behind): borrow the next millisecond.
      ++milliseconds_;
      draw_random();
    }
    return IdBits{(milliseconds_ << 16) | random_high_, random_low_};
  }

 private:
  void draw_random() {
    random_high_ = static_cast<std::uint16_t>(device_());
    random_low_ = (static_cast<std::uint64_t>(device_()) << 32) | device_();
  }

  std::mutex mutex_;
  std::random_device device_;
  std::uint64_t milliseconds_ = 0;
  std::uint16_t random_high_ = 0;
  std::uint64_t random_low_ = 0;
};

// The 5 bits at `shift` (counted from the least significant bit) of the 128-bit value.
unsigned five_bits(const IdBits& bits, unsigned shift) {
  if (shift >= 64) return static_cast<unsigned>(bits.high >> (shift - 64)) & 31U;
  std::uint64_t value = bits.low >> shift;
  if (shift > 59) value |= bits.high << (64 - shift);
  return static_cast<unsigned>(value) & 31U;
}

[[maybe_unused]] bool is_valid_prefix(std::string_view prefix) {
  if (prefix.empty() || prefix.size() > 16 || prefix[0] < 'a' || prefix[0] > 'z') return false;
  for (char character : prefix) {
    if (!is_digit(character) && (character < 'a' || character > 'z')) return false;
  }
  return true;
}

}  // namespace

// ---- Citizen ID number ----

Result<CitizenId> CitizenId::parse(std::string_view text, Date today, std::string_view field) {
  ONEWINDOW_TRY(check_citizen_id_shape(text, length, field));
  const char check = text[17] == 'x' ? 'X' : text[17];
  if (compute_citizen_id_check(text) != check) {
    return invalid("identifiers.citizen_id_check", field,
                   "has a check character that does not match: a character is mistyped");
  }
  if (!has_known_province(text)) {
    return invalid("identifiers.citizen_id_division", field,
                   "does not begin with the code of a province (GB/T 2260)");
  }
  const auto digits = [&](std::size_t position, std::size_t count) {
    int value = 0;
    for (std::size_t index = position; index < position + count; ++index) {
      value = value * 10 + (text[index] - '0');
    }
    return value;
  };
  Result<Date> birth_date = Date::from_calendar(digits(6, 4), digits(10, 2), digits(12, 2), field);
  if (!birth_date.ok()) {
    return invalid("identifiers.citizen_id_birth_date", field,
                   "holds a birth date that is not a real date");
  }
  if (*birth_date > today) {
    return invalid("identifiers.citizen_id_birth_date_future", field,
                   "holds a birth date after today");
  }
  CitizenId id;
  std::copy(text.begin(), text.end(), id.characters_.begin());
  id.characters_[17] = check;
  id.birth_date_ = *birth_date;
  return id;
}

Sex CitizenId::sex() const { return (characters_[16] - '0') % 2 == 1 ? Sex::male : Sex::female; }

Status validate_citizen_id(std::string_view text, Date today, std::string_view field) {
  Result<CitizenId> id = CitizenId::parse(text, today, field);
  if (!id.ok()) return id.take_error();
  return ok_status();
}

std::string normalise_citizen_id(std::string_view text) {
  std::string normal(text);
  if (normal.size() == CitizenId::length && normal.back() == 'x') normal.back() = 'X';
  return normal;
}

Result<char> citizen_id_check_character(std::string_view first_seventeen) {
  ONEWINDOW_TRY(check_citizen_id_shape(first_seventeen, 17, "citizen_id"));
  return compute_citizen_id_check(first_seventeen);
}

// ---- Unified social credit code ----

Status validate_unified_social_credit_code(std::string_view text, std::string_view field) {
  ONEWINDOW_TRY(check_credit_code_shape(text, 18, field));
  if (compute_credit_code_check(text) != text[17]) {
    return invalid("identifiers.unified_social_credit_code_check", field,
                   "has a check character that does not match: a character is mistyped");
  }
  const std::string_view division = text.substr(2, 6);
  if (!all_digits(division) || !has_known_province(division)) {
    return invalid("identifiers.unified_social_credit_code_division", field,
                   "must hold at positions 3-8 a division code beginning with a province");
  }
  if (compute_organization_code_check(text.substr(8, 8)) != text[16]) {
    return invalid("identifiers.unified_social_credit_code_organization_code", field,
                   "holds an organization code (positions 9-17) whose check character does "
                   "not match");
  }
  return ok_status();
}

std::string normalise_unified_social_credit_code(std::string_view text) {
  std::string normal(text);
  for (char& character : normal) {
    if (character >= 'a' && character <= 'z') character = static_cast<char>(character - 'a' + 'A');
  }
  return normal;
}

Result<char> unified_social_credit_code_check_character(std::string_view first_seventeen) {
  ONEWINDOW_TRY(check_credit_code_shape(first_seventeen, 17, "unified_social_credit_code"));
  return compute_credit_code_check(first_seventeen);
}

Result<char> organization_code_check_character(std::string_view first_eight) {
  if (first_eight.size() != 8) {
    return invalid("identifiers.organization_code_length", "organization_code",
                   "must be 8 characters, not " + std::to_string(first_eight.size()));
  }
  for (char character : first_eight) {
    if (organization_code_value(character) < 0) {
      return invalid("identifiers.organization_code_characters", "organization_code",
                     "must be digits and upper-case letters");
    }
  }
  return compute_organization_code_check(first_eight);
}

// ---- ISO/IEC 7064 MOD 37,36 ----

namespace {

constexpr std::string_view mod37_36_alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ";

int mod37_36_value(char character) {
  if (is_digit(character)) return character - '0';
  if (character >= 'A' && character <= 'Z') return character - 'A' + 10;
  return -1;
}

}  // namespace

Result<char> mod37_36_check_character(std::string_view text, std::string_view field) {
  if (text.empty()) return invalid("identifiers.mod37_36_length", field, "must not be empty");
  int product = 36;
  for (std::size_t index = 0; index < text.size(); ++index) {
    int value = mod37_36_value(text[index]);
    if (value < 0) {
      return invalid("identifiers.mod37_36_characters", field,
                     "may hold only digits and upper-case letters, not the character at position " +
                         std::to_string(index + 1));
    }
    int sum = (product + value) % 36;
    if (sum == 0) sum = 36;
    product = (2 * sum) % 37;
  }
  return mod37_36_alphabet[static_cast<std::size_t>((37 - product) % 36)];
}

bool mod37_36_valid(std::string_view text_with_check) {
  if (text_with_check.size() < 2) return false;
  auto check = mod37_36_check_character(text_with_check.substr(0, text_with_check.size() - 1));
  return check.ok() && *check == text_with_check.back();
}

// ---- Division codes ----

Result<DivisionCodes> DivisionCodes::load(const std::filesystem::path& file) {
  Result<std::string> text = read_text_file(file, "identifiers.division_file_unreadable");
  if (!text.ok()) return text.take_error();

  // yaml-cpp reports problems by exception; none may leave this function.
  try {
    Result<std::vector<Division>> divisions = read_divisions(YAML::Load(*text), file);
    if (!divisions.ok()) return divisions.take_error();
    DivisionCodes table;
    table.divisions_ = std::move(*divisions);
    return table;
  } catch (const YAML::Exception& exception) {
    return file_error("identifiers.division_file_syntax", file, exception.mark.line + 1, "",
                      exception.msg);
  }
}

const Division* DivisionCodes::find(std::string_view code) const {
  const auto found = std::lower_bound(
      divisions_.begin(), divisions_.end(), code,
      [](const Division& division, std::string_view wanted) { return division.code < wanted; });
  if (found == divisions_.end() || found->code != code) return nullptr;
  return &*found;
}

const Division* DivisionCodes::parent(std::string_view code) const {
  const Division* division = find(code);
  if (division == nullptr || division->parent_code.empty()) return nullptr;
  return find(division->parent_code);
}

std::vector<const Division*> DivisionCodes::children(std::string_view code) const {
  std::vector<const Division*> found;
  for (const Division& division : divisions_) {
    if (division.parent_code == code) found.push_back(&division);
  }
  return found;
}

Status DivisionCodes::validate(std::string_view code, std::string_view field) const {
  if (code.size() != 6 || !all_digits(code)) {
    return invalid("identifiers.division_format", field, "must be a division code of 6 digits");
  }
  if (find(code) == nullptr) {
    return Error::invalid(
        "identifiers.division_unknown", std::string(field),
        std::string(field) + " " + std::string(code) + " is not a known division code");
  }
  return ok_status();
}

// ---- Platform ids ----

std::string new_id(std::string_view prefix) {
  assert(is_valid_prefix(prefix));
  static IdGenerator generator;
  const IdBits bits = generator.next();
  std::string id;
  id.reserve(prefix.size() + 1 + id_suffix_length);
  id.append(prefix);
  id.push_back('_');
  for (unsigned index = 0; index < id_suffix_length; ++index) {
    id.push_back(crockford_alphabet[five_bits(bits, 125 - 5 * index)]);
  }
  return id;
}

Status validate_id(std::string_view id, std::string_view prefix, std::string_view field) {
  if (id.size() <= prefix.size() || id.substr(0, prefix.size()) != prefix ||
      id[prefix.size()] != '_') {
    return invalid("identifiers.id_prefix", field, "must begin with " + std::string(prefix) + "_");
  }
  const std::string_view suffix = id.substr(prefix.size() + 1);
  bool well_formed = suffix.size() == id_suffix_length &&
                     // 26 characters hold 130 bits; the top two are zero.
                     crockford_values[static_cast<unsigned char>(suffix[0])] >= 0 &&
                     crockford_values[static_cast<unsigned char>(suffix[0])] < 8;
  for (std::size_t index = 1; well_formed && index < suffix.size(); ++index) {
    well_formed = crockford_values[static_cast<unsigned char>(suffix[index])] >= 0;
  }
  if (!well_formed) {
    return invalid("identifiers.id_format", field,
                   "must be " + std::string(prefix) +
                       "_ followed by 26 lower-case Crockford base32 characters");
  }
  return ok_status();
}

// ---- Logs ----

std::string redact_identifiers(std::string_view text) {
  std::string redacted;
  redacted.reserve(text.size());
  std::size_t position = 0;
  while (position < text.size()) {
    if (!is_ascii_letter_or_digit(text[position])) {
      redacted.push_back(text[position++]);
      continue;
    }
    std::size_t end = position;
    while (end < text.size() && is_ascii_letter_or_digit(text[end])) ++end;
    const std::string_view run = text.substr(position, end - position);
    const bool looks_like_citizen_id = run.size() == CitizenId::length &&
                                       all_digits(run.substr(0, 17)) &&
                                       (is_digit(run[17]) || run[17] == 'X' || run[17] == 'x');
    if (looks_like_citizen_id) {
      redacted.append(run.substr(0, 6));
      redacted.append(8, '*');
      redacted.append(run.substr(14));
    } else {
      redacted.append(run);
    }
    position = end;
  }
  return redacted;
}

}  // namespace onewindow
