// Runs every scenario file of tests/supervision/scenarios/ against the clock worker, on SQLite
// and on PostgreSQL. The language is in tests/supervision/scenarios/README.md.
#include "supervision/supervision.h"

#include "scenario.h"
#include "testing.h"

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

namespace onewindow::supervision {
namespace {

namespace fs = std::filesystem;

fs::path scenario_dir() { return testing::source_dir() / "tests" / "supervision" / "scenarios"; }

std::vector<std::string> scenario_files() { return testing::files_with_extension(scenario_dir(), ".scenario"); }

using testing::trim;
using testing::words_of;
std::string join(const std::vector<std::string>& lines) { return testing::indented(lines); }

class Scenario {
 public:
  Scenario(store::Backend backend, std::string file) : file_(std::move(file)), database_(backend, migrations()) {
    auto calendar = WorkingDayCalendar::load(testing::config_dir() / "calendar");
    if (!calendar.ok()) throw std::runtime_error(calendar.error().message);
    calendar_.emplace(std::move(calendar).value());
    auto configuration = Configuration::load(testing::config_dir() / "supervision" / "supervision.yaml");
    if (!configuration.ok()) throw std::runtime_error(configuration.error().message);
    configuration_ = *configuration;
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
    for (auto&& module : {workflow::Engine::migrations(), Supervision::migrations(), notification::Inbox::migrations()}) {
      all.insert(all.end(), module.begin(), module.end());
    }
    return all;
  }

  std::string where() const { return file_ + ":" + std::to_string(line_) + ": "; }

  void open() {
    log_ = std::make_unique<audit::TransparencyLog>(*database_, *node_key_, clock_);
    engine_ = std::make_unique<workflow::Engine>(*database_, *log_, *calendar_, clock_);
    inbox_ = std::make_unique<notification::Inbox>(*database_, clock_);
    Recipients recipients;
    recipients.of_department = [](const std::string& department) -> Result<std::vector<std::string>> {
      return std::vector<std::string>{department + "-official"};
    };
    recipients.supervisors = []() -> Result<std::vector<std::string>> { return std::vector<std::string>{"supervisor"}; };
    // The instance stands for an application of a service whose competent department is approval.
    std::map<std::string, ProcessOwner> owners = {{"two_reviews", {"TEST-001", "approval", {"market", "approval"}}}};
    supervision_ = std::make_unique<Supervision>(*database_, *log_, *engine_, *calendar_, clock_, configuration_, owners,
                                                 recipients);
    supervision_->add_channel(*inbox_);
  }

  template <typename T>
  void check(const Result<T>& result) {
    if (!result.ok()) ADD_FAILURE() << where() << result.error().code << ": " << result.error().message;
  }

  void command(const std::string& line, const std::vector<std::string>& block) {
    std::vector<std::string> words = words_of(line);
    const std::string& verb = words.at(0);
    auto word = [&](std::size_t index) -> std::string {
      if (index >= words.size()) {
        ADD_FAILURE() << where() << "too few words: " << line;
        return "";
      }
      return words[index];
    };
    const workflow::Actor official{"official", "", {}};
    if (verb == "model") {
      std::string xml = testing::read_file(scenario_dir() / "models" / word(1));
      check(engine_->deploy(fs::path(word(1)).stem().string(), xml, {"operator", "bigdata", {"operator"}}));
    } else if (verb == "date") {
      auto date = Date::parse(word(1));
      ASSERT_TRUE(date.ok()) << where() << line;
      clock_.set(local_day_start(*date) + std::chrono::hours(9));
    } else if (verb == "start") {
      workflow::StartRequest request;
      request.process_id = word(1);
      for (std::size_t i = 2; i + 1 < words.size(); i += 2) {
        if (words[i] == "key") request.business_key = words[i + 1];
        if (words[i] == "limit") request.deadline_working_days = std::stoi(words[i + 1]);
      }
      auto started = engine_->start(request, {"applicant", "", {}});
      check(started);
      if (started.ok()) instance_ = started->id;
    } else if (verb == "complete") {
      auto tasks = engine_->tasks({instance_, "", "", true});
      check(tasks);
      std::string task;
      std::string department;
      for (const auto& open : tasks.ok() ? *tasks : std::vector<workflow::TaskView>{}) {
        if (open.node_id == word(1)) {
          task = open.id;
          department = open.candidate_department;
        }
      }
      ASSERT_FALSE(task.empty()) << where() << "no open task " << word(1);
      check(engine_->complete(task, {"approve", "", nlohmann::json::object()}, {department + "-official", department, {}}));
    } else if (verb == "suspend") {
      check(engine_->suspend(instance_, "correction", official));
    } else if (verb == "resume") {
      check(engine_->resume(instance_, official));
    } else if (verb == "advance") {
      if (word(1) == "to") {
        auto date = Date::parse(word(2));
        ASSERT_TRUE(date.ok()) << where() << line;
        clock_.set(local_day_start(*date) + std::chrono::hours(9));
      } else if (word(2) == "days") {
        clock_.advance(std::chrono::days(std::stoi(word(1))));
      } else if (word(2) == "hours") {
        clock_.advance(std::chrono::hours(std::stoi(word(1))));
      } else {
        ADD_FAILURE() << where() << "advance to DATE, N days or N hours";
      }
    } else if (verb == "pass") {
      auto report = supervision_->watch();
      check(report);
      if (report.ok()) last_raised_ = report->raised;
    } else if (verb == "restart") {
      supervision_.reset();
      inbox_.reset();
      engine_.reset();
      log_.reset();
      database_.reopen();
      open();
    } else if (verb == "expect") {
      expect(words, block);
    } else {
      ADD_FAILURE() << where() << "unknown command: " << line;
    }
  }

