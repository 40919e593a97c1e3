// The protocol's endpoints: authorization (code with PKCE), token (authorization_code and
// client_credentials), userinfo.
#include "oidc/internal.h"

#include <charconv>

#include "base/identifiers.h"

#include <algorithm>
#include <cctype>

namespace onewindow::oidc {

namespace {

constexpr std::size_t code_bytes = 32;
constexpr std::size_t longest_state = 1024;
constexpr std::size_t longest_nonce = 512;

std::string parameter(const std::map<std::string, std::string>& parameters, const char* name) {
  auto found = parameters.find(name);
  return found == parameters.end() ? std::string() : found->second;
}

// RFC 7636 section 4.2: BASE64URL(SHA256(verifier)) is always 43 characters.
bool challenge_well_formed(std::string_view challenge) {
  return challenge.size() == 43 && crypto::base64url_decode(challenge).ok();
}

// RFC 7636 section 4.1: 43 to 128 characters of ALPHA / DIGIT / "-" / "." / "_" / "~".
bool verifier_well_formed(std::string_view verifier) {
  return verifier.size() >= 43 && verifier.size() <= 128 &&
         std::all_of(verifier.begin(), verifier.end(), [](char c) {
           return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '.' || c == '_' || c == '~';
         });
}

std::string lower_case(std::string_view text) {
  std::string lowered(text);
  for (char& c : lowered) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return lowered;
}

std::string_view trimmed(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.remove_suffix(1);
  return text;
}

bool privileged(identity::AccountKind kind) {
  return kind == identity::AccountKind::official || kind == identity::AccountKind::supervisor ||
         kind == identity::AccountKind::platform_operator;
}

std::string client_actor(std::string_view client_id) { return "oidc_client:" + std::string(client_id); }

// A code presented again: RFC 6749 section 4.1.2 asks that the tokens it gave be revoked.
Status revoke_tokens_of_code(store::Session& session, audit::TransparencyLog& log, const std::string& code_digest,
                             const std::string& client_id, const std::string& account_id, const std::string& now) {
  auto revoked = session.execute(
      "UPDATE oidc_access_token SET revoked_at = $2 WHERE code_digest = $1 AND revoked_at IS NULL", {code_digest, now});
  if (!revoked.ok()) return revoked.take_error();
  auto recorded = log.record(session, {client_actor(client_id), "", "oidc.code_reused", "account", account_id, "",
                                       {{"client_id", client_id}, {"tokens_revoked", *revoked}}});
  if (!recorded.ok()) return recorded.take_error();
  return ok_status();
}

}  // namespace

// ---- Authorization endpoint -------------------------------------------------------------------

Result<std::string> Provider::authorize(const std::map<std::string, std::string>& query,
                                        const identity::Principal* person) {
  std::string client_id = parameter(query, "client_id");
  if (client_id.empty()) return Error::invalid("oidc.invalid_request", "client_id", "client_id is required");
  auto client = this->client(client_id);
  if (!client.ok()) {
    if (client.error().kind != ErrorKind::not_found) return client.take_error();
    return Error::invalid("oidc.unknown_client", "client_id", "there is no client " + client_id + " registered here");
  }
  std::string redirect_uri = parameter(query, "redirect_uri");
  if (redirect_uri.empty()) return Error::invalid("oidc.invalid_request", "redirect_uri", "redirect_uri is required");
  // Exactly as registered, character for character: anything looser lets a code leak elsewhere.
  if (!contains(client->redirect_uris, redirect_uri)) {
    return Error::invalid("oidc.redirect_uri_mismatch", "redirect_uri",
                          "the redirect URI is not one registered for client " + client_id);
  }

  // From here the redirect URI is known good, and errors go back to the client (RFC 6749
  // section 4.1.2.1), with iss (RFC 9207).
  std::string state = parameter(query, "state");
  if (state.size() > longest_state) state.clear();
  auto refuse = [&](std::string_view error, std::string description) -> Result<std::string> {
    std::vector<std::pair<std::string, std::string>> answer = {{"error", std::string(error)},
                                                               {"error_description", std::move(description)}};
    if (!state.empty()) answer.emplace_back("state", state);
    answer.emplace_back("iss", options_.issuer);
    return with_query(redirect_uri, answer);
  };
  if (parameter(query, "state").size() > longest_state) return refuse("invalid_request", "state is longer than 1024 characters");
  if (query.count("request")) return refuse("request_not_supported", "request objects are not supported");
  if (query.count("request_uri")) return refuse("request_uri_not_supported", "request_uri is not supported");
  std::string response_type = parameter(query, "response_type");
  if (response_type.empty()) return refuse("invalid_request", "response_type is required");
  if (response_type != "code") return refuse("unsupported_response_type", "only response_type code is supported");
  std::string response_mode = parameter(query, "response_mode");
  if (!response_mode.empty() && response_mode != "query") return refuse("invalid_request", "only response_mode query is supported");
  if (!contains(client->grant_types, authorization_code_grant)) {
    return refuse("unauthorized_client", "this client may not use the authorization code flow");
  }
  std::vector<std::string> scopes = split_scope(parameter(query, "scope"));
  if (!contains(scopes, openid_scope)) return refuse("invalid_scope", "scope must include openid");
  for (const auto& scope : scopes) {
    if (!contains(client->scopes, scope)) return refuse("invalid_scope", "this client may not ask for the scope " + scope);
  }
  std::string challenge = parameter(query, "code_challenge");
  std::string method = parameter(query, "code_challenge_method");
  if (challenge.empty()) return refuse("invalid_request", "PKCE is required: send code_challenge with code_challenge_method S256");
  if (method != "S256") return refuse("invalid_request", "code_challenge_method must be S256 (plain is not accepted)");
  if (!challenge_well_formed(challenge)) return refuse("invalid_request", "code_challenge must be 43 characters of base64url");
  std::string nonce = parameter(query, "nonce");
  if (nonce.size() > longest_nonce) return refuse("invalid_request", "nonce is longer than 512 characters");
  std::vector<std::string> prompt = split_scope(parameter(query, "prompt"));
  if (contains(prompt, "none") && prompt.size() > 1) return refuse("invalid_request", "prompt none goes alone");
  std::optional<std::int64_t> max_age;
  if (query.count("max_age")) {
    std::string text = parameter(query, "max_age");
    std::int64_t seconds = 0;
    auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), seconds);
    if (text.empty() || error != std::errc() || end != text.data() + text.size() || seconds < 0) {
      return refuse("invalid_request", "max_age must be a whole number of seconds");
    }
    max_age = seconds;
  }
  // Without a login page of its own yet, the platform cannot ask for a fresh login.
  if (contains(prompt, "login")) return refuse("login_required", "the platform cannot ask for a fresh login yet");
  if (contains(prompt, "consent")) return refuse("consent_required", "the platform has no consent page yet");

  // Only the platform's own browser session logs a person in here, not an API bearer token.
  bool logged_in = person != nullptr && person->browser_session;
  if (!logged_in) {
    if (contains(prompt, "none")) return refuse("login_required", "nobody is logged in to the platform");
    if (!options_.login_url.empty()) {
      std::vector<std::pair<std::string, std::string>> original(query.begin(), query.end());
      return with_query(options_.login_url, {{"return_to", with_query(authorization_path, original)}});
    }
    return Error(ErrorKind::unauthenticated, "oidc.login_required",
                 "log in to the platform first (POST /api/v1/session), then come back to this address");
  }

  const auto now = clock_.now();
  // OpenID Connect Core 3.1.2.1: a login older than max_age must be made again.
  if (max_age && now - person->authenticated_at > std::chrono::seconds(*max_age)) {
    return refuse("login_required", "the login is older than max_age: log in to the platform again");
  }
  auto code = random_token(code_bytes);
  if (!code.ok()) return code.take_error();
  const std::string now_text = format_timestamp(now);
  Status stored = database_.write([&](store::Session& session) -> Status {
    // Spent codes are kept while the tokens they gave may live, to catch a replay; then dropped.
    auto dropped = session.execute("DELETE FROM oidc_authorization_code WHERE expires_at < $1",
                                   {format_timestamp(now - options_.access_token_lifetime)});
    if (!dropped.ok()) return dropped.take_error();
    auto expired = session.execute("DELETE FROM oidc_access_token WHERE expires_at < $1", {now_text});
    if (!expired.ok()) return expired.take_error();
    auto inserted = session.execute(
        "INSERT INTO oidc_authorization_code (code_digest, client_id, account_id, redirect_uri, code_challenge, nonce, "
        "scope, auth_time, created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        {secret_digest(*code), client_id, person->account_id, redirect_uri, challenge,
         nonce.empty() ? store::Value{} : store::Value{nonce}, join_scope(scopes),
         seconds_since_epoch(person->authenticated_at), now_text,
         format_timestamp(now + options_.code_lifetime)});
    if (!inserted.ok()) return inserted.take_error();
    return ok_status();
  });
  if (!stored.ok()) return stored.take_error();
  std::vector<std::pair<std::string, std::string>> answer = {{"code", *code}};
  if (!state.empty()) answer.emplace_back("state", state);
  answer.emplace_back("iss", options_.issuer);
  return with_query(redirect_uri, answer);
}

