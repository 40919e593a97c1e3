// Benchmarks for the exchange (issue 5), each beside its baseline in the same run:
// - BM_Exchange_Read (a person by key through a grant, in-process: the grant check, the read,
//   the item filter, the read recorded by its log entry in its own transaction; the rows of
//   who-read-my-data written from the log behind it by the indexing thread, whose backlog at the
//   end is the counter index_backlog) against
//   BM_Exchange_Registry_Read (the registry's own point read of the same records by their
//   authority). Target: at least 70%.
// - BM_Exchange_Read_HTTP and BM_Exchange_Registry_Read_HTTP: the same two over HTTP, one
//   keep-alive connection each; BM_Exchange_Read_HTTP_Paired, the two in turns of 100 within
//   one benchmark, prints their ratio (ratio_percent).
// - The same four with four clients at once (threads:4; over HTTP a keep-alive connection each,
//   against the platform's server with its default two request threads), exchange and registry
//   in the same conditions.
// - BM_Exchange_Read_Synced: BM_Exchange_Read on SQLite syncing at every commit, one thread and
//   eight at once: what the exchange's group commit (one commit for the reads waiting) is for.
// - BM_Exchange_Bulk_Read (every person streamed through a grant, as the NDJSON lines of a bulk
//   read, with their SM3 hash) against BM_Raw_SQLite_Scan (the same rows' key and stored JSON
//   stepped through with the sqlite3 C API). Target: at least 30%, with memory flat: the
//   counter rss_growth_mb is how much the peak resident size grew during the read.
// Persons: 1,000,000 by default (ONEWINDOW_BENCH_PERSONS to change), generated and imported once.
#include <benchmark/benchmark.h>

#include <sqlite3.h>
#include <sys/resource.h>

#include "bench_platform.h"
#include "crypto/crypto.h"

namespace {

using namespace onewindow;
using namespace onewindow::bench;

std::int64_t persons_wanted() {
  const char* given = std::getenv("ONEWINDOW_BENCH_PERSONS");
  return given ? std::max<std::int64_t>(1000, std::atoll(given)) : 1'000'000;
}

long peak_rss_kb() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return usage.ru_maxrss;
}

// Civil affairs granted two items of the person registry by public security; the resource's id.
std::string grant_person_items(cli::Platform& platform) {
  auto found = or_die(platform.catalog->search({"", "101001", "", std::nullopt, 1, 0}));
  std::string resource = found["resources"][0]["id"];
  auto requested = or_die(platform.catalog->request_grant(
      {resource, {"name", "birth_date"}, "基准测试 benchmark", "《政务信息资源共享管理暂行办法》", "2099-12-31"},
      {"bench", "civil", ""}));
  or_die(platform.catalog->decide(requested.id, true, "", {"bench", "police", ""}));
  return resource;
}

// A platform holding the persons, served over HTTP, with civil affairs granted two items of the
// person registry by public security.
struct GrantedPersons : ServedPersons {
  std::string civil_authorization;
  std::string police_authorization;
  std::string resource;

  GrantedPersons() : ServedPersons("exchange", persons_wanted()) {
    civil_authorization = logged_in_official(*platform, "bench.civil", "civil");
    police_authorization = logged_in_official(*platform, "bench.police", "police");
    resource = grant_person_items(*platform);
    // As a served platform does: the rows of who-read-my-data are written behind the reads.
    platform->exchange->start_indexing();
  }
};

GrantedPersons& granted() {
  static GrantedPersons persons;
  return persons;
}

// The same grant on a platform of its own whose SQLite syncs its log at every commit
// (synchronous = full, which also survives a power cut), with at most 20,000 persons and no
// HTTP: where one commit for several reads counts most.
struct SyncedPersons {
  ScratchDirectory directory{"exchange-synced"};
  std::unique_ptr<cli::Platform> platform;
  std::vector<std::string> keys;
  std::string resource;