  void expect(const std::vector<std::string>& words, const std::vector<std::string>& block) {
    const std::string& what = words.at(1);
    if (what == "raised") {
      EXPECT_EQ(last_raised_, std::stoi(words.at(2))) << where();
    } else if (what == "warnings") {
      auto warnings = supervision_->warnings({});
      check(warnings);
      std::vector<std::string> seen;
      if (warnings.ok()) {
        for (auto warning = warnings->rbegin(); warning != warnings->rend(); ++warning) {
          std::string subject = warning->kind == "instance" ? "instance" : node_of(warning->subject);
          seen.push_back(warning->level + " " + warning->application_id + " " + subject + " " +
                         std::to_string(warning->used_working_days) + "/" + std::to_string(warning->limit_working_days) +
                         " due " + warning->due_on + " on " + warning->raised_on);
        }
      }
      EXPECT_EQ(join(seen), join(block)) << where() << "warnings";
    } else if (what == "notices") {
      auto notices = inbox_->notices(words.at(2), false);
      check(notices);
      if (notices.ok()) EXPECT_EQ(static_cast<int>(notices->size()), std::stoi(words.at(3))) << where() << words.at(2);
    } else if (what == "log") {
      auto verified = audit::verify_log(*database_, log_->public_key());
      check(verified);
      if (verified.ok()) EXPECT_TRUE(verified->ok()) << where() << verified->summary();
    } else {
      ADD_FAILURE() << where() << "unknown expectation " << what;
    }
  }

  std::string node_of(const std::string& task_id) {
    auto task = engine_->task(task_id);
    return task.ok() ? task->node_id : task_id;
  }

  std::string file_;
  int line_ = 0;
  testing::TestDatabase database_;
  std::optional<WorkingDayCalendar> calendar_;
  Configuration configuration_;
  std::optional<crypto::PrivateKey> node_key_;
  ManualClock clock_{local_day_start(Date(2026, 11, 23)) + std::chrono::hours(9)};
  std::unique_ptr<audit::TransparencyLog> log_;
  std::unique_ptr<workflow::Engine> engine_;
  std::unique_ptr<notification::Inbox> inbox_;
  std::unique_ptr<Supervision> supervision_;
  std::string instance_;
  std::int64_t last_raised_ = -1;
};

class ScenarioTest : public ::testing::TestWithParam<std::tuple<store::Backend, std::string>> {};

TEST_P(ScenarioTest, Runs) {
  auto [backend, file] = GetParam();
  Scenario scenario(backend, file);
  scenario.run();
}

INSTANTIATE_TEST_SUITE_P(Scenarios, ScenarioTest,
                         ::testing::Combine(::testing::Values(store::Backend::sqlite, store::Backend::postgresql),
                                            ::testing::ValuesIn(scenario_files())),
                         [](const auto& info) {
                           std::string name = std::string(store::backend_name(std::get<0>(info.param))) + "_" +
                                              fs::path(std::get<1>(info.param)).stem().string();
                           for (char& c : name) {
                             if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
                           }
                           return name;
                         });

}  // namespace
}  // namespace onewindow::supervision
