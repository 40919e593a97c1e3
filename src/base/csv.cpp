// CSV records and text encodings; see csv.h.
#include "base/csv.h"

#include <iconv.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <memory>

namespace onewindow {

namespace {

Error bad_encoding(std::string_view from) {
  return Error::invalid("csv.bad_encoding", "encoding",
                        "the text is not valid " + std::string(from) + "; name the file's encoding");
}

// One iconv conversion of a whole text. iconv is used because glibc ships GB18030 tables that
// follow the standard, and Debian has it on every machine.
Result<std::string> convert(std::string_view bytes, const char* to, const char* from) {
  iconv_t descriptor = iconv_open(to, from);
  if (descriptor == reinterpret_cast<iconv_t>(-1)) {
    return Error(ErrorKind::internal, "csv.unknown_encoding", std::string("iconv cannot convert from ") + from + " to " + to);
  }
  std::unique_ptr<void, int (*)(iconv_t)> closer(descriptor, &iconv_close);
  std::string out;
  out.resize(bytes.size() * 2 + 16);
  char* input = const_cast<char*>(bytes.data());
  std::size_t input_left = bytes.size();
  std::size_t written = 0;
  while (true) {
    char* output = out.data() + written;
    std::size_t output_left = out.size() - written;
    std::size_t result = iconv(descriptor, input_left > 0 ? &input : nullptr, &input_left, &output, &output_left);
    written = out.size() - output_left;
    if (result != static_cast<std::size_t>(-1)) {
      if (input_left == 0) break;
      continue;
    }
    if (errno == E2BIG) {
      out.resize(out.size() * 2);
      continue;
    }
    return bad_encoding(from);  // EILSEQ or EINVAL: an invalid or incomplete sequence
  }
  out.resize(written);
  return out;
}

// UTF-8 is checked by hand: it is the common case, and a copy through iconv would cost more
// than the import's own work.
bool valid_utf8(std::string_view text) {
  std::size_t i = 0;
  while (i < text.size()) {
    // Eight ASCII bytes at a time: digits, dates and codes are most of an import's cells.
    if (i + 8 <= text.size()) {
      std::uint64_t eight;
      std::memcpy(&eight, text.data() + i, 8);
      if ((eight & 0x8080808080808080ULL) == 0) {
        i += 8;
        continue;
      }
    }
    auto byte = static_cast<unsigned char>(text[i]);
    if (byte < 0x80) {
      ++i;
      continue;
    }
    // Three bytes, as every Chinese character of the basic plane takes, checked at once.
    if ((byte & 0xF0) == 0xE0 && i + 2 < text.size()) {
      auto second = static_cast<unsigned char>(text[i + 1]);
      auto third = static_cast<unsigned char>(text[i + 2]);
      if ((second & 0xC0) != 0x80 || (third & 0xC0) != 0x80) return false;
      std::uint32_t code_point = (std::uint32_t{byte & 0x0Fu} << 12) | (std::uint32_t{second & 0x3Fu} << 6) | (third & 0x3Fu);
      if (code_point < 0x800 || (code_point >= 0xD800 && code_point <= 0xDFFF)) return false;
      i += 3;
      continue;
    }
    int length = 0;
    std::uint32_t code_point = 0;
    if ((byte & 0xE0) == 0xC0) {
      length = 2;
      code_point = byte & 0x1F;
    } else if ((byte & 0xF0) == 0xE0) {
      length = 3;
      code_point = byte & 0x0F;
    } else if ((byte & 0xF8) == 0xF0) {
      length = 4;
      code_point = byte & 0x07;
    } else {
      return false;
    }
    if (i + length > text.size()) return false;
    for (int k = 1; k < length; ++k) {
      auto next = static_cast<unsigned char>(text[i + k]);
      if ((next & 0xC0) != 0x80) return false;
      code_point = (code_point << 6) | (next & 0x3F);
    }
    // Overlong forms, surrogates and code points past Unicode are not UTF-8.
    static constexpr std::uint32_t smallest[] = {0, 0, 0x80, 0x800, 0x10000};
    if (code_point < smallest[length] || code_point > 0x10FFFF || (code_point >= 0xD800 && code_point <= 0xDFFF)) {
      return false;
    }
    i += length;
  }
  return true;
}

}  // namespace

Result<TextEncoding> parse_text_encoding(std::string_view name) {
  std::string lower;
  for (char c : name) lower += static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
  if (lower == "utf-8" || lower == "utf8") return TextEncoding::utf8;
  if (lower == "gb18030") return TextEncoding::gb18030;
  return Error::invalid("csv.unknown_encoding", "encoding", "encoding must be utf-8 or gb18030");
}

std::string_view text_encoding_name(TextEncoding encoding) {
  return encoding == TextEncoding::utf8 ? "utf-8" : "gb18030";
}

Result<std::string> to_utf8(std::string_view bytes, TextEncoding from) {
  if (from == TextEncoding::utf8) {
    if (!valid_utf8(bytes)) return bad_encoding("utf-8");
    return std::string(bytes);
  }
  return convert(bytes, "UTF-8", "GB18030");
}

Status convert_to_utf8(std::string& text, TextEncoding from) {
  if (from == TextEncoding::utf8) return valid_utf8(text) ? ok_status() : Status(bad_encoding("utf-8"));
  auto converted = convert(text, "UTF-8", "GB18030");
  if (!converted.ok()) return converted.take_error();
  text = std::move(converted).value();
  return ok_status();
}

Result<std::string> from_utf8(std::string_view text, TextEncoding to) {
  if (!valid_utf8(text)) return bad_encoding("utf-8");
  if (to == TextEncoding::utf8) return std::string(text);
  return convert(text, "GB18030", "UTF-8");
}

CsvReader::CsvReader(std::istream& input, std::int64_t first_line, std::int64_t first_offset)
    : input_(input), buffer_offset_(first_offset), line_(first_line), offset_(first_offset), at_start_(first_offset == 0) {}

bool CsvReader::fill() {
  // Blocks of 64 KiB from the stream's buffer, then spans of them appended to fields at once:
  // reading and appending a character at a time was the largest share of an import's CSV work.
  constexpr std::size_t block = 64 * 1024;
  if (buffer_.size() != block) buffer_.resize(block);
  buffer_offset_ += static_cast<std::int64_t>(end_);
  position_ = 0;
  end_ = static_cast<std::size_t>(std::max<std::streamsize>(input_.rdbuf()->sgetn(buffer_.data(), block), 0));
  return end_ > 0;
}

namespace {

// The bytes that end an unquoted field or make it malformed.
struct FieldEnds {
  bool table[256] = {};
  constexpr FieldEnds() {
    table[static_cast<unsigned char>(',')] = true;
    table[static_cast<unsigned char>('\n')] = true;
    table[static_cast<unsigned char>('\r')] = true;
    table[static_cast<unsigned char>('"')] = true;
  }
};
constexpr FieldEnds field_ends;

}  // namespace

Result<bool> CsvReader::next(std::vector<std::string>& fields) {
  std::size_t used = 0;  // fields of this record so far; the strings beyond are kept for reuse
  auto next_field = [&]() -> std::string& {
    if (used == fields.size()) fields.emplace_back();
    std::string& field = fields[used++];
    field.clear();
    return field;
  };
  if (at_start_) {
    at_start_ = false;
    // A UTF-8 byte order mark, which spreadsheet programs write, is not part of the first field.
    // The first block holds the whole stream when it is shorter than a block, so three bytes
    // are there if the stream has them.
    if (!at_end() && end_ - position_ >= 3 && buffer_.compare(position_, 3, "\xEF\xBB\xBF") == 0) position_ += 3;
  }
  if (at_end()) {
    fields.clear();
    return false;
  }
  record_line_ = line_;
  std::size_t size = 0;
  auto too_long = [&] {
    return Error::invalid("csv.record_too_long", "line",
                          "line " + std::to_string(record_line_) + ": a record is longer than 1 MiB; is this CSV?");
  };
  auto append = [&](std::string& field, std::size_t from, std::size_t to) -> bool {
    field.append(buffer_, from, to - from);
    size += to - from;
    return size <= max_record_bytes;
  };
  while (true) {
    std::string& field = next_field();
    // Here a field starts, and at least one byte of the stream is left unless a comma ended the
    // stream (an empty last field).
    if (!at_end() && buffer_[position_] == '"') {
      // A quoted field: up to the closing quote, "" standing for one quote.
      ++position_;
      while (true) {
        if (at_end()) {
          return Error::invalid("csv.unterminated_quote", "line",
                                "line " + std::to_string(record_line_) + ": a quoted field is never closed");
        }
        const char* from = buffer_.data() + position_;
        const char* limit = buffer_.data() + end_;
        auto* quote = static_cast<const char*>(std::memchr(from, '"', static_cast<std::size_t>(limit - from)));
        const char* until = quote ? quote : limit;
        line_ += std::count(from, until, '\n');
        std::size_t stop = static_cast<std::size_t>(until - buffer_.data());
        if (!append(field, position_, stop)) return too_long();
        position_ = stop;
        if (!quote) continue;
        ++position_;  // past the quote
        if (!at_end() && buffer_[position_] == '"') {
          ++position_;
          field += '"';
          if (++size > max_record_bytes) return too_long();
          continue;
        }
        break;
      }
      if (!at_end()) {
        char c = buffer_[position_];
        if (c != ',' && c != '\n' && c != '\r') {
          return Error::invalid("csv.bad_quote", "line",
                                "line " + std::to_string(line_) + ": text after the closing quote of a field");
        }
      }
    } else {
      while (!at_end()) {
        std::size_t stop = position_;
        while (stop < end_ && !field_ends.table[static_cast<unsigned char>(buffer_[stop])]) ++stop;
        if (!append(field, position_, stop)) return too_long();
        position_ = stop;
        if (stop == end_) continue;
        if (buffer_[stop] == '"') {
          return Error::invalid("csv.bad_quote", "line",
                                "line " + std::to_string(line_) + ": a quote inside an unquoted field");
        }
        break;
      }
    }
    // The field ends at a comma, a line break or the end of the stream.
    if (at_end()) break;
    char c = buffer_[position_++];
    if (c == ',') continue;
    if (c == '\r' && !at_end() && buffer_[position_] == '\n') ++position_;
    ++line_;
    break;
  }
  fields.resize(used);
  offset_ = buffer_offset_ + static_cast<std::int64_t>(position_);
  return true;
}

void write_csv_field(std::string& out, std::string_view field) {
  if (field.find_first_of(",\"\r\n") == std::string_view::npos) {
    out += field;
    return;
  }
  out += '"';
  for (char c : field) {
    if (c == '"') out += '"';
    out += c;
  }
  out += '"';
}

void write_csv_record(std::string& out, const std::vector<std::string>& fields) {
  for (std::size_t i = 0; i < fields.size(); ++i) {
    if (i > 0) out += ',';
    write_csv_field(out, fields[i]);
  }
  out += "\r\n";
}

}  // namespace onewindow
