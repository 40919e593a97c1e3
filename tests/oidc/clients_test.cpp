// Registering clients: by an operator through the API (the secret shown once, never listed), and
// from config/oidc_clients.yaml at start (secrets from the environment or made once; mistakes
// named by file, line and field).
#include "fixture.h"

#include <map>

namespace onewindow::oidc {
namespace {

using onewindow::testing::config_dir;

class Clients : public OidcPlatform {
 protected:
  HttpResponse as_operator(const std::string& method, const std::string& path, const nlohmann::json& body = nullptr) {
    return http_request(method, issuer_ + path, body.is_null() ? "" : body.dump(),
                        {{"Authorization", "Bearer " + operator_token_}, {"Content-Type", "application/json"}});
  }

  static void expect_field_error(const HttpResponse& response, long status, const std::string& field) {
    EXPECT_EQ(response.status, status) << response.body;
    auto body = nlohmann::json::parse(response.body, nullptr, false);
    ASSERT_TRUE(body.is_object()) << response.body;
    EXPECT_EQ(body["error"]["details"]["field"], field) << response.body;
  }

  std::function<const char*(const char*)> environment(std::map<std::string, std::string> variables) {
    environment_ = std::move(variables);
    return [this](const char* name) -> const char* {
      auto found = environment_.find(name);
      return found == environment_.end() ? nullptr : found->second.c_str();
    };
  }

