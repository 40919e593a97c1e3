// A small platform in the test process for the OpenID Connect tests: SQLite in a temporary
// directory, the transparency log, identity with config/roles.yaml and config/departments.yaml,
// the provider, and the HTTP server with the identity and oidc routes on a free loopback port.
// A citizen and an operator exist; "demo-portal" (a confidential relying party) and "market-system"
// (a machine client of the market department) are registered. The clock is a ManualClock started
// at the real time, because openid-client checks token times against its own clock.
#pragma once

#include "api/api.h"
#include "audit/audit.h"
#include "base/clock.h"
#include "base/identifiers.h"
#include "identity/identity.h"
#include "oidc/oidc.h"
#include "store/store.h"
#include "testing.h"

#include <gtest/gtest.h>

#include <memory>
#include <string>

namespace onewindow::oidc {

using onewindow::testing::http_request;
using onewindow::testing::HttpResponse;

class OidcPlatform : public ::testing::Test {
 protected:
  static constexpr const char* citizen_password = "citizen password 1";
  static constexpr const char* redirect_uri = "http://127.0.0.1:8090/callback";

  void SetUp() override {
    store::Options store_options;
    store_options.data_directory = directory_.path().string();
    auto database = store::Database::open(store_options);
    ASSERT_TRUE(database.ok()) << database.error().message;
    database_ = std::move(database).value();
    auto node_key = crypto::PrivateKey::generate();
    ASSERT_TRUE(node_key.ok());
    log_ = std::make_unique<audit::TransparencyLog>(*database_, *node_key, clock_);
    std::vector<store::Migration> migrations = audit::TransparencyLog::migrations();
    for (auto list : {identity::Directory::migrations(), Provider::migrations()}) {
      migrations.insert(migrations.end(), list.begin(), list.end());
    }
    auto migrated = database_->migrate(migrations);
    ASSERT_TRUE(migrated.ok()) << migrated.error().message;

    auto policy = identity::AccessPolicy::load(onewindow::testing::config_dir() / "roles.yaml");
    ASSERT_TRUE(policy.ok()) << policy.error().message;
    auto key_encryption = crypto::Sm4Envelope::create(*crypto::from_hex("000102030405060708090a0b0c0d0e0f"));
    ASSERT_TRUE(key_encryption.ok());
    key_encryption_.emplace(*key_encryption);
    identity::Options identity_options;
    identity_options.argon2_memory_kib = 1024;  // fast hashing: the tests are not about passwords
    identity_options.argon2_iterations = 1;
    directory_service_ = std::make_unique<identity::Directory>(*database_, *log_, *key_encryption, std::move(policy).value(),
                                                               clock_, identity_options);
    auto departments = identity::DirectoryConfiguration::load(onewindow::testing::config_dir() / "departments.yaml");
    ASSERT_TRUE(departments.ok()) << departments.error().message;
    ASSERT_TRUE(directory_service_->synchronise_departments(*departments).ok());
    market_ = directory_service_->department_by_key("market")->id;

    port_ = onewindow::testing::free_port();
    issuer_ = "http://127.0.0.1:" + std::to_string(port_);
    options_.issuer = issuer_;
    ASSERT_TRUE(validate_options(options_).ok());
    provider_ = std::make_unique<Provider>(*database_, *log_, *directory_service_, *key_encryption, clock_, options_);

    api::add_identity_routes(router_, *directory_service_, false);
    api::add_oidc_routes(router_, *provider_, *directory_service_);
    router_.set_authenticator(api::make_authenticator(*directory_service_));
    router_.set_policy(&directory_service_->policy());
    Status permissions = router_.check_permissions(directory_service_->policy());
    ASSERT_TRUE(permissions.ok()) << permissions.error().message;
    api::ServerOptions server_options;
    server_options.port = port_;
    server_options.access_log = false;
    server_ = std::make_unique<api::Server>(router_, metrics_, server_options);
    Status started = server_->start();
    ASSERT_TRUE(started.ok()) << started.error().message;

    std::string seventeen = "37020219900307123";
    citizen_number_ = seventeen + *citizen_id_check_character(seventeen);
    auto citizen = directory_service_->create_account(
        {identity::AccountKind::citizen, "zhang.san", citizen_password, "张三", "", {}, citizen_number_, "", ""}, nullptr);
    ASSERT_TRUE(citizen.ok()) << citizen.error().message;
    citizen_ = citizen->account;
    auto operator_account = directory_service_->create_account(
        {identity::AccountKind::platform_operator, "li.si", "operator password 1", "李四", "", {}, "", "", ""}, nullptr);
    ASSERT_TRUE(operator_account.ok()) << operator_account.error().message;
    auto code = identity::Directory::totp_code(operator_account->totp_secret, clock_.now());
    auto login = directory_service_->login({"li.si", "operator password 1", *code, "127.0.0.1", identity::SessionKind::bearer});
    ASSERT_TRUE(login.ok()) << login.error().message;
    operator_ = login->principal;
    operator_token_ = login->token;

    NewClient portal;
    portal.client_id = "demo-portal";
    portal.name = "示范门户 Demo portal";
    portal.redirect_uris = {redirect_uri};
    auto registered = provider_->register_client(portal, operator_);
    ASSERT_TRUE(registered.ok()) << registered.error().message;
    portal_secret_ = registered->secret;
    NewClient machine;
    machine.client_id = "market-system";
    machine.name = "市场监管业务系统 Market supervision system";
    machine.grant_types = {std::string(client_credentials_grant)};
    machine.scopes = {"registry.read", "exchange.submit"};
    machine.department_id = market_;
    auto registered_machine = provider_->register_client(machine, operator_);
    ASSERT_TRUE(registered_machine.ok()) << registered_machine.error().message;
    machine_secret_ = registered_machine->secret;
  }

