// Web security in one place, over real HTTP against the whole platform: the headers every answer
// carries, the session cookie's attributes, CSRF, the limits on logging in, and what an upload may
// be. Each of these was first tested where it was built; this file lists them together so that an
// auditor reads one file. (That no log line holds a secret or an ID number is checked over the
// logs of whole runs under load, in crash_test.cpp; the web UI's own page policy in
// tests/api/web_routes_test.cpp.)
#include "served_platform.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace onewindow::cli {
namespace {

using onewindow::testing::http_request;
using onewindow::testing::HttpResponse;
using ::testing::HasSubstr;
using ::testing::Not;

constexpr const char* citizen_id = "360426199101010071";
const std::string pdf = "%PDF-1.4\n1 0 obj << >> endobj\ntrailer << >>\n%%EOF\n";
const std::string png = std::string("\x89PNG\r\n\x1a\n", 8) + std::string(64, '\0');
const std::map<std::string, std::string> json_body = {{"Content-Type", "application/json"}};

std::string code_of(const HttpResponse& response) {
  auto body = body_of(response);
  if (!body.is_object() || !body.contains("error")) return "";
  return body["error"]["code"];
}

class WebSecurity : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(served_.platform);
    base_ = served_.base;
    citizen_ = served_
                   .bearer({identity::AccountKind::citizen, "security.citizen", "security password 1", "张三", "", {},
                            citizen_id, "", ""})
                   .first;
  }

  HttpResponse login(const std::string& username, const std::string& password, const std::string& extra = "") {
    return http_request("POST", base_ + "/api/v1/session",
                        R"({"username":")" + username + R"(","password":")" + password + "\"" + extra + "}", json_body);
  }

  ServedPlatform served_;
  std::string base_;
  std::map<std::string, std::string> citizen_;
};

TEST_F(WebSecurity, EveryAnswerCarriesTheSecurityHeaders) {
  struct Case {
    std::string name;
    HttpResponse response;
  };
  std::vector<Case> cases = {
      {"a public answer", http_request("GET", base_ + "/healthz")},
      {"an answer to a logged-in caller", http_request("GET", base_ + "/api/v1/me/applications", "", citizen_)},
      {"a refusal", http_request("GET", base_ + "/api/v1/me/applications")},
      {"an unknown route", http_request("GET", base_ + "/api/v1/no-such-thing")},
      {"a malformed body", http_request("POST", base_ + "/api/v1/session", "{", json_body)},
  };
  for (const Case& one : cases) {
    SCOPED_TRACE(one.name);
    ASSERT_GT(one.response.status, 0);
    auto headers = one.response.headers;
    EXPECT_EQ(headers["x-content-type-options"], "nosniff");
    EXPECT_EQ(headers["cache-control"], "no-store") << "personal data is never kept by a cache on the way";
    EXPECT_EQ(headers["x-frame-options"], "DENY");
    EXPECT_EQ(headers["referrer-policy"], "no-referrer");
    EXPECT_EQ(headers["content-security-policy"], "default-src 'none'; frame-ancestors 'none'");
    EXPECT_FALSE(headers["x-request-id"].empty());
    EXPECT_EQ(headers.count("access-control-allow-origin"), 0u);
  }
  // Another site's page asking: no answer says it may read it.
  auto foreign = http_request("GET", base_ + "/api/v1/me/applications", "",
                              {{"Authorization", citizen_["Authorization"]}, {"Origin", "https://evil.example"}});
  EXPECT_EQ(foreign.headers.count("access-control-allow-origin"), 0u);
  auto preflight = http_request("OPTIONS", base_ + "/api/v1/me/applications", "",
                                {{"Origin", "https://evil.example"}, {"Access-Control-Request-Method", "DELETE"}});
  EXPECT_GE(preflight.status, 400) << "no cross-origin preflight is granted";
  EXPECT_EQ(preflight.headers.count("access-control-allow-origin"), 0u);
}

TEST_F(WebSecurity, TheSessionCookieIsHttpOnlySameSiteAndEndedAtLogout) {
  auto logged_in = login("security.citizen", "security password 1");
  ASSERT_EQ(logged_in.status, 200) << logged_in.body;
  std::string cookie = logged_in.headers["set-cookie"];
  EXPECT_THAT(cookie, ::testing::StartsWith("onewindow_session="));
  EXPECT_THAT(cookie, HasSubstr("; Path=/"));
  EXPECT_THAT(cookie, HasSubstr("; HttpOnly")) << "no script reads the session";
  EXPECT_THAT(cookie, HasSubstr("; SameSite=Lax")) << "no other site's form sends it";
  EXPECT_THAT(cookie, HasSubstr("; Max-Age=43200")) << "a browser session lasts 12 hours";
  EXPECT_THAT(cookie, Not(HasSubstr("Secure"))) << "plain HTTP by default (the setting is for HTTPS)";
  std::string session = cookie.substr(0, cookie.find(';'));
  EXPECT_EQ(logged_in.body.find(session.substr(session.find('=') + 1)), std::string::npos)
      << "the cookie's value never appears where a script could read it";

  std::string csrf = body_of(logged_in)["csrf_token"];
  auto out = http_request("DELETE", base_ + "/api/v1/session", "", {{"Cookie", session}, {"X-CSRF-Token", csrf}});
  ASSERT_EQ(out.status, 200) << out.body;
  EXPECT_THAT(out.headers["set-cookie"], ::testing::StartsWith("onewindow_session=; "));
  EXPECT_THAT(out.headers["set-cookie"], HasSubstr("Max-Age=0"));
  EXPECT_EQ(http_request("GET", base_ + "/api/v1/session", "", {{"Cookie", session}}).status, 401)
      << "the session is ended on the server, not only forgotten by the browser";
}

