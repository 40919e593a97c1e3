// The provider's tables, its signing key, the discovery document and JWKS, signing and checking
// tokens, and the small text forms of the protocol.
#include "oidc/internal.h"

#include "base/identifiers.h"

#include <algorithm>
#include <cctype>

namespace onewindow::oidc {

// ---- Helpers (internal.h) ---------------------------------------------------------------------

Error protocol_error(std::string_view name, std::string message) {
  ErrorKind kind = ErrorKind::invalid_argument;
  if (name == "invalid_client" || name == "invalid_token" || name == "login_required") kind = ErrorKind::unauthenticated;
  if (name == "insufficient_scope") kind = ErrorKind::permission_denied;
  return Error(kind, "oidc." + std::string(name), std::move(message));
}

std::string secret_digest(std::string_view secret) { return crypto::to_hex(crypto::sm3(secret)); }

Result<std::string> random_token(std::size_t bytes) {
  auto random = crypto::random_bytes(bytes);
  if (!random.ok()) return random.take_error();
  return crypto::base64url_encode(*random);
}

std::optional<std::string> form_decode(std::string_view text) {
  std::string decoded;
  decoded.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (c == '+') {
      decoded += ' ';
    } else if (c == '%') {
      if (i + 2 >= text.size()) return std::nullopt;
      auto value = crypto::from_hex(text.substr(i + 1, 2));
      if (!value.ok()) return std::nullopt;
      decoded += static_cast<char>((*value)[0]);
      i += 2;
    } else {
      decoded += c;
    }
  }
  return decoded;
}

Result<std::map<std::string, std::string>> parse_form(std::string_view body) {
  std::map<std::string, std::string> form;
  while (!body.empty()) {
    auto end = body.find('&');
    std::string_view pair = body.substr(0, end);
    body = end == std::string_view::npos ? std::string_view() : body.substr(end + 1);
    if (pair.empty()) continue;
    auto equals = pair.find('=');
    auto name = form_decode(pair.substr(0, equals));
    auto value = form_decode(equals == std::string_view::npos ? std::string_view() : pair.substr(equals + 1));
    if (!name || !value) return protocol_error("invalid_request", "the form body has a malformed %-escape");
    // RFC 6749 section 3.2: parameters must not be included more than once.
    if (!form.emplace(*name, *value).second) {
      return protocol_error("invalid_request", "the parameter " + *name + " is given more than once");
    }
  }
  return form;
}

std::string percent_encode(std::string_view text) {
  static constexpr char digits[] = "0123456789ABCDEF";
  std::string encoded;
  for (unsigned char c : text) {
    if (std::isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~') {
      encoded += static_cast<char>(c);
    } else {
      encoded += '%';
      encoded += digits[c >> 4];
      encoded += digits[c & 0x0f];
    }
  }
  return encoded;
}

std::string with_query(std::string_view url, const std::vector<std::pair<std::string, std::string>>& parameters) {
  std::string result(url);
  char separator = result.find('?') == std::string::npos ? '?' : '&';
  for (const auto& [name, value] : parameters) {
    result += separator;
    result += percent_encode(name) + "=" + percent_encode(value);
    separator = '&';
  }
  return result;
}

std::vector<std::string> split_scope(std::string_view scope) {
  std::vector<std::string> scopes;
  while (!scope.empty()) {
    auto end = scope.find(' ');
    std::string token(scope.substr(0, end));
    scope = end == std::string_view::npos ? std::string_view() : scope.substr(end + 1);
    if (!token.empty() && !contains(scopes, token)) scopes.push_back(std::move(token));
  }
  return scopes;
}

std::string join_scope(const std::vector<std::string>& scopes) {
  std::string joined;
  for (const auto& scope : scopes) joined += (joined.empty() ? "" : " ") + scope;
  return joined;
}

bool is_person_scope(std::string_view scope) {
  return scope == openid_scope || scope == profile_scope || scope == citizen_id_scope;
}

bool scope_token_well_formed(std::string_view scope) {
  if (scope.empty() || scope.size() > 64) return false;
  return std::all_of(scope.begin(), scope.end(), [](char c) {
    return c == 0x21 || (c >= 0x23 && c <= 0x5b) || (c >= 0x5d && c <= 0x7e);
  });
}

