#include "api/api.h"

#include "base/identifiers.h"
#include "oidc/oidc.h"

#include <algorithm>

namespace onewindow::api {

namespace {



nlohmann::json render(const identity::Account& account) {
  return {{"id", account.id},
          {"kind", identity::kind_name(account.kind)},
          {"username", account.username},
          {"display_name", account.display_name},
          {"department_id", account.department_id},
          {"roles", account.roles},
          // The ID number is shown masked: the platform knows it, a screen need not.
          {"citizen_id", redact_identifiers(account.citizen_id)},
          {"legal_person", account.legal_person},
          {"enterprise_role", account.enterprise_role},
          {"second_factor", account.second_factor},
          {"disabled", account.disabled},
          {"created_at", account.created_at}};
}

nlohmann::json render(const identity::Principal& principal) {
  return {{"account_id", principal.account_id},
          {"kind", principal.machine_client ? std::string_view("department_system") : identity::kind_name(principal.kind)},
          {"username", principal.username},
          {"display_name", principal.display_name},
          {"department_id", principal.department_id},
          {"legal_person", principal.legal_person},
          {"permissions", principal.permissions}};
}

nlohmann::json render(const identity::Department& department) {
  return {{"id", department.id},
          {"key", department.key},
          {"name", department.name},
          {"name_en", department.english_name},
          {"unified_social_credit_code", department.unified_social_credit_code},
          {"division", department.division},
          {"parent_id", department.parent_id}};
}


std::string session_cookie_header(const std::string& value, long max_age_seconds, bool secure) {
  return std::string(session_cookie) + "=" + value + "; Path=/; HttpOnly; SameSite=Lax; Max-Age=" +
         std::to_string(max_age_seconds) + (secure ? "; Secure" : "");
}

}  // namespace

// The principal of a department system's access token (client credentials): the token's scopes
// that an official may hold, so that a department's system never does more than its officials.
Result<identity::Principal> machine_principal(const identity::Directory& directory, oidc::Provider& single_sign_on,
                                              std::string_view token) {
  auto verified = single_sign_on.verify_access_token(token);
  if (!verified.ok()) return verified.take_error();
  auto department = verified->claims.find("department_id");
  if (department == verified->claims.end() || !department->is_string() || department->get<std::string>().empty()) {
    // A person's access token is for the relying party's own API, not the platform's.
    return Error(ErrorKind::unauthenticated, "identity.unauthenticated", "log in first");
  }
  identity::Principal principal;
  principal.machine_client = true;
  principal.account_id = "oidc_client:" + verified->client_id;
  principal.username = verified->client_id;
  principal.display_name = verified->client_id;
  principal.department_id = department->get<std::string>();
  principal.authenticated_at = std::chrono::system_clock::time_point(std::chrono::seconds(verified->claims.value("iat", 0)));
  const std::set<std::string> allowed = directory.policy().permissions_of(identity::AccountKind::official, {});
  std::string scopes = verified->claims.value("scope", "");
  for (std::size_t start = 0; start < scopes.size();) {
    std::size_t end = scopes.find(' ', start);
    if (end == std::string::npos) end = scopes.size();
    std::string scope = scopes.substr(start, end - start);
    if (allowed.contains(scope)) principal.permissions.insert(scope);
    start = end + 1;
  }
  return principal;
}

Authenticator make_authenticator(const identity::Directory& directory, oidc::Provider* single_sign_on) {
  return [&directory, single_sign_on](const Request& request) -> Result<std::optional<identity::Principal>> {
    std::string authorization = request.header("authorization");
    if (authorization.starts_with("Bearer ")) {
      std::string_view token = std::string_view(authorization).substr(7);
      // Platform bearer tokens are opaque; access tokens of the OpenID Connect provider are JWS,
      // three parts joined by dots.
      if (single_sign_on != nullptr && std::count(token.begin(), token.end(), '.') == 2) {
        auto machine = machine_principal(directory, *single_sign_on, token);
        if (!machine.ok()) return machine.take_error();
        return std::optional<identity::Principal>(std::move(machine).value());
      }
      auto principal = directory.authenticate(token, identity::SessionKind::bearer);
      if (!principal.ok()) return principal.take_error();
      return std::optional<identity::Principal>(std::move(principal).value());
    }
    std::string cookie = request.cookie(session_cookie);
    if (!cookie.empty()) {
      auto principal = directory.authenticate(cookie, identity::SessionKind::browser);
      if (!principal.ok()) return principal.take_error();
      return std::optional<identity::Principal>(std::move(principal).value());
    }
    return std::optional<identity::Principal>();
  };
}

void add_identity_routes(Router& router, identity::Directory& directory, bool secure_cookies) {
  router.add({"POST", "/api/v1/session", "public",
              "Log in with user name, password and (for officials, supervisors and operators) a TOTP code. "
              "client \"browser\" (default) sets the session cookie and returns the CSRF token; \"api\" returns a bearer token.",
              "identity",
              [&directory, secure_cookies](const Request& request) -> Result<Response> {
                auto body = request.json_body();
                if (!body.ok()) return body.take_error();
                ONEWINDOW_TRY(only_known_fields(*body, {"username", "password", "totp", "client"}));
                auto username = string_field(*body, "username", true);
                if (!username.ok()) return username.take_error();
                auto password = string_field(*body, "password", true);
                if (!password.ok()) return password.take_error();
                auto totp = string_field(*body, "totp", false);
                if (!totp.ok()) return totp.take_error();
                auto client = string_field(*body, "client", false);
                if (!client.ok()) return client.take_error();
                if (!client->empty() && *client != "browser" && *client != "api") {
                  return Error::invalid("http.bad_field", "client", "client must be browser or api");
                }
                identity::LoginAttempt attempt{*username, *password, *totp, request.client_address,
                                               *client == "api" ? identity::SessionKind::bearer : identity::SessionKind::browser};
                auto login = directory.login(attempt);
                if (!login.ok()) return login.take_error();
                nlohmann::json answer = {{"account", render(login->principal)},
                                         {"expires_at", format_timestamp(login->expires_at)}};
                Response response;
                if (attempt.kind == identity::SessionKind::bearer) {
                  answer["token"] = login->token;
                  answer["token_type"] = "Bearer";
                  response = Response::json(200, answer);
                } else {
                  answer["csrf_token"] = login->principal.csrf_token;
                  response = Response::json(200, answer);
                  response.headers.emplace_back("Set-Cookie",
                                                session_cookie_header(login->token, login->lifetime.count(), secure_cookies));
                }
                return response;
              },
              {{"type", "object"},
               {"required", {"username", "password"}},
               {"properties",
                {{"username", {{"type", "string"}}},
                 {"password", {{"type", "string"}}},
                 {"totp", {{"type", "string"}}},
                 {"client", {{"enum", {"browser", "api"}}}}}}}});

  router.add({"GET", "/api/v1/session", "authenticated",
              "Who is logged in: account, permissions and, for a browser session, its CSRF token.", "identity",
              [](const Request& request) -> Result<Response> {
                nlohmann::json answer = {{"account", render(*request.principal)}};
                if (request.principal->browser_session) answer["csrf_token"] = request.principal->csrf_token;
                return Response::json(200, answer);
              }});

  router.add({"DELETE", "/api/v1/session", "authenticated", "Log out: ends this session or bearer token.", "identity",
              [&directory, secure_cookies](const Request& request) -> Result<Response> {
                ONEWINDOW_TRY(directory.logout(*request.principal));
                Response response = Response::json(200, {{"logged_out", true}});
                response.headers.emplace_back("Set-Cookie", session_cookie_header("", 0, secure_cookies));
                return response;
              }});

  router.add({"DELETE", "/api/v1/sessions", "identity.sessions.own",
              "Log out everywhere: ends every session and bearer token of the caller's account.", "identity",
              [&directory, secure_cookies](const Request& request) -> Result<Response> {
                ONEWINDOW_TRY(directory.logout_everywhere(*request.principal));
                Response response = Response::json(200, {{"logged_out", true}});
                response.headers.emplace_back("Set-Cookie", session_cookie_header("", 0, secure_cookies));
                return response;
              }});

  router.add({"POST", "/api/v1/citizens", "public",
              "A citizen registers with real name and citizen ID number, which must pass its check.", "identity",
              [&directory](const Request& request) -> Result<Response> {
                auto body = request.json_body();
                if (!body.ok()) return body.take_error();
                ONEWINDOW_TRY(only_known_fields(*body, {"username", "password", "display_name", "citizen_id"}));
                identity::NewAccount account;
                account.kind = identity::AccountKind::citizen;
                for (auto [name, target] : {std::pair{"username", &account.username}, std::pair{"password", &account.password},
                                            std::pair{"display_name", &account.display_name},
                                            std::pair{"citizen_id", &account.citizen_id}}) {
                  auto value = string_field(*body, name, true);
                  if (!value.ok()) return value.take_error();
                  *target = *value;
                }
                auto created = directory.create_account(account, nullptr);
                if (!created.ok()) return created.take_error();
                return Response::json(201, {{"account", render(created->account)}});
              }});

  router.add({"POST", "/api/v1/accounts", "identity.accounts.manage",
              "An operator creates an account of any kind; officials, supervisors and operators get a TOTP secret, shown once.",
              "identity",
              [&directory](const Request& request) -> Result<Response> {
                auto body = request.json_body();
                if (!body.ok()) return body.take_error();
                ONEWINDOW_TRY(only_known_fields(*body, {"kind", "username", "password", "display_name", "department_id",
                                                        "roles", "citizen_id", "legal_person", "enterprise_role"}));
                identity::NewAccount account;
                auto kind_text = string_field(*body, "kind", true);
                if (!kind_text.ok()) return kind_text.take_error();
                auto kind = identity::parse_kind(*kind_text);
                if (!kind.ok()) return kind.take_error();
                account.kind = *kind;
                for (auto [name, target, required] :
                     {std::tuple{"username", &account.username, true}, std::tuple{"password", &account.password, true},
                      std::tuple{"display_name", &account.display_name, true},
                      std::tuple{"department_id", &account.department_id, false},
                      std::tuple{"citizen_id", &account.citizen_id, false},
                      std::tuple{"legal_person", &account.legal_person, false},
                      std::tuple{"enterprise_role", &account.enterprise_role, false}}) {
                  auto value = string_field(*body, name, required);
                  if (!value.ok()) return value.take_error();
                  *target = *value;
                }
                auto roles = string_list(*body, "roles");
                if (!roles.ok()) return roles.take_error();
                account.roles = *roles;
                auto created = directory.create_account(account, &*request.principal);
                if (!created.ok()) return created.take_error();
                nlohmann::json answer = {{"account", render(created->account)}};
                if (!created->totp_secret.empty()) {
                  answer["totp_secret"] = created->totp_secret;
                  answer["totp_uri"] = created->totp_uri;
                }
                return Response::json(201, answer);
              }});

  router.add({"GET", "/api/v1/accounts/{id}", "identity.accounts.manage", "One account.", "identity",
              [&directory](const Request& request) -> Result<Response> {
                auto account = directory.account(request.path_parameters.at("id"));
                if (!account.ok()) return account.take_error();
                return Response::json(200, {{"account", render(*account)}});
              }});

  router.add({"PUT", "/api/v1/accounts/{id}/roles", "identity.accounts.manage",
              "Replaces an account's roles (beyond the base role of its kind).", "identity",
              [&directory](const Request& request) -> Result<Response> {
                auto body = request.json_body();
                if (!body.ok()) return body.take_error();
                ONEWINDOW_TRY(only_known_fields(*body, {"roles"}));
                if (!body->contains("roles")) return Error::invalid("http.missing_field", "roles", "roles is required");
                auto roles = string_list(*body, "roles");
                if (!roles.ok()) return roles.take_error();
                ONEWINDOW_TRY(directory.set_roles(request.path_parameters.at("id"), *roles, *request.principal));
                auto account = directory.account(request.path_parameters.at("id"));
                if (!account.ok()) return account.take_error();
                return Response::json(200, {{"account", render(*account)}});
              }});

  router.add({"GET", "/api/v1/departments", "identity.departments.read", "The departments of this node.", "identity",
              [&directory](const Request&) -> Result<Response> {
                auto departments = directory.departments();
                if (!departments.ok()) return departments.take_error();
                nlohmann::json list = nlohmann::json::array();
                for (const auto& department : *departments) list.push_back(render(department));
                return Response::json(200, {{"departments", list}});
              }});

  router.add({"GET", "/api/v1/departments/{department}", "identity.departments.read", "One department.", "identity",
              [&directory](const Request& request) -> Result<Response> {
                auto department = directory.department(request.path_parameters.at("department"));
                if (!department.ok()) return department.take_error();
                return Response::json(200, {{"department", render(*department)}});
              }});

  Route accounts_of_department{"GET", "/api/v1/departments/{department}/accounts", "identity.department_accounts.read",
                               "The officials of one's own department.", "identity",
                               [&directory](const Request& request) -> Result<Response> {
                                 auto accounts = directory.accounts_of_department(request.path_parameters.at("department"));
                                 if (!accounts.ok()) return accounts.take_error();
                                 nlohmann::json list = nlohmann::json::array();
                                 for (const auto& account : *accounts) list.push_back(render(account));
                                 return Response::json(200, {{"accounts", list}});
                               }};
  accounts_of_department.department_parameter = "department";
  router.add(std::move(accounts_of_department));
}

}  // namespace onewindow::api
