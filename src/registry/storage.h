// Private to registry/: what records.cpp and imports.cpp share about storage.
#pragma once

#include "registry/registry.h"

#include <nlohmann/json.hpp>

#include <charconv>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

namespace onewindow::registry {

// The text a lookup row holds for a value: a string as it is (so that a name prefix is a range
// of lookups), anything else as its JSON text.
inline std::string lookup_text(const nlohmann::json& value) {
  return value.is_string() ? value.get<std::string>() : value.dump();
}

// Values given as text (BatchRow, from CSV cells) are stored without a JSON object built for
// them. These write what nlohmann::json would, so that a record's stored text and lookups are the
// same whichever way it was written (the import tests compare them).

// Appends `text` (valid UTF-8) as a JSON string escaped as nlohmann::json::dump() escapes it:
// quote, backslash and control characters; every other character as it is.
inline void append_json_string(std::string& out, std::string_view text) {
  static constexpr char hex_digits[] = "0123456789abcdef";
  // Eight bytes at a time while none of them needs escaping (a byte below 0x20, a quote or a
  // backslash), found with the usual bit tricks: x - 0x01... sets a byte's high bit where that
  // byte of x was below 1, and & ~x keeps only those that were not already 0x80 or above.
  constexpr std::uint64_t ones = 0x0101010101010101ULL;
  constexpr std::uint64_t highs = 0x8080808080808080ULL;
  auto needs_escape = [&](std::uint64_t eight) {
    auto zero_byte = [&](std::uint64_t x) { return (x - ones) & ~x & highs; };
    return ((eight - ones * 0x20) & ~eight & highs) | zero_byte(eight ^ (ones * '"')) | zero_byte(eight ^ (ones * '\\'));
  };
  out += '"';
  std::size_t done = 0;
  for (std::size_t at = 0; at < text.size(); ++at) {
    std::uint64_t eight;
    while (at + 8 <= text.size() && (std::memcpy(&eight, text.data() + at, 8), needs_escape(eight) == 0)) at += 8;
    if (at == text.size()) break;
    auto byte = static_cast<unsigned char>(text[at]);
    if (byte >= 0x20 && byte != '"' && byte != '\\') continue;
    out.append(text.data() + done, at - done);
    done = at + 1;
    switch (byte) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\b': out += "\\b"; break;
      case '\f': out += "\\f"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        out += "\\u00";
        out += hex_digits[byte >> 4];
        out += hex_digits[byte & 0x0F];
    }
  }
  out.append(text.data() + done, text.size() - done);
  out += '"';
}

// The lookup text of a value given as text that validate_text() accepted: an integer in its
// decimal form ("012" is stored as 12), anything else as it is.
inline std::string stored_text(const FieldDefinition& field, std::string_view text) {
  if (field.type != FieldType::integer) return std::string(text);
  std::int64_t number = 0;
  std::from_chars(text.data(), text.data() + text.size(), number);
  return std::to_string(number);
}

// Appends the JSON text of a value given as text that validate_text() accepted: an integer as a
// number, anything else (a decimal too) as a string.
inline void append_stored_value(std::string& out, const FieldDefinition& field, std::string_view text) {
  if (field.type == FieldType::integer) {
    out += stored_text(field, text);
  } else {
    append_json_string(out, text);
  }
}

// The JSON value of a value given as text that validate_text() accepted, for the rows that
// change records, whose values are merged with the stored ones.
inline nlohmann::json stored_value(const FieldDefinition& field, const std::string& text) {
  if (field.type != FieldType::integer) return text;
  std::int64_t number = 0;
  std::from_chars(text.data(), text.data() + text.size(), number);
  return number;
}

// Registry migration 3: imports and their rejected rows. next_offset and next_line say where the
// next batch starts in the file; they change only with a batch's rows, in its transaction.
inline constexpr const char* import_schema = R"(CREATE TABLE registry_import (
      id TEXT PRIMARY KEY,
      registry TEXT NOT NULL,
      department TEXT NOT NULL,
      account TEXT NOT NULL,
      reason TEXT NOT NULL,
      origin TEXT NOT NULL,
      file TEXT NOT NULL,
      file_size BIGINT NOT NULL,
      file_digest TEXT NOT NULL,
      encoding TEXT NOT NULL,
      columns TEXT NOT NULL,
      batch_rows BIGINT NOT NULL,
      state TEXT NOT NULL,
      error TEXT NOT NULL,
      next_offset BIGINT NOT NULL,
      next_line BIGINT NOT NULL,
      rows_read BIGINT NOT NULL,
      rows_created BIGINT NOT NULL,
      rows_updated BIGINT NOT NULL,
      rows_rejected BIGINT NOT NULL,
      started_at TEXT NOT NULL,
      updated_at TEXT NOT NULL,
      finished_at TEXT NOT NULL);
    CREATE INDEX registry_import_unfinished ON registry_import (state, origin, started_at);
    CREATE TABLE registry_import_rejection (
      import_id TEXT NOT NULL REFERENCES registry_import (id),
      line BIGINT NOT NULL,
      field TEXT NOT NULL,
      code TEXT NOT NULL,
      message TEXT NOT NULL,
      PRIMARY KEY (import_id, line)))";

}  // namespace onewindow::registry
