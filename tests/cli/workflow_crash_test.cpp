// `onewindow serve` killed with SIGKILL again and again while four officials complete the reviews
// of parallel-approval instances over HTTP: after every restart, each completion that got a 2xx
// is there once, no step is half done or done twice, and the transparency log verifies. On
// SQLite and on PostgreSQL.
#include "served_process.h"

#include <atomic>
#include <mutex>
#include <random>
#include <set>
#include <thread>

namespace onewindow::cli {
namespace {

using onewindow::testing::http_request;

constexpr int instances = 800;
constexpr int kills = 20;
const std::vector<std::string> departments = {"market", "tax", "police", "hrss"};

class WorkflowCrash : public ServedProcessTest {
 protected:
  void SetUp() override {
    prepare();
    auto built = build_platform(settings_, false);
    ASSERT_TRUE(built.ok()) << built.error().message;
    Platform& platform = **built;
    for (const std::string& department : departments) {
      identity::NewAccount account{identity::AccountKind::official, "crash_" + department, "crash password 1", "审查员",
                                   platform.directory->department_by_key(department)->id, {}, "", "", ""};
      auto created = platform.directory->create_account(account, nullptr);
      ASSERT_TRUE(created.ok()) << created.error().message;
      auto code = identity::Directory::totp_code(created->totp_secret, std::chrono::system_clock::now());
      auto login = platform.directory->login(
          {account.username, account.password, *code, "127.0.0.1", identity::SessionKind::bearer});
      ASSERT_TRUE(login.ok()) << login.error().message;
      tokens_[department] = "Bearer " + login->token;
    }
    std::string xml = onewindow::testing::read_file(onewindow::testing::source_dir() / "bench" / "models" / "parallel_reviews.bpmn");
    ASSERT_TRUE(platform.workflow->deploy("parallel_reviews", xml, {"operator", "bigdata", {"operator"}}).ok());
    for (int i = 0; i < instances; ++i) {
      auto started = platform.workflow->start({0, "parallel_reviews", "case-" + std::to_string(i), nlohmann::json::object(), 0},
                                              {"acc_starter", "", {"citizen"}});
      ASSERT_TRUE(started.ok()) << started.error().message;
      instance_ids_.push_back(started->id);
    }
  }

  // One official: takes the department's open tasks from the inbox and completes them, until told
  // to stop. Completions answered 2xx are acknowledged.
  void review(const std::string& department, const std::atomic<bool>& stop) {
    std::map<std::string, std::string> headers = {{"Authorization", tokens_.at(department)},
                                                  {"Content-Type", "application/json"}};
    while (!stop) {
      auto inbox = http_request("GET", base() + "/api/v1/workflow/tasks", "", headers);
      if (inbox.status != 200) {
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
        continue;
      }
      auto tasks = nlohmann::json::parse(inbox.body)["tasks"];
      if (tasks.empty()) return;
      for (const auto& task : tasks) {
        if (stop) return;
        std::string id = task["id"];
        auto done = http_request("POST", base() + "/api/v1/workflow/tasks/" + id + "/complete", R"({"outcome":"approve"})",
                                 headers);
        if (done.status == 200) {
          std::lock_guard lock(mutex_);
          acknowledged_.insert(id);
        } else if (done.status != 0 && done.status != 409 && done.status != 503) {
          std::lock_guard lock(mutex_);
          unexpected_.push_back(std::to_string(done.status) + " " + done.body);
        }
      }
    }
  }

  std::map<std::string, std::string> tokens_;
  std::vector<std::string> instance_ids_;
  std::mutex mutex_;
  std::set<std::string> acknowledged_;
  std::vector<std::string> unexpected_;
};

TEST_P(WorkflowCrash, KilledServersLoseNoStepAndDoNoneTwice) {
  std::mt19937 random(20261201);
  int killed = 0;
  for (int round = 0; round < kills; ++round) {
    pid_t pid = start_server(false);
    ASSERT_TRUE(wait_until_healthy()) << onewindow::testing::read_file(log_file());
    std::atomic<bool> stop{false};
    std::vector<std::thread> officials;
    for (const std::string& department : departments) officials.emplace_back([&, department] { review(department, stop); });
    std::this_thread::sleep_for(std::chrono::milliseconds(std::uniform_int_distribution<int>(30, 250)(random)));
    ::kill(pid, SIGKILL);
    int status = 0;
    ::waitpid(pid, &status, 0);
    if (WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL) {
      ++killed;
    } else {
      ADD_FAILURE() << "round " << round << ": the server ended with status " << status << ": "
                    << onewindow::testing::read_file(log_file());
    }
    stop = true;
    for (auto& official : officials) official.join();
  }
  EXPECT_EQ(killed, kills) << "every round ends with the server killed, not stopped";
  EXPECT_TRUE(unexpected_.empty()) << unexpected_.front();
  EXPECT_FALSE(acknowledged_.empty());

  // What the database holds after the last kill.
  auto built = build_platform(settings_, false);
  ASSERT_TRUE(built.ok()) << built.error().message;
  workflow::Engine& engine = *(*built)->workflow;
  std::size_t completed_tasks = 0;
  int completed_instances = 0;
  for (const std::string& id : instance_ids_) {
    auto instance = engine.instance(id);
    ASSERT_TRUE(instance.ok());
    auto history = engine.history(id);
    ASSERT_TRUE(history.ok());
    auto tasks = engine.tasks({id, "", "", false});
    ASSERT_TRUE(tasks.ok());
    std::size_t done = 0;
    std::size_t open = 0;
    for (const auto& task : *tasks) {
      if (task.status == "completed") ++done;
      if (task.status == "open") ++open;
    }
    std::size_t completions = 0;
    for (std::size_t i = 0; i < history->size(); ++i) {
      EXPECT_EQ(history->at(i).sequence, static_cast<std::int64_t>(i + 1)) << id;
      if (history->at(i).action == "complete") ++completions;
    }
    ASSERT_EQ(tasks->size(), 4u) << id;
    EXPECT_EQ(done + open, 4u) << id;
    EXPECT_EQ(completions, done) << id << ": each completed task has one step, and each step its task";
    EXPECT_EQ(instance->active_nodes.size(), open) << id;
    EXPECT_EQ(instance->status, done == 4 ? "completed" : "running") << id;
    completed_tasks += done;
    if (instance->status == "completed") ++completed_instances;
  }
  for (const std::string& id : acknowledged_) {
    auto task = engine.task(id);
    ASSERT_TRUE(task.ok());
    EXPECT_EQ(task->status, "completed") << id << " was acknowledged";
  }
  EXPECT_GE(completed_tasks, acknowledged_.size());
  std::printf("  %d kills; %zu completions acknowledged, %zu stored; %d of %d instances completed\n", killed,
              acknowledged_.size(), completed_tasks, completed_instances, instances);
  built->reset();

  expect_log_verifies();
}

INSTANTIATE_TEST_SUITE_P(Backends, WorkflowCrash, ::testing::Values(store::Backend::sqlite, store::Backend::postgresql),
                         [](const auto& info) { return std::string(store::backend_name(info.param)); });

}  // namespace
}  // namespace onewindow::cli
