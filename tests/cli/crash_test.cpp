// The whole platform killed at random moments (issue 10, crash test), on SQLite and on
// PostgreSQL. `onewindow serve` runs while four clients drive it over HTTP at once:
// - police writes new person records (registry writes);
// - health reads a person through its grant (exchange reads, each with a receipt);
// - a citizen makes applications with an Idempotency-Key, uploads the key material, submits;
// - the window accepts what is waiting.
// The server is killed with SIGKILL 20 times, at a random moment each time, and started again.
// Afterwards every request that got a 2xx is there exactly once, nothing that got no answer is
// half-done, a push subscription to the person registry has delivered an event for every record
// written, and `onewindow audit verify` passes.
#include "http_receiver.h"
#include "served_process.h"

#include <atomic>
#include <map>
#include <mutex>
#include <random>
#include <set>
#include <thread>

namespace onewindow::cli {
namespace {

using onewindow::testing::http_request;
using onewindow::testing::HttpReceiver;
using onewindow::testing::HttpResponse;

constexpr const char* citizen_id = "360426199101010071";
constexpr int kills = 20;
const std::string pdf = "%PDF-1.4\n1 0 obj << >> endobj\ntrailer << >>\n%%EOF\n";

using Headers = std::map<std::string, std::string>;

bool answered(const HttpResponse& response) { return response.status != 0; }
bool success(const HttpResponse& response) { return response.status >= 200 && response.status < 300; }

// A valid citizen ID number of Laixi for the n-th written person.
std::string person_number(int n) {
  char first[18];
  std::snprintf(first, sizeof first, "370285%04d%02d%02d%03d", 1950 + n / 3000, 1 + (n / 100) % 12, 1 + (n / 4) % 28,
                n % 1000);
  auto check = citizen_id_check_character(first);
  return std::string(first) + (check.ok() ? *check : 'X');
}

// What the clients were told, and what they asked without an answer.
struct Ledger {
  std::mutex mutex;
  std::map<std::string, std::string> written;     // person number -> name (2xx)
  std::map<std::string, std::string> unanswered;  // writes with no answer
  std::vector<std::pair<std::int64_t, std::string>> reads;  // receipt log index, response hash (2xx)
  std::map<std::string, std::string> created;  // idempotency key -> application (2xx)
  std::set<std::string> keys;                  // every key tried
  std::set<std::string> submitted;             // applications submitted (2xx)
  std::set<std::string> accepted;              // applications accepted (2xx)
  int requests = 0;
  int no_answer = 0;
};

class CrashTest : public ServedProcessTest {
 protected:
  void SetUp() override {
    prepare();
    receiver_port_ = onewindow::testing::free_port();
    auto built = build_platform(settings_, false);
    ASSERT_TRUE(built.ok()) << built.error().message;
    Platform& platform = **built;
    auto login = [&](identity::AccountKind kind, const std::string& name, const std::string& department,
                     const std::string& person) {
      identity::NewAccount account{kind, "crash." + name, "crash password 1", name,
                                   department.empty() ? "" : platform.directory->department_by_key(department)->id,
                                   {}, person, "", ""};
      auto created = platform.directory->create_account(account, nullptr);
      EXPECT_TRUE(created.ok()) << created.error().message;
      std::string code = created->totp_secret.empty()
                             ? ""
                             : *identity::Directory::totp_code(created->totp_secret, std::chrono::system_clock::now());
      auto session = platform.directory->login({account.username, account.password, code, "127.0.0.1",
                                                identity::SessionKind::bearer});
      EXPECT_TRUE(session.ok()) << session.error().message;
      return Headers{{"Authorization", "Bearer " + session->token}, {"Content-Type", "application/json"}};
    };
    police_ = login(identity::AccountKind::official, "police", "police", "");
    health_ = login(identity::AccountKind::official, "health", "health", "");
    window_ = login(identity::AccountKind::official, "window", "approval", "");
    market_ = login(identity::AccountKind::official, "market", "market", "");
    citizen_ = login(identity::AccountKind::citizen, "citizen", "", citizen_id);
    auditor_ = login(identity::AccountKind::supervisor, "supervisor", "", "");

    auto person = platform.catalog->registry_resource("person");
    ASSERT_TRUE(person.ok());
    resource_ = person->id;
    for (const std::string department : {"health", "market"}) {
      auto requested = platform.catalog->request_grant(
          {resource_, {"name", "phone", "household_address"}, "一件事一次办 prefill", "《优化营商环境条例》第三十七条",
           "2030-12-31"},
          {"acc_" + department, department, ""});
      ASSERT_TRUE(requested.ok()) << requested.error().message;
      ASSERT_TRUE(platform.catalog->decide(requested->id, true, "", {"acc_police", "police", ""}).ok());
    }
    ASSERT_TRUE(platform.registries
                    ->write("person", citizen_id,
                            {{"name", "张三"}, {"sex", "1"}, {"birth_date", "1991-01-01"}, {"phone", "13812345678"}},
                            "户籍登记", {"acc_police", "police"})
                    .ok());
    auto subscribed = platform.subscriptions->subscribe(
        {resource_, {"name"}, "http://127.0.0.1:" + std::to_string(receiver_port_) + "/events"}, {"acc_market", "market"});
    ASSERT_TRUE(subscribed.ok()) << subscribed.error().message;
    subscription_ = subscribed->id;
  }

