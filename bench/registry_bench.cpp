// Benchmarks for src/registry, each beside its baseline in the same run (docs/benchmarks.md):
// - BM_Registry_Read (a person by key, in-process: validation, one lookup, masking, JSON)
//   against BM_Raw_SQLite_Lookup (the same row by primary key through the sqlite3 C API, from
//   the same database file).
// - BM_Registry_Read_HTTP (GET /api/v1/registries/person/records/{key} with a bearer token,
//   one keep-alive connection) against BM_Static_HTTP (GET /healthz of the same server, the
//   same connection). Target: at least 40% of the static rate.
// - BM_Registry_Import (a CSV of generated persons through Imports, batches of 1,000) against
//   BM_Raw_Batched_Insert (the same records, already in memory, as key and JSON text into a
//   plain table in transactions of 1,000, sqlite3 C API). Target: at least 30%.
// All on SQLite in temporary directories, removed at exit.
#include <benchmark/benchmark.h>

#include <curl/curl.h>
#include <sqlite3.h>

#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "base/csv.h"
#include "bench_platform.h"
#include "cli/cli.h"
#include "identity/identity.h"
#include "synthetic/synthetic.h"

namespace {

using namespace onewindow;
using namespace onewindow::bench;
using onewindow::bench::or_die;
using onewindow::bench::ScratchDirectory;

constexpr std::int64_t stored_persons = 100'000;
constexpr std::int64_t imported_persons = 50'000;

// A platform on SQLite holding 100,000 generated persons, served over HTTP, with a police
// official logged in; built once, for the read benchmarks.
struct StoredPersons : ServedPersons {
  std::string authorization;
  StoredPersons() : ServedPersons("registry-read", stored_persons) {
    authorization = logged_in_official(*platform, "bench.police", "police");
  }
};

StoredPersons& stored() {
  static StoredPersons persons;
  return persons;
}

void BM_Registry_Read(benchmark::State& state) { registry_point_reads(state, stored()); }
BENCHMARK(BM_Registry_Read)->MinTime(2)->UseRealTime();

void BM_Raw_SQLite_Lookup(benchmark::State& state) {
  StoredPersons& persons = stored();
  sqlite3* handle = nullptr;
  std::string file = (persons.directory.path() / "data" / "onewindow.db").string();
  if (sqlite3_open_v2(file.c_str(), &handle, SQLITE_OPEN_READONLY, nullptr) != SQLITE_OK) {
    state.SkipWithError("cannot open the database");
    return;
  }
  sqlite3_stmt* select = nullptr;
  sqlite3_prepare_v2(handle, "SELECT fields FROM registry_record WHERE registry = 'person' AND record_key = ?1", -1,
                     &select, nullptr);
  std::size_t next = 0;
  for (auto _ : state) {
    const std::string& key = persons.keys[next++ % persons.keys.size()];
    sqlite3_bind_text(select, 1, key.data(), static_cast<int>(key.size()), SQLITE_STATIC);
    if (sqlite3_step(select) != SQLITE_ROW) state.SkipWithError("no row");
    std::string fields(reinterpret_cast<const char*>(sqlite3_column_text(select, 0)), sqlite3_column_bytes(select, 0));
    benchmark::DoNotOptimize(fields);
    sqlite3_reset(select);
  }
  state.SetItemsProcessed(state.iterations());
  sqlite3_finalize(select);
  sqlite3_close(handle);
}
BENCHMARK(BM_Raw_SQLite_Lookup)->MinTime(2)->UseRealTime();

// GETs over one keep-alive connection, as a department's system reading the registry would.
void BM_Registry_Read_HTTP(benchmark::State& state) {
  StoredPersons& persons = stored();
  http_gets(state, persons.authorization, [&](std::size_t i) {
    return persons.base_url + "/api/v1/registries/person/records/" + persons.keys[i % persons.keys.size()];
  });
}
BENCHMARK(BM_Registry_Read_HTTP)->MinTime(3)->UseRealTime();

void BM_Static_HTTP(benchmark::State& state) {
  StoredPersons& persons = stored();
  http_gets(state, persons.authorization, [&](std::size_t) { return persons.base_url + "/healthz"; });
}
BENCHMARK(BM_Static_HTTP)->MinTime(3)->UseRealTime();

// ---- Import ----------------------------------------------------------------------------------

struct ImportFile {
  ScratchDirectory directory{"registry-import"};
  std::filesystem::path file;
  ImportFile() {
    auto divisions = or_die(DivisionCodes::load(std::filesystem::path(ONEWINDOW_SOURCE_DIR) / "config" / "divisions.yaml"));
    file = or_die(synthetic::generate({imported_persons, 0, 11, Date(2026, 1, 1)}, divisions, directory.path() / "csv"))[0].path;
  }
};

ImportFile& import_file() {
  static ImportFile file;
  return file;
}

void BM_Registry_Import(benchmark::State& state) {
  ImportFile& csv = import_file();
  int run = 0;
  for (auto _ : state) {
    state.PauseTiming();
    auto data = csv.directory.path() / ("data-" + std::to_string(run++));
    auto platform = or_die(cli::build_platform(bench_settings(data), false));
    registry::ImportRequest request{"person", csv.file, TextEncoding::utf8, "bench", {"bench", "police"}};
    auto begun = or_die(platform->imports->begin(request));
    state.ResumeTiming();
    auto finished = or_die(platform->imports->run(begun.id));
    state.PauseTiming();
    if (finished.rows_created != imported_persons) state.SkipWithError("not every row was created");
    platform.reset();
    std::filesystem::remove_all(data);
    state.ResumeTiming();
  }
  state.SetItemsProcessed(state.iterations() * imported_persons);
}
BENCHMARK(BM_Registry_Import)->Iterations(2)->UseRealTime()->Unit(benchmark::kMillisecond);

void BM_Raw_Batched_Insert(benchmark::State& state) {
  ImportFile& csv = import_file();
  // The records as the baseline stores them, read before the clock starts: key and JSON text.
  std::vector<std::pair<std::string, std::string>> records;
  {
    std::ifstream input(csv.file, std::ios::binary);
    CsvReader reader(input);
    std::vector<std::string> header, fields;
    or_die(reader.next(header));
    while (or_die(reader.next(fields))) {
      nlohmann::json object = nlohmann::json::object();
      for (std::size_t i = 1; i < fields.size(); ++i) object[header[i]] = fields[i];
      records.emplace_back(fields[0], object.dump());
    }
  }
  int run = 0;
  for (auto _ : state) {
    state.PauseTiming();
    auto file = csv.directory.path() / ("raw-" + std::to_string(run++) + ".db");
    sqlite3* handle = nullptr;
    sqlite3_open(file.c_str(), &handle);
    // The same settings as the platform's writer (store/sqlite.cpp), so that only the work differs.
    sqlite3_exec(handle, "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA cache_size = -65536; "
                         "PRAGMA wal_autocheckpoint = 8192; "
                         "CREATE TABLE raw_record (record_key TEXT PRIMARY KEY, fields TEXT NOT NULL)",
                 nullptr, nullptr, nullptr);
    sqlite3_stmt* insert = nullptr;
    sqlite3_prepare_v2(handle, "INSERT INTO raw_record (record_key, fields) VALUES (?1, ?2)", -1, &insert, nullptr);
    state.ResumeTiming();
    for (std::size_t i = 0; i < records.size(); ++i) {
      if (i % 1000 == 0) sqlite3_exec(handle, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr);
      sqlite3_bind_text(insert, 1, records[i].first.data(), static_cast<int>(records[i].first.size()), SQLITE_STATIC);
      sqlite3_bind_text(insert, 2, records[i].second.data(), static_cast<int>(records[i].second.size()), SQLITE_STATIC);
      if (sqlite3_step(insert) != SQLITE_DONE) state.SkipWithError(sqlite3_errmsg(handle));
      sqlite3_reset(insert);
      if (i % 1000 == 999 || i + 1 == records.size()) sqlite3_exec(handle, "COMMIT", nullptr, nullptr, nullptr);
    }
    state.PauseTiming();
    sqlite3_finalize(insert);
    sqlite3_close(handle);
    std::filesystem::remove(file);
    state.ResumeTiming();
  }
  state.SetItemsProcessed(state.iterations() * static_cast<std::int64_t>(records.size()));
}
BENCHMARK(BM_Raw_Batched_Insert)->Iterations(2)->UseRealTime()->Unit(benchmark::kMillisecond);

}  // namespace
