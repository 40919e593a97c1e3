// Departments and accounts: the tables, creation and lookups.
#include "identity/identity.h"

#include "base/identifiers.h"
#include "identity/recent_lookups.h"
#include "identity/secrets.h"

#include <cctype>

namespace onewindow::identity {

std::vector<store::Migration> Directory::migrations() {
  return {
      // One text for both engines: BYTEA and BIGINT are PostgreSQL's types, and SQLite keeps
      // bytes and integers in such columns as they are.
      {"identity", 1, "departments, accounts, roles and sessions",
       R"(CREATE TABLE department (
            id TEXT PRIMARY KEY,
            key TEXT NOT NULL UNIQUE,
            name TEXT NOT NULL,
            english_name TEXT NOT NULL,
            unified_social_credit_code TEXT NOT NULL UNIQUE,
            division TEXT NOT NULL,
            parent_id TEXT REFERENCES department (id));
          CREATE TABLE account (
            id TEXT PRIMARY KEY,
            kind TEXT NOT NULL,
            username TEXT NOT NULL UNIQUE,
            display_name TEXT NOT NULL,
            password_hash TEXT NOT NULL,
            totp_secret BYTEA,
            totp_last_step BIGINT NOT NULL DEFAULT 0,
            department_id TEXT REFERENCES department (id),
            citizen_id TEXT,
            legal_person TEXT,
            enterprise_role TEXT,
            failed_logins INTEGER NOT NULL DEFAULT 0,
            locked_until TEXT,
            disabled INTEGER NOT NULL DEFAULT 0,
            created_at TEXT NOT NULL);
          CREATE UNIQUE INDEX account_by_citizen_id ON account (citizen_id) WHERE kind = 'citizen';
          CREATE INDEX account_by_department ON account (department_id);
          CREATE TABLE account_role (
            account_id TEXT NOT NULL REFERENCES account (id),
            role TEXT NOT NULL,
            PRIMARY KEY (account_id, role));
          CREATE TABLE session (
            id TEXT PRIMARY KEY,
            token_digest TEXT NOT NULL UNIQUE,
            account_id TEXT NOT NULL REFERENCES account (id),
            kind TEXT NOT NULL,
            csrf_token TEXT NOT NULL,
            created_at TEXT NOT NULL,
            expires_at TEXT NOT NULL,
            revoked_at TEXT);
          CREATE INDEX session_by_account ON session (account_id))"},
  };
}

Directory::Directory(store::Database& database, audit::TransparencyLog& log, crypto::Sm4Envelope secrets,
                     AccessPolicy policy, const Clock& clock, Options options)
    : database_(database),
      log_(log),
      secrets_(std::move(secrets)),
      policy_(std::move(policy)),
      clock_(clock),
      options_(std::move(options)),
      recent_(std::make_unique<RecentLookups>(options_.recent_lookup_lifetime)) {}

Directory::~Directory() = default;

namespace {

constexpr std::string_view department_columns =
    "id, key, name, english_name, unified_social_credit_code, division, COALESCE(parent_id, '')";

Department department_from(const store::Row& row) {
  return {row.text(0), row.text(1), row.text(2), row.text(3), row.text(4), row.text(5), row.text(6)};
}

constexpr std::string_view account_columns =
    "id, kind, username, display_name, COALESCE(department_id, ''), COALESCE(citizen_id, ''), "
    "COALESCE(legal_person, ''), COALESCE(enterprise_role, ''), totp_secret IS NOT NULL, disabled, created_at";

Result<Account> account_from(store::Session& session, const store::Row& row) {
  Account account;
  account.id = row.text(0);
  auto kind = parse_kind(row.text(1));
  if (!kind.ok()) return kind.take_error();
  account.kind = *kind;
  account.username = row.text(2);
  account.display_name = row.text(3);
  account.department_id = row.text(4);
  account.citizen_id = row.text(5);
  account.legal_person = row.text(6);
  account.enterprise_role = row.text(7);
  account.second_factor = row.integer(8) != 0;
  account.disabled = row.integer(9) != 0;
  account.created_at = row.text(10);
  auto roles = session.query("SELECT role FROM account_role WHERE account_id = $1 ORDER BY role", {account.id});
  if (!roles.ok()) return roles.take_error();
  for (const store::Row& role : *roles) account.roles.push_back(role.text(0));
  return account;
}

bool needs_second_factor(AccountKind kind) {
  return kind == AccountKind::official || kind == AccountKind::supervisor || kind == AccountKind::platform_operator;
}

Status check_username(std::string_view username) {
  bool shaped = username.size() >= 3 && username.size() <= 64;
  for (char c : username) {
    shaped = shaped && (std::islower(static_cast<unsigned char>(c)) || std::isdigit(static_cast<unsigned char>(c)) ||
                        c == '.' || c == '_' || c == '-');
  }
  if (!shaped) {
    return Error::invalid("identity.bad_username", "username",
                          "username must be 3 to 64 characters of lower-case letters, digits, '.', '_' or '-'");
  }
  return ok_status();
}

Status check_password(std::string_view password) {
  if (password.size() < 10 || password.size() > 256) {
    return Error::invalid("identity.weak_password", "password", "password must be 10 to 256 characters");
  }
  return ok_status();
}

}  // namespace

