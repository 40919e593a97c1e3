// Benchmarks of base/: identifier checks (every request that carries an ID or a credit code) and
// working-day arithmetic (every task's deadline). main() is in onewindow_bench.cpp.
#include <benchmark/benchmark.h>

#include <array>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>

#include "base/build_info.h"
#include "base/calendar.h"
#include "base/identifiers.h"

namespace onewindow {
namespace {

// ONEWINDOW_CONFIG_DIR, or the config/ directory the build was configured with.
std::filesystem::path config_directory() {
  if (const char* directory = std::getenv("ONEWINDOW_CONFIG_DIR");
      directory != nullptr && *directory != '\0') {
    return directory;
  }
  return build_info::default_config_dir;
}

// Loaded once for every calendar benchmark; null (with the error kept) when loading failed.
const WorkingDayCalendar* shared_calendar(std::string& failure) {
  static const Result<WorkingDayCalendar> loaded =
      WorkingDayCalendar::load(config_directory() / "calendar");
  if (!loaded.ok()) {
    failure = loaded.error().message;
    return nullptr;
  }
  return &*loaded;
}

constexpr std::array<const char*, 4> citizen_ids = {"360426199101010071", "44011320141005001X",
                                                    "34052419800101001X", "44011320141005001x"};

constexpr std::array<const char*, 3> credit_codes = {"91110000600037341L", "121200004013590816",
                                                     "91310115MA1K3BTP2B"};

void citizen_id_validations(benchmark::State& state) {
  const Date today(2026, 1, 1);
  std::size_t index = 0;
  for (auto _ : state) {
    Status status = validate_citizen_id(citizen_ids[index++ % citizen_ids.size()], today);
    benchmark::DoNotOptimize(status);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(citizen_id_validations);

void unified_social_credit_code_validations(benchmark::State& state) {
  std::size_t index = 0;
  for (auto _ : state) {
    Status status =
        validate_unified_social_credit_code(credit_codes[index++ % credit_codes.size()]);
    benchmark::DoNotOptimize(status);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(unified_social_credit_code_validations);

// A deadline 20 working days after each day from January to mid-November 2026 (later starts
// would run into 2027, which has no file).
void add_twenty_working_days(benchmark::State& state) {
  std::string failure;
  const WorkingDayCalendar* calendar = shared_calendar(failure);
  if (calendar == nullptr) {
    state.SkipWithError(failure.c_str());
    return;
  }
  const Date first(2026, 1, 1);
  int offset = 0;
  for (auto _ : state) {
    Result<Date> deadline = calendar->add_working_days(first.plus_days(offset), 20);
    benchmark::DoNotOptimize(deadline);
    offset = offset == 319 ? 0 : offset + 1;
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(add_twenty_working_days);

// Working days over a whole year, starting on each day of 2025 (so crossing into 2026).
void working_days_between_over_a_year(benchmark::State& state) {
  std::string failure;
  const WorkingDayCalendar* calendar = shared_calendar(failure);
  if (calendar == nullptr) {
    state.SkipWithError(failure.c_str());
    return;
  }
  const Date first(2025, 1, 1);
  int offset = 0;
  for (auto _ : state) {
    const Date from = first.plus_days(offset);
    Result<int> count = calendar->working_days_between(from, from.plus_days(365));
    benchmark::DoNotOptimize(count);
    offset = offset == 364 ? 0 : offset + 1;
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(working_days_between_over_a_year);

// Every record the platform creates takes an id.
void new_ids(benchmark::State& state) {
  for (auto _ : state) {
    std::string id = new_id("app");
    benchmark::DoNotOptimize(id);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(new_ids)->Threads(1)->Threads(2);

// Every log line passes through redaction.
void redact_log_lines(benchmark::State& state) {
  const std::string line =
      "2026-02-13T09:30:12.417+08:00 info application app_01jkz5m2q8r4v6w8y0a2c4e6g8 accepted "
      "for applicant 370202199001011234 by user usr_01jkz5m2q8r4v6w8y0a2c4e6g9 in 12 ms";
  for (auto _ : state) {
    std::string redacted = redact_identifiers(line);
    benchmark::DoNotOptimize(redacted);
  }
  state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(line.size()));
}
BENCHMARK(redact_log_lines);

}  // namespace
}  // namespace onewindow
