// The exchange over HTTP, as a citizen would see it: civil affairs asks public security for two
// items of the person registry, gets them, reads the citizen's record; the citizen then sees that
// read and no other, and anyone can prove what was answered with the inclusion proof, the signed
// tree head and the node's certificate, checked by the openssl command line.
#include "served_platform.h"

#include "audit/audit.h"
#include "crypto/crypto.h"
#include "synthetic/synthetic.h"

#include <gtest/gtest.h>

#include <sstream>
#include <thread>

namespace onewindow::cli {
namespace {

using onewindow::testing::http_request;
using onewindow::testing::HttpResponse;

constexpr const char* citizen_id = "360426199101010071";

class ExchangeRoutes : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(served_.platform);
    civil_ = served_.official("exchange.civil", "civil");
    police_ = served_.official("exchange.police", "police");
    tax_ = served_.official("exchange.tax", "tax");
    citizen_ = served_.bearer({identity::AccountKind::citizen, "exchange.citizen", "served password 1", "张三", "", {}, citizen_id, "", ""})
                   .first;
    other_citizen_ = served_.bearer({identity::AccountKind::citizen, "exchange.other", "served password 1", "李四", "", {},
                                     "44011320141005001X", "", ""})
                         .first;
    for (auto* headers : {&civil_, &police_, &tax_}) (*headers)["Content-Type"] = "application/json";
    ASSERT_TRUE(served_.platform->registries
                    ->write("person", citizen_id, {{"name", "张三"}, {"sex", "1"}, {"birth_date", "1991-01-01"}}, "出生登记",
                            {"acc_police", "police"})
                    .ok());
    auto found = http_request("GET", served_.base + "/api/v1/catalog/resources?classification=101001", "", civil_);
    person_resource_ = body_of(found)["resources"][0]["id"];
  }

  ServedPlatform served_;
  std::map<std::string, std::string> civil_, police_, tax_, citizen_, other_citizen_;
  std::string person_resource_;
  onewindow::testing::TemporaryDirectory directory_;
};

