// The certificate authority's routes over a real socket: the openssl command line verifies the
// certificates and the CRL fetched over HTTP, bad input answers 400 naming the field, and the
// routes declare their permissions. (Here rather than in tests/pki because pki_test does not
// link the HTTP layer.)
#include "api/api.h"
#include "base/clock.h"
#include "base/identifiers.h"
#include "pki/pki.h"
#include "store/store.h"
#include "testing.h"

#include <gtest/gtest.h>

namespace onewindow::api {
namespace {

using onewindow::testing::http_request;
using onewindow::testing::HttpResponse;
using onewindow::testing::run_command;

// A valid USCC (a state organ in Qingdao) whose organization code starts with `body`.
std::string uscc(std::string_view body) {
  std::string eight = std::string(body) + std::string(8 - body.size(), '0');
  std::string seventeen = "11370200" + eight + organization_code_check_character(eight).value();
  return seventeen + unified_social_credit_code_check_character(seventeen).value();
}

class PkiRoutesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    store::Options store_options;
    store_options.data_directory = directory_.path().string();
    auto database = store::Database::open(store_options);
    ASSERT_TRUE(database.ok()) << database.error().message;
    database_ = std::move(database).value();
    ASSERT_TRUE(database_->migrate(pki::CertificateAuthority::migrations()).ok());
    auto key = crypto::from_hex("00112233445566778899aabbccddeeff").value();
    auto authority = pki::CertificateAuthority::open(*database_, key, clock_, {"370200", "青岛市"});
    ASSERT_TRUE(authority.ok()) << authority.error().message;
    authority_ = std::make_unique<pki::CertificateAuthority>(std::move(authority).value());

    add_pki_routes(router_, *authority_);
    // Stands in for identity: "Bearer operator" holds the pki permissions, "Bearer official"
    // none of them.
    router_.set_authenticator([](const Request& request) -> Result<std::optional<identity::Principal>> {
      std::string authorization = request.header("authorization");
      if (authorization.empty()) return std::optional<identity::Principal>();
      identity::Principal principal;
      principal.account_id = authorization;
      if (authorization == "Bearer operator") principal.permissions = {"pki.read", "pki.issue", "pki.revoke"};
      return std::optional<identity::Principal>(principal);
    });
    options_.port = onewindow::testing::free_port();
    options_.access_log = false;
    server_ = std::make_unique<Server>(router_, metrics_, options_);
    Status started = server_->start();
    ASSERT_TRUE(started.ok()) << started.error().message;
    base_ = "http://127.0.0.1:" + std::to_string(options_.port) + "/api/v1/pki";
  }
  void TearDown() override {
    if (server_) server_->drain_and_stop();
  }

  HttpResponse as_operator(const std::string& method, const std::string& path, const std::string& body = "") {
    return http_request(method, base_ + path, body,
                        {{"Authorization", "Bearer operator"}, {"Content-Type", "application/json"}});
  }
  static nlohmann::json json_of(const HttpResponse& response) {
    return nlohmann::json::parse(response.body, nullptr, false);
  }
  static void expect_field_error(const HttpResponse& response, long status, const std::string& field) {
    EXPECT_EQ(response.status, status) << response.body;
    auto body = json_of(response);
    ASSERT_TRUE(body.is_object()) << response.body;
    EXPECT_EQ(body["error"]["details"]["field"], field) << response.body;
  }

  int run(const std::string& command) {
    auto result = run_command("cd '" + files_.path().string() + "' && " + command);
    output_ = result.output;
    return result.exit_code;
  }

  ManualClock clock_{std::chrono::system_clock::now()};  // openssl checks validity against now
  onewindow::testing::TemporaryDirectory directory_;
  onewindow::testing::TemporaryDirectory files_;
  std::unique_ptr<store::Database> database_;
  std::unique_ptr<pki::CertificateAuthority> authority_;
  Metrics metrics_;
  Router router_;
  ServerOptions options_;
  std::unique_ptr<Server> server_;
  std::string base_;
  std::string output_;
};

TEST_F(PkiRoutesTest, RootAndRevocationListArePublicPem) {
  HttpResponse root = http_request("GET", base_ + "/root.pem");
  EXPECT_EQ(root.status, 200);
  EXPECT_EQ(root.headers["content-type"], "application/x-pem-file");
  EXPECT_EQ(root.body, authority_->root_certificate().pem());

  HttpResponse crl = http_request("GET", base_ + "/crl");
  EXPECT_EQ(crl.status, 200);
  EXPECT_EQ(crl.headers["content-type"], "application/x-pem-file");
  auto list = crypto::RevocationList::from_pem(crl.body);
  ASSERT_TRUE(list.ok()) << crl.body;
  EXPECT_TRUE(list->verify_signature(authority_->root_certificate().public_key()).ok());
  HttpResponse der = http_request("GET", base_ + "/crl?format=der");
  EXPECT_EQ(der.headers["content-type"], "application/pkix-crl");
  auto from_der = crypto::RevocationList::from_der(crypto::as_bytes(der.body));
  ASSERT_TRUE(from_der.ok());
  EXPECT_EQ(from_der->number(), list->number());
  expect_field_error(http_request("GET", base_ + "/crl?format=xml"), 400, "format");
}

