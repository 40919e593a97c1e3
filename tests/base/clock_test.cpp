#include "base/clock.h"

#include <gtest/gtest.h>

#include <sstream>
#include <thread>
#include <vector>

namespace onewindow {
namespace {

using std::chrono::hours;
using std::chrono::seconds;
using std::chrono::sys_days;
using std::chrono::system_clock;

// An instant given in UTC.
system_clock::time_point utc(int year, unsigned month, unsigned day, int hour, int minute = 0,
                             int second = 0) {
  return sys_days(std::chrono::year(year) / std::chrono::month(month) / std::chrono::day(day)) +
         hours(hour) + std::chrono::minutes(minute) + seconds(second);
}

TEST(DateTest, ParsesAndFormats) {
  const Result<Date> date = Date::parse("2026-01-04");
  ASSERT_TRUE(date.ok());
  EXPECT_EQ(*date, Date(2026, 1, 4));
  EXPECT_EQ(date->year(), 2026);
  EXPECT_EQ(date->month(), 1U);
  EXPECT_EQ(date->day(), 4U);
  EXPECT_EQ(date->weekday(), std::chrono::Sunday);
  EXPECT_TRUE(date->is_weekend());
  EXPECT_EQ(date->to_string(), "2026-01-04");
  EXPECT_EQ(Date(2024, 2, 29).to_string(), "2024-02-29");
  EXPECT_EQ(Date(1, 1, 1).to_string(), "0001-01-01");
  EXPECT_EQ(Date(9999, 12, 31).to_string(), "9999-12-31");
  EXPECT_EQ(Date::parse("9999-12-31").value(), Date(9999, 12, 31));
  std::ostringstream printed;
  printed << Date(2026, 10, 1);
  EXPECT_EQ(printed.str(), "2026-10-01");
}

TEST(DateTest, ParseIsStrictAboutTheForm) {
  for (const char* text : {"", "2026-1-04", "2026-01-4", "2026/01/04", " 2026-01-04", "2026-01-04 ",
                           "2026-01-04T00:00", "20260104", "26-01-04", "+2026-01-04", "2026-0a-04",
                           "２０２６-01-04"}) {
    const Result<Date> date = Date::parse(text, "birth_date");
    ASSERT_FALSE(date.ok()) << text;
    EXPECT_EQ(date.error().code, "clock.date_format") << text;
    EXPECT_EQ(date.error().kind, ErrorKind::invalid_argument);
    EXPECT_EQ(date.error().details["field"], "birth_date");
    EXPECT_NE(date.error().message.find("birth_date"), std::string::npos);
  }
}

TEST(DateTest, ParseRejectsDaysThatDoNotExist) {
  for (const char* text : {"2026-02-30", "2025-02-29", "2026-13-01", "2026-00-10", "2026-01-00",
                           "2026-04-31", "0000-01-01", "1900-02-29"}) {
    const Result<Date> date = Date::parse(text);
    ASSERT_FALSE(date.ok()) << text;
    EXPECT_EQ(date.error().code, "clock.date_nonexistent") << text;
  }
  EXPECT_TRUE(Date::parse("2000-02-29").ok());
  EXPECT_TRUE(Date::parse("2024-02-29").ok());
}

TEST(DateTest, FromCalendar) {
  EXPECT_EQ(Date::from_calendar(2026, 2, 28).value(), Date(2026, 2, 28));
  EXPECT_EQ(Date::from_calendar(2026, 2, 29).error().code, "clock.date_nonexistent");
  EXPECT_EQ(Date::from_calendar(100000, 1, 1).error().code, "clock.date_nonexistent");
  EXPECT_EQ(Date::from_calendar(2026, -1, 1).error().code, "clock.date_nonexistent");
  EXPECT_EQ(Date::from_calendar(2026, 1, 1000).error().code, "clock.date_nonexistent");
}

TEST(DateTest, Arithmetic) {
  EXPECT_EQ(Date(2025, 12, 31).plus_days(1), Date(2026, 1, 1));
  EXPECT_EQ(Date(2026, 3, 1).plus_days(-1), Date(2026, 2, 28));
  EXPECT_EQ(Date(2024, 3, 1).plus_days(-1), Date(2024, 2, 29));
  EXPECT_LT(Date(2025, 12, 31), Date(2026, 1, 1));
  EXPECT_EQ((Date(2026, 1, 1).days() - Date(2025, 1, 1).days()).count(), 365);
  EXPECT_FALSE(Date(2026, 1, 5).is_weekend());
  EXPECT_TRUE(Date(2026, 1, 10).is_weekend());
  EXPECT_EQ(Date(), Date(1970, 1, 1));
}

TEST(LocalDateTest, ChinaStandardTimeIsUtcPlusEight) {
  // 16:00 UTC is midnight in Beijing.
  EXPECT_EQ(local_date(utc(2025, 12, 31, 16)), Date(2026, 1, 1));
  EXPECT_EQ(local_date(utc(2025, 12, 31, 15, 59, 59)), Date(2025, 12, 31));
  EXPECT_EQ(local_date(utc(2026, 1, 1, 0)), Date(2026, 1, 1));
  EXPECT_EQ(local_date(utc(2026, 7, 1, 15, 59, 59) + std::chrono::milliseconds(999)),
            Date(2026, 7, 1));
  // No daylight saving in summer.
  EXPECT_EQ(local_date(utc(2026, 7, 1, 16)), Date(2026, 7, 2));
  // Before 1970, time points are negative: the date still floors correctly.
  EXPECT_EQ(local_date(utc(1969, 12, 31, 16)), Date(1970, 1, 1));
  EXPECT_EQ(local_date(utc(1969, 12, 31, 15)), Date(1969, 12, 31));
}

TEST(LocalDateTest, DayStartIsTheInverse) {
  EXPECT_EQ(local_day_start(Date(2026, 1, 1)), utc(2025, 12, 31, 16));
  for (Date date(2025, 1, 1); date < Date(2027, 1, 1); date = date.plus_days(1)) {
    ASSERT_EQ(local_date(local_day_start(date)), date);
    ASSERT_EQ(local_date(local_day_start(date) - seconds(1)), date.plus_days(-1));
  }
}

TEST(ClockTest, SystemClockFollowsTheSystem) {
  const SystemClock clock;
  const system_clock::time_point before = system_clock::now();
  const system_clock::time_point now = clock.now();
  EXPECT_LE(before, now);
  EXPECT_LE(now, system_clock::now());
  EXPECT_EQ(clock.today(), local_date(clock.now()));
}

TEST(ClockTest, ManualClockStandsStillUntilMoved) {
  ManualClock clock(utc(2026, 2, 13, 1));  // 09:00 in Beijing
  const Clock& as_clock = clock;
  EXPECT_EQ(as_clock.now(), utc(2026, 2, 13, 1));
  EXPECT_EQ(as_clock.now(), utc(2026, 2, 13, 1));
  EXPECT_EQ(as_clock.today(), Date(2026, 2, 13));
  clock.advance(hours(15));
  EXPECT_EQ(as_clock.today(), Date(2026, 2, 14));
  clock.advance(-hours(1));
  EXPECT_EQ(as_clock.today(), Date(2026, 2, 13));
  clock.set(utc(2027, 1, 1, 0));
  EXPECT_EQ(as_clock.now(), utc(2027, 1, 1, 0));
}

TEST(ClockTest, ManualClockFromADateStartsAtNineInBeijing) {
  const ManualClock clock(Date(2026, 1, 4));
  EXPECT_EQ(clock.now(), utc(2026, 1, 4, 1));
  EXPECT_EQ(clock.today(), Date(2026, 1, 4));
}

TEST(ClockTest, ManualClockIsSafeAcrossThreads) {
  ManualClock clock(utc(2026, 1, 1, 0));
  std::vector<std::thread> threads;
  for (int thread = 0; thread < 4; ++thread) {
    threads.emplace_back([&clock] {
      for (int step = 0; step < 10000; ++step) {
        clock.advance(seconds(1));
        (void)clock.now();
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_EQ(clock.now(), utc(2026, 1, 1, 0) + seconds(40000));
}

}  // namespace
}  // namespace onewindow

namespace onewindow {
namespace {

TEST(Timestamp, FormatsAndParsesUtcWithMilliseconds) {
  auto time = local_day_start(Date(2026, 11, 23)) + std::chrono::milliseconds(8 * 3600 * 1000 + 5 * 60 * 1000 + 9123);
  EXPECT_EQ(format_timestamp(time), "2026-11-23T00:05:09.123Z");
  auto parsed = parse_timestamp("2026-11-23T00:05:09.123Z");
  ASSERT_TRUE(parsed.ok());
  EXPECT_EQ(*parsed, time);
  auto whole_second = parse_timestamp("2026-11-23T00:05:09Z");
  ASSERT_TRUE(whole_second.ok());
  EXPECT_EQ(format_timestamp(*whole_second), "2026-11-23T00:05:09.000Z");
  for (const char* bad : {"2026-11-23 00:05:09Z", "2026-11-23T24:00:00Z", "2026-02-30T00:00:00Z", "2026-11-23T00:05:09.12Z", ""}) {
    auto refused = parse_timestamp(bad, "expires_at");
    ASSERT_FALSE(refused.ok()) << bad;
    EXPECT_EQ(refused.error().details["field"], "expires_at");
  }
  // The text form sorts like the time.
  EXPECT_LT(format_timestamp(time), format_timestamp(time + std::chrono::milliseconds(1)));
}

}  // namespace
}  // namespace onewindow
