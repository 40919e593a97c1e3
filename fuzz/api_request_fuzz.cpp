// Fuzz target: HTTP requests as the api Router sees them, without the HTTP library: dispatch
// with the public routes that need no database (identifier checks, the working-day calendar) and
// one route whose handler reads a JSON body the way the main routes' handlers do
// (Request::json_body, only_known_fields, string_field, string_list).
//
// Input: the request line "METHOD PATH" up to the first LF, then the body. The Content-Type is
// application/json unless the method is lower case (then text/plain, to reach that refusal).
// Contract checked: every request gets a response, never a crash, leak or undefined behaviour,
// and never a 500 (a 500 means a handler threw); a JSON response body is valid JSON, and an
// error response is the one envelope with a code.
#include "api/api.h"
#include "base/calendar.h"
#include "base/clock.h"
#include "base/identifiers.h"

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

namespace {
using namespace onewindow;

// A handler shaped like the services and workflow routes' (POST an application, act on a task):
// known fields only, a required and an optional string, a list of strings.
Result<api::Response> fields_handler(const api::Request& request) {
  auto body = request.json_body();
  if (!body.ok()) return body.take_error();
  ONEWINDOW_TRY(api::only_known_fields(*body, {"service", "note", "materials", "form"}));
  auto service = api::string_field(*body, "service", true);
  if (!service.ok()) return service.take_error();
  auto note = api::string_field(*body, "note", false);
  if (!note.ok()) return note.take_error();
  auto materials = api::string_list(*body, "materials");
  if (!materials.ok()) return materials.take_error();
  nlohmann::json form = body->value("form", nlohmann::json::object());
  return api::Response::json(201, {{"service", *service}, {"note", *note}, {"materials", *materials}, {"form", form}});
}

struct Server {
  WorkingDayCalendar calendar;
  DivisionCodes divisions;
  ManualClock clock{Date(2026, 12, 1)};
  api::Router router;
};

Server& server() {
  static Server* loaded = [] {
    const std::string directory = ONEWINDOW_FUZZ_CONFIG_DIR;
    auto calendar = WorkingDayCalendar::load(directory + "/calendar");
    auto divisions = DivisionCodes::load(directory + "/divisions.yaml");
    if (!calendar.ok() || !divisions.ok()) std::abort();  // the fuzz build's config/ is broken
    auto* made = new Server{std::move(calendar).value(), std::move(divisions).value()};
    api::add_identifier_routes(made->router, made->divisions, made->clock);
    api::add_calendar_routes(made->router, made->calendar, made->clock);
    made->router.add({"POST", "/api/v1/fuzz/applications", "public", "A body read as the main routes read theirs.",
                      "fuzz", fields_handler});
    return made;
  }();
  return *loaded;
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view input(reinterpret_cast<const char*>(data), size);
  auto line_end = input.find('\n');
  std::string_view line = input.substr(0, line_end);
  api::Request request;
  auto space = line.find(' ');
  if (space == std::string_view::npos) return 0;
  request.method = std::string(line.substr(0, space));
  request.path = std::string(line.substr(space + 1));
  request.body = line_end == std::string_view::npos ? std::string() : std::string(input.substr(line_end + 1));
  bool lower_case = !request.method.empty() && request.method[0] >= 'a' && request.method[0] <= 'z';
  for (char& c : request.method) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  request.headers["content-type"] = lower_case ? "text/plain" : "application/json; charset=utf-8";
  request.request_id = "req_fuzz";

  std::string route;
  api::Response response = server().router.dispatch(request, route);
  if (response.status >= 500) __builtin_trap();
  if (response.content_type == "application/json") {
    nlohmann::json body = nlohmann::json::parse(response.body, nullptr, false);
    if (body.is_discarded()) __builtin_trap();
    if (response.status >= 400 && !(body.contains("error") && body["error"].value("code", "") != "")) __builtin_trap();
  }
  return 0;
}