Status Directory::synchronise_departments(const DirectoryConfiguration& configuration) {
  ForgetWhenDone forget_when_done{*recent_};
  return database_.write([&](store::Session& session) -> Status {
    std::map<std::string, std::string> id_by_key;
    auto existing = session.query("SELECT key, id FROM department");
    if (!existing.ok()) return existing.take_error();
    for (const store::Row& row : *existing) id_by_key[row.text(0)] = row.text(1);
    for (const Department& department : configuration.departments) {
      std::string parent = department.parent_id.empty() ? std::string() : id_by_key[department.parent_id];
      store::Value parent_value = parent.empty() ? store::Value{} : store::Value{parent};
      auto found = id_by_key.find(department.key);
      if (found == id_by_key.end()) {
        std::string id = new_id("dep");
        auto inserted = session.execute(
            "INSERT INTO department (id, key, name, english_name, unified_social_credit_code, division, parent_id) "
            "VALUES ($1, $2, $3, $4, $5, $6, $7)",
            {id, department.key, department.name, department.english_name, department.unified_social_credit_code,
             department.division, parent_value});
        if (!inserted.ok()) return inserted.take_error();
        id_by_key[department.key] = id;
        auto recorded = log_.record(session, {"system", "", "identity.department_added", "department", id, "config/departments.yaml",
                                              {{"key", department.key}, {"name", department.name},
                                               {"unified_social_credit_code", department.unified_social_credit_code}}});
        if (!recorded.ok()) return recorded.take_error();
      } else {
        auto updated = session.execute(
            "UPDATE department SET name = $2, english_name = $3, unified_social_credit_code = $4, division = $5, "
            "parent_id = $6 WHERE id = $1 AND (name <> $2 OR english_name <> $3 OR unified_social_credit_code <> $4 "
            "OR division <> $5 OR COALESCE(parent_id, '') <> COALESCE($6, ''))",
            {found->second, department.name, department.english_name, department.unified_social_credit_code,
             department.division, parent_value});
        if (!updated.ok()) return updated.take_error();
        if (*updated > 0) {
          auto recorded = log_.record(session, {"system", "", "identity.department_changed", "department", found->second,
                                                "config/departments.yaml", {{"key", department.key}, {"name", department.name}}});
          if (!recorded.ok()) return recorded.take_error();
        }
      }
    }
    return ok_status();
  });
}

Result<std::vector<Department>> Directory::departments() const {
  return database_.read_value<std::vector<Department>>([](store::Session& session) -> Result<std::vector<Department>> {
    auto rows = session.query("SELECT " + std::string(department_columns) + " FROM department ORDER BY key");
    if (!rows.ok()) return rows.take_error();
    std::vector<Department> departments;
    for (const store::Row& row : *rows) departments.push_back(department_from(row));
    return departments;
  });
}

Result<Department> Directory::department(std::string_view id) const {
  std::string wanted(id);
  if (auto kept = recent_->department(wanted)) return std::move(*kept);
  std::uint64_t generation = recent_->generation();
  auto found = database_.read_value<Department>([&](store::Session& session) -> Result<Department> {
    auto row = session.query_one("SELECT " + std::string(department_columns) + " FROM department WHERE id = $1", {wanted});
    if (!row.ok()) return row.take_error();
    if (!row->has_value()) return Error(ErrorKind::not_found, "identity.department_not_found", "no department " + wanted);
    return department_from(**row);
  });
  if (found.ok()) recent_->keep_department(*found, generation);
  return found;
}

Result<Department> Directory::department_by_key(std::string_view key) const {
  std::string wanted(key);
  return database_.read_value<Department>([&](store::Session& session) -> Result<Department> {
    auto row = session.query_one("SELECT " + std::string(department_columns) + " FROM department WHERE key = $1", {wanted});
    if (!row.ok()) return row.take_error();
    if (!row->has_value()) return Error(ErrorKind::not_found, "identity.department_not_found", "no department " + wanted);
    return department_from(**row);
  });
}