  std::string api() const { return base() + "/api/v1"; }

  // The four clients, until told to stop; each counts what it was told.
  void drive(std::atomic<bool>& stop, std::atomic<int>& next_person, std::atomic<int>& next_key) {
    auto count = [&](const HttpResponse& response) {
      std::lock_guard lock(ledger_.mutex);
      ++ledger_.requests;
      if (!answered(response)) ++ledger_.no_answer;
    };
    std::thread police([&] {
      while (!stop) {
        int n = next_person++;
        std::string number = person_number(n);
        std::string name = "居民" + std::to_string(n);
        auto written = http_request("PUT", api() + "/registries/person/records/" + number,
                                    nlohmann::json{{"fields", {{"name", name}, {"sex", "1"}, {"birth_date", "1990-01-01"}}},
                                                   {"reason", "出生登记"}}
                                        .dump(),
                                    police_);
        count(written);
        std::lock_guard lock(ledger_.mutex);
        if (success(written)) {
          ledger_.written[number] = name;
        } else if (!answered(written)) {
          ledger_.unanswered[number] = name;
        } else {
          ADD_FAILURE() << "a write was refused: " << written.status << " " << written.body;
        }
      }
    });
    std::thread health([&] {
      while (!stop) {
        auto read = http_request("GET", api() + "/exchange/resources/" + resource_ + "/records/" + citizen_id, "", health_);
        count(read);
        if (!success(read)) continue;
        nlohmann::json body = nlohmann::json::parse(read.body, nullptr, false);
        std::lock_guard lock(ledger_.mutex);
        ledger_.reads.emplace_back(body["receipt"]["log_index"].get<std::int64_t>(),
                                   body["receipt"]["response_hash"].get<std::string>());
      }
    });
    std::thread citizen([&] {
      while (!stop) {
        std::string key = "crash-" + std::to_string(next_key++);
        {
          std::lock_guard lock(ledger_.mutex);
          ledger_.keys.insert(key);
        }
        Headers headers = citizen_;
        headers["Idempotency-Key"] = key;
        auto made = http_request("POST", api() + "/services/QD-CSYJS-001/applications",
                                 nlohmann::json{{"form", {{"child_name", "张小宝"}, {"child_sex", "1"},
                                                          {"child_birth_date", "2026-11-28"},
                                                          {"birth_hospital", "青岛市妇女儿童医院"},
                                                          {"other_parent_name", "李四"},
                                                          {"other_parent_id", "44011320141005001X"},
                                                          {"household_address", "山东省青岛市莱西市烟台路1号"}}}}
                                     .dump(),
                                 headers);
        count(made);
        if (!success(made)) continue;
        std::string id = nlohmann::json::parse(made.body)["id"];
        {
          std::lock_guard lock(ledger_.mutex);
          ledger_.created[key] = id;
        }
        Headers upload = citizen_;
        upload["Content-Type"] = "application/pdf";
        auto attached = http_request("PUT", api() + "/applications/" + id + "/materials/birth_record?file_name=a.pdf", pdf,
                                     upload);
        count(attached);
        if (!success(attached)) continue;
        auto submitted = http_request("POST", api() + "/applications/" + id + "/submit", "", citizen_);
        count(submitted);
        if (success(submitted)) {
          std::lock_guard lock(ledger_.mutex);
          ledger_.submitted.insert(id);
        }
      }
    });
    std::thread window([&] {
      while (!stop) {
        auto waiting = http_request("GET", api() + "/intake", "", window_);
        count(waiting);
        nlohmann::json body = nlohmann::json::parse(waiting.body, nullptr, false);
        if (!success(waiting) || body["applications"].empty()) {
          std::this_thread::sleep_for(std::chrono::milliseconds(20));
          continue;
        }
        std::string id = body["applications"][0]["id"];
        auto taken = http_request("POST", api() + "/applications/" + id + "/intake", R"({"decision":"accept"})", window_);
        count(taken);
        if (success(taken)) {
          std::lock_guard lock(ledger_.mutex);
          ledger_.accepted.insert(id);
        }
      }
    });
    police.join();
    health.join();
    citizen.join();
    window.join();
  }