  std::map<std::string, std::string> environment_;
};

TEST_F(Clients, AnOperatorRegistersAClientAndSeesTheSecretOnce) {
  HttpResponse created = as_operator("POST", "/api/v1/oidc/clients",
                                     {{"client_id", "tax-system"},
                                      {"name", "税务业务系统 Tax system"},
                                      {"grant_types", {"client_credentials"}},
                                      {"scopes", {"registry.read"}},
                                      {"department_id", directory_service_->department_by_key("tax")->id}});
  ASSERT_EQ(created.status, 201) << created.body;
  auto answer = json_of(created);
  std::string secret = answer["client_secret"];
  EXPECT_GE(secret.size(), 43u);
  EXPECT_EQ(answer["client"]["kind"], "confidential");
  EXPECT_EQ(answer["client"]["source"], "api");
  EXPECT_EQ(answer["client"]["created_by"], operator_.account_id);
  EXPECT_EQ(created.headers["cache-control"], "no-store");

  // The secret works, once shown; the list never shows it again.
  HttpResponse token = token_request("grant_type=client_credentials", {{"Authorization", basic("tax-system", secret)}});
  EXPECT_EQ(token.status, 200) << token.body;
  HttpResponse list = as_operator("GET", "/api/v1/oidc/clients");
  ASSERT_EQ(list.status, 200) << list.body;
  EXPECT_EQ(list.body.find(secret), std::string::npos);
  EXPECT_EQ(list.body.find("secret"), std::string::npos);
  std::vector<std::string> ids;
  auto listed = json_of(list);
  for (const auto& client : listed["clients"]) ids.push_back(client["client_id"]);
  EXPECT_EQ(ids, (std::vector<std::string>{"demo-portal", "market-system", "tax-system"}));
  // Nor does the table or the log hold it.
  EXPECT_EQ(recorded("oidc.client_registered"), 3);
  for (std::int64_t index = 0; index < *log_->size(); ++index) {
    EXPECT_EQ(log_->entry(index)->content.find(secret), std::string::npos);
  }

  // A public client gets no secret; an id is made when none is given.
  HttpResponse spa = as_operator("POST", "/api/v1/oidc/clients",
                                 {{"name", "单页应用 Single-page app"}, {"kind", "public"},
                                  {"redirect_uris", {"https://app.qingdao.gov.cn/callback"}}});
  ASSERT_EQ(spa.status, 201) << spa.body;
  EXPECT_FALSE(json_of(spa).contains("client_secret"));
  EXPECT_TRUE(json_of(spa)["client"]["client_id"].get<std::string>().starts_with("client_"));
  EXPECT_EQ(json_of(spa)["client"]["scopes"], nlohmann::json({"openid", "profile"}));
}

TEST_F(Clients, RegistrationChecksEveryField) {
  auto post = [&](nlohmann::json body) { return as_operator("POST", "/api/v1/oidc/clients", body); };
  nlohmann::json portal = {{"name", "门户 Portal"}, {"redirect_uris", {"https://portal.qingdao.gov.cn/callback"}}};
  auto with = [&](const char* key, nlohmann::json value) {
    nlohmann::json body = portal;
    body[key] = std::move(value);
    return body;
  };
  expect_field_error(post(with("redirect_uris", {"http://portal.qingdao.gov.cn/callback"})), 400, "redirect_uris");
  expect_field_error(post(with("redirect_uris", {"https://portal.qingdao.gov.cn/callback#top"})), 400, "redirect_uris");
  expect_field_error(post(with("redirect_uris", {"/callback"})), 400, "redirect_uris");
  expect_field_error(post(with("redirect_uris", nlohmann::json::array())), 400, "redirect_uris");
  expect_field_error(post(with("client_id", "Demo Portal")), 400, "client_id");
  expect_field_error(post(with("client_id", "demo-portal")), 409, "client_id");
  expect_field_error(post(with("scopes", {"profile"})), 400, "scopes");
  expect_field_error(post(with("scopes", {"openid", "registry.read"})), 400, "scopes");
  expect_field_error(post(with("kind", "secretive")), 400, "kind");
  expect_field_error(post(with("grant_types", {"implicit"})), 400, "grant_types");
  expect_field_error(post(with("department_id", market_)), 400, "department_id");
  expect_field_error(post(with("secret", "chosen-by-the-caller")), 400, "secret");
  nlohmann::json machine = {{"name", "系统 System"}, {"grant_types", {"client_credentials"}}, {"scopes", {"registry.read"}}};
  expect_field_error(post(machine), 400, "department_id");
  machine["department_id"] = "dep_nonexistent";
  expect_field_error(post(machine), 400, "department_id");
  machine["department_id"] = market_;
  machine["kind"] = "public";
  expect_field_error(post(machine), 400, "grant_types");
  expect_field_error(post({{"redirect_uris", {"https://portal.qingdao.gov.cn/callback"}}}), 400, "name");
  EXPECT_EQ(recorded("oidc.client_registered"), 2);  // only the fixture's two
}

TEST_F(Clients, OnlyOperatorsRegister) {
  std::string cookie = browser_login();
  auto session = json_of(http_request("GET", issuer_ + "/api/v1/session", "", {{"Cookie", cookie}}));
  HttpResponse refused = http_request("POST", issuer_ + "/api/v1/oidc/clients", R"({"name": "x"})",
                                      {{"Cookie", cookie},
                                       {"X-CSRF-Token", session["csrf_token"].get<std::string>()},
                                       {"Content-Type", "application/json"}});
  EXPECT_EQ(refused.status, 403) << refused.body;
  EXPECT_EQ(http_request("GET", issuer_ + "/api/v1/oidc/clients", "", {{"Cookie", cookie}}).status, 403);
  EXPECT_EQ(http_request("GET", issuer_ + "/api/v1/oidc/clients").status, 401);
}

TEST_F(Clients, TheExampleConfigurationLoads) {
  auto configuration = ClientConfiguration::load(config_dir() / "oidc_clients.yaml");
  ASSERT_TRUE(configuration.ok()) << configuration.error().message;
  ASSERT_EQ(configuration->clients.size(), 2u);
  const ConfiguredClient& portal = configuration->clients[0];
  EXPECT_EQ(portal.client.client_id, "demo-portal");
  EXPECT_EQ(portal.client.redirect_uris, std::vector<std::string>{"http://127.0.0.1:8090/callback"});
  EXPECT_EQ(portal.client.kind, ClientKind::confidential);
  const ConfiguredClient& machine = configuration->clients[1];
  EXPECT_EQ(machine.client.grant_types, std::vector<std::string>{"client_credentials"});
  EXPECT_EQ(machine.department, "market");
  EXPECT_GT(machine.line, portal.line);

  // The fixture's operator registered demo-portal through the API: the file may not take it over.
  auto taken = provider_->register_configured_clients(*configuration, environment({}));
  ASSERT_FALSE(taken.ok());
  EXPECT_EQ(taken.error().code, "oidc.client_exists");
  EXPECT_EQ(taken.error().details["field"], "clients[0].client_id");
  EXPECT_EQ(taken.error().details["line"], portal.line);
}

TEST_F(Clients, ConfiguredClientsAreRegisteredAtEveryStart) {
  const std::string text =
      "clients:\n"
      "  - client_id: config-portal\n"
      "    name: Portal from the configuration\n"
      "    redirect_uris: [https://portal.qingdao.gov.cn/callback]\n"
      "    secret_environment_variable: PORTAL_SECRET\n"
      "  - client_id: config-machine\n"
      "    name: Machine from the configuration\n"
      "    grant_types: [client_credentials]\n"
      "    scopes: [registry.read]\n"
      "    department: market\n";
  auto configuration = ClientConfiguration::parse(text, "oidc_clients.yaml");
  ASSERT_TRUE(configuration.ok()) << configuration.error().message;
  const std::string portal_secret = "portal-secret-from-the-environment-0123456789";

  // First start: the portal's secret comes from the environment, the machine's is made and shown.
  auto first = provider_->register_configured_clients(*configuration, environment({{"PORTAL_SECRET", portal_secret}}));
  ASSERT_TRUE(first.ok()) << first.error().message;
  ASSERT_EQ(first->size(), 2u);
  EXPECT_EQ((*first)[0].secret, "");
  std::string machine_secret = (*first)[1].secret;
  EXPECT_GE(machine_secret.size(), 43u);
  EXPECT_EQ((*first)[1].client.department_id, market_);
  EXPECT_EQ((*first)[1].client.source, "config");
  EXPECT_EQ(token_request("grant_type=client_credentials", {{"Authorization", basic("config-machine", machine_secret)}}).status, 200);
  std::string code = code_for(browser_login(), {{"client_id", "config-portal"}, {"redirect_uri", "https://portal.qingdao.gov.cn/callback"}});
  HttpResponse redeemed = token_request("grant_type=authorization_code&code=" + encode(code) +
                                        "&redirect_uri=" + encode("https://portal.qingdao.gov.cn/callback") +
                                        "&code_verifier=" + verifier, {{"Authorization", basic("config-portal", portal_secret)}});
  EXPECT_EQ(redeemed.status, 200) << redeemed.body;
  int registered = recorded("oidc.client_registered");

  // Second start, nothing changed: no new secret, nothing recorded, the made secret still works.
  auto second = provider_->register_configured_clients(*configuration, environment({{"PORTAL_SECRET", portal_secret}}));
  ASSERT_TRUE(second.ok()) << second.error().message;
  EXPECT_EQ((*second)[1].secret, "");
  EXPECT_EQ(recorded("oidc.client_registered"), registered);
  EXPECT_EQ(recorded("oidc.client_updated"), 0);
  EXPECT_EQ(token_request("grant_type=client_credentials", {{"Authorization", basic("config-machine", machine_secret)}}).status, 200);

  // Third start: a new redirect URI and a rotated secret in the environment.
  std::string changed = text;
  changed.replace(changed.find("[https://portal.qingdao.gov.cn/callback]"), 40,
                  "[https://portal.qingdao.gov.cn/callback, https://portal.qingdao.gov.cn/v2/callback]");
  auto reconfigured = ClientConfiguration::parse(changed, "oidc_clients.yaml");
  ASSERT_TRUE(reconfigured.ok()) << reconfigured.error().message;
  const std::string rotated = "a-rotated-portal-secret-0123456789abcdefghij";
  auto third = provider_->register_configured_clients(*reconfigured, environment({{"PORTAL_SECRET", rotated}}));
  ASSERT_TRUE(third.ok()) << third.error().message;
  EXPECT_EQ(recorded("oidc.client_updated"), 1);
  EXPECT_EQ((*third)[0].client.redirect_uris.size(), 2u);
  std::string form = "grant_type=authorization_code&code=x&redirect_uri=x&code_verifier=x";
  EXPECT_EQ(token_request(form, {{"Authorization", basic("config-portal", portal_secret)}}).status, 401);
  EXPECT_EQ(token_request(form, {{"Authorization", basic("config-portal", rotated)}}).status, 400);  // authenticated; bad code
}

TEST_F(Clients, ConfigurationMistakesNameFileLineAndField) {
  struct Case {
    std::string text;
    std::string code;
    int line;
    std::string field;
  };
  const std::string head = "clients:\n  - client_id: good-client\n    name: Good\n";
  const std::vector<Case> cases = {
      {head + "    colour: blue\n", "config.unknown_key", 4, "clients[0].colour"},
      {head + "    redirect_uris: [http://portal.qingdao.gov.cn/callback]\n", "config.bad_value", 4, "clients[0].redirect_uris"},
      {head + "    kind: secretive\n", "config.bad_value", 4, "clients[0].kind"},
      {head + "    grant_types: [implicit]\n", "config.bad_value", 4, "clients[0].grant_types"},
      {head + "    secret_environment_variable: lower-case\n", "config.bad_value", 4, "clients[0].secret_environment_variable"},
      {head + "    redirect_uris: https://x\n", "config.bad_value", 4, "clients[0].redirect_uris"},
      {"clients:\n  - name: No id\n", "config.missing_field", 2, "clients[0].client_id"},
      {head + "  - client_id: good-client\n    name: Again\n", "config.duplicate", 4, "clients[1].client_id"},
      {"clients:\n  - client_id: Bad_Id\n    name: x\n", "config.bad_value", 2, "clients[0].client_id"},
      {"client:\n", "config.unknown_key", 1, "client"},
      {"clients: [\n", "config.syntax", 0, ""},
  };
  for (const Case& item : cases) {
    SCOPED_TRACE(item.text);
    auto configuration = ClientConfiguration::parse(item.text, "config/oidc_clients.yaml");
    ASSERT_FALSE(configuration.ok());
    EXPECT_EQ(configuration.error().code, item.code) << configuration.error().message;
    EXPECT_EQ(configuration.error().details["file"], "config/oidc_clients.yaml");
    if (item.line > 0) {
      EXPECT_EQ(configuration.error().details["line"], item.line) << configuration.error().message;
    }
    if (!item.field.empty()) {
      EXPECT_EQ(configuration.error().details["field"], item.field);
    }
    EXPECT_TRUE(configuration.error().message.starts_with("config/oidc_clients.yaml:")) << configuration.error().message;
  }

  // Mistakes found when registering name the client's line and field too.
  struct Late {
    std::string text;
    std::string field;
  };
  for (const Late& item : std::vector<Late>{
           {head + "    grant_types: [client_credentials]\n    department: no-such-department\n", "clients[0].department"},
           {head + "    grant_types: [client_credentials]\n", "clients[0].department"},
           {head + "    redirect_uris: [https://portal.qingdao.gov.cn/cb]\n    scopes: [openid, registry.read]\n", "clients[0].scopes"},
           {head + "    redirect_uris: [https://portal.qingdao.gov.cn/cb]\n    secret_environment_variable: SHORT\n",
            "clients[0].secret_environment_variable"}}) {
    SCOPED_TRACE(item.text);
    auto configuration = ClientConfiguration::parse(item.text, "config/oidc_clients.yaml");
    ASSERT_TRUE(configuration.ok()) << configuration.error().message;
    auto registered = provider_->register_configured_clients(*configuration, environment({{"SHORT", "too short"}}));
    ASSERT_FALSE(registered.ok());
    EXPECT_EQ(registered.error().details["field"], item.field) << registered.error().message;
    EXPECT_EQ(registered.error().details["line"], 2) << registered.error().message;
    EXPECT_EQ(registered.error().message.find("too short"), std::string::npos);  // names the variable, not its value
  }
  auto missing = ClientConfiguration::load(config_dir() / "no-such-file.yaml");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().code, "config.missing_file");
}

}  // namespace
}  // namespace onewindow::oidc
