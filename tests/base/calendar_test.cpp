#include "base/calendar.h"

#include "testing.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

namespace onewindow {
namespace {

// ---- Helpers ----

using ScratchDirectory = onewindow::testing::TemporaryDirectory;

// A small valid year file to build bad ones from.
std::string year_file(int year, const std::string& holidays) {
  return "year: " + std::to_string(year) +
         "\n"
         "source:\n"
         "  title: test notice\n"
         "  published: " +
         std::to_string(year - 1) +
         "-11-01\n"
         "holidays:\n" +
         holidays;
}

class CalendarTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    Result<WorkingDayCalendar> loaded = WorkingDayCalendar::load(onewindow::testing::config_dir() / "calendar");
    ASSERT_TRUE(loaded.ok()) << loaded.error().message;
    calendar_ = new WorkingDayCalendar(std::move(*loaded));
  }
  static void TearDownTestSuite() {
    delete calendar_;
    calendar_ = nullptr;
  }
  void SetUp() override { ASSERT_NE(calendar_, nullptr) << "config/calendar did not load"; }

  static const WorkingDayCalendar& calendar() { return *calendar_; }
  static bool working(Date date) {
    const Result<bool> answer = calendar().is_working_day(date);
    EXPECT_TRUE(answer.ok()) << date;
    return answer.ok() && *answer;
  }
  static Date add(Date start, int days) {
    const Result<Date> answer = calendar().add_working_days(start, days);
    EXPECT_TRUE(answer.ok()) << start << " + " << days;
    return answer.ok() ? *answer : Date();
  }
  static int between(Date from, Date to) {
    const Result<int> answer = calendar().working_days_between(from, to);
    EXPECT_TRUE(answer.ok()) << from << " .. " << to;
    return answer.ok() ? *answer : -999999;
  }

 private:
  static inline WorkingDayCalendar* calendar_ = nullptr;
};

// ---- The State Council's schedules ----

TEST_F(CalendarTest, LoadsTheYearsOfConfig) {
  EXPECT_EQ(calendar().years(), (std::vector<int>{2025, 2026}));
  const Result<const HolidaySchedule*> schedule = calendar().schedule(2025);
  ASSERT_TRUE(schedule.ok());
  EXPECT_EQ((*schedule)->year, 2025);
  EXPECT_EQ((*schedule)->source.number, "国办发明电〔2024〕12号");
  EXPECT_EQ((*schedule)->source.published, Date(2024, 11, 12));
  EXPECT_EQ((*schedule)->holidays.size(), 6U);
  EXPECT_EQ((*schedule)->holidays[1].name, "春节");
  EXPECT_EQ((*schedule)->holidays[1].english_name, "Spring Festival");
  EXPECT_EQ((*schedule)->holidays[1].first_day_off, Date(2025, 1, 28));
  EXPECT_EQ((*schedule)->holidays[1].last_day_off, Date(2025, 2, 4));
  EXPECT_EQ((*schedule)->holidays[1].working_days,
            (std::vector<Date>{Date(2025, 1, 26), Date(2025, 2, 8)}));
  EXPECT_EQ(calendar().schedule(2026).value()->source.published, Date(2025, 11, 4));
  EXPECT_EQ(calendar().schedule(2026).value()->holidays.size(), 7U);
}