bool url_acceptable(std::string_view url, bool with_path) {
  if (url.empty() || url.size() > 2000) return false;
  for (unsigned char c : url) {
    if (c <= 0x20 || c >= 0x7f || c == '#' || c == '\\') return false;
  }
  std::string_view rest;
  bool secure = url.starts_with("https://");
  if (secure) rest = url.substr(8);
  else if (url.starts_with("http://")) rest = url.substr(7);
  else return false;
  auto authority_end = rest.find_first_of("/?");
  std::string_view authority = rest.substr(0, authority_end);
  std::string_view after = authority_end == std::string_view::npos ? std::string_view() : rest.substr(authority_end);
  if (authority.empty() || authority.find('@') != std::string_view::npos) return false;
  if (!with_path && !after.empty()) return false;
  std::string_view host = authority;
  if (host.starts_with("[")) {
    auto close = host.find(']');
    if (close == std::string_view::npos) return false;
    std::string_view port = host.substr(close + 1);
    if (!port.empty() && (port[0] != ':' || port.size() < 2)) return false;
    host = host.substr(0, close + 1);
  } else if (auto colon = host.find(':'); colon != std::string_view::npos) {
    std::string_view port = host.substr(colon + 1);
    if (port.empty() || !std::all_of(port.begin(), port.end(), [](char c) { return c >= '0' && c <= '9'; })) return false;
    host = host.substr(0, colon);
  }
  if (host.empty()) return false;
  // Plain http only where nothing leaves the machine.
  return secure || host == "127.0.0.1" || host == "localhost" || host == "[::1]";
}

bool contains(const std::vector<std::string>& list, std::string_view value) {
  return std::find(list.begin(), list.end(), value) != list.end();
}

std::string json_list(const std::vector<std::string>& values) { return nlohmann::json(values).dump(); }

namespace {
Result<std::vector<std::string>> list_from(const std::string& text) {
  auto parsed = nlohmann::json::parse(text, nullptr, false);
  if (!parsed.is_array()) return Error(ErrorKind::internal, "oidc.corrupt", "a stored client list is not a JSON array");
  std::vector<std::string> values;
  for (const auto& item : parsed) {
    if (!item.is_string()) return Error(ErrorKind::internal, "oidc.corrupt", "a stored client list holds a non-string");
    values.push_back(item.get<std::string>());
  }
  return values;
}
}  // namespace

Result<Client> client_from(const store::Row& row) {
  Client client;
  client.client_id = row.text(0);
  client.name = row.text(1);
  auto kind = parse_client_kind(row.text(2));
  if (!kind.ok()) return kind.take_error();
  client.kind = *kind;
  for (auto [column, target] : {std::pair{3, &client.redirect_uris}, std::pair{4, &client.grant_types},
                                std::pair{5, &client.scopes}}) {
    auto values = list_from(row.text(column));
    if (!values.ok()) return values.take_error();
    *target = std::move(values).value();
  }
  client.department_id = row.text(6);
  client.source = row.text(7);
  client.created_by = row.text(8);
  client.created_at = row.text(9);
  client.updated_at = row.text(10);
  return client;
}

std::int64_t seconds_since_epoch(std::chrono::system_clock::time_point time) {
  return std::chrono::duration_cast<std::chrono::seconds>(time.time_since_epoch()).count();
}

// ---- Public free functions --------------------------------------------------------------------

std::string_view client_kind_name(ClientKind kind) {
  return kind == ClientKind::public_client ? "public" : "confidential";
}

Result<ClientKind> parse_client_kind(std::string_view text, std::string_view field) {
  if (text == "confidential") return ClientKind::confidential;
  if (text == "public") return ClientKind::public_client;
  return Error::invalid("oidc.bad_client", std::string(field), std::string(field) + " must be confidential or public");
}

std::string oauth_error(const Error& error) {
  static constexpr std::string_view protocol[] = {
      "invalid_request",   "invalid_client",   "invalid_grant",   "unauthorized_client", "unsupported_grant_type",
      "unsupported_response_type", "invalid_scope", "login_required", "consent_required", "invalid_token",
      "insufficient_scope", "request_not_supported", "request_uri_not_supported", "access_denied"};
  if (error.code.starts_with("oidc.")) {
    std::string_view name = std::string_view(error.code).substr(5);
    for (std::string_view candidate : protocol) {
      if (candidate == name) return std::string(name);
    }
  }
  return "server_error";
}

