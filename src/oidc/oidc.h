// oidc: single sign-on. An OpenID Connect provider (OpenID Connect Core 1.0 over OAuth 2.0,
// RFC 6749) through which other government sites log their users in with their platform account,
// and through which department systems get access tokens of their own.
//
// Contract:
// - Flows: the authorization code flow with PKCE (RFC 7636, S256 only, required of every client)
//   for people, and client credentials for machine clients, each bound to one department. No
//   implicit or hybrid flow, no refresh tokens, no dynamic registration: an operator registers
//   clients (register_client), and config/oidc_clients.yaml registers the platform's own at start.
// - oidc owns the tables oidc_client, oidc_authorization_code, oidc_access_token and
//   oidc_signing_key; nothing else reads them. Accounts and departments are read through
//   identity::Directory only.
// - Secrets: a client secret is shown once, when it is made, and stored as its SM3 digest;
//   authorization codes and access tokens are stored as SM3 digests; the ES256 signing key is made
//   on first use and stored sealed with the SM4 envelope under the key-encryption key. None of
//   them ever reaches a log line, an error message or the transparency log.
// - Tokens are ES256 JWTs signed with the key published at the JWKS endpoint (key id = the RFC 7638
//   thumbprint). ID tokens (typ "JWT") carry aud = the client id; access tokens (typ "at+jwt",
//   RFC 9068) carry aud = the issuer and are also recorded, so that a revoked one is refused (a
//   code used twice revokes the tokens it gave). ID numbers never go into a token: a citizen ID
//   number is released only at userinfo, for the scope "citizen_id", to a client allowed it.
// - Recorded in the transparency log, in the same transaction as the act: client registration
//   and changes, the signing key's creation, every token given to a machine client, every login at
//   a relying party of an official, supervisor or operator, every release of a citizen ID number,
//   and a code presented twice.
// - Errors: protocol errors have the code "oidc.<OAuth error>" (oidc.invalid_request,
//   oidc.invalid_client, oidc.invalid_grant, oidc.unauthorized_client,
//   oidc.unsupported_grant_type, oidc.unsupported_response_type, oidc.invalid_scope,
//   oidc.login_required, oidc.invalid_token, oidc.insufficient_scope); oauth_error() gives the
//   OAuth name. The authorization endpoint's oidc.unknown_client and oidc.redirect_uri_mismatch
//   are shown to the browser, never redirected. verify_id_token and verify_access_token refuse
//   with oidc.token_malformed, oidc.token_signature, oidc.token_issuer, oidc.token_audience,
//   oidc.token_expired, oidc.token_type or oidc.token_revoked (all unauthenticated). Registration
//   errors are oidc.bad_client naming the field, oidc.client_exists (conflict), and config.* for
//   the file; oidc.bad_options for Options; oidc.corrupt (internal) when stored data does not
//   parse; and the store's and crypto's codes for their failures.
// - Provider is safe to use from many threads at once.
#pragma once

#include "audit/audit.h"
#include "base/clock.h"
#include "base/result.h"
#include "crypto/crypto.h"
#include "identity/identity.h"
#include "store/store.h"

#include <nlohmann/json.hpp>

#include <chrono>
#include <filesystem>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace onewindow::oidc {

// Where the endpoints are, below the issuer.
inline constexpr std::string_view discovery_path = "/.well-known/openid-configuration";
inline constexpr std::string_view authorization_path = "/oauth2/authorize";
inline constexpr std::string_view token_path = "/oauth2/token";
inline constexpr std::string_view userinfo_path = "/oauth2/userinfo";
inline constexpr std::string_view jwks_path = "/oauth2/jwks";

inline constexpr std::string_view authorization_code_grant = "authorization_code";
inline constexpr std::string_view client_credentials_grant = "client_credentials";

// The scopes a person grants a relying party: openid (required; sub), profile (name,
// preferred_username) and citizen_id (the citizen ID number, at userinfo only). Machine clients
// have scopes of their own naming (RFC 6749 scope tokens), which never include these.
inline constexpr std::string_view openid_scope = "openid";
inline constexpr std::string_view profile_scope = "profile";
inline constexpr std::string_view citizen_id_scope = "citizen_id";