  void TearDown() override {
    if (server_) server_->drain_and_stop();
  }

  // Logs the citizen in as a browser would; returns "onewindow_session=...".
  std::string browser_login(const std::string& username = "zhang.san", const std::string& password = citizen_password) {
    HttpResponse login = http_request("POST", issuer_ + "/api/v1/session",
                                      nlohmann::json{{"username", username}, {"password", password}}.dump(),
                                      {{"Content-Type", "application/json"}});
    EXPECT_EQ(login.status, 200) << login.body;
    std::string cookie = login.headers["set-cookie"];
    return cookie.substr(0, cookie.find(';'));
  }

  // RFC 7636 appendix B's verifier and challenge.
  static constexpr const char* verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
  static constexpr const char* challenge = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

  // The authorization request's query for demo-portal, with PKCE; `changes` replace or add
  // parameters (an empty value removes one).
  static std::string authorization_query(const std::map<std::string, std::string>& changes = {}) {
    std::map<std::string, std::string> query = {{"response_type", "code"},         {"client_id", "demo-portal"},
                                                {"redirect_uri", redirect_uri},    {"scope", "openid profile"},
                                                {"state", "state-123"},            {"nonce", "nonce-456"},
                                                {"code_challenge", challenge},     {"code_challenge_method", "S256"}};
    for (const auto& [name, value] : changes) {
      if (value.empty()) query.erase(name);
      else query[name] = value;
    }
    std::string text;
    for (const auto& [name, value] : query) {
      text += (text.empty() ? "" : "&") + name + "=" + encode(value);
    }
    return text;
  }