Status validate_options(const Options& options) {
  if (!url_acceptable(options.issuer, false) || options.issuer.ends_with("/")) {
    return Error::invalid("oidc.bad_options", "issuer",
                          "the issuer must be https://host[:port] (http only on a loopback host), with no path and "
                          "no trailing slash");
  }
  for (auto [name, lifetime] : {std::pair{"code_lifetime", options.code_lifetime},
                                std::pair{"access_token_lifetime", options.access_token_lifetime},
                                std::pair{"id_token_lifetime", options.id_token_lifetime}}) {
    if (lifetime <= std::chrono::seconds(0)) {
      return Error::invalid("oidc.bad_options", name, std::string(name) + " must be positive");
    }
  }
  if (!options.login_url.empty() && !options.login_url.starts_with("/") && !url_acceptable(options.login_url, true)) {
    return Error::invalid("oidc.bad_options", "login_url", "the login URL must be a path (/login) or an https URL");
  }
  return ok_status();
}

// ---- Construction and tables ------------------------------------------------------------------

Provider::Provider(store::Database& database, audit::TransparencyLog& log, identity::Directory& directory,
                   crypto::Sm4Envelope key_encryption, const Clock& clock, Options options)
    : database_(database),
      log_(log),
      directory_(directory),
      key_encryption_(std::move(key_encryption)),
      clock_(clock),
      options_(std::move(options)) {}

Provider::~Provider() = default;

namespace {

// One text for both engines: BYTEA and BIGINT are PostgreSQL's names, and SQLite keeps bytes
// and integers in such columns as they are.
constexpr const char* schema = R"(CREATE TABLE oidc_client (
      client_id TEXT PRIMARY KEY,
      name TEXT NOT NULL,
      kind TEXT NOT NULL,
      secret_digest TEXT,
      redirect_uris TEXT NOT NULL,
      grant_types TEXT NOT NULL,
      scopes TEXT NOT NULL,
      department_id TEXT,
      source TEXT NOT NULL,
      created_by TEXT NOT NULL,
      created_at TEXT NOT NULL,
      updated_at TEXT NOT NULL);
    CREATE TABLE oidc_authorization_code (
      code_digest TEXT PRIMARY KEY,
      client_id TEXT NOT NULL REFERENCES oidc_client (client_id),
      account_id TEXT NOT NULL,
      redirect_uri TEXT NOT NULL,
      code_challenge TEXT NOT NULL,
      nonce TEXT,
      scope TEXT NOT NULL,
      auth_time BIGINT NOT NULL,
      created_at TEXT NOT NULL,
      expires_at TEXT NOT NULL,
      used INTEGER NOT NULL DEFAULT 0,
      used_at TEXT);
    CREATE INDEX oidc_authorization_code_by_expiry ON oidc_authorization_code (expires_at);
    CREATE TABLE oidc_access_token (
      token_digest TEXT PRIMARY KEY,
      token_id TEXT NOT NULL UNIQUE,
      client_id TEXT NOT NULL REFERENCES oidc_client (client_id),
      account_id TEXT,
      department_id TEXT,
      scope TEXT NOT NULL,
      code_digest TEXT,
      created_at TEXT NOT NULL,
      expires_at TEXT NOT NULL,
      revoked_at TEXT);
    CREATE INDEX oidc_access_token_by_code ON oidc_access_token (code_digest);
    CREATE INDEX oidc_access_token_by_expiry ON oidc_access_token (expires_at);
    CREATE TABLE oidc_signing_key (
      key_id TEXT PRIMARY KEY,
      algorithm TEXT NOT NULL,
      sealed_private_key BYTEA NOT NULL,
      public_jwk TEXT NOT NULL,
      created_at TEXT NOT NULL,
      retired_at TEXT))";

// The sealed signing key is bound to its row, so that it cannot be moved to another.
std::string key_associated_data(std::string_view key_id) { return "oidc_signing_key:" + std::string(key_id); }

}  // namespace

std::vector<store::Migration> Provider::migrations() {
  return {{"oidc", 1, "clients, authorization codes, access tokens and the signing key", schema, ""}};
}

