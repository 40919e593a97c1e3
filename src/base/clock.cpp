#include "base/clock.h"

#include <cstdio>
#include <ostream>

namespace onewindow {
namespace {

bool is_digit(char character) { return character >= '0' && character <= '9'; }

int read_digits(std::string_view text) {
  int value = 0;
  for (char character : text) value = value * 10 + (character - '0');
  return value;
}

}  // namespace

Result<Date> Date::from_calendar(int year, int month, int day, std::string_view field) {
  // Ranges first: std::chrono::year holds only a short.
  const bool in_range =
      year >= first_year && year <= last_year && month >= 1 && month <= 12 && day >= 1 && day <= 31;
  if (!in_range || !std::chrono::year_month_day(std::chrono::year(year),
                                                std::chrono::month(static_cast<unsigned>(month)),
                                                std::chrono::day(static_cast<unsigned>(day)))
                        .ok()) {
    return Error::invalid("clock.date_nonexistent", std::string(field),
                          std::string(field) + " is not a real date");
  }
  return Date(year, static_cast<unsigned>(month), static_cast<unsigned>(day));
}

Result<Date> Date::parse(std::string_view text, std::string_view field) {
  const bool well_formed = text.size() == 10 && text[4] == '-' && text[7] == '-' &&
                           is_digit(text[0]) && is_digit(text[1]) && is_digit(text[2]) &&
                           is_digit(text[3]) && is_digit(text[5]) && is_digit(text[6]) &&
                           is_digit(text[8]) && is_digit(text[9]);
  if (!well_formed) {
    return Error::invalid("clock.date_format", std::string(field),
                          std::string(field) + " must be a date written YYYY-MM-DD");
  }
  return from_calendar(read_digits(text.substr(0, 4)), read_digits(text.substr(5, 2)),
                       read_digits(text.substr(8, 2)), field);
}

std::string Date::to_string() const {
  const std::chrono::year_month_day calendar = this->calendar();
  char buffer[16];
  std::snprintf(buffer, sizeof buffer, "%04d-%02u-%02u", static_cast<int>(calendar.year()),
                static_cast<unsigned>(calendar.month()), static_cast<unsigned>(calendar.day()));
  return buffer;
}

int Date::year() const { return static_cast<int>(calendar().year()); }
unsigned Date::month() const { return static_cast<unsigned>(calendar().month()); }
unsigned Date::day() const { return static_cast<unsigned>(calendar().day()); }

bool Date::is_weekend() const {
  const std::chrono::weekday day_of_week = weekday();
  return day_of_week == std::chrono::Saturday || day_of_week == std::chrono::Sunday;
}

std::ostream& operator<<(std::ostream& stream, Date date) { return stream << date.to_string(); }

Date local_date(std::chrono::system_clock::time_point time) {
  return Date(std::chrono::floor<std::chrono::days>(time + china_standard_time_offset));
}

std::chrono::system_clock::time_point local_day_start(Date date) {
  return std::chrono::system_clock::time_point(date.days()) - china_standard_time_offset;
}

std::chrono::system_clock::time_point SystemClock::now() const {
  return std::chrono::system_clock::now();
}

ManualClock::ManualClock(std::chrono::system_clock::time_point start)
    : ticks_(start.time_since_epoch().count()) {}

ManualClock::ManualClock(Date date) : ManualClock(local_day_start(date) + std::chrono::hours(9)) {}

std::chrono::system_clock::time_point ManualClock::now() const {
  return std::chrono::system_clock::time_point(
      std::chrono::system_clock::duration(ticks_.load(std::memory_order_acquire)));
}

void ManualClock::set(std::chrono::system_clock::time_point time) {
  ticks_.store(time.time_since_epoch().count(), std::memory_order_release);
}

void ManualClock::advance(std::chrono::system_clock::duration step) {
  ticks_.fetch_add(step.count(), std::memory_order_acq_rel);
}

std::string format_timestamp(std::chrono::system_clock::time_point time) {
  using namespace std::chrono;
  auto milliseconds_since_epoch = floor<milliseconds>(time);
  auto day = floor<days>(milliseconds_since_epoch);
  year_month_day date{day};
  hh_mm_ss clock_time{milliseconds_since_epoch - day};
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, "%04d-%02u-%02uT%02d:%02d:%02d.%03dZ", int(date.year()), unsigned(date.month()),
                unsigned(date.day()), int(clock_time.hours().count()), int(clock_time.minutes().count()),
                int(clock_time.seconds().count()), int(clock_time.subseconds().count()));
  return buffer;
}

Result<std::chrono::system_clock::time_point> parse_timestamp(std::string_view text, std::string_view field) {
  using namespace std::chrono;
  auto failure = [&] {
    return Error::invalid("clock.timestamp_format", std::string(field),
                          std::string(field) + " must be a UTC time like 2026-11-23T08:05:09.123Z");
  };
  if (text.size() != 20 && text.size() != 24) return failure();
  if (text.back() != 'Z' || text[10] != 'T' || text[13] != ':' || text[16] != ':') return failure();
  auto date = Date::parse(text.substr(0, 10), field);
  if (!date.ok()) return failure();
  auto number = [&](std::size_t at, std::size_t count, int& out) {
    out = 0;
    for (std::size_t i = at; i < at + count; ++i) {
      if (text[i] < '0' || text[i] > '9') return false;
      out = out * 10 + (text[i] - '0');
    }
    return true;
  };
  int hour = 0, minute = 0, second = 0, millisecond = 0;
  if (!number(11, 2, hour) || !number(14, 2, minute) || !number(17, 2, second)) return failure();
  if (text.size() == 24 && (text[19] != '.' || !number(20, 3, millisecond))) return failure();
  if (hour > 23 || minute > 59 || second > 59) return failure();
  return system_clock::time_point(date->days()) + hours(hour) + minutes(minute) + seconds(second) +
         milliseconds(millisecond);
}

}  // namespace onewindow
