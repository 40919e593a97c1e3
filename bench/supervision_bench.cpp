// The supervision benchmark (issue 8): the clock worker's pass over 1,000,000 running
// applications, each an instance with a deadline of 20 working days and one open task of 3, on
// SQLite. 1% of the cases are near their last day, so the first pass raises 10,000 yellow
// warnings (each with its transparency-log entry and two notices); the second pass, with nothing
// new to raise, is what every later pass costs. Baseline in the same run: a raw sqlite3 scan of
// the same rows and columns, stepped through with the C API.
//
// The rows are written straight into the workflow's tables (one transaction through sqlite3):
// starting a million instances through the engine would take longer than the benchmark.
#include <benchmark/benchmark.h>

#include <sqlite3.h>

#include "bench_support.h"
#include "supervision/supervision.h"

namespace {

using namespace onewindow;
using onewindow::bench::or_die;
using onewindow::bench::ScratchDirectory;

constexpr std::int64_t cases = 1'000'000;

constexpr const char* model = R"(<?xml version="1.0" encoding="UTF-8"?>
<definitions xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL" xmlns:ow="https://onewindow.invalid/bpmn"
             id="bench" targetNamespace="https://onewindow.invalid/bench">
  <process id="bench_case" isExecutable="true" ow:workingDays="20">
    <startEvent id="start" />
    <sequenceFlow id="f1" sourceRef="start" targetRef="review" />
    <userTask id="review" ow:candidateDepartment="market" ow:workingDays="3" />
    <sequenceFlow id="f2" sourceRef="review" targetRef="end" />
    <endEvent id="end" />
  </process>
</definitions>)";

void execute(sqlite3* handle, const char* sql) {
  char* message = nullptr;
  if (sqlite3_exec(handle, sql, nullptr, nullptr, &message) != SQLITE_OK) {
    std::fprintf(stderr, "onewindow_bench: %s\n", message ? message : "sqlite3_exec failed");
    std::abort();
  }
}

