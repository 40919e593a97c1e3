// Private to oidc/: helpers shared by its source files (the protocol's text forms, digests, the
// client table's columns). Not a public header; other modules include oidc/oidc.h only.
#pragma once

#include "oidc/oidc.h"

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace onewindow::oidc {

// A protocol error: code "oidc.<name>", with the ErrorKind that the OAuth error implies
// (invalid_client, invalid_token and login_required are unauthenticated, insufficient_scope
// permission_denied, the rest invalid_argument).
Error protocol_error(std::string_view name, std::string message);

// The SM3 digest, in hex, under which a code, an access token or a client secret is stored.
std::string secret_digest(std::string_view secret);
// n random bytes as base64url: codes, secrets.
Result<std::string> random_token(std::size_t bytes);

// application/x-www-form-urlencoded: name=value pairs joined by '&', '+' for space, %XX escapes.
// oidc.invalid_request for a malformed escape or a parameter given twice (RFC 6749 section 3.1).
Result<std::map<std::string, std::string>> parse_form(std::string_view body);
// Percent-decoding with '+' as space; nullopt for a malformed escape.
std::optional<std::string> form_decode(std::string_view text);
// Everything but RFC 3986 unreserved characters as %XX.
std::string percent_encode(std::string_view text);
// url with the parameters appended to its query (after '?' or '&'), in the order given.
std::string with_query(std::string_view url, const std::vector<std::pair<std::string, std::string>>& parameters);

// Scope strings (RFC 6749 section 3.3): tokens separated by spaces. split_scope drops empty
// tokens and repeats; join_scope writes them with single spaces.
std::vector<std::string> split_scope(std::string_view scope);
std::string join_scope(const std::vector<std::string>& scopes);
bool is_person_scope(std::string_view scope);  // openid, profile, citizen_id
// A scope token: 1 to 64 characters of %x21 / %x23-5B / %x5D-7E.
bool scope_token_well_formed(std::string_view scope);

// https://host[:port]..., or http:// on a loopback host (127.0.0.1, localhost, [::1]); no
// user information, no fragment, no spaces or control characters. with_path says whether a
// path and query may follow the authority (redirect URIs) or not (the issuer).
bool url_acceptable(std::string_view url, bool with_path);

bool contains(const std::vector<std::string>& list, std::string_view value);

// The columns of oidc_client read into a Client, in this order.
inline constexpr std::string_view client_columns =
    "client_id, name, kind, redirect_uris, grant_types, scopes, COALESCE(department_id, ''), source, created_by, "
    "created_at, updated_at";
Result<Client> client_from(const store::Row& row);
std::string json_list(const std::vector<std::string>& values);

// Seconds since the Unix epoch, as JWT NumericDate.
std::int64_t seconds_since_epoch(std::chrono::system_clock::time_point time);

}  // namespace onewindow::oidc