TEST_F(CalendarTest, KnownFactsOf2025) {
  EXPECT_FALSE(working(Date(2025, 1, 1)));   // New Year's Day, Wednesday
  EXPECT_TRUE(working(Date(2025, 1, 26)));   // Sunday made a working day
  EXPECT_FALSE(working(Date(2025, 1, 28)));  // Spring Festival, Tuesday
  EXPECT_FALSE(working(Date(2025, 2, 4)));
  EXPECT_TRUE(working(Date(2025, 2, 5)));
  EXPECT_TRUE(working(Date(2025, 2, 8)));    // Saturday made a working day
  EXPECT_TRUE(working(Date(2025, 4, 27)));   // Sunday before Labour Day
  EXPECT_FALSE(working(Date(2025, 5, 5)));   // Labour Day, Monday
  EXPECT_FALSE(working(Date(2025, 6, 2)));   // Dragon Boat, Monday
  EXPECT_TRUE(working(Date(2025, 9, 28)));   // Sunday before National Day
  EXPECT_FALSE(working(Date(2025, 10, 8)));  // National Day and Mid-Autumn, Wednesday
  EXPECT_TRUE(working(Date(2025, 10, 9)));
  EXPECT_TRUE(working(Date(2025, 10, 11)));   // Saturday made a working day
  EXPECT_FALSE(working(Date(2025, 10, 12)));  // an ordinary Sunday
}

TEST_F(CalendarTest, KnownFactsOf2026) {
  EXPECT_FALSE(working(Date(2026, 1, 1)));
  EXPECT_FALSE(working(Date(2026, 1, 2)));   // Friday off
  EXPECT_TRUE(working(Date(2026, 1, 4)));    // Sunday made a working day
  EXPECT_TRUE(working(Date(2026, 1, 5)));    // an ordinary Monday
  EXPECT_FALSE(working(Date(2026, 1, 10)));  // an ordinary Saturday
  EXPECT_TRUE(working(Date(2026, 2, 14)));   // Saturday before the Spring Festival
  EXPECT_FALSE(working(Date(2026, 2, 16)));  // Monday of the Spring Festival
  EXPECT_FALSE(working(Date(2026, 2, 23)));
  EXPECT_TRUE(working(Date(2026, 2, 24)));
  EXPECT_TRUE(working(Date(2026, 2, 28)));  // Saturday after the Spring Festival
  EXPECT_FALSE(working(Date(2026, 4, 6)));  // Qingming, Monday
  EXPECT_TRUE(working(Date(2026, 5, 9)));
  EXPECT_FALSE(working(Date(2026, 6, 19)));  // Dragon Boat, Friday
  EXPECT_TRUE(working(Date(2026, 9, 20)));
  EXPECT_FALSE(working(Date(2026, 9, 25)));  // Mid-Autumn, Friday
  EXPECT_FALSE(working(Date(2026, 10, 7)));
  EXPECT_TRUE(working(Date(2026, 10, 8)));
  EXPECT_TRUE(working(Date(2026, 10, 10)));
}

TEST_F(CalendarTest, EachYearHas248WorkingDays) {
  // 365 days - 104 weekend days - 13 statutory holidays, in both years.
  EXPECT_EQ(between(Date(2025, 1, 1), Date(2025, 12, 31)), 248);  // January 1st is off
  EXPECT_EQ(between(Date(2025, 12, 31), Date(2026, 12, 31)), 248);
  int counted = 0;
  for (Date date(2026, 1, 1); date <= Date(2026, 12, 31); date = date.plus_days(1)) {
    counted += working(date) ? 1 : 0;
  }
  EXPECT_EQ(counted, 248);
}

TEST_F(CalendarTest, ListsDaysOff) {
  const Result<std::vector<Date>> days = calendar().days_off(2026);
  ASSERT_TRUE(days.ok());
  EXPECT_EQ(days->size(), 33U);
  EXPECT_EQ(days->front(), Date(2026, 1, 1));
  EXPECT_EQ(days->back(), Date(2026, 10, 7));
  EXPECT_TRUE(std::is_sorted(days->begin(), days->end()));
  EXPECT_NE(std::find(days->begin(), days->end(), Date(2026, 2, 15)), days->end());
  EXPECT_EQ(std::find(days->begin(), days->end(), Date(2026, 1, 10)), days->end());
  EXPECT_EQ(calendar().days_off(2025).value().size(), 28U);
}

// ---- Counting ----