  int receiver_port_ = 0;
  Headers police_, health_, window_, market_, citizen_, auditor_;
  std::string resource_;
  std::string subscription_;
  Ledger ledger_;
};

TEST_P(CrashTest, TwentyKillsLoseNothingAndDoNothingTwice) {
  HttpReceiver receiver(receiver_port_);
  std::mt19937 random(20261201);
  std::uniform_int_distribution<int> moment(150, 900);
  std::atomic<int> next_person{0};
  std::atomic<int> next_key{0};
  pid_t pid = start_server();
  for (int round = 0; round < kills; ++round) {
    std::atomic<bool> stop{false};
    std::thread clients([&] { drive(stop, next_person, next_key); });
    std::this_thread::sleep_for(std::chrono::milliseconds(moment(random)));
    kill_server(pid);
    stop = true;
    clients.join();
    pid = start_server();
  }

  // Every write that got a 2xx is there, whole; one that got no answer is whole or absent.
  Headers reader = police_;
  for (const auto& [number, name] : ledger_.written) {
    auto record = http_request("GET", api() + "/registries/person/records/" + number, "", reader);
    ASSERT_EQ(record.status, 200) << number << " was acknowledged: " << record.body;
    nlohmann::json fields = nlohmann::json::parse(record.body)["fields"];
    EXPECT_EQ(fields["name"], name);
    EXPECT_EQ(fields["birth_date"], "1990-01-01");
  }
  int unanswered_done = 0;
  for (const auto& [number, name] : ledger_.unanswered) {
    auto record = http_request("GET", api() + "/registries/person/records/" + number, "", reader);
    ASSERT_TRUE(record.status == 200 || record.status == 404) << record.body;
    if (record.status == 404) continue;
    ++unanswered_done;
    nlohmann::json fields = nlohmann::json::parse(record.body)["fields"];
    EXPECT_EQ(fields["name"], name) << "half-written " << number;
    EXPECT_EQ(fields["sex"], "1") << "half-written " << number;
    EXPECT_EQ(fields["birth_date"], "1990-01-01") << "half-written " << number;
  }

  // Every read that was answered is recorded, at the index its receipt gave, with the same hash.
  std::set<std::int64_t> read_entries;
  for (const auto& [index, hash] : ledger_.reads) {
    EXPECT_TRUE(read_entries.insert(index).second) << "two reads answered with one entry " << index;
    auto entry = http_request("GET", api() + "/audit/entries/" + std::to_string(index), "", auditor_);
    ASSERT_EQ(entry.status, 200) << entry.body;
    nlohmann::json content = nlohmann::json::parse(entry.body)["entry"];
    EXPECT_EQ(content["action"], "exchange.read");
    EXPECT_EQ(content["details"]["response_hash"], hash);
  }

  // Each key made one application at most, and every acknowledged one: a retry with the key gives
  // the same application; none exists that no key made.
  std::set<std::string> applications;
  for (const std::string& key : ledger_.keys) {
    Headers headers = citizen_;
    headers["Idempotency-Key"] = key;
    auto again = http_request("POST", api() + "/services/QD-CSYJS-001/applications", R"({"form":{}})", headers);
    ASSERT_TRUE(again.status == 200 || again.status == 201) << again.body;
    std::string id = nlohmann::json::parse(again.body)["id"];
    if (auto made = ledger_.created.find(key); made != ledger_.created.end()) {
      EXPECT_EQ(again.status, 200) << key << " was acknowledged";
      EXPECT_EQ(id, made->second) << key;
    }
    EXPECT_TRUE(applications.insert(id).second) << "two keys, one application " << id;
  }
  auto mine = http_request("GET", api() + "/me/applications", "", citizen_);
  ASSERT_EQ(mine.status, 200);
  // The listing shows the newest 1,000: each of them one the keys made.
  nlohmann::json listed = nlohmann::json::parse(mine.body)["applications"];
  EXPECT_EQ(listed.size(), std::min<std::size_t>(applications.size(), 1000));
  for (const auto& application : listed) EXPECT_TRUE(applications.contains(application["id"])) << application["id"];
  for (const std::string& id : ledger_.submitted) {
    auto shown = http_request("GET", api() + "/applications/" + id, "", citizen_);
    ASSERT_EQ(shown.status, 200);
    EXPECT_NE(nlohmann::json::parse(shown.body)["state"], "draft") << id << " was submitted";
  }
  for (const std::string& id : ledger_.accepted) {
    auto progress = http_request("GET", api() + "/applications/" + id + "/progress", "", citizen_);
    ASSERT_EQ(progress.status, 200);
    nlohmann::json body = nlohmann::json::parse(progress.body);
    EXPECT_EQ(body["state"], "accepted") << id;
    EXPECT_EQ(body["tasks"].size(), 4u) << "accepted with its instance: " << id;
  }

  // The subscription delivers an event for every record written.
  nlohmann::json shown;
  for (int attempt = 0; attempt < 600; ++attempt) {
    auto answer = http_request("GET", api() + "/exchange/subscriptions/" + subscription_, "", market_);
    shown = nlohmann::json::parse(answer.body, nullptr, false);
    if (shown.value("backlog", -1) == 0) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  EXPECT_EQ(shown["backlog"], 0) << shown.dump();
  kill_server(pid);
  std::map<std::string, nlohmann::json> arrived;
  std::set<std::string> keys_told;
  for (const auto& body : receiver.accepted()) {
    const nlohmann::json batch = nlohmann::json::parse(body);
    for (const auto& event : batch["events"]) {
      auto [at, fresh] = arrived.emplace(event["id"].get<std::string>(), event);
      if (!fresh) EXPECT_EQ(at->second, event) << "a repeated event is the same event";
      keys_told.insert(event["key"].get<std::string>());
    }
  }
  int untold = 0;
  for (const auto& [number, name] : ledger_.written) untold += keys_told.contains(number) ? 0 : 1;
  EXPECT_EQ(untold, 0) << "of " << ledger_.written.size() << " records written, events for " << keys_told.size()
                       << " keys arrived in " << receiver.accepted().size() << " batches of " << receiver.requests()
                       << " requests; the subscription: " << shown.dump() << "; a batch: "
                       << (receiver.accepted().empty() ? "" : receiver.accepted().front().substr(0, 400));

  expect_log_verifies();

  // The servers' logs of the whole run hold no personal ID number, no token and no password.
  std::string log = onewindow::testing::read_file(log_file());
  EXPECT_GT(log.size(), 1000u) << "the servers logged their run";
  std::vector<std::string> secrets = {citizen_id, "crash password 1"};
  for (const Headers* caller : {&police_, &health_, &window_, &market_, &citizen_, &auditor_}) {
    secrets.push_back(caller->at("Authorization").substr(7));
  }
  int sampled = 0;
  for (const auto& [number, name] : ledger_.written) {
    if (sampled++ % 10 == 0) secrets.push_back(number);
  }
  for (const std::string& secret : secrets) {
    auto at = log.find(secret);
    EXPECT_EQ(at, std::string::npos) << "the log shows a secret or ID number: "
                                     << (at == std::string::npos ? "" : log.substr(at > 80 ? at - 80 : 0, 200));
  }

  // The run did what it says: work at every kill, requests cut off.
  EXPECT_GT(ledger_.written.size(), static_cast<std::size_t>(kills));
  EXPECT_GT(ledger_.reads.size(), static_cast<std::size_t>(kills));
  EXPECT_GT(ledger_.submitted.size(), 0u);
  EXPECT_GT(ledger_.accepted.size(), 0u);
  EXPECT_GT(ledger_.no_answer, 0);
  std::printf("  %d kills, %d requests, %d cut off; %zu records written (%zu more without an answer, %d of them done), "
              "%zu reads, %zu applications (%zu submitted, %zu accepted), %zu events delivered\n",
              kills, ledger_.requests, ledger_.no_answer, ledger_.written.size(), ledger_.unanswered.size(),
              unanswered_done, ledger_.reads.size(), applications.size(), ledger_.submitted.size(),
              ledger_.accepted.size(), arrived.size());
}

INSTANTIATE_TEST_SUITE_P(Backends, CrashTest, ::testing::Values(store::Backend::sqlite, store::Backend::postgresql),
                         [](const auto& info) { return std::string(store::backend_name(info.param)); });

}  // namespace
}  // namespace onewindow::cli
