// Proofs fetched over HTTP, checked by tests/audit/rfc9162_verify.py (written from RFC 9162, not
// from this code), and the tree head's signature checked by the openssl command line.
#include "api/api.h"
#include "log_fixture.h"

#include <gtest/gtest.h>

namespace onewindow::audit {
namespace {

using onewindow::testing::http_request;
using onewindow::testing::HttpResponse;
using onewindow::testing::run_command;

class HttpProofTest : public testing::LogFixture {
 protected:
  void SetUp() override {
    LogFixture::SetUp();
    if (HasFatalFailure()) return;
    api::add_audit_routes(router_, *log_);
    // Entries need audit.read: a bearer token "auditor" stands for an account that holds it.
    router_.set_authenticator([](const api::Request& request) -> Result<std::optional<identity::Principal>> {
      if (request.header("authorization") != "Bearer auditor") return std::optional<identity::Principal>();
      identity::Principal auditor;
      auditor.account_id = "acc_auditor";
      auditor.permissions = {"audit.read"};
      return std::optional<identity::Principal>(auditor);
    });
    api::ServerOptions options;
    options.port = onewindow::testing::free_port();
    options.access_log = false;
    server_ = std::make_unique<api::Server>(router_, metrics_, options);
    Status started = server_->start();
    ASSERT_TRUE(started.ok()) << started.error().message;
    base_ = "http://127.0.0.1:" + std::to_string(options.port);
  }
  void TearDown() override {
    if (server_) server_->drain_and_stop();
    LogFixture::TearDown();
  }

  nlohmann::json get(const std::string& path, long status = 200) {
    HttpResponse response = http_request("GET", base_ + path, "", {{"Authorization", "Bearer auditor"}});
    EXPECT_EQ(response.status, status) << path << ": " << response.body;
    auto body = nlohmann::json::parse(response.body, nullptr, false);
    EXPECT_TRUE(body.is_object()) << response.body;
    return body;
  }

  void expect_error(const std::string& path, long status, const std::string& code, const std::string& field = "") {
    nlohmann::json body = get(path, status);
    ASSERT_TRUE(body.contains("error")) << body.dump();
    EXPECT_EQ(body["error"]["code"], code) << path;
    if (!field.empty()) {
      EXPECT_EQ(body["error"]["details"].value("field", ""), field) << path;
    }
  }

  // Runs the independent verifier on a document; its exit status.
  int run_verifier(const nlohmann::json& document, std::string& output) {
    auto file = directory_.write("proofs.json", document.dump(2));
    auto script = onewindow::testing::source_dir() / "tests" / "audit" / "rfc9162_verify.py";
    auto result = run_command("python3 " + script.string() + " " + file.string());
    output = result.output;
    return result.exit_code;
  }

