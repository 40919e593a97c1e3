// Electronic licenses over HTTP, as holders, departments and anyone with a QR code see them: the
// verify answer is public and says valid or revoked; a holder sees their own licenses (another
// citizen gets 404, not 403); only the issuing department revokes; a presentation reaches the
// department it was made to and no other.
#include "served_platform.h"

#include <gtest/gtest.h>

namespace onewindow::cli {
namespace {

using onewindow::testing::http_request;
using onewindow::testing::HttpResponse;

constexpr const char* citizen_id = "360426199101010071";
constexpr const char* enterprise_code = "91110000600037341L";

class LicenseRoutes : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(served_.platform);
    hrss_ = served_.official("license.hrss", "hrss");
    police_ = served_.official("license.police", "police");
    medins_ = served_.official("license.medins", "medins");
    citizen_ = served_.bearer({identity::AccountKind::citizen, "license.citizen", "served password 1", "张三", "", {}, citizen_id,
                               "", ""})
                   .first;
    other_citizen_ = served_.bearer({identity::AccountKind::citizen, "license.other", "served password 1", "李四", "", {},
                                     "44011320141005001X", "", ""})
                         .first;
    enterprise_ = served_.bearer({identity::AccountKind::enterprise_user, "license.enterprise", "served password 1", "王五", "",
                                  {}, "", enterprise_code, "legal_representative"})
                      .first;
    for (auto* headers : {&hrss_, &police_, &medins_, &citizen_, &other_citizen_, &enterprise_}) {
      (*headers)["Content-Type"] = "application/json";
    }
    // What the services module does on approval: hrss issues the citizen's social security card.
    license::IssueRequest card{"social_security_card", "张三", citizen_id};
    card.data = {{"card_number", "A12345678"}, {"bank", "中国工商银行青岛分行"}};
    auto issued = served_.platform->licenses->issue(card, {"acc_system", "hrss"});
    ASSERT_TRUE(issued.ok()) << issued.error().message;
    card_ = issued->identifier;
    auto business = served_.platform->licenses->issue({"business_license", "青岛示范有限公司", enterprise_code},
                                                      {"acc_system", "market"});
    ASSERT_TRUE(business.ok()) << business.error().message;
    business_ = business->identifier;
  }

  std::string url(const std::string& path) { return served_.base + "/api/v1" + path; }

  static std::string code_of(const HttpResponse& response) {
    auto body = body_of(response);
    return body.is_object() && body.contains("error") ? body["error"]["code"].get<std::string>() : "";
  }

  ServedPlatform served_;
  std::map<std::string, std::string> hrss_, police_, medins_, citizen_, other_citizen_, enterprise_;
  std::string card_, business_;
};

TEST_F(LicenseRoutes, AnyoneVerifiesWithoutLoggingIn) {
  HttpResponse verified = http_request("GET", url("/licenses/" + card_ + "/verify"));
  ASSERT_EQ(verified.status, 200) << verified.body;
  nlohmann::json answer = body_of(verified);
  EXPECT_EQ(answer["status"], "valid");
  EXPECT_EQ(answer["signature_valid"], true);
  EXPECT_EQ(answer["identifier"], card_);
  EXPECT_EQ(answer["document"]["license_name"], "社会保障卡");
  EXPECT_EQ(nlohmann::json::parse(answer["document_canonical"].get<std::string>()), answer["document"]);
  EXPECT_FALSE(answer["signature_hex"].get<std::string>().empty());
  ASSERT_EQ(answer["certificate_chain_pem"].size(), 2u);
  EXPECT_EQ(answer["certificate_chain_pem"][1], served_.platform->certificate_authority->root_certificate().pem());

  HttpResponse malformed = http_request("GET", url("/licenses/1.2.156.3005.2.nothing/verify"));
  EXPECT_EQ(malformed.status, 400);
  EXPECT_EQ(code_of(malformed), "license.bad_identifier");
  auto unknown = license::LicenseIdentifier::make("11370200MB000006XC002", "11370200MB000006XC", "2026AAAAAAAAAAAA", "001");
  HttpResponse missing = http_request("GET", url("/licenses/" + unknown->text() + "/verify"));
  EXPECT_EQ(missing.status, 404);
  EXPECT_EQ(code_of(missing), "license.not_found");
}