TEST_F(ExchangeRoutes, ACitizenSeesWhoReadTheirDataAndTheAnswerIsProven) {
  std::string base = served_.base + "/api/v1";
  HttpResponse asked = http_request(
      "POST", base + "/catalog/grants",
      R"({"resource_id":")" + person_resource_ +
          R"(","items":["name","birth_date"],"purpose":"低保审核 minimum living allowance","legal_basis":"《社会救助暂行办法》第十一条","expires_on":"2030-12-31"})",
      civil_);
  ASSERT_EQ(asked.status, 201) << asked.body;
  std::string grant = body_of(asked)["id"];
  HttpResponse early = http_request("POST", base + "/exchange/resources/" + person_resource_ + "/read",
                                    R"({"keys":[")" + std::string(citizen_id) + R"("]})", civil_);
  EXPECT_EQ(early.status, 403) << "pending is not granted";
  EXPECT_EQ(body_of(early)["error"]["code"], "catalog.no_grant");
  ASSERT_EQ(http_request("POST", base + "/catalog/grants/" + grant + "/decision", R"({"grant":true})", police_).status, 200);

  HttpResponse read = http_request("POST", base + "/exchange/resources/" + person_resource_ + "/read",
                                   R"({"keys":[")" + std::string(citizen_id) + R"("],"items":["name"]})", civil_);
  ASSERT_EQ(read.status, 200) << read.body;
  nlohmann::json answer = body_of(read);
  EXPECT_EQ(answer["records"][0]["fields"], (nlohmann::json{{"name", "张三"}}));
  HttpResponse one = http_request("GET", base + "/exchange/resources/" + person_resource_ + "/records/" + citizen_id + "?items=birth_date,name",
                                  "", civil_);
  ASSERT_EQ(one.status, 200) << one.body;
  EXPECT_EQ(body_of(one)["records"][0]["fields"], (nlohmann::json{{"birth_date", "1991-01-01"}, {"name", "张三"}})) << "a comma in a query";
  HttpResponse ungranted = http_request("POST", base + "/exchange/resources/" + person_resource_ + "/read",
                                        R"({"keys":[")" + std::string(citizen_id) + R"("],"items":["name"]})", tax_);
  EXPECT_EQ(ungranted.status, 403);

  // Who read my data: the two reads by civil affairs, for the citizen only.
  HttpResponse mine = http_request("GET", base + "/me/data-reads", "", citizen_);
  ASSERT_EQ(mine.status, 200) << mine.body;
  auto reads = body_of(mine)["reads"];
  ASSERT_EQ(reads.size(), 2u) << mine.body;
  EXPECT_EQ(reads[1]["department"], "civil");
  EXPECT_EQ(reads[1]["items"], nlohmann::json({"name"}));
  EXPECT_EQ(reads[1]["legal_basis"], "《社会救助暂行办法》第十一条");
  EXPECT_EQ(reads[0]["items"], nlohmann::json({"birth_date", "name"}));
  EXPECT_TRUE(body_of(http_request("GET", base + "/me/data-reads", "", other_citizen_))["reads"].empty());
  EXPECT_EQ(http_request("GET", base + "/me/data-reads", "", civil_).status, 403) << "officials have no records of their own";
  // A page of one, then the next from where it said.
  auto first_page = body_of(http_request("GET", base + "/me/data-reads?limit=1", "", citizen_));
  ASSERT_EQ(first_page["reads"].size(), 1u);
  EXPECT_EQ(first_page["reads"][0], reads[0]);
  ASSERT_TRUE(first_page["next_before"].is_number());
  auto second_page = body_of(http_request(
      "GET", base + "/me/data-reads?limit=1&before=" + first_page["next_before"].dump(), "", citizen_));
  ASSERT_EQ(second_page["reads"].size(), 1u);
  EXPECT_EQ(second_page["reads"][0], reads[1]);
  for (auto [query, field] : {std::pair{"?limit=0", "limit"}, {"?limit=many", "limit"}, {"?before=-3", "before"}}) {
    HttpResponse refused = http_request("GET", base + "/me/data-reads" + query, "", citizen_);
    EXPECT_EQ(refused.status, 400) << query;
    EXPECT_EQ(body_of(refused)["error"]["details"]["field"], field) << query;
  }

  // The proof: the read's entry, its inclusion under a signed tree head, and that head's signature
  // by the node's certificate, which the platform's root certifies.
  std::int64_t index = answer["receipt"]["log_index"];
  auto entry = served_.platform->transparency_log->entry(index);
  ASSERT_TRUE(entry.ok());
  EXPECT_NE(entry->content.find(answer["receipt"]["response_hash"].get<std::string>()), std::string::npos);
  ASSERT_TRUE(served_.platform->transparency_log->sign_tree_head().ok());
  nlohmann::json head = body_of(http_request("GET", base + "/audit/tree-head"));
  std::int64_t size = head["tree_size"];
  ASSERT_GT(size, index);
  nlohmann::json proof = body_of(http_request("GET", base + "/audit/proofs/inclusion?index=" + std::to_string(index) +
                                                         "&tree_size=" + std::to_string(size)));
  std::vector<crypto::Sm3Digest> path;
  for (const auto& hash : proof["audit_path"]) {
    auto bytes = crypto::from_hex(hash.get<std::string>());
    ASSERT_TRUE(bytes.ok());
    crypto::Sm3Digest digest{};
    std::copy(bytes->begin(), bytes->end(), digest.begin());
    path.push_back(digest);
  }
  auto root = crypto::from_hex(head["root_hash"].get<std::string>());
  crypto::Sm3Digest root_hash{};
  std::copy(root->begin(), root->end(), root_hash.begin());
  EXPECT_TRUE(audit::verify_inclusion(index, size, audit::leaf_hash(entry->content), path, root_hash).ok());

  auto node = served_.platform->certificate_authority->node_certificate();
  ASSERT_TRUE(node.ok());
  HttpResponse certificate = http_request("GET", base + "/pki/certificates/" + node->serial);
  ASSERT_EQ(certificate.status, 200) << certificate.body;
  directory_.write("node.pem", body_of(certificate)["certificate_pem"].get<std::string>());
  directory_.write("root.pem", http_request("GET", base + "/pki/root.pem").body);
  directory_.write("message", head["signed_message"].get<std::string>());
  auto signature = crypto::from_hex(head["signature"].get<std::string>());
  directory_.write("signature", std::string(signature->begin(), signature->end()));
  auto checked = onewindow::testing::run_command(
      "cd " + directory_.path().string() +
      " && openssl verify -CAfile root.pem node.pem && openssl x509 -in node.pem -pubkey -noout > node-key.pem"
      " && openssl pkeyutl -verify -pubin -inkey node-key.pem -sigfile signature -rawin -digest sm3"
      " -pkeyopt distid:1234567812345678 -in message");
  EXPECT_EQ(checked.exit_code, 0) << checked.output;
  EXPECT_NE(checked.output.find("Signature Verified Successfully"), std::string::npos) << checked.output;
}

