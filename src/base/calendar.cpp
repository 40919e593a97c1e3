#include "base/calendar.h"

#include "base/config.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <fstream>
#include <sstream>

namespace onewindow {
namespace {

Error year_not_loaded(int year) {
  return Error(ErrorKind::not_found, "calendar.year_not_loaded",
               "no working-day calendar is loaded for " + std::to_string(year) + " (add calendar/" +
                   std::to_string(year) + ".yaml once the State Council publishes its schedule)",
               nlohmann::json{{"year", year}});
}

bool all_digits(std::string_view text) {
  return !text.empty() &&
         std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// Reads one year's file, reporting the first problem as "file:line: field: problem" (like a
// compiler, so that an operator can jump to it) with details {file, line, field}.
class YearFileReader {
 public:
  YearFileReader(std::filesystem::path file, int year) : file_(std::move(file)), year_(year) {
    const std::chrono::year_month_day first{std::chrono::year(year), std::chrono::January,
                                            std::chrono::day(1)};
    first_day_ = std::chrono::sys_days(first);
    day_count_ = std::chrono::year(year).is_leap() ? 366 : 365;
  }

  Error error(const char* code, int line, const std::string& field,
              const std::string& problem) const {
    return config_error(code, file_.string(), line, field, problem);
  }

  Error error(const char* code, const YAML::Node& node, const std::string& field,
              const std::string& problem) const {
    return error(code, node.Mark().line + 1, field, problem);
  }

  // Only `allowed` keys may appear in `map`: a misspelt key must not be silently ignored.
  Status check_keys(const YAML::Node& map, const std::string& field,
                    std::initializer_list<std::string_view> allowed) const {
    if (!map.IsMap()) {
      return error("calendar.field_invalid", map, field, "must be a mapping");
    }
    for (const auto& entry : map) {
      const std::string& key = entry.first.Scalar();
      if (std::find(allowed.begin(), allowed.end(), key) == allowed.end()) {
        std::string known;
        for (std::string_view name : allowed) {
          known += known.empty() ? "" : ", ";
          known += name;
        }
        return error("calendar.unknown_key", entry.first, join(field, key),
                     "is not a known key (" + known + ")");
      }
    }
    return ok_status();
  }

  Result<YAML::Node> required(const YAML::Node& map, const char* key,
                              const std::string& field) const {
    const YAML::Node value = map[key];
    if (!value || value.IsNull()) {
      return error("calendar.field_missing", map, join(field, key), "is missing");
    }
    return value;
  }

  Result<std::string> text(const YAML::Node& node, const std::string& field) const {
    if (!node.IsScalar() || node.Scalar().empty()) {
      return error("calendar.field_invalid", node, field, "must be a non-empty string");
    }
    return node.Scalar();
  }

  Result<Date> date(const YAML::Node& node, const std::string& field) const {
    if (!node.IsScalar()) {
      return error("calendar.field_invalid", node, field, "must be a date written YYYY-MM-DD");
    }
    Result<Date> parsed = Date::parse(node.Scalar(), field);
    if (!parsed.ok()) {
      const bool nonexistent = parsed.error().code == "clock.date_nonexistent";
      return error("calendar.field_invalid", node, field,
                   node.Scalar() +
                       (nonexistent ? " is not a real date" : " is not a date written YYYY-MM-DD"));
    }
    return parsed;
  }

  // A date of this file's year, as a day index (0 for January 1).
  Result<int> day_of_year(const YAML::Node& node, const std::string& field) const {
    Result<Date> value = date(node, field);
    if (!value.ok()) return value.take_error();
    if (value->year() != year_) {
      return error("calendar.date_outside_year", node, field,
                   value->to_string() + " is not in " + std::to_string(year_) +
                       " (a day of another year goes in that year's file)");
    }
    return static_cast<int>((value->days() - first_day_).count());
  }

  static std::string join(const std::string& field, std::string_view key) {
    return field.empty() ? std::string(key) : field + "." + std::string(key);
  }

  const std::filesystem::path& file() const { return file_; }
  int year() const { return year_; }
  std::chrono::sys_days first_day() const { return first_day_; }
  int day_count() const { return day_count_; }

 private:
  std::filesystem::path file_;
  int year_;
  std::chrono::sys_days first_day_;
  int day_count_;
};

// What a file says about each day of its year, with the line that said it, so that a conflict
// names both lines.
struct DayMarks {
  std::array<int, 366> day_off_line{};  // 0: not a day off
  std::array<int, 366> working_line{};  // 0: not a declared working day
};

Status read_holiday(const YearFileReader& reader, const YAML::Node& node, const std::string& field,
                    DayMarks& marks, Holiday& holiday) {
  ONEWINDOW_TRY(reader.check_keys(node, field, {"name", "name_en", "days_off", "working_days"}));

  Result<YAML::Node> name = reader.required(node, "name", field);
  if (!name.ok()) return name.take_error();
  Result<std::string> name_text = reader.text(*name, field + ".name");
  if (!name_text.ok()) return name_text.take_error();
  holiday.name = std::move(*name_text);

  Result<YAML::Node> english_name = reader.required(node, "name_en", field);
  if (!english_name.ok()) return english_name.take_error();
  Result<std::string> english_text = reader.text(*english_name, field + ".name_en");
  if (!english_text.ok()) return english_text.take_error();
  holiday.english_name = std::move(*english_text);

  const std::string range_field = field + ".days_off";
  Result<YAML::Node> range_result = reader.required(node, "days_off", field);
  if (!range_result.ok()) return range_result.take_error();
  const YAML::Node& range = *range_result;
  ONEWINDOW_TRY(reader.check_keys(range, range_field, {"from", "to"}));
  Result<YAML::Node> from_node = reader.required(range, "from", range_field);
  if (!from_node.ok()) return from_node.take_error();
  Result<YAML::Node> to_node = reader.required(range, "to", range_field);
  if (!to_node.ok()) return to_node.take_error();
  Result<int> from = reader.day_of_year(*from_node, range_field + ".from");
  if (!from.ok()) return from.take_error();
  Result<int> to = reader.day_of_year(*to_node, range_field + ".to");
  if (!to.ok()) return to.take_error();
  if (*to < *from) {
    return reader.error("calendar.range_reversed", *to_node, range_field + ".to",
                        "is before days_off.from");
  }
  const int range_line = range.Mark().line + 1;
  for (int day = *from; day <= *to; ++day) {
    const Date date(reader.first_day() + std::chrono::days(day));
    if (marks.day_off_line[day] != 0) {
      return reader.error("calendar.day_listed_twice", range_line, range_field,
                          date.to_string() + " is already a day off at line " +
                              std::to_string(marks.day_off_line[day]));
    }
    if (marks.working_line[day] != 0) {
      return reader.error("calendar.day_off_and_working", range_line, range_field,
                          date.to_string() + " is declared a working day at line " +
                              std::to_string(marks.working_line[day]));
    }
    marks.day_off_line[day] = range_line;
  }
  holiday.first_day_off = Date(reader.first_day() + std::chrono::days(*from));
  holiday.last_day_off = Date(reader.first_day() + std::chrono::days(*to));

  const YAML::Node working_days = node["working_days"];
  if (!working_days || working_days.IsNull()) return ok_status();
  if (!working_days.IsSequence()) {
    return reader.error("calendar.field_invalid", working_days, field + ".working_days",
                        "must be a list of dates");
  }
  for (std::size_t index = 0; index < working_days.size(); ++index) {
    const YAML::Node item = working_days[index];
    const std::string item_field = field + ".working_days[" + std::to_string(index) + "]";
    Result<int> day = reader.day_of_year(item, item_field);
    if (!day.ok()) return day.take_error();
    const Date date(reader.first_day() + std::chrono::days(*day));
    const int line = item.Mark().line + 1;
    if (!date.is_weekend()) {
      return reader.error("calendar.working_day_not_weekend", line, item_field,
                          date.to_string() + " is a weekday, a working day anyway");
    }
    if (marks.working_line[*day] != 0) {
      return reader.error("calendar.day_listed_twice", line, item_field,
                          date.to_string() + " is already a working day at line " +
                              std::to_string(marks.working_line[*day]));
    }
    if (marks.day_off_line[*day] != 0) {
      return reader.error(
          "calendar.day_off_and_working", line, item_field,
          date.to_string() + " is a day off at line " + std::to_string(marks.day_off_line[*day]));
    }
    marks.working_line[*day] = line;
    holiday.working_days.push_back(date);
  }
  std::sort(holiday.working_days.begin(), holiday.working_days.end());
  return ok_status();
}

Status read_year(const YearFileReader& reader, const YAML::Node& root, HolidaySchedule& schedule,
                 DayMarks& marks) {
  if (!root.IsMap()) {
    return reader.error("calendar.field_invalid", root, "",
                        "must be a mapping with the keys year, source and holidays");
  }
  ONEWINDOW_TRY(reader.check_keys(root, "", {"year", "source", "holidays"}));

  Result<YAML::Node> year = reader.required(root, "year", "");
  if (!year.ok()) return year.take_error();
  if (!year->IsScalar() || year->Scalar().size() != 4 || !all_digits(year->Scalar())) {
    return reader.error("calendar.field_invalid", *year, "year", "must be a year of 4 digits");
  }
  if (std::stoi(year->Scalar()) != reader.year()) {
    return reader.error(
        "calendar.year_mismatch", *year, "year",
        year->Scalar() + " differs from the file name's " + std::to_string(reader.year()));
  }
  schedule.year = reader.year();

  Result<YAML::Node> source = reader.required(root, "source", "");
  if (!source.ok()) return source.take_error();
  const YAML::Node& source_node = *source;
  ONEWINDOW_TRY(reader.check_keys(source_node, "source", {"title", "number", "published"}));
  Result<YAML::Node> title = reader.required(source_node, "title", "source");
  if (!title.ok()) return title.take_error();
  Result<std::string> title_text = reader.text(*title, "source.title");
  if (!title_text.ok()) return title_text.take_error();
  schedule.source.title = std::move(*title_text);
  if (const YAML::Node number = source_node["number"]; number && !number.IsNull()) {
    Result<std::string> number_text = reader.text(number, "source.number");
    if (!number_text.ok()) return number_text.take_error();
    schedule.source.number = std::move(*number_text);
  }
  Result<YAML::Node> published = reader.required(source_node, "published", "source");
  if (!published.ok()) return published.take_error();
  Result<Date> published_date = reader.date(*published, "source.published");
  if (!published_date.ok()) return published_date.take_error();
  schedule.source.published = *published_date;

  Result<YAML::Node> holidays = reader.required(root, "holidays", "");
  if (!holidays.ok()) return holidays.take_error();
  if (!holidays->IsSequence()) {
    return reader.error("calendar.field_invalid", *holidays, "holidays",
                        "must be a list of holidays");
  }
  const YAML::Node& holiday_list = *holidays;
  for (std::size_t index = 0; index < holiday_list.size(); ++index) {
    Holiday holiday;
    ONEWINDOW_TRY(read_holiday(reader, holiday_list[index],
                               "holidays[" + std::to_string(index) + "]", marks, holiday));
    schedule.holidays.push_back(std::move(holiday));
  }
  return ok_status();
}

Result<std::string> read_text_file(const std::filesystem::path& file) {
  std::ifstream stream(file, std::ios::binary);
  if (!stream) {
    return Error(ErrorKind::unavailable, "calendar.file_unreadable",
                 file.string() + ": cannot be read", nlohmann::json{{"file", file.string()}});
  }
  std::ostringstream text;
  text << stream.rdbuf();
  return text.str();
}

// The year of a file named YYYY.yaml, or nothing.
std::optional<int> year_of_file_name(const std::filesystem::path& file) {
  const std::string stem = file.stem().string();
  if (file.extension() != ".yaml" || stem.size() != 4 || !all_digits(stem)) return std::nullopt;
  const int year = std::stoi(stem);
  if (year < Date::first_year || year > Date::last_year) return std::nullopt;
  return year;
}

}  // namespace

Result<WorkingDayCalendar> WorkingDayCalendar::load(const std::filesystem::path& directory) {
  std::error_code failure;
  std::vector<std::pair<int, std::filesystem::path>> files;
  std::filesystem::directory_iterator iterator(directory, failure);
  if (failure) {
    return Error(ErrorKind::not_found, "calendar.directory_unreadable",
                 directory.string() + ": cannot be listed: " + failure.message(),
                 nlohmann::json{{"file", directory.string()}});
  }
  for (; iterator != std::filesystem::directory_iterator(); iterator.increment(failure)) {
    if (failure) break;
    const std::filesystem::path& path = iterator->path();
    if (path.extension() != ".yaml" && path.extension() != ".yml") continue;
    const std::optional<int> year = year_of_file_name(path);
    if (!year) {
      return Error(ErrorKind::invalid_argument, "calendar.file_name",
                   path.string() + ": a calendar file is named after its year, like 2026.yaml",
                   nlohmann::json{{"file", path.string()}, {"line", 0}, {"field", ""}});
    }
    files.emplace_back(*year, path);
  }
  if (failure) {
    return Error(ErrorKind::unavailable, "calendar.directory_unreadable",
                 directory.string() + ": cannot be listed: " + failure.message(),
                 nlohmann::json{{"file", directory.string()}});
  }
  if (files.empty()) {
    return Error(ErrorKind::not_found, "calendar.no_years",
                 directory.string() + ": holds no calendar file (YYYY.yaml)",
                 nlohmann::json{{"file", directory.string()}});
  }
  std::sort(files.begin(), files.end());

  WorkingDayCalendar calendar;
  calendar.first_year_ = files.front().first;
  calendar.years_.resize(static_cast<std::size_t>(files.back().first - files.front().first + 1));
  for (const auto& [year_number, file] : files) {
    Result<std::string> text = read_text_file(file);
    if (!text.ok()) return text.take_error();
    const YearFileReader reader(file, year_number);
    Year year;
    DayMarks marks;
    // yaml-cpp reports problems by exception; none may leave this function.
    try {
      const YAML::Node root = YAML::Load(*text);
      ONEWINDOW_TRY(read_year(reader, root, year.schedule, marks));
    } catch (const YAML::Exception& exception) {
      return reader.error("calendar.file_syntax", exception.mark.line + 1, "", exception.msg);
    }
    year.first_day = reader.first_day();
    year.day_count = reader.day_count();
    for (int day = 0; day < year.day_count; ++day) {
      const Date date(year.first_day + std::chrono::days(day));
      const bool working =
          marks.working_line[day] != 0 || (!date.is_weekend() && marks.day_off_line[day] == 0);
      year.working_days_before[day + 1] =
          static_cast<std::uint16_t>(year.working_days_before[day] + (working ? 1 : 0));
    }
    calendar.years_[static_cast<std::size_t>(year_number - calendar.first_year_)] = std::move(year);
  }
  return calendar;
}

Result<const WorkingDayCalendar::Year*> WorkingDayCalendar::loaded_year(int year) const {
  const long index = static_cast<long>(year) - first_year_;
  if (index < 0 || index >= static_cast<long>(years_.size()) ||
      !years_[static_cast<std::size_t>(index)]) {
    return year_not_loaded(year);
  }
  return &*years_[static_cast<std::size_t>(index)];
}

Result<const WorkingDayCalendar::Year*> WorkingDayCalendar::year_of(Date date) const {
  return loaded_year(date.year());
}

namespace {

// Index of `date` in its year (0 for January 1).
std::size_t day_index(std::chrono::sys_days first_day, Date date) {
  return static_cast<std::size_t>((date.days() - first_day).count());
}

}  // namespace

Result<bool> WorkingDayCalendar::is_working_day(Date date) const {
  Result<const Year*> year = year_of(date);
  if (!year.ok()) return year.take_error();
  const std::size_t index = day_index((*year)->first_day, date);
  return (*year)->working_days_before[index + 1] != (*year)->working_days_before[index];
}

Result<Date> WorkingDayCalendar::add_working_days(Date start, int days) const {
  if (days < 0) {
    return Error::invalid("calendar.negative_days", "days",
                          "days must be 0 or more, not " + std::to_string(days));
  }
  Result<const Year*> year = year_of(start);
  if (!year.ok()) return year.take_error();
  if (days == 0) return start;
  const Year* current = *year;
  // The target counted as working days from the start of `current`, so that the answer is the
  // first day whose running count reaches it.
  std::int64_t target =
      std::int64_t{current->working_days_before[day_index(current->first_day, start) + 1]} + days;
  while (true) {
    const auto& counts = current->working_days_before;
    const std::uint16_t total = counts[static_cast<std::size_t>(current->day_count)];
    if (target <= total) {
      const auto end = counts.begin() + current->day_count + 1;
      const auto found =
          std::lower_bound(counts.begin() + 1, end, target,
                           [](std::uint16_t count, std::int64_t wanted) { return count < wanted; });
      return Date(current->first_day + std::chrono::days(found - counts.begin() - 1));
    }
    target -= total;
    Result<const Year*> next = loaded_year(current->schedule.year + 1);
    if (!next.ok()) return next.take_error();
    current = *next;
  }
}

Result<int> WorkingDayCalendar::working_days_between(Date from, Date to) const {
  if (to < from) {
    Result<int> reversed = working_days_between(to, from);
    if (!reversed.ok()) return reversed.take_error();
    return -*reversed;
  }
  Result<const Year*> from_year = year_of(from);
  if (!from_year.ok()) return from_year.take_error();
  const Year& first = **from_year;
  const int from_count = first.working_days_before[day_index(first.first_day, from) + 1];
  if (to.year() == from.year()) {
    return first.working_days_before[day_index(first.first_day, to) + 1] - from_count;
  }
  int count = first.working_days_before[static_cast<std::size_t>(first.day_count)] - from_count;
  for (int between = from.year() + 1; between < to.year(); ++between) {
    Result<const Year*> year = loaded_year(between);
    if (!year.ok()) return year.take_error();
    count += (*year)->working_days_before[static_cast<std::size_t>((*year)->day_count)];
  }
  Result<const Year*> to_year = year_of(to);
  if (!to_year.ok()) return to_year.take_error();
  return count + (*to_year)->working_days_before[day_index((*to_year)->first_day, to) + 1];
}

Result<std::vector<Date>> WorkingDayCalendar::days_off(int year) const {
  Result<const Year*> loaded = loaded_year(year);
  if (!loaded.ok()) return loaded.take_error();
  std::vector<Date> dates;
  for (const Holiday& holiday : (*loaded)->schedule.holidays) {
    for (Date date = holiday.first_day_off; date <= holiday.last_day_off;
         date = date.plus_days(1)) {
      dates.push_back(date);
    }
  }
  std::sort(dates.begin(), dates.end());
  return dates;
}

Result<const HolidaySchedule*> WorkingDayCalendar::schedule(int year) const {
  Result<const Year*> loaded = loaded_year(year);
  if (!loaded.ok()) return loaded.take_error();
  return &(*loaded)->schedule;
}

std::vector<int> WorkingDayCalendar::years() const {
  std::vector<int> loaded;
  for (std::size_t index = 0; index < years_.size(); ++index) {
    if (years_[index]) loaded.push_back(first_year_ + static_cast<int>(index));
  }
  return loaded;
}

}  // namespace onewindow
