// SQLite: one writer connection (writes are serialised by a mutex and BEGIN IMMEDIATE, which
// also serialises against other processes through the busy timeout) and a pool of readers,
// all in WAL mode so that readers never wait for the writer.
#include "store/internal.h"

#include <sqlite3.h>

#include <condition_variable>
#include <filesystem>
#include <mutex>
#include <thread>
#include <unordered_map>

namespace onewindow::store::internal {
namespace {

Error sqlite_error(sqlite3* handle, int code, std::string_view doing) {
  int primary = code & 0xff;
  std::string message = std::string(doing) + ": " + (handle ? sqlite3_errmsg(handle) : sqlite3_errstr(code));
  if (primary == SQLITE_CONSTRAINT) {
    if (code == SQLITE_CONSTRAINT_UNIQUE || code == SQLITE_CONSTRAINT_PRIMARYKEY) {
      return Error(ErrorKind::conflict, "store.unique_violation", message);
    }
    if (code == SQLITE_CONSTRAINT_FOREIGNKEY) {
      return Error(ErrorKind::conflict, "store.foreign_key_violation", message);
    }
    return Error(ErrorKind::conflict, "store.constraint_violation", message);
  }
  if (primary == SQLITE_BUSY || primary == SQLITE_LOCKED) {
    return Error(ErrorKind::unavailable, "store.busy", message);
  }
  return Error(ErrorKind::internal, "store.sql", message);
}

// A prepared statement and where each of its parameters $1, $2, ... is: SQLite numbers named
// parameters in the order they first appear, and looking each up by name at every bind was a
// noticeable share of a bulk insert (a linear search per parameter).
struct Prepared {
  sqlite3_stmt* statement = nullptr;
  std::vector<int> indexes;  // indexes[i] for $(i + 1); 0 where the statement does not use it
};

class Connection {
 public:
  explicit Connection(sqlite3* handle) : handle_(handle) {}
  ~Connection() {
    for (auto& [sql, prepared] : statements_) sqlite3_finalize(prepared.statement);
    sqlite3_close_v2(handle_);
  }
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  sqlite3* handle() { return handle_; }

  // Prepared statements are kept per connection: preparing is a large share of a point read.
  Result<const Prepared*> prepare(std::string_view sql) {
    auto found = statements_.find(sql);
    if (found != statements_.end()) return &found->second;
    Prepared prepared;
    int code = sqlite3_prepare_v3(handle_, sql.data(), static_cast<int>(sql.size()),
                                  SQLITE_PREPARE_PERSISTENT, &prepared.statement, nullptr);
    if (code != SQLITE_OK) return sqlite_error(handle_, code, "prepare");
    int count = sqlite3_bind_parameter_count(prepared.statement);
    for (int number = 1; number <= count; ++number) {
      std::string name = "$" + std::to_string(number);
      prepared.indexes.push_back(sqlite3_bind_parameter_index(prepared.statement, name.c_str()));
    }
    return &statements_.emplace(std::string(sql), prepared).first->second;
  }

  // A statement of its own with no parameters and no rows (BEGIN, COMMIT, ROLLBACK), prepared
  // once: sqlite3_exec parses it every time, which was a third of an exchange read's instructions.
  Status run_cached(const char* sql) {
    auto prepared = prepare(sql);
    if (!prepared.ok()) return prepared.take_error();
    sqlite3_stmt* statement = (*prepared)->statement;
    int code = sqlite3_step(statement);
    sqlite3_reset(statement);
    if (code != SQLITE_DONE && code != SQLITE_ROW) {
      Error error = sqlite_error(handle_, code, sql);
      error.message = std::string(sql) + ": " + sqlite3_errmsg(handle_);
      return error;
    }
    return ok_status();
  }

  Status run_plain(const char* sql) {
    char* message = nullptr;
    int code = sqlite3_exec(handle_, sql, nullptr, nullptr, &message);
    if (code != SQLITE_OK) {
      std::string text = message ? message : sqlite3_errstr(code);
      sqlite3_free(message);
      Error error = sqlite_error(handle_, code, sql);
      error.message = std::string(sql) + ": " + text;
      return error;
    }
    return ok_status();
  }

