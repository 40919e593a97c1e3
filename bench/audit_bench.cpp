// Benchmarks for src/audit, each beside its baseline in the same run:
// - BM_Audit_Append (one act per write transaction, tree heads signed every second meanwhile)
//   against BM_Raw_Insert_Store and BM_Raw_Insert_SQLite (one row of the same size per
//   transaction, through the store API and through the sqlite3 C API). Target: at least 50% of
//   the raw inserts.
// - BM_Audit_Verify_1M (verify_log over 1,000,000 entries, bytes of entries hashed per second)
//   against `openssl speed -evp sm3`, and against BM_Raw_SM3_Entries (the same entries hashed
//   from memory, the ceiling). Target: at least 50% of openssl's MB/s.
// All on SQLite in a temporary directory, removed at exit.
#include <benchmark/benchmark.h>

#include <sqlite3.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>

#include "audit/audit.h"
#include "bench_support.h"
#include "base/clock.h"
#include "crypto/crypto.h"
#include "store/store.h"

namespace {

using namespace onewindow;
using onewindow::bench::or_die;
using onewindow::bench::ScratchDirectory;

std::unique_ptr<store::Database> open_sqlite(const std::filesystem::path& directory) {
  store::Options options;
  options.data_directory = directory.string();
  return or_die(store::Database::open(options));
}

// A registry write as the platform will record it: about 450 bytes of canonical JSON.
audit::Act sample_act(std::int64_t number) {
  return audit::Act{"acc_01JD5Q8Z3K7M2N4P6R8T0V2X4Z",
                    number % 3 == 0 ? "370285199001011234" : "",
                    "registry.write",
                    "person",
                    "per_01JD5Q9" + std::to_string(1000000 + number),
                    "《中华人民共和国户口登记条例》第十条",
                    {{"registry", "person"},
                     {"field", "residential_address"},
                     {"department_id", "dep_01JD5Q2B4C6D8E0F2G4H6J8K0M"},
                     {"version", number},
                     {"value", "山东省青岛市莱西市水集街道办事处烟台路 " + std::to_string(number % 500) + " 号"}}};
}

void BM_Audit_Append(benchmark::State& state) {
  ScratchDirectory directory("audit-append");
  auto database = open_sqlite(directory.path());
  or_die(database->migrate(audit::TransparencyLog::migrations()));
  SystemClock clock;
  audit::TransparencyLog log(*database, or_die(crypto::PrivateKey::generate()), clock);
  or_die(log.start_signing(std::chrono::milliseconds(1000)));
  // Acts are made beforehand: making one is the caller's work, not the log's. The log makes
  // every entry different anyway (index, time, salt).
  std::vector<audit::Act> acts;
  for (int number = 0; number < 1024; ++number) acts.push_back(sample_act(number));
  std::size_t number = 0;
  for (auto _ : state) {
    const audit::Act& act = acts[number++ % acts.size()];
    Status written = database->write([&](store::Session& session) -> Status {
      auto receipt = log.record(session, act);
      if (!receipt.ok()) return receipt.take_error();
      return ok_status();
    });
    if (!written.ok()) state.SkipWithError(written.error().message.c_str());
  }
  log.stop_signing();
  state.SetItemsProcessed(state.iterations());
  auto head = log.sign_tree_head();
  state.counters["tree_heads_signed_size"] = head.ok() ? static_cast<double>(head->tree_size) : -1;
  database->close();
}
BENCHMARK(BM_Audit_Append)->MinTime(3)->UseRealTime();

// The bytes of one row of the baselines: as long as an entry of the append benchmark.
std::string baseline_row(std::int64_t number) {
  std::string row(460, 'x');
  std::string digits = std::to_string(number);
  row.replace(0, digits.size(), digits);
  return row;
}

void BM_Raw_Insert_Store(benchmark::State& state) {
  ScratchDirectory directory("raw-insert-store");
  auto database = open_sqlite(directory.path());
  or_die(database->migrate({{"bench", 1, "create raw_row",
                             "CREATE TABLE raw_row (id INTEGER PRIMARY KEY, content TEXT NOT NULL)", ""}}));
  std::int64_t number = 0;
  for (auto _ : state) {
    std::string row = baseline_row(number);
    Status written = database->write([&](store::Session& session) -> Status {
      auto inserted = session.execute("INSERT INTO raw_row (id, content) VALUES ($1, $2)", {number, row});
      if (!inserted.ok()) return inserted.take_error();
      return ok_status();
    });
    if (!written.ok()) state.SkipWithError(written.error().message.c_str());
    ++number;
  }
  state.SetItemsProcessed(state.iterations());
  database->close();
}
BENCHMARK(BM_Raw_Insert_Store)->MinTime(3)->UseRealTime();

// The same through the sqlite3 C API with the store's settings (WAL, synchronous = NORMAL).
void BM_Raw_Insert_SQLite(benchmark::State& state) {
  ScratchDirectory directory("raw-insert-sqlite");
  std::string path = (directory.path() / "raw.db").string();
  sqlite3* handle = nullptr;
  if (sqlite3_open(path.c_str(), &handle) != SQLITE_OK) {
    state.SkipWithError("cannot open the database");
    return;
  }
  auto run = [&](const char* sql) {
    if (sqlite3_exec(handle, sql, nullptr, nullptr, nullptr) != SQLITE_OK) state.SkipWithError(sqlite3_errmsg(handle));
  };
  run("PRAGMA journal_mode = WAL");
  run("PRAGMA synchronous = NORMAL");
  run("CREATE TABLE raw_row (id INTEGER PRIMARY KEY, content TEXT NOT NULL)");
  sqlite3_stmt* begin = nullptr;
  sqlite3_stmt* insert = nullptr;
  sqlite3_stmt* commit = nullptr;
  sqlite3_prepare_v2(handle, "BEGIN IMMEDIATE", -1, &begin, nullptr);
  sqlite3_prepare_v2(handle, "INSERT INTO raw_row (id, content) VALUES (?1, ?2)", -1, &insert, nullptr);
  sqlite3_prepare_v2(handle, "COMMIT", -1, &commit, nullptr);
  std::int64_t number = 0;
  for (auto _ : state) {
    std::string row = baseline_row(number);
    sqlite3_step(begin);
    sqlite3_reset(begin);
    sqlite3_bind_int64(insert, 1, number);
    sqlite3_bind_text(insert, 2, row.data(), static_cast<int>(row.size()), SQLITE_STATIC);
    if (sqlite3_step(insert) != SQLITE_DONE) state.SkipWithError(sqlite3_errmsg(handle));
    sqlite3_reset(insert);
    if (sqlite3_step(commit) != SQLITE_DONE) state.SkipWithError(sqlite3_errmsg(handle));
    sqlite3_reset(commit);
    ++number;
  }
  state.SetItemsProcessed(state.iterations());
  sqlite3_finalize(begin);
  sqlite3_finalize(insert);
  sqlite3_finalize(commit);
  sqlite3_close(handle);
}
BENCHMARK(BM_Raw_Insert_SQLite)->MinTime(3)->UseRealTime();

// ---- Verifying a million entries ------------------------------------------------------------

constexpr std::int64_t million = 1'000'000;

// A log of a million entries, built once (in transactions of 10,000 acts, which is far faster
// than the platform's one act per transaction and makes the same rows), with a tree head signed
// every 100,000 entries.
struct MillionEntryLog {
  ScratchDirectory directory{"audit-verify"};
  std::unique_ptr<store::Database> database;
  std::unique_ptr<crypto::PrivateKey> key;
  std::vector<std::string> contents;  // for the in-memory baseline

