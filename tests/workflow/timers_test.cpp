// When timers fall due: working days skip holidays and count the weekend days made working
// days; ISO 8601 durations count calendar time.
#include "workflow/workflow.h"

#include "base/clock.h"
#include "testing.h"

#include <gtest/gtest.h>

namespace onewindow::workflow {
namespace {

std::chrono::system_clock::time_point at(const char* text) { return *parse_timestamp(text); }

class Timers : public ::testing::Test {
 protected:
  void SetUp() override {
    auto loaded = WorkingDayCalendar::load(onewindow::testing::config_dir() / "calendar");
    ASSERT_TRUE(loaded.ok()) << loaded.error().message;
    calendar_.emplace(std::move(loaded).value());
  }
  std::string due(const TimerDuration& duration, const char* start) {
    // The time as text, or the error's code: the cases say which they expect.
    auto result = due_at(duration, at(start), *calendar_);
    return result.ok() ? format_timestamp(*result) : result.error().code;
  }
  std::optional<WorkingDayCalendar> calendar_;
};

TEST_F(Timers, WorkingDaysEndAtTheEndOfTheLastDayInChinaStandardTime) {
  // Wednesday 30 September 2026, 10:00 in Beijing. 1-7 October are the National Day holiday;
  // Saturday 10 October is a working day in its place.
  EXPECT_EQ(due({"", 3}, "2026-09-30T02:00:00.000Z"), "2026-10-10T16:00:00.000Z");
  EXPECT_EQ(due({"", 1}, "2026-09-30T02:00:00.000Z"), "2026-10-08T16:00:00.000Z");
  // 23:30 on Friday 20 November in Beijing is still Friday there (15:30 UTC): the next working
  // day is Monday 23 November.
  EXPECT_EQ(due({"", 1}, "2026-11-20T15:30:00.000Z"), "2026-11-23T16:00:00.000Z");
  // 00:30 on Saturday in Beijing is Friday 16:30 UTC: counted from Saturday.
  EXPECT_EQ(due({"", 1}, "2026-11-20T16:30:00.000Z"), "2026-11-23T16:00:00.000Z");
  EXPECT_EQ(due({"", 400}, "2026-11-20T16:30:00.000Z"), "calendar.year_not_loaded");
}

TEST_F(Timers, Iso8601DurationsCountCalendarTime) {
  EXPECT_EQ(due({"PT4H30M", 0}, "2026-11-23T02:00:00.000Z"), "2026-11-23T06:30:00.000Z");
  EXPECT_EQ(due({"P3D", 0}, "2026-11-23T02:00:00.000Z"), "2026-11-26T02:00:00.000Z");
  EXPECT_EQ(due({"P1W", 0}, "2026-11-23T02:00:00.000Z"), "2026-11-30T02:00:00.000Z");
  EXPECT_EQ(due({"PT1.5S", 0}, "2026-11-23T02:00:00.000Z"), "2026-11-23T02:00:01.500Z");
  // A month from 31 January is the last day of February, at the same time of day in Beijing.
  EXPECT_EQ(due({"P1M", 0}, "2026-01-31T02:00:00.000Z"), "2026-02-28T02:00:00.000Z");
  EXPECT_EQ(due({"P1Y1M1DT1H", 0}, "2026-01-31T02:00:00.000Z"), "2027-03-01T03:00:00.000Z");
  EXPECT_EQ(due({"3 days", 0}, "2026-01-31T02:00:00.000Z"), "workflow.bad_attribute");
}

// Found by fuzz/bpmn_model_fuzz (fuzz/corpus/bpmn_model_fuzz/regression_duration_overflow.bpmn):
// P999999D overflowed the clock's 64-bit nanoseconds (undefined behaviour; in practice the due
// time wrapped round to some other date).
TEST_F(Timers, DurationsOverAHundredYearsAreRefusedNotOverflowed) {
  EXPECT_EQ(due({"P999999D", 0}, "2026-11-23T02:00:00.000Z"), "workflow.bad_attribute");
  EXPECT_EQ(due({"P1000000W", 0}, "2026-11-23T02:00:00.000Z"), "workflow.bad_attribute");
  EXPECT_EQ(due({"P1000000Y", 0}, "2026-11-23T02:00:00.000Z"), "workflow.bad_attribute");
  EXPECT_EQ(due({"PT500000H", 0}, "2026-11-23T02:00:00.000Z"), "2083-12-07T10:00:00.000Z");
  EXPECT_EQ(due({"P100Y", 0}, "2026-11-23T02:00:00.000Z"), "2126-11-23T02:00:00.000Z");
  EXPECT_EQ(check_timer_duration({"P100Y1D", 0}).error().code, "workflow.bad_attribute");
  EXPECT_TRUE(check_timer_duration({"P3D", 0}).ok());
}

}  // namespace
}  // namespace onewindow::workflow