// ---- Keys -------------------------------------------------------------------------------------

Result<crypto::P256PrivateKey> Provider::signing_key() {
  std::lock_guard lock(keys_mutex_);
  if (signing_key_) return *signing_key_;
  auto key = database_.write_value<crypto::P256PrivateKey>(
      [&](store::Session& session) -> Result<crypto::P256PrivateKey> {
        // The oldest key still in use signs; two processes that made one each at the same moment
        // both publish theirs, and tokens of either verify.
        auto row = session.query_one(
            "SELECT key_id, sealed_private_key FROM oidc_signing_key WHERE retired_at IS NULL "
            "ORDER BY created_at, key_id LIMIT 1");
        if (!row.ok()) return row.take_error();
        if (row->has_value()) {
          std::string key_id = (*row)->text(0);
          auto pem = key_encryption_.decrypt((*row)->blob(1), crypto::as_bytes(key_associated_data(key_id)));
          if (!pem.ok()) return pem.take_error();
          auto parsed = crypto::P256PrivateKey::from_pem(std::string_view(reinterpret_cast<const char*>(pem->data()), pem->size()));
          std::fill(pem->begin(), pem->end(), 0);
          if (!parsed.ok()) return parsed.take_error();
          if (parsed->public_key().thumbprint() != key_id) {
            return Error(ErrorKind::internal, "oidc.corrupt", "the stored signing key does not match its key id");
          }
          return parsed;
        }
        auto made = crypto::P256PrivateKey::generate();
        if (!made.ok()) return made.take_error();
        auto pem = made->to_pem();
        if (!pem.ok()) return pem.take_error();
        const std::string& key_id = made->public_key().thumbprint();
        auto sealed = key_encryption_.encrypt(crypto::as_bytes(*pem), crypto::as_bytes(key_associated_data(key_id)));
        std::fill(pem->begin(), pem->end(), '\0');
        if (!sealed.ok()) return sealed.take_error();
        auto inserted = session.execute(
            "INSERT INTO oidc_signing_key (key_id, algorithm, sealed_private_key, public_jwk, created_at) "
            "VALUES ($1, 'ES256', $2, $3, $4)",
            {key_id, store::Blob(sealed->begin(), sealed->end()), made->public_key().jwk().dump(),
             format_timestamp(clock_.now())});
        if (!inserted.ok()) return inserted.take_error();
        auto recorded = log_.record(session, {"system", "", "oidc.signing_key_created", "oidc_signing_key", key_id, "",
                                              {{"algorithm", "ES256"}}});
        if (!recorded.ok()) return recorded.take_error();
        return made;
      });
  if (!key.ok()) return key.take_error();
  signing_key_ = *key;
  verification_keys_.emplace(key->public_key().thumbprint(), key->public_key());
  return key;
}

Result<crypto::P256PublicKey> Provider::verification_key(std::string_view key_id) {
  std::lock_guard lock(keys_mutex_);
  if (auto found = verification_keys_.find(key_id); found != verification_keys_.end()) return found->second;
  auto jwk = database_.read_value<std::optional<std::string>>([&](store::Session& session) -> Result<std::optional<std::string>> {
    auto row = session.query_one("SELECT public_jwk FROM oidc_signing_key WHERE key_id = $1 AND retired_at IS NULL",
                                 {std::string(key_id)});
    if (!row.ok()) return row.take_error();
    if (!row->has_value()) return std::optional<std::string>();
    return std::optional<std::string>((*row)->text(0));
  });
  if (!jwk.ok()) return jwk.take_error();
  if (!jwk->has_value()) {
    return Error(ErrorKind::unauthenticated, "oidc.token_signature", "the token names a signing key this provider does not have");
  }
  auto key = crypto::P256PublicKey::from_jwk(nlohmann::json::parse(**jwk, nullptr, false));
  if (!key.ok() || key->thumbprint() != key_id) {
    return Error(ErrorKind::internal, "oidc.corrupt", "a stored public signing key does not match its key id");
  }
  verification_keys_.emplace(std::string(key_id), *key);
  return key;
}