TEST_F(ExchangeRoutes, ABulkReadIsStreamedAsNdjsonWithItsReceipt) {
  std::string base = served_.base + "/api/v1";
  std::string path = base + "/exchange/resources/" + person_resource_ + "/bulk-read";
  HttpResponse refused = http_request("POST", path, R"({"items":["name"]})", civil_);
  EXPECT_EQ(refused.status, 403) << "an ordinary error before anything is sent: " << refused.body;
  HttpResponse asked = http_request(
      "POST", base + "/catalog/grants",
      R"({"resource_id":")" + person_resource_ + R"(","items":["name","sex"],"purpose":"人口统计","legal_basis":"《统计法》第七条","expires_on":"2030-12-31"})",
      civil_);
  ASSERT_EQ(http_request("POST", base + "/catalog/grants/" + body_of(asked)["id"].get<std::string>() + "/decision",
                         R"({"grant":true})", police_)
                .status,
            200);
  for (int i = 0; i < 300; ++i) {
    std::string seventeen = "37028519900101" + std::to_string(100 + i);
    ASSERT_TRUE(served_.platform->registries
                    ->write("person", seventeen + citizen_id_check_character(seventeen).value(),
                            {{"name", "测试" + std::to_string(i)}, {"sex", "2"}, {"birth_date", "1990-01-01"}}, "批量登记",
                            {"acc_police", "police"})
                    .ok());
  }
  HttpResponse streamed = http_request("POST", path, R"({"items":["name"]})", civil_);
  ASSERT_EQ(streamed.status, 200) << streamed.body;
  EXPECT_EQ(streamed.headers["content-type"], "application/x-ndjson");
  EXPECT_EQ(streamed.headers["transfer-encoding"], "chunked");
  std::vector<std::string> lines;
  std::istringstream body(streamed.body);
  for (std::string line; std::getline(body, line);) lines.push_back(line);
  ASSERT_EQ(lines.size(), 302u) << "301 records and the receipt";
  std::string records;
  for (std::size_t i = 0; i + 1 < lines.size(); ++i) {
    auto record = nlohmann::json::parse(lines[i]);
    EXPECT_EQ(record["fields"].size(), 1u);
    records += lines[i] + "\n";
  }
  auto receipt = nlohmann::json::parse(lines.back())["receipt"];
  EXPECT_EQ(receipt["records"], 301);
  EXPECT_EQ(receipt["response_hash"], crypto::to_hex(crypto::sm3(records)));
  HttpResponse mine = http_request("GET", base + "/me/data-reads", "", citizen_);
  ASSERT_EQ(body_of(mine)["reads"].size(), 1u) << mine.body;
  EXPECT_EQ(body_of(mine)["reads"][0]["bulk"], true);
}