TEST_F(CalendarTest, AddsAcrossTheSpringFestival) {
  EXPECT_EQ(add(Date(2026, 2, 13), 1), Date(2026, 2, 14));  // Saturday is a working day
  EXPECT_EQ(add(Date(2026, 2, 13), 2), Date(2026, 2, 24));  // then nine days off
  EXPECT_EQ(add(Date(2026, 2, 12), 3), Date(2026, 2, 24));
  EXPECT_EQ(add(Date(2026, 2, 16), 1), Date(2026, 2, 24));  // from a day off
  EXPECT_EQ(add(Date(2026, 2, 10), 20), Date(2026, 3, 16));
  EXPECT_EQ(add(Date(2025, 1, 20), 20), Date(2025, 2, 21));
}

TEST_F(CalendarTest, AddsAcrossAWeekend) {
  EXPECT_EQ(add(Date(2026, 3, 6), 1), Date(2026, 3, 9));  // Friday + 1 = Monday
  EXPECT_EQ(add(Date(2026, 3, 7), 1), Date(2026, 3, 9));  // Saturday + 1 = Monday
  EXPECT_EQ(add(Date(2026, 3, 8), 1), Date(2026, 3, 9));
  EXPECT_EQ(add(Date(2026, 3, 6), 5), Date(2026, 3, 13));
  EXPECT_EQ(add(Date(2026, 3, 6), 0), Date(2026, 3, 6));
  EXPECT_EQ(add(Date(2026, 3, 7), 0), Date(2026, 3, 7));  // 0 is start, working day or not
}

TEST_F(CalendarTest, AddsAcrossNationalDayAndTheNewYear) {
  EXPECT_EQ(add(Date(2025, 9, 26), 5), Date(2025, 10, 10));
  EXPECT_EQ(add(Date(2026, 9, 18), 20), Date(2026, 10, 22));
  EXPECT_EQ(add(Date(2025, 12, 25), 10), Date(2026, 1, 9));  // through Sunday 2026-01-04
  EXPECT_EQ(between(Date(2025, 12, 25), Date(2026, 1, 9)), 10);
}

TEST_F(CalendarTest, BetweenAgreesWithAddOverEveryDayOf2026) {
  for (int days : {0, 1, 2, 3, 5, 10, 20}) {
    for (Date start(2026, 1, 1); start <= Date(2026, 12, 31); start = start.plus_days(1)) {
      const Result<Date> end = calendar().add_working_days(start, days);
      if (!end.ok()) {
        // Only near the end of the year, running into 2027.
        EXPECT_EQ(end.error().code, "calendar.year_not_loaded") << start << " + " << days;
        EXPECT_GE(start, Date(2026, 11, 1)) << start << " + " << days;
        continue;
      }
      ASSERT_EQ(between(start, *end), days) << start << " + " << days;
      ASSERT_EQ(between(*end, start), -days) << start << " + " << days;
      if (days > 0) {
        ASSERT_TRUE(working(*end)) << start << " + " << days;
        // The earliest such date: the day before is one working day short.
        ASSERT_EQ(between(start, end->plus_days(-1)), days - 1) << start << " + " << days;
      } else {
        ASSERT_EQ(*end, start);
      }
    }
  }
}

TEST_F(CalendarTest, BetweenCountsTheHalfOpenInterval) {
  EXPECT_EQ(between(Date(2026, 3, 6), Date(2026, 3, 6)), 0);
  EXPECT_EQ(between(Date(2026, 3, 6), Date(2026, 3, 9)), 1);  // Saturday, Sunday, Monday
  EXPECT_EQ(between(Date(2026, 3, 9), Date(2026, 3, 6)), -1);
  EXPECT_EQ(between(Date(2026, 2, 13), Date(2026, 2, 24)), 2);
  // Against counting day by day, for a spread of intervals across both years.
  for (Date from(2025, 1, 1); from <= Date(2026, 12, 31); from = from.plus_days(17)) {
    for (Date to = from; to <= Date(2026, 12, 31); to = to.plus_days(29)) {
      int counted = 0;
      for (Date day = from.plus_days(1); day <= to; day = day.plus_days(1)) counted += working(day);
      ASSERT_EQ(between(from, to), counted) << from << " .. " << to;
    }
  }
}

