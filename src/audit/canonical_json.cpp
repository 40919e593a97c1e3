// Canonical JSON: one byte string for one value, so that an entry hashes the same wherever it is
// rebuilt. The rules are RFC 8785's (JCS) for the values entries may hold, integers only.
#include "audit/internal.h"

#include <charconv>
#include <optional>

namespace onewindow::audit {
namespace {

constexpr int max_depth = 64;

// Length of the UTF-8 sequence starting at text[at], or 0 when it is not well formed
// (RFC 3629: no overlong forms, no surrogates, nothing above U+10FFFF).
std::size_t utf8_sequence_length(std::string_view text, std::size_t at) {
  auto byte = [&](std::size_t offset) -> unsigned {
    return at + offset < text.size() ? static_cast<unsigned char>(text[at + offset]) : 0x100;
  };
  auto continuation = [&](std::size_t offset, unsigned low = 0x80, unsigned high = 0xBF) {
    unsigned value = byte(offset);
    return value >= low && value <= high;
  };
  unsigned first = byte(0);
  if (first < 0x80) return 1;
  if (first >= 0xC2 && first <= 0xDF) return continuation(1) ? 2 : 0;
  if (first == 0xE0) return continuation(1, 0xA0) && continuation(2) ? 3 : 0;
  if (first == 0xED) return continuation(1, 0x80, 0x9F) && continuation(2) ? 3 : 0;
  if (first >= 0xE1 && first <= 0xEF) return continuation(1) && continuation(2) ? 3 : 0;
  if (first == 0xF0) return continuation(1, 0x90) && continuation(2) && continuation(3) ? 4 : 0;
  if (first >= 0xF1 && first <= 0xF3) return continuation(1) && continuation(2) && continuation(3) ? 4 : 0;
  if (first == 0xF4) return continuation(1, 0x80, 0x8F) && continuation(2) && continuation(3) ? 4 : 0;
  return 0;
}

// The writers below return the error, if any, rather than a Status: an ok Status allocates, and
// they run once per value of every entry.
using Failure = std::optional<Error>;

Failure append_string(std::string_view text, std::string& out, std::string_view field = "details") {
  static constexpr char hex_digits[] = "0123456789abcdef";
  out.push_back('"');
  std::size_t at = 0;
  while (at < text.size()) {
    // Copy a run of bytes that need nothing done in one go.
    std::size_t run = at;
    while (run < text.size()) {
      auto byte = static_cast<unsigned char>(text[run]);
      if (byte < 0x20 || byte == '"' || byte == '\\' || byte >= 0x80) break;
      ++run;
    }
    out.append(text.data() + at, run - at);
    at = run;
    if (at == text.size()) break;
    auto byte = static_cast<unsigned char>(text[at]);
    if (byte >= 0x80) {
      std::size_t length = utf8_sequence_length(text, at);
      if (length == 0) {
        return Error::invalid("audit.invalid_utf8", std::string(field),
                              std::string(field) + " holds text that is not valid UTF-8 (byte " + std::to_string(at) + ")");
      }
      out.append(text.data() + at, length);
      at += length;
      continue;
    }
    switch (byte) {
      case '"': out.append("\\\""); break;
      case '\\': out.append("\\\\"); break;
      case '\b': out.append("\\b"); break;
      case '\f': out.append("\\f"); break;
      case '\n': out.append("\\n"); break;
      case '\r': out.append("\\r"); break;
      case '\t': out.append("\\t"); break;
      default:
        out.append("\\u00");
        out.push_back(hex_digits[byte >> 4]);
        out.push_back(hex_digits[byte & 0x0F]);
    }
    ++at;
  }
  out.push_back('"');
  return {};
}

template <typename Integer>
void append_integer(Integer value, std::string& out) {
  char buffer[24];
  auto [end, error] = std::to_chars(buffer, buffer + sizeof buffer, value);
  out.append(buffer, end);
}

Failure append_value(const nlohmann::json& value, std::string& out, int depth) {
  if (depth > max_depth) {
    return Error::invalid("audit.too_deep", "details",
                          "the act's details nest deeper than " + std::to_string(max_depth) + " levels");
  }
  using Type = nlohmann::json::value_t;
  switch (value.type()) {
    case Type::null: out.append("null"); return {};
    case Type::boolean: out.append(value.get<bool>() ? "true" : "false"); return {};
    case Type::number_integer: append_integer(value.get<std::int64_t>(), out); return {};
    case Type::number_unsigned: append_integer(value.get<std::uint64_t>(), out); return {};
    case Type::number_float:
      return Error::invalid("audit.non_integer_number", "details",
                            "numbers in an act must be integers, so that the entry has one canonical form; "
                            "write fractions as strings");
    case Type::string: return append_string(value.get_ref<const std::string&>(), out);
    case Type::array: {
      out.push_back('[');
      bool first = true;
      for (const auto& element : value.get_ref<const nlohmann::json::array_t&>()) {
        if (!first) out.push_back(',');
        first = false;
        if (Failure failure = append_value(element, out, depth + 1)) return failure;
      }
      out.push_back(']');
      return {};
    }
    case Type::object: {
      // nlohmann::json keeps objects in a std::map<std::string, ...>, which orders keys by
      // std::char_traits<char>::lt, a comparison of unsigned bytes: UTF-8 byte order, which is
      // also Unicode code point order.
      out.push_back('{');
      bool first = true;
      for (const auto& [key, element] : value.get_ref<const nlohmann::json::object_t&>()) {
        if (!first) out.push_back(',');
        first = false;
        if (Failure failure = append_string(key, out)) return failure;
        out.push_back(':');
        if (Failure failure = append_value(element, out, depth + 1)) return failure;
      }
      out.push_back('}');
      return {};
    }
    case Type::binary:
    case Type::discarded:
      break;
  }
  return Error::invalid("audit.bad_details", "details", "the act's details hold binary data, which JSON cannot show");
}

}  // namespace

std::optional<Error> internal::append_canonical(const nlohmann::json& value, std::string& out) {
  return append_value(value, out, 0);
}

std::optional<Error> internal::append_canonical_string(std::string_view text, std::string_view field, std::string& out) {
  return append_string(text, out, field);
}

Status append_canonical_json(const nlohmann::json& value, std::string& out) {
  if (Failure failure = append_value(value, out, 0)) return std::move(*failure);
  return ok_status();
}

Status append_canonical_string(std::string_view text, std::string& out) {
  if (Failure failure = append_string(text, out)) return std::move(*failure);
  return ok_status();
}

Result<std::string> canonical_json(const nlohmann::json& value) {
  std::string out;
  if (Failure failure = append_value(value, out, 0)) return std::move(*failure);
  return out;
}

}  // namespace onewindow::audit