Result<nlohmann::json> Provider::jwks() {
  auto key = signing_key();  // made on first use
  if (!key.ok()) return key.take_error();
  return database_.read_value<nlohmann::json>([&](store::Session& session) -> Result<nlohmann::json> {
    auto rows = session.query("SELECT public_jwk FROM oidc_signing_key WHERE retired_at IS NULL ORDER BY created_at, key_id");
    if (!rows.ok()) return rows.take_error();
    nlohmann::json keys = nlohmann::json::array();
    for (const store::Row& row : *rows) {
      nlohmann::json jwk = nlohmann::json::parse(row.text(0), nullptr, false);
      if (!jwk.is_object()) return Error(ErrorKind::internal, "oidc.corrupt", "a stored public signing key is not JSON");
      jwk["use"] = "sig";
      jwk["alg"] = "ES256";
      keys.push_back(std::move(jwk));
    }
    return nlohmann::json{{"keys", keys}};
  });
}

// ---- Tokens -----------------------------------------------------------------------------------

Result<std::string> Provider::sign(std::string_view type, const nlohmann::json& claims) {
  auto key = signing_key();
  if (!key.ok()) return key.take_error();
  nlohmann::json header = {{"alg", "ES256"}, {"kid", key->public_key().thumbprint()}, {"typ", type}};
  std::string input = crypto::base64url_encode(header.dump()) + "." + crypto::base64url_encode(claims.dump());
  auto signature = key->sign(input);
  if (!signature.ok()) return signature.take_error();
  return input + "." + crypto::base64url_encode(*signature);
}

namespace {

constexpr std::size_t max_token_size = 8 * 1024;
// Tolerated difference between the clocks of the platform's nodes when reading "iat".
constexpr std::int64_t clock_leeway_seconds = 60;

Error token_error(std::string_view what, std::string message) {
  return Error(ErrorKind::unauthenticated, "oidc.token_" + std::string(what), std::move(message));
}

// A string member of a JSON object, or empty when it is absent or not a string (value() would
// throw on a member of another type, and the header is read before the signature is checked).
std::string string_member(const nlohmann::json& object, const char* name) {
  auto found = object.find(name);
  return found != object.end() && found->is_string() ? found->get<std::string>() : std::string();
}

std::optional<nlohmann::json> decode_part(std::string_view part) {
  auto bytes = crypto::base64url_decode(part);
  if (!bytes.ok()) return std::nullopt;
  auto parsed = nlohmann::json::parse(bytes->begin(), bytes->end(), nullptr, false);
  if (!parsed.is_object()) return std::nullopt;
  return parsed;
}

}  // namespace

