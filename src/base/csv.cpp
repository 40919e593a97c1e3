// CSV records and text encodings; see csv.h.
#include "base/csv.h"

#include <iconv.h>

#include <cerrno>
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
    auto byte = static_cast<unsigned char>(text[i]);
    if (byte < 0x80) {
      ++i;
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

Result<std::string> from_utf8(std::string_view text, TextEncoding to) {
  if (!valid_utf8(text)) return bad_encoding("utf-8");
  if (to == TextEncoding::utf8) return std::string(text);
  return convert(text, "GB18030", "UTF-8");
}

CsvReader::CsvReader(std::istream& input, std::int64_t first_line, std::int64_t first_offset)
    : input_(input), line_(first_line), offset_(first_offset), at_start_(first_offset == 0) {}

// Straight from the stream's buffer: istream::get() builds a sentry per character, which was a
// noticeable share of an import.
int CsvReader::get() {
  int c = input_.rdbuf()->sbumpc();
  if (c != std::char_traits<char>::eof()) ++offset_;
  return c;
}

Result<bool> CsvReader::next(std::vector<std::string>& fields) {
  constexpr int end_of_file = std::char_traits<char>::eof();
  fields.clear();
  if (at_start_) {
    at_start_ = false;
    // A UTF-8 byte order mark, which spreadsheet programs write, is not part of the first field.
    if (input_.peek() == 0xEF) {
      char mark[3];
      input_.read(mark, 3);
      if (input_.gcount() == 3 && mark[1] == '\xBB' && mark[2] == '\xBF') {
        offset_ += 3;
      } else {
        input_.clear();
        input_.seekg(-input_.gcount(), std::ios::cur);
      }
    }
  }
  int c = get();
  if (c == end_of_file) return false;
  record_line_ = line_;
  std::size_t size = 0;
  fields.emplace_back();
  auto too_long = [&] {
    return Error::invalid("csv.record_too_long", "line",
                          "line " + std::to_string(record_line_) + ": a record is longer than 1 MiB; is this CSV?");
  };
  while (true) {
    std::string& field = fields.back();
    if (c == '"' && field.empty()) {
      // A quoted field: up to the closing quote, "" standing for one quote.
      while (true) {
        c = get();
        if (c == end_of_file) {
          return Error::invalid("csv.unterminated_quote", "line",
                                "line " + std::to_string(record_line_) + ": a quoted field is never closed");
        }
        if (c == '"') {
          if (input_.rdbuf()->sgetc() == '"') {
            get();
            field += '"';
            continue;
          }
          break;
        }
        if (c == '\n') ++line_;
        field += static_cast<char>(c);
        if (++size > max_record_bytes) return too_long();
      }
      c = get();
      if (c != ',' && c != '\n' && c != '\r' && c != end_of_file) {
        return Error::invalid("csv.bad_quote", "line",
                              "line " + std::to_string(line_) + ": text after the closing quote of a field");
      }
    } else {
      while (c != ',' && c != '\n' && c != '\r' && c != end_of_file) {
        if (c == '"') {
          return Error::invalid("csv.bad_quote", "line",
                                "line " + std::to_string(line_) + ": a quote inside an unquoted field");
        }
        field += static_cast<char>(c);
        if (++size > max_record_bytes) return too_long();
        c = get();
      }
    }
    if (c == ',') {
      fields.emplace_back();
      c = get();
      continue;
    }
    if (c == '\r') {
      if (input_.rdbuf()->sgetc() == '\n') get();
      ++line_;
    } else if (c == '\n') {
      ++line_;
    }
    return true;
  }
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