// ---- Token endpoint ---------------------------------------------------------------------------

Result<nlohmann::json> Provider::token(const TokenRequest& request) {
  std::string_view content_type = request.content_type;
  content_type = trimmed(content_type.substr(0, content_type.find(';')));
  if (lower_case(content_type) != "application/x-www-form-urlencoded") {
    return protocol_error("invalid_request", "the token request must be application/x-www-form-urlencoded");
  }
  auto form = parse_form(request.body);
  if (!form.ok()) return form.take_error();
  std::string grant_type = parameter(*form, "grant_type");
  if (grant_type.empty()) return protocol_error("invalid_request", "grant_type is required");
  auto client = authenticate_client(request, *form);
  if (!client.ok()) return client.take_error();
  if (grant_type != authorization_code_grant && grant_type != client_credentials_grant) {
    return protocol_error("unsupported_grant_type", "grant_type must be authorization_code or client_credentials");
  }
  if (!contains(client->grant_types, grant_type)) {
    return protocol_error("unauthorized_client", "this client may not use the grant " + grant_type);
  }
  if (grant_type == authorization_code_grant) return redeem_code(*form, *client);
  return client_credentials(*form, *client);
}

Result<Client> Provider::authenticate_client(const TokenRequest& request, const Form& form) {
  std::string client_id;
  std::string secret;
  bool basic = false;
  std::string_view authorization = trimmed(request.authorization);
  if (lower_case(authorization.substr(0, 6)) == "basic ") {
    basic = true;
    // RFC 6749 section 2.3.1: base64 of form-encoded id ":" form-encoded secret.
    std::string encoded(trimmed(authorization.substr(6)));
    while (!encoded.empty() && encoded.back() == '=') encoded.pop_back();
    std::replace(encoded.begin(), encoded.end(), '+', '-');
    std::replace(encoded.begin(), encoded.end(), '/', '_');
    auto decoded = crypto::base64url_decode(encoded);
    std::string pair = decoded.ok() ? std::string(decoded->begin(), decoded->end()) : std::string();
    auto colon = pair.find(':');
    auto id = form_decode(std::string_view(pair).substr(0, colon));
    auto password = form_decode(colon == std::string::npos ? std::string_view() : std::string_view(pair).substr(colon + 1));
    if (!decoded.ok() || colon == std::string::npos || !id || !password) {
      return protocol_error("invalid_client", "the Basic credentials are malformed");
    }
    client_id = *id;
    secret = *password;
  }
  bool posted = form.count("client_secret") > 0;
  if (basic && posted) return protocol_error("invalid_request", "use one way of client authentication, not two");
  std::string form_client_id = parameter(form, "client_id");
  if (basic) {
    if (!form_client_id.empty() && form_client_id != client_id) {
      return protocol_error("invalid_request", "client_id differs from the one in the Basic credentials");
    }
  } else {
    client_id = form_client_id;
    secret = parameter(form, "client_secret");
  }
  if (client_id.empty()) return protocol_error("invalid_client", "client authentication is required");

  struct Stored {
    Client client;
    std::string digest;
  };
  auto stored = database_.read_value<std::optional<Stored>>([&](store::Session& session) -> Result<std::optional<Stored>> {
    auto row = session.query_one("SELECT " + std::string(client_columns) + ", COALESCE(secret_digest, '') FROM oidc_client "
                                 "WHERE client_id = $1",
                                 {client_id});
    if (!row.ok()) return row.take_error();
    if (!row->has_value()) return std::optional<Stored>();
    auto client = client_from(**row);
    if (!client.ok()) return client.take_error();
    return std::optional<Stored>(Stored{std::move(client).value(), (*row)->text(11)});
  });
  if (!stored.ok()) return stored.take_error();
  // One answer for an unknown client and a wrong secret.
  auto refused = [] { return protocol_error("invalid_client", "the client is unknown or its secret is wrong"); };
  if (!stored->has_value()) return refused();
  Stored& found = **stored;
  if (found.client.kind == ClientKind::public_client) {
    if (basic || posted) return protocol_error("invalid_client", "a public client has no secret to send");
    return found.client;
  }
  if (secret.empty()) {
    return protocol_error("invalid_client", "this client authenticates with its secret (client_secret_basic or client_secret_post)");
  }
  auto expected = crypto::from_hex(found.digest);
  crypto::Sm3Digest given = crypto::sm3(secret);
  if (!expected.ok() || !crypto::constant_time_equal(*expected, given)) return refused();
  return found.client;
}

