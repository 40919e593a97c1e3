// The provider's SQL on both engines: every statement of registration, authorization, token,
// userinfo, revocation, cleanup and the signing key runs against SQLite and PostgreSQL
// (scripts/test provides the PostgreSQL server). No HTTP here; endpoints_test.cpp has that.
#include "audit/audit.h"
#include "identity/identity.h"
#include "oidc/oidc.h"
#include "testing.h"

#include <gtest/gtest.h>

namespace onewindow::oidc {
namespace {

using onewindow::testing::PostgresSchema;
using onewindow::testing::TemporaryDirectory;

constexpr const char* redirect_uri = "https://portal.qingdao.gov.cn/callback";
constexpr const char* verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
constexpr const char* challenge = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

class ProviderStorage : public ::testing::TestWithParam<store::Backend> {
 protected:
  void SetUp() override {
    store::Options options;
    if (GetParam() == store::Backend::sqlite) {
      options.data_directory = directory_.path().string();
    } else {
      schema_ = std::make_unique<PostgresSchema>();
      options.url = schema_->url();
    }
    auto database = store::Database::open(options);
    ASSERT_TRUE(database.ok()) << database.error().message;
    database_ = std::move(database).value();
    std::vector<store::Migration> migrations = audit::TransparencyLog::migrations();
    for (auto list : {identity::Directory::migrations(), Provider::migrations()}) {
      migrations.insert(migrations.end(), list.begin(), list.end());
    }
    auto migrated = database_->migrate(migrations);
    ASSERT_TRUE(migrated.ok()) << migrated.error().message;
    log_ = std::make_unique<audit::TransparencyLog>(*database_, *crypto::PrivateKey::generate(), clock_);
    auto envelope = crypto::Sm4Envelope::create(*crypto::random_bytes(16));
    ASSERT_TRUE(envelope.ok());
    envelope_.emplace(*envelope);
    auto policy = identity::AccessPolicy::load(onewindow::testing::config_dir() / "roles.yaml");
    ASSERT_TRUE(policy.ok()) << policy.error().message;
    identity::Options cheap;
    cheap.argon2_memory_kib = 64;
    cheap.argon2_iterations = 1;
    directory_service_ = std::make_unique<identity::Directory>(*database_, *log_, *envelope, *policy, clock_, cheap);
    auto departments = identity::DirectoryConfiguration::load(onewindow::testing::config_dir() / "departments.yaml");
    ASSERT_TRUE(departments.ok()) << departments.error().message;
    ASSERT_TRUE(directory_service_->synchronise_departments(*departments).ok());
    options_.issuer = "https://sso.qingdao.gov.cn";
    provider_ = std::make_unique<Provider>(*database_, *log_, *directory_service_, *envelope, clock_, options_);

    auto citizen = directory_service_->create_account(
        {identity::AccountKind::citizen, "zhang.san", "citizen password 1", "张三", "", {}, "360426199101010071", "", ""},
        nullptr);
    ASSERT_TRUE(citizen.ok()) << citizen.error().message;
    auto login = directory_service_->login({"zhang.san", "citizen password 1", "", "127.0.0.1", identity::SessionKind::browser});
    ASSERT_TRUE(login.ok()) << login.error().message;
    person_ = login->principal;
  }

  std::map<std::string, std::string> authorization_query(const std::string& client_id) {
    return {{"client_id", client_id},          {"redirect_uri", redirect_uri},     {"response_type", "code"},
            {"scope", "openid profile"},       {"state", "s"},                     {"nonce", "n"},
            {"code_challenge", challenge},     {"code_challenge_method", "S256"}};
  }

  static std::string code_of(const std::string& location) {
    auto start = location.find("code=") + 5;
    return location.substr(start, location.find('&', start) - start);
  }

  Result<nlohmann::json> redeem(const std::string& code, const std::string& secret) {
    return provider_->token({"application/x-www-form-urlencoded", "",
                             "grant_type=authorization_code&code=" + code + "&redirect_uri=https%3A%2F%2Fportal.qingdao.gov.cn"
                             "%2Fcallback&code_verifier=" + std::string(verifier) + "&client_id=portal&client_secret=" + secret});
  }

