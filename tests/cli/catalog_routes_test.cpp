// The catalog over HTTP: civil affairs finds the person registry, asks public security for two of
// its items, public security grants them and later revokes the grant; a third department sees
// none of it; bad requests name the field.
#include "served_platform.h"

#include <gtest/gtest.h>

namespace onewindow::cli {
namespace {

using onewindow::testing::http_request;
using onewindow::testing::HttpResponse;

class CatalogRoutes : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(served_.platform);
    base_ = served_.base + "/api/v1/catalog";
    civil_ = served_.official("catalog.civil", "civil");
    police_ = served_.official("catalog.police", "police");
    tax_ = served_.official("catalog.tax", "tax");
    for (auto* headers : {&civil_, &police_, &tax_}) (*headers)["Content-Type"] = "application/json";
  }

  HttpResponse post(const std::string& path, const std::string& body, const std::map<std::string, std::string>& headers) {
    return http_request("POST", base_ + path, body, headers);
  }
  HttpResponse get(const std::string& path, const std::map<std::string, std::string>& headers) {
    return http_request("GET", base_ + path, "", headers);
  }

  ServedPlatform served_;
  std::string base_;
  std::map<std::string, std::string> civil_, police_, tax_;
};

TEST_F(CatalogRoutes, AConditionalGrantIsAskedForDecidedAndRevoked) {
  HttpResponse found = get("/resources?q=%E8%87%AA%E7%84%B6%E4%BA%BA&classification=1", civil_);  // q=自然人
  ASSERT_EQ(found.status, 200) << found.body;
  auto resources = body_of(found)["resources"];
  ASSERT_EQ(resources.size(), 1u) << found.body;
  EXPECT_EQ(resources[0]["registry"], "person");
  EXPECT_EQ(resources[0]["provider"], "police");
  std::string resource = resources[0]["id"];

  HttpResponse asked = post("/grants",
                            R"({"resource_id":")" + resource +
                                R"(","items":["name","marital_status"],"purpose":"婚姻登记核验","legal_basis":"《婚姻登记条例》第七条","expires_on":"2030-12-31"})",
                            civil_);
  ASSERT_EQ(asked.status, 201) << asked.body;
  EXPECT_EQ(body_of(asked)["status"], "pending");
  std::string grant = body_of(asked)["id"];

  EXPECT_EQ(get("/grants/" + grant, tax_).status, 404) << "a third department does not see it";
  HttpResponse not_theirs = post("/grants/" + grant + "/decision", R"({"grant":true})", civil_);
  EXPECT_EQ(not_theirs.status, 403);
  EXPECT_EQ(body_of(not_theirs)["error"]["code"], "catalog.not_provider");
  auto pending = body_of(get("/grants", police_))["grants"];
  ASSERT_EQ(pending.size(), 1u);
  EXPECT_EQ(pending[0]["consumer"], "civil");

  HttpResponse decided = post("/grants/" + grant + "/decision", R"({"grant":true})", police_);
  ASSERT_EQ(decided.status, 200) << decided.body;
  EXPECT_EQ(body_of(decided)["status"], "granted");
  HttpResponse revoked = post("/grants/" + grant + "/revoke", R"({"reason":"核验已完成"})", civil_);
  ASSERT_EQ(revoked.status, 200) << revoked.body;
  EXPECT_EQ(body_of(revoked)["status"], "revoked");
  EXPECT_EQ(post("/grants/" + grant + "/revoke", R"({"reason":"again"})", police_).status, 409);
}

TEST_F(CatalogRoutes, ADepartmentRegistersItsOwnResource) {
  HttpResponse registered = post("/resources",
                                 R"({"classification":"3-01-001","name":"纳税信用等级","summary":"A/B/M/C/D 级","format":"csv",
                                     "items":[{"name":"uscc","label":"统一社会信用代码","type":"uscc"},{"name":"level","label":"等级"}],
                                     "share_type":"unconditional","update_cycle":"yearly"})",
                                 tax_);
  ASSERT_EQ(registered.status, 201) << registered.body;
  EXPECT_EQ(body_of(registered)["provider"], "tax");
  std::string code = body_of(registered)["code"];
  EXPECT_EQ(code, "301001-000001");
  HttpResponse read = get("/resources/" + code, civil_);
  ASSERT_EQ(read.status, 200);
  EXPECT_EQ(body_of(read)["items"][1]["type"], "string");
  HttpResponse granted = post("/grants",
                              R"({"resource_id":")" + code +
                                  R"(","items":["level"],"purpose":"评优","legal_basis":"内部规定","expires_on":"2030-01-01"})",
                              civil_);
  ASSERT_EQ(granted.status, 201) << granted.body;
  EXPECT_EQ(body_of(granted)["status"], "granted") << "unconditional";
}

TEST_F(CatalogRoutes, BadRequestsNameTheField) {
  struct Case {
    std::string what;
    HttpResponse response;
    int status;
    std::string code;
    std::string field;
  };
  std::string person = body_of(get("/resources?classification=101001", civil_))["resources"][0]["id"];
  std::vector<Case> cases = {
      {"a share type that does not exist", get("/resources?share_type=sometimes", civil_), 400, "catalog.bad_share_type",
       "share_type"},
      {"a limit that is no number", get("/resources?limit=many", civil_), 400, "http.bad_parameter", "limit"},
      {"a limit too large", get("/resources?limit=5000", civil_), 400, "catalog.bad_field", "limit"},
      {"an unknown resource", get("/resources/res_nothing", civil_), 404, "catalog.resource_not_found", "resource_id"},
      {"a resource without items", post("/resources", R"({"classification":"301001","name":"x","format":"csv","share_type":"none"})", tax_),
       400, "http.bad_field", "items"},
      {"a resource of no classification",
       post("/resources", R"({"classification":"999","name":"x","format":"csv","items":[{"name":"a"}],"share_type":"none"})", tax_),
       400, "catalog.unknown_classification", "classification"},
      {"a grant without purpose",
       post("/grants", R"({"resource_id":")" + person + R"(","items":["name"],"legal_basis":"x","expires_on":"2030-01-01"})", civil_),
       400, "http.missing_field", "purpose"},
      {"a grant of an item the resource lacks",
       post("/grants", R"({"resource_id":")" + person + R"(","items":["salary"],"purpose":"x","legal_basis":"x","expires_on":"2030-01-01"})",
            civil_),
       400, "catalog.unknown_item", "items"},
      {"a grant with a bad date",
       post("/grants", R"({"resource_id":")" + person + R"(","items":["name"],"purpose":"x","legal_basis":"x","expires_on":"soon"})", civil_),
       400, "clock.date_format", "expires_on"},
      {"a decision that is not yes or no", post("/grants/gnt_x/decision", R"({"grant":"yes"})", police_), 400, "http.bad_field", "grant"},
      {"a revocation without reason", post("/grants/gnt_x/revoke", R"({})", police_), 400, "http.missing_field", "reason"},
      {"an unknown grant", post("/grants/gnt_x/revoke", R"({"reason":"x"})", police_), 404, "catalog.grant_not_found", "grant_id"},
  };
  for (const Case& test : cases) {
    EXPECT_EQ(test.response.status, test.status) << test.what << ": " << test.response.body;
    auto error = body_of(test.response)["error"];
    EXPECT_EQ(error["code"], test.code) << test.what << ": " << test.response.body;
    EXPECT_EQ(error["details"]["field"], test.field) << test.what << ": " << test.response.body;
  }
}

}  // namespace
}  // namespace onewindow::cli
