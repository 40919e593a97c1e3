// The authorization matrix: every route the platform serves, called by every kind of account (and
// by nobody), in its own department and in another. Expectations come from the route table and
// config/roles.yaml, so a new route is covered the moment it is added.
#include "served_platform.h"

#include <gtest/gtest.h>

namespace onewindow::cli {
namespace {

using onewindow::testing::http_request;
using onewindow::testing::HttpResponse;

struct Caller {
  std::string name;
  std::map<std::string, std::string> headers;  // Authorization
  std::optional<identity::Principal> principal;
};

class AuthorizationMatrix : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(served_.platform);
    platform_ = served_.platform.get();
    base_ = served_.base;

    identity::Directory& directory = *platform_->directory;
    market_ = directory.department_by_key("market")->id;
    police_ = directory.department_by_key("police")->id;
    callers_.push_back({"anonymous", {}, std::nullopt});
    add_caller("citizen", {identity::AccountKind::citizen, "matrix.citizen", "matrix password 1", "张三", "", {},
                           "360426199101010071", "", ""});
    add_caller("enterprise_user", {identity::AccountKind::enterprise_user, "matrix.enterprise", "matrix password 1", "李四",
                                   "", {}, "", "91110000600037341L", "legal_representative"});
    add_caller("official of market", {identity::AccountKind::official, "matrix.market", "matrix password 1", "王五", market_,
                                      {"department_administrator"}, "", "", ""});
    add_caller("supervisor", {identity::AccountKind::supervisor, "matrix.supervisor", "matrix password 1", "赵六", "", {}, "",
                              "", ""});
    add_caller("operator", {identity::AccountKind::platform_operator, "matrix.operator", "matrix password 1", "钱七", "", {},
                            "", "", ""});
  }

  void add_caller(const std::string& name, const identity::NewAccount& account) {
    auto [headers, principal] = served_.bearer(account);
    callers_.push_back({name, headers, principal});
  }

  // The path with every parameter filled: the department parameter with `department`, others
  // with a placeholder that names nothing.
  static std::string concrete(const api::Route& route, const std::string& department) {
    std::string path = route.pattern;
    for (auto open = path.find('{'); open != std::string::npos; open = path.find('{')) {
      auto close = path.find('}', open);
      std::string name = path.substr(open + 1, close - open - 1);
      path.replace(open, close - open + 1, name == route.department_parameter ? department : "0");
    }
    return path;
  }

  HttpResponse call(const api::Route& route, const Caller& caller, const std::string& department) {
    auto headers = caller.headers;
    headers["Content-Type"] = "application/json";
    return http_request(route.method, base_ + concrete(route, department), route.method == "GET" ? "" : "{}", headers);
  }

  static std::string code_of(const HttpResponse& response) {
    auto body = nlohmann::json::parse(response.body, nullptr, false);
    if (!body.is_object() || !body.contains("error")) return "";
    return body["error"]["code"].get<std::string>();
  }

  ServedPlatform served_;
  Platform* platform_ = nullptr;
  std::string base_;
  std::string market_, police_;
  std::vector<Caller> callers_;
};

TEST_F(AuthorizationMatrix, EveryRouteForEveryKindOfCaller) {
  int checked = 0, department_checks = 0;
  for (const api::Route& route : platform_->router.routes()) {
    if (route.method == "DELETE" && route.pattern.starts_with("/api/v1/session")) continue;  // would log the caller out
    for (const Caller& caller : callers_) {
      SCOPED_TRACE(caller.name + " " + route.method + " " + route.pattern);
      HttpResponse response = call(route, caller, market_);
      ++checked;
      if (route.permission == "public") {
        // The OAuth endpoints authenticate by their own protocol (client credentials, bearer
        // access tokens of RFC 6750) and answer 401 by its rules; every other public route never
        // asks who is calling.
        if (!route.pattern.starts_with("/oauth2/")) {
          EXPECT_NE(response.status, 401) << response.body;
          EXPECT_NE(response.status, 403) << response.body;
        }
        continue;
      }
      if (!caller.principal) {
        EXPECT_EQ(response.status, 401) << response.body;
        EXPECT_EQ(code_of(response), "identity.unauthenticated");
        continue;
      }
      if (route.permission != "authenticated" && !caller.principal->has(route.permission)) {
        EXPECT_EQ(response.status, 403) << response.body;
        EXPECT_EQ(code_of(response), "identity.permission_denied");
        continue;
      }
      EXPECT_NE(response.status, 401) << response.body;
      EXPECT_NE(response.status, 403) << response.body;
      if (!route.department_parameter.empty()) {
        // The same route for an object of another department is refused.
        HttpResponse other = call(route, caller, police_);
        ++department_checks;
        EXPECT_EQ(other.status, 403) << other.body;
        EXPECT_EQ(code_of(other), "identity.other_department");
      }
    }
  }
  EXPECT_GT(checked, 50);
  EXPECT_GE(department_checks, 1);
}

