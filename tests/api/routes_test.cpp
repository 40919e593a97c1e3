// Calendar and identifier routes through the router, without a socket.
#include "api/api.h"
#include "base/calendar.h"
#include "base/clock.h"
#include "base/identifiers.h"
#include "testing.h"

#include <gtest/gtest.h>

namespace onewindow::api {
namespace {

class RoutesTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    auto calendar = WorkingDayCalendar::load(onewindow::testing::config_dir() / "calendar");
    ASSERT_TRUE(calendar.ok()) << calendar.error().message;
    calendar_ = new WorkingDayCalendar(std::move(calendar).value());
    auto divisions = DivisionCodes::load(onewindow::testing::config_dir() / "divisions.yaml");
    ASSERT_TRUE(divisions.ok()) << divisions.error().message;
    divisions_ = new DivisionCodes(std::move(divisions).value());
  }
  static void TearDownTestSuite() {
    delete calendar_;
    delete divisions_;
  }
  void SetUp() override {
    add_calendar_routes(router_, *calendar_, clock_);
    add_identifier_routes(router_, *divisions_, clock_);
  }

  Response call(const std::string& method, const std::string& path, const std::string& body = "",
                std::map<std::string, std::string> query = {}) {
    Request request;
    request.method = method;
    request.path = path;
    request.query = std::move(query);
    request.body = body;
    request.request_id = "req_test";
    if (!body.empty()) request.headers["content-type"] = "application/json";
    std::string route;
    return router_.dispatch(request, route);
  }
  static nlohmann::json json(const Response& response) { return nlohmann::json::parse(response.body); }

  static inline WorkingDayCalendar* calendar_ = nullptr;
  static inline DivisionCodes* divisions_ = nullptr;
  ManualClock clock_{Date(2026, 11, 23)};
  Router router_;
};

TEST_F(RoutesTest, DayTellsAdjustedWorkingDaysAndHolidays) {
  Response sunday = call("GET", "/api/v1/calendar/days/2026-01-04");
  ASSERT_EQ(sunday.status, 200) << sunday.body;
  EXPECT_EQ(json(sunday)["working_day"], true);
  EXPECT_EQ(json(sunday)["weekday"], "sunday");
  EXPECT_EQ(json(call("GET", "/api/v1/calendar/days/2026-02-16"))["working_day"], false);
}

TEST_F(RoutesTest, DayRejectsBadDatesNamingTheField) {
  Response bad = call("GET", "/api/v1/calendar/days/2026-02-30");
  EXPECT_EQ(bad.status, 400);
  EXPECT_EQ(json(bad)["error"]["details"]["field"], "date");
  Response unknown_year = call("GET", "/api/v1/calendar/days/2027-03-01");
  EXPECT_EQ(unknown_year.status, 404) << unknown_year.body;
  EXPECT_EQ(json(unknown_year)["error"]["code"], "calendar.year_not_loaded");
}

TEST_F(RoutesTest, DeadlineCountsWorkingDaysAcrossTheSpringFestival) {
  // Friday 2026-02-13; Saturday 14 is a working day, 15 to 23 are off.
  Response response = call("GET", "/api/v1/calendar/deadline", "", {{"start", "2026-02-13"}, {"working_days", "2"}});
  ASSERT_EQ(response.status, 200) << response.body;
  EXPECT_EQ(json(response)["deadline"], "2026-02-24");
  Response from_today = call("GET", "/api/v1/calendar/deadline", "", {{"working_days", "1"}});
  EXPECT_EQ(json(from_today)["start"], "2026-11-23");
  EXPECT_EQ(json(from_today)["deadline"], "2026-11-24");
  Response missing = call("GET", "/api/v1/calendar/deadline");
  EXPECT_EQ(missing.status, 400);
  EXPECT_EQ(json(missing)["error"]["details"]["field"], "working_days");
  Response negative = call("GET", "/api/v1/calendar/deadline", "", {{"working_days", "-3"}});
  EXPECT_EQ(negative.status, 400);
}

TEST_F(RoutesTest, YearListsItsHolidays) {
  Response response = call("GET", "/api/v1/calendar/years/2026");
  ASSERT_EQ(response.status, 200) << response.body;
  EXPECT_GE(json(response)["holidays"].size(), 7u);
}