TEST_F(CalendarTest, YearsWithoutAFileAreErrors) {
  const Result<bool> answer = calendar().is_working_day(Date(2027, 1, 4));
  ASSERT_FALSE(answer.ok());
  EXPECT_EQ(answer.error().code, "calendar.year_not_loaded");
  EXPECT_EQ(answer.error().details["year"], 2027);
  EXPECT_NE(answer.error().message.find("2027"), std::string::npos);

  EXPECT_EQ(calendar().is_working_day(Date(2024, 12, 31)).error().details["year"], 2024);
  EXPECT_EQ(calendar().add_working_days(Date(2027, 3, 1), 0).error().code,
            "calendar.year_not_loaded");
  // Running past the last loaded year.
  const Result<Date> past = calendar().add_working_days(Date(2026, 12, 28), 5);
  ASSERT_FALSE(past.ok());
  EXPECT_EQ(past.error().code, "calendar.year_not_loaded");
  EXPECT_EQ(past.error().details["year"], 2027);
  EXPECT_TRUE(calendar().add_working_days(Date(2026, 12, 28), 3).ok());  // ends 2026-12-31
  EXPECT_EQ(calendar().working_days_between(Date(2026, 6, 1), Date(2027, 1, 10)).error().code,
            "calendar.year_not_loaded");
  EXPECT_EQ(calendar().working_days_between(Date(2027, 1, 10), Date(2026, 6, 1)).error().code,
            "calendar.year_not_loaded");
  EXPECT_EQ(calendar().days_off(2027).error().code, "calendar.year_not_loaded");
  EXPECT_EQ(calendar().schedule(2024).error().code, "calendar.year_not_loaded");
}

TEST_F(CalendarTest, NegativeDaysAreRejected) {
  const Result<Date> answer = calendar().add_working_days(Date(2026, 3, 6), -1);
  ASSERT_FALSE(answer.ok());
  EXPECT_EQ(answer.error().code, "calendar.negative_days");
  EXPECT_EQ(answer.error().kind, ErrorKind::invalid_argument);
}

TEST_F(CalendarTest, HugeDayCountsEndInAnErrorNotAnOverflow) {
  EXPECT_EQ(calendar().add_working_days(Date(2026, 1, 1), 2147483647).error().code,
            "calendar.year_not_loaded");
}

