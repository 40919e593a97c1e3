// What the kill tests share: `onewindow serve` as a child process on a data directory (SQLite) or
// a throwaway PostgreSQL schema, started and waited for, killed with SIGKILL, and the transparency
// log verified afterwards by `onewindow audit verify`.
#pragma once

#include "cli/cli.h"
#include "testing.h"

#include <gtest/gtest.h>

#include <signal.h>
#include <sys/wait.h>

#include <memory>
#include <string>
#include <thread>
#include <vector>

namespace onewindow::cli {

// The defaults with the data in `directory`, the project's config/, and on PostgreSQL a schema of
// its own (made into `schema`).
inline Settings test_settings(const onewindow::testing::TemporaryDirectory& directory, store::Backend backend,
                              std::unique_ptr<onewindow::testing::PostgresSchema>& schema) {
  Settings settings = *load_settings(std::nullopt, [](const char*) -> const char* { return nullptr; }, {});
  settings.data_dir = directory.path().string();
  settings.config_dir = onewindow::testing::config_dir().string();
  if (backend == store::Backend::postgresql) {
    schema = std::make_unique<onewindow::testing::PostgresSchema>();
    settings.database.url = schema->url();
  }
  return settings;
}

class ServedProcessTest : public ::testing::TestWithParam<store::Backend> {
 protected:
  // The settings of the server to be: a fresh data directory, a free port, and the schema.
  void prepare() {
    settings_ = test_settings(directory_, GetParam(), schema_);
    settings_.listen = "127.0.0.1:" + std::to_string(onewindow::testing::free_port());
  }

  // Starts `onewindow serve`; with wait, returns once /healthz answers (a failure otherwise).
  pid_t start_server(bool wait = true) {
    std::vector<std::string> arguments = {onewindow::testing::onewindow_binary().string(), "serve", "--data-dir",
                                          settings_.data_dir, "--config-dir", settings_.config_dir, "--listen",
                                          settings_.listen};
    if (schema_) {
      arguments.push_back("--database-url");
      arguments.push_back(schema_->url());
    }
    pid_t pid = onewindow::testing::start_process(arguments, log_file());
    if (wait && !wait_until_healthy()) {
      ADD_FAILURE() << "the server did not come up: " << onewindow::testing::read_file(log_file());
    }
    return pid;
  }

  bool wait_until_healthy() {
    for (int attempt = 0; attempt < 400; ++attempt) {
      if (onewindow::testing::http_request("GET", base() + "/healthz").status == 200) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(25));
    }
    return false;
  }

  void kill_server(pid_t pid) {
    ::kill(pid, SIGKILL);
    int status = 0;
    ::waitpid(pid, &status, 0);
    EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL) << "status " << status;
  }

  // `onewindow audit verify` over the server's database.
  void expect_log_verifies() {
    std::string verify = onewindow::testing::onewindow_binary().string() + " audit verify --data-dir " +
                         settings_.data_dir + " --config-dir " + settings_.config_dir;
    if (schema_) verify += " --database-url '" + schema_->url() + "'";
    auto verified = onewindow::testing::run_command(verify);
    EXPECT_EQ(verified.exit_code, 0) << verified.output;
  }

  std::string base() const { return "http://" + settings_.listen; }
  std::filesystem::path log_file() const { return directory_.path() / "serve.log"; }

  onewindow::testing::TemporaryDirectory directory_;
  std::unique_ptr<onewindow::testing::PostgresSchema> schema_;
  Settings settings_;
};

}  // namespace onewindow::cli
