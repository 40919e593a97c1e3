// identity: who is who on the platform. Departments of the node, accounts of five kinds (citizen,
// enterprise user, official, supervisor, operator), roles and permissions as data
// (config/roles.yaml), passwords (argon2id), TOTP second factor (RFC 6238), sessions for browsers
// (cookie + CSRF token) and bearer tokens for API clients, lockout after repeated failures.
//
// Contract:
// - identity owns the tables department, account, account_role and session, and nothing else
//   reads them. Every change to accounts and roles, and every login of an official, supervisor or
//   operator, is recorded in the transparency log in the same transaction.
// - Passwords, TOTP secrets and session tokens never leave this module except the TOTP secret
//   once, when an account is created (to enrol the authenticator), and a session token once,
//   when it is made. Only SM3 digests of session tokens are stored; TOTP secrets are stored
//   encrypted with the SM4 envelope.
// - A department-scoped permission reaches only objects of the holder's own department
//   (Principal::may_act_for_department).
// - Directory is safe to use from many threads at once.
#pragma once

#include "audit/audit.h"
#include "base/clock.h"
#include "base/result.h"
#include "crypto/crypto.h"
#include "store/store.h"

#include <chrono>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace onewindow::identity {

enum class AccountKind { citizen, enterprise_user, official, supervisor, platform_operator };
std::string_view kind_name(AccountKind kind);  // "citizen", ..., "operator"
Result<AccountKind> parse_kind(std::string_view text, std::string_view field = "kind");

enum class PermissionScope { global, department, own };

struct PermissionDefinition {
  std::string name;
  PermissionScope scope = PermissionScope::global;
  std::string description;
};

struct RoleDefinition {
  std::string name;  // key, e.g. "department_administrator"
  std::string chinese_name;
  std::string english_name;
  std::vector<AccountKind> kinds;
  std::vector<std::string> permissions;
};

// config/roles.yaml, checked at load: every permission a role names exists, every kind is known,
// every kind has its base role. Errors name file, line and field.
class AccessPolicy {
 public:
  static Result<AccessPolicy> load(const std::filesystem::path& file);

  const PermissionDefinition* permission(std::string_view name) const;
  const RoleDefinition* role(std::string_view name) const;
  // The permissions of an account of this kind holding these roles (its base role included).
  std::set<std::string> permissions_of(AccountKind kind, const std::vector<std::string>& roles) const;
  // identity.unknown_role, or identity.role_not_for_kind when the kind may not hold the role.
  Status check_role(AccountKind kind, std::string_view role, std::string_view field = "roles") const;
  const std::map<std::string, PermissionDefinition, std::less<>>& permissions() const { return permissions_; }

 private:
  std::map<std::string, PermissionDefinition, std::less<>> permissions_;
  std::map<std::string, RoleDefinition, std::less<>> roles_;
};

struct Node {
  std::string division;
  std::string name;
  std::string english_name;
  std::string parent_division;
};

struct Department {
  std::string id;   // dep_...
  std::string key;  // short name from the configuration: "market"
  std::string name;
  std::string english_name;
  std::string unified_social_credit_code;
  std::string division;
  std::string parent_id;  // empty at the top
};

// config/departments.yaml: the node hierarchy and the departments, with valid USCCs and division
// codes (checked against config/divisions.yaml's table by the caller's validator).
struct DirectoryConfiguration {
  std::vector<Node> nodes;
  std::vector<Department> departments;  // id empty: assigned when stored
  static Result<DirectoryConfiguration> load(const std::filesystem::path& file);
};

struct Account {
  std::string id;  // acc_...
  AccountKind kind = AccountKind::citizen;
  std::string username;
  std::string display_name;
  std::string department_id;       // officials
  std::vector<std::string> roles;  // beyond the base role of the kind
  std::string citizen_id;          // citizens: bound to a valid citizen ID number
  std::string legal_person;        // enterprise users: the legal person's USCC
  std::string enterprise_role;     // enterprise users: "legal_representative" or "authorised_agent"
  bool second_factor = false;      // TOTP enrolled (always for officials, supervisors, operators)
  bool disabled = false;
  std::string created_at;
};

struct NewAccount {
  AccountKind kind = AccountKind::citizen;
  std::string username;
  std::string password;
  std::string display_name;
  std::string department_id;
  std::vector<std::string> roles;
  std::string citizen_id;
  std::string legal_person;
  std::string enterprise_role;
};

struct CreatedAccount {
  Account account;
  // Officials, supervisors and operators: the TOTP secret in base32 and an otpauth:// URI, shown
  // once so that the person can enrol an authenticator. Empty for other kinds.
  std::string totp_secret;
  std::string totp_uri;
};

