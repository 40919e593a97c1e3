// The Engine's contract beyond what the scenario files show: deployments and their versions,
// steps that fail leaving nothing behind, business keys, steps of one instance at once from
// several threads, the timer thread, and the MIWG reference models that import, run.
#include "workflow/workflow.h"

#include "testing.h"

#include <gtest/gtest.h>

#include <atomic>
#include <random>
#include <thread>

namespace onewindow::workflow {
namespace {

namespace fs = std::filesystem;

std::string bpmn(const std::string& process) {
  return R"(<definitions xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL" xmlns:ow="https://onewindow.invalid/bpmn" id="d">)" +
         process + "</definitions>";
}

// start -> review (market) -> [hook] -> end
std::string review_then_hook(const std::string& hook, const std::string& review_name = "review") {
  return bpmn(R"(<process id="p"><startEvent id="s"/><sequenceFlow id="f1" sourceRef="s" targetRef="review"/>
    <userTask id="review" name=")" + review_name + R"(" ow:candidateDepartment="market"/>
    <sequenceFlow id="f2" sourceRef="review" targetRef="h"/><serviceTask id="h" ow:hook=")" + hook + R"("/>
    <sequenceFlow id="f3" sourceRef="h" targetRef="e"/><endEvent id="e"/></process>)");
}

class EngineTest : public ::testing::TestWithParam<store::Backend> {
 protected:
  static std::vector<store::Migration> migrations() {
    std::vector<store::Migration> all = audit::TransparencyLog::migrations();
    for (auto& migration : Engine::migrations()) all.push_back(migration);
    return all;
  }

  void SetUp() override {
    auto calendar = WorkingDayCalendar::load(testing::config_dir() / "calendar");
    ASSERT_TRUE(calendar.ok());
    calendar_.emplace(std::move(calendar).value());
    log_ = std::make_unique<audit::TransparencyLog>(*database_, *crypto::PrivateKey::generate(), clock_);
    engine_ = std::make_unique<Engine>(*database_, *log_, *calendar_, clock_);
    engine_->register_hook("test.ok", [this](HookCall&) -> Result<nlohmann::json> {
      ++hook_runs_;
      return nlohmann::json{{"hooked", true}};
    });
    engine_->register_hook("test.count", [](HookCall& call) -> Result<nlohmann::json> {
      return nlohmann::json{{"hook_runs", call.variables.value("hook_runs", 0) + 1}};
    });
    engine_->register_hook("test.fail", [](HookCall&) -> Result<nlohmann::json> {
      return Error(ErrorKind::unavailable, "test.hook_failed", "the hook failed");
    });
  }

  std::int64_t log_size() { return *log_->size(); }

