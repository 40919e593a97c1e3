// The supervision routes over HTTP: who may read and act, and bad input named by field.
#include "served_platform.h"

namespace onewindow::cli {
namespace {

using onewindow::testing::http_request;
using onewindow::testing::HttpResponse;

class SupervisionRoutes : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(served_.platform);
    base_ = served_.base + "/api/v1/supervision";
    supervisor_ = served_.bearer({identity::AccountKind::supervisor, "routes.supervisor", "served password 1", "监察员", "",
                                  {}, "", "", ""})
                      .first;
    supervisor_["Content-Type"] = "application/json";
    operator_ = served_.bearer({identity::AccountKind::platform_operator, "routes.operator", "served password 1", "运维", "",
                                {}, "", "", ""})
                    .first;
    operator_["Content-Type"] = "application/json";
    citizen_ = served_.bearer({identity::AccountKind::citizen, "routes.citizen", "served password 1", "张三", "", {},
                               "360426199101010071", "", ""})
                   .first;
  }

  static std::string field_of(const HttpResponse& response) {
    return body_of(response)["error"]["details"].value("field", "");
  }

  ServedPlatform served_;
  std::string base_;
  std::map<std::string, std::string> supervisor_;
  std::map<std::string, std::string> operator_;
  std::map<std::string, std::string> citizen_;
};

TEST_F(SupervisionRoutes, OnlySupervisionMayReadAndOnlySupervisorsCloseCases) {
  for (const std::string path : {"/metrics", "/metrics.csv", "/metrics.xlsx", "/warnings", "/cases", "/applications"}) {
    EXPECT_EQ(http_request("GET", base_ + path, "", citizen_).status, 403) << path;
    EXPECT_EQ(http_request("GET", base_ + path).status, 401) << path;
    EXPECT_EQ(http_request("GET", base_ + path, "", operator_).status, 200) << path;
    EXPECT_EQ(http_request("GET", base_ + path, "", supervisor_).status, 200) << path;
  }
  EXPECT_EQ(http_request("POST", base_ + "/cases/spc_nothing/close", R"({"comment":"x"})", operator_).status, 403);
  HttpResponse unknown = http_request("POST", base_ + "/cases/spc_nothing/close", R"({"comment":"x"})", supervisor_);
  EXPECT_EQ(unknown.status, 404) << unknown.body;
  EXPECT_EQ(body_of(unknown)["error"]["code"], "supervision.case_not_found");
}

TEST_F(SupervisionRoutes, MetricsCountWarningsAndCases) {
  HttpResponse metrics = http_request("GET", served_.base + "/metrics");
  ASSERT_EQ(metrics.status, 200);
  EXPECT_NE(metrics.body.find("onewindow_supervision_warnings_total{level=\"red\"} 0"), std::string::npos) << metrics.body;
  EXPECT_NE(metrics.body.find("onewindow_supervision_cases{status=\"open\"}"), std::string::npos) << metrics.body;
}

TEST_F(SupervisionRoutes, ExportsCarryTheirTypes) {
  HttpResponse csv = http_request("GET", base_ + "/metrics.csv?by=department", "", supervisor_);
  ASSERT_EQ(csv.status, 200) << csv.body;
  EXPECT_EQ(csv.headers["content-type"], "text/csv; charset=utf-8");
  EXPECT_TRUE(csv.body.starts_with("key,name,received,")) << csv.body;
  HttpResponse workbook = http_request("GET", base_ + "/metrics.xlsx?by=official", "", supervisor_);
  ASSERT_EQ(workbook.status, 200);
  EXPECT_EQ(workbook.headers["content-type"], "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet");
  EXPECT_TRUE(workbook.body.starts_with("PK")) << "an .xlsx is a zip file";
}

TEST_F(SupervisionRoutes, BadInputIsNamed) {
  struct Case {
    std::string method, path, body, field;
    int status;
  };
  for (const Case& test : std::vector<Case>{
           {"GET", "/metrics?by=colour", "", "by", 400},
           {"GET", "/metrics?from=2026-13-01", "", "from", 400},
           {"GET", "/metrics?from=2026-12-01&to=2026-11-01", "", "to", 400},
           {"GET", "/metrics.csv?to=yesterday", "", "to", 400},
           {"GET", "/warnings?level=green", "", "level", 400},
           {"GET", "/cases?status=pending", "", "status", 400},
           {"POST", "/cases/spc_nothing/close", R"({})", "comment", 400},
           {"POST", "/cases/spc_nothing/close", R"({"comment":""})", "comment", 400},
           {"POST", "/cases/spc_nothing/close", R"({"comment":"x","extra":1})", "extra", 400},
           {"GET", "/applications/app_nothing/history", "", "id", 404},
       }) {
    HttpResponse response = http_request(test.method, base_ + test.path, test.body, supervisor_);
    EXPECT_EQ(response.status, test.status) << test.path << " " << response.body;
    EXPECT_EQ(field_of(response), test.field) << test.path << " " << response.body;
  }
}

}  // namespace
}  // namespace onewindow::cli
