// Runs every scenario file of tests/workflow/scenarios/ against the Engine, on SQLite and on
// PostgreSQL: a BPMN model, a script of events and the trace and state expected after them.
// The language is in tests/workflow/scenarios/README.md; adding a case means adding a file.
#include "workflow/workflow.h"

#include "scenario.h"
#include "testing.h"

#include <gtest/gtest.h>

#include <fstream>
#include <map>
#include <sstream>

namespace onewindow::workflow {
namespace {

namespace fs = std::filesystem;

fs::path scenario_dir() { return testing::source_dir() / "tests" / "workflow" / "scenarios"; }

std::vector<std::string> scenario_files() { return testing::files_with_extension(scenario_dir(), ".scenario"); }

using testing::trim;
using testing::words_of;
std::string join(const std::vector<std::string>& lines) { return testing::indented(lines); }

// The JSON at the end of a command ("... {"a": 1}"), or an empty object.
nlohmann::json json_tail(const std::string& text, std::string& rest) {
  auto brace = text.find('{');
  rest = brace == std::string::npos ? text : trim(text.substr(0, brace));
  if (brace == std::string::npos) return nlohmann::json::object();
  return nlohmann::json::parse(text.substr(brace));
}

class Scenario {
 public:
  Scenario(store::Backend backend, std::string file)
      : file_(std::move(file)), database_(backend, migrations()) {
    auto calendar = WorkingDayCalendar::load(testing::config_dir() / "calendar");
    if (!calendar.ok()) throw std::runtime_error(calendar.error().message);
    calendar_.emplace(std::move(calendar).value());
    node_key_.emplace(std::move(crypto::PrivateKey::generate()).value());
    open();
  }

  // Runs the file; each failure is reported with its line.
  void run() {
    testing::read_scenario(scenario_dir() / file_, [&](int line, const std::string& text, const std::vector<std::string>& block) {
      line_ = line;
      command(text, block);
      return !::testing::Test::HasFatalFailure();
    });
  }

 private:
  static std::vector<store::Migration> migrations() {
    std::vector<store::Migration> all = audit::TransparencyLog::migrations();
    for (auto& migration : Engine::migrations()) all.push_back(migration);
    return all;
  }

  std::string where() const { return file_ + ":" + std::to_string(line_) + ": "; }

  void open() {
    log_ = std::make_unique<audit::TransparencyLog>(*database_, *node_key_, clock_);
    engine_ = std::make_unique<Engine>(*database_, *log_, *calendar_, clock_);
    // Hooks of the scenarios: one that counts its runs into a variable, one that always fails.
    engine_->register_hook("test.count", [](HookCall& call) -> Result<nlohmann::json> {
      return nlohmann::json{{"hook_runs", call.variables.value("hook_runs", 0) + 1}};
    });
    engine_->register_hook("test.fail", [](HookCall&) -> Result<nlohmann::json> {
      return Error(ErrorKind::unavailable, "test.hook_failed", "the hook failed");
    });
  }

  const Actor& actor(const std::string& name) {
    auto found = actors_.find(name);
    if (found == actors_.end()) {
      ADD_FAILURE() << where() << "no actor " << name;
      static const Actor nobody{"nobody", "", {}};
      return nobody;
    }
    return found->second;
  }

  // "review", "review[1]" or "review@wang": the open task of that node (and loop index, or
  // holder) in the instance.
  std::string task_id(std::string reference) {
    std::string holder;
    if (auto at = reference.find('@'); at != std::string::npos) {
      holder = reference.substr(at + 1);
      reference = reference.substr(0, at);
    }
    std::string node = reference;
    int index = -1;
    if (auto bracket = reference.find('['); bracket != std::string::npos) {
      node = reference.substr(0, bracket);
      index = std::stoi(reference.substr(bracket + 1));
    }
    auto tasks = engine_->tasks({instance_, "", "", false});
    if (!tasks.ok()) {
      ADD_FAILURE() << where() << tasks.error().message;
      return "";
    }
    // The newest open one, else the newest of any status (to show that a closed task refuses).
    std::string found;
    bool open = false;
    for (const auto& task : *tasks) {
      if (task.node_id != node || (index >= 0 && task.loop_index != index)) continue;
      if (!holder.empty() && task.assignee != holder) continue;
      bool this_open = task.status == "open" || task.status == "waiting";
      if (this_open || !open) found = task.id;
      open = open || this_open;
    }
    if (found.empty()) ADD_FAILURE() << where() << "no task " << reference;
    return found;
  }