  testing::TestDatabase database_{GetParam(), migrations(), 8};
  ManualClock clock_{Date(2026, 11, 23)};
  std::optional<WorkingDayCalendar> calendar_;
  std::unique_ptr<audit::TransparencyLog> log_;
  std::unique_ptr<Engine> engine_;
  std::atomic<int> hook_runs_{0};
  Actor operator_{"acc_operator", "bigdata", {"operator"}};
  Actor citizen_{"acc_citizen", "", {"citizen"}};
  Actor market_{"acc_market", "market", {"official"}};
};

TEST_P(EngineTest, DeploymentsAreRefusedWithTheFieldAtFault) {
  EXPECT_EQ(engine_->deploy("Bad Name", review_then_hook("test.ok"), operator_).error().code, "workflow.bad_deployment_name");
  auto unknown_hook = engine_->deploy("p", review_then_hook("nobody.registered"), operator_);
  ASSERT_FALSE(unknown_hook.ok());
  EXPECT_EQ(unknown_hook.error().code, "workflow.unknown_hook");
  EXPECT_EQ(unknown_hook.error().details["hook"], "nobody.registered");
  auto unknown_call = engine_->deploy(
      "c", bpmn(R"(<process id="c"><startEvent id="s"/><sequenceFlow id="f" sourceRef="s" targetRef="call"/>
        <callActivity id="call" calledElement="not_deployed"/></process>)"),
      operator_);
  ASSERT_FALSE(unknown_call.ok());
  EXPECT_EQ(unknown_call.error().code, "workflow.unknown_called_element");
  EXPECT_EQ(engine_->deploy("m", "<definitions", operator_).error().code, "workflow.malformed_xml");
  EXPECT_EQ(log_size(), 0) << "nothing refused is logged";
  auto deployments = engine_->deployments();
  ASSERT_TRUE(deployments.ok());
  EXPECT_TRUE(deployments->empty());
}

TEST_P(EngineTest, TheSameTextKeepsItsVersionAndInstancesKeepTheirs) {
  auto first = engine_->deploy("p", review_then_hook("test.ok"), operator_);
  ASSERT_TRUE(first.ok()) << first.error().message;
  EXPECT_EQ(first->version, 1);
  EXPECT_FALSE(first->existing);
  auto again = engine_->deploy("p", review_then_hook("test.ok"), operator_);
  ASSERT_TRUE(again.ok());
  EXPECT_TRUE(again->existing);
  EXPECT_EQ(again->id, first->id);

  auto old = engine_->start({0, "p", "", nlohmann::json::object(), 0}, citizen_);
  ASSERT_TRUE(old.ok()) << old.error().message;
  auto second = engine_->deploy("p", review_then_hook("test.ok", "复审"), operator_);
  ASSERT_TRUE(second.ok());
  EXPECT_EQ(second->version, 2);
  auto fresh = engine_->start({0, "p", "", nlohmann::json::object(), 0}, citizen_);
  ASSERT_TRUE(fresh.ok());
  EXPECT_EQ(fresh->deployment, second->id);
  EXPECT_EQ(old->deployment, first->id);
  auto old_tasks = engine_->tasks({old->id, "", "", true});
  auto fresh_tasks = engine_->tasks({fresh->id, "", "", true});
  ASSERT_TRUE(old_tasks.ok() && fresh_tasks.ok());
  EXPECT_EQ(old_tasks->at(0).name, "review");
  EXPECT_EQ(fresh_tasks->at(0).name, "复审");
  auto newest = engine_->deployments();
  ASSERT_TRUE(newest.ok());
  ASSERT_EQ(newest->size(), 1u);
  EXPECT_EQ(newest->at(0).version, 2);
}

TEST_P(EngineTest, AStepWhoseHookFailsIsNotDoneAtAll) {
  ASSERT_TRUE(engine_->deploy("p", review_then_hook("test.fail"), operator_).ok());
  auto started = engine_->start({0, "p", "", {{"a", 1}}, 0}, citizen_);
  ASSERT_TRUE(started.ok());
  auto task = engine_->tasks({started->id, "", "", true});
  ASSERT_TRUE(task.ok());
  ASSERT_EQ(task->size(), 1u);
  std::int64_t logged = log_size();
  auto history = engine_->history(started->id);
  ASSERT_TRUE(history.ok());

  auto completed = engine_->complete(task->at(0).id, {"approve", "", {{"b", 2}}}, market_);
  ASSERT_FALSE(completed.ok());
  EXPECT_EQ(completed.error().code, "test.hook_failed");
  // Neither the task, nor the variables, nor the history, nor the log moved.
  auto after = engine_->task(task->at(0).id);
  ASSERT_TRUE(after.ok());
  EXPECT_EQ(after->status, "open");
  EXPECT_EQ(after->assignee, "");
  auto instance = engine_->instance(started->id);
  ASSERT_TRUE(instance.ok());
  EXPECT_EQ(instance->variables, (nlohmann::json{{"a", 1}}));
  EXPECT_EQ(instance->active_nodes, std::vector<std::string>{"review"});
  EXPECT_EQ(engine_->history(started->id)->size(), history->size());
  EXPECT_EQ(log_size(), logged);

  // A start whose first step fails leaves no instance.
  ASSERT_TRUE(engine_->deploy("q", bpmn(R"(<process id="q"><startEvent id="s"/>
      <sequenceFlow id="f" sourceRef="s" targetRef="h"/><serviceTask id="h" ow:hook="test.fail"/></process>)"),
                              operator_)
                  .ok());
  logged = log_size();
  auto refused = engine_->start({0, "q", "key-1", nlohmann::json::object(), 0}, citizen_);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(log_size(), logged);
  // The business key was not taken by the failed start.
  ASSERT_TRUE(engine_->deploy("q", bpmn(R"(<process id="q"><startEvent id="s"/>
      <sequenceFlow id="f" sourceRef="s" targetRef="h"/><serviceTask id="h" ow:hook="test.ok"/></process>)"),
                              operator_)
                  .ok());
  auto later = engine_->start({0, "q", "key-1", nlohmann::json::object(), 0}, citizen_);
  ASSERT_TRUE(later.ok()) << later.error().message;
  EXPECT_EQ(later->status, "completed");
  EXPECT_EQ(later->variables["hooked"], true);
}

TEST_P(EngineTest, ABusinessKeyStartsOneInstanceOfAProcess) {
  ASSERT_TRUE(engine_->deploy("p", review_then_hook("test.ok"), operator_).ok());
  auto first = engine_->start({0, "p", "app_1", nlohmann::json::object(), 0}, citizen_);
  ASSERT_TRUE(first.ok());
  auto second = engine_->start({0, "p", "app_1", nlohmann::json::object(), 0}, citizen_);
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.error().code, "workflow.duplicate_business_key");
  EXPECT_EQ(second.error().details["instance_id"], first->id);
  EXPECT_TRUE(engine_->start({0, "p", "app_2", nlohmann::json::object(), 0}, citizen_).ok());
  EXPECT_EQ(engine_->start({0, "nothing", "", nlohmann::json::object(), 0}, citizen_).error().code,
            "workflow.unknown_process");
  EXPECT_EQ(engine_->start({0, "p", "", nlohmann::json::array(), 0}, citizen_).error().code, "workflow.bad_variables");
}