Result<nlohmann::json> Provider::redeem_code(const Form& form, const Client& client) {
  std::string code = parameter(form, "code");
  std::string redirect_uri = parameter(form, "redirect_uri");
  std::string verifier = parameter(form, "code_verifier");
  if (code.empty()) return protocol_error("invalid_request", "code is required");
  if (redirect_uri.empty()) return protocol_error("invalid_request", "redirect_uri is required");
  if (verifier.empty()) return protocol_error("invalid_request", "code_verifier is required (PKCE)");
  const std::string digest = secret_digest(code);

  struct Stored {
    std::string client_id, account_id, redirect_uri, challenge, nonce, scope, expires_at;
    std::int64_t auth_time = 0;
    bool used = false;
  };
  auto stored = database_.read_value<std::optional<Stored>>([&](store::Session& session) -> Result<std::optional<Stored>> {
    auto row = session.query_one(
        "SELECT client_id, account_id, redirect_uri, code_challenge, COALESCE(nonce, ''), scope, expires_at, auth_time, "
        "used FROM oidc_authorization_code WHERE code_digest = $1",
        {digest});
    if (!row.ok()) return row.take_error();
    if (!row->has_value()) return std::optional<Stored>();
    const store::Row& found = **row;
    return std::optional<Stored>(Stored{found.text(0), found.text(1), found.text(2), found.text(3), found.text(4),
                                        found.text(5), found.text(6), found.integer(7), found.integer(8) != 0});
  });
  if (!stored.ok()) return stored.take_error();
  if (!stored->has_value()) return protocol_error("invalid_grant", "the code is unknown or has expired");
  const Stored& grant = **stored;
  if (grant.client_id != client.client_id) return protocol_error("invalid_grant", "the code was given to another client");
  const auto now = clock_.now();
  const std::string now_text = format_timestamp(now);
  auto reused = [&] {
    return protocol_error("invalid_grant", "the code was used before; the tokens given for it are revoked");
  };
  if (grant.used) {
    ONEWINDOW_TRY(database_.write([&](store::Session& session) {
      return revoke_tokens_of_code(session, log_, digest, client.client_id, grant.account_id, now_text);
    }));
    return reused();
  }

  // Every check that needs no writing first; the code is spent whatever their outcome.
  std::optional<Error> refusal;
  if (now_text >= grant.expires_at) {
    refusal = protocol_error("invalid_grant", "the code has expired");
  } else if (redirect_uri != grant.redirect_uri) {
    refusal = protocol_error("invalid_grant", "redirect_uri differs from the one of the authorization request");
  } else if (!verifier_well_formed(verifier) ||
             !crypto::constant_time_equal(crypto::as_bytes(crypto::base64url_encode(crypto::sha256(verifier))),
                                          crypto::as_bytes(grant.challenge))) {
    refusal = protocol_error("invalid_grant", "code_verifier does not match the code_challenge (PKCE)");
  }
  std::optional<identity::Account> account;
  if (!refusal) {
    auto found = directory_.account(grant.account_id);
    if (!found.ok() && found.error().kind != ErrorKind::not_found) return found.take_error();
    if (!found.ok() || found->disabled) refusal = protocol_error("invalid_grant", "the account is gone or disabled");
    else account = std::move(found).value();
  }

  std::vector<std::string> scopes = split_scope(grant.scope);
  std::string access_token, id_token, token_id = new_id("tok");
  const std::int64_t issued = seconds_since_epoch(now);
  if (!refusal) {
    nlohmann::json access_claims = {{"iss", options_.issuer},
                                    {"sub", account->id},
                                    {"aud", options_.issuer},
                                    {"client_id", client.client_id},
                                    {"scope", grant.scope},
                                    {"iat", issued},
                                    {"exp", issued + options_.access_token_lifetime.count()},
                                    {"jti", token_id}};
    auto signed_access = sign("at+jwt", access_claims);
    if (!signed_access.ok()) return signed_access.take_error();
    access_token = std::move(signed_access).value();
    nlohmann::json id_claims = {{"iss", options_.issuer},
                                {"sub", account->id},
                                {"aud", client.client_id},
                                {"iat", issued},
                                {"exp", issued + options_.id_token_lifetime.count()},
                                {"auth_time", grant.auth_time}};
    if (!grant.nonce.empty()) id_claims["nonce"] = grant.nonce;
    if (contains(scopes, profile_scope)) id_claims["name"] = account->display_name;
    auto signed_id = sign("JWT", id_claims);
    if (!signed_id.ok()) return signed_id.take_error();
    id_token = std::move(signed_id).value();
  }

  enum class Outcome { issued, refused, reused };
  auto outcome = database_.write_value<Outcome>([&](store::Session& session) -> Result<Outcome> {
    auto spent = session.execute(
        "UPDATE oidc_authorization_code SET used = 1, used_at = $2 WHERE code_digest = $1 AND used = 0", {digest, now_text});
    if (!spent.ok()) return spent.take_error();
    if (*spent == 0) {  // another request spent it a moment ago
      ONEWINDOW_TRY(revoke_tokens_of_code(session, log_, digest, client.client_id, grant.account_id, now_text));
      return Outcome::reused;
    }
    if (refusal) return Outcome::refused;
    auto inserted = session.execute(
        "INSERT INTO oidc_access_token (token_digest, token_id, client_id, account_id, scope, code_digest, created_at, "
        "expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        {secret_digest(access_token), token_id, client.client_id, account->id, grant.scope, digest, now_text,
         format_timestamp(now + options_.access_token_lifetime)});
    if (!inserted.ok()) return inserted.take_error();
    // Privileged accounts' logins are recorded wherever they happen, as identity does for its own.
    if (privileged(account->kind)) {
      auto recorded = log_.record(session, {account->id, "", "oidc.login", "oidc_client", client.client_id, "",
                                            {{"scope", grant.scope}, {"token_id", token_id}}});
      if (!recorded.ok()) return recorded.take_error();
    }
    return Outcome::issued;
  });
  if (!outcome.ok()) return outcome.take_error();
  if (*outcome == Outcome::reused) return reused();
  if (*outcome == Outcome::refused) return *refusal;
  return nlohmann::json{{"access_token", access_token},
                        {"token_type", "Bearer"},
                        {"expires_in", options_.access_token_lifetime.count()},
                        {"scope", grant.scope},
                        {"id_token", id_token}};
}

