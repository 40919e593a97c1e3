// A department's own system writes the registry fields of its department with an access token of
// the platform's OpenID Connect provider (client credentials), and no more: the token's scopes
// that an official may hold, and only its department's fields.
#include "oidc/oidc.h"
#include "served_platform.h"

#include <gtest/gtest.h>

namespace onewindow::cli {
namespace {

using onewindow::testing::http_request;
using onewindow::testing::HttpResponse;

TEST(MachineClient, ADepartmentSystemWritesItsDepartmentsFieldsWithAnAccessToken) {
  ServedPlatform served;
  ASSERT_TRUE(served.platform);
  auto& platform = served.platform;
  const std::string& base = served.base;

  identity::Principal operator_principal;
  operator_principal.account_id = "acc_test_operator";
  auto police = platform->directory->department_by_key("police");
  ASSERT_TRUE(police.ok());
  auto registered = platform->single_sign_on->register_client(
      {"police-system", "公安业务系统 Police system", oidc::ClientKind::confidential, {}, {"client_credentials"},
       {"registry.read", "registry.write", "identity.accounts.manage"}, police->id, ""},
      operator_principal);
  ASSERT_TRUE(registered.ok()) << registered.error().message;
  auto issued = platform->single_sign_on->token(
      {"application/x-www-form-urlencoded", "",
       "grant_type=client_credentials&client_id=police-system&client_secret=" + registered->secret +
           "&scope=registry.read%20registry.write%20identity.accounts.manage"});
  ASSERT_TRUE(issued.ok()) << issued.error().message;
  const std::map<std::string, std::string> as_system = {
      {"Authorization", "Bearer " + (*issued)["access_token"].get<std::string>()}, {"Content-Type", "application/json"}};

  HttpResponse session = http_request("GET", base + "/api/v1/session", "", as_system);
  ASSERT_EQ(session.status, 200) << session.body;
  auto who = nlohmann::json::parse(session.body)["account"];
  EXPECT_EQ(who["kind"], "department_system");
  EXPECT_EQ(who["account_id"], "oidc_client:police-system");
  EXPECT_EQ(who["permissions"], nlohmann::json({"registry.read", "registry.write"}))
      << "a scope no official holds is not a permission of a department's system";

  const std::string key = "37028519900307123" + std::string(1, citizen_id_check_character("37028519900307123").value());
  HttpResponse created = http_request("PUT", base + "/api/v1/registries/person/records/" + key,
                                      R"({"fields": {"name": "张三", "sex": "1", "birth_date": "1990-03-07"},
                                          "reason": "户籍系统同步"})",
                                      as_system);
  ASSERT_EQ(created.status, 201) << created.body;
  HttpResponse history = http_request("GET", base + "/api/v1/registries/person/records/" + key + "/history", "", as_system);
  ASSERT_EQ(history.status, 200);
  EXPECT_EQ(nlohmann::json::parse(history.body)["versions"][0]["written_by"], "oidc_client:police-system");

  HttpResponse refused = http_request("PUT", base + "/api/v1/registries/person/records/" + key,
                                      R"({"fields": {"marital_status": "20"}, "reason": "同步"})", as_system);
  EXPECT_EQ(refused.status, 403);
  EXPECT_EQ(nlohmann::json::parse(refused.body)["error"]["code"], "registry.field_not_owned");
  EXPECT_EQ(http_request("GET", base + "/api/v1/accounts/acc_nobody", "", as_system).status, 403);

  std::string forged = as_system.at("Authorization");
  forged[forged.size() - 5] = forged[forged.size() - 5] == 'A' ? 'B' : 'A';
  EXPECT_EQ(http_request("GET", base + "/api/v1/session", "", {{"Authorization", forged}}).status, 401);
}

}  // namespace
}  // namespace onewindow::cli