  api::Router router_;
  api::Metrics metrics_;
  std::unique_ptr<api::Server> server_;
  std::string base_;
};

TEST_P(HttpProofTest, ProofsVerifyWithAnIndependentRfc9162Verifier) {
  append(13);
  sign();
  nlohmann::json first_head = get("/api/v1/audit/tree-head");
  EXPECT_EQ(first_head["tree_size"], 13);
  append(20);
  clock_.advance(std::chrono::seconds(1));
  sign();
  nlohmann::json second_head = get("/api/v1/audit/tree-head");
  ASSERT_EQ(second_head["tree_size"], 33);

  nlohmann::json document = {{"tree_heads", {first_head, second_head}},
                             {"inclusion", nlohmann::json::array()},
                             {"consistency", nlohmann::json::array()}};
  for (int tree_size : {13, 33}) {
    for (int index : {0, 1, 5, 12, 20, 31, 32}) {
      if (index >= tree_size) continue;
      nlohmann::json entry = get("/api/v1/audit/entries/" + std::to_string(index));
      nlohmann::json proof = get("/api/v1/audit/proofs/inclusion?index=" + std::to_string(index) +
                                 "&tree_size=" + std::to_string(tree_size));
      document["inclusion"].push_back({{"entry", entry}, {"proof", proof}});
    }
  }
  document["consistency"].push_back(get("/api/v1/audit/proofs/consistency?first=13&second=33"));
  document["consistency"].push_back(get("/api/v1/audit/proofs/consistency?first=33&second=33"));

  std::string output;
  ASSERT_EQ(run_verifier(document, output), 0) << output;
  EXPECT_NE(output.find("ok: 13 proofs verify"), std::string::npos) << output;

  // One changed digit in one inclusion proof fails it...
  nlohmann::json broken = document;
  std::string& step = broken["inclusion"][3]["proof"]["audit_path"][1].get_ref<std::string&>();
  step[0] = step[0] == '0' ? '1' : '0';
  ASSERT_EQ(run_verifier(broken, output), 1) << output;
  EXPECT_NE(output.find("entry 12 in tree 13: the inclusion proof does not verify"), std::string::npos) << output;
  // ...and so does one in the consistency proof, or a consistency proof held against a root that
  // was not signed.
  broken = document;
  std::string& node = broken["consistency"][0]["consistency_path"][0].get_ref<std::string&>();
  node[63] = node[63] == 'a' ? 'b' : 'a';
  ASSERT_EQ(run_verifier(broken, output), 1) << output;
  EXPECT_NE(output.find("consistency 13 -> 33: the consistency proof does not verify"), std::string::npos) << output;
  broken = document;
  broken["tree_heads"][0]["root_hash"] = second_head["root_hash"];
  ASSERT_EQ(run_verifier(broken, output), 1) << output;
  // An entry whose content was edited no longer matches its leaf.
  broken = document;
  std::string& content = broken["inclusion"][0]["entry"]["content"].get_ref<std::string&>();
  content.replace(content.find("acc_"), 4, "acx_");
  ASSERT_EQ(run_verifier(broken, output), 1) << output;
}

TEST_P(HttpProofTest, TreeHeadSignatureVerifiesWithOpenssl) {
  append(7);
  sign();
  nlohmann::json head = get("/api/v1/audit/tree-head");
  directory_.write("message", head["signed_message"].get<std::string>());
  auto signature = crypto::from_hex(head["signature"].get<std::string>());
  ASSERT_TRUE(signature.ok());
  directory_.write("signature", std::string(signature->begin(), signature->end()));
  directory_.write("public.pem", log_->public_key().to_pem().value());
  std::string verify = "cd " + directory_.path().string() +
                       " && openssl pkeyutl -verify -pubin -inkey public.pem -sigfile signature -rawin -digest sm3 "
                       "-pkeyopt distid:1234567812345678 -in ";
  auto verified = run_command(verify + "message");
  EXPECT_EQ(verified.exit_code, 0) << verified.output;
  EXPECT_NE(verified.output.find("Signature Verified Successfully"), std::string::npos) << verified.output;

  std::string altered = head["signed_message"].get<std::string>();
  altered.replace(altered.find("\"tree_size\":7"), 13, "\"tree_size\":8");
  directory_.write("altered", altered);
  EXPECT_NE(run_command(verify + "altered").exit_code, 0);
}

TEST_P(HttpProofTest, BadParametersAreNamed) {
  expect_error("/api/v1/audit/tree-head", 404, "audit.no_tree_head");
  append(5);
  expect_error("/api/v1/audit/proofs/inclusion?tree_size=5", 400, "http.missing_parameter", "index");
  expect_error("/api/v1/audit/proofs/inclusion?index=x&tree_size=5", 400, "http.bad_parameter", "index");
  expect_error("/api/v1/audit/proofs/inclusion?index=-1&tree_size=5", 400, "http.bad_parameter", "index");
  expect_error("/api/v1/audit/proofs/inclusion?index=1&tree_size=99999999999999999999", 400, "http.bad_parameter",
               "tree_size");
  expect_error("/api/v1/audit/proofs/inclusion?index=5&tree_size=5", 400, "audit.index_beyond_tree", "index");
  expect_error("/api/v1/audit/proofs/inclusion?index=0&tree_size=6", 400, "audit.tree_size_beyond_log", "tree_size");
  expect_error("/api/v1/audit/proofs/consistency?first=3", 400, "http.missing_parameter", "second");
  expect_error("/api/v1/audit/proofs/consistency?first=0&second=3", 400, "audit.bad_tree_size", "first");
  expect_error("/api/v1/audit/proofs/consistency?first=4&second=3", 400, "audit.bad_tree_size", "first");
  expect_error("/api/v1/audit/proofs/consistency?first=3&second=9", 400, "audit.tree_size_beyond_log", "second");
  expect_error("/api/v1/audit/entries/5", 404, "audit.entry_not_found", "index");
  expect_error("/api/v1/audit/entries/first", 400, "http.bad_parameter", "index");

  // Entries hold personal data: not without audit.read.
  HttpResponse anonymous = http_request("GET", base_ + "/api/v1/audit/entries/0");
  EXPECT_EQ(anonymous.status, 401) << anonymous.body;
  // Proofs are public.
  EXPECT_EQ(http_request("GET", base_ + "/api/v1/audit/proofs/inclusion?index=0&tree_size=5").status, 200);
  nlohmann::json entry = get("/api/v1/audit/entries/4");
  EXPECT_EQ(entry["entry"]["index"], 4);
  EXPECT_EQ(entry["entry"]["object_id"], "per_4");
  EXPECT_EQ(entry["content"], canonical_json(entry["entry"]).value());
}

INSTANTIATE_TEST_SUITE_P(Backends, HttpProofTest, ::testing::Values(store::Backend::sqlite, store::Backend::postgresql),
                         testing::backend_test_name);

}  // namespace
}  // namespace onewindow::audit
