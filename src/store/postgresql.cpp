// PostgreSQL through libpq: a pool of connections, statements prepared once per connection,
// parameters as text (binary for byte strings), results converted by column type so that rows
// look the same as SQLite's.
#include "store/internal.h"

#include <libpq-fe.h>

#include <cstdio>
#include <unordered_map>

namespace onewindow::store::internal {
namespace {

// Type OIDs from PostgreSQL's catalog (pg_type.dat); stable across versions.
constexpr Oid bool_oid = 16;
constexpr Oid bytea_oid = 17;
constexpr Oid int8_oid = 20;
constexpr Oid int2_oid = 21;
constexpr Oid int4_oid = 23;
constexpr Oid oid_oid = 26;
constexpr Oid float4_oid = 700;
constexpr Oid float8_oid = 701;

Error result_error(const PGresult* result, PGconn* connection, std::string_view doing) {
  const char* state = result ? PQresultErrorField(result, PG_DIAG_SQLSTATE) : nullptr;
  std::string sqlstate = state ? state : "";
  std::string message = std::string(doing) + ": " +
                        (result ? PQresultErrorMessage(result) : PQerrorMessage(connection));
  while (!message.empty() && (message.back() == '\n' || message.back() == ' ')) message.pop_back();
  if (sqlstate == "23505") return Error(ErrorKind::conflict, "store.unique_violation", message);
  if (sqlstate == "23503") return Error(ErrorKind::conflict, "store.foreign_key_violation", message);
  if (sqlstate.starts_with("23")) return Error(ErrorKind::conflict, "store.constraint_violation", message);
  if (sqlstate == "40001" || sqlstate == "40P01") return Error(ErrorKind::unavailable, "store.busy", message);
  if (sqlstate.starts_with("08") || PQstatus(connection) != CONNECTION_OK) {
    return Error(ErrorKind::unavailable, "store.connection_lost", message);
  }
  return Error(ErrorKind::internal, "store.sql", message);
}

using ResultHandle = std::unique_ptr<PGresult, decltype(&PQclear)>;

class Connection {
 public:
  explicit Connection(PGconn* handle) : handle_(handle) {}
  ~Connection() { PQfinish(handle_); }
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  PGconn* handle() { return handle_; }

  // A connection broken by a server restart is re-opened before it is used again; its prepared
  // statements died with it.
  Status ensure_connected() {
    if (PQstatus(handle_) == CONNECTION_OK) return ok_status();
    PQreset(handle_);
    statements_.clear();
    if (PQstatus(handle_) != CONNECTION_OK) {
      return Error(ErrorKind::unavailable, "store.connection_lost",
                   std::string("cannot reconnect to PostgreSQL: ") + PQerrorMessage(handle_));
    }
    return ok_status();
  }

  Result<std::string> prepare(std::string_view sql, int parameter_count) {
    auto found = statements_.find(sql);
    if (found != statements_.end()) return found->second;
    std::string key(sql);
    std::string name = "onewindow_" + std::to_string(statements_.size() + 1);
    ResultHandle result(PQprepare(handle_, name.c_str(), key.c_str(), parameter_count, nullptr), &PQclear);
    if (PQresultStatus(result.get()) != PGRES_COMMAND_OK) return result_error(result.get(), handle_, "prepare");
    statements_.emplace(std::move(key), name);
    return name;
  }

  Status run_plain(const char* sql) {
    ResultHandle result(PQexec(handle_, sql), &PQclear);
    auto status = PQresultStatus(result.get());
    if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) return result_error(result.get(), handle_, sql);
    return ok_status();
  }

  // Statements prepared inside a transaction that failed are still valid: PREPARE at the
  // protocol level is not transactional. Nothing to forget on rollback.

 private:
  PGconn* handle_;
  // Found by the SQL text without copying it (a string_view key).
  std::unordered_map<std::string, std::string, TextHash, std::equal_to<>> statements_;
};

// A failed ROLLBACK means the connection is broken; ensure_connected() re-opens it before its
// next use, and the server rolls back what a lost connection had begun.
void rollback(Connection* connection) { static_cast<void>(connection->run_plain("ROLLBACK")); }

// The parameters in libpq's form; keeps the text forms alive while the call runs.
struct BoundParameters {
  std::vector<std::string> texts;
  std::vector<const char*> values;
  std::vector<int> lengths;
  std::vector<int> formats;