// The rows a pass reads, written directly.
void fill(const std::filesystem::path& file, std::int64_t deployment, const WorkingDayCalendar& calendar, Date today) {
  sqlite3* handle = nullptr;
  if (sqlite3_open(file.c_str(), &handle) != SQLITE_OK) std::abort();
  execute(handle, "BEGIN");
  sqlite3_stmt* instance = nullptr;
  sqlite3_stmt* task = nullptr;
  sqlite3_prepare_v2(handle,
                     "INSERT INTO workflow_instance (id, deployment, process_id, business_key, status, started_by, "
                     "started_at, due_at, revision, state, working_days) VALUES (?, ?, 'bench_case', ?, 'running', "
                     "'acc_citizen', ?, ?, 1, '{}', 20)",
                     -1, &instance, nullptr);
  sqlite3_prepare_v2(handle,
                     "INSERT INTO workflow_task (id, instance_id, node_id, name, candidate_department, candidate_role, "
                     "assignee, owner, delegation, status, loop_index, created_at, due_at, ended_by, outcome, comment, "
                     "working_days) VALUES (?, ?, 'review', 'review', 'market', '', '', '', '', 'open', -1, ?, ?, '', '', "
                     "'', 3)",
                     -1, &task, nullptr);
  auto end_of = [&](int working_days) {
    return format_timestamp(local_day_start(or_die(calendar.add_working_days(today, working_days)).plus_days(1)));
  };
  const std::string near = end_of(2);    // 18 of 20 used: yellow
  const std::string far = end_of(10);    // 10 of 20 used
  const std::string task_due = end_of(2);  // 1 of 3 used
  const std::string started = format_timestamp(local_day_start(today));
  for (std::int64_t index = 0; index < cases; ++index) {
    std::string id = "wfi_bench" + std::to_string(index);
    std::string key = "app_bench" + std::to_string(index);
    const std::string& due = index % 100 == 0 ? near : far;
    sqlite3_bind_text(instance, 1, id.c_str(), -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(instance, 2, deployment);
    sqlite3_bind_text(instance, 3, key.c_str(), -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(instance, 4, started.c_str(), -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(instance, 5, due.c_str(), -1, SQLITE_TRANSIENT);
    if (sqlite3_step(instance) != SQLITE_DONE) std::abort();
    sqlite3_reset(instance);
    std::string task_id = "wft_bench" + std::to_string(index);
    sqlite3_bind_text(task, 1, task_id.c_str(), -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(task, 2, id.c_str(), -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(task, 3, started.c_str(), -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(task, 4, task_due.c_str(), -1, SQLITE_TRANSIENT);
    if (sqlite3_step(task) != SQLITE_DONE) std::abort();
    sqlite3_reset(task);
  }
  sqlite3_finalize(instance);
  sqlite3_finalize(task);
  execute(handle, "COMMIT");
  sqlite3_close(handle);
}

// The baseline: the pass's two queries, every column read, nothing else done.
std::int64_t raw_scan(const std::filesystem::path& file) {
  sqlite3* handle = nullptr;
  if (sqlite3_open_v2(file.c_str(), &handle, SQLITE_OPEN_READONLY, nullptr) != SQLITE_OK) std::abort();
  std::int64_t rows = 0;
  std::size_t bytes = 0;
  for (const char* sql :
       {"SELECT id, business_key, process_id, started_at, due_at, working_days FROM workflow_instance "
        "WHERE status = 'running' AND due_at IS NOT NULL",
        "SELECT t.id, t.instance_id, i.business_key, i.process_id, t.node_id, t.candidate_department, t.assignee, "
        "t.created_at, t.due_at, t.working_days FROM workflow_task t JOIN workflow_instance i ON i.id = t.instance_id "
        "WHERE t.status IN ('open', 'waiting') AND t.due_at IS NOT NULL AND i.status = 'running'"}) {
    sqlite3_stmt* scan = nullptr;
    sqlite3_prepare_v2(handle, sql, -1, &scan, nullptr);
    while (sqlite3_step(scan) == SQLITE_ROW) {
      for (int column = 0; column < sqlite3_column_count(scan); ++column) {
        std::string value(reinterpret_cast<const char*>(sqlite3_column_text(scan, column)), sqlite3_column_bytes(scan, column));
        bytes += value.size();
      }
      ++rows;
    }
    sqlite3_finalize(scan);
  }
  sqlite3_close(handle);
  benchmark::DoNotOptimize(bytes);
  return rows;
}

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

void BM_Supervision_ClockPass_1M(benchmark::State& state) {
  ScratchDirectory directory("supervision");
  store::Options options;
  options.data_directory = directory.path().string();
  auto database = or_die(store::Database::open(options));
  std::vector<store::Migration> migrations = audit::TransparencyLog::migrations();
  for (auto&& module : {workflow::Engine::migrations(), supervision::Supervision::migrations(),
                        notification::Inbox::migrations()}) {
    migrations.insert(migrations.end(), module.begin(), module.end());
  }
  or_die(database->migrate(migrations));
  const Date today(2026, 11, 23);
  ManualClock clock(local_day_start(today) + std::chrono::hours(9));
  audit::TransparencyLog log(*database, or_die(crypto::PrivateKey::generate()), clock);
  auto calendar = or_die(WorkingDayCalendar::load(std::filesystem::path(ONEWINDOW_SOURCE_DIR) / "config" / "calendar"));
  workflow::Engine engine(*database, log, calendar, clock);
  auto deployment = or_die(engine.deploy("bench_case", model, {"operator", "bigdata", {"operator"}}));
  auto filling = std::chrono::steady_clock::now();
  fill(directory.path() / "onewindow.db", deployment.id, calendar, today);
  const double fill_seconds = seconds_since(filling);

  notification::Inbox inbox(*database, clock);
  supervision::Recipients recipients;
  recipients.of_department = [](const std::string&) -> Result<std::vector<std::string>> {
    return std::vector<std::string>{"acc_market"};
  };
  recipients.supervisors = []() -> Result<std::vector<std::string>> { return std::vector<std::string>{"acc_supervisor"}; };
  supervision::Supervision supervision(*database, log, engine, calendar, clock, {},
                                       {{"bench_case", {"BENCH-001", "approval", {"market"}}}}, recipients);
  supervision.add_channel(inbox);

  double first_seconds = 0, steady_seconds = 0, raw_seconds = 0;
  std::int64_t raised = 0, clocks = 0, raw_rows = 0;
  for (auto _ : state) {
    auto start = std::chrono::steady_clock::now();
    raw_rows = raw_scan(directory.path() / "onewindow.db");
    raw_seconds = seconds_since(start);
    start = std::chrono::steady_clock::now();
    auto first = or_die(supervision.watch());
    first_seconds = seconds_since(start);
    start = std::chrono::steady_clock::now();
    auto steady = or_die(supervision.watch());
    steady_seconds = seconds_since(start);
    raised = first.raised + steady.raised;
    clocks = first.clocks;
  }
  if (raised != cases / 100 || clocks != 2 * cases || raw_rows != 2 * cases) {
    state.SkipWithError("the pass did not see every clock, or raised other than 1% of the cases");
    return;
  }
  state.counters["cases"] = static_cast<double>(cases);
  state.counters["clocks"] = static_cast<double>(clocks);
  state.counters["warnings_raised"] = static_cast<double>(raised);
  state.counters["first_pass_s"] = first_seconds;
  state.counters["steady_pass_s"] = steady_seconds;
  state.counters["raw_scan_s"] = raw_seconds;
  state.counters["steady_over_raw"] = steady_seconds / raw_seconds;
  state.counters["fill_s"] = fill_seconds;
}
BENCHMARK(BM_Supervision_ClockPass_1M)->Iterations(1)->Unit(benchmark::kSecond);

}  // namespace