Result<nlohmann::json> Provider::client_credentials(const Form& form, const Client& client) {
  std::vector<std::string> scopes = split_scope(parameter(form, "scope"));
  if (scopes.empty()) scopes = client.scopes;
  for (const auto& scope : scopes) {
    if (is_person_scope(scope)) return protocol_error("invalid_scope", "the scope " + scope + " is granted by a person, not to a client");
    if (!contains(client.scopes, scope)) return protocol_error("invalid_scope", "this client may not ask for the scope " + scope);
  }
  if (client.department_id.empty()) return protocol_error("unauthorized_client", "this client belongs to no department");
  const auto now = clock_.now();
  const std::int64_t issued = seconds_since_epoch(now);
  const std::string token_id = new_id("tok");
  const std::string scope = join_scope(scopes);
  nlohmann::json claims = {{"iss", options_.issuer},
                           {"sub", client.client_id},
                           {"aud", options_.issuer},
                           {"client_id", client.client_id},
                           {"department_id", client.department_id},
                           {"scope", scope},
                           {"iat", issued},
                           {"exp", issued + options_.access_token_lifetime.count()},
                           {"jti", token_id}};
  auto access_token = sign("at+jwt", claims);
  if (!access_token.ok()) return access_token.take_error();
  const std::string expires_at = format_timestamp(now + options_.access_token_lifetime);
  Status stored = database_.write([&](store::Session& session) -> Status {
    auto inserted = session.execute(
        "INSERT INTO oidc_access_token (token_digest, token_id, client_id, department_id, scope, created_at, expires_at) "
        "VALUES ($1, $2, $3, $4, $5, $6, $7)",
        {secret_digest(*access_token), token_id, client.client_id, client.department_id, scope,
         format_timestamp(now), expires_at});
    if (!inserted.ok()) return inserted.take_error();
    auto recorded = log_.record(session, {client_actor(client.client_id), "", "oidc.machine_token_issued", "oidc_client",
                                          client.client_id, "",
                                          {{"department_id", client.department_id},
                                           {"scope", scope},
                                           {"token_id", token_id},
                                           {"expires_at", expires_at}}});
    if (!recorded.ok()) return recorded.take_error();
    return ok_status();
  });
  if (!stored.ok()) return stored.take_error();
  nlohmann::json answer = {{"access_token", *access_token},
                           {"token_type", "Bearer"},
                           {"expires_in", options_.access_token_lifetime.count()}};
  if (!scope.empty()) answer["scope"] = scope;
  return answer;
}