TEST_F(LicenseRoutes, HoldersSeeTheirOwnAndNobodyElsesLicenses) {
  HttpResponse mine = http_request("GET", url("/me/licenses"), "", citizen_);
  ASSERT_EQ(mine.status, 200) << mine.body;
  ASSERT_EQ(body_of(mine)["licenses"].size(), 1u);
  EXPECT_EQ(body_of(mine)["licenses"][0]["identifier"], card_);
  EXPECT_EQ(body_of(mine)["licenses"][0]["status"], "valid");
  HttpResponse theirs = http_request("GET", url("/me/licenses"), "", enterprise_);
  ASSERT_EQ(body_of(theirs)["licenses"].size(), 1u);
  EXPECT_EQ(body_of(theirs)["licenses"][0]["identifier"], business_);
  EXPECT_TRUE(body_of(http_request("GET", url("/me/licenses"), "", other_citizen_))["licenses"].empty());
  EXPECT_EQ(http_request("GET", url("/me/licenses"), "", hrss_).status, 403) << "officials hold no licenses";
  EXPECT_EQ(http_request("GET", url("/me/licenses")).status, 401);

  EXPECT_EQ(http_request("GET", url("/licenses/" + card_), "", citizen_).status, 200);
  EXPECT_EQ(http_request("GET", url("/licenses/" + card_), "", hrss_).status, 200) << "the issuing department";
  for (auto* stranger : {&other_citizen_, &enterprise_, &police_}) {
    HttpResponse refused = http_request("GET", url("/licenses/" + card_), "", *stranger);
    EXPECT_EQ(refused.status, 404) << refused.body;
    EXPECT_EQ(code_of(refused), "license.not_found");
    EXPECT_EQ(http_request("GET", url("/licenses/" + card_ + "/pdf"), "", *stranger).status, 404);
  }

  HttpResponse pdf = http_request("GET", url("/licenses/" + card_ + "/pdf"), "", citizen_);
  ASSERT_EQ(pdf.status, 200) << pdf.body;
  EXPECT_EQ(pdf.headers["content-type"], "application/pdf");
  EXPECT_TRUE(pdf.body.starts_with("%PDF-"));
}

TEST_F(LicenseRoutes, OnlyTheIssuingDepartmentRevokes) {
  HttpResponse other = http_request("POST", url("/licenses/" + card_ + "/revoke"), R"({"reason":"不是本部门的"})", police_);
  EXPECT_EQ(other.status, 403) << other.body;
  EXPECT_EQ(code_of(other), "license.not_issuer");
  HttpResponse citizen = http_request("POST", url("/licenses/" + card_ + "/revoke"), R"({"reason":"我不要了"})", citizen_);
  EXPECT_EQ(citizen.status, 403);
  EXPECT_EQ(code_of(citizen), "identity.permission_denied");
  HttpResponse unreasoned = http_request("POST", url("/licenses/" + card_ + "/revoke"), "{}", hrss_);
  EXPECT_EQ(unreasoned.status, 400);
  EXPECT_EQ(body_of(unreasoned)["error"]["details"]["field"], "reason");
  HttpResponse unknown = http_request("POST", url("/licenses/" + card_ + "/revoke"), R"({"reason":"x","why":"y"})", hrss_);
  EXPECT_EQ(body_of(unknown)["error"]["details"]["field"], "why");
  EXPECT_EQ(body_of(http_request("GET", url("/licenses/" + card_ + "/verify")))["status"], "valid");

  HttpResponse revoked = http_request("POST", url("/licenses/" + card_ + "/revoke"), R"({"reason":"卡片挂失"})", hrss_);
  ASSERT_EQ(revoked.status, 200) << revoked.body;
  EXPECT_EQ(body_of(revoked)["status"], "revoked");
  EXPECT_EQ(http_request("POST", url("/licenses/" + card_ + "/revoke"), R"({"reason":"again"})", hrss_).status, 409);
  nlohmann::json verified = body_of(http_request("GET", url("/licenses/" + card_ + "/verify")));
  EXPECT_EQ(verified["status"], "revoked");
  EXPECT_EQ(verified["revocation_reason"], "卡片挂失");
  EXPECT_EQ(verified["signature_valid"], true);
}

TEST_F(LicenseRoutes, APresentationReachesItsDepartmentOnly) {
  HttpResponse stranger = http_request("POST", url("/licenses/" + card_ + "/presentations"),
                                       R"({"department":"medins","purpose":"参保登记"})", other_citizen_);
  EXPECT_EQ(stranger.status, 404) << stranger.body;
  HttpResponse nameless = http_request("POST", url("/licenses/" + card_ + "/presentations"), R"({"purpose":"参保登记"})",
                                       citizen_);
  EXPECT_EQ(nameless.status, 400);
  EXPECT_EQ(body_of(nameless)["error"]["details"]["field"], "department");

  HttpResponse presented = http_request("POST", url("/licenses/" + card_ + "/presentations"),
                                        R"({"department":"medins","purpose":"医保参保登记，代替纸质材料"})", citizen_);
  ASSERT_EQ(presented.status, 201) << presented.body;
  std::string id = body_of(presented)["id"];
  HttpResponse fetched = http_request("GET", url("/license-presentations/" + id), "", medins_);
  ASSERT_EQ(fetched.status, 200) << fetched.body;
  EXPECT_EQ(body_of(fetched)["verification"]["status"], "valid");
  EXPECT_EQ(body_of(fetched)["verification"]["document"]["holder_id"], citizen_id);
  EXPECT_EQ(body_of(fetched)["presentation"]["purpose"], "医保参保登记，代替纸质材料");
  HttpResponse elsewhere = http_request("GET", url("/license-presentations/" + id), "", police_);
  EXPECT_EQ(elsewhere.status, 404);
  EXPECT_EQ(code_of(elsewhere), "license.presentation_not_found");
  EXPECT_EQ(http_request("GET", url("/license-presentations/" + id), "", citizen_).status, 403);
}

}  // namespace
}  // namespace onewindow::cli