struct Options {
  // The issuer identifier: "https://host" or "https://host:port", no path, no trailing slash
  // (discovery is served at the root). Plain http is allowed for loopback hosts only (tests and
  // the demo). It is the "iss" of every token, and endpoint URLs are built from it.
  std::string issuer;
  std::chrono::seconds code_lifetime{60};
  std::chrono::seconds access_token_lifetime{10 * 60};
  std::chrono::seconds id_token_lifetime{10 * 60};
  // Where the authorization endpoint sends a browser that is not logged in, with
  // return_to=<the authorization request's path and query>. Empty: it answers 401
  // oidc.login_required instead (until the web UI has a login page).
  std::string login_url;
};

// oidc.bad_options naming the field unless the issuer is as Options says and lifetimes are
// positive. The Provider assumes options that pass.
Status validate_options(const Options& options);

enum class ClientKind {
  confidential,   // has a secret: a server-side site, or a department system
  public_client,  // has none: a site that cannot keep one; PKCE alone protects its codes
};
std::string_view client_kind_name(ClientKind kind);  // "confidential", "public"
Result<ClientKind> parse_client_kind(std::string_view text, std::string_view field = "kind");

struct Client {
  std::string client_id;
  std::string name;
  ClientKind kind = ClientKind::confidential;
  std::vector<std::string> redirect_uris;  // compared exactly, character for character
  std::vector<std::string> grant_types;    // authorization_code, client_credentials
  std::vector<std::string> scopes;         // what it may ask for
  std::string department_id;               // a machine client's department; empty otherwise
  std::string source;                      // "api" or "config"
  std::string created_by;                  // account id, or "system" for the configuration
  std::string created_at;
  std::string updated_at;
};

struct NewClient {
  std::string client_id;  // empty: one is made ("client_...")
  std::string name;
  ClientKind kind = ClientKind::confidential;
  std::vector<std::string> redirect_uris;  // required with authorization_code; https, or http on loopback
  std::vector<std::string> grant_types;    // empty: authorization_code
  std::vector<std::string> scopes;         // empty: openid and profile for authorization_code
  // Required with client_credentials (only confidential clients may have it): the department
  // whose system this is; its tokens carry department_id.
  std::string department_id;
  // Confidential clients only. Empty: a secret is made and returned once. Given (for clients
  // from the configuration, whose secret is in the environment): at least 32 characters.
  std::string secret;
};

struct RegisteredClient {
  Client client;
  // The secret when one was made now: shown this once, never stored. Empty otherwise.
  std::string secret;
};

// config/oidc_clients.yaml, read and checked (shape, names, URIs) at load; errors name the file,
// the line and the field.
struct ConfiguredClient {
  NewClient client;         // department_id is left empty: department names it
  std::string department;   // a department key of config/departments.yaml ("market")
  std::string secret_environment_variable;  // where the secret is; empty or unset: one is made
  int line = 0;
};
struct ClientConfiguration {
  std::string file;
  std::vector<ConfiguredClient> clients;
  static Result<ClientConfiguration> load(const std::filesystem::path& file);
  static Result<ClientConfiguration> parse(std::string_view text, std::string_view file);
};

// What the token endpoint is given: the Content-Type and Authorization headers and the body.
struct TokenRequest {
  std::string content_type;
  std::string authorization;
  std::string body;
};

// A token that verified, with its header and claims.
struct VerifiedToken {
  nlohmann::json header;
  nlohmann::json claims;
  std::string subject;    // sub: an account id, or a machine client's id
  std::string client_id;  // the client it was given to
  std::chrono::system_clock::time_point expires_at;
};

// The OAuth 2.0 name of a protocol error ("invalid_grant" for oidc.invalid_grant), or
// "server_error" for any other error (a database failure, say).
std::string oauth_error(const Error& error);

class Provider {
 public:
  // The provider keeps references to database, log, directory and clock; they must outlive it.
  // key_encryption seals the signing key at rest.
  Provider(store::Database& database, audit::TransparencyLog& log, identity::Directory& directory,
           crypto::Sm4Envelope key_encryption, const Clock& clock, Options options);
  ~Provider();
  Provider(const Provider&) = delete;
  Provider& operator=(const Provider&) = delete;