Result<CreatedAccount> Directory::create_account(const NewAccount& request, const Principal* by) {
  NewAccount account = request;
  for (char& c : account.username) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  ONEWINDOW_TRY(check_username(account.username));
  ONEWINDOW_TRY(check_password(account.password));
  if (account.display_name.empty() || account.display_name.size() > 200) {
    return Error::invalid("identity.bad_display_name", "display_name", "display_name must be 1 to 200 bytes");
  }
  switch (account.kind) {
    case AccountKind::citizen:
      account.citizen_id = normalise_citizen_id(account.citizen_id);
      ONEWINDOW_TRY(validate_citizen_id(account.citizen_id, clock_.today(), "citizen_id"));
      break;
    case AccountKind::enterprise_user:
      account.legal_person = normalise_unified_social_credit_code(account.legal_person);
      ONEWINDOW_TRY(validate_unified_social_credit_code(account.legal_person, "legal_person"));
      if (account.enterprise_role != "legal_representative" && account.enterprise_role != "authorised_agent") {
        return Error::invalid("identity.bad_enterprise_role", "enterprise_role",
                              "enterprise_role must be legal_representative or authorised_agent");
      }
      if (!account.citizen_id.empty()) {
        account.citizen_id = normalise_citizen_id(account.citizen_id);
        ONEWINDOW_TRY(validate_citizen_id(account.citizen_id, clock_.today(), "citizen_id"));
      }
      break;
    case AccountKind::official:
      if (account.department_id.empty()) {
        return Error::invalid("identity.department_required", "department_id", "an official belongs to one department");
      }
      break;
    case AccountKind::supervisor:
    case AccountKind::platform_operator:
      break;
  }
  for (const std::string& role : account.roles) ONEWINDOW_TRY(policy_.check_role(account.kind, role));

  auto password_hash = hash_password(account.password, options_.argon2_memory_kib, options_.argon2_iterations);
  if (!password_hash.ok()) return password_hash.take_error();

  CreatedAccount created;
  created.account.id = new_id("acc");
  store::Value totp_value;
  if (needs_second_factor(account.kind)) {
    auto secret = new_totp_secret();
    if (!secret.ok()) return secret.take_error();
    auto sealed = secrets_.encrypt(secret->raw, crypto::as_bytes(created.account.id));
    if (!sealed.ok()) return sealed.take_error();
    totp_value = store::Blob(sealed->begin(), sealed->end());
    created.totp_secret = secret->base32;
    created.totp_uri = "otpauth://totp/" + options_.issuer + ":" + account.username + "?secret=" + secret->base32 +
                       "&issuer=" + options_.issuer + "&algorithm=SHA1&digits=6&period=30";
  }
  auto optional = [](const std::string& text) { return text.empty() ? store::Value{} : store::Value{text}; };
  std::string created_at = format_timestamp(clock_.now());

  Status written = database_.write([&](store::Session& session) -> Status {
    if (account.kind == AccountKind::official || !account.department_id.empty()) {
      auto department = session.query_one("SELECT 1 FROM department WHERE id = $1", {account.department_id});
      if (!department.ok()) return department.take_error();
      if (!department->has_value()) {
        return Error::invalid("identity.department_not_found", "department_id", "no department " + account.department_id);
      }
    }
    auto inserted = session.execute(
        "INSERT INTO account (id, kind, username, display_name, password_hash, totp_secret, department_id, citizen_id, "
        "legal_person, enterprise_role, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
        {created.account.id, std::string(kind_name(account.kind)), account.username, account.display_name,
         *password_hash, totp_value, optional(account.department_id),
         optional(account.citizen_id), optional(account.legal_person), optional(account.enterprise_role), created_at});
    if (!inserted.ok()) {
      Error error = inserted.take_error();
      if (error.code != "store.unique_violation") return error;
      bool citizen_taken = account.kind == AccountKind::citizen &&
                           error.message.find("citizen") != std::string::npos;
      return citizen_taken
                 ? Error(ErrorKind::conflict, "identity.citizen_registered",
                         "this citizen ID number already has an account", {{"field", "citizen_id"}})
                 : Error(ErrorKind::conflict, "identity.username_taken", "username " + account.username + " is taken",
                         {{"field", "username"}});
    }
    for (const std::string& role : account.roles) {
      auto added = session.execute("INSERT INTO account_role (account_id, role) VALUES ($1, $2)", {created.account.id, role});
      if (!added.ok()) return added.take_error();
    }
    auto recorded = log_.record(
        session, {by ? by->account_id : "system", "", "identity.account_created", "account", created.account.id, "",
                  {{"kind", kind_name(account.kind)}, {"username", account.username},
                   {"department_id", account.department_id}, {"roles", account.roles},
                   {"legal_person", account.legal_person}}});
    if (!recorded.ok()) return recorded.take_error();
    return ok_status();
  });
  if (!written.ok()) return written.take_error();
  auto stored = this->account(created.account.id);
  if (!stored.ok()) return stored.take_error();
  created.account = std::move(stored).value();
  return created;
}

