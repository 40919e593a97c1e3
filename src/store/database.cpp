#include "store/internal.h"
#include "store/store.h"

#include <charconv>
#include <chrono>
#include <map>
#include <set>

namespace onewindow::store {

std::string_view backend_name(Backend backend) {
  return backend == Backend::sqlite ? "sqlite" : "postgresql";
}

bool Row::is_null(std::size_t column) const {
  return std::holds_alternative<std::monostate>(values_.at(column));
}

// Accessors convert between the representations the two engines produce for the same column
// (PostgreSQL's numeric arrives as text, SQLite may give an integer for a real), so that a
// module's code does not depend on the engine.
std::int64_t Row::integer(std::size_t column) const {
  const Value& value = values_.at(column);
  if (auto* integer = std::get_if<std::int64_t>(&value)) return *integer;
  if (auto* real = std::get_if<double>(&value)) return static_cast<std::int64_t>(*real);
  if (auto* text = std::get_if<std::string>(&value)) {
    std::int64_t parsed = 0;
    std::from_chars(text->data(), text->data() + text->size(), parsed);
    return parsed;
  }
  return 0;
}

double Row::real(std::size_t column) const {
  const Value& value = values_.at(column);
  if (auto* real = std::get_if<double>(&value)) return *real;
  if (auto* integer = std::get_if<std::int64_t>(&value)) return static_cast<double>(*integer);
  if (auto* text = std::get_if<std::string>(&value)) {
    try {
      return std::stod(*text);
    } catch (...) {
      return 0;
    }
  }
  return 0;
}

std::string Row::text(std::size_t column) const {
  const Value& value = values_.at(column);
  if (auto* text = std::get_if<std::string>(&value)) return *text;
  if (auto* integer = std::get_if<std::int64_t>(&value)) return std::to_string(*integer);
  if (auto* real = std::get_if<double>(&value)) return std::to_string(*real);
  if (auto* blob = std::get_if<Blob>(&value)) return std::string(blob->begin(), blob->end());
  return {};
}

const Blob& Row::blob(std::size_t column) const {
  static const Blob empty;
  const Value& value = values_.at(column);
  if (auto* blob = std::get_if<Blob>(&value)) return *blob;
  return empty;
}

std::optional<std::string> Row::optional_text(std::size_t column) const {
  if (is_null(column)) return std::nullopt;
  return text(column);
}

std::optional<std::int64_t> Row::optional_integer(std::size_t column) const {
  if (is_null(column)) return std::nullopt;
  return integer(column);
}

Result<std::optional<Row>> Session::query_one(std::string_view sql, const Parameters& parameters) {
  std::optional<Row> first;
  Status status = query_each(sql, parameters, [&](const Row& row) {
    first = row;
    return false;
  });
  if (!status.ok()) return status.take_error();
  return first;
}

Result<std::unique_ptr<Database>> Database::open(const Options& options) {
  if (options.pool_size < 1 || options.pool_size > 256) {
    return Error::invalid("store.bad_option", "database.pool_size",
                          "database.pool_size must be between 1 and 256");
  }
  if (options.url == "sqlite" || options.url.starts_with("sqlite:")) {
    return internal::open_sqlite(options);
  }
  if (options.url.starts_with("postgresql://") || options.url.starts_with("postgres://") ||
      options.url.find("host=") != std::string::npos || options.url.find("dbname=") != std::string::npos) {
    return internal::open_postgresql(options);
  }
  return Error::invalid("store.bad_url", "database.url",
                        "database.url must be \"sqlite\", \"sqlite:<file>\" or a PostgreSQL "
                        "connection string starting with postgresql://");
}

namespace {

constexpr std::string_view create_migration_table =
    "CREATE TABLE IF NOT EXISTS schema_migration ("
    " module TEXT NOT NULL,"
    " version INTEGER NOT NULL,"
    " name TEXT NOT NULL,"
    " applied_at TEXT NOT NULL,"
    " PRIMARY KEY (module, version))";

// Serialises migrations between processes sharing one PostgreSQL database; SQLite's write
// transactions are serialised already. The key is an arbitrary constant of this project.
constexpr std::string_view postgresql_migration_lock = "SELECT pg_advisory_xact_lock(7081934412)";

Status lock_for_migration(Session& session) {
  if (session.backend() != Backend::postgresql) return ok_status();
  auto locked = session.query(postgresql_migration_lock);
  if (!locked.ok()) return locked.take_error();
  return ok_status();
}

std::string utc_now_text() {
  auto now = std::chrono::floor<std::chrono::seconds>(std::chrono::system_clock::now());
  auto days = std::chrono::floor<std::chrono::days>(now);
  std::chrono::year_month_day date{days};
  std::chrono::hh_mm_ss time{now - days};
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, "%04d-%02u-%02uT%02ld:%02ld:%02ldZ", int(date.year()),
                unsigned(date.month()), unsigned(date.day()), long(time.hours().count()),
                long(time.minutes().count()), long(time.seconds().count()));
  return buffer;
}

}  // namespace