TEST_F(CalendarTest, ReadsFromManyThreadsAtOnce) {
  std::vector<std::thread> threads;
  std::vector<int> failures(4, 0);
  for (int thread = 0; thread < 4; ++thread) {
    threads.emplace_back([&failures, thread] {
      for (int round = 0; round < 2000; ++round) {
        const Result<Date> end = calendar().add_working_days(Date(2026, 2, 10), 20);
        if (!end.ok() || *end != Date(2026, 3, 16)) ++failures[thread];
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_EQ(failures, std::vector<int>(4, 0));
}

// ---- Loading other directories ----

TEST(CalendarLoadTest, AYearWithNoHolidaysHasEveryWeekdayWorking) {
  ScratchDirectory directory;
  directory.write("2030.yaml", year_file(2030, "  []\n"));
  directory.write("README.md", "not a calendar file, ignored\n");
  const Result<WorkingDayCalendar> calendar = WorkingDayCalendar::load(directory.path());
  ASSERT_TRUE(calendar.ok()) << calendar.error().message;
  EXPECT_EQ(calendar->working_days_between(Date(2030, 1, 1), Date(2030, 12, 31)).value(),
            260);  // 2030 has 261 weekdays, minus January 1st not counted
  EXPECT_TRUE(calendar->is_working_day(Date(2030, 1, 1)).value());
}

TEST(CalendarLoadTest, AGapBetweenYearsIsAnError) {
  ScratchDirectory directory;
  directory.write("2030.yaml", year_file(2030, "  []\n"));
  directory.write("2032.yaml", year_file(2032, "  []\n"));
  const Result<WorkingDayCalendar> calendar = WorkingDayCalendar::load(directory.path());
  ASSERT_TRUE(calendar.ok()) << calendar.error().message;
  EXPECT_EQ(calendar->years(), (std::vector<int>{2030, 2032}));
  EXPECT_EQ(calendar->is_working_day(Date(2031, 5, 5)).error().details["year"], 2031);
  EXPECT_EQ(calendar->add_working_days(Date(2030, 12, 30), 3).error().details["year"], 2031);
  EXPECT_EQ(
      calendar->working_days_between(Date(2030, 12, 30), Date(2032, 1, 5)).error().details["year"],
      2031);
  EXPECT_TRUE(calendar->is_working_day(Date(2032, 2, 29)).ok());  // a leap year
}

TEST(CalendarLoadTest, DirectoryErrors) {
  ScratchDirectory directory;
  EXPECT_EQ(WorkingDayCalendar::load(directory.path()).error().code, "calendar.no_years");
  EXPECT_EQ(WorkingDayCalendar::load(directory.path() / "missing").error().code,
            "calendar.directory_unreadable");
  directory.write("2026.yml", year_file(2026, "  []\n"));
  const Result<WorkingDayCalendar> misnamed = WorkingDayCalendar::load(directory.path());
  ASSERT_FALSE(misnamed.ok());
  EXPECT_EQ(misnamed.error().code, "calendar.file_name");
  EXPECT_NE(misnamed.error().message.find("2026.yml"), std::string::npos);
}

struct BadCalendarFile {
  std::string description;
  std::string text;
  std::string code;
  int line;  // 0: not checked (a syntax error's line is yaml-cpp's to choose)
  std::string field;
};

TEST(CalendarLoadTest, MalformedFilesNameFileLineAndField) {
  // Lines 1-5 are year_file's header; holidays start on line 6.
  const std::vector<BadCalendarFile> cases = {
      {"year differs from the file name",
       "year: 2025\nsource:\n  title: t\n  published: 2025-11-01\nholidays: []\n",
       "calendar.year_mismatch", 1, "year"},
      {"year not a number",
       "year: twenty\nsource:\n  title: t\n  published: 2025-11-01\nholidays: []\n",
       "calendar.field_invalid", 1, "year"},
      {"misspelt key",
       year_file(2026,
                 "  - name: 元旦\n    name_en: New Year's Day\n"
                 "    days_off: {from: 2026-01-01, to: 2026-01-03}\n"
                 "    working_day: [2026-01-04]\n"),
       "calendar.unknown_key", 9, "holidays[0].working_day"},
      {"missing days off", year_file(2026, "  - name: 元旦\n    name_en: New Year's Day\n"),
       "calendar.field_missing", 6, "holidays[0].days_off"},
      {"missing source", "year: 2026\nholidays: []\n", "calendar.field_missing", 1, "source"},
      {"not a real date",
       year_file(2026,
                 "  - name: 春节\n    name_en: Spring Festival\n"
                 "    days_off: {from: 2026-02-15, to: 2026-02-30}\n"),
       "calendar.field_invalid", 8, "holidays[0].days_off.to"},
      {"not a date at all",
       year_file(2026,
                 "  - name: 春节\n    name_en: Spring Festival\n"
                 "    days_off: {from: 15 February, to: 2026-02-23}\n"),
       "calendar.field_invalid", 8, "holidays[0].days_off.from"},
      {"a day of another year",
       year_file(2026,
                 "  - name: 元旦\n    name_en: New Year's Day\n"
                 "    days_off: {from: 2025-12-31, to: 2026-01-01}\n"),
       "calendar.date_outside_year", 8, "holidays[0].days_off.from"},
      {"range reversed",
       year_file(2026,
                 "  - name: 元旦\n    name_en: New Year's Day\n"
                 "    days_off: {from: 2026-01-03, to: 2026-01-01}\n"),
       "calendar.range_reversed", 8, "holidays[0].days_off.to"},
      {"working day on a weekday",
       year_file(2026,
                 "  - name: 元旦\n    name_en: New Year's Day\n"
                 "    days_off: {from: 2026-01-01, to: 2026-01-03}\n"
                 "    working_days:\n      - 2026-01-05\n"),
       "calendar.working_day_not_weekend", 10, "holidays[0].working_days[0]"},
      {"day both off and working",
       year_file(2026,
                 "  - name: 元旦\n    name_en: New Year's Day\n"
                 "    days_off: {from: 2026-01-01, to: 2026-01-03}\n"
                 "    working_days: [2026-01-03]\n"),
       "calendar.day_off_and_working", 9, "holidays[0].working_days[0]"},
      {"working day later covered by days off",
       year_file(2026,
                 "  - name: 元旦\n    name_en: New Year's Day\n"
                 "    days_off: {from: 2026-01-01, to: 2026-01-02}\n"
                 "    working_days: [2026-01-04]\n"
                 "  - name: 假\n    name_en: Not a holiday\n"
                 "    days_off: {from: 2026-01-04, to: 2026-01-04}\n"),
       "calendar.day_off_and_working", 12, "holidays[1].days_off"},
      {"overlapping days off",
       year_file(2026,
                 "  - name: 中秋节\n    name_en: Mid-Autumn Festival\n"
                 "    days_off: {from: 2026-09-25, to: 2026-10-01}\n"
                 "  - name: 国庆节\n    name_en: National Day\n"
                 "    days_off: {from: 2026-10-01, to: 2026-10-07}\n"),
       "calendar.day_listed_twice", 11, "holidays[1].days_off"},
      {"working days not a list",
       year_file(2026,
                 "  - name: 元旦\n    name_en: New Year's Day\n"
                 "    days_off: {from: 2026-01-01, to: 2026-01-03}\n"
                 "    working_days: {date: 2026-01-04}\n"),
       "calendar.field_invalid", 9, "holidays[0].working_days"},
      {"empty name",
       year_file(2026,
                 "  - name: \"\"\n    name_en: New Year's Day\n"
                 "    days_off: {from: 2026-01-01, to: 2026-01-03}\n"),
       "calendar.field_invalid", 6, "holidays[0].name"},
      {"not YAML", "year: 2026\nsource: {title: t, published: 2025-11-01\nholidays: []\n",
       "calendar.file_syntax", 0, ""},
  };
  for (const BadCalendarFile& bad : cases) {
    SCOPED_TRACE(bad.description);
    ScratchDirectory directory;
    const std::filesystem::path file = directory.write("2026.yaml", bad.text);
    const Result<WorkingDayCalendar> calendar = WorkingDayCalendar::load(directory.path());
    ASSERT_FALSE(calendar.ok());
    const Error& error = calendar.error();
    EXPECT_EQ(error.code, bad.code) << error.message;
    EXPECT_EQ(error.details["file"], file.string());
    EXPECT_EQ(error.message.rfind(file.string(), 0), 0U) << error.message;
    if (bad.line > 0) {
      EXPECT_EQ(error.details["line"], bad.line) << error.message;
      EXPECT_EQ(error.details["field"], bad.field) << error.message;
      EXPECT_NE(error.message.find(file.string() + ":" + std::to_string(bad.line) + ": " +
                                   bad.field + ": "),
                std::string::npos)
          << error.message;
    }
  }
}

}  // namespace
}  // namespace onewindow