TEST(WebSecuritySettings, BehindHttpsTheCookieIsSecure) {
  ServedPlatform served([](Settings& settings) { settings.security.secure_cookies = true; });
  ASSERT_TRUE(served.platform);
  served.bearer({identity::AccountKind::citizen, "secure.citizen", "security password 1", "张三", "", {}, citizen_id, "", ""});
  auto logged_in = http_request("POST", served.base + "/api/v1/session",
                                R"({"username":"secure.citizen","password":"security password 1"})", json_body);
  ASSERT_EQ(logged_in.status, 200) << logged_in.body;
  EXPECT_THAT(logged_in.headers["set-cookie"], HasSubstr("; Secure"));
}

TEST_F(WebSecurity, ChangesInABrowserSessionNeedItsCsrfToken) {
  auto first = login("security.citizen", "security password 1");
  auto second = login("security.citizen", "security password 1");
  ASSERT_EQ(first.status, 200);
  ASSERT_EQ(second.status, 200);
  std::string cookie = first.headers["set-cookie"].substr(0, first.headers["set-cookie"].find(';'));
  std::string token = body_of(first)["csrf_token"];
  std::string others_token = body_of(second)["csrf_token"];
  ASSERT_NE(token, others_token) << "each session has its own token";
  const std::string draft = R"({"form":{}})";
  const std::string path = base_ + "/api/v1/services/QD-CSYJS-001/applications";

  auto refused = [&](const std::map<std::string, std::string>& headers, const std::string& why) {
    auto answer = http_request("POST", path, draft, headers);
    EXPECT_EQ(answer.status, 403) << why << ": " << answer.body;
    EXPECT_EQ(code_of(answer), "http.csrf_token") << why;
    EXPECT_EQ(body_of(answer)["error"]["details"]["field"], "X-CSRF-Token") << why;
  };
  refused({{"Cookie", cookie}, {"Content-Type", "application/json"}}, "no token");
  refused({{"Cookie", cookie}, {"Content-Type", "application/json"}, {"X-CSRF-Token", "00"}}, "a wrong token");
  refused({{"Cookie", cookie}, {"Content-Type", "application/json"}, {"X-CSRF-Token", others_token}},
          "another session's token");
  refused({{"Cookie", cookie}, {"Content-Type", "application/json"}, {"X-CSRF-Token", ""}}, "an empty token");
  EXPECT_EQ(body_of(http_request("GET", base_ + "/api/v1/me/applications", "", citizen_))["applications"].size(), 0u)
      << "nothing refused was made";

  // A form another site posts has no token; and a body that is not JSON is refused even with it.
  auto form = http_request("POST", path, "form=1", {{"Cookie", cookie}, {"Content-Type", "application/x-www-form-urlencoded"}});
  EXPECT_EQ(form.status, 403) << form.body;
  auto not_json = http_request("POST", path, "form=1",
                               {{"Cookie", cookie}, {"Content-Type", "application/x-www-form-urlencoded"}, {"X-CSRF-Token", token}});
  EXPECT_EQ(not_json.status, 415) << not_json.body;

  // Reading needs no token; a change with it goes through; a bearer token is not a cookie, and
  // needs none.
  EXPECT_EQ(http_request("GET", base_ + "/api/v1/me/applications", "", {{"Cookie", cookie}}).status, 200);
  auto made = http_request("POST", path, draft, {{"Cookie", cookie}, {"Content-Type", "application/json"}, {"X-CSRF-Token", token}});
  EXPECT_EQ(made.status, 201) << made.body;
  auto headers = citizen_;
  headers["Content-Type"] = "application/json";
  EXPECT_EQ(http_request("POST", path, draft, headers).status, 201);
}

