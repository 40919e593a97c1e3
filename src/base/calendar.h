// The working-day calendar: which dates count toward time limits (限时办结).
//
// A working day is Monday to Friday, minus the holiday days off, plus the weekend days declared
// working days (调休), as the State Council announces them each November for the next year. The
// schedule is data: one YAML file per year in a directory (config/calendar/2026.yaml, ...), whose
// format is described at the top of each file and checked by load().
//
// No guessing: a question about a date in a year with no file fails with calendar.year_not_loaded
// (naming the year), also when counting runs into such a year.
//
// Thread safety: a WorkingDayCalendar is immutable once loaded; its const methods may be called
// from several threads at once. To take a new schedule, load a new calendar and swap it in
// (for example through a std::shared_ptr<const WorkingDayCalendar>).
#pragma once

#include <array>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "base/clock.h"
#include "base/result.h"

namespace onewindow {

// The notice a year's schedule comes from.
struct HolidayNotice {
  std::string title;   // 国务院办公厅关于2026年部分节假日安排的通知
  std::string number;  // 国办发明电〔2024〕12号; empty when not recorded
  Date published;
};

struct Holiday {
  std::string name;          // Chinese: 春节
  std::string english_name;  // Spring Festival
  Date first_day_off;        // the days off run from first_day_off to last_day_off, both included
  Date last_day_off;
  std::vector<Date> working_days;  // weekend days made working days for this holiday, by date
};

// One year's file as read.
struct HolidaySchedule {
  int year = 0;
  HolidayNotice source;
  std::vector<Holiday> holidays;  // in the order of the file
};

class WorkingDayCalendar {
 public:
  // Loads every YYYY.yaml file of `directory`; files not ending in .yaml or .yml are ignored, and
  // a .yaml or .yml file with another name is an error (calendar.file_name) rather than silently
  // skipped. Error codes, each naming the file and, for a file's content, the line (1-based) and
  // the field, in the message and in details {file, line, field}:
  //   calendar.directory_unreadable   no such directory, or it cannot be listed
  //   calendar.no_years               the directory holds no year file
  //   calendar.file_name              a .yaml or .yml file not named YYYY.yaml
  //   calendar.file_unreadable        a file cannot be read
  //   calendar.file_syntax            not YAML
  //   calendar.unknown_key            a key the format does not have (a typo)
  //   calendar.field_missing          a required field is absent
  //   calendar.field_invalid          a field of the wrong type, or not a real YYYY-MM-DD date
  //   calendar.year_mismatch          the year field differs from the file name
  //   calendar.date_outside_year      a day off or working day of another year
  //   calendar.range_reversed         days_off.to is before days_off.from
  //   calendar.day_listed_twice       a day in two days-off ranges, or a working day listed twice
  //   calendar.day_off_and_working    a date both a day off and a working day
  //   calendar.working_day_not_weekend  a declared working day that is Monday to Friday anyway
  static Result<WorkingDayCalendar> load(const std::filesystem::path& directory);

  Result<bool> is_working_day(Date date) const;

  // The date on which `days` working days have passed after `start`, start not counted: the
  // earliest date D >= start with working_days_between(start, D) == days. So 0 gives start
  // itself (working day or not); 1 gives the first working day after start, so that an
  // application received on Saturday with a limit of 1 working day is due on Monday. The
  // result is always a working day when days > 0.
  // Errors: calendar.negative_days when days < 0; calendar.year_not_loaded when start or any
  // date up to the result lies in a year with no file.
  Result<Date> add_working_days(Date start, int days) const;

  // The number of working days in (from, to]: after `from`, up to and including `to`. 0 when
  // from == to. When to < from, minus the number of working days in (to, from], so that
  // working_days_between(a, b) == -working_days_between(b, a): a case overdue by 3 working days
  // has working_days_between(now, deadline) == -3.
  // Error: calendar.year_not_loaded when a year from the earlier date to the later one has no file.
  Result<int> working_days_between(Date from, Date to) const;

  // Every holiday day off of `year`, ascending (weekend days inside a holiday's range included,
  // ordinary weekends not). Error: calendar.year_not_loaded.
  Result<std::vector<Date>> days_off(int year) const;

  // The year's file as read; the pointer lives as long as the calendar.
  // Error: calendar.year_not_loaded.
  Result<const HolidaySchedule*> schedule(int year) const;

  // The years loaded, ascending.
  std::vector<int> years() const;

 private:
  struct Year {
    std::chrono::sys_days first_day;
    int day_count = 0;  // 365 or 366
    // working_days_before[i] is the number of working days among the first i days of the year,
    // for i from 0 to day_count: one small table answers every question in constant time, or a
    // binary search for add_working_days.
    std::array<std::uint16_t, 367> working_days_before{};
    HolidaySchedule schedule;
  };

  // The loaded year holding `date`, or calendar.year_not_loaded.
  Result<const Year*> year_of(Date date) const;
  Result<const Year*> loaded_year(int year) const;

  int first_year_ = 0;
  std::vector<std::optional<Year>> years_;  // years_[i] is first_year_ + i; empty when no file
};

}  // namespace onewindow