// An instance a module started for its own records (an application) moves only through that
// module's steps in its session: the engine's own steps that move the case refuse it, so that the
// module's records never fall behind; claiming stays open, as officials claim from their inbox.
TEST_P(EngineTest, AModulesInstanceMovesOnlyThroughTheModule) {
  ASSERT_TRUE(engine_->deploy("p", review_then_hook("test.ok"), operator_).ok());
  StartRequest request{0, "p", "app_1", nlohmann::json::object(), 0};
  request.module = "services";
  auto started = engine_->start(request, citizen_);
  ASSERT_TRUE(started.ok()) << started.error().message;
  EXPECT_EQ(started->module, "services");
  auto tasks = engine_->tasks({started->id, "", "", false});
  ASSERT_TRUE(tasks.ok());
  ASSERT_EQ(tasks->size(), 1u);
  const std::string task = tasks->front().id;
  const std::int64_t before = log_size();

  auto expect_refused = [&](const auto& result, const char* step) {
    ASSERT_FALSE(result.ok()) << step;
    EXPECT_EQ(result.error().code, "workflow.module_instance") << step;
    EXPECT_EQ(result.error().details["module"], "services") << step;
  };
  expect_refused(engine_->complete(task, {"approve", "", nlohmann::json::object()}, market_), "complete");
  expect_refused(engine_->return_to(task, "review", "again", market_), "return");
  expect_refused(engine_->suspend(started->id, "wait", operator_), "suspend");
  expect_refused(engine_->withdraw(started->id, "no", citizen_), "withdraw");
  EXPECT_EQ(log_size(), before) << "nothing refused was logged";

  EXPECT_TRUE(engine_->claim(task, market_).ok());
  // The module's own step, in its transaction, moves it.
  Status moved = database_->write([&](store::Session& session) -> Status {
    return engine_->complete(session, task, {"approve", "", nlohmann::json::object()}, market_).status();
  });
  ASSERT_TRUE(moved.ok()) << moved.error().message;
  EXPECT_EQ(engine_->instance(started->id)->status, "completed");

  // An instance of nobody's moves by the engine's steps as before.
  auto free = engine_->start({0, "p", "app_2", nlohmann::json::object(), 0}, citizen_);
  ASSERT_TRUE(free.ok());
  EXPECT_EQ(free->module, "");
  EXPECT_TRUE(engine_->suspend(free->id, "wait", operator_).ok());
  EXPECT_TRUE(engine_->resume(free->id, operator_).ok());
}

TEST_P(EngineTest, ParallelTasksCompletedAtOnceFromSeveralThreadsEachCountOnce) {
  std::string xml = testing::read_file(testing::source_dir() / "bench" / "models" / "parallel_reviews.bpmn");
  ASSERT_TRUE(engine_->deploy("parallel_reviews", xml, operator_).ok());
  for (int round = 0; round < 5; ++round) {
    auto started = engine_->start({0, "parallel_reviews", "", nlohmann::json::object(), 0}, citizen_);
    ASSERT_TRUE(started.ok()) << started.error().message;
    auto tasks = engine_->tasks({started->id, "", "", true});
    ASSERT_TRUE(tasks.ok());
    ASSERT_EQ(tasks->size(), 4u);
    std::vector<std::thread> threads;
    std::atomic<int> failures{0};
    for (const auto& task : *tasks) {
      threads.emplace_back([&, task] {
        Actor reviewer{"acc_" + task.candidate_department, task.candidate_department, {"official"}};
        auto done = engine_->complete(task.id, {"approve", "", nlohmann::json::object()}, reviewer);
        if (!done.ok()) {
          ADD_FAILURE() << done.error().code << ": " << done.error().message;
          ++failures;
        }
      });
    }
    for (auto& thread : threads) thread.join();
    EXPECT_EQ(failures, 0);
    auto instance = engine_->instance(started->id);
    ASSERT_TRUE(instance.ok());
    EXPECT_EQ(instance->status, "completed");
    auto history = engine_->history(started->id);
    ASSERT_TRUE(history.ok());
    ASSERT_EQ(history->size(), 5u) << "a start and four completions, none lost and none twice";
    for (std::size_t i = 0; i < history->size(); ++i) EXPECT_EQ(history->at(i).sequence, static_cast<std::int64_t>(i + 1));
    auto closed = engine_->tasks({started->id, "", "", false});
    ASSERT_TRUE(closed.ok());
    for (const auto& task : *closed) EXPECT_EQ(task.status, "completed");
  }
}