  void collect_trace() {
    auto steps = engine_->history(instance_);
    ASSERT_TRUE(steps.ok()) << where() << steps.error().message;
    for (const auto& step : *steps) {
      if (step.sequence <= seen_steps_) continue;
      seen_steps_ = step.sequence;
      for (const auto& line : step.trace) trace_.push_back(line);
    }
  }

  template <typename T>
  void check(const Result<T>& result) {
    if (expected_error_.empty()) {
      EXPECT_TRUE(result.ok()) << where() << result.error().code << ": " << result.error().message;
    } else if (result.ok()) {
      ADD_FAILURE() << where() << "expected " << expected_error_ << ", but it succeeded";
    } else {
      EXPECT_EQ(result.error().code, expected_error_) << where() << result.error().message;
    }
  }

  void command(const std::string& line, const std::vector<std::string>& block) {
    std::vector<std::string> words = words_of(line);
    const std::string& verb = words[0];
    auto word = [&](std::size_t i) -> std::string {
      if (i < words.size()) return words[i];
      ADD_FAILURE() << where() << "too few words in: " << line;
      return "";
    };
    // "<verb> <task> as <actor> ...": words[1] is the task, words[3] the actor.
    if (verb == "expect" && word(1) == "error") {
      auto colon = line.find(':');
      ASSERT_NE(colon, std::string::npos) << where() << "expect error CODE: command";
      expected_error_ = trim(line.substr(line.find("error") + 5, colon - line.find("error") - 5));
      command(trim(line.substr(colon + 1)), block);
      expected_error_.clear();
      return;
    }
    if (verb == "model" || verb == "deploy") {
      std::string xml = testing::read_file(scenario_dir() / "models" / word(1));
      auto deployed = engine_->deploy(fs::path(word(1)).stem().string(), xml, {"operator", "bigdata", {"operator"}});
      check(deployed);
    } else if (verb == "date") {
      auto date = Date::parse(word(1));
      ASSERT_TRUE(date.ok()) << where() << line;
      clock_.set(local_day_start(*date) + std::chrono::hours(9));
    } else if (verb == "actor") {
      Actor actor{word(1), word(2) == "-" ? "" : word(2), {}};
      for (std::size_t i = 3; i < words.size(); ++i) actor.roles.push_back(words[i]);
      actors_[actor.account_id] = actor;
    } else if (verb == "start") {
      std::string rest;
      nlohmann::json variables = json_tail(line, rest);
      std::vector<std::string> head = words_of(rest);
      StartRequest request;
      request.process_id = head.at(1);
      for (std::size_t i = 4; i + 1 < head.size(); i += 2) {
        if (head[i] == "key") request.business_key = head[i + 1];
        if (head[i] == "limit") request.deadline_working_days = std::stoi(head[i + 1]);
      }
      request.variables = variables;
      auto started = engine_->start(request, actor(head.at(3)));
      check(started);
      if (started.ok()) {
        instance_ = started->id;
        seen_steps_ = 0;
        trace_.clear();
      }
    } else if (verb == "claim") {
      check(engine_->claim(task_id(word(1)), actor(word(3))));
    } else if (verb == "unclaim") {
      check(engine_->unclaim(task_id(word(1)), actor(word(3))));
    } else if (verb == "complete") {
      std::string rest;
      Completion completion;
      completion.variables = json_tail(line, rest);
      std::vector<std::string> head = words_of(rest);
      if (head.size() > 4) completion.outcome = head[4];
      if (head.size() > 5) completion.comment = head[5];
      check(engine_->complete(task_id(head.at(1)), completion, actor(head.at(3))));
    } else if (verb == "transfer") {
      check(engine_->transfer(task_id(word(1)), actor(word(5)), "", actor(word(3))));
    } else if (verb == "delegate") {
      check(engine_->delegate(task_id(word(1)), actor(word(5)), actor(word(3))));
    } else if (verb == "take-back") {
      check(engine_->take_back(task_id(word(1)), actor(word(3))));
    } else if (verb == "return") {
      check(engine_->return_to(task_id(word(1)), word(5), "", actor(word(3))));
    } else if (verb == "sign-before" || verb == "sign-after") {
      check(engine_->add_signer(task_id(word(1)), actor(word(5)), verb == "sign-before", actor(word(3))));
    } else if (verb == "suspend") {
      check(engine_->suspend(instance_, "", actor(word(2))));
    } else if (verb == "resume") {
      check(engine_->resume(instance_, actor(word(2))));
    } else if (verb == "withdraw") {
      check(engine_->withdraw(instance_, "", actor(word(2))));
    } else if (verb == "advance") {
      advance(words);
    } else if (verb == "fire") {
      auto fired = engine_->fire_due_timers();
      check(fired);
      if (fired.ok()) last_fired_ = *fired;
    } else if (verb == "restart") {
      engine_.reset();
      log_.reset();
      database_.reopen();
      open();
    } else if (verb == "expect") {
      expect(words, line, block);
    } else {
      ADD_FAILURE() << where() << "unknown command: " << line;
    }
  }

