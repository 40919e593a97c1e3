// The workflow benchmark (issue 6): the parallel-approval shape of bench/models/parallel_reviews.bpmn
// (start, a parallel split into four department reviews, the join, the end) run to completion by
// the Engine on SQLite, every step persisted with its transparency-log entry: one start and four
// completions, five transactions per instance. Its baseline is the same model in the npm package
// bpmn-engine, in memory, which scripts/bench runs in the same script (bench/bpmn-engine/).
#include <benchmark/benchmark.h>

#include <fstream>
#include <sstream>

#include "bench_support.h"
#include "workflow/workflow.h"

namespace {

using namespace onewindow;
using onewindow::bench::or_die;
using onewindow::bench::ScratchDirectory;

std::string read_model() {
  std::ifstream input(std::filesystem::path(ONEWINDOW_SOURCE_DIR) / "bench" / "models" / "parallel_reviews.bpmn");
  std::ostringstream text;
  text << input.rdbuf();
  return text.str();
}

void BM_Workflow_ParallelApproval(benchmark::State& state) {
  ScratchDirectory directory("workflow");
  store::Options options;
  options.data_directory = directory.path().string();
  auto database = or_die(store::Database::open(options));
  std::vector<store::Migration> migrations = audit::TransparencyLog::migrations();
  for (auto& migration : workflow::Engine::migrations()) migrations.push_back(migration);
  or_die(database->migrate(migrations));
  SystemClock clock;
  audit::TransparencyLog log(*database, or_die(crypto::PrivateKey::generate()), clock);
  or_die(log.start_signing(std::chrono::milliseconds(1000)));
  auto calendar = or_die(WorkingDayCalendar::load(std::filesystem::path(ONEWINDOW_SOURCE_DIR) / "config" / "calendar"));
  workflow::Engine engine(*database, log, calendar, clock);
  or_die(engine.deploy("parallel_reviews", read_model(), {"operator", "bigdata", {"operator"}}));

  const workflow::Actor starter{"acc_citizen", "", {"citizen"}};
  std::map<std::string, workflow::Actor> reviewers;
  for (const char* department : {"market", "tax", "police", "hrss"}) {
    reviewers[department] = {std::string("acc_") + department, department, {"official"}};
  }
  const workflow::Completion approve{"approve", "", nlohmann::json::object()};
  std::int64_t completed = 0;
  for (auto _ : state) {
    auto instance = or_die(engine.start({0, "parallel_reviews", "", nlohmann::json::object(), 0}, starter));
    // An official finds the task in the inbox, then completes it: both are part of the work.
    for (const auto& task : or_die(engine.tasks({instance.id, "", "", true}))) {
      or_die(engine.complete(task.id, approve, reviewers.at(task.candidate_department)));
    }
    if (or_die(engine.instance(instance.id)).status == "completed") ++completed;
  }
  log.stop_signing();
  if (completed != static_cast<std::int64_t>(state.iterations())) {
    state.SkipWithError("an instance did not complete");
    return;
  }
  state.SetItemsProcessed(state.iterations());
  state.counters["steps_per_instance"] = 5;
}
BENCHMARK(BM_Workflow_ParallelApproval)->MinTime(3)->UseRealTime()->Unit(benchmark::kMicrosecond);

}  // namespace
