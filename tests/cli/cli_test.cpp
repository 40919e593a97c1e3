// The onewindow command: settings precedence and errors, the composed platform's routes and
// OpenAPI document, and the real binary started, probed and stopped with SIGTERM.
#include "cli/cli.h"
#include "served_platform.h"
#include "testing.h"

#include <gtest/gtest.h>

#include <csignal>
#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <thread>

extern char** environ;

namespace onewindow::cli {
namespace {

using onewindow::testing::http_request;
using onewindow::testing::TemporaryDirectory;
using onewindow::testing::write_file;

const char* no_environment(const char*) { return nullptr; }

TEST(Settings, DefaultsAreThoseTheReadmeShows) {
  auto settings = load_settings(std::nullopt, no_environment, {});
  ASSERT_TRUE(settings.ok());
  EXPECT_EQ(settings->listen, "127.0.0.1:8080");
  EXPECT_EQ(settings->data_dir, "data");
  EXPECT_EQ(settings->database.url, "sqlite");
  EXPECT_EQ(settings->http.max_body_bytes, 16 * 1024 * 1024);
}

TEST(Settings, FileThenEnvironmentThenFlags) {
  TemporaryDirectory directory;
  auto file = directory.path() / "onewindow.yaml";
  write_file(file, "listen: 127.0.0.1:9000\nhttp:\n  threads: 3\n  access_log: false\nlog:\n  level: warn\n");
  auto from_file = load_settings(file, no_environment, {});
  ASSERT_TRUE(from_file.ok()) << from_file.error().message;
  EXPECT_EQ(from_file->listen, "127.0.0.1:9000");
  EXPECT_EQ(from_file->http.threads, 3);
  EXPECT_FALSE(from_file->http.access_log);
  EXPECT_EQ(from_file->log.level, "warn");

  auto environment = [](const char* name) -> const char* {
    if (std::string_view(name) == "ONEWINDOW_HTTP_THREADS") return "5";
    if (std::string_view(name) == "ONEWINDOW_LISTEN") return "127.0.0.1:9100";
    return nullptr;
  };
  auto with_environment = load_settings(file, environment, {});
  ASSERT_TRUE(with_environment.ok());
  EXPECT_EQ(with_environment->http.threads, 5);
  EXPECT_EQ(with_environment->listen, "127.0.0.1:9100");

  auto with_flags = load_settings(file, environment, {{"listen", "127.0.0.1:9200"}});
  ASSERT_TRUE(with_flags.ok());
  EXPECT_EQ(with_flags->listen, "127.0.0.1:9200");
  EXPECT_EQ(with_flags->http.threads, 5);
}

TEST(Settings, UnknownKeyNamesFileLineAndKey) {
  TemporaryDirectory directory;
  auto file = directory.path() / "onewindow.yaml";
  write_file(file, "listen: 127.0.0.1:9000\ndatabase:\n  url: sqlite\n  pool: 3\n");
  auto settings = load_settings(file, no_environment, {});
  ASSERT_FALSE(settings.ok());
  EXPECT_EQ(settings.error().code, "config.unknown_key");
  EXPECT_EQ(settings.error().details["file"], file.string());
  EXPECT_EQ(settings.error().details["line"], 4);
  EXPECT_EQ(settings.error().details["field"], "database.pool");

  write_file(file, "listn: 127.0.0.1:9000\n");
  auto top = load_settings(file, no_environment, {});
  ASSERT_FALSE(top.ok());
  EXPECT_EQ(top.error().details["field"], "listn");
  EXPECT_EQ(top.error().details["line"], 1);
}

TEST(Settings, WrongValuesNameWhereTheyCameFrom) {
  TemporaryDirectory directory;
  auto file = directory.path() / "onewindow.yaml";
  write_file(file, "http:\n  threads: many\n");
  auto from_file = load_settings(file, no_environment, {});
  ASSERT_FALSE(from_file.ok());
  EXPECT_EQ(from_file.error().code, "config.bad_value");
  EXPECT_EQ(from_file.error().details["field"], "http.threads");
  EXPECT_EQ(from_file.error().details["line"], 2);

  auto environment = [](const char* name) -> const char* {
    return std::string_view(name) == "ONEWINDOW_HTTP_ACCESS_LOG" ? "yes" : nullptr;
  };
  auto from_environment = load_settings(std::nullopt, environment, {});
  ASSERT_FALSE(from_environment.ok());
  EXPECT_EQ(from_environment.error().details["field"], "ONEWINDOW_HTTP_ACCESS_LOG");

  auto from_flag = load_settings(std::nullopt, no_environment, {{"data_dir", ""}});
  ASSERT_FALSE(from_flag.ok());
  EXPECT_EQ(from_flag.error().details["field"], "--data-dir");
}

TEST(Settings, EverySettingIsDescribed) {
  auto described = describe_settings();
  EXPECT_GE(described.size(), 10u);
  for (const auto& setting : described) {
    EXPECT_TRUE(setting.environment_variable.starts_with("ONEWINDOW_")) << setting.key;
    EXPECT_FALSE(setting.description.empty()) << setting.key;
  }
}

// Every route the platform serves is in /api/openapi.json, and every operation there is served.
TEST(Platform, OpenApiDocumentsExactlyTheServedRoutes) {
  ServedPlatform served;
  ASSERT_TRUE(served.platform);
  const std::string& base = served.base;
  auto& platform = served.platform;

  auto document = nlohmann::json::parse(http_request("GET", base + "/api/openapi.json").body);
  EXPECT_EQ(document["openapi"], "3.1.0");
  std::size_t operations = 0;
  for (const auto& [path, methods] : document["paths"].items()) operations += methods.size();
  EXPECT_EQ(operations, platform->router.routes().size());

  for (const api::Route& route : platform->router.routes()) {
    std::string method = route.method;
    for (char& c : method) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    EXPECT_TRUE(document["paths"].contains(route.pattern) && document["paths"][route.pattern].contains(method))
        << route.method << " " << route.pattern << " is served but missing from the OpenAPI document";
  }
  for (const auto& [path, methods] : document["paths"].items()) {
    for (const auto& [method, operation] : methods.items()) {
      std::string concrete = path;
      for (auto open = concrete.find('{'); open != std::string::npos; open = concrete.find('{')) {
        concrete.replace(open, concrete.find('}', open) - open + 1, "0");
      }
      std::string upper = method;
      for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
      auto response = http_request(upper, base + concrete, upper == "GET" ? "" : "{}",
                                   {{"Content-Type", "application/json"}});
      auto body = nlohmann::json::parse(response.body, nullptr, false);
      bool unrouted = response.status == 405 ||
                      (response.status == 404 && body.is_object() && body["error"]["code"] == "http.not_found");
      EXPECT_FALSE(unrouted) << upper << " " << path << " is documented but not served";
      EXPECT_NE(response.status, 500) << upper << " " << concrete << ": " << response.body;
      EXPECT_FALSE(operation["summary"].get<std::string>().empty()) << path;
    }
  }
}

// The real binary, as an operator runs it.
class Binary : public ::testing::Test {
 protected:
  static onewindow::testing::CommandOutput run(const std::string& arguments) {
    return onewindow::testing::run_command(onewindow::testing::onewindow_binary().string() + " " + arguments);
  }