// Who is calling, once authenticated. Built per request; cheap to copy.
struct Principal {
  std::string account_id;
  AccountKind kind = AccountKind::citizen;
  std::string username;
  std::string display_name;
  std::string department_id;
  std::string citizen_id;
  std::string legal_person;
  std::set<std::string> permissions;
  std::string session_id;
  std::chrono::system_clock::time_point authenticated_at;  // when this session logged in
  bool browser_session = false;  // came with the session cookie: unsafe methods need the CSRF token
  std::string csrf_token;
  // A department's own system calling with an access token of the platform's OpenID Connect
  // provider (client credentials), not an account: account_id is "oidc_client:<client id>", kind
  // means nothing, and its permissions are its token's scopes that an official may hold.
  bool machine_client = false;

  bool has(std::string_view permission) const { return permissions.count(std::string(permission)) > 0; }
};

enum class SessionKind { browser, bearer };

class RecentLookups;

struct LoginAttempt {
  std::string username;
  std::string password;
  std::string totp;            // required for officials, supervisors and operators
  std::string client_address;  // for rate limiting
  SessionKind kind = SessionKind::browser;
};

struct Login {
  Principal principal;
  std::string token;  // the session cookie's value, or the bearer token; shown once
  std::chrono::system_clock::time_point expires_at;
  std::chrono::seconds lifetime{0};  // from now until expires_at, for the cookie's Max-Age
};

struct Options {
  // argon2id cost: OWASP's minimum recommendation (19 MiB, 2 passes, 1 lane).
  std::uint32_t argon2_memory_kib = 19 * 1024;
  std::uint32_t argon2_iterations = 2;
  int lockout_threshold = 5;                       // failed logins in a row
  std::chrono::minutes lockout_duration{15};
  int address_failures_per_minute = 20;            // failed logins from one address
  std::chrono::hours browser_session_lifetime{12};
  std::chrono::hours bearer_token_lifetime{24 * 30};
  // How long a session's principal and a department, once read, are answered from memory. Changes
  // made in this process hold at once; another process's (a second node on PostgreSQL) within
  // this time. Zero reads them from the database for every request.
  std::chrono::milliseconds recent_lookup_lifetime{1000};
  std::string issuer = "onewindow";                // shown in authenticator apps
};

class Directory {
 public:
  // secrets encrypts TOTP secrets at rest (SM4 envelope under the key-encryption key).
  Directory(store::Database& database, audit::TransparencyLog& log, crypto::Sm4Envelope secrets,
            AccessPolicy policy, const Clock& clock, Options options = {});
  ~Directory();
  Directory(const Directory&) = delete;
  Directory& operator=(const Directory&) = delete;

  static std::vector<store::Migration> migrations();
  const AccessPolicy& policy() const { return policy_; }

  // Adds departments missing from the table and updates names; keeps ids stable by key.
  Status synchronise_departments(const DirectoryConfiguration& configuration);
  Result<std::vector<Department>> departments() const;
  Result<Department> department(std::string_view id) const;
  Result<Department> department_by_key(std::string_view key) const;

  // Creates an account; `by` is the operator acting (nullptr for self-registration of citizens
  // and for the platform itself, e.g. the demo). Errors name the field.
  Result<CreatedAccount> create_account(const NewAccount& account, const Principal* by);
  Result<Account> account(std::string_view id) const;
  Result<Account> account_by_username(std::string_view username) const;
  Result<std::vector<Account>> accounts_of_department(std::string_view department_id) const;
  // Every account of the kind (the supervisors, to tell them of warnings), by username.
  Result<std::vector<Account>> accounts_of_kind(AccountKind kind) const;
  Status set_roles(std::string_view account_id, const std::vector<std::string>& roles, const Principal& by);

  // Checks the password (and the TOTP code where required), counts failures toward lockout and
  // the address rate limit, and opens a session. Every failure is the same
  // identity.login_failed (no hint whether the name exists), except identity.locked,
  // identity.rate_limited and identity.second_factor_required.
  Result<Login> login(const LoginAttempt& attempt);
  // The principal of a session cookie or bearer token; identity.unauthenticated if unknown,
  // expired or revoked.
  Result<Principal> authenticate(std::string_view token, SessionKind kind) const;
  Status logout(const Principal& principal);
  // Ends every session of the principal's account (logout everywhere).
  Status logout_everywhere(const Principal& principal);

  // The current TOTP code for a base32 secret (for the demo's printout and for tests).
  static Result<std::string> totp_code(std::string_view base32_secret, std::chrono::system_clock::time_point at);

 private:
  Result<Principal> principal_of(store::Session& session, std::string_view account_id) const;
  // How long until this address may try again, when it has failed too often in the last minute.
  std::optional<std::chrono::seconds> address_limited(const std::string& address);
  void count_address_failure(const std::string& address);

  store::Database& database_;
  audit::TransparencyLog& log_;
  crypto::Sm4Envelope secrets_;
  AccessPolicy policy_;
  const Clock& clock_;
  Options options_;

  std::mutex address_mutex_;
  std::map<std::string, std::vector<std::chrono::system_clock::time_point>> address_failures_;
  std::unique_ptr<RecentLookups> recent_;
};

}  // namespace onewindow::identity
