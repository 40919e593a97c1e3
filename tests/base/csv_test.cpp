#include "base/csv.h"

#include <gtest/gtest.h>

#include <sstream>

namespace onewindow {
namespace {

std::vector<std::vector<std::string>> read_all(const std::string& text, std::vector<std::int64_t>* lines = nullptr) {
  std::istringstream input(text);
  CsvReader reader(input);
  std::vector<std::vector<std::string>> records;
  std::vector<std::string> fields;
  while (true) {
    auto more = reader.next(fields);
    EXPECT_TRUE(more.ok()) << more.error().message;
    if (!more.ok() || !*more) break;
    records.push_back(fields);
    if (lines != nullptr) lines->push_back(reader.line());
  }
  return records;
}

TEST(Csv, ReadsQuotedFieldsWithCommasQuotesAndLineBreaks) {
  std::vector<std::int64_t> lines;
  auto records = read_all("a,b,c\r\n\"x,1\",\"say \"\"hi\"\"\",\"two\nlines\"\n,,\nlast", &lines);
  ASSERT_EQ(records.size(), 4u);
  EXPECT_EQ(records[0], (std::vector<std::string>{"a", "b", "c"}));
  EXPECT_EQ(records[1], (std::vector<std::string>{"x,1", "say \"hi\"", "two\nlines"}));
  EXPECT_EQ(records[2], (std::vector<std::string>{"", "", ""}));
  EXPECT_EQ(records[3], (std::vector<std::string>{"last"}));
  EXPECT_EQ(lines, (std::vector<std::int64_t>{1, 2, 4, 5}));
}

TEST(Csv, SkipsAUtf8ByteOrderMark) {
  auto records = read_all("\xEF\xBB\xBFid,name\r\n");
  ASSERT_EQ(records.size(), 1u);
  EXPECT_EQ(records[0][0], "id");
}

TEST(Csv, ResumesAtAnOffsetWithItsLineNumber) {
  std::string text = "h1,h2\r\n1,\"a\nb\"\r\n2,c\r\n3,d\r\n";
  std::istringstream input(text);
  CsvReader reader(input);
  std::vector<std::string> fields;
  ASSERT_TRUE(*reader.next(fields));
  ASSERT_TRUE(*reader.next(fields));
  std::int64_t offset = reader.offset();
  std::int64_t line = reader.next_line();
  EXPECT_EQ(line, 4);

  std::istringstream again(text);
  again.seekg(offset);
  CsvReader resumed(again, line, offset);
  ASSERT_TRUE(*resumed.next(fields));
  EXPECT_EQ(fields, (std::vector<std::string>{"2", "c"}));
  EXPECT_EQ(resumed.line(), 4);
  ASSERT_TRUE(*resumed.next(fields));
  EXPECT_EQ(resumed.line(), 5);
  EXPECT_EQ(resumed.offset(), static_cast<std::int64_t>(text.size()));
  EXPECT_FALSE(*resumed.next(fields));
}

TEST(Csv, MalformedQuotingIsAnErrorNamingTheLine) {
  for (const auto& [text, code] : std::vector<std::pair<std::string, std::string>>{
           {"a,b\nc,\"never closed\n", "csv.unterminated_quote"},
           {"a,b\"c\n", "csv.bad_quote"},
           {"\"a\"b,c\n", "csv.bad_quote"}}) {
    std::istringstream input(text);
    CsvReader reader(input);
    std::vector<std::string> fields;
    Result<bool> more = true;
    while (more.ok() && *more) more = reader.next(fields);
    ASSERT_FALSE(more.ok()) << text;
    EXPECT_EQ(more.error().code, code);
    EXPECT_NE(more.error().message.find("line "), std::string::npos);
  }
}

TEST(Csv, WritesQuotesOnlyWhereNeeded) {
  std::string out;
  write_csv_record(out, {"plain", "a,b", "say \"hi\"", "two\nlines", ""});
  EXPECT_EQ(out, "plain,\"a,b\",\"say \"\"hi\"\"\",\"two\nlines\",\r\n");
  EXPECT_EQ(read_all(out)[0], (std::vector<std::string>{"plain", "a,b", "say \"hi\"", "two\nlines", ""}));
}

TEST(Csv, Gb18030RoundTripsChineseText) {
  std::string text = "张三,山东省青岛市市南区香港中路10号,𠀀";  // the last one needs GB18030's 4-byte form
  auto encoded = from_utf8(text, TextEncoding::gb18030);
  ASSERT_TRUE(encoded.ok());
  EXPECT_NE(*encoded, text);
  EXPECT_EQ(encoded->substr(0, 4), "\xD5\xC5\xC8\xFD");  // 张三 in GB2312, which GB18030 contains
  auto decoded = to_utf8(*encoded, TextEncoding::gb18030);
  ASSERT_TRUE(decoded.ok());
  EXPECT_EQ(*decoded, text);
}

TEST(Csv, InvalidBytesAreRefusedForTheirEncoding) {
  EXPECT_EQ(to_utf8("\xD5\xC5", TextEncoding::utf8).error().code, "csv.bad_encoding");
  EXPECT_EQ(to_utf8("\xC0\x80", TextEncoding::utf8).error().code, "csv.bad_encoding");  // overlong
  EXPECT_EQ(to_utf8("ok\x81", TextEncoding::gb18030).error().code, "csv.bad_encoding");  // cut short
  EXPECT_TRUE(to_utf8("张三", TextEncoding::utf8).ok());
  // Three-byte forms, checked on a path of their own: overlong, a surrogate, cut short, and a
  // run of ASCII long enough to be checked eight bytes at a time before them.
  for (const char* bad : {"\xE0\x80\x80", "\xED\xA0\x80", "\xE5\xBC", "\xE5\x41\x80", "abcdefghijk\xE5\xBC"}) {
    EXPECT_EQ(to_utf8(bad, TextEncoding::utf8).error().code, "csv.bad_encoding") << bad;
  }
  std::string text = "山东省青岛市 id 370202198001010011 \xF0\xA0\x80\x80 \xEF\xBF\xBD";
  EXPECT_TRUE(convert_to_utf8(text, TextEncoding::utf8).ok());
  EXPECT_EQ(convert_to_utf8(text, TextEncoding::utf8).ok(), to_utf8(text, TextEncoding::utf8).ok());
  std::string gb = *from_utf8("欧阳娜娜", TextEncoding::gb18030);
  ASSERT_TRUE(convert_to_utf8(gb, TextEncoding::gb18030).ok());
  EXPECT_EQ(gb, "欧阳娜娜");
  EXPECT_EQ(parse_text_encoding("GB18030").value(), TextEncoding::gb18030);
  EXPECT_EQ(parse_text_encoding("latin1").error().code, "csv.unknown_encoding");
}

}  // namespace
}  // namespace onewindow
