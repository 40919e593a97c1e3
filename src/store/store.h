// store: one interface over the embedded SQLite database (the default) and PostgreSQL (for scale).
//
// Contract:
// - SQL is written once with numbered parameters $1, $2, ... which both engines accept, and is
//   always run with bound values, never with text pasted into it. Statements that must differ
//   between the engines are kept side by side (see Migration).
// - All work happens inside a transaction: Database::write runs a function in one read-write
//   transaction and commits only if the function returns success (a failed Status, or an
//   exception, rolls everything back). Database::read runs a function in a read-only snapshot.
//   A write and its transparency-log entry therefore commit together or not at all.
// - SQLite runs in WAL mode with foreign keys on and a busy timeout; one connection writes at a
//   time (writes are serialised in the process), readers come from a pool. PostgreSQL uses a
//   pool of connections for both.
// - Database is safe to use from many threads at once. A Session is valid only inside the
//   function it was passed to, on that thread.
// - Each module owns its tables and registers its migrations; Database::migrate applies the
//   missing ones in order, each in its own transaction, and is safe to run from several
//   processes at once.
#pragma once

#include "base/result.h"

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace onewindow::store {

enum class Backend { sqlite, postgresql };
std::string_view backend_name(Backend backend);

using Blob = std::vector<std::uint8_t>;
// A parameter or column value. std::monostate is SQL NULL; bool is stored as 0 or 1.
using Value = std::variant<std::monostate, std::int64_t, double, std::string, Blob>;
using Parameters = std::vector<Value>;

class Row {
 public:
  explicit Row(std::vector<Value> values) : values_(std::move(values)) {}
  std::size_t size() const { return values_.size(); }
  bool is_null(std::size_t column) const;
  // Typed access; the column must hold that type (an integer column read as text gives its
  // decimal form, a text column read as an integer is a programming error and asserts).
  std::int64_t integer(std::size_t column) const;
  double real(std::size_t column) const;
  std::string text(std::size_t column) const;
  const Blob& blob(std::size_t column) const;
  std::optional<std::string> optional_text(std::size_t column) const;
  std::optional<std::int64_t> optional_integer(std::size_t column) const;
  const Value& value(std::size_t column) const { return values_.at(column); }

 private:
  std::vector<Value> values_;
};

// One connection inside one transaction.
class Session {
 public:
  virtual ~Session() = default;
  // Runs a statement and returns every row it produced.
  virtual Result<std::vector<Row>> query(std::string_view sql, const Parameters& parameters = {}) = 0;
  // Runs a statement and calls on_row for each row as it arrives, without holding them all;
  // on_row returns false to stop early.
  virtual Status query_each(std::string_view sql, const Parameters& parameters,
                            const std::function<bool(const Row&)>& on_row) = 0;
  // Runs a statement that returns no rows; gives the number of rows it changed.
  virtual Result<std::int64_t> execute(std::string_view sql, const Parameters& parameters = {}) = 0;
  // Runs several statements separated by semicolons, with no parameters (migrations).
  virtual Status execute_script(std::string_view sql) = 0;
  virtual Backend backend() const = 0;

  // The first row, or nullopt when there is none.
  Result<std::optional<Row>> query_one(std::string_view sql, const Parameters& parameters = {});
};

struct Options {
  // "sqlite" (the file onewindow.db under data_directory), "sqlite:/path/to/file.db", or a
  // PostgreSQL connection string ("postgresql://user@host:port/db?options=...").
  std::string url = "sqlite";
  std::string data_directory = "data";
  int pool_size = 4;                  // readers for SQLite, connections for PostgreSQL
  int busy_timeout_milliseconds = 5000;
  // SQLite's synchronous setting in WAL mode: "normal" survives a killed process (the crash
  // tests), "full" also survives a power cut at some cost in write speed.
  std::string sqlite_synchronous = "normal";
};

// One versioned schema change of one module. postgresql_sql is used on PostgreSQL when it is
// not empty; otherwise sql serves both engines.
struct Migration {
  std::string module;
  int version = 0;
  std::string name;
  std::string sql;
  std::string postgresql_sql;
};

struct AppliedMigration {
  std::string module;
  int version = 0;
  std::string name;
};

class Database {
 public:
  virtual ~Database() = default;

  static Result<std::unique_ptr<Database>> open(const Options& options);

  virtual Backend backend() const = 0;
  // Runs work in one read-write transaction; commits if it returns success.
  virtual Status write(const std::function<Status(Session&)>& work) = 0;
  // Runs work in one read-only transaction (a consistent snapshot).
  virtual Status read(const std::function<Status(Session&)>& work) = 0;
  // A cheap round trip to the database, for /readyz.
  virtual Status ping() = 0;
  // Closes every connection; later calls fail with store.closed. Waits for running work.
  virtual void close() = 0;

  // Applies the migrations not yet applied, in (module, version) order; returns those applied.
  Result<std::vector<AppliedMigration>> migrate(const std::vector<Migration>& migrations);
  // The migrations already applied.
  Result<std::vector<AppliedMigration>> applied_migrations();

  // write() and read() for work that produces a value.
  template <typename T>
  Result<T> write_value(const std::function<Result<T>(Session&)>& work) {
    return produce<T>(&Database::write, work);
  }
  template <typename T>
  Result<T> read_value(const std::function<Result<T>(Session&)>& work) {
    return produce<T>(&Database::read, work);
  }

 private:
  template <typename T>
  Result<T> produce(Status (Database::*run)(const std::function<Status(Session&)>&),
                    const std::function<Result<T>(Session&)>& work) {
    std::optional<T> produced;
    Status status = (this->*run)([&](Session& session) -> Status {
      auto result = work(session);
      if (!result.ok()) return result.take_error();
      produced = std::move(result).value();
      return ok_status();
    });
    if (!status.ok()) return status.take_error();
    return std::move(*produced);
  }
};

}  // namespace onewindow::store