  // Starts `onewindow serve` with its output in a file; returns the process id.
  pid_t start(const std::vector<std::string>& arguments, const std::filesystem::path& log) {
    std::vector<std::string> all = {onewindow::testing::onewindow_binary().string()};
    all.insert(all.end(), arguments.begin(), arguments.end());
    return onewindow::testing::start_process(all, log);
  }

  static bool wait_until_healthy(const std::string& base) {
    for (int attempt = 0; attempt < 100; ++attempt) {
      if (http_request("GET", base + "/healthz").status == 200) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    return false;
  }

  // Sends SIGTERM and returns the exit status (or -1 if it did not exit within 15 s).
  static int stop(pid_t pid) {
    kill(pid, SIGTERM);
    for (int attempt = 0; attempt < 150; ++attempt) {
      int status = 0;
      if (waitpid(pid, &status, WNOHANG) == pid) return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    kill(pid, SIGKILL);
    waitpid(pid, nullptr, 0);
    return -1;
  }

  TemporaryDirectory directory_;
};

TEST_F(Binary, VersionAndHelp) {
  auto version = run("version");
  EXPECT_EQ(version.exit_code, 0);
  EXPECT_THAT(version.output, ::testing::MatchesRegex("onewindow [0-9]+\\.[0-9]+\\.[0-9]+\n"));
  for (const char* command : {"serve", "demo"}) {
    auto help = run(std::string(command) + " --help");
    EXPECT_EQ(help.exit_code, 0) << command;
    EXPECT_THAT(help.output, ::testing::HasSubstr("--listen")) << command;
    EXPECT_THAT(help.output, ::testing::HasSubstr("--data-dir")) << command;
  }
  EXPECT_EQ(run("migrate --help").exit_code, 0);
  EXPECT_EQ(run("version --help").exit_code, 0);
  EXPECT_NE(run("frobnicate").exit_code, 0);
}

TEST_F(Binary, BadConfigurationIsRefusedNamingFileLineAndKey) {
  auto file = directory_.path() / "bad.yaml";
  write_file(file, "http:\n  threads: 2\n  max_body: 10\n");
  auto result = run("serve --config " + file.string() + " --data-dir " + (directory_.path() / "data").string());
  EXPECT_EQ(result.exit_code, 2);
  EXPECT_THAT(result.output, ::testing::HasSubstr(file.string() + ":3: http.max_body: unknown key"));
}

TEST_F(Binary, MigrateOnSqliteAndPostgres) {
  auto sqlite = run("migrate --data-dir " + (directory_.path() / "data").string());
  EXPECT_EQ(sqlite.exit_code, 0) << sqlite.output;
  EXPECT_THAT(sqlite.output, ::testing::HasSubstr("database sqlite is up to date"));
  EXPECT_TRUE(std::filesystem::exists(directory_.path() / "data" / "onewindow.db"));
  onewindow::testing::PostgresSchema schema;
  auto postgres = run("migrate --database-url '" + schema.url() + "'");
  EXPECT_EQ(postgres.exit_code, 0) << postgres.output;
  EXPECT_THAT(postgres.output, ::testing::HasSubstr("database postgresql is up to date"));
}

TEST_F(Binary, ServesUntilSigtermThenStopsCleanly) {
  int port = onewindow::testing::free_port();
  std::string listen = "127.0.0.1:" + std::to_string(port);
  auto log = directory_.path() / "server.log";
  pid_t pid = start({"serve", "--listen", listen, "--data-dir", (directory_.path() / "data").string()}, log);
  std::string base = "http://" + listen;
  ASSERT_TRUE(wait_until_healthy(base)) << onewindow::testing::read_file(log);
  EXPECT_EQ(http_request("GET", base + "/readyz").status, 200);
  // An ID number in a path reaches the log masked, never whole.
  http_request("GET", base + "/api/v1/nothing/370285199001011234");
  EXPECT_EQ(stop(pid), 0);
  std::string output = onewindow::testing::read_file(log);
  EXPECT_THAT(output, ::testing::HasSubstr("listening on " + base));
  EXPECT_THAT(output, ::testing::HasSubstr("access request_id=req_"));
  EXPECT_THAT(output, ::testing::HasSubstr("received SIGTERM"));
  EXPECT_THAT(output, ::testing::HasSubstr("stopped cleanly"));
  EXPECT_THAT(output, ::testing::HasSubstr("370285********1234"));
  EXPECT_EQ(output.find("370285199001011234"), std::string::npos);
}

TEST_F(Binary, ServesOnPostgres) {
  onewindow::testing::PostgresSchema schema;
  std::string listen = "127.0.0.1:" + std::to_string(onewindow::testing::free_port());
  auto log = directory_.path() / "server.log";
  pid_t pid = start({"serve", "--listen", listen, "--database-url", schema.url()}, log);
  std::string base = "http://" + listen;
  ASSERT_TRUE(wait_until_healthy(base)) << onewindow::testing::read_file(log);
  auto ready = http_request("GET", base + "/readyz");
  EXPECT_EQ(ready.status, 200);
  EXPECT_EQ(nlohmann::json::parse(ready.body)["database"], "postgresql");
  EXPECT_EQ(stop(pid), 0);
}

TEST_F(Binary, ListeningOnABusyPortFailsClearly) {
  int port = onewindow::testing::free_port();
  std::string listen = "127.0.0.1:" + std::to_string(port);
  pid_t first = start({"serve", "--listen", listen, "--data-dir", (directory_.path() / "a").string()},
                      directory_.path() / "first.log");
  ASSERT_TRUE(wait_until_healthy("http://" + listen));
  auto second = run("serve --listen " + listen + " --data-dir " + (directory_.path() / "b").string());
  EXPECT_NE(second.exit_code, 0);
  EXPECT_THAT(second.output, ::testing::HasSubstr("cannot listen on " + listen));
  EXPECT_EQ(stop(first), 0);
}

}  // namespace
}  // namespace onewindow::cli