TEST_P(EngineTest, TheTimerThreadFiresDueTimers) {
  ASSERT_TRUE(engine_->deploy("t", bpmn(R"(<process id="t"><startEvent id="s"/>
      <sequenceFlow id="f1" sourceRef="s" targetRef="w"/>
      <intermediateCatchEvent id="w"><timerEventDefinition><timeDuration>PT1H</timeDuration></timerEventDefinition></intermediateCatchEvent>
      <sequenceFlow id="f2" sourceRef="w" targetRef="e"/><endEvent id="e"/></process>)"),
                              operator_)
                  .ok());
  auto started = engine_->start({0, "t", "", nlohmann::json::object(), 0}, citizen_);
  ASSERT_TRUE(started.ok());
  engine_->start_timers(std::chrono::milliseconds(20));
  clock_.advance(std::chrono::minutes(61));
  std::string status;
  for (int i = 0; i < 250 && status != "completed"; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    status = engine_->instance(started->id)->status;
  }
  engine_->stop_timers();
  EXPECT_EQ(status, "completed");
}

TEST_P(EngineTest, AModelThatLoopsWithoutWaitingIsStopped) {
  ASSERT_TRUE(engine_->deploy("l", bpmn(R"(<process id="l"><startEvent id="s"/>
      <sequenceFlow id="f1" sourceRef="s" targetRef="a"/><task id="a"/>
      <sequenceFlow id="f2" sourceRef="a" targetRef="g"/><exclusiveGateway id="g"/>
      <sequenceFlow id="f3" sourceRef="g" targetRef="a"/></process>)"),
                              operator_)
                  .ok());
  auto started = engine_->start({0, "l", "", nlohmann::json::object(), 0}, citizen_);
  ASSERT_FALSE(started.ok());
  EXPECT_EQ(started.error().code, "workflow.endless_loop");
}

// The MIWG reference models that import run: each process starts, and its tasks, when it has
// user tasks, are completed until it ends; none of them crashes the engine.
TEST_P(EngineTest, TheMiwgModelsThatImportRun) {
  fs::path directory = testing::source_dir() / "tests" / "workflow" / "bpmn-miwg";
  int ran = 0;
  int models = 0;
  for (const auto& entry : fs::directory_iterator(directory)) {
    if (entry.path().extension() != ".bpmn") continue;
    std::string xml = testing::read_file(entry.path());
    auto model = parse_model(xml, entry.path().filename().string());
    if (!model.ok()) continue;
    std::string name = entry.path().stem().string();
    std::transform(name.begin(), name.end(), name.begin(), [](char c) { return c == '.' ? '-' : static_cast<char>(std::tolower(c)); });
    auto deployed = engine_->deploy(name, xml, operator_);
    ASSERT_TRUE(deployed.ok()) << name << ": " << deployed.error().message;
    ++models;
    for (const Process& process : model->processes) {
      auto started = engine_->start({deployed->id, process.id, "", nlohmann::json::object(), 0}, citizen_);
      ASSERT_TRUE(started.ok()) << name << " " << process.id << ": " << started.error().message;
      for (int step = 0; step < 50; ++step) {
        auto tasks = engine_->tasks({started->id, "", "", true});
        ASSERT_TRUE(tasks.ok());
        if (tasks->empty()) break;
        Actor anyone{"acc_" + tasks->at(0).candidate_department, tasks->at(0).candidate_department, {}};
        ASSERT_TRUE(engine_->complete(tasks->at(0).id, {"done", "", nlohmann::json::object()}, anyone).ok()) << name;
      }
      auto instance = engine_->instance(started->id);
      ASSERT_TRUE(instance.ok());
      EXPECT_EQ(instance->status, "completed") << name << " " << process.id;
      ++ran;
    }
  }
  EXPECT_EQ(models, 5) << "A.1.0, A.2.0, A.2.1, A.4.0 and A.4.1";
  EXPECT_EQ(ran, 7) << "their processes";
}

