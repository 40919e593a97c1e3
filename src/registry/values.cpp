// Checking and masking single values by their field definitions.
#include "registry/registry.h"

#include <charconv>
#include <cstdlib>

namespace onewindow::registry {

namespace {

Error invalid(const FieldDefinition& field, std::string code, const std::string& message) {
  return Error::invalid(std::move(code), field.name, field.name + " " + message);
}

// Byte offsets where each UTF-8 character starts: every byte that is not a continuation byte
// (10xxxxxx). A stray continuation byte counts with the character before it, so that malformed
// text is still masked, never split into something longer than it was.
std::vector<std::size_t> character_starts(std::string_view text) {
  std::vector<std::size_t> starts;
  for (std::size_t index = 0; index < text.size(); ++index) {
    if ((static_cast<unsigned char>(text[index]) & 0xC0) != 0x80 || starts.empty()) starts.push_back(index);
  }
  return starts;
}

// How many characters character_starts() would find, without making the list: lengths are
// checked for every string cell of an import.
int character_count(std::string_view text) {
  auto starts = [](char byte) { return (static_cast<unsigned char>(byte) & 0xC0) != 0x80; };
  int count = 0;
  for (char byte : text) count += starts(byte) ? 1 : 0;
  // A stray continuation byte at the very start counts as a character, as there.
  if (!text.empty() && !starts(text[0])) ++count;
  return count;
}

Status check_string(const FieldDefinition& field, std::string_view text) {
  // Counted only for a field with bounds: addresses have none, and are an import's longest cells.
  const int length = field.minimum_length || field.maximum_length ? character_count(text) : 0;
  if (field.minimum_length && length < *field.minimum_length) {
    return invalid(field, "registry.value_length", "must be at least " + std::to_string(*field.minimum_length) + " characters");
  }
  if (field.maximum_length && length > *field.maximum_length) {
    return invalid(field, "registry.value_length", "must be at most " + std::to_string(*field.maximum_length) + " characters");
  }
  if (!field.fixed_pattern.empty()) {
    bool matches = text.size() == field.fixed_pattern.size();
    for (std::size_t at = 0; matches && at < text.size(); ++at) {
      matches = field.fixed_pattern[at].test(static_cast<unsigned char>(text[at]));
    }
    if (!matches) return invalid(field, "registry.value_pattern", "does not have the required form " + field.pattern_text);
  } else if (field.pattern && !std::regex_match(text.begin(), text.end(), *field.pattern)) {
    return invalid(field, "registry.value_pattern", "does not have the required form " + field.pattern_text);
  }
  return ok_status();
}

std::string format_number(double number) {
  nlohmann::json value = number;
  if (number == static_cast<double>(static_cast<long long>(number))) return std::to_string(static_cast<long long>(number));
  return value.dump();
}

Status check_range(const FieldDefinition& field, double number) {
  if (field.minimum && number < *field.minimum) {
    return invalid(field, "registry.value_range", "must be at least " + format_number(*field.minimum));
  }
  if (field.maximum && number > *field.maximum) {
    return invalid(field, "registry.value_range", "must be at most " + format_number(*field.maximum));
  }
  return ok_status();
}

// Digits with an optional fraction and sign: the decimal form that loses nothing on the way
// through JSON (registered capital "1000000.50").
bool is_decimal_text(std::string_view text) {
  std::size_t index = (!text.empty() && text[0] == '-') ? 1 : 0;
  std::size_t digits = 0;
  while (index < text.size() && text[index] >= '0' && text[index] <= '9') ++index, ++digits;
  if (digits == 0) return false;
  if (index == text.size()) return true;
  if (text[index] != '.') return false;
  ++index;
  std::size_t fraction = 0;
  while (index < text.size() && text[index] >= '0' && text[index] <= '9') ++index, ++fraction;
  return fraction > 0 && index == text.size();
}

Status check_date(const FieldDefinition& field, std::string_view text, Date today) {
  auto date = Date::parse(text, field.name);
  if (!date.ok()) return date.take_error();
  if (field.not_in_future && *date > today) return invalid(field, "registry.value_future", "must not be in the future");
  if (field.earliest && *date < *field.earliest) {
    return invalid(field, "registry.value_range", "must not be before " + field.earliest->to_string());
  }
  if (field.latest && *date > *field.latest) {
    return invalid(field, "registry.value_range", "must not be after " + field.latest->to_string());
  }
  return ok_status();
}

// The checks of every type held as JSON text (all but integer and decimal).
Status check_text(const FieldDefinition& field, std::string_view text, Date today, const DivisionCodes& divisions) {
  switch (field.type) {
    case FieldType::string:
      return check_string(field, text);
    case FieldType::date:
      return check_date(field, text, today);
    case FieldType::enumeration:
      if (field.value(text) != nullptr) return ok_status();
      {
        std::string codes;
        for (const auto& candidate : field.values) codes += (codes.empty() ? "" : ", ") + candidate.code;
        return invalid(field, "registry.value_enum", "must be one of " + codes);
      }
    case FieldType::division:
      return divisions.validate(text, field.name);
    case FieldType::citizen_id:
      return validate_citizen_id(text, today, field.name);
    case FieldType::unified_social_credit_code:
      return validate_unified_social_credit_code(text, field.name);
    case FieldType::reference:
      switch (field.target_key_kind) {
        case KeyKind::citizen_id: return validate_citizen_id(text, today, field.name);
        case KeyKind::unified_social_credit_code: return validate_unified_social_credit_code(text, field.name);
        case KeyKind::own_id:
          if (text.empty()) return invalid(field, "registry.value_required", "is required");
          return ok_status();
      }
      break;
    case FieldType::integer:
    case FieldType::decimal:
      break;
  }
  return ok_status();
}

Status check_decimal_text(const FieldDefinition& field, std::string_view text) {
  if (!is_decimal_text(text)) return invalid(field, "registry.value_type", "must be a number, such as 1000000.50");
  return check_range(field, std::strtod(std::string(text).c_str(), nullptr));
}

}  // namespace

std::vector<std::bitset<256>> fixed_length_pattern(std::string_view pattern) {
  auto plain = [](char c) { return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z'); };
  std::vector<std::bitset<256>> positions;
  std::size_t at = 0;
  while (at < pattern.size()) {
    std::bitset<256> accepted;
    if (plain(pattern[at])) {
      accepted.set(static_cast<unsigned char>(pattern[at++]));
    } else if (pattern[at] == '[') {
      ++at;
      while (at < pattern.size() && pattern[at] != ']') {
        char low = pattern[at];
        char high = low;
        if (!plain(low)) return {};
        if (at + 2 < pattern.size() && pattern[at + 1] == '-' && pattern[at + 2] != ']') {
          high = pattern[at + 2];
          if (!plain(high) || high < low) return {};
          at += 3;
        } else {
          at += 1;
        }
        for (int c = static_cast<unsigned char>(low); c <= static_cast<unsigned char>(high); ++c) accepted.set(c);
      }
      if (at == pattern.size() || accepted.none()) return {};
      ++at;  // the ]
    } else {
      return {};
    }
    std::size_t times = 1;
    if (at < pattern.size() && pattern[at] == '{') {
      std::size_t close = pattern.find('}', at);
      if (close == std::string_view::npos) return {};
      auto [end, error] = std::from_chars(pattern.data() + at + 1, pattern.data() + close, times);
      if (error != std::errc() || end != pattern.data() + close || times < 1 || times > 1000) return {};
      at = close + 1;
    }
    positions.insert(positions.end(), times, accepted);
  }
  return positions;
}

Status validate_value(const FieldDefinition& field, const nlohmann::json& value, Date today,
                      const DivisionCodes& divisions) {
  if (value.is_null()) {
    return field.required ? invalid(field, "registry.value_required", "is required") : ok_status();
  }
  switch (field.type) {
    case FieldType::integer:
      if (!value.is_number_integer()) return invalid(field, "registry.value_type", "must be a whole number");
      return check_range(field, value.is_number_unsigned() ? static_cast<double>(value.get<std::uint64_t>())
                                                           : static_cast<double>(value.get<std::int64_t>()));
    case FieldType::decimal:
      if (value.is_number()) return check_range(field, value.get<double>());
      if (value.is_string()) return check_decimal_text(field, value.get_ref<const std::string&>());
      return invalid(field, "registry.value_type", "must be a number, such as 1000000.50");
    default:
      break;
  }
  // Every other type is held as text.
  if (!value.is_string()) return invalid(field, "registry.value_type", "must be text");
  return check_text(field, value.get_ref<const std::string&>(), today, divisions);
}

Status validate_text(const FieldDefinition& field, std::string_view text, Date today, const DivisionCodes& divisions) {
  switch (field.type) {
    case FieldType::integer: {
      std::int64_t number = 0;
      auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), number);
      if (error != std::errc() || end != text.data() + text.size()) {
        return invalid(field, "registry.value_type", "must be a whole number");
      }
      return check_range(field, static_cast<double>(number));
    }
    case FieldType::decimal:
      return check_decimal_text(field, text);
    default:
      return check_text(field, text, today, divisions);
  }
}

std::string mask(const FieldDefinition& field, std::string_view value) {
  if (value.empty()) return std::string();
  std::size_t keep_first = 0;
  std::size_t keep_last = 0;
  switch (field.masking.rule) {
    case MaskRule::none: return std::string(value);
    case MaskRule::full: return "***";
    case MaskRule::surname: keep_first = 1; break;
    case MaskRule::keep:
      keep_first = static_cast<std::size_t>(field.masking.keep_first);
      keep_last = static_cast<std::size_t>(field.masking.keep_last);
      break;
  }
  const std::vector<std::size_t> starts = character_starts(value);
  const std::size_t count = starts.size();
  if (count <= keep_first + keep_last) return std::string(count, '*');
  std::string masked(value.substr(0, starts[keep_first]));
  masked.append(count - keep_first - keep_last, '*');
  if (keep_last > 0) masked.append(value.substr(starts[count - keep_last]));
  return masked;
}

}  // namespace onewindow::registry