Result<std::vector<AppliedMigration>> Database::applied_migrations() {
  return read_value<std::vector<AppliedMigration>>(
      [](Session& session) -> Result<std::vector<AppliedMigration>> {
        std::vector<AppliedMigration> applied;
        auto table = session.query_one(
            session.backend() == Backend::sqlite
                ? "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_migration'"
                : "SELECT 1 FROM information_schema.tables WHERE table_name = 'schema_migration' "
                  "AND table_schema = current_schema()");
        if (!table.ok()) return table.take_error();
        if (!table->has_value()) return applied;
        auto rows = session.query(
            "SELECT module, version, name FROM schema_migration ORDER BY module, version");
        if (!rows.ok()) return rows.take_error();
        for (const Row& row : *rows) {
          applied.push_back({row.text(0), static_cast<int>(row.integer(1)), row.text(2)});
        }
        return applied;
      });
}

Result<std::vector<AppliedMigration>> Database::migrate(const std::vector<Migration>& migrations) {
  std::map<std::string, int> last_version;
  for (const Migration& migration : migrations) {
    int& last = last_version[migration.module];
    if (migration.version <= last) {
      return Error(ErrorKind::internal, "store.migration_order",
                   "migrations of module " + migration.module +
                       " must have increasing versions; version " +
                       std::to_string(migration.version) + " comes after " + std::to_string(last));
    }
    last = migration.version;
  }

  Status created = write([](Session& session) -> Status {
    ONEWINDOW_TRY(lock_for_migration(session));
    auto result = session.execute(create_migration_table);
    if (!result.ok()) return result.take_error();
    return ok_status();
  });
  if (!created.ok()) return created.take_error();

  std::vector<AppliedMigration> applied_now;
  for (const Migration& migration : migrations) {
    bool applied = false;
    Status status = write([&](Session& session) -> Status {
      ONEWINDOW_TRY(lock_for_migration(session));
      auto existing = session.query_one(
          "SELECT name FROM schema_migration WHERE module = $1 AND version = $2",
          {migration.module, std::int64_t{migration.version}});
      if (!existing.ok()) return existing.take_error();
      if (existing->has_value()) {
        std::string recorded = (*existing)->text(0);
        if (recorded != migration.name) {
          return Error(ErrorKind::internal, "store.migration_mismatch",
                       "migration " + migration.module + " " + std::to_string(migration.version) +
                           " was applied as \"" + recorded + "\" but is now called \"" +
                           migration.name + "\": applied migrations must never change");
        }
        return ok_status();
      }
      const std::string& sql = session.backend() == Backend::postgresql && !migration.postgresql_sql.empty()
                                   ? migration.postgresql_sql
                                   : migration.sql;
      ONEWINDOW_TRY(session.execute_script(sql));
      auto recorded = session.execute(
          "INSERT INTO schema_migration (module, version, name, applied_at) VALUES ($1, $2, $3, $4)",
          {migration.module, std::int64_t{migration.version}, migration.name, utc_now_text()});
      if (!recorded.ok()) return recorded.take_error();
      applied = true;
      return ok_status();
    });
    if (!status.ok()) {
      Error error = status.take_error();
      error.message = "migration " + migration.module + " " + std::to_string(migration.version) +
                      " (" + migration.name + ") failed: " + error.message;
      return error;
    }
    if (applied) applied_now.push_back({migration.module, migration.version, migration.name});
  }
  return applied_now;
}

namespace internal {
Error closed_error() {
  return Error(ErrorKind::unavailable, "store.closed", "the database is closed");
}
}  // namespace internal

}  // namespace onewindow::store