  MillionEntryLog() {
    std::fprintf(stderr, "audit_bench: building a log of %lld entries...\n", static_cast<long long>(million));
    database = open_sqlite(directory.path());
    or_die(database->migrate(audit::TransparencyLog::migrations()));
    key = std::make_unique<crypto::PrivateKey>(or_die(crypto::PrivateKey::generate()));
    ManualClock clock(Date(2026, 11, 23));
    audit::TransparencyLog log(*database, *key, clock);
    constexpr std::int64_t batch = 10'000;
    for (std::int64_t start = 0; start < million; start += batch) {
      or_die(database->write([&](store::Session& session) -> Status {
        for (std::int64_t number = start; number < start + batch; ++number) {
          clock.advance(std::chrono::milliseconds(3));
          auto receipt = log.record(session, sample_act(number));
          if (!receipt.ok()) return receipt.take_error();
        }
        return ok_status();
      }));
      if ((start + batch) % 100'000 == 0) or_die(log.sign_tree_head());
    }
    or_die(database->read([&](store::Session& session) -> Status {
      return session.query_each("SELECT content FROM audit_entry ORDER BY entry_index", {}, [&](const store::Row& row) {
        contents.push_back(row.text(0));
        return true;
      });
    }));
  }
  ~MillionEntryLog() { database->close(); }
};

MillionEntryLog& million_entry_log() {
  static MillionEntryLog log;
  return log;
}

void BM_Audit_Verify_1M(benchmark::State& state) {
  MillionEntryLog& log = million_entry_log();
  std::int64_t bytes = 0;
  for (auto _ : state) {
    auto report = audit::verify_log(*log.database, log.key->public_key());
    if (!report.ok() || !report->ok() || report->entries != million) {
      state.SkipWithError("the log did not verify");
      break;
    }
    bytes += report->bytes_hashed;
  }
  state.SetBytesProcessed(bytes);
  state.SetItemsProcessed(state.iterations() * million);
}
BENCHMARK(BM_Audit_Verify_1M)->Unit(benchmark::kMillisecond)->Iterations(3)->UseRealTime();

// The ceiling: the same entries' leaf hashes from memory, no database and no tree.
void BM_Raw_SM3_Entries(benchmark::State& state) {
  MillionEntryLog& log = million_entry_log();
  std::int64_t bytes = 0;
  for (auto _ : state) {
    for (const std::string& content : log.contents) {
      benchmark::DoNotOptimize(audit::leaf_hash(content));
      bytes += static_cast<std::int64_t>(content.size());
    }
  }
  state.SetBytesProcessed(bytes);
}
BENCHMARK(BM_Raw_SM3_Entries)->Unit(benchmark::kMillisecond)->Iterations(3);

}  // namespace