  explicit BoundParameters(const Parameters& parameters) {
    texts.resize(parameters.size());
    for (std::size_t i = 0; i < parameters.size(); ++i) {
      const Value& value = parameters[i];
      if (std::holds_alternative<std::monostate>(value)) {
        values.push_back(nullptr);
        lengths.push_back(0);
        formats.push_back(0);
      } else if (auto* blob = std::get_if<Blob>(&value)) {
        values.push_back(reinterpret_cast<const char*>(blob->data()));
        lengths.push_back(static_cast<int>(blob->size()));
        formats.push_back(1);
      } else {
        if (auto* integer = std::get_if<std::int64_t>(&value)) {
          texts[i] = std::to_string(*integer);
        } else if (auto* real = std::get_if<double>(&value)) {
          char buffer[32];
          std::snprintf(buffer, sizeof buffer, "%.17g", *real);
          texts[i] = buffer;
        } else {
          texts[i] = std::get<std::string>(value);
        }
        values.push_back(texts[i].c_str());
        lengths.push_back(static_cast<int>(texts[i].size()));
        formats.push_back(0);
      }
    }
  }
};

Row read_row(const PGresult* result, int row) {
  int columns = PQnfields(result);
  std::vector<Value> values;
  values.reserve(columns);
  for (int column = 0; column < columns; ++column) {
    if (PQgetisnull(result, row, column)) {
      values.emplace_back(std::monostate{});
      continue;
    }
    const char* text = PQgetvalue(result, row, column);
    int length = PQgetlength(result, row, column);
    switch (PQftype(result, column)) {
      case bool_oid:
        values.emplace_back(std::int64_t{text[0] == 't' ? 1 : 0});
        break;
      case int2_oid:
      case int4_oid:
      case int8_oid:
      case oid_oid:
        values.emplace_back(std::int64_t{std::strtoll(text, nullptr, 10)});
        break;
      case float4_oid:
      case float8_oid:
        values.emplace_back(std::strtod(text, nullptr));
        break;
      case bytea_oid: {
        std::size_t size = 0;
        unsigned char* bytes = PQunescapeBytea(reinterpret_cast<const unsigned char*>(text), &size);
        values.emplace_back(Blob(bytes, bytes + size));
        PQfreemem(bytes);
        break;
      }
      default:
        values.emplace_back(std::string(text, length));
    }
  }
  return Row(std::move(values));
}

class PostgresSession final : public Session {
 public:
  explicit PostgresSession(Connection& connection) : connection_(connection) {}

  Backend backend() const override { return Backend::postgresql; }

  Result<std::vector<Row>> query(std::string_view sql, const Parameters& parameters) override {
    auto result = run(sql, parameters);
    if (!result.ok()) return result.take_error();
    std::vector<Row> rows;
    int count = PQntuples(result->get());
    rows.reserve(count);
    for (int row = 0; row < count; ++row) rows.push_back(read_row(result->get(), row));
    return rows;
  }

  // Single-row mode: rows arrive one at a time, so a bulk read never holds the whole result.
  Status query_each(std::string_view sql, const Parameters& parameters,
                    const std::function<bool(const Row&)>& on_row) override {
    auto name = connection_.prepare(sql, static_cast<int>(parameters.size()));
    if (!name.ok()) return name.take_error();
    BoundParameters bound(parameters);
    PGconn* handle = connection_.handle();
    if (!PQsendQueryPrepared(handle, name->c_str(), static_cast<int>(parameters.size()),
                             bound.values.data(), bound.lengths.data(), bound.formats.data(), 0)) {
      return result_error(nullptr, handle, "send");
    }
    PQsetSingleRowMode(handle);
    // Once on_row says stop, the remaining rows are drained unread: cancelling the statement
    // would abort the whole transaction. Callers who want a few rows say LIMIT.
    bool wanted = true;
    std::optional<Error> failure;
    while (PGresult* raw = PQgetResult(handle)) {
      ResultHandle result(raw, &PQclear);
      ExecStatusType status = PQresultStatus(raw);
      if (status == PGRES_SINGLE_TUPLE) {
        if (wanted) wanted = on_row(read_row(raw, 0));
      } else if (status != PGRES_TUPLES_OK && status != PGRES_COMMAND_OK && !failure) {
        failure = result_error(raw, handle, "query");
      }
    }
    if (failure) return *failure;
    return ok_status();
  }

