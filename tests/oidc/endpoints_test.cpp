// The endpoints over HTTP: discovery and JWKS, the authorization endpoint's checks (redirect URI
// exactly as registered and never redirected to otherwise, PKCE S256 required, scopes, the browser
// session), the token endpoint (single-use codes, code_verifier, client authentication, errors in
// OAuth's form), client credentials for a department's system, and userinfo.
#include "fixture.h"

namespace onewindow::oidc {
namespace {

void expect_oauth_error(const HttpResponse& response, long status, const std::string& error) {
  EXPECT_EQ(response.status, status) << response.body;
  auto body = nlohmann::json::parse(response.body, nullptr, false);
  ASSERT_TRUE(body.is_object()) << response.body;
  // OAuth's form, not the platform envelope: "error" is a string.
  ASSERT_TRUE(body["error"].is_string()) << response.body;
  EXPECT_EQ(body["error"], error) << response.body;
  EXPECT_TRUE(body["error_description"].is_string()) << response.body;
}

// ---- Discovery and keys -------------------------------------------------------------------------

TEST_F(OidcPlatform, DiscoveryDescribesTheProvider) {
  HttpResponse answer = http_request("GET", issuer_ + "/.well-known/openid-configuration");
  ASSERT_EQ(answer.status, 200) << answer.body;
  auto document = json_of(answer);
  EXPECT_EQ(document["issuer"], issuer_);
  EXPECT_EQ(document["authorization_endpoint"], issuer_ + "/oauth2/authorize");
  EXPECT_EQ(document["token_endpoint"], issuer_ + "/oauth2/token");
  EXPECT_EQ(document["userinfo_endpoint"], issuer_ + "/oauth2/userinfo");
  EXPECT_EQ(document["jwks_uri"], issuer_ + "/oauth2/jwks");
  EXPECT_EQ(document["response_types_supported"], nlohmann::json({"code"}));
  EXPECT_EQ(document["grant_types_supported"], nlohmann::json({"authorization_code", "client_credentials"}));
  EXPECT_EQ(document["subject_types_supported"], nlohmann::json({"public"}));
  EXPECT_EQ(document["id_token_signing_alg_values_supported"], nlohmann::json({"ES256"}));
  EXPECT_EQ(document["code_challenge_methods_supported"], nlohmann::json({"S256"}));
  EXPECT_EQ(document["token_endpoint_auth_methods_supported"],
            nlohmann::json({"client_secret_basic", "client_secret_post", "none"}));
  EXPECT_EQ(document["scopes_supported"], nlohmann::json({"openid", "profile", "citizen_id"}));
  for (const char* claim : {"sub", "name", "preferred_username", "auth_time", "nonce"}) {
    EXPECT_TRUE(std::find(document["claims_supported"].begin(), document["claims_supported"].end(), claim) !=
                document["claims_supported"].end())
        << claim;
  }
}

TEST_F(OidcPlatform, JwksPublishesOneEs256KeyNamedByItsThumbprint) {
  HttpResponse answer = http_request("GET", issuer_ + "/oauth2/jwks");
  ASSERT_EQ(answer.status, 200) << answer.body;
  EXPECT_EQ(answer.headers["content-type"], "application/jwk-set+json");
  auto keys = json_of(answer)["keys"];
  ASSERT_EQ(keys.size(), 1u) << answer.body;
  EXPECT_EQ(keys[0]["kty"], "EC");
  EXPECT_EQ(keys[0]["crv"], "P-256");
  EXPECT_EQ(keys[0]["alg"], "ES256");
  EXPECT_EQ(keys[0]["use"], "sig");
  EXPECT_FALSE(keys[0].contains("d"));
  auto key = crypto::P256PublicKey::from_jwk(keys[0]);
  ASSERT_TRUE(key.ok()) << key.error().message;
  EXPECT_EQ(keys[0]["kid"], key->thumbprint());
  // The same key on the next call: it was made once and kept.
  EXPECT_EQ(json_of(http_request("GET", issuer_ + "/oauth2/jwks"))["keys"], keys);
  EXPECT_EQ(recorded("oidc.signing_key_created"), 1);
}

// ---- Authorization endpoint -------------------------------------------------------------------

TEST_F(OidcPlatform, UnknownClientIsShownNotRedirected) {
  std::string cookie = browser_login();
  HttpResponse answer = authorize(cookie, {{"client_id", "no-such-client"}});
  EXPECT_EQ(answer.status, 400) << answer.body;
  EXPECT_EQ(answer.headers.count("location"), 0u);
  EXPECT_EQ(json_of(answer)["error"]["code"], "oidc.unknown_client");
  answer = authorize(cookie, {{"client_id", ""}});
  EXPECT_EQ(answer.status, 400) << answer.body;
  EXPECT_EQ(answer.headers.count("location"), 0u);
}

TEST_F(OidcPlatform, WrongRedirectUriIsRefusedWithoutRedirect) {
  std::string cookie = browser_login();
  for (std::string wrong : {"http://127.0.0.1:8090/callback/", "http://127.0.0.1:8090/callback?next=1",
                            "http://127.0.0.1:8091/callback", "http://127.0.0.1:8090/Callback",
                            "http://localhost:8090/callback", "https://attacker.example/callback",
                            "http://127.0.0.1:8090/callback#fragment", "http://127.0.0.1:8090/callback/../callback"}) {
    SCOPED_TRACE(wrong);
    HttpResponse answer = authorize(cookie, {{"redirect_uri", wrong}});
    EXPECT_EQ(answer.status, 400) << answer.body;
    EXPECT_EQ(answer.headers.count("location"), 0u) << answer.headers["location"];
    EXPECT_EQ(json_of(answer)["error"]["code"], "oidc.redirect_uri_mismatch");
  }
  HttpResponse missing = authorize(cookie, {{"redirect_uri", ""}});
  EXPECT_EQ(missing.status, 400);
  EXPECT_EQ(missing.headers.count("location"), 0u);
  // Even a request that is wrong in other ways too is not redirected to an unregistered URI.
  HttpResponse both = authorize(cookie, {{"redirect_uri", "https://attacker.example/cb"}, {"code_challenge", ""}});
  EXPECT_EQ(both.status, 400);
  EXPECT_EQ(both.headers.count("location"), 0u);
}

TEST_F(OidcPlatform, PkceWithS256IsRequired) {
  std::string cookie = browser_login();
  for (const auto& [changes, trace] :
       std::vector<std::pair<std::map<std::string, std::string>, std::string>>{
           {{{"code_challenge", ""}, {"code_challenge_method", ""}}, "no PKCE at all"},
           {{{"code_challenge_method", ""}}, "no method: plain by default"},
           {{{"code_challenge_method", "plain"}, {"code_challenge", verifier}}, "plain"},
           {{{"code_challenge_method", "S512"}}, "unknown method"},
           {{{"code_challenge", "too-short"}}, "malformed challenge"}}) {
    SCOPED_TRACE(trace);
    HttpResponse answer = authorize(cookie, changes);
    ASSERT_EQ(answer.status, 302) << answer.body;
    std::string location = answer.headers["location"];
    EXPECT_TRUE(location.starts_with(std::string(redirect_uri) + "?")) << location;
    EXPECT_EQ(query_parameter(location, "error"), "invalid_request") << location;
    EXPECT_EQ(query_parameter(location, "state"), "state-123");
    EXPECT_EQ(query_parameter(location, "iss"), issuer_);
    EXPECT_EQ(query_parameter(location, "code"), "");
  }
}

TEST_F(OidcPlatform, ResponseTypeAndScopeAreChecked) {
  std::string cookie = browser_login();
  auto error_of = [&](const std::map<std::string, std::string>& changes) {
    HttpResponse answer = authorize(cookie, changes);
    EXPECT_EQ(answer.status, 302) << answer.body;
    return query_parameter(answer.headers["location"], "error");
  };
  EXPECT_EQ(error_of({{"response_type", "token"}}), "unsupported_response_type");
  EXPECT_EQ(error_of({{"response_type", "code id_token"}}), "unsupported_response_type");
  EXPECT_EQ(error_of({{"response_type", ""}}), "invalid_request");
  EXPECT_EQ(error_of({{"scope", "profile"}}), "invalid_scope");
  EXPECT_EQ(error_of({{"scope", ""}}), "invalid_scope");
  EXPECT_EQ(error_of({{"scope", "openid citizen_id"}}), "invalid_scope");  // demo-portal is not allowed it
  EXPECT_EQ(error_of({{"scope", "openid registry.read"}}), "invalid_scope");
  EXPECT_EQ(error_of({{"request", "eyJhbGciOiJub25lIn0.e30."}}), "request_not_supported");
  EXPECT_EQ(error_of({{"max_age", "300"}}), "") << "a login of a moment ago is young enough";
  EXPECT_EQ(error_of({{"max_age", "soon"}}), "invalid_request");
  clock_.advance(std::chrono::minutes(10));
  EXPECT_EQ(error_of({{"max_age", "300"}}), "login_required") << "a login ten minutes old is not";
  EXPECT_EQ(error_of({{"max_age", "3600"}}), "");
  EXPECT_EQ(error_of({{"prompt", "login"}}), "login_required");
  EXPECT_EQ(error_of({{"prompt", "consent"}}), "consent_required");
  // The machine client has no authorization code flow.
  HttpResponse machine = authorize(cookie, {{"client_id", "market-system"}});
  EXPECT_EQ(machine.status, 400);  // it has no redirect URI either
  EXPECT_EQ(machine.headers.count("location"), 0u);
  // prompt=select_account is fine: a session has one account.
  EXPECT_FALSE(query_parameter(authorize(cookie, {{"prompt", "select_account"}}).headers["location"], "code").empty());
}

TEST_F(OidcPlatform, AuthorizeNeedsTheBrowserSession) {
  HttpResponse anonymous = authorize("");
  EXPECT_EQ(anonymous.status, 401) << anonymous.body;
  EXPECT_EQ(json_of(anonymous)["error"]["code"], "oidc.login_required");
  EXPECT_EQ(anonymous.headers.count("location"), 0u);

  // prompt=none: the client asked not to show anything, so it hears back.
  HttpResponse silent = authorize("", {{"prompt", "none"}});
  ASSERT_EQ(silent.status, 302);
  EXPECT_EQ(query_parameter(silent.headers["location"], "error"), "login_required");

  // An API bearer token is not a browser session.
  auto login = directory_service_->login({"zhang.san", citizen_password, "", "127.0.0.1", identity::SessionKind::bearer});
  ASSERT_TRUE(login.ok());
  HttpResponse bearer = http_request("GET", issuer_ + "/oauth2/authorize?" + authorization_query(),
                                     "", {{"Authorization", "Bearer " + login->token}});
  EXPECT_EQ(bearer.status, 401) << bearer.body;

  // A browser session that ended is no session.
  std::string cookie = browser_login();
  EXPECT_EQ(authorize(cookie).status, 302);
  auto principal = directory_service_->authenticate(cookie.substr(cookie.find('=') + 1), identity::SessionKind::browser);
  ASSERT_TRUE(principal.ok()) << principal.error().message;
  ASSERT_TRUE(directory_service_->logout(*principal).ok());
  EXPECT_EQ(authorize(cookie).status, 401);

  // With a login page configured, the browser goes there and can come back.
  Options with_login = options_;
  with_login.login_url = "/login";
  ASSERT_TRUE(validate_options(with_login).ok());
  Provider provider(*database_, *log_, *directory_service_, *key_encryption_, clock_, with_login);
  std::map<std::string, std::string> query = {{"client_id", "demo-portal"}, {"redirect_uri", redirect_uri},
                                              {"response_type", "code"},    {"scope", "openid"},
                                              {"code_challenge", challenge}, {"code_challenge_method", "S256"}};
  auto location = provider.authorize(query, nullptr);
  ASSERT_TRUE(location.ok()) << location.error().message;
  EXPECT_TRUE(location->starts_with("/login?return_to=%2Foauth2%2Fauthorize%3F")) << *location;
  EXPECT_NE(location->find("demo-portal"), std::string::npos);
}

// ---- Token endpoint ---------------------------------------------------------------------------

TEST_F(OidcPlatform, CodeIsSingleUseAndReuseRevokesItsTokens) {
  std::string code = code_for(browser_login());
  HttpResponse first = redeem(code);
  ASSERT_EQ(first.status, 200) << first.body;
  EXPECT_EQ(first.headers["cache-control"], "no-store");
  auto tokens = json_of(first);
  EXPECT_EQ(tokens["token_type"], "Bearer");
  EXPECT_EQ(tokens["expires_in"], 600);
  EXPECT_EQ(tokens["scope"], "openid profile");
  std::string access_token = tokens["access_token"];
  EXPECT_EQ(userinfo(access_token).status, 200);

  expect_oauth_error(redeem(code), 400, "invalid_grant");
  HttpResponse revoked = userinfo(access_token);
  EXPECT_EQ(revoked.status, 401) << revoked.body;
  EXPECT_EQ(recorded("oidc.code_reused"), 1);
  // And a code nobody issued.
  expect_oauth_error(redeem("not-a-code"), 400, "invalid_grant");
}

TEST_F(OidcPlatform, WrongCodeVerifierIsRefusedAndSpendsTheCode) {
  std::string code = code_for(browser_login());
  expect_oauth_error(redeem(code, "a-different-verifier-that-is-long-enough-0123456789"), 400, "invalid_grant");
  // The verifier that made the challenge no longer helps: the code is spent.
  expect_oauth_error(redeem(code), 400, "invalid_grant");

  std::string another = code_for(browser_login());
  expect_oauth_error(redeem(another, "short"), 400, "invalid_grant");
  std::string missing = code_for(browser_login());
  expect_oauth_error(token_request("grant_type=authorization_code&code=" + encode(missing) + "&redirect_uri=" +
                                   encode(redirect_uri) + "&client_id=demo-portal&client_secret=" + encode(portal_secret_)),
                     400, "invalid_request");
}

TEST_F(OidcPlatform, CodesExpireAndAreBoundToTheirRedirectUri) {
  std::string cookie = browser_login();
  std::string code = code_for(cookie);
  clock_.advance(std::chrono::seconds(61));
  expect_oauth_error(redeem(code), 400, "invalid_grant");
  std::string other = code_for(cookie);
  expect_oauth_error(redeem(other, verifier, "http://127.0.0.1:8090/other"), 400, "invalid_grant");
}

TEST_F(OidcPlatform, TokenEndpointAuthenticatesClients) {
  std::string cookie = browser_login();
  std::string code = code_for(cookie);
  std::string form = "grant_type=authorization_code&code=" + encode(code) + "&redirect_uri=" + encode(redirect_uri) +
                     "&code_verifier=" + verifier;
  // No client authentication at all, a wrong secret, a wrong Basic password.
  expect_oauth_error(token_request(form), 401, "invalid_client");
  expect_oauth_error(token_request(form + "&client_id=demo-portal&client_secret=wrong-secret-wrong-secret-wrong-secret"),
                     401, "invalid_client");
  HttpResponse wrong_basic = token_request(form, {{"Authorization", basic("demo-portal", "wrong")}});
  expect_oauth_error(wrong_basic, 401, "invalid_client");
  EXPECT_EQ(wrong_basic.headers["www-authenticate"], "Basic realm=\"onewindow\"");
  // Unknown client, same answer.
  expect_oauth_error(token_request(form + "&client_id=nobody&client_secret=" + encode(portal_secret_)), 401, "invalid_client");
  // Two methods at once.
  std::string right_basic = basic("demo-portal", portal_secret_);
  expect_oauth_error(token_request(form + "&client_secret=" + encode(portal_secret_), {{"Authorization", right_basic}}),
                     400, "invalid_request");
  // A parameter twice, the wrong media type, no grant type, an unknown grant type.
  expect_oauth_error(token_request(form + "&code=again&client_id=demo-portal&client_secret=" + encode(portal_secret_)), 400,
                     "invalid_request");
  HttpResponse json = http_request("POST", issuer_ + "/oauth2/token", R"({"grant_type": "authorization_code"})",
                                   {{"Content-Type", "application/json"}});
  expect_oauth_error(json, 400, "invalid_request");
  expect_oauth_error(token_request("client_id=demo-portal&client_secret=" + encode(portal_secret_)), 400, "invalid_request");
  expect_oauth_error(token_request("grant_type=password&client_id=demo-portal&client_secret=" + encode(portal_secret_)), 400,
                     "unsupported_grant_type");
  expect_oauth_error(token_request("grant_type=client_credentials&client_id=demo-portal&client_secret=" + encode(portal_secret_)),
                     400, "unauthorized_client");
  // After all that, the right secret by Basic still redeems the code: failed client
  // authentication does not spend it.
  HttpResponse good = token_request(form, {{"Authorization", right_basic}});
  EXPECT_EQ(good.status, 200) << good.body;
}

TEST_F(OidcPlatform, MachineClientGetsATokenBoundToItsDepartment) {
  std::string machine = basic("market-system", machine_secret_);
  HttpResponse answer = token_request("grant_type=client_credentials", {{"Authorization", machine}});
  ASSERT_EQ(answer.status, 200) << answer.body;
  auto tokens = json_of(answer);
  EXPECT_EQ(tokens["token_type"], "Bearer");
  EXPECT_EQ(tokens["scope"], "registry.read exchange.submit");
  EXPECT_FALSE(tokens.contains("id_token"));
  auto verified = provider_->verify_access_token(tokens["access_token"].get<std::string>());
  ASSERT_TRUE(verified.ok()) << verified.error().message;
  EXPECT_EQ(verified->subject, "market-system");
  EXPECT_EQ(verified->client_id, "market-system");
  EXPECT_EQ(verified->claims["department_id"], market_);
  EXPECT_EQ(verified->header["typ"], "at+jwt");
  EXPECT_EQ(recorded("oidc.machine_token_issued"), 1);

  HttpResponse narrower = token_request("grant_type=client_credentials&scope=registry.read&client_id=market-system&client_secret=" +
                                        encode(machine_secret_));
  ASSERT_EQ(narrower.status, 200) << narrower.body;
  EXPECT_EQ(json_of(narrower)["scope"], "registry.read");
  expect_oauth_error(token_request("grant_type=client_credentials&scope=openid", {{"Authorization", machine}}), 400,
                     "invalid_scope");
  expect_oauth_error(token_request("grant_type=client_credentials&scope=registry.write", {{"Authorization", machine}}),
                     400, "invalid_scope");
  expect_oauth_error(token_request("grant_type=authorization_code&code=x&redirect_uri=x&code_verifier=x",
                                   {{"Authorization", machine}}),
                     400, "unauthorized_client");

  // A machine's token is no person's: userinfo says so.
  HttpResponse info = userinfo(tokens["access_token"]);
  EXPECT_EQ(info.status, 403) << info.body;
  EXPECT_NE(info.headers["www-authenticate"].find("insufficient_scope"), std::string::npos);
}

// ---- Userinfo ---------------------------------------------------------------------------------

TEST_F(OidcPlatform, UserinfoRefusesExpiredAndMissingTokens) {
  auto tokens = json_of(redeem(code_for(browser_login())));
  std::string access_token = tokens["access_token"];
  HttpResponse fresh = userinfo(access_token);
  ASSERT_EQ(fresh.status, 200) << fresh.body;
  auto claims = json_of(fresh);
  EXPECT_EQ(claims["sub"], citizen_.id);
  EXPECT_EQ(claims["name"], "张三");
  EXPECT_EQ(claims["preferred_username"], "zhang.san");
  EXPECT_FALSE(claims.contains("citizen_id"));
  EXPECT_EQ(fresh.body.find(citizen_number_), std::string::npos);

  clock_.advance(std::chrono::minutes(10));
  HttpResponse expired = userinfo(access_token);
  expect_oauth_error(expired, 401, "invalid_token");
  EXPECT_NE(expired.headers["www-authenticate"].find("error=\"invalid_token\""), std::string::npos);

  HttpResponse none = http_request("GET", issuer_ + "/oauth2/userinfo");
  EXPECT_EQ(none.status, 401);
  EXPECT_EQ(none.headers["www-authenticate"], "Bearer realm=\"onewindow\"");
  expect_oauth_error(userinfo("not.a.token"), 401, "invalid_token");
  // The ID token is not an access token.
  expect_oauth_error(userinfo(tokens["id_token"]), 401, "invalid_token");
  // POST works as well as GET (OpenID Connect Core 5.3.1).
  auto again = json_of(redeem(code_for(browser_login())));
  EXPECT_EQ(http_request("POST", issuer_ + "/oauth2/userinfo", "",
                         {{"Authorization", "Bearer " + again["access_token"].get<std::string>()}})
                .status,
            200);
}

TEST_F(OidcPlatform, CitizenIdOnlyForItsOwnScope) {
  NewClient civil;
  civil.client_id = "civil-portal";
  civil.name = "民政服务 Civil affairs portal";
  civil.redirect_uris = {redirect_uri};
  civil.scopes = {"openid", "profile", "citizen_id"};
  auto registered = provider_->register_client(civil, operator_);
  ASSERT_TRUE(registered.ok()) << registered.error().message;
  std::string cookie = browser_login();
  auto redeem_as_civil = [&](const std::string& scope) {
    std::string code = code_for(cookie, {{"client_id", "civil-portal"}, {"scope", scope}});
    return json_of(token_request("grant_type=authorization_code&code=" + encode(code) + "&redirect_uri=" +
                                 encode(redirect_uri) + "&code_verifier=" + verifier +
                                 "&client_id=civil-portal&client_secret=" + encode(registered->secret)));
  };

  auto without = redeem_as_civil("openid profile");
  EXPECT_FALSE(json_of(userinfo(without["access_token"])).contains("citizen_id"));
  EXPECT_EQ(recorded("oidc.citizen_id_released"), 0);

  auto with = redeem_as_civil("openid citizen_id");
  auto claims = json_of(userinfo(with["access_token"]));
  EXPECT_EQ(claims["citizen_id"], citizen_number_);
  EXPECT_FALSE(claims.contains("name"));  // no profile scope this time
  EXPECT_EQ(recorded("oidc.citizen_id_released"), 1);
  // Never in a token, never in the log.
  for (const std::string& token : {with["id_token"].get<std::string>(), with["access_token"].get<std::string>()}) {
    auto payload = crypto::base64url_decode(token.substr(token.find('.') + 1, token.rfind('.') - token.find('.') - 1));
    ASSERT_TRUE(payload.ok());
    EXPECT_EQ(std::string(payload->begin(), payload->end()).find(citizen_number_), std::string::npos);
  }
  for (std::int64_t index = 0; index < *log_->size(); ++index) {
    std::string content = log_->entry(index)->content;
    if (content.find("\"oidc.") != std::string::npos) {
      EXPECT_EQ(content.find(citizen_number_), std::string::npos) << content;
    }
  }
}

TEST_F(OidcPlatform, LoginsOfOfficialsAreRecorded) {
  auto official = directory_service_->create_account(
      {identity::AccountKind::official, "wang.wu", "official password 1", "王五", market_, {}, "", "", ""}, nullptr);
  ASSERT_TRUE(official.ok()) << official.error().message;
  std::string totp = *identity::Directory::totp_code(official->totp_secret, clock_.now());
  HttpResponse login = http_request("POST", issuer_ + "/api/v1/session",
                                    nlohmann::json{{"username", "wang.wu"}, {"password", "official password 1"}, {"totp", totp}}.dump(),
                                    {{"Content-Type", "application/json"}});
  ASSERT_EQ(login.status, 200) << login.body;
  std::string cookie = login.headers["set-cookie"].substr(0, login.headers["set-cookie"].find(';'));
  HttpResponse tokens = redeem(code_for(cookie));
  ASSERT_EQ(tokens.status, 200) << tokens.body;
  EXPECT_EQ(recorded("oidc.login"), 1);
  // A citizen's login at a relying party is not a privileged act.
  ASSERT_EQ(redeem(code_for(browser_login())).status, 200);
  EXPECT_EQ(recorded("oidc.login"), 1);
}

}  // namespace
}  // namespace onewindow::oidc
