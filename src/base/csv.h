// CSV (RFC 4180) and the text encodings government exports come in.
//
// Contract:
// - CsvReader reads records from a byte stream: fields separated by commas, a field in double
//   quotes may hold commas, line breaks and doubled quotes (""); a record ends at LF or CRLF.
//   A UTF-8 byte order mark at the very start is skipped. It knows the line number where each
//   record starts and the byte offset just after it, so a reader can be resumed exactly where an
//   earlier one stopped (seek to offset(), tell it the line). It reads the stream ahead in blocks,
//   so the stream's own position says nothing about the records returned.
// - Encodings: UTF-8 and GB18030 (GB 18030-2005, a superset of GBK and GB2312), converted with
//   glibc's iconv. GB18030's multi-byte sequences never contain the bytes of ',', '"', CR or LF,
//   so CSV structure can be read before conversion, a record at a time.
// - write_csv_field() quotes a field only when it must (a comma, quote, CR or LF inside).
//
// Errors (Error::invalid, with the field given by the caller in details):
//   csv.unterminated_quote   the stream ended inside a quoted field
//   csv.bad_quote            a quote inside an unquoted field, or text after a closing quote
//   csv.record_too_long      a record over max_record_bytes (a file that is not CSV at all)
//   csv.unknown_encoding     not "utf-8" or "gb18030"
//   csv.bad_encoding         bytes that are not valid text in the encoding named
//
// Thread safety: a CsvReader is used by one thread at a time; the free functions are pure.
#pragma once

#include "base/result.h"

#include <cstdint>
#include <istream>
#include <string>
#include <string_view>
#include <vector>

namespace onewindow {

enum class TextEncoding { utf8, gb18030 };

// "utf-8" (or "utf8") and "gb18030", any case; anything else is csv.unknown_encoding.
Result<TextEncoding> parse_text_encoding(std::string_view name);
std::string_view text_encoding_name(TextEncoding encoding);

// The text in UTF-8; bytes that are not valid in `from` are csv.bad_encoding. UTF-8 input is
// checked, not copied through blindly.
Result<std::string> to_utf8(std::string_view bytes, TextEncoding from);
// to_utf8 in place, for text read into a buffer of its own: UTF-8 is only checked, not copied.
Status convert_to_utf8(std::string& text, TextEncoding from);
// UTF-8 text in `to`; characters GB18030 cannot encode do not exist (it covers all of Unicode).
Result<std::string> from_utf8(std::string_view text, TextEncoding to);

class CsvReader {
 public:
  static constexpr std::size_t max_record_bytes = 1 << 20;

  // Reads from `input` (not owned) starting at its current position, which is taken to be the
  // start of line `first_line` (1-based) at byte `first_offset` of the file.
  explicit CsvReader(std::istream& input, std::int64_t first_line = 1, std::int64_t first_offset = 0);

  // The next record's fields, as raw bytes in the file's encoding. false at the end of the
  // stream; an error for malformed CSV (the reader cannot go on after one). A blank line is a
  // record of one empty field. The strings of `fields` are reused from one record to the next,
  // so a caller that passes the same vector allocates nothing once the fields have grown.
  Result<bool> next(std::vector<std::string>& fields);

  // The line where the record last returned by next() starts (1-based).
  std::int64_t line() const { return record_line_; }
  // The byte offset just after the record last returned (after its line break).
  std::int64_t offset() const { return offset_; }
  // The line where the next record will start.
  std::int64_t next_line() const { return line_; }

 private:
  // Reads the next block of the stream into buffer_ once every byte of it is used; false at the
  // end of the stream. The reader so reads ahead of the records it has returned: to resume,
  // seek the stream to offset() and make a new reader, as the contract says.
  bool fill();
  bool at_end() { return position_ == end_ && !fill(); }
  std::istream& input_;
  std::string buffer_;
  std::size_t position_ = 0;  // the next byte of buffer_ to read
  std::size_t end_ = 0;       // how much of buffer_ the last fill() read
  std::int64_t buffer_offset_;  // the file offset of buffer_[0]
  std::int64_t line_;
  std::int64_t record_line_ = 0;
  std::int64_t offset_;
  bool at_start_;
};

// Appends `field` to `out`, in double quotes (inner quotes doubled) only if it holds a comma, a
// quote, CR or LF.
void write_csv_field(std::string& out, std::string_view field);
// Appends the fields separated by commas, then "\r\n" as RFC 4180 says.
void write_csv_record(std::string& out, const std::vector<std::string>& fields);

}  // namespace onewindow