Result<VerifiedToken> Provider::verify(std::string_view token, bool access_token, std::string_view audience) {
  if (token.size() > max_token_size) return token_error("malformed", "the token is too long");
  auto first_dot = token.find('.');
  auto second_dot = first_dot == std::string_view::npos ? first_dot : token.find('.', first_dot + 1);
  if (second_dot == std::string_view::npos || token.find('.', second_dot + 1) != std::string_view::npos) {
    return token_error("malformed", "the token is not a compact JWS of three parts");
  }
  if (second_dot + 1 == token.size()) return token_error("malformed", "the token is unsigned");
  std::string_view signing_input = token.substr(0, second_dot);
  auto header = decode_part(token.substr(0, first_dot));
  auto signature = crypto::base64url_decode(token.substr(second_dot + 1));
  if (!header || !signature.ok()) return token_error("malformed", "the token's header or signature is not base64url JSON");
  // Only ES256 with a key of ours: "none", HMAC and every other algorithm are refused here.
  if (string_member(*header, "alg") != "ES256") return token_error("signature", "the token is not signed ES256");
  if (header->contains("crit")) return token_error("malformed", "the token has critical header parameters");
  auto key_id = header->find("kid");
  if (key_id == header->end() || !key_id->is_string()) return token_error("malformed", "the token's header names no key (kid)");
  auto key = verification_key(key_id->get<std::string>());
  if (!key.ok()) return key.take_error();
  if (!key->verify(signing_input, *signature).ok()) {
    return token_error("signature", "the token's signature does not verify with the provider's key");
  }

  auto claims = decode_part(token.substr(first_dot + 1, second_dot - first_dot - 1));
  if (!claims) return token_error("malformed", "the token's claims are not base64url JSON");
  std::string type = string_member(*header, "typ");
  if (access_token ? type != "at+jwt" : type == "at+jwt" || (!type.empty() && type != "JWT")) {
    return token_error("type", access_token ? "the token is not an access token" : "the token is not an ID token");
  }
  if (!claims->contains("iss") || (*claims)["iss"] != options_.issuer) {
    return token_error("issuer", "the token was issued by another issuer");
  }
  const nlohmann::json& audiences = claims->value("aud", nlohmann::json());
  bool audience_matches = audiences.is_string() ? audiences == audience : false;
  if (audiences.is_array()) {
    for (const auto& item : audiences) audience_matches = audience_matches || (item.is_string() && item == audience);
  }
  if (!audience_matches) return token_error("audience", "the token is meant for another audience");
  auto expires = claims->find("exp");
  auto issued = claims->find("iat");
  auto subject = claims->find("sub");
  if (expires == claims->end() || !expires->is_number_integer() || issued == claims->end() ||
      !issued->is_number_integer() || subject == claims->end() || !subject->is_string() ||
      subject->get<std::string>().empty()) {
    return token_error("malformed", "the token lacks exp, iat or sub");
  }
  std::int64_t now = seconds_since_epoch(clock_.now());
  if (now >= expires->get<std::int64_t>()) return token_error("expired", "the token has expired");
  if (issued->get<std::int64_t>() > now + clock_leeway_seconds) {
    return token_error("malformed", "the token says it was issued in the future");
  }

  VerifiedToken verified;
  verified.header = std::move(*header);
  verified.subject = subject->get<std::string>();
  verified.expires_at = std::chrono::system_clock::time_point(std::chrono::seconds(expires->get<std::int64_t>()));
  if (access_token) {
    verified.client_id = string_member(*claims, "client_id");
    // Signed by us is not enough: it must also be one we keep and have not revoked.
    std::string digest = secret_digest(token);
    auto kept = database_.read_value<bool>([&](store::Session& session) -> Result<bool> {
      auto row = session.query_one(
          "SELECT 1 FROM oidc_access_token WHERE token_digest = $1 AND revoked_at IS NULL AND expires_at > $2",
          {digest, format_timestamp(clock_.now())});
      if (!row.ok()) return row.take_error();
      return row->has_value();
    });
    if (!kept.ok()) return kept.take_error();
    if (!*kept) return token_error("revoked", "the access token was revoked or is not one this provider gave");
  } else {
    verified.client_id = std::string(audience);
  }
  verified.claims = std::move(*claims);
  return verified;
}

Result<VerifiedToken> Provider::verify_id_token(std::string_view token, std::string_view client_id) {
  return verify(token, false, client_id);
}

Result<VerifiedToken> Provider::verify_access_token(std::string_view token) {
  return verify(token, true, options_.issuer);
}

// ---- Discovery --------------------------------------------------------------------------------

nlohmann::json Provider::discovery() const {
  const std::string& issuer = options_.issuer;
  return {
      {"issuer", issuer},
      {"authorization_endpoint", issuer + std::string(authorization_path)},
      {"token_endpoint", issuer + std::string(token_path)},
      {"userinfo_endpoint", issuer + std::string(userinfo_path)},
      {"jwks_uri", issuer + std::string(jwks_path)},
      {"response_types_supported", {"code"}},
      {"response_modes_supported", {"query"}},
      {"grant_types_supported", {authorization_code_grant, client_credentials_grant}},
      {"subject_types_supported", {"public"}},
      {"id_token_signing_alg_values_supported", {"ES256"}},
      {"code_challenge_methods_supported", {"S256"}},
      {"token_endpoint_auth_methods_supported", {"client_secret_basic", "client_secret_post", "none"}},
      {"scopes_supported", {openid_scope, profile_scope, citizen_id_scope}},
      {"claims_supported",
       {"iss", "sub", "aud", "exp", "iat", "auth_time", "nonce", "name", "preferred_username", "citizen_id"}},
      // login and consent are refused for now (docs/oidc.md, "Not yet").
      {"prompt_values_supported", {"none", "select_account"}},
      // RFC 9207: the authorization response carries iss, against mix-up attacks.
      {"authorization_response_iss_parameter_supported", true},
      {"request_parameter_supported", false},
      {"request_uri_parameter_supported", false},
      {"claims_parameter_supported", false},
  };
}

}  // namespace onewindow::oidc