 private:
  sqlite3* handle_;
  // Found by the SQL text without copying it (a string_view key).
  std::unordered_map<std::string, Prepared, TextHash, std::equal_to<>> statements_;
};

// A failed ROLLBACK means SQLite already rolled the transaction back itself (it does so on some
// errors); either way no transaction is left open on the connection.
void rollback(Connection& connection) { static_cast<void>(connection.run_cached("ROLLBACK")); }

Status bind(sqlite3* handle, const Prepared& prepared, const Parameters& parameters) {
  sqlite3_stmt* statement = prepared.statement;
  if (prepared.indexes.size() != parameters.size()) {
    return Error(ErrorKind::internal, "store.parameter_count",
                 "statement takes " + std::to_string(prepared.indexes.size()) + " parameters, got " +
                     std::to_string(parameters.size()));
  }
  for (std::size_t i = 0; i < parameters.size(); ++i) {
    int index = prepared.indexes[i];
    if (index == 0) {
      return Error(ErrorKind::internal, "store.parameter_name",
                   "statement does not use parameter $" + std::to_string(i + 1) + " (write $1, $2, ...)");
    }
    const Value& value = parameters[i];
    int code = SQLITE_OK;
    if (std::holds_alternative<std::monostate>(value)) {
      code = sqlite3_bind_null(statement, index);
    } else if (auto* integer = std::get_if<std::int64_t>(&value)) {
      code = sqlite3_bind_int64(statement, index, *integer);
    } else if (auto* real = std::get_if<double>(&value)) {
      code = sqlite3_bind_double(statement, index, *real);
    } else if (auto* text = std::get_if<std::string>(&value)) {
      code = sqlite3_bind_text64(statement, index, text->data(), text->size(), SQLITE_STATIC, SQLITE_UTF8);
    } else if (auto* blob = std::get_if<Blob>(&value)) {
      code = sqlite3_bind_blob64(statement, index, blob->data(), blob->size(), SQLITE_STATIC);
    }
    if (code != SQLITE_OK) return sqlite_error(handle, code, "bind");
  }
  return ok_status();
}

Row read_row(sqlite3_stmt* statement) {
  int columns = sqlite3_column_count(statement);
  std::vector<Value> values;
  values.reserve(columns);
  for (int column = 0; column < columns; ++column) {
    switch (sqlite3_column_type(statement, column)) {
      case SQLITE_INTEGER:
        values.emplace_back(std::int64_t{sqlite3_column_int64(statement, column)});
        break;
      case SQLITE_FLOAT:
        values.emplace_back(sqlite3_column_double(statement, column));
        break;
      case SQLITE_TEXT: {
        auto* text = reinterpret_cast<const char*>(sqlite3_column_text(statement, column));
        values.emplace_back(std::string(text, sqlite3_column_bytes(statement, column)));
        break;
      }
      case SQLITE_BLOB: {
        auto* data = static_cast<const std::uint8_t*>(sqlite3_column_blob(statement, column));
        values.emplace_back(Blob(data, data + sqlite3_column_bytes(statement, column)));
        break;
      }
      default:
        values.emplace_back(std::monostate{});
    }
  }
  return Row(std::move(values));
}

class SqliteSession final : public Session {
 public:
  explicit SqliteSession(Connection& connection) : connection_(connection) {}

  Backend backend() const override { return Backend::sqlite; }

  Status query_each(std::string_view sql, const Parameters& parameters,
                    const std::function<bool(const Row&)>& on_row) override {
    return run(sql, parameters, [&](Row&& row) { return on_row(row); });
  }

  Result<std::vector<Row>> query(std::string_view sql, const Parameters& parameters) override {
    std::vector<Row> rows;
    Status status = run(sql, parameters, [&](Row&& row) {
      rows.push_back(std::move(row));
      return true;
    });
    if (!status.ok()) return status.take_error();
    return rows;
  }

  Result<std::int64_t> execute(std::string_view sql, const Parameters& parameters) override {
    Status status = run(sql, parameters, [](Row&&) { return true; });
    if (!status.ok()) return status.take_error();
    return std::int64_t{sqlite3_changes64(connection_.handle())};
  }

  Status execute_script(std::string_view sql) override {
    return connection_.run_plain(std::string(sql).c_str());
  }

 private:
  // Runs a statement, handing each row to on_row (which returns false to stop) to keep or move.
  template <typename OnRow>
  Status run(std::string_view sql, const Parameters& parameters, OnRow&& on_row) {
    auto prepared = connection_.prepare(sql);
    if (!prepared.ok()) return prepared.take_error();
    sqlite3_stmt* statement = (*prepared)->statement;
    // Reset on every exit so that the cached statement holds no read lock or bound text.
    struct Reset {
      sqlite3_stmt* statement;
      ~Reset() {
        sqlite3_reset(statement);
        sqlite3_clear_bindings(statement);
      }
    } reset{statement};
    ONEWINDOW_TRY(bind(connection_.handle(), **prepared, parameters));
    while (true) {
      int code = sqlite3_step(statement);
      if (code == SQLITE_DONE) return ok_status();
      if (code != SQLITE_ROW) return sqlite_error(connection_.handle(), code, "step");
      if (!on_row(read_row(statement))) return ok_status();
    }
  }