  // The tables (module "oidc"), for Database::migrate.
  static std::vector<store::Migration> migrations();
  const Options& options() const { return options_; }

  // ---- Clients ----

  // An operator registers a client; `by` is recorded as the actor. oidc.client_exists when the
  // id is taken.
  Result<RegisteredClient> register_client(const NewClient& client, const identity::Principal& by);
  // The clients of the configuration: adds those missing and brings changed ones up to date
  // (name, URIs, grants, scopes, department, and the secret when its environment variable holds
  // a new one). environment looks up a variable by name (the program passes getenv). The answer
  // lists every configured client; a secret is in it only when one was made now, to be shown once.
  Result<std::vector<RegisteredClient>> register_configured_clients(
      const ClientConfiguration& configuration, const std::function<const char*(const char*)>& environment);
  Result<std::vector<Client>> clients() const;
  // oidc.unknown_client (not_found) when there is none.
  Result<Client> client(std::string_view client_id) const;

  // ---- The protocol ----

  // The discovery document (OpenID Connect Discovery 1.0 section 3).
  nlohmann::json discovery() const;
  // The JSON Web Key Set with every key that signs or signed unexpired tokens; makes the signing
  // key on first use.
  Result<nlohmann::json> jwks();

  // The authorization endpoint, given the request's query parameters and the person logged in
  // through the platform's browser session (nullptr when nobody is). Answers the URL to
  // redirect the browser to: the client's redirect URI with code, state and iss, or with error
  // (RFC 6749 section 4.1.2.1) once the client and redirect URI are known good; or the login URL.
  // Errors that must not be redirected (client_id or redirect_uri missing, unknown client,
  // redirect URI not registered) and oidc.login_required (no login URL in the options) come back
  // as errors.
  Result<std::string> authorize(const std::map<std::string, std::string>& query, const identity::Principal* person);

  // The token endpoint: grant_type authorization_code or client_credentials. The answer is the
  // RFC 6749 section 5.1 JSON (access_token, token_type, expires_in, scope, and id_token for
  // authorization_code); errors are protocol errors (see oauth_error).
  Result<nlohmann::json> token(const TokenRequest& request);

  // The userinfo endpoint, given the bearer access token: sub, and the claims its scopes allow.
  // oidc.invalid_token (unauthenticated) or oidc.insufficient_scope (permission_denied).
  Result<nlohmann::json> userinfo(std::string_view access_token);

  // Checks an ID token as a relying party must (OpenID Connect Core 3.1.3.7): one JWS signed
  // ES256 with a key of this provider, typ not at+jwt, iss this issuer, aud holding client_id,
  // not expired (exp after now), not issued in the future. Then the claims are trustworthy.
  Result<VerifiedToken> verify_id_token(std::string_view token, std::string_view client_id);
  // Checks an access token (RFC 9068): signature, typ at+jwt, iss, aud this issuer, exp, and that
  // it was given by this provider and not revoked.
  Result<VerifiedToken> verify_access_token(std::string_view token);

 private:
  using Form = std::map<std::string, std::string>;
  Result<crypto::P256PrivateKey> signing_key();
  Result<crypto::P256PublicKey> verification_key(std::string_view key_id);
  // A compact JWS of the claims, with typ and the signing key's kid in the header.
  Result<std::string> sign(std::string_view type, const nlohmann::json& claims);
  Result<VerifiedToken> verify(std::string_view token, bool access_token, std::string_view audience);
  Result<Client> authenticate_client(const TokenRequest& request, const Form& form);
  Result<nlohmann::json> redeem_code(const Form& form, const Client& client);
  Result<nlohmann::json> client_credentials(const Form& form, const Client& client);
  // Defaults applied and every field checked, the department included.
  Result<NewClient> checked(const NewClient& client) const;

  store::Database& database_;
  audit::TransparencyLog& log_;
  identity::Directory& directory_;
  crypto::Sm4Envelope key_encryption_;
  const Clock& clock_;
  Options options_;

  std::mutex keys_mutex_;  // guards the two caches below
  std::optional<crypto::P256PrivateKey> signing_key_;
  std::map<std::string, crypto::P256PublicKey, std::less<>> verification_keys_;  // by key id
};

}  // namespace onewindow::oidc