TEST_F(PkiRoutesTest, OpensslVerifiesCertificatesFetchedOverHttp) {
  std::string code = uscc("A1");
  HttpResponse issued =
      as_operator("POST", "/departments/" + code + "/certificate", R"({"name": "青岛市行政审批服务局"})");
  ASSERT_EQ(issued.status, 201) << issued.body;
  auto department = json_of(issued);
  EXPECT_EQ(department["subject_kind"], "department");
  EXPECT_EQ(department["subject_key"], code);
  EXPECT_EQ(department["status"], "active");
  ASSERT_EQ(department["chain_pem"].size(), 2u);
  std::string serial = department["serial"].get<std::string>();

  // Everything below comes over HTTP.
  HttpResponse nodes = as_operator("GET", "/certificates?subject_kind=node&status=active");
  ASSERT_EQ(nodes.status, 200) << nodes.body;
  ASSERT_EQ(json_of(nodes)["certificates"].size(), 1u);
  std::string node_serial = json_of(nodes)["certificates"][0]["serial"].get<std::string>();
  HttpResponse node = http_request("GET", base_ + "/certificates/" + node_serial);
  ASSERT_EQ(node.status, 200) << node.body;
  HttpResponse fetched = http_request("GET", base_ + "/certificates/" + serial);
  ASSERT_EQ(fetched.status, 200) << fetched.body;
  EXPECT_EQ(json_of(fetched)["subject_name"], "青岛市行政审批服务局");
  EXPECT_EQ(json_of(fetched)["fingerprint_sm3"].get<std::string>().size(), 64u);
  files_.write("root.pem", http_request("GET", base_ + "/root.pem").body);
  files_.write("node.pem", json_of(node)["certificate_pem"].get<std::string>());
  files_.write("department.pem", json_of(fetched)["certificate_pem"].get<std::string>());
  files_.write("chain.pem", http_request("GET", base_ + "/certificates/" + serial + "?format=pem").body);

  EXPECT_EQ(run("openssl verify -CAfile root.pem node.pem department.pem"), 0) << output_;
  EXPECT_EQ(output_, "node.pem: OK\ndepartment.pem: OK\n");
  // The chain file is the certificate then the root.
  EXPECT_EQ(run("openssl verify -CAfile root.pem chain.pem"), 0) << output_;
  EXPECT_EQ(run("openssl x509 -in department.pem -noout -subject -nameopt utf8,sep_comma_plus"), 0);
  EXPECT_NE(output_.find("CN=青岛市行政审批服务局"), std::string::npos) << output_;

  HttpResponse revoked =
      as_operator("POST", "/certificates/" + serial + "/revocation", R"({"reason": "key_compromise"})");
  ASSERT_EQ(revoked.status, 200) << revoked.body;
  EXPECT_EQ(json_of(revoked)["status"], "revoked");
  EXPECT_EQ(json_of(revoked)["revocation_reason"], "key_compromise");
  files_.write("crl.pem", http_request("GET", base_ + "/crl").body);
  EXPECT_NE(run("openssl verify -crl_check -CRLfile crl.pem -CAfile root.pem department.pem"), 0) << output_;
  EXPECT_NE(output_.find("certificate revoked"), std::string::npos) << output_;
  EXPECT_EQ(run("openssl verify -crl_check -CRLfile crl.pem -CAfile root.pem node.pem"), 0) << output_;
  EXPECT_EQ(run("openssl crl -in crl.pem -noout -verify -CAfile root.pem"), 0) << output_;
  EXPECT_NE(output_.find("verify OK"), std::string::npos) << output_;
  // Revoking again is a conflict.
  EXPECT_EQ(as_operator("POST", "/certificates/" + serial + "/revocation", R"({"reason": "unspecified"})").status, 409);
}