  Connection& connection_;
};

// Copies the write-ahead log back into the database file on a thread and connection of its
// own, so that no write waits for it. SQLite's automatic checkpoint runs inside the COMMIT that
// crosses the threshold, on the one writer connection, under the writer's mutex: its fsyncs (tens
// to hundreds of milliseconds once the file is large) held up every write behind it, and the
// soak's p99 was those stalls. A PASSIVE checkpoint here waits for no reader or writer; the next
// write after it restarts the log from its beginning once no reader still needs the old frames.
class Checkpointer {
 public:
  // The log's length that wakes the checkpointer, 4 MiB of 4 KiB pages, and the length at which
  // the writer copies the log back itself (256 MiB), should the checkpointer fall far behind.
  // Short checkpoints keep each fsync short: while one flushes the log, the writer's next frames
  // may wait until it ends (perf on the soak: the writer blocked up to 900 ms in pwrite when
  // 32 MiB went at once). They wait even for frames past the pages being flushed, so writing
  // the log out beforehand, all but its last page, does not help (docs/benchmarks.md).
  static constexpr int wake_pages = 1024;
  static constexpr int writer_pages = 65536;

  ~Checkpointer() { stop(); }

  Status start(const std::string& path, int busy_timeout_milliseconds) {
    sqlite3* handle = nullptr;
    int code = sqlite3_open_v2(path.c_str(), &handle, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, nullptr);
    connection_ = std::make_unique<Connection>(handle);
    if (code != SQLITE_OK) return sqlite_error(handle, code, "open " + path + " for checkpoints");
    sqlite3_busy_timeout(handle, busy_timeout_milliseconds);
    // A connection opens the file on its first statement: until then it knows of no log, and a
    // checkpoint through it does nothing.
    ONEWINDOW_TRY(connection_->run_plain("SELECT COUNT(*) FROM sqlite_master"));
    thread_ = std::thread([this] { loop(); });
    return ok_status();
  }

  void stop() {
    {
      std::lock_guard lock(mutex_);
      stopping_ = true;
    }
    woken_.notify_one();
    if (thread_.joinable()) thread_.join();
    connection_.reset();
  }

  // The writer connection's hook, after each commit: `pages` is the log's length.
  static int after_commit(void* self, sqlite3* writer, const char* schema, int pages) {
    auto* checkpointer = static_cast<Checkpointer*>(self);
    if (pages >= writer_pages) {
      sqlite3_wal_checkpoint_v2(writer, schema, SQLITE_CHECKPOINT_PASSIVE, nullptr, nullptr);
    } else if (pages >= wake_pages) {
      {
        std::lock_guard lock(checkpointer->mutex_);
        checkpointer->due_ = true;
      }
      checkpointer->woken_.notify_one();
    }
    return SQLITE_OK;
  }

 private:
  void loop() {
    std::unique_lock lock(mutex_);
    while (true) {
      woken_.wait(lock, [this] { return due_ || stopping_; });
      if (stopping_) return;
      due_ = false;
      lock.unlock();
      // A failure (the file busy past the timeout) leaves the log to the next wake or to the writer.
      sqlite3_wal_checkpoint_v2(connection_->handle(), nullptr, SQLITE_CHECKPOINT_PASSIVE, nullptr, nullptr);
      lock.lock();
    }
  }

  std::unique_ptr<Connection> connection_;
  std::thread thread_;
  std::mutex mutex_;
  std::condition_variable woken_;
  bool due_ = false;
  bool stopping_ = false;
};

class SqliteDatabase final : public Database {
 public:
  SqliteDatabase(std::unique_ptr<Connection> writer, const Options& options)
      : writer_(std::move(writer)), options_(options) {}
  ~SqliteDatabase() override { close(); }

  // Takes the log's checkpoints off the writer (see Checkpointer).
  Status start_checkpoints(const std::string& path) {
    ONEWINDOW_TRY(checkpointer_.start(path, options_.busy_timeout_milliseconds));
    std::lock_guard lock(writer_mutex_);
    sqlite3_wal_hook(writer_->handle(), &Checkpointer::after_commit, &checkpointer_);
    return ok_status();
  }

  Backend backend() const override { return Backend::sqlite; }