// The principal of an account, read with the same query and conversion as account(), so that
// the two never disagree about an account.
Result<Principal> Directory::principal_of(store::Session& session, std::string_view account_id) const {
  auto row = session.query_one("SELECT " + std::string(account_columns) + " FROM account WHERE id = $1",
                               {std::string(account_id)});
  if (!row.ok()) return row.take_error();
  if (!row->has_value()) {
    return Error(ErrorKind::unauthenticated, "identity.unauthenticated", "the session's account no longer exists");
  }
  auto account = account_from(session, **row);
  if (!account.ok()) return account.take_error();
  if (account->disabled) {
    return Error(ErrorKind::unauthenticated, "identity.unauthenticated", "the session's account no longer exists");
  }
  Principal principal;
  principal.account_id = account->id;
  principal.kind = account->kind;
  principal.username = account->username;
  principal.display_name = account->display_name;
  principal.department_id = account->department_id;
  principal.citizen_id = account->citizen_id;
  principal.legal_person = account->legal_person;
  principal.permissions = policy_.permissions_of(account->kind, account->roles);
  return principal;
}

Result<Account> Directory::account(std::string_view id) const {
  std::string wanted(id);
  return database_.read_value<Account>([&](store::Session& session) -> Result<Account> {
    auto row = session.query_one("SELECT " + std::string(account_columns) + " FROM account WHERE id = $1", {wanted});
    if (!row.ok()) return row.take_error();
    if (!row->has_value()) return Error(ErrorKind::not_found, "identity.account_not_found", "no account " + wanted);
    return account_from(session, **row);
  });
}

Result<Account> Directory::account_by_username(std::string_view username) const {
  std::string wanted(username);
  return database_.read_value<Account>([&](store::Session& session) -> Result<Account> {
    auto row = session.query_one("SELECT " + std::string(account_columns) + " FROM account WHERE username = $1", {wanted});
    if (!row.ok()) return row.take_error();
    if (!row->has_value()) return Error(ErrorKind::not_found, "identity.account_not_found", "no account " + wanted);
    return account_from(session, **row);
  });
}

namespace {

Result<std::vector<Account>> accounts_where(store::Database& database, const std::string& condition,
                                            const store::Parameters& parameters) {
  return database.read_value<std::vector<Account>>([&](store::Session& session) -> Result<std::vector<Account>> {
    auto rows = session.query("SELECT " + std::string(account_columns) + " FROM account WHERE " + condition +
                                  " ORDER BY username",
                              parameters);
    if (!rows.ok()) return rows.take_error();
    std::vector<Account> accounts;
    for (const store::Row& row : *rows) {
      auto account = account_from(session, row);
      if (!account.ok()) return account.take_error();
      accounts.push_back(std::move(account).value());
    }
    return accounts;
  });
}

}  // namespace

Result<std::vector<Account>> Directory::accounts_of_department(std::string_view department_id) const {
  return accounts_where(database_, "department_id = $1", {std::string(department_id)});
}

Result<std::vector<Account>> Directory::accounts_of_kind(AccountKind kind) const {
  return accounts_where(database_, "kind = $1", {std::string(kind_name(kind))});
}

Status Directory::set_roles(std::string_view account_id, const std::vector<std::string>& roles, const Principal& by) {
  auto current = account(account_id);
  if (!current.ok()) return current.take_error();
  for (const std::string& role : roles) ONEWINDOW_TRY(policy_.check_role(current->kind, role));
  std::string id(account_id);
  ForgetWhenDone forget_when_done{*recent_};
  return database_.write([&](store::Session& session) -> Status {
    auto removed = session.execute("DELETE FROM account_role WHERE account_id = $1", {id});
    if (!removed.ok()) return removed.take_error();
    for (const std::string& role : roles) {
      auto added = session.execute("INSERT INTO account_role (account_id, role) VALUES ($1, $2)", {id, role});
      if (!added.ok()) return added.take_error();
    }
    auto recorded = log_.record(session, {by.account_id, "", "identity.roles_changed", "account", id, "",
                                          {{"before", current->roles}, {"after", roles}}});
    if (!recorded.ok()) return recorded.take_error();
    return ok_status();
  });
}

}  // namespace onewindow::identity