TEST_F(WebSecurity, LoggingInIsLimitedPerAccountAndPerAddress) {
  // One answer for an unknown name and a wrong password, and the password never echoed.
  auto unknown = login("nobody.at.all", "a guessed password");
  auto wrong = login("security.citizen", "a guessed password");
  EXPECT_EQ(unknown.status, 401);
  EXPECT_EQ(wrong.status, 401);
  EXPECT_EQ(body_of(unknown)["error"]["message"], body_of(wrong)["error"]["message"]);
  EXPECT_EQ(wrong.body.find("a guessed password"), std::string::npos);

  // Five failures in a row lock the account for 15 minutes: then even the right password is refused.
  for (int i = 0; i < 4; ++i) EXPECT_EQ(login("security.citizen", "a guessed password").status, 401);
  auto locked = login("security.citizen", "security password 1");
  ASSERT_EQ(locked.status, 429) << locked.body;
  EXPECT_EQ(code_of(locked), "identity.locked");
  ASSERT_EQ(locked.headers.count("retry-after"), 1u);
  int wait = std::stoi(locked.headers["retry-after"]);
  EXPECT_GT(wait, 14 * 60);
  EXPECT_LE(wait, 15 * 60);
  EXPECT_EQ(http_request("GET", base_ + "/api/v1/me/applications", "", citizen_).status, 200)
      << "a session opened before the lock goes on";

  // Twenty failures a minute from one address stop every login from it, whatever the name.
  served_.bearer({identity::AccountKind::citizen, "security.second", "security password 1", "李四", "", {},
                  "44011320141005001X", "", ""});
  // Six so far: the unknown name, the wrong password and the four after it (a login refused for
  // the lock checks no password, and counts for nothing).
  for (int failures = 6; failures < 20; ++failures) {
    EXPECT_EQ(login("nobody.at.all", "guess " + std::to_string(failures)).status, 401);
  }
  auto limited = login("security.second", "security password 1");
  ASSERT_EQ(limited.status, 429) << limited.body;
  EXPECT_EQ(code_of(limited), "identity.rate_limited");
  ASSERT_EQ(limited.headers.count("retry-after"), 1u);
  wait = std::stoi(limited.headers["retry-after"]);
  EXPECT_GE(wait, 1);
  EXPECT_LE(wait, 60);
}

TEST_F(WebSecurity, ASecondFactorCodeIsUsedOnce) {
  auto created = served_.platform->directory->create_account(
      {identity::AccountKind::official, "security.official", "security password 1", "办事员",
       served_.platform->directory->department_by_key("police")->id, {}, "", "", ""},
      nullptr);
  ASSERT_TRUE(created.ok()) << created.error().message;
  std::string code = *identity::Directory::totp_code(created->totp_secret, std::chrono::system_clock::now());
  auto without = login("security.official", "security password 1");
  EXPECT_EQ(without.status, 401);
  EXPECT_EQ(code_of(without), "identity.second_factor_required");
  EXPECT_EQ(login("security.official", "security password 1", R"(,"totp":")" + code + "\"").status, 200);
  auto replayed = login("security.official", "security password 1", R"(,"totp":")" + code + "\"");
  EXPECT_EQ(replayed.status, 401) << "a code seen over a shoulder is spent";
  EXPECT_EQ(code_of(replayed), "identity.login_failed");
}

TEST_F(WebSecurity, AnUploadIsOfItsDeclaredTypeAndSizeAndIsNeverShownAsAPage) {
  auto headers = citizen_;
  headers["Content-Type"] = "application/json";
  auto made = http_request("POST", base_ + "/api/v1/services/QD-CSYJS-001/applications", R"({"form":{}})", headers);
  ASSERT_EQ(made.status, 201) << made.body;
  std::string materials = base_ + "/api/v1/applications/" + std::string(body_of(made)["id"]) + "/materials/";
  auto upload = [&](const std::string& material, const std::string& type, const std::string& content) {
    auto with = citizen_;
    with["Content-Type"] = type;
    return http_request("PUT", materials + material + "?file_name=" + material + ".bin", content, with);
  };

  const std::string page = "<html><script>alert(document.cookie)</script></html>";
  for (auto [type, content, why] : {std::tuple{"text/html", page, "a page"},
                                    std::tuple{"application/pdf", page, "a page declared as a PDF"},
                                    std::tuple{"application/pdf", png, "a picture declared as a PDF"},
                                    std::tuple{"image/png", pdf, "a PDF declared as a picture"}}) {
    auto answer = upload("birth_record", type, content);
    EXPECT_EQ(answer.status, 415) << why << ": " << answer.body;
    EXPECT_EQ(code_of(answer), "services.bad_file_type") << why;
    EXPECT_EQ(body_of(answer)["error"]["details"]["field"], "file") << why;
  }
  auto too_large = upload("photo", "image/png", png + std::string(2 * 1024 * 1024, 'x'));
  EXPECT_EQ(too_large.status, 413) << too_large.body;
  EXPECT_EQ(body_of(too_large)["error"]["details"]["field"], "file");

  ASSERT_EQ(upload("birth_record", "application/pdf", pdf).status, 200);
  auto file = http_request("GET", materials + "birth_record", "", citizen_);
  ASSERT_EQ(file.status, 200);
  EXPECT_EQ(file.body, pdf);
  EXPECT_EQ(file.headers["content-type"], "application/pdf");
  EXPECT_EQ(file.headers["content-disposition"], "attachment; filename=\"birth_record\"") << "saved, not opened";
  EXPECT_EQ(file.headers["content-security-policy"], "default-src 'none'; sandbox") << "were it opened, it runs nothing";
  EXPECT_EQ(file.headers["x-content-type-options"], "nosniff");
}

}  // namespace
}  // namespace onewindow::cli