  Result<std::int64_t> execute(std::string_view sql, const Parameters& parameters) override {
    auto result = run(sql, parameters);
    if (!result.ok()) return result.take_error();
    const char* changed = PQcmdTuples(result->get());
    return std::int64_t{changed && *changed ? std::strtoll(changed, nullptr, 10) : 0};
  }

  Status execute_script(std::string_view sql) override {
    return connection_.run_plain(std::string(sql).c_str());
  }

 private:
  Result<ResultHandle> run(std::string_view sql, const Parameters& parameters) {
    auto name = connection_.prepare(sql, static_cast<int>(parameters.size()));
    if (!name.ok()) return name.take_error();
    BoundParameters bound(parameters);
    ResultHandle result(
        PQexecPrepared(connection_.handle(), name->c_str(), static_cast<int>(parameters.size()),
                       bound.values.data(), bound.lengths.data(), bound.formats.data(), 0),
        &PQclear);
    auto status = PQresultStatus(result.get());
    if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) {
      return result_error(result.get(), connection_.handle(), "query");
    }
    return result;
  }

  Connection& connection_;
};

class PostgresDatabase final : public Database {
 public:
  ~PostgresDatabase() override { close(); }

  Backend backend() const override { return Backend::postgresql; }

  Status write(const std::function<Status(Session&)>& work) override {
    return transaction("BEGIN", work);
  }

  Status read(const std::function<Status(Session&)>& work) override {
    return transaction("BEGIN TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY", work);
  }

  Status ping() override {
    return read([](Session& session) -> Status {
      auto row = session.query_one("SELECT 1");
      if (!row.ok()) return row.take_error();
      return ok_status();
    });
  }

  void close() override { pool_.close(); }

  Pool<Connection>& pool() { return pool_; }

 private:
  Status transaction(const char* begin, const std::function<Status(Session&)>& work) {
    Borrowed<Connection> connection(pool_);
    if (!connection) return closed_error();
    ONEWINDOW_TRY(connection.get()->ensure_connected());
    ONEWINDOW_TRY(connection.get()->run_plain(begin));
    PostgresSession session(*connection.get());
    Status status;
    try {
      status = work(session);
    } catch (...) {
      rollback(connection.get());
      throw;
    }
    if (!status.ok()) {
      rollback(connection.get());
      return status;
    }
    Status committed = connection.get()->run_plain("COMMIT");
    if (!committed.ok()) {
      rollback(connection.get());
      return committed;
    }
    return ok_status();
  }

  Pool<Connection> pool_;
};

}  // namespace

Result<std::unique_ptr<Database>> open_postgresql(const Options& options) {
  auto database = std::make_unique<PostgresDatabase>();
  for (int i = 0; i < options.pool_size; ++i) {
    PGconn* handle = PQconnectdb(options.url.c_str());
    auto connection = std::make_unique<Connection>(handle);
    if (PQstatus(handle) != CONNECTION_OK) {
      std::string message = PQerrorMessage(handle);
      while (!message.empty() && message.back() == '\n') message.pop_back();
      return Error(ErrorKind::unavailable, "store.connect",
                   "cannot connect to PostgreSQL: " + message, {{"field", "database.url"}});
    }
    // Notices (such as "relation already exists, skipping") are not errors; keep them quiet.
    PQsetNoticeProcessor(handle, [](void*, const char*) {}, nullptr);
    database->pool().add(std::move(connection));
  }
  return std::unique_ptr<Database>(std::move(database));
}

}  // namespace onewindow::store::internal
