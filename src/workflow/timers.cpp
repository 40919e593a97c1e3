// When timers fall due: working days on the State Council calendar, or ISO 8601 durations.
#include "workflow/workflow.h"

#include "base/clock.h"

#include <charconv>

namespace onewindow::workflow {

namespace {

struct IsoDuration {
  int years = 0, months = 0, weeks = 0, days = 0, hours = 0, minutes = 0;
  double seconds = 0;
};

// The parts of PnYnMnWnDTnHnMnS; the model reader has checked the form already.
Result<IsoDuration> parse_duration(std::string_view text) {
  IsoDuration duration;
  if (text.size() < 2 || text[0] != 'P') {
    return Error::invalid("workflow.bad_attribute", "timeDuration", "a duration is ISO 8601: P3D, PT4H");
  }
  bool time = false;
  std::size_t at = 1;
  while (at < text.size()) {
    if (text[at] == 'T') {
      time = true;
      ++at;
      continue;
    }
    std::size_t start = at;
    while (at < text.size() && ((text[at] >= '0' && text[at] <= '9') || text[at] == '.')) ++at;
    if (start == at || at >= text.size()) {
      return Error::invalid("workflow.bad_attribute", "timeDuration", "a duration is ISO 8601: P3D, PT4H");
    }
    double value = 0;
    auto [end, error] = std::from_chars(text.data() + start, text.data() + at, value);
    if (error != std::errc() || value > 1e6) {
      return Error::invalid("workflow.bad_attribute", "timeDuration", "a duration's numbers are at most 1,000,000");
    }
    char unit = text[at++];
    int whole = static_cast<int>(value);
    if (!time && unit == 'Y') duration.years = whole;
    else if (!time && unit == 'M') duration.months = whole;
    else if (!time && unit == 'W') duration.weeks = whole;
    else if (!time && unit == 'D') duration.days = whole;
    else if (time && unit == 'H') duration.hours = whole;
    else if (time && unit == 'M') duration.minutes = whole;
    else if (time && unit == 'S') duration.seconds = value;
    else return Error::invalid("workflow.bad_attribute", "timeDuration", "a duration is ISO 8601: P3D, PT4H");
  }
  // The clock counts nanoseconds in 64 bits, about 292 years: P999999D would overflow it (undefined
  // behaviour; in practice a due time wrapped round to another date). No time limit runs for a century.
  constexpr double day_seconds = 86400;
  double total_seconds = (duration.years * 366.0 + duration.months * 31.0 + duration.weeks * 7.0 + duration.days) * day_seconds +
                         duration.hours * 3600.0 + duration.minutes * 60.0 + duration.seconds;
  if (total_seconds > 100 * 366.0 * day_seconds) {
    return Error::invalid("workflow.bad_attribute", "timeDuration", "a duration is at most 100 years");
  }
  return duration;
}

}  // namespace

Status check_timer_duration(const TimerDuration& duration) {
  if (duration.working_days > 0) return ok_status();
  auto parts = parse_duration(duration.iso8601);
  if (!parts.ok()) return parts.take_error();
  return ok_status();
}

Result<std::chrono::system_clock::time_point> due_at(const TimerDuration& duration,
                                                     std::chrono::system_clock::time_point start,
                                                     const WorkingDayCalendar& calendar) {
  using namespace std::chrono;
  if (duration.working_days > 0) {
    auto last = calendar.add_working_days(local_date(start), duration.working_days);
    if (!last.ok()) return last.take_error();
    // The end of that day in China Standard Time: midnight after it, 08:00 earlier in UTC.
    return time_point_cast<system_clock::duration>(sys_days(last->days()) + days(1) - china_standard_time_offset);
  }
  auto parts = parse_duration(duration.iso8601);
  if (!parts.ok()) return parts.take_error();
  system_clock::time_point due = start;
  if (parts->years != 0 || parts->months != 0) {
    // Months on the local calendar, keeping the local time of day.
    auto local = start + china_standard_time_offset;
    auto day = floor<days>(local);
    auto time_of_day = local - day;
    year_month_day date(day);
    year_month shifted = year_month(date.year(), date.month()) + years(parts->years) + months(parts->months);
    year_month_day_last last_day(shifted.year(), month_day_last(shifted.month()));
    year_month_day moved(shifted.year(), shifted.month(), std::min(date.day(), last_day.day()));
    due = time_point_cast<system_clock::duration>(sys_days(moved) + time_of_day - china_standard_time_offset);
  }
  due += weeks(parts->weeks) + days(parts->days) + hours(parts->hours) + minutes(parts->minutes) +
         duration_cast<system_clock::duration>(std::chrono::duration<double>(parts->seconds));
  return due;
}

}  // namespace onewindow::workflow