TEST_F(PkiRoutesTest, PostingAgainRotatesTheDepartment) {
  std::string code = uscc("B2");
  HttpResponse first = as_operator("POST", "/departments/" + code + "/certificate", R"({"name": "青岛市数据局"})");
  ASSERT_EQ(first.status, 201) << first.body;
  clock_.advance(std::chrono::seconds(1));
  HttpResponse second = as_operator("POST", "/departments/" + code + "/certificate");  // no body: keep the name
  ASSERT_EQ(second.status, 201) << second.body;
  EXPECT_EQ(json_of(second)["supersedes"], json_of(first)["serial"]);
  EXPECT_EQ(json_of(second)["subject_name"], "青岛市数据局");
  HttpResponse listed = as_operator("GET", "/certificates?subject_kind=department&subject=" + code);
  ASSERT_EQ(listed.status, 200);
  auto certificates = json_of(listed)["certificates"];
  ASSERT_EQ(certificates.size(), 2u);
  EXPECT_EQ(certificates[0]["status"], "active");
  EXPECT_EQ(certificates[1]["status"], "superseded");
}

TEST_F(PkiRoutesTest, BadInputAnswers400NamingTheField) {
  expect_field_error(as_operator("POST", "/departments/91370200MA3C4XYZ9/certificate", R"({"name": "某局"})"), 400,
                     "uscc");
  std::string wrong_check = uscc("C3");
  wrong_check.back() = wrong_check.back() == '0' ? '1' : '0';
  expect_field_error(as_operator("POST", "/departments/" + wrong_check + "/certificate", R"({"name": "某局"})"), 400,
                     "uscc");
  std::string code = uscc("C3");
  expect_field_error(as_operator("POST", "/departments/" + code + "/certificate", "{}"), 400, "name");
  expect_field_error(as_operator("POST", "/departments/" + code + "/certificate", R"({"name": 7})"), 400, "name");
  expect_field_error(as_operator("POST", "/departments/" + code + "/certificate", R"({"name": ""})"), 400, "name");
  expect_field_error(as_operator("POST", "/departments/" + code + "/certificate", R"({"nom": "x"})"), 400, "nom");
  expect_field_error(http_request("GET", base_ + "/certificates/not-a-serial"), 400, "serial");
  HttpResponse missing = http_request("GET", base_ + "/certificates/" + std::string(32, '0'));
  EXPECT_EQ(missing.status, 404);
  EXPECT_EQ(json_of(missing)["error"]["code"], "pki.certificate_not_found");
  expect_field_error(as_operator("GET", "/certificates?subject_kind=person"), 400, "subject_kind");
  expect_field_error(as_operator("GET", "/certificates?status=expired"), 400, "status");

  std::string serial =
      json_of(as_operator("POST", "/departments/" + code + "/certificate", R"({"name": "某局"})"))["serial"]
          .get<std::string>();
  expect_field_error(as_operator("POST", "/certificates/" + serial + "/revocation", "{}"), 400, "reason");
  expect_field_error(as_operator("POST", "/certificates/" + serial + "/revocation", R"({"reason": "keyCompromise"})"),
                     400, "reason");
  expect_field_error(
      as_operator("POST", "/certificates/" + serial + "/revocation", R"({"reason": "certificate_hold"})"), 400,
      "reason");
  expect_field_error(as_operator("POST", "/certificates/xyz/revocation", R"({"reason": "unspecified"})"), 400,
                     "serial");
  EXPECT_EQ(as_operator("POST", "/certificates/" + std::string(32, '0') + "/revocation", R"({"reason": "unspecified"})")
                .status,
            404);
}

TEST_F(PkiRoutesTest, RoutesDeclareTheirPermissions) {
  std::map<std::string, std::string> permissions;
  for (const Route& route : router_.routes()) {
    EXPECT_EQ(route.tag, "pki");
    permissions[route.method + " " + route.pattern] = route.permission;
  }
  EXPECT_EQ(permissions, (std::map<std::string, std::string>{
                             {"GET /api/v1/pki/root.pem", "public"},
                             {"GET /api/v1/pki/crl", "public"},
                             {"GET /api/v1/pki/certificates", "pki.read"},
                             {"GET /api/v1/pki/certificates/{serial}", "public"},
                             {"POST /api/v1/pki/departments/{uscc}/certificate", "pki.issue"},
                             {"POST /api/v1/pki/certificates/{serial}/revocation", "pki.revoke"},
                         }));
  std::string code = uscc("D4");
  EXPECT_EQ(http_request("POST", base_ + "/departments/" + code + "/certificate", R"({"name": "某局"})",
                         {{"Content-Type", "application/json"}})
                .status,
            401);
  EXPECT_EQ(http_request("POST", base_ + "/departments/" + code + "/certificate", R"({"name": "某局"})",
                         {{"Content-Type", "application/json"}, {"Authorization", "Bearer official"}})
                .status,
            403);
  EXPECT_EQ(http_request("GET", base_ + "/certificates").status, 401);
}

}  // namespace
}  // namespace onewindow::api
