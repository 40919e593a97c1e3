// Pushed events survive a dead endpoint and a killed server: `onewindow serve` runs with a push
// subscription whose receiver is down; the backlog shows over HTTP and grows with every change;
// the receiver comes up and answers slowly, and the server is killed with SIGKILL while a batch
// waits for its answer, several times; after the last restart every event has arrived, none is
// lost, and an event that came twice came with the same id and the same contents. The
// transparency log verifies. On SQLite and on PostgreSQL.
#include "http_receiver.h"
#include "served_process.h"

#include <map>
#include <set>
#include <thread>

namespace onewindow::cli {
namespace {

using onewindow::testing::http_request;
using onewindow::testing::HttpReceiver;

constexpr const char* person_id = "360426199101010071";
constexpr int changes = 250;  // three batches of at most 100 events
constexpr int kills = 3;

class SubscriptionDelivery : public ServedProcessTest {
 protected:
  void SetUp() override {
    prepare();
    receiver_port_ = onewindow::testing::free_port();
    auto built = build_platform(settings_, false);
    ASSERT_TRUE(built.ok()) << built.error().message;
    Platform& platform = **built;
    identity::NewAccount account{identity::AccountKind::official, "delivery.tax", "delivery password 1", "办事员",
                                 platform.directory->department_by_key("tax")->id, {}, "", "", ""};
    auto created = platform.directory->create_account(account, nullptr);
    ASSERT_TRUE(created.ok()) << created.error().message;
    auto login = platform.directory->login({account.username, account.password,
                                            *identity::Directory::totp_code(created->totp_secret, std::chrono::system_clock::now()),
                                            "127.0.0.1", identity::SessionKind::bearer});
    ASSERT_TRUE(login.ok()) << login.error().message;
    token_ = "Bearer " + login->token;

    auto listed = platform.catalog->search({"", "101001", "", std::nullopt, 10, 0});
    ASSERT_TRUE(listed.ok());
    std::string resource = (*listed)["resources"][0]["id"];
    auto requested = platform.catalog->request_grant(
        {resource, {"name", "phone"}, "社保登记 enrolment", "《社会保险法》第五十八条", "2030-12-31"}, {"acc_tax", "tax", ""});
    ASSERT_TRUE(requested.ok()) << requested.error().message;
    ASSERT_TRUE(platform.catalog->decide(requested->id, true, "", {"acc_police", "police", ""}).ok());
    ASSERT_TRUE(platform.registries
                    ->write("person", person_id, {{"name", "张三"}, {"sex", "1"}, {"birth_date", "1991-01-01"}}, "出生登记",
                            {"acc_police", "police"})
                    .ok());
    auto subscribed = platform.subscriptions->subscribe(
        {resource, {"phone"}, "http://127.0.0.1:" + std::to_string(receiver_port_) + "/onewindow-events"},
        {"acc_tax", "tax"});
    ASSERT_TRUE(subscribed.ok()) << subscribed.error().message;
    subscription_ = subscribed->id;
    start_ = subscribed->start;
  }

  nlohmann::json subscription() {
    auto shown = http_request("GET", base() + "/api/v1/exchange/subscriptions/" + subscription_, "",
                              {{"Authorization", token_}});
    EXPECT_EQ(shown.status, 200) << shown.body;
    return nlohmann::json::parse(shown.body, nullptr, false);
  }

  int receiver_port_ = 0;
  std::string token_;
  std::string subscription_;
  std::int64_t start_ = 0;
};

TEST_P(SubscriptionDelivery, EveryEventArrivesThroughADeadEndpointAndKilledServers) {
  // The receiver is down: changes pile up, and the backlog shows them.
  pid_t pid = start_server();
  {
    auto built = build_platform(settings_, false);
    ASSERT_TRUE(built.ok()) << built.error().message;
    for (int i = 0; i < changes; ++i) {
      char phone[12];
      std::snprintf(phone, sizeof phone, "139%08d", i);
      ASSERT_TRUE((*built)->registries->write("person", person_id, {{"phone", phone}}, "变更", {"acc_police", "police"}).ok());
    }
  }
  nlohmann::json waiting;
  for (int attempt = 0; attempt < 100; ++attempt) {
    waiting = subscription();
    if (waiting.value("attempts", 0) >= 1) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  EXPECT_EQ(waiting["backlog"], changes) << waiting.dump();
  EXPECT_GE(waiting["attempts"], 1) << waiting.dump();
  EXPECT_NE(waiting["last_error"], "") << waiting.dump();
  auto metrics = http_request("GET", base() + "/metrics");
  EXPECT_NE(metrics.body.find("onewindow_exchange_subscription_backlog{subscription=\"" + subscription_ + "\",consumer=\"tax\""),
            std::string::npos);

  // The receiver comes up and answers each batch a while after reading it; the server is killed
  // while it waits for an answer.
  HttpReceiver receiver(receiver_port_);
  receiver.set_delay(std::chrono::milliseconds(400));
  int killed = 0;
  for (int round = 0; round < kills; ++round) {
    int seen = receiver.requests();
    for (int waited = 0; waited < 3000 && receiver.requests() == seen; ++waited) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    ASSERT_GT(receiver.requests(), seen) << "round " << round << ": no batch came within 30 s";
    kill_server(pid);
    ++killed;
    pid = start_server();
  }
  receiver.set_delay(std::chrono::milliseconds(0));
  nlohmann::json done;
  for (int attempt = 0; attempt < 600; ++attempt) {
    done = subscription();
    if (done.value("backlog", -1) == 0) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  EXPECT_EQ(done["backlog"], 0) << done.dump();
  kill_server(pid);

  // Every event once at least; a repeat is the same event, id and contents.
  std::map<std::string, nlohmann::json> arrived;
  int repeats = 0;
  for (const auto& body : receiver.bodies()) {
    nlohmann::json batch = nlohmann::json::parse(body);
    EXPECT_EQ(batch["subscription"], subscription_);
    for (const auto& event : batch["events"]) {
      auto [at, fresh] = arrived.emplace(event["id"].get<std::string>(), event);
      if (!fresh) {
        ++repeats;
        EXPECT_EQ(at->second, event) << "a repeated event is the same event";
      }
    }
  }
  std::set<std::string> expected;
  for (int i = 1; i <= changes; ++i) expected.insert(subscription_ + "." + std::to_string(start_ + i));
  std::set<std::string> got;
  for (const auto& [id, event] : arrived) got.insert(id);
  EXPECT_EQ(got, expected);
  EXPECT_EQ(killed, kills);
  EXPECT_GT(repeats, 0) << "a batch read but not acknowledged before a kill is sent again";
  std::printf("  %d kills; %zu batches received, %d events, %d repeated\n", killed, receiver.bodies().size(),
              static_cast<int>(arrived.size()), repeats);

  expect_log_verifies();
}

INSTANTIATE_TEST_SUITE_P(Backends, SubscriptionDelivery, ::testing::Values(store::Backend::sqlite, store::Backend::postgresql),
                         [](const auto& info) { return std::string(store::backend_name(info.param)); });

}  // namespace
}  // namespace onewindow::cli
