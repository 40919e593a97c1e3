// Isolation between citizens and between departments (issue 10), beside the permission matrix of
// authorization_test.cpp: with real data in place (an application with a material, a license,
// a read of the citizen's record), nothing leaks from one citizen to another (applications,
// materials, progress, licenses, who read my data) or from one department to another (an
// application's parts, intake, reads without a grant, tasks).
#include "served_platform.h"

#include <set>

namespace onewindow::cli {
namespace {

using onewindow::testing::http_request;
using onewindow::testing::HttpResponse;

constexpr const char* citizen_id = "360426199101010071";
constexpr const char* other_citizen_id = "44011320141005001X";
const std::string pdf = "%PDF-1.4\n1 0 obj << >> endobj\ntrailer << >>\n%%EOF\n";

using Headers = std::map<std::string, std::string>;

std::string code_of(const HttpResponse& response) {
  return body_of(response)["error"].value("code", "");
}

class Isolation : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(served_.platform);
    api_ = served_.base + "/api/v1";
    auto account = [&](const std::string& name, identity::NewAccount account) {
      auto [headers, principal] = served_.bearer(account);
      headers["Content-Type"] = "application/json";
      callers_[name] = {headers, principal};
    };
    auto department = [&](const std::string& key) { return served_.platform->directory->department_by_key(key)->id; };
    account("citizen", {identity::AccountKind::citizen, "matrix.citizen", "matrix password 1", "张三", "", {}, citizen_id, "", ""});
    account("other citizen", {identity::AccountKind::citizen, "matrix.other", "matrix password 1", "李四", "", {},
                              other_citizen_id, "", ""});
    account("health official", {identity::AccountKind::official, "matrix.health", "matrix password 1", "办事员",
                                department("health"), {}, "", "", ""});
    account("market official", {identity::AccountKind::official, "matrix.market", "matrix password 1", "办事员",
                                department("market"), {}, "", "", ""});
    account("window official", {identity::AccountKind::official, "matrix.window", "matrix password 1", "办事员",
                                department("approval"), {}, "", "", ""});
    account("supervisor", {identity::AccountKind::supervisor, "matrix.supervisor", "matrix password 1", "监察员", "", {},
                           "", "", ""});
    account("operator", {identity::AccountKind::platform_operator, "matrix.operator", "matrix password 1", "运维", "",
                         {}, "", "", ""});
    ASSERT_TRUE(served_.platform->registries
                    ->write("person", citizen_id,
                            {{"name", "张三"}, {"sex", "1"}, {"birth_date", "1991-01-01"}, {"phone", "13812345678"}},
                            "户籍登记", {"acc_police", "police"})
                    .ok());
  }

  const Headers& as(const std::string& name) { return callers_.at(name).first; }
  const identity::Principal& principal(const std::string& name) { return callers_.at(name).second; }

  ServedPlatform served_;
  std::string api_;
  std::map<std::string, std::pair<Headers, identity::Principal>> callers_;
};