TEST_F(ExchangeRoutes, AServerStopsWhileASlowClientReadsAStream) {
  std::string base = served_.base + "/api/v1";
  HttpResponse asked = http_request(
      "POST", base + "/catalog/grants",
      R"({"resource_id":")" + person_resource_ + R"(","items":["name"],"purpose":"人口统计","legal_basis":"《统计法》第七条","expires_on":"2030-12-31"})",
      civil_);
  ASSERT_EQ(http_request("POST", base + "/catalog/grants/" + body_of(asked)["id"].get<std::string>() + "/decision",
                         R"({"grant":true})", police_)
                .status,
            200);
  // More records than the sockets' buffers hold (about 7 MB of lines), so that the stream's
  // thread is still writing when the server stops.
  auto divisions = DivisionCodes::load(onewindow::testing::config_dir() / "divisions.yaml");
  ASSERT_TRUE(divisions.ok());
  auto files = synthetic::generate({100'000, 0, 3, Date(2026, 1, 1)}, *divisions, directory_.path() / "csv");
  ASSERT_TRUE(files.ok());
  auto begun = served_.platform->imports->begin({"person", files->at(0).path, TextEncoding::utf8, "批量登记", {"acc_police", "police"}});
  ASSERT_TRUE(begun.ok()) << begun.error().message;
  ASSERT_TRUE(served_.platform->imports->run(begun->id).ok());
  // A server with a short grace, and a client reading its stream at 20 KB/s.
  served_.server->drain_and_stop();
  served_.settings.http.shutdown_grace_seconds = 1;
  served_.server = std::make_unique<api::Server>(served_.platform->router, served_.platform->metrics,
                                                 *server_options(served_.settings));
  ASSERT_TRUE(served_.server->start().ok());
  std::string token = civil_.at("Authorization");
  onewindow::testing::run_command("(curl -s --limit-rate 20k -X POST -H 'Authorization: " + token +
                                  "' -H 'Content-Type: application/json' -d '{\"items\":[\"name\"]}' " + base +
                                  "/exchange/resources/" + person_resource_ + "/bulk-read > " + (directory_.path() / "slow.ndjson").string() + " 2>&1 &)");
  // Stopped once the client has its first records (however long a busy machine takes to start
  // it), with the rest still to come.
  const auto slow_file = directory_.path() / "slow.ndjson";
  for (int waited = 0; waited < 200; ++waited) {
    if (std::filesystem::exists(slow_file) && onewindow::testing::read_file(slow_file).find("\"key\"") != std::string::npos) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  auto stopping = std::chrono::steady_clock::now();
  served_.server->drain_and_stop();
  auto took = std::chrono::steady_clock::now() - stopping;
  EXPECT_GE(took, std::chrono::milliseconds(900)) << "the stream was not in flight: the test proves nothing";
  EXPECT_LT(took, std::chrono::seconds(5)) << "the stream held the server up";
  served_.server.reset();
  // The client had begun to receive the records, and did not get them all.
  std::string received = onewindow::testing::read_file(directory_.path() / "slow.ndjson");
  EXPECT_NE(received.find("\"key\""), std::string::npos) << received.substr(0, 300);
  EXPECT_EQ(received.find("\"receipt\""), std::string::npos);
}

TEST_F(ExchangeRoutes, SupervisorsSeeTheShareStatistics) {
  auto supervisor = served_.bearer({identity::AccountKind::supervisor, "exchange.supervisor", "served password 1", "监察员", "",
                                    {}, "", "", ""})
                        .first;
  std::string base = served_.base + "/api/v1/exchange/statistics";
  HttpResponse statistics = http_request("GET", base, "", supervisor);
  ASSERT_EQ(statistics.status, 200) << statistics.body;
  EXPECT_TRUE(body_of(statistics)["reads"].is_array());
  EXPECT_EQ(body_of(statistics)["grants"]["pending"], 0);
  EXPECT_EQ(http_request("GET", base, "", civil_).status, 403) << "an official is no supervisor";
  HttpResponse bad = http_request("GET", base + "?from=yesterday", "", supervisor);
  EXPECT_EQ(bad.status, 400);
  EXPECT_EQ(body_of(bad)["error"]["details"]["field"], "from");
  HttpResponse reversed = http_request("GET", base + "?from=2026-12-01&to=2026-11-01", "", supervisor);
  EXPECT_EQ(body_of(reversed)["error"]["details"]["field"], "to");
}

TEST_F(ExchangeRoutes, BadReadsNameTheField) {
  std::string path = served_.base + "/api/v1/exchange/resources/" + person_resource_ + "/read";
  HttpResponse no_keys = http_request("POST", path, R"({"items":["name"]})", civil_);
  EXPECT_EQ(no_keys.status, 400);
  EXPECT_EQ(body_of(no_keys)["error"]["details"]["field"], "keys");
  HttpResponse bad_items = http_request("POST", path, R"({"keys":["x"],"items":"name"})", civil_);
  EXPECT_EQ(bad_items.status, 400);
  EXPECT_EQ(body_of(bad_items)["error"]["details"]["field"], "items");
  HttpResponse unknown = http_request("POST", served_.base + "/api/v1/exchange/resources/res_nothing/read", R"({"keys":["x"]})", civil_);
  EXPECT_EQ(unknown.status, 404);
  HttpResponse extra = http_request("POST", path, R"({"keys":["x"],"why":"because"})", civil_);
  EXPECT_EQ(body_of(extra)["error"]["details"]["field"], "why");
}

TEST_F(ExchangeRoutes, ADepartmentSubscribesPullsAndCancelsOverHttp) {
  std::string base = served_.base + "/api/v1";
  HttpResponse asked = http_request(
      "POST", base + "/catalog/grants",
      R"({"resource_id":")" + person_resource_ +
          R"(","items":["name","birth_date"],"purpose":"低保审核","legal_basis":"《社会救助暂行办法》第十一条","expires_on":"2030-12-31"})",
      civil_);
  ASSERT_EQ(asked.status, 201) << asked.body;
  ASSERT_EQ(http_request("POST", base + "/catalog/grants/" + std::string(body_of(asked)["id"]) + "/decision",
                         R"({"grant":true})", police_)
                .status,
            200);

  // Refusals name the field.
  struct Case {
    std::string body;
    int status;
    std::string code;
    std::string field;
  };
  for (const Case& test : std::vector<Case>{
           {R"({"items":["name"]})", 400, "http.missing_field", "resource"},
           {R"({"resource":")" + person_resource_ + R"(","endpoint":"gopher://x"})", 400, "http_client.bad_url", "endpoint"},
           {R"({"resource":")" + person_resource_ + R"(","items":["sex"]})", 403, "catalog.item_not_granted", "items"},
           {R"({"resource":")" + person_resource_ + R"(","colour":"red"})", 400, "http.unknown_field", "colour"},
       }) {
    HttpResponse refused = http_request("POST", base + "/exchange/subscriptions", test.body, civil_);
    EXPECT_EQ(refused.status, test.status) << test.body << ": " << refused.body;
    EXPECT_EQ(body_of(refused)["error"]["code"], test.code) << refused.body;
    EXPECT_EQ(body_of(refused)["error"]["details"]["field"], test.field) << refused.body;
  }
  EXPECT_EQ(http_request("POST", base + "/exchange/subscriptions", R"({"resource":")" + person_resource_ + R"("})", tax_).status,
            403)
      << "no grant, no subscription";

  HttpResponse made = http_request("POST", base + "/exchange/subscriptions",
                                   R"({"resource":")" + person_resource_ + R"(","items":["name"]})", civil_);
  ASSERT_EQ(made.status, 201) << made.body;
  nlohmann::json subscription = body_of(made);
  std::string id = subscription["id"];
  EXPECT_EQ(subscription["delivery"], "pull");
  ASSERT_TRUE(served_.platform->registries->write("person", citizen_id, {{"name", "张三丰"}}, "更名", {"acc_police", "police"}).ok());

  HttpResponse page = http_request("GET", base + "/exchange/subscriptions/" + id + "/events?after=0&limit=10", "", civil_);
  ASSERT_EQ(page.status, 200) << page.body;
  nlohmann::json events = body_of(page)["events"];
  ASSERT_EQ(events.size(), 1u) << page.body;
  EXPECT_EQ(events[0]["key"], citizen_id);
  EXPECT_EQ(events[0]["items"], nlohmann::json::array({"name"}));
  EXPECT_EQ(http_request("GET", base + "/exchange/subscriptions/" + id + "/events?after=x", "", civil_).status, 400);
  EXPECT_EQ(http_request("GET", base + "/exchange/subscriptions/" + id + "/events?limit=5000", "", civil_).status, 400);
  EXPECT_EQ(http_request("GET", base + "/exchange/subscriptions/" + id, "", tax_).status, 404)
      << "another department's subscription is not found";
  HttpResponse listed = http_request("GET", base + "/exchange/subscriptions", "", civil_);
  ASSERT_EQ(listed.status, 200);
  EXPECT_EQ(body_of(listed)["subscriptions"].size(), 1u);
  EXPECT_EQ(body_of(listed)["subscriptions"][0]["backlog"], 1) << "the page asked after 0: nothing acknowledged yet";

  HttpResponse read = http_request("POST", base + "/exchange/resources/" + person_resource_ + "/read",
                                   R"({"keys":[")" + std::string(citizen_id) + R"("]})", civil_);
  ASSERT_EQ(read.status, 200) << read.body;
  std::string labels = "{provider=\"police\",consumer=\"civil\",resource=\"" + std::string(body_of(read)["resource"]) + "\"}";
  HttpResponse metrics = http_request("GET", served_.base + "/metrics");
  EXPECT_NE(metrics.body.find("onewindow_exchange_reads_total" + labels + " 1\n"), std::string::npos) << metrics.body;
  EXPECT_NE(metrics.body.find("onewindow_exchange_records_total" + labels + " 1\n"), std::string::npos);
  EXPECT_NE(metrics.body.find("\nonewindow_exchange_read_index_backlog "), std::string::npos) << metrics.body;
  EXPECT_NE(metrics.body.find("onewindow_exchange_subscription_backlog{subscription=\"" + id + "\",consumer=\"civil\""),
            std::string::npos);
  EXPECT_NE(metrics.body.find("onewindow_catalog_grants{status=\"granted\"} 1"), std::string::npos) << metrics.body;

  ASSERT_EQ(http_request("DELETE", base + "/exchange/subscriptions/" + id, "", civil_).status, 200);
  HttpResponse gone = http_request("GET", base + "/exchange/subscriptions/" + id + "/events", "", civil_);
  EXPECT_EQ(gone.status, 409);
  EXPECT_EQ(body_of(gone)["error"]["code"], "catalog.subscription_cancelled");
}

}  // namespace
}  // namespace onewindow::cli