TEST_F(AuthorizationMatrix, DepartmentScopedPermissionsAlwaysNameTheirDepartment) {
  const identity::AccessPolicy& policy = platform_->directory->policy();
  for (const api::Route& route : platform_->router.routes()) {
    const identity::PermissionDefinition* permission = policy.permission(route.permission);
    if (permission != nullptr && permission->scope == identity::PermissionScope::department) {
      EXPECT_FALSE(route.department_parameter.empty())
          << route.method << " " << route.pattern << " has a department-scoped permission but no department parameter";
    }
  }
}

TEST_F(AuthorizationMatrix, BrowserSessionsNeedTheCsrfTokenForChanges) {
  auto login = http_request("POST", base_ + "/api/v1/session",
                            R"({"username": "matrix.citizen", "password": "matrix password 1"})",
                            {{"Content-Type", "application/json"}});
  ASSERT_EQ(login.status, 200) << login.body;
  std::string cookie = login.headers["set-cookie"];
  EXPECT_THAT(cookie, ::testing::HasSubstr("HttpOnly"));
  EXPECT_THAT(cookie, ::testing::HasSubstr("SameSite=Lax"));
  std::string session = cookie.substr(0, cookie.find(';'));
  std::string csrf = nlohmann::json::parse(login.body)["csrf_token"];
  EXPECT_EQ(login.body.find(session.substr(session.find('=') + 1)), std::string::npos) << "the cookie's value is not in the body";

  auto me = http_request("GET", base_ + "/api/v1/session", "", {{"Cookie", session}});
  EXPECT_EQ(me.status, 200);
  auto forged = http_request("DELETE", base_ + "/api/v1/sessions", "", {{"Cookie", session}});
  EXPECT_EQ(forged.status, 403);
  EXPECT_EQ(code_of(forged), "http.csrf_token");
  auto wrong = http_request("DELETE", base_ + "/api/v1/sessions", "", {{"Cookie", session}, {"X-CSRF-Token", "00"}});
  EXPECT_EQ(wrong.status, 403);
  auto proper = http_request("DELETE", base_ + "/api/v1/session", "", {{"Cookie", session}, {"X-CSRF-Token", csrf}});
  EXPECT_EQ(proper.status, 200) << proper.body;
  EXPECT_EQ(http_request("GET", base_ + "/api/v1/session", "", {{"Cookie", session}}).status, 401);
}

TEST_F(AuthorizationMatrix, ForgedAndEndedTokensAreRefused) {
  EXPECT_EQ(http_request("GET", base_ + "/api/v1/session", "", {{"Authorization", "Bearer forged"}}).status, 401);
  EXPECT_EQ(http_request("GET", base_ + "/api/v1/session", "", {{"Cookie", "onewindow_session=forged"}}).status, 401);
  // Bad credentials on a public route do not stand in the way.
  EXPECT_EQ(http_request("GET", base_ + "/healthz", "", {{"Authorization", "Bearer forged"}}).status, 200);
}

TEST_F(AuthorizationMatrix, LoginErrorsNeverEchoThePassword) {
  auto failed = http_request("POST", base_ + "/api/v1/session",
                             R"({"username": "matrix.citizen", "password": "not the password at all"})",
                             {{"Content-Type", "application/json"}});
  EXPECT_EQ(failed.status, 401);
  EXPECT_EQ(code_of(failed), "identity.login_failed");
  EXPECT_EQ(failed.body.find("not the password"), std::string::npos);
  auto missing = http_request("POST", base_ + "/api/v1/session", R"({"username": "matrix.citizen"})",
                              {{"Content-Type", "application/json"}});
  EXPECT_EQ(missing.status, 400);
  EXPECT_EQ(nlohmann::json::parse(missing.body)["error"]["details"]["field"], "password");
}

}  // namespace
}  // namespace onewindow::cli