  TemporaryDirectory directory_;
  std::unique_ptr<PostgresSchema> schema_;
  std::unique_ptr<store::Database> database_;
  ManualClock clock_{Date(2026, 11, 23)};
  std::unique_ptr<audit::TransparencyLog> log_;
  std::optional<crypto::Sm4Envelope> envelope_;
  std::unique_ptr<identity::Directory> directory_service_;
  Options options_;
  std::unique_ptr<Provider> provider_;
  identity::Principal person_;
};

TEST_P(ProviderStorage, EveryFlowRunsOnThisEngine) {
  identity::Principal by;
  by.account_id = "acc_operator";
  NewClient portal;
  portal.client_id = "portal";
  portal.name = "门户 Portal";
  portal.redirect_uris = {redirect_uri};
  portal.scopes = {"openid", "profile", "citizen_id"};
  auto registered = provider_->register_client(portal, by);
  ASSERT_TRUE(registered.ok()) << registered.error().message;
  EXPECT_EQ(provider_->register_client(portal, by).error().code, "oidc.client_exists");
  NewClient machine;
  machine.client_id = "machine";
  machine.name = "系统 System";
  machine.grant_types = {"client_credentials"};
  machine.scopes = {"registry.read"};
  machine.department_id = directory_service_->department_by_key("police")->id;
  auto machine_registered = provider_->register_client(machine, by);
  ASSERT_TRUE(machine_registered.ok()) << machine_registered.error().message;
  auto client = provider_->client("portal");
  ASSERT_TRUE(client.ok());
  EXPECT_EQ(client->redirect_uris, std::vector<std::string>{redirect_uri});
  EXPECT_EQ(client->scopes, (std::vector<std::string>{"openid", "profile", "citizen_id"}));
  EXPECT_EQ(provider_->clients()->size(), 2u);
  EXPECT_EQ(provider_->client("nobody").error().code, "oidc.unknown_client");

  // Code flow, then the same code again.
  auto location = provider_->authorize(authorization_query("portal"), &person_);
  ASSERT_TRUE(location.ok()) << location.error().message;
  auto tokens = redeem(code_of(*location), registered->secret);
  ASSERT_TRUE(tokens.ok()) << tokens.error().message;
  auto id_token = provider_->verify_id_token((*tokens)["id_token"].get<std::string>(), "portal");
  ASSERT_TRUE(id_token.ok()) << id_token.error().message;
  EXPECT_EQ(id_token->subject, person_.account_id);
  EXPECT_EQ(id_token->claims["nonce"], "n");
  std::string access_token = (*tokens)["access_token"];
  auto claims = provider_->userinfo(access_token);
  ASSERT_TRUE(claims.ok()) << claims.error().message;
  EXPECT_EQ((*claims)["name"], "张三");
  auto again = redeem(code_of(*location), registered->secret);
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(oauth_error(again.error()), "invalid_grant");
  EXPECT_EQ(provider_->userinfo(access_token).error().code, "oidc.invalid_token");

  // The citizen ID scope, released at userinfo and recorded.
  auto with_number = provider_->authorize(
      [&] {
        auto query = authorization_query("portal");
        query["scope"] = "openid citizen_id";
        return query;
      }(),
      &person_);
  ASSERT_TRUE(with_number.ok());
  auto number_tokens = redeem(code_of(*with_number), registered->secret);
  ASSERT_TRUE(number_tokens.ok()) << number_tokens.error().message;
  auto released = provider_->userinfo((*number_tokens)["access_token"].get<std::string>());
  ASSERT_TRUE(released.ok()) << released.error().message;
  EXPECT_EQ((*released)["citizen_id"], "360426199101010071");

  // Client credentials.
  auto machine_tokens = provider_->token({"application/x-www-form-urlencoded", "",
                                          "grant_type=client_credentials&client_id=machine&client_secret=" +
                                              machine_registered->secret});
  ASSERT_TRUE(machine_tokens.ok()) << machine_tokens.error().message;
  auto verified = provider_->verify_access_token((*machine_tokens)["access_token"].get<std::string>());
  ASSERT_TRUE(verified.ok()) << verified.error().message;
  EXPECT_EQ(verified->claims["department_id"], machine.department_id);

  // Later: old codes and tokens are cleaned up when the next code is made; an expired code is gone.
  auto late = provider_->authorize(authorization_query("portal"), &person_);
  ASSERT_TRUE(late.ok());
  clock_.advance(std::chrono::minutes(30));
  ASSERT_TRUE(provider_->authorize(authorization_query("portal"), &person_).ok());
  auto stale = redeem(code_of(*late), registered->secret);
  ASSERT_FALSE(stale.ok());
  EXPECT_EQ(oauth_error(stale.error()), "invalid_grant");
  auto rows = database_->read_value<std::int64_t>([](store::Session& session) -> Result<std::int64_t> {
    auto row = session.query_one("SELECT COUNT(*) FROM oidc_access_token");
    if (!row.ok()) return row.take_error();
    return (**row).integer(0);
  });
  ASSERT_TRUE(rows.ok());
  EXPECT_EQ(*rows, 0);

  // Clients from the configuration, twice, then changed.
  auto configuration = ClientConfiguration::parse(
      "clients:\n  - client_id: configured\n    name: Configured\n    redirect_uris: [https://c.qingdao.gov.cn/cb]\n",
      "oidc_clients.yaml");
  ASSERT_TRUE(configuration.ok()) << configuration.error().message;
  auto nothing = [](const char*) -> const char* { return nullptr; };
  auto first = provider_->register_configured_clients(*configuration, nothing);
  ASSERT_TRUE(first.ok()) << first.error().message;
  EXPECT_FALSE((*first)[0].secret.empty());
  auto second = provider_->register_configured_clients(*configuration, nothing);
  ASSERT_TRUE(second.ok()) << second.error().message;
  EXPECT_TRUE((*second)[0].secret.empty());
  configuration->clients[0].client.name = "Renamed";
  ASSERT_TRUE(provider_->register_configured_clients(*configuration, nothing).ok());
  EXPECT_EQ(provider_->client("configured")->name, "Renamed");

  // The signing key is kept for the next start.
  Provider restarted(*database_, *log_, *directory_service_, *envelope_, clock_, options_);
  EXPECT_EQ((*restarted.jwks())["keys"], (*provider_->jwks())["keys"]);
  EXPECT_EQ((*restarted.jwks())["keys"].size(), 1u);

  auto report = audit::verify_log(*database_, log_->public_key());
  ASSERT_TRUE(report.ok());
  EXPECT_TRUE(report->ok()) << report->summary();
}

INSTANTIATE_TEST_SUITE_P(Backends, ProviderStorage, ::testing::Values(store::Backend::sqlite, store::Backend::postgresql),
                         [](const auto& info) { return std::string(store::backend_name(info.param)); });

}  // namespace
}  // namespace onewindow::oidc