// Every scenario model, driven by random events (tasks completed by whoever may hold them with
// random outcomes, the clock moved on by working days and timers fired): whatever happens, no
// step fails unexpectedly, open tasks sit where tokens are, an ended instance has none, and the
// log verifies.
TEST_P(EngineTest, RandomEventsKeepEveryModelConsistent) {
  fs::path models = testing::source_dir() / "tests" / "workflow" / "scenarios" / "models";
  ASSERT_TRUE(engine_->deploy("department_review", testing::read_file(models / "department_review.bpmn"), operator_).ok());
  std::vector<std::string> processes;
  for (const auto& entry : fs::directory_iterator(models)) {
    auto deployed = engine_->deploy(entry.path().stem().string(), testing::read_file(entry.path()), operator_);
    ASSERT_TRUE(deployed.ok()) << entry.path() << ": " << deployed.error().message;
    for (const auto& process : deployed->processes) processes.push_back(process);
  }
  std::sort(processes.begin(), processes.end());
  const std::vector<std::string> outcomes = {"approve", "refuse", "accept", "reject", "drop"};
  std::mt19937 random(GetParam() == store::Backend::sqlite ? 7 : 11);
  int steps = 0;
  for (const std::string& process : processes) {
    for (int round = 0; round < 8; ++round) {
      nlohmann::json variables = {{"signers", {"acc_a", "acc_b"}}, {"departments", {"market", "tax"}},
                                  {"amount", static_cast<int>(random() % 300)}, {"foreign", random() % 2 == 0}};
      // Each instance from 1 September 2026, so that no deadline runs past the calendar's years.
      clock_.set(local_day_start(Date(2026, 9, 1)) + std::chrono::hours(9));
      auto started = engine_->start({0, process, "", variables, 0}, citizen_);
      ASSERT_TRUE(started.ok()) << process << ": " << started.error().message;
      for (int event = 0; event < 60; ++event) {
        auto instance = engine_->instance(started->id);
        ASSERT_TRUE(instance.ok());
        auto open = engine_->tasks({started->id, "", "", true});
        ASSERT_TRUE(open.ok());
        bool ended = instance->status == "completed" || instance->status == "terminated" || instance->status == "withdrawn";
        if (ended) {
          EXPECT_TRUE(open->empty()) << process << " ended with open tasks";
          EXPECT_TRUE(instance->active_nodes.empty()) << process << " ended with tokens";
          break;
        }
        for (const auto& task : *open) {
          EXPECT_NE(std::find(instance->active_nodes.begin(), instance->active_nodes.end(), task.node_id),
                    instance->active_nodes.end())
              << process << ": task " << task.node_id << " has no token";
        }
        std::vector<TaskView> actionable;
        for (const auto& task : *open) {
          if (task.status == "open") actionable.push_back(task);
        }
        if (actionable.empty() || random() % 5 == 0) {
          clock_.advance(std::chrono::hours(24));
          auto fired = engine_->fire_due_timers();
          ASSERT_TRUE(fired.ok()) << process << ": " << fired.error().message;
          continue;
        }
        const TaskView& task = actionable[random() % actionable.size()];
        Actor holder{task.assignee.empty() ? "acc_" + task.candidate_department : task.assignee, task.candidate_department,
                     {"official"}};
        auto done = engine_->complete(task.id, {outcomes[random() % outcomes.size()], "", nlohmann::json::object()}, holder);
        ASSERT_TRUE(done.ok()) << process << " " << task.node_id << ": " << done.error().code << " " << done.error().message;
        ++steps;
      }
    }
  }
  EXPECT_GT(steps, 200);
  ASSERT_TRUE(log_->sign_tree_head().ok());
  auto verified = audit::verify_log(*database_, log_->public_key());
  ASSERT_TRUE(verified.ok());
  EXPECT_TRUE(verified->ok()) << verified->summary();
}

INSTANTIATE_TEST_SUITE_P(Backends, EngineTest, ::testing::Values(store::Backend::sqlite, store::Backend::postgresql),
                         [](const auto& info) { return std::string(store::backend_name(info.param)); });

}  // namespace
}  // namespace onewindow::workflow
