// config/supervision/supervision.yaml: the project's file loads, and each kind of mistake is
// refused naming the file, the line and the field.
#include "supervision/supervision.h"

#include "testing.h"

#include <gtest/gtest.h>

namespace onewindow::supervision {
namespace {

TEST(SupervisionConfiguration, TheProjectsFileLoads) {
  auto loaded = Configuration::load(testing::config_dir() / "supervision" / "supervision.yaml");
  ASSERT_TRUE(loaded.ok()) << loaded.error().message;
  EXPECT_EQ(loaded->yellow_percent, 80);
  EXPECT_EQ(loaded->rubber_stamp_seconds, 60);
  EXPECT_EQ(loaded->working_hours_from, 8 * 60 + 30);
  EXPECT_EQ(loaded->returns_at_least, 2);
}

TEST(SupervisionConfiguration, MistakesNameFileLineAndField) {
  testing::TemporaryDirectory directory;
  struct Case {
    std::string text, code, field;
    int line;
  };
  for (const Case& test : std::vector<Case>{
           {"warnings:\n  yellow_share: 1.5\n", "config.bad_value", "warnings.yellow_share", 2},
           {"warnings:\n  pass_interval_seconds: soon\n", "config.bad_value", "warnings.pass_interval_seconds", 2},
           {"rules:\n  rubber_stamp: {enabled: yes please}\n", "config.bad_value", "rules.rubber_stamp.enabled", 2},
           {"rules:\n  rubber_stamp: {within_second: 5}\n", "config.unknown_key", "rules.rubber_stamp.within_second", 2},
           {"rules:\n  outside_working_hours: {from: \"18:00\", to: \"09:00\"}\n", "config.bad_value",
            "rules.outside_working_hours.to", 2},
           {"rules:\n  outside_working_hours: {from: \"25:00\"}\n", "config.bad_value", "rules.outside_working_hours.from", 2},
           {"rules:\n  repeated_returns: {at_least: 0}\n", "config.bad_value", "rules.repeated_returns.at_least", 2},
           {"rules:\n  coffee_breaks: {enabled: true}\n", "config.unknown_key", "rules.coffee_breaks", 2},
       }) {
    auto file = directory.path() / "supervision.yaml";
    testing::write_file(file, test.text);
    auto loaded = Configuration::load(file);
    ASSERT_FALSE(loaded.ok()) << test.text;
    EXPECT_EQ(loaded.error().code, test.code) << test.text << ": " << loaded.error().message;
    EXPECT_EQ(loaded.error().details.value("field", ""), test.field) << test.text << ": " << loaded.error().message;
    EXPECT_EQ(loaded.error().details.value("line", 0), test.line) << test.text << ": " << loaded.error().message;
    EXPECT_NE(loaded.error().details.value("file", ""), "") << test.text;
  }
}

}  // namespace
}  // namespace onewindow::supervision
