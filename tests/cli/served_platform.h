// The whole platform on SQLite in a temporary directory, served over HTTP on a free loopback port,
// and officials logged in with bearer tokens: what the command-line and HTTP tests start from.
#pragma once

#include "cli/cli.h"
#include "testing.h"

#include <gtest/gtest.h>

#include <functional>
#include <map>
#include <memory>
#include <string>

namespace onewindow::cli {

// A response's body as JSON (discarded when it is not JSON), for the HTTP tests.
inline nlohmann::json body_of(const onewindow::testing::HttpResponse& response) {
  return nlohmann::json::parse(response.body, nullptr, false);
}

class ServedPlatform {
 public:
  // `adjust` changes the tests' settings before the platform is built (secure cookies, say).
  explicit ServedPlatform(const std::function<void(Settings&)>& adjust = {}) {
    settings = *load_settings(std::nullopt, [](const char*) -> const char* { return nullptr; }, {});
    settings.data_dir = directory.path().string();
    settings.config_dir = onewindow::testing::config_dir().string();
    settings.http.access_log = false;
    settings.listen = "127.0.0.1:" + std::to_string(onewindow::testing::free_port());
    if (adjust) adjust(settings);
    auto built = build_platform(settings);
    EXPECT_TRUE(built.ok()) << built.error().message;
    if (!built.ok()) return;
    platform = std::move(built).value();
    server = std::make_unique<api::Server>(platform->router, platform->metrics, *server_options(settings));
    EXPECT_TRUE(server->start().ok());
    base = "http://" + settings.listen;
  }
  ~ServedPlatform() {
    if (server) server->drain_and_stop();
  }
  ServedPlatform(const ServedPlatform&) = delete;
  ServedPlatform& operator=(const ServedPlatform&) = delete;

  // Makes an account, logs it in (with its TOTP code when it has a second factor) and gives the
  // headers that carry its bearer token, and the principal.
  std::pair<std::map<std::string, std::string>, identity::Principal> bearer(const identity::NewAccount& account) {
    auto created = platform->directory->create_account(account, nullptr);
    EXPECT_TRUE(created.ok()) << created.error().message;
    if (!created.ok()) return {};
    std::string code;
    if (!created->totp_secret.empty()) {
      code = *identity::Directory::totp_code(created->totp_secret, std::chrono::system_clock::now());
    }
    auto login =
        platform->directory->login({account.username, account.password, code, "127.0.0.1", identity::SessionKind::bearer});
    EXPECT_TRUE(login.ok()) << login.error().message;
    if (!login.ok()) return {};
    return {{{"Authorization", "Bearer " + login->token}}, login->principal};
  }

  // An official of the department with this key ("police"), logged in.
  std::map<std::string, std::string> official(const std::string& username, const std::string& department_key) {
    return bearer({identity::AccountKind::official, username, "served password 1", "办事员",
                   platform->directory->department_by_key(department_key)->id, {}, "", "", ""})
        .first;
  }

  onewindow::testing::TemporaryDirectory directory;
  Settings settings;
  std::unique_ptr<Platform> platform;
  std::unique_ptr<api::Server> server;
  std::string base;
};

}  // namespace onewindow::cli