TEST_F(Isolation, NothingLeaksBetweenCitizensOrDepartments) {
  Platform& platform = *served_.platform;
  // The citizen's application, with a material, at the window; their license; a read of their data.
  Headers citizen = as("citizen");
  citizen["Idempotency-Key"] = "matrix-1";
  HttpResponse made = http_request("POST", api_ + "/services/QD-CSYJS-001/applications",
                                   nlohmann::json{{"form",
                                                   {{"child_name", "张小宝"}, {"child_sex", "1"}, {"child_birth_date", "2026-11-28"},
                                                    {"birth_hospital", "青岛市妇女儿童医院"}, {"other_parent_name", "李四"},
                                                    {"other_parent_id", other_citizen_id},
                                                    {"household_address", "山东省青岛市莱西市烟台路1号"},
                                                    {"applicant_name", "张三"}, {"applicant_phone", "13812345678"}}}}
                                       .dump(),
                                   citizen);
  ASSERT_EQ(made.status, 201) << made.body;
  std::string application = body_of(made)["id"];
  Headers upload = as("citizen");
  upload["Content-Type"] = "application/pdf";
  ASSERT_EQ(http_request("PUT", api_ + "/applications/" + application + "/materials/birth_record?file_name=a.pdf", pdf, upload)
                .status,
            200);
  license::IssueRequest household{"household_registration", "张三", citizen_id};
  household.data = {{"address", "山东省青岛市莱西市烟台路1号"}};
  auto issued = platform.licenses->issue(household, {"acc_police", "police"});
  ASSERT_TRUE(issued.ok()) << issued.error().message;
  auto resource = platform.catalog->registry_resource("person");
  ASSERT_TRUE(resource.ok());
  auto requested = platform.catalog->request_grant(
      {resource->id, {"name"}, "核验 check", "《条例》", "2030-12-31"}, {principal("health official").account_id, "health", ""});
  ASSERT_TRUE(requested.ok()) << requested.error().message;
  ASSERT_TRUE(platform.catalog->decide(requested->id, true, "", {"acc_police", "police", ""}).ok());
  ASSERT_EQ(http_request("GET", api_ + "/exchange/resources/" + resource->id + "/records/" + citizen_id, "",
                         as("health official"))
                .status,
            200);

  struct Case {
    std::string caller, method, path;
    int status;
    std::string body = "{}";  // a valid body, so that the answer is about who asks
  };
  const std::string app = "/applications/" + application;
  const std::string license = "/licenses/" + issued->identifier;
  for (const Case& test : std::vector<Case>{
           // The citizen sees their own.
           {"citizen", "GET", app, 200},
           {"citizen", "GET", app + "/progress", 200},
           {"citizen", "GET", app + "/materials/birth_record", 200},
           {"citizen", "GET", license + "/pdf", 200},
           // Another citizen learns nothing, not even that it exists.
           {"other citizen", "GET", app, 404},
           {"other citizen", "GET", app + "/progress", 404},
           {"other citizen", "GET", app + "/materials/birth_record", 404},
           {"other citizen", "PUT", app + "/form", 404, R"({"form":{"child_name":"王"}})"},
           {"other citizen", "POST", app + "/submit", 404},
           {"other citizen", "POST", app + "/rating", 404, R"({"level":5})"},
           {"other citizen", "GET", license + "/pdf", 404},
           {"other citizen", "POST", license + "/presentations", 404, R"({"department":"market","purpose":"办事"})"},
           // A department that does not implement the service sees nothing of it.
           {"market official", "GET", app, 404},
           {"market official", "GET", app + "/materials/birth_record", 404},
           {"market official", "POST", app + "/intake", 404, R"({"decision":"accept"})"},
           // Only the window takes it in; a department that implements it sees only its part.
           {"health official", "POST", app + "/intake", 403, R"({"decision":"accept"})"},
           // A read without a grant is refused, naming what is missing.
           {"market official", "GET", "/exchange/resources/" + resource->id + "/records/" + citizen_id, 403},
       }) {
    HttpResponse response = http_request(test.method, api_ + test.path, test.method == "GET" ? "" : test.body, as(test.caller));
    EXPECT_EQ(response.status, test.status) << test.caller << " " << test.method << " " << test.path << ": " << response.body;
  }

  // Lists are each caller's own.
  auto reads_of = [&](const std::string& caller) {
    return body_of(http_request("GET", api_ + "/me/data-reads", "", as(caller)))["reads"];
  };
  EXPECT_FALSE(reads_of("citizen").empty()) << "health's read of the citizen";
  EXPECT_TRUE(reads_of("other citizen").empty());
  auto licenses_of = [&](const std::string& caller) {
    return body_of(http_request("GET", api_ + "/me/licenses", "", as(caller)))["licenses"];
  };
  EXPECT_EQ(licenses_of("citizen").size(), 1u);
  EXPECT_TRUE(licenses_of("other citizen").empty());
  auto applications_of = [&](const std::string& caller) {
    return body_of(http_request("GET", api_ + "/me/applications", "", as(caller)))["applications"];
  };
  EXPECT_EQ(applications_of("citizen").size(), 1u);
  EXPECT_TRUE(applications_of("other citizen").empty());
  // The health official's view of the application holds health's fields only, and no other
  // department's materials.
  Headers submit = as("citizen");
  ASSERT_EQ(http_request("POST", api_ + app + "/submit", "", submit).status, 200);
  ASSERT_EQ(http_request("POST", api_ + app + "/intake", R"({"decision":"accept"})", as("window official")).status, 200);
  HttpResponse part = http_request("GET", api_ + app, "", as("health official"));
  ASSERT_EQ(part.status, 200) << part.body;
  nlohmann::json seen = body_of(part);
  EXPECT_TRUE(seen["form"].contains("birth_hospital")) << seen.dump();
  EXPECT_FALSE(seen["form"].contains("household_address")) << "meant for police, medins and hrss: " << seen.dump();
  HttpResponse market_view = http_request("GET", api_ + app, "", as("market official"));
  EXPECT_EQ(market_view.status, 404) << "market does not implement the newborn pack";
  // Tasks of another department cannot be acted on.
  auto inbox = body_of(http_request("GET", api_ + "/workflow/tasks", "", as("market official")));
  for (const auto& task : inbox["tasks"]) EXPECT_EQ(task["candidate_department"], "market") << task.dump();
}

}  // namespace
}  // namespace onewindow::cli