  void advance(const std::vector<std::string>& words) {
    ASSERT_GE(words.size(), 3u) << where() << "advance N working days|days|hours|minutes, or advance to YYYY-MM-DD";
    if (words[1] == "to") {
      auto date = Date::parse(words[2]);
      ASSERT_TRUE(date.ok()) << where();
      auto time_of_day = clock_.now() - local_day_start(local_date(clock_.now()));
      clock_.set(local_day_start(*date) + time_of_day);
      return;
    }
    int count = std::stoi(words[1]);
    if (words[2] == "working") {
      Date today = local_date(clock_.now());
      auto later = calendar_->add_working_days(today, count);
      ASSERT_TRUE(later.ok()) << where() << later.error().message;
      clock_.advance(later->days() - today.days());
    } else if (words[2].starts_with("day")) {
      clock_.advance(std::chrono::days(count));
    } else if (words[2].starts_with("hour")) {
      clock_.advance(std::chrono::hours(count));
    } else if (words[2].starts_with("minute")) {
      clock_.advance(std::chrono::minutes(count));
    } else {
      ADD_FAILURE() << where() << "unknown unit " << words[2];
    }
  }

  void expect(const std::vector<std::string>& words, const std::string& line, const std::vector<std::string>& block) {
    const std::string& what = words.at(1);
    auto instance = engine_->instance(instance_);
    ASSERT_TRUE(instance.ok()) << where() << instance.error().message;
    if (what == "trace") {
      collect_trace();
      EXPECT_EQ(join(trace_), join(block)) << where() << "the trace since the last expect trace";
      trace_.clear();
    } else if (what == "status") {
      EXPECT_EQ(instance->status, words.at(2)) << where();
    } else if (what == "active") {
      std::vector<std::string> expected(words.begin() + 2, words.end());
      EXPECT_EQ(instance->active_nodes, expected) << where();
    } else if (what == "tasks") {
      // Each line: <node>[<loop index>] <status> <department or -> <assignee or -> [<owner>]
      auto tasks = engine_->tasks({instance_, "", "", true});
      ASSERT_TRUE(tasks.ok()) << where();
      std::vector<std::string> shown;
      for (const auto& task : *tasks) {
        std::string text = task.node_id + (task.loop_index >= 0 ? "[" + std::to_string(task.loop_index) + "]" : "") + " " +
                           task.status + " " + (task.candidate_department.empty() ? "-" : task.candidate_department) + " " +
                           (task.assignee.empty() ? "-" : task.assignee);
        if (!task.owner.empty()) text += " " + task.owner;
        shown.push_back(text);
      }
      std::sort(shown.begin(), shown.end());
      std::vector<std::string> expected = block;
      std::sort(expected.begin(), expected.end());
      EXPECT_EQ(join(shown), join(expected)) << where() << "the open tasks";
    } else if (what == "variable") {
      std::string name = words.at(2);
      auto value_text = trim(line.substr(line.find(name) + name.size()));
      nlohmann::json expected = nlohmann::json::parse(value_text);
      nlohmann::json actual = instance->variables;
      std::istringstream path(name);
      for (std::string part; std::getline(path, part, '.');) actual = actual.is_object() ? actual.value(part, nlohmann::json()) : nlohmann::json();
      EXPECT_EQ(actual, expected) << where() << name;
    } else if (what == "due") {
      // expect due instance|<task> YYYY-MM-DD: the deadline ends with that (China Standard Time) day.
      std::string due_at;
      if (words.at(2) == "instance") {
        due_at = instance->due_at;
      } else {
        auto task = engine_->task(task_id(words.at(2)));
        ASSERT_TRUE(task.ok()) << where();
        due_at = task->due_at;
      }
      ASSERT_FALSE(due_at.empty()) << where() << "no deadline";
      auto time = parse_timestamp(due_at);
      ASSERT_TRUE(time.ok());
      EXPECT_EQ(local_date(*time - std::chrono::milliseconds(1)).to_string(), words.at(3)) << where() << due_at;
    } else if (what == "fired") {
      EXPECT_EQ(last_fired_, std::stoi(words.at(2))) << where();
    } else if (what == "log") {
      // The transparency log verifies, and has an entry for each step.
      auto size = log_->size();
      ASSERT_TRUE(size.ok());
      auto steps = engine_->history(instance_);
      ASSERT_TRUE(steps.ok());
      for (const auto& step : *steps) {
        auto entry = log_->entry(step.log_index);
        ASSERT_TRUE(entry.ok()) << where() << "step " << step.sequence;
        EXPECT_NE(entry->content.find("\"workflow." + step.action + "\""), std::string::npos) << where() << entry->content;
        EXPECT_NE(entry->content.find(instance_), std::string::npos) << where();
      }
      ASSERT_TRUE(log_->sign_tree_head().ok());
      auto verified = audit::verify_log(*database_, log_->public_key());
      ASSERT_TRUE(verified.ok()) << where() << verified.error().message;
      EXPECT_TRUE(verified->ok()) << where() << verified->summary();
    } else {
      ADD_FAILURE() << where() << "unknown expectation: " << line;
    }
  }