// ---- Userinfo ---------------------------------------------------------------------------------

Result<nlohmann::json> Provider::userinfo(std::string_view access_token) {
  auto verified = verify_access_token(access_token);
  if (!verified.ok()) {
    if (verified.error().kind != ErrorKind::unauthenticated) return verified.take_error();
    return protocol_error("invalid_token", verified.error().message);
  }
  const auto& scope_claim = verified->claims["scope"];
  std::vector<std::string> scopes = split_scope(scope_claim.is_string() ? scope_claim.get<std::string>() : std::string());
  if (!contains(scopes, openid_scope)) return protocol_error("insufficient_scope", "the token was not given with the openid scope");
  auto account = directory_.account(verified->subject);
  if (!account.ok() && account.error().kind != ErrorKind::not_found) return account.take_error();
  if (!account.ok() || account->disabled) return protocol_error("invalid_token", "the token's account is gone or disabled");

  nlohmann::json claims = {{"sub", account->id}};
  if (contains(scopes, profile_scope)) {
    claims["name"] = account->display_name;
    claims["preferred_username"] = account->username;
  }
  // The ID number only for the scope made for it, which an operator allows a client explicitly;
  // every release is on the record.
  if (contains(scopes, citizen_id_scope) && account->kind == identity::AccountKind::citizen && !account->citizen_id.empty()) {
    Status recorded = database_.write([&](store::Session& session) -> Status {
      auto receipt = log_.record(session, {client_actor(verified->client_id), "", "oidc.citizen_id_released", "account",
                                           account->id, "scope citizen_id granted by the person at login",
                                           {{"client_id", verified->client_id},
                                            {"token_id", verified->claims["jti"]}}});
      if (!receipt.ok()) return receipt.take_error();
      return ok_status();
    });
    if (!recorded.ok()) return recorded.take_error();
    claims["citizen_id"] = account->citizen_id;
  }
  return claims;
}

}  // namespace onewindow::oidc
