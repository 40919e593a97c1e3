// Helpers for the test suite. Not thread-safe unless a function says so.
#pragma once

#include "store/store.h"

#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace onewindow::testing {

// A fresh directory under the system temporary directory, removed when the object dies.
class TemporaryDirectory {
 public:
  TemporaryDirectory();
  ~TemporaryDirectory();
  TemporaryDirectory(const TemporaryDirectory&) = delete;
  TemporaryDirectory& operator=(const TemporaryDirectory&) = delete;
  const std::filesystem::path& path() const { return path_; }
  // Writes a file in the directory; returns its path.
  std::filesystem::path write(const std::string& name, const std::string& text) const;

 private:
  std::filesystem::path path_;
};

// The project's config/ directory (calendars, departments, ...).
std::filesystem::path config_dir();
// The project's source directory.
std::filesystem::path source_dir();
// The built onewindow binary.
std::filesystem::path onewindow_binary();

// Writes text to a file, creating parent directories.
void write_file(const std::filesystem::path& path, const std::string& text);
std::string read_file(const std::filesystem::path& path);

// Runs a shell command; returns its exit status and what it printed on stdout and stderr.
struct CommandOutput {
  int exit_code = -1;
  std::string output;
};
CommandOutput run_command(const std::string& command);

// Starts a program (arguments[0] is its path) with stdout and stderr appended to `log`; returns
// its process id, or -1 (with a test failure) when it cannot be started.
int start_process(const std::vector<std::string>& arguments, const std::filesystem::path& log);

// A loopback TCP port that was free a moment ago.
int free_port();

// The connection string of the PostgreSQL server that scripts/test starts
// (ONEWINDOW_TEST_POSTGRES_URL). Fails the current test when it is not set.
std::string postgres_url();

// A PostgreSQL schema created for one test and dropped with it, so that tests can run in
// parallel against one server. url() is postgres_url() with search_path set to the schema.
class PostgresSchema {
 public:
  PostgresSchema();
  ~PostgresSchema();
  PostgresSchema(const PostgresSchema&) = delete;
  PostgresSchema& operator=(const PostgresSchema&) = delete;
  const std::string& url() const { return url_; }
  const std::string& name() const { return name_; }

 private:
  std::string name_;
  std::string url_;
};

// A fresh database for one test: SQLite in a temporary directory, or PostgreSQL in a schema of
// its own; the migrations applied. A failure to open or migrate fails the test.
class TestDatabase {
 public:
  TestDatabase(store::Backend backend, const std::vector<store::Migration>& migrations, int pool_size = 4);
  ~TestDatabase();
  TestDatabase(const TestDatabase&) = delete;
  TestDatabase& operator=(const TestDatabase&) = delete;

  store::Database& get() { return *database_; }
  store::Database* operator->() { return database_.get(); }
  store::Database& operator*() { return *database_; }
  // How to open the same database again (after close(), to test what survives).
  const store::Options& options() const { return options_; }
  // Closes and opens it again.
  void reopen();

 private:
  TemporaryDirectory directory_;
  std::unique_ptr<PostgresSchema> schema_;
  store::Options options_;
  std::unique_ptr<store::Database> database_;
};

// A small blocking HTTP client (libcurl) for tests that talk to a running server.
struct HttpResponse {
  long status = 0;
  std::map<std::string, std::string> headers;  // lower-case names
  std::string body;
};
HttpResponse http_request(const std::string& method, const std::string& url,
                          const std::string& body = "",
                          const std::map<std::string, std::string>& headers = {});

}  // namespace onewindow::testing
