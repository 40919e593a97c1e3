// Single sign-on routes: the OpenID Connect endpoints and client registration.
//
// The protocol endpoints are "public" for the router: their callers prove who they are the
// protocol's way (the browser session at authorize, client authentication at token, the access
// token at userinfo). The token and userinfo endpoints answer errors in OAuth's own JSON form
// ({"error", "error_description"}, RFC 6749 section 5.2 and RFC 6750 section 3), not the
// platform's envelope, because relying-party libraries read that form.
#include "api/api.h"

#include "oidc/oidc.h"

#include <algorithm>
#include <cctype>

namespace onewindow::api {

namespace {

// RFC 6749 allows only %x20-21 / %x23-5B / %x5D-7E in error_description.
std::string description_text(std::string_view message) {
  std::string text;
  for (char c : message) text += (c >= 0x20 && c <= 0x7e && c != '"' && c != '\\') ? c : '?';
  return text;
}

void forbid_caching(Response& response) {
  response.headers.emplace_back("Cache-Control", "no-store");
  response.headers.emplace_back("Pragma", "no-cache");
}

Response oauth_error_response(const Error& error) {
  std::string name = oidc::oauth_error(error);
  int status = name == "invalid_client" || name == "invalid_token" ? 401
               : name == "insufficient_scope"                      ? 403
               : name == "server_error"                            ? status_for(error.kind)
                                                                   : 400;
  if (status < 500 && name == "server_error") status = 500;
  nlohmann::json body = {{"error", name}};
  // A database failure's message is for the log, not for another site.
  body["error_description"] = name == "server_error" ? "the server failed; try again later" : description_text(error.message);
  Response response = Response::json(status, body);
  forbid_caching(response);
  return response;
}

Response redirect(const std::string& location) {
  Response response;
  response.status = 302;
  response.content_type = "text/plain; charset=utf-8";
  response.headers.emplace_back("Location", location);
  forbid_caching(response);
  return response;
}



nlohmann::json render(const oidc::Client& client) {
  return {{"client_id", client.client_id},
          {"name", client.name},
          {"kind", oidc::client_kind_name(client.kind)},
          {"redirect_uris", client.redirect_uris},
          {"grant_types", client.grant_types},
          {"scopes", client.scopes},
          {"department_id", client.department_id},
          {"source", client.source},
          {"created_by", client.created_by},
          {"created_at", client.created_at},
          {"updated_at", client.updated_at}};
}

// What an operator gives to register a client; a registered client has these and more.
const nlohmann::json new_client_properties = {
    {"client_id", {{"type", "string"}}},
    {"name", {{"type", "string"}}},
    {"kind", {{"enum", {"confidential", "public"}}}},
    {"redirect_uris", {{"type", "array"}, {"items", {{"type", "string"}}}}},
    {"grant_types", {{"type", "array"}, {"items", {{"enum", {"authorization_code", "client_credentials"}}}}}},
    {"scopes", {{"type", "array"}, {"items", {{"type", "string"}}}}},
    {"department_id", {{"type", "string"}}}};

const nlohmann::json client_schema = [] {
  nlohmann::json properties = new_client_properties;
  properties["source"] = {{"enum", {"api", "config"}}};
  properties["created_by"] = {{"type", "string"}};
  properties["created_at"] = {{"type", "string"}};
  properties["updated_at"] = {{"type", "string"}};
  return nlohmann::json{{"type", "object"}, {"properties", properties}};
}();

// The access token of "Authorization: Bearer <token>", or empty.
std::string bearer_token(const Request& request) {
  std::string authorization = request.header("authorization");
  if (authorization.size() <= 7) return {};
  std::string scheme = authorization.substr(0, 7);
  for (char& c : scheme) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return scheme == "bearer " ? authorization.substr(7) : std::string();
}

Response userinfo_response(oidc::Provider& provider, const Request& request) {
  std::string token = bearer_token(request);
  if (token.empty()) {
    // RFC 6750 section 3.1: no credentials, no error code, just the challenge.
    Response response = Response::json(401, {{"error", "invalid_token"},
                                             {"error_description", "send the access token as Authorization: Bearer"}});
    response.headers.emplace_back("WWW-Authenticate", "Bearer realm=\"onewindow\"");
    forbid_caching(response);
    return response;
  }
  auto claims = provider.userinfo(token);
  if (!claims.ok()) {
    Response response = oauth_error_response(claims.error());
    std::string name = oidc::oauth_error(claims.error());
    if (name == "invalid_token" || name == "insufficient_scope") {
      std::string challenge = "Bearer realm=\"onewindow\", error=\"" + name + "\", error_description=\"" +
                              description_text(claims.error().message) + "\"";
      if (name == "insufficient_scope") challenge += ", scope=\"openid\"";
      response.headers.emplace_back("WWW-Authenticate", challenge);
    }
    return response;
  }
  Response response = Response::json(200, *claims);
  forbid_caching(response);
  return response;
}

}  // namespace

void add_oidc_routes(Router& router, oidc::Provider& provider, identity::Directory& /*directory*/) {
  router.add({"GET", std::string(oidc::discovery_path), "public",
              "OpenID Connect discovery: the provider's issuer, endpoints and what it supports.", "oidc",
              [&provider](const Request&) -> Result<Response> {
                Response response = Response::json(200, provider.discovery());
                response.headers.emplace_back("Cache-Control", "public, max-age=300");
                return response;
              }});

  router.add({"GET", std::string(oidc::jwks_path), "public",
              "The provider's public signing keys (JWKS): ES256, key id = RFC 7638 thumbprint.", "oidc",
              [&provider](const Request&) -> Result<Response> {
                auto keys = provider.jwks();
                if (!keys.ok()) return keys.take_error();
                Response response = Response::json(200, *keys);
                response.content_type = "application/jwk-set+json";
                response.headers.emplace_back("Cache-Control", "public, max-age=300");
                return response;
              }});

  router.add({"GET", std::string(oidc::authorization_path), "public",
              "Authorization endpoint (code flow with PKCE S256). Needs the platform's browser session; redirects "
              "to the client's registered redirect URI with code and state, or with error. An unknown client or "
              "redirect URI is shown as an error here, never redirected.",
              "oidc",
              [&provider](const Request& request) -> Result<Response> {
                auto location = provider.authorize(request.query, request.principal ? &*request.principal : nullptr);
                if (!location.ok()) return location.take_error();
                return redirect(*location);
              }});

  router.add({"POST", std::string(oidc::token_path), "public",
              "Token endpoint (application/x-www-form-urlencoded): grant_type authorization_code (with "
              "code_verifier) or client_credentials; client_secret_basic, client_secret_post or none (public "
              "clients). Errors in the OAuth form {error, error_description}.",
              "oidc",
              [&provider](const Request& request) -> Result<Response> {
                oidc::TokenRequest token_request{request.header("content-type"), request.header("authorization"),
                                                 request.body};
                auto answer = provider.token(token_request);
                if (!answer.ok()) {
                  Response response = oauth_error_response(answer.error());
                  // RFC 6749 section 5.2: a client that tried Basic gets the Basic challenge.
                  std::string scheme = token_request.authorization.substr(0, 6);
                  for (char& c : scheme) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
                  if (response.status == 401 && scheme == "basic ") {
                    response.headers.emplace_back("WWW-Authenticate", "Basic realm=\"onewindow\"");
                  }
                  return response;
                }
                Response response = Response::json(200, *answer);
                forbid_caching(response);
                return response;
              },
              nullptr,
              {{"type", "object"},
               {"required", {"access_token", "token_type", "expires_in"}},
               {"properties",
                {{"access_token", {{"type", "string"}}},
                 {"token_type", {{"const", "Bearer"}}},
                 {"expires_in", {{"type", "integer"}}},
                 {"scope", {{"type", "string"}}},
                 {"id_token", {{"type", "string"}}}}}}});

  for (const char* method : {"GET", "POST"}) {
    router.add({method, std::string(oidc::userinfo_path), "public",
                "Userinfo: the claims of the person whose access token is sent as Authorization: Bearer (sub; name "
                "and preferred_username for scope profile; citizen_id only for scope citizen_id).",
                "oidc",
                [&provider](const Request& request) -> Result<Response> { return userinfo_response(provider, request); }});
  }

  router.add({"POST", "/api/v1/oidc/clients", "identity.accounts.manage",
              "Registers a relying party or a machine client; a confidential client's secret is in the answer, once.",
              "oidc",
              [&provider](const Request& request) -> Result<Response> {
                auto body = request.json_body();
                if (!body.ok()) return body.take_error();
                for (const auto& [key, value] : body->items()) {
                  static const std::vector<std::string> known = {"client_id", "name", "kind", "redirect_uris",
                                                                 "grant_types", "scopes", "department_id"};
                  if (std::find(known.begin(), known.end(), key) == known.end()) {
                    return Error::invalid("http.unknown_field", key, "unknown field " + key);
                  }
                }
                oidc::NewClient client;
                for (auto [name, target, required] : {std::tuple{"client_id", &client.client_id, false},
                                                      std::tuple{"name", &client.name, true},
                                                      std::tuple{"department_id", &client.department_id, false}}) {
                  auto value = string_field(*body, name, required);
                  if (!value.ok()) return value.take_error();
                  *target = *value;
                }
                auto kind = string_field(*body, "kind", false);
                if (!kind.ok()) return kind.take_error();
                if (!kind->empty()) {
                  auto parsed = oidc::parse_client_kind(*kind);
                  if (!parsed.ok()) return parsed.take_error();
                  client.kind = *parsed;
                }
                for (auto [name, target] : {std::pair{"redirect_uris", &client.redirect_uris},
                                            std::pair{"grant_types", &client.grant_types},
                                            std::pair{"scopes", &client.scopes}}) {
                  auto values = string_list(*body, name);
                  if (!values.ok()) return values.take_error();
                  *target = *values;
                }
                auto registered = provider.register_client(client, *request.principal);
                if (!registered.ok()) return registered.take_error();
                nlohmann::json answer = {{"client", render(registered->client)}};
                if (!registered->secret.empty()) answer["client_secret"] = registered->secret;
                Response response = Response::json(201, answer);
                forbid_caching(response);
                return response;
              },
              {{"type", "object"}, {"required", {"name"}}, {"properties", new_client_properties}},
              {{"type", "object"},
               {"properties", {{"client", client_schema}, {"client_secret", {{"type", "string"}}}}}}});

  router.add({"GET", "/api/v1/oidc/clients", "identity.accounts.manage",
              "The registered clients (never their secrets).", "oidc",
              [&provider](const Request&) -> Result<Response> {
                auto clients = provider.clients();
                if (!clients.ok()) return clients.take_error();
                nlohmann::json list = nlohmann::json::array();
                for (const auto& client : *clients) list.push_back(render(client));
                return Response::json(200, {{"clients", list}});
              },
              nullptr,
              {{"type", "object"}, {"properties", {{"clients", {{"type", "array"}, {"items", client_schema}}}}}}});
}

}  // namespace onewindow::api
