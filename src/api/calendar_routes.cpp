#include "api/api.h"

#include "base/calendar.h"

#include <charconv>

namespace onewindow::api {

namespace {
Result<int> parse_whole_number(const std::string& text, std::string_view field, int minimum, int maximum) {
  int value = 0;
  auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || error != std::errc() || end != text.data() + text.size() || value < minimum || value > maximum) {
    return Error::invalid("http.bad_parameter", std::string(field),
                          std::string(field) + " must be a whole number from " + std::to_string(minimum) + " to " +
                              std::to_string(maximum));
  }
  return value;
}

const char* weekday_name(std::chrono::weekday weekday) {
  static const char* names[] = {"sunday", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday"};
  return names[weekday.c_encoding()];
}
}  // namespace

void add_calendar_routes(Router& router, const WorkingDayCalendar& calendar, const Clock& clock) {
  router.add({"GET", "/api/v1/calendar/days/{date}", "public",
              "Whether a date (YYYY-MM-DD) is a working day under the State Council holiday schedule.", "calendar",
              [&calendar](const Request& request) -> Result<Response> {
                auto date = Date::parse(request.path_parameters.at("date"), "date");
                if (!date.ok()) return date.take_error();
                auto working = calendar.is_working_day(*date);
                if (!working.ok()) return working.take_error();
                return Response::json(200, {{"date", date->to_string()},
                                            {"weekday", weekday_name(date->weekday())},
                                            {"working_day", *working}});
              },
              nullptr,
              {{"type", "object"},
               {"properties", {{"date", {{"type", "string"}}}, {"weekday", {{"type", "string"}}}, {"working_day", {{"type", "boolean"}}}}}}});

  router.add({"GET", "/api/v1/calendar/deadline", "public",
              "The date a time limit of working_days falls due when counted from start (default today), start not counted.",
              "calendar",
              [&calendar, &clock](const Request& request) -> Result<Response> {
                Date start = clock.today();
                if (auto given = request.query.find("start"); given != request.query.end()) {
                  auto parsed = Date::parse(given->second, "start");
                  if (!parsed.ok()) return parsed.take_error();
                  start = *parsed;
                }
                auto days_text = request.query.find("working_days");
                if (days_text == request.query.end()) {
                  return Error::invalid("http.missing_parameter", "working_days", "working_days is required");
                }
                auto days = parse_whole_number(days_text->second, "working_days", 0, 3650);
                if (!days.ok()) return days.take_error();
                auto deadline = calendar.add_working_days(start, *days);
                if (!deadline.ok()) return deadline.take_error();
                return Response::json(200, {{"start", start.to_string()}, {"working_days", *days}, {"deadline", deadline->to_string()}});
              }});

  router.add({"GET", "/api/v1/calendar/years/{year}", "public",
              "A year's holidays, days off and adjusted working days, with the notice they come from.", "calendar",
              [&calendar](const Request& request) -> Result<Response> {
                auto year = parse_whole_number(request.path_parameters.at("year"), "year", 1, 9999);
                if (!year.ok()) return year.take_error();
                auto schedule = calendar.schedule(*year);
                if (!schedule.ok()) return schedule.take_error();
                nlohmann::json holidays = nlohmann::json::array();
                for (const Holiday& holiday : (*schedule)->holidays) {
                  nlohmann::json working = nlohmann::json::array();
                  for (Date day : holiday.working_days) working.push_back(day.to_string());
                  holidays.push_back({{"name", holiday.name},
                                      {"name_en", holiday.english_name},
                                      {"days_off", {{"from", holiday.first_day_off.to_string()}, {"to", holiday.last_day_off.to_string()}}},
                                      {"working_days", working}});
                }
                const HolidayNotice& source = (*schedule)->source;
                return Response::json(200, {{"year", *year},
                                            {"source", {{"title", source.title}, {"number", source.number}, {"published", source.published.to_string()}}},
                                            {"holidays", holidays}});
              }});
}

}  // namespace onewindow::api
