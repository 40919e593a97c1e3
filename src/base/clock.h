// Dates and the passing of time.
//
// Date is a calendar day with no time zone: the legal date of an act, a deadline, a birth date.
// It is a small value type (a day count), cheap to copy and compare.
//
// Clock is where "now" comes from. Code that needs the time takes a Clock& so that tests can
// use a ManualClock and move time forward by hand; production passes a SystemClock.
//
// Government dates are dates in China Standard Time: local_date() turns an instant into the
// date it falls on in Beijing, local_day_start() turns a date back into its first instant.
//
// Thread safety: Date is a plain value. SystemClock and ManualClock may be called from several
// threads at once, including set() and advance() on a ManualClock while others read it.
#pragma once

#include <atomic>
#include <cassert>
#include <chrono>
#include <compare>
#include <iosfwd>
#include <string>
#include <string_view>

#include "base/result.h"

namespace onewindow {

class Date {
 public:
  // The earliest and latest years a Date may hold (four-digit years, like "YYYY-MM-DD").
  static constexpr int first_year = 1;
  static constexpr int last_year = 9999;

  // 1970-01-01.
  constexpr Date() = default;

  // Precondition: year/month/day is a real date between first_year and last_year (checked by
  // assert only). For untrusted input use parse() or from_calendar().
  constexpr Date(int year, unsigned month, unsigned day)
      : days_(std::chrono::sys_days(std::chrono::year_month_day(
            std::chrono::year(year), std::chrono::month(month), std::chrono::day(day)))) {
    assert(year >= first_year && year <= last_year);
    assert((std::chrono::year(year) / std::chrono::month(month) / std::chrono::day(day)).ok());
  }

  // Precondition: days is within the years above.
  constexpr explicit Date(std::chrono::sys_days days) : days_(days) {}

  // Reads exactly "YYYY-MM-DD" (four, two and two digits, no spaces, no other separators) and
  // requires a real date: "2026-02-30" fails. Errors are Error::invalid naming `field`:
  // clock.date_format for the wrong form, clock.date_nonexistent for a day that does not exist.
  static Result<Date> parse(std::string_view text, std::string_view field = "date");

  // The date, if year/month/day is a real date between first_year and last_year.
  static Result<Date> from_calendar(int year, int month, int day, std::string_view field = "date");

  // "YYYY-MM-DD".
  std::string to_string() const;

  int year() const;
  unsigned month() const;
  unsigned day() const;
  std::chrono::year_month_day calendar() const { return std::chrono::year_month_day(days_); }
  std::chrono::weekday weekday() const { return std::chrono::weekday(days_); }
  bool is_weekend() const;

  constexpr std::chrono::sys_days days() const { return days_; }
  constexpr Date plus_days(int count) const { return Date(days_ + std::chrono::days(count)); }

  friend constexpr auto operator<=>(Date, Date) = default;
  friend constexpr bool operator==(Date, Date) = default;

 private:
  std::chrono::sys_days days_{};
};

// Prints to_string(); lets GoogleTest and logs show dates readably.
std::ostream& operator<<(std::ostream& stream, Date date);

// China has one time zone, UTC+8, and has not observed daylight saving time since 1991, so a
// fixed offset gives the legal date everywhere the platform runs, for every date a case can
// have, without depending on the host's time zone database or TZ setting.
inline constexpr std::chrono::hours china_standard_time_offset{8};

// The date in China Standard Time at the instant `time`.
Date local_date(std::chrono::system_clock::time_point time);

// The first instant of `date` in China Standard Time (00:00 Beijing time, 16:00 UTC the day
// before).
std::chrono::system_clock::time_point local_day_start(Date date);

// An instant as ISO 8601 UTC with milliseconds, "2026-11-23T08:05:09.123Z": the one textual form
// of timestamps in the database, the API and the logs. Strings of this form sort in time order.
std::string format_timestamp(std::chrono::system_clock::time_point time);
// Reads exactly that form (the milliseconds may be left out); clock.timestamp_format naming
// `field` otherwise.
Result<std::chrono::system_clock::time_point> parse_timestamp(std::string_view text,
                                                              std::string_view field = "timestamp");

class Clock {
 public:
  virtual ~Clock() = default;
  virtual std::chrono::system_clock::time_point now() const = 0;

  // The date in China Standard Time now.
  Date today() const { return local_date(now()); }
};

// The operating system's wall clock.
class SystemClock final : public Clock {
 public:
  std::chrono::system_clock::time_point now() const override;
};

// A clock that stands still until told to move; for tests and scenario scripts.
class ManualClock final : public Clock {
 public:
  explicit ManualClock(std::chrono::system_clock::time_point start);
  // Starts at 09:00 China Standard Time on `date`, a plausible office hour.
  explicit ManualClock(Date date);

  std::chrono::system_clock::time_point now() const override;
  void set(std::chrono::system_clock::time_point time);
  // Moves time forward (or back, for a negative step).
  void advance(std::chrono::system_clock::duration step);

 private:
  // The time as a count of system_clock ticks since the epoch, so that reads and writes from
  // several threads need no lock.
  std::atomic<std::chrono::system_clock::rep> ticks_;
};

}  // namespace onewindow