TEST_F(RoutesTest, IdentifierCheckReportsEachFieldWithoutEchoingIt) {
  Response response = call("POST", "/api/v1/identifiers/check",
                           R"({"citizen_id": "360426199101010071", "unified_social_credit_code": "91110000600037341M",
                               "division": "370285"})");
  ASSERT_EQ(response.status, 200) << response.body;
  auto results = json(response)["results"];
  EXPECT_EQ(results["citizen_id"]["valid"], true);
  EXPECT_EQ(results["unified_social_credit_code"]["valid"], false);
  EXPECT_THAT(results["unified_social_credit_code"]["code"].get<std::string>(), ::testing::HasSubstr("check"));
  EXPECT_EQ(results["division"]["valid"], true);
  Response wrong_id = call("POST", "/api/v1/identifiers/check", R"({"citizen_id": "360426199101010072"})");
  EXPECT_EQ(json(wrong_id)["results"]["citizen_id"]["valid"], false);
  EXPECT_EQ(wrong_id.body.find("360426199101010072"), std::string::npos);
}

TEST_F(RoutesTest, IdentifierCheckRejectsUnknownAndWrongFields) {
  Response unknown = call("POST", "/api/v1/identifiers/check", R"({"passport": "E123"})");
  EXPECT_EQ(unknown.status, 400);
  EXPECT_EQ(json(unknown)["error"]["details"]["field"], "passport");
  Response number = call("POST", "/api/v1/identifiers/check", R"({"division": 370285})");
  EXPECT_EQ(number.status, 400);
  EXPECT_EQ(json(number)["error"]["details"]["field"], "division");
  Response empty = call("POST", "/api/v1/identifiers/check", "{}");
  EXPECT_EQ(empty.status, 400);
}

TEST_F(RoutesTest, DivisionShowsParentAndChildren) {
  Response qingdao = call("GET", "/api/v1/divisions/370200");
  ASSERT_EQ(qingdao.status, 200) << qingdao.body;
  EXPECT_EQ(json(qingdao)["name"], "青岛市");
  EXPECT_EQ(json(qingdao)["parent"]["code"], "370000");
  bool has_laixi = false;
  const nlohmann::json answer = json(qingdao);
  for (const auto& child : answer["children"]) has_laixi = has_laixi || child["code"] == "370285";
  EXPECT_TRUE(has_laixi);
  EXPECT_EQ(call("GET", "/api/v1/divisions/379999").status, 404);
  EXPECT_EQ(call("GET", "/api/v1/divisions/37").status, 400);
}

TEST(Router, StatusTableCoversEveryKind) {
  EXPECT_EQ(status_for(ErrorKind::invalid_argument), 400);
  EXPECT_EQ(status_for(ErrorKind::unauthenticated), 401);
  EXPECT_EQ(status_for(ErrorKind::permission_denied), 403);
  EXPECT_EQ(status_for(ErrorKind::not_found), 404);
  EXPECT_EQ(status_for(ErrorKind::conflict), 409);
  EXPECT_EQ(status_for(ErrorKind::too_large), 413);
  EXPECT_EQ(status_for(ErrorKind::unsupported), 415);
  EXPECT_EQ(status_for(ErrorKind::too_many_requests), 429);
  EXPECT_EQ(status_for(ErrorKind::unavailable), 503);
  EXPECT_EQ(status_for(ErrorKind::internal), 500);
}

TEST(Router, ListenAddressIsCheckedNamingTheField) {
  auto parsed = parse_listen_address("127.0.0.1:8080");
  ASSERT_TRUE(parsed.ok());
  EXPECT_EQ(parsed->first, "127.0.0.1");
  EXPECT_EQ(parsed->second, 8080);
  for (const char* bad : {"8080", "127.0.0.1:", "127.0.0.1:0", "127.0.0.1:70000", "127.0.0.1:80x"}) {
    auto refused = parse_listen_address(bad);
    ASSERT_FALSE(refused.ok()) << bad;
    EXPECT_EQ(refused.error().details["field"], "listen");
  }
}

}  // namespace
}  // namespace onewindow::api