  static std::string encode(std::string_view value) {
    static constexpr char digits[] = "0123456789ABCDEF";
    std::string encoded;
    for (unsigned char c : value) {
      if (std::isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~') encoded += static_cast<char>(c);
      else encoded += std::string("%") + digits[c >> 4] + digits[c & 15];
    }
    return encoded;
  }

  HttpResponse authorize(const std::string& cookie, const std::map<std::string, std::string>& changes = {}) {
    std::map<std::string, std::string> headers;
    if (!cookie.empty()) headers["Cookie"] = cookie;
    return http_request("GET", issuer_ + "/oauth2/authorize?" + authorization_query(changes), "", headers);
  }

  // One query parameter of a URL (values here need no decoding beyond %XX).
  static std::string query_parameter(const std::string& url, const std::string& name) {
    auto question = url.find('?');
    if (question == std::string::npos) return "";
    std::string query = url.substr(question + 1);
    for (std::size_t start = 0; start <= query.size();) {
      auto end = query.find('&', start);
      if (end == std::string::npos) end = query.size();
      std::string pair = query.substr(start, end - start);
      auto equals = pair.find('=');
      if (pair.substr(0, equals) == name) {
        std::string value = equals == std::string::npos ? "" : pair.substr(equals + 1);
        std::string decoded;
        for (std::size_t i = 0; i < value.size(); ++i) {
          if (value[i] == '%' && i + 2 < value.size()) {
            decoded += static_cast<char>(std::stoi(value.substr(i + 1, 2), nullptr, 16));
            i += 2;
          } else {
            decoded += value[i] == '+' ? ' ' : value[i];
          }
        }
        return decoded;
      }
      start = end + 1;
    }
    return "";
  }

  // A code for demo-portal, through the browser session.
  std::string code_for(const std::string& cookie, const std::map<std::string, std::string>& changes = {}) {
    HttpResponse answer = authorize(cookie, changes);
    EXPECT_EQ(answer.status, 302) << answer.body;
    std::string code = query_parameter(answer.headers["location"], "code");
    EXPECT_FALSE(code.empty()) << answer.headers["location"];
    return code;
  }

  HttpResponse token_request(const std::string& form, const std::map<std::string, std::string>& extra_headers = {}) {
    std::map<std::string, std::string> headers = {{"Content-Type", "application/x-www-form-urlencoded"}};
    for (const auto& [name, value] : extra_headers) headers[name] = value;
    return http_request("POST", issuer_ + "/oauth2/token", form, headers);
  }

  HttpResponse redeem(const std::string& code, const std::string& code_verifier = verifier,
                      const std::string& redirect = redirect_uri) {
    return token_request("grant_type=authorization_code&code=" + encode(code) + "&redirect_uri=" + encode(redirect) +
                         "&code_verifier=" + encode(code_verifier) + "&client_id=demo-portal&client_secret=" +
                         encode(portal_secret_));
  }

  // The value of an Authorization: Basic header (RFC 7617: standard base64 with padding).
  static std::string basic(const std::string& client_id, const std::string& secret) {
    std::string encoded = crypto::base64url_encode(encode(client_id) + ":" + encode(secret));
    for (char& c : encoded) c = c == '-' ? '+' : c == '_' ? '/' : c;
    while (encoded.size() % 4 != 0) encoded += '=';
    return "Basic " + encoded;
  }

  HttpResponse userinfo(const std::string& access_token) {
    return http_request("GET", issuer_ + "/oauth2/userinfo", "", {{"Authorization", "Bearer " + access_token}});
  }

  static nlohmann::json json_of(const HttpResponse& response) { return nlohmann::json::parse(response.body, nullptr, false); }

  // The number of transparency-log entries with this action.
  int recorded(const std::string& action) {
    int count = 0;
    for (std::int64_t index = 0; index < *log_->size(); ++index) {
      auto entry = nlohmann::json::parse(log_->entry(index)->content);
      if (entry.dump().find("\"action\":\"" + action + "\"") != std::string::npos) ++count;
    }
    return count;
  }

  ManualClock clock_{std::chrono::system_clock::now()};
  onewindow::testing::TemporaryDirectory directory_;
  std::unique_ptr<store::Database> database_;
  std::unique_ptr<audit::TransparencyLog> log_;
  std::optional<crypto::Sm4Envelope> key_encryption_;
  std::unique_ptr<identity::Directory> directory_service_;
  Options options_;
  std::unique_ptr<Provider> provider_;
  api::Router router_;
  api::Metrics metrics_;
  std::unique_ptr<api::Server> server_;
  int port_ = 0;
  std::string issuer_;
  std::string market_;
  std::string citizen_number_;
  identity::Account citizen_;
  identity::Principal operator_;
  std::string operator_token_;
  std::string portal_secret_;
  std::string machine_secret_;
};

}  // namespace onewindow::oidc