  std::string file_;
  int line_ = 0;
  testing::TestDatabase database_;
  ManualClock clock_{Date(2026, 11, 23)};
  std::optional<WorkingDayCalendar> calendar_;
  std::optional<crypto::PrivateKey> node_key_;
  std::unique_ptr<audit::TransparencyLog> log_;
  std::unique_ptr<Engine> engine_;
  std::map<std::string, Actor> actors_;
  std::string instance_;
  std::int64_t seen_steps_ = 0;
  std::vector<std::string> trace_;
  std::string expected_error_;
  int last_fired_ = 0;
};

class ScenarioTest : public ::testing::TestWithParam<std::tuple<store::Backend, std::string>> {};

TEST_P(ScenarioTest, Runs) {
  Scenario scenario(std::get<0>(GetParam()), std::get<1>(GetParam()));
  scenario.run();
}

INSTANTIATE_TEST_SUITE_P(Scenarios, ScenarioTest,
                         ::testing::Combine(::testing::Values(store::Backend::sqlite, store::Backend::postgresql),
                                            ::testing::ValuesIn(scenario_files())),
                         [](const auto& info) {
                           std::string name = std::string(store::backend_name(std::get<0>(info.param))) + "_" +
                                              fs::path(std::get<1>(info.param)).stem().string();
                           std::replace_if(name.begin(), name.end(), [](char c) { return !std::isalnum(static_cast<unsigned char>(c)); }, '_');
                           return name;
                         });

}  // namespace
}  // namespace onewindow::workflow