  Status write(const std::function<Status(Session&)>& work) override {
    std::lock_guard lock(writer_mutex_);
    if (!writer_) return closed_error();
    ONEWINDOW_TRY(writer_->run_cached("BEGIN IMMEDIATE"));
    return finish(*writer_, work);
  }

  Status read(const std::function<Status(Session&)>& work) override {
    Borrowed<Connection> reader(readers_);
    if (!reader) return closed_error();
    ONEWINDOW_TRY(reader.get()->run_cached("BEGIN"));
    return finish(*reader.get(), work);
  }

  Status ping() override {
    return read([](Session& session) -> Status {
      auto row = session.query_one("SELECT 1");
      if (!row.ok()) return row.take_error();
      return ok_status();
    });
  }

  void close() override {
    readers_.close();
    checkpointer_.stop();
    std::lock_guard lock(writer_mutex_);
    writer_.reset();
  }

  Status add_readers(const std::string& path) {
    for (int i = 0; i < options_.pool_size; ++i) {
      sqlite3* handle = nullptr;
      int code = sqlite3_open_v2(path.c_str(), &handle, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, nullptr);
      auto connection = std::make_unique<Connection>(handle);
      if (code != SQLITE_OK) return sqlite_error(handle, code, "open " + path);
      sqlite3_busy_timeout(handle, options_.busy_timeout_milliseconds);
      readers_.add(std::move(connection));
    }
    return ok_status();
  }

 private:
  // Runs work inside the transaction already begun on connection; commits or rolls back.
  static Status finish(Connection& connection, const std::function<Status(Session&)>& work) {
    SqliteSession session(connection);
    Status status;
    try {
      status = work(session);
    } catch (...) {
      rollback(connection);
      throw;
    }
    if (!status.ok()) {
      rollback(connection);
      return status;
    }
    Status committed = connection.run_cached("COMMIT");
    if (!committed.ok()) {
      rollback(connection);
      return committed;
    }
    return ok_status();
  }

  std::mutex writer_mutex_;
  std::unique_ptr<Connection> writer_;
  Pool<Connection> readers_;
  Checkpointer checkpointer_;
  Options options_;
};

}  // namespace

Result<std::unique_ptr<Database>> open_sqlite(const Options& options) {
  std::string path;
  if (options.url == "sqlite") {
    std::error_code error;
    std::filesystem::create_directories(options.data_directory, error);
    if (error) {
      return Error(ErrorKind::invalid_argument, "store.data_directory",
                   "cannot create data directory " + options.data_directory + ": " + error.message(),
                   {{"field", "data_dir"}});
    }
    path = (std::filesystem::path(options.data_directory) / "onewindow.db").string();
  } else {
    path = options.url.substr(std::string_view("sqlite:").size());
  }
  if (options.sqlite_synchronous != "normal" && options.sqlite_synchronous != "full") {
    return Error::invalid("store.bad_option", "database.sqlite_synchronous",
                          "database.sqlite_synchronous must be \"normal\" or \"full\"");
  }

  sqlite3* handle = nullptr;
  int code = sqlite3_open_v2(path.c_str(), &handle,
                             SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr);
  auto writer = std::make_unique<Connection>(handle);
  if (code != SQLITE_OK) {
    Error error = sqlite_error(handle, code, "open " + path);
    error.kind = ErrorKind::unavailable;
    error.code = "store.connect";
    return error;
  }
  sqlite3_busy_timeout(handle, options.busy_timeout_milliseconds);
  sqlite3_extended_result_codes(handle, 1);
  // The writer's page cache: 64 MiB (SQLite's default is 2 MiB), taken only as pages are used.
  // Bulk imports insert in key order of nothing in particular (ID numbers), so each batch touches
  // pages all over the indexes; with a small cache each is read again and again. The log is
  // copied back into the database by the Checkpointer, not by the writer's COMMIT.
  for (const char* pragma : {"PRAGMA journal_mode = WAL", "PRAGMA foreign_keys = ON", "PRAGMA cache_size = -65536",
                             "PRAGMA wal_autocheckpoint = 0"}) {
    Status status = writer->run_plain(pragma);
    if (!status.ok()) return status.take_error();
  }
  std::string synchronous = "PRAGMA synchronous = " + options.sqlite_synchronous;
  Status status = writer->run_plain(synchronous.c_str());
  if (!status.ok()) return status.take_error();

  auto database = std::make_unique<SqliteDatabase>(std::move(writer), options);
  status = database->add_readers(path);
  if (!status.ok()) return status.take_error();
  status = database->start_checkpoints(path);
  if (!status.ok()) return status.take_error();
  return std::unique_ptr<Database>(std::move(database));
}

}  // namespace onewindow::store::internal
