#include "base/config.h"
#include "testing.h"

#include <gtest/gtest.h>

namespace onewindow {
namespace {

TEST(Config, SyntaxErrorNamesFileAndLine) {
  auto parsed = parse_yaml("a: 1\nb: [unclosed\nc: 3\n", "settings.yaml");
  ASSERT_FALSE(parsed.ok());
  EXPECT_EQ(parsed.error().code, "config.syntax");
  EXPECT_EQ(parsed.error().details["file"], "settings.yaml");
  EXPECT_GE(parsed.error().details["line"].get<int>(), 2);
  EXPECT_THAT(parsed.error().message, ::testing::StartsWith("settings.yaml:"));
}

TEST(Config, UnknownKeyNamesFileLineAndKey) {
  auto parsed = parse_yaml("listen: x\n\nhttp:\n  threads: 2\n  thread: 3\n", "settings.yaml");
  ASSERT_TRUE(parsed.ok());
  Status top = check_known_keys(*parsed, "settings.yaml", "", {"listen", "http"});
  EXPECT_TRUE(top.ok());
  Status inner = check_known_keys((*parsed)["http"], "settings.yaml", "http.", {"threads"});
  ASSERT_FALSE(inner.ok());
  EXPECT_EQ(inner.error().code, "config.unknown_key");
  EXPECT_EQ(inner.error().details["field"], "http.thread");
  EXPECT_EQ(inner.error().details["line"], 5);
  EXPECT_EQ(inner.error().message, "settings.yaml:5: http.thread: unknown key; known keys here: threads");
}

TEST(Config, MissingFileIsNamed) {
  auto loaded = load_yaml_file("/nonexistent/onewindow.yaml");
  ASSERT_FALSE(loaded.ok());
  EXPECT_EQ(loaded.error().code, "config.missing_file");
  EXPECT_EQ(loaded.error().details["file"], "/nonexistent/onewindow.yaml");
}

TEST(Config, LinesAreOneBased) {
  auto parsed = parse_yaml("first: 1\nsecond: 2\n", "x.yaml");
  ASSERT_TRUE(parsed.ok());
  EXPECT_EQ(config_line((*parsed)["second"]), 2);
}

}  // namespace
}  // namespace onewindow