  SyncedPersons() {
    cli::Settings settings = bench_settings(directory.path() / "data");
    settings.database.sqlite_synchronous = "full";
    platform = or_die(cli::build_platform(settings, false));
    keys = import_persons(*platform, std::min<std::int64_t>(persons_wanted(), 20'000), directory.path());
    resource = grant_person_items(*platform);
    platform->exchange->start_indexing();
  }
};

SyncedPersons& synced() {
  static SyncedPersons persons;
  return persons;
}

// After a timed loop of reads, on its first thread: the log entries the indexing thread had not
// looked at yet (index_backlog, so that its work is seen to keep up rather than be put off), and
// what indexing them takes.
void count_index_backlog(benchmark::State& state, cli::Platform& platform) {
  if (state.thread_index() != 0) return;
  auto started = std::chrono::steady_clock::now();
  auto looked_at = or_die(platform.exchange->index_reads());
  state.counters["index_backlog"] = static_cast<double>(looked_at);
  state.counters["index_backlog_ms"] =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - started).count();
}

void BM_Exchange_Read(benchmark::State& state) {
  GrantedPersons& persons = granted();
  const catalog::Consumer civil{"bench", "civil"};
  std::size_t next = 0;
  for (auto _ : state) {
    auto read = persons.platform->exchange->read({persons.resource, {persons.keys[next++ % persons.keys.size()]}, {"name", "birth_date"}},
                                                 civil);
    if (!read.ok()) state.SkipWithError(read.error().message.c_str());
    benchmark::DoNotOptimize(read);
  }
  state.SetItemsProcessed(state.iterations());
  count_index_backlog(state, *persons.platform);
}
BENCHMARK(BM_Exchange_Read)->MinTime(2)->UseRealTime();
BENCHMARK(BM_Exchange_Read)->MinTime(2)->UseRealTime()->Threads(4);

// BM_Exchange_Read on the platform that syncs at every commit: one thread, and eight at once.
void BM_Exchange_Read_Synced(benchmark::State& state) {
  SyncedPersons& persons = synced();
  const catalog::Consumer civil{"bench", "civil"};
  std::size_t next = 0;
  for (auto _ : state) {
    auto read = persons.platform->exchange->read({persons.resource, {persons.keys[next++ % persons.keys.size()]}, {"name", "birth_date"}},
                                                 civil);
    if (!read.ok()) state.SkipWithError(read.error().message.c_str());
    benchmark::DoNotOptimize(read);
  }
  state.SetItemsProcessed(state.iterations());
  count_index_backlog(state, *persons.platform);
}
BENCHMARK(BM_Exchange_Read_Synced)->MinTime(2)->UseRealTime();
BENCHMARK(BM_Exchange_Read_Synced)->MinTime(2)->UseRealTime()->Threads(8);

void BM_Exchange_Registry_Read(benchmark::State& state) { registry_point_reads(state, granted()); }
BENCHMARK(BM_Exchange_Registry_Read)->MinTime(2)->UseRealTime();
BENCHMARK(BM_Exchange_Registry_Read)->MinTime(2)->UseRealTime()->Threads(4);

void BM_Exchange_Read_HTTP(benchmark::State& state) {
  GrantedPersons& persons = granted();
  http_gets(state, persons.civil_authorization, [&](std::size_t i) {
    return persons.base_url + "/api/v1/exchange/resources/" + persons.resource + "/records/" +
           persons.keys[i % persons.keys.size()] + "?items=name,birth_date";
  });
  count_index_backlog(state, *persons.platform);
}
BENCHMARK(BM_Exchange_Read_HTTP)->MinTime(3)->UseRealTime();
BENCHMARK(BM_Exchange_Read_HTTP)->MinTime(3)->UseRealTime()->Threads(4);

void BM_Exchange_Registry_Read_HTTP(benchmark::State& state) {
  GrantedPersons& persons = granted();
  http_gets(state, persons.police_authorization, [&](std::size_t i) {
    return persons.base_url + "/api/v1/registries/person/records/" + persons.keys[i % persons.keys.size()];
  });
}
BENCHMARK(BM_Exchange_Registry_Read_HTTP)->MinTime(3)->UseRealTime();
BENCHMARK(BM_Exchange_Registry_Read_HTTP)->MinTime(3)->UseRealTime()->Threads(4);

// The two over HTTP in turns, so that both rates come from the same seconds and the ratio does
// not move with the machine between two benchmarks: each iteration is a turn of 100 exchange
// reads on one keep-alive connection and a turn of 100 registry reads on another, each turn
// timed, the two turns' order swapped every iteration. Counters: exchange_per_second,
// registry_per_second and ratio_percent (the target's figure, at least 70).
void BM_Exchange_Read_HTTP_Paired(benchmark::State& state) {
  const auto turn = static_cast<std::size_t>(state.range(0));
  GrantedPersons& persons = granted();
  HttpConnection exchange(persons.civil_authorization);
  HttpConnection registry(persons.police_authorization);
  const std::string exchange_url = persons.base_url + "/api/v1/exchange/resources/" + persons.resource + "/records/";
  const std::string registry_url = persons.base_url + "/api/v1/registries/person/records/";
  std::chrono::steady_clock::duration exchange_time{};
  std::chrono::steady_clock::duration registry_time{};
  std::size_t next = 0;
  bool exchange_first = true;
  auto timed_turn = [&](bool of_exchange) {
    auto started = std::chrono::steady_clock::now();
    for (std::size_t i = 0; i < turn; ++i) {
      const std::string& key = persons.keys[(next + i) % persons.keys.size()];
      std::string failed = of_exchange ? exchange.get(exchange_url + key + "?items=name,birth_date")
                                       : registry.get(registry_url + key);
      if (!failed.empty()) state.SkipWithError(failed.c_str());
    }
    (of_exchange ? exchange_time : registry_time) += std::chrono::steady_clock::now() - started;
  };
  for (auto _ : state) {
    timed_turn(exchange_first);
    timed_turn(!exchange_first);
    exchange_first = !exchange_first;
    next += turn;
  }
  auto per_second = [&](std::chrono::steady_clock::duration time) {
    return static_cast<double>(state.iterations() * turn) / std::chrono::duration<double>(time).count();
  };
  state.counters["exchange_per_second"] = per_second(exchange_time);
  state.counters["registry_per_second"] = per_second(registry_time);
  state.counters["ratio_percent"] = 100 * per_second(exchange_time) / per_second(registry_time);
  count_index_backlog(state, *persons.platform);
}
BENCHMARK(BM_Exchange_Read_HTTP_Paired)->MinTime(6)->UseRealTime()->Arg(100);

void BM_Exchange_Bulk_Read(benchmark::State& state) {
  GrantedPersons& persons = granted();
  const catalog::Consumer civil{"bench", "civil"};
  std::int64_t records = 0;
  long before = peak_rss_kb();
  for (auto _ : state) {
    auto begun = or_die(persons.platform->exchange->begin_bulk_read(persons.resource, {"name", "birth_date"}, civil));
    std::size_t bytes = 0;
    or_die(persons.platform->exchange->run_bulk_read(begun, [&](std::string_view line) {
      bytes += line.size();
      return true;
    }));
    records += static_cast<std::int64_t>(persons.keys.size());
    benchmark::DoNotOptimize(bytes);
  }
  state.SetItemsProcessed(records);
  state.counters["rss_growth_mb"] = static_cast<double>(peak_rss_kb() - before) / 1024.0;
}
BENCHMARK(BM_Exchange_Bulk_Read)->Iterations(2)->UseRealTime()->Unit(benchmark::kMillisecond);

void BM_Raw_SQLite_Scan(benchmark::State& state) {
  GrantedPersons& persons = granted();
  sqlite3* handle = nullptr;
  std::string file = (persons.directory.path() / "data" / "onewindow.db").string();
  if (sqlite3_open_v2(file.c_str(), &handle, SQLITE_OPEN_READONLY, nullptr) != SQLITE_OK) {
    state.SkipWithError("cannot open the database");
    return;
  }
  std::int64_t records = 0;
  for (auto _ : state) {
    sqlite3_stmt* scan = nullptr;
    sqlite3_prepare_v2(handle, "SELECT record_key, fields FROM registry_record WHERE registry = 'person' ORDER BY id", -1, &scan,
                       nullptr);
    std::size_t bytes = 0;
    while (sqlite3_step(scan) == SQLITE_ROW) {
      std::string key(reinterpret_cast<const char*>(sqlite3_column_text(scan, 0)), sqlite3_column_bytes(scan, 0));
      std::string fields(reinterpret_cast<const char*>(sqlite3_column_text(scan, 1)), sqlite3_column_bytes(scan, 1));
      bytes += key.size() + fields.size();
      ++records;
    }
    sqlite3_finalize(scan);
    benchmark::DoNotOptimize(bytes);
  }
  state.SetItemsProcessed(records);
  sqlite3_close(handle);
}
BENCHMARK(BM_Raw_SQLite_Scan)->Iterations(2)->UseRealTime()->Unit(benchmark::kMillisecond);

}  // namespace
