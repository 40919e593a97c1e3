// Logging in and out: passwords, second factor, lockout, rate limit, sessions and tokens.
#include "identity/identity.h"

#include "base/identifiers.h"
#include "identity/recent_lookups.h"
#include "identity/secrets.h"

namespace onewindow::identity {

namespace {

Error login_failed() {
  // One answer for an unknown name, a wrong password and a wrong code: no hint to a guesser.
  return Error(ErrorKind::unauthenticated, "identity.login_failed", "the user name, password or code is wrong");
}

bool needs_second_factor(AccountKind kind) {
  return kind == AccountKind::official || kind == AccountKind::supervisor || kind == AccountKind::platform_operator;
}

std::string token_digest(std::string_view token) { return crypto::to_hex(crypto::sm3(token)); }

struct StoredAccount {
  std::string id;
  AccountKind kind = AccountKind::citizen;
  std::string password_hash;
  std::optional<crypto::Bytes> sealed_totp_secret;
  std::int64_t totp_last_step = 0;
  std::int64_t failed_logins = 0;
  std::string locked_until;
  bool disabled = false;
};

}  // namespace

std::optional<std::chrono::seconds> Directory::address_limited(const std::string& address) {
  std::lock_guard lock(address_mutex_);
  auto& failures = address_failures_[address];
  const auto now = clock_.now();
  std::erase_if(failures, [&](auto time) { return time < now - std::chrono::minutes(1); });
  if (failures.empty()) {
    address_failures_.erase(address);  // so that the map holds only addresses that failed lately
    return std::nullopt;
  }
  if (static_cast<int>(failures.size()) < options_.address_failures_per_minute) return std::nullopt;
  // Free again once the oldest failure of the last minute is a minute old.
  auto wait = std::chrono::ceil<std::chrono::seconds>(failures.front() + std::chrono::minutes(1) - now);
  return std::max(wait, std::chrono::seconds(1));
}

void Directory::count_address_failure(const std::string& address) {
  std::lock_guard lock(address_mutex_);
  address_failures_[address].push_back(clock_.now());
}

Result<Login> Directory::login(const LoginAttempt& attempt) {
  if (auto wait = address_limited(attempt.client_address)) {
    return Error(ErrorKind::too_many_requests, "identity.rate_limited",
                 "too many failed logins from this address; wait a minute",
                 {{"retry_after_seconds", wait->count()}});
  }
  std::string username = attempt.username;
  for (char& c : username) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));

  auto stored = database_.read_value<std::optional<StoredAccount>>(
      [&](store::Session& session) -> Result<std::optional<StoredAccount>> {
        auto row = session.query_one(
            "SELECT id, kind, password_hash, totp_secret, totp_last_step, failed_logins, COALESCE(locked_until, ''), "
            "disabled FROM account WHERE username = $1",
            {username});
        if (!row.ok()) return row.take_error();
        if (!row->has_value()) return std::optional<StoredAccount>();
        const store::Row& found = **row;
        StoredAccount account;
        account.id = found.text(0);
        auto kind = parse_kind(found.text(1));
        if (!kind.ok()) return kind.take_error();
        account.kind = *kind;
        account.password_hash = found.text(2);
        if (!found.is_null(3)) account.sealed_totp_secret = crypto::Bytes(found.blob(3).begin(), found.blob(3).end());
        account.totp_last_step = found.integer(4);
        account.failed_logins = found.integer(5);
        account.locked_until = found.text(6);
        account.disabled = found.integer(7) != 0;
        return std::optional<StoredAccount>(std::move(account));
      });
  if (!stored.ok()) return stored.take_error();
  if (!stored->has_value()) {
    spend_verification_time(options_.argon2_memory_kib, options_.argon2_iterations);
    count_address_failure(attempt.client_address);
    return login_failed();
  }
  StoredAccount& account = **stored;
  const auto now = clock_.now();
  const std::string now_text = format_timestamp(now);
  if (!account.locked_until.empty() && account.locked_until > now_text) {
    auto until = parse_timestamp(account.locked_until, "locked_until");
    if (!until.ok()) return until.take_error();
    auto wait = std::max(std::chrono::ceil<std::chrono::seconds>(*until - now), std::chrono::seconds(1));
    return Error(ErrorKind::too_many_requests, "identity.locked",
                 "the account is locked after repeated failed logins; try again later",
                 {{"locked_until", account.locked_until}, {"retry_after_seconds", wait.count()}});
  }

  // The expensive check runs outside any transaction so that it never holds the write lock.
  bool password_ok = verify_password(account.password_hash, attempt.password) && !account.disabled;
  std::optional<std::int64_t> totp_step;
  bool second_factor_missing = false;
  if (password_ok && needs_second_factor(account.kind)) {
    if (attempt.totp.empty()) {
      second_factor_missing = true;
    } else if (account.sealed_totp_secret) {
      auto secret = secrets_.decrypt(*account.sealed_totp_secret, crypto::as_bytes(account.id));
      if (!secret.ok()) return secret.take_error();
      totp_step = matching_totp_step(*secret, attempt.totp, now);
      // A code already used (or an older one) is refused: a code seen over a shoulder is spent.
      if (totp_step && *totp_step <= account.totp_last_step) totp_step.reset();
    }
  }
  if (second_factor_missing) {
    return Error(ErrorKind::unauthenticated, "identity.second_factor_required",
                 "this account needs the 6-digit code from its authenticator", {{"field", "totp"}});
  }
  bool success = password_ok && (!needs_second_factor(account.kind) || totp_step.has_value());

  if (!success) {
    count_address_failure(attempt.client_address);
    Status counted = database_.write([&](store::Session& session) -> Status {
      bool lock = account.failed_logins + 1 >= options_.lockout_threshold;
      auto updated = session.execute(
          "UPDATE account SET failed_logins = $2, locked_until = $3 WHERE id = $1",
          {account.id, std::int64_t{lock ? 0 : account.failed_logins + 1},
           lock ? store::Value{format_timestamp(now + options_.lockout_duration)} : store::Value{}});
      if (!updated.ok()) return updated.take_error();
      if (lock) {
        auto recorded = log_.record(session, {"system", "", "identity.account_locked", "account", account.id, "",
                                              {{"failed_logins", options_.lockout_threshold}}});
        if (!recorded.ok()) return recorded.take_error();
      }
      return ok_status();
    });
    if (!counted.ok()) return counted.take_error();
    return login_failed();
  }

  auto token_bytes = crypto::random_bytes(32);
  auto csrf_bytes = crypto::random_bytes(16);
  if (!token_bytes.ok()) return token_bytes.take_error();
  if (!csrf_bytes.ok()) return csrf_bytes.take_error();
  Login login;
  login.token = crypto::base64url_encode(*token_bytes);
  login.lifetime = attempt.kind == SessionKind::browser ? options_.browser_session_lifetime : options_.bearer_token_lifetime;
  login.expires_at = now + login.lifetime;
  std::string session_id = new_id("ses");
  std::string csrf_token = crypto::to_hex(*csrf_bytes);
  Status opened = database_.write([&](store::Session& session) -> Status {
    auto updated = session.execute(
        "UPDATE account SET failed_logins = 0, locked_until = NULL, totp_last_step = $2 WHERE id = $1",
        {account.id, totp_step.value_or(account.totp_last_step)});
    if (!updated.ok()) return updated.take_error();
    auto inserted = session.execute(
        "INSERT INTO session (id, token_digest, account_id, kind, csrf_token, created_at, expires_at) "
        "VALUES ($1, $2, $3, $4, $5, $6, $7)",
        {session_id, token_digest(login.token), account.id,
         std::string(attempt.kind == SessionKind::browser ? "browser" : "bearer"), csrf_token, now_text,
         format_timestamp(login.expires_at)});
    if (!inserted.ok()) return inserted.take_error();
    if (needs_second_factor(account.kind)) {
      auto recorded = log_.record(session, {account.id, "", "identity.login", "session", session_id, "",
                                            {{"kind", attempt.kind == SessionKind::browser ? "browser" : "bearer"}}});
      if (!recorded.ok()) return recorded.take_error();
    }
    auto principal = principal_of(session, account.id);
    if (!principal.ok()) return principal.take_error();
    login.principal = std::move(principal).value();
    return ok_status();
  });
  if (!opened.ok()) return opened.take_error();
  login.principal.session_id = session_id;
  login.principal.authenticated_at = now;
  login.principal.browser_session = attempt.kind == SessionKind::browser;
  login.principal.csrf_token = csrf_token;
  return login;
}

Result<Principal> Directory::authenticate(std::string_view token, SessionKind kind) const {
  auto unauthenticated = [] {
    return Error(ErrorKind::unauthenticated, "identity.unauthenticated", "log in first: the session is unknown or has ended");
  };
  if (token.empty() || token.size() > 128) return unauthenticated();
  std::string digest = token_digest(token);
  const auto now = clock_.now();
  std::string wanted_kind = kind == SessionKind::browser ? "browser" : "bearer";
  std::string key = wanted_kind + ":" + digest;
  if (auto kept = recent_->principal(key, now)) return std::move(*kept);
  std::uint64_t generation = recent_->generation();
  std::chrono::system_clock::time_point ends_at;
  auto principal = database_.read_value<Principal>([&](store::Session& session) -> Result<Principal> {
    auto row = session.query_one(
        "SELECT id, account_id, csrf_token, created_at, expires_at FROM session WHERE token_digest = $1 AND kind = $2 "
        "AND revoked_at IS NULL AND expires_at > $3",
        {digest, wanted_kind, format_timestamp(now)});
    if (!row.ok()) return row.take_error();
    if (!row->has_value()) return unauthenticated();
    auto principal = principal_of(session, (*row)->text(1));
    if (!principal.ok()) return principal.take_error();
    principal->session_id = (*row)->text(0);
    principal->csrf_token = (*row)->text(2);
    auto logged_in_at = parse_timestamp((*row)->text(3), "created_at");
    if (!logged_in_at.ok()) return logged_in_at.take_error();
    principal->authenticated_at = *logged_in_at;
    principal->browser_session = kind == SessionKind::browser;
    auto expires_at = parse_timestamp((*row)->text(4), "expires_at");
    if (!expires_at.ok()) return expires_at.take_error();
    ends_at = *expires_at;
    return principal;
  });
  if (principal.ok()) recent_->keep_principal(key, *principal, ends_at, generation);
  return principal;
}

Status Directory::logout(const Principal& principal) {
  std::string now = format_timestamp(clock_.now());
  ForgetWhenDone forget_when_done{*recent_};
  return database_.write([&](store::Session& session) -> Status {
    auto updated = session.execute("UPDATE session SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL",
                                   {principal.session_id, now});
    if (!updated.ok()) return updated.take_error();
    return ok_status();
  });
}

Status Directory::logout_everywhere(const Principal& principal) {
  std::string now = format_timestamp(clock_.now());
  ForgetWhenDone forget_when_done{*recent_};
  return database_.write([&](store::Session& session) -> Status {
    auto updated = session.execute("UPDATE session SET revoked_at = $2 WHERE account_id = $1 AND revoked_at IS NULL",
                                   {principal.account_id, now});
    if (!updated.ok()) return updated.take_error();
    auto recorded = log_.record(session, {principal.account_id, "", "identity.logout_everywhere", "account",
                                          principal.account_id, "", {{"sessions_ended", *updated}}});
    if (!recorded.ok()) return recorded.take_error();
    return ok_status();
  });
}

Result<std::string> Directory::totp_code(std::string_view base32_secret, std::chrono::system_clock::time_point at) {
  auto secret = decode_base32(base32_secret);
  if (!secret.ok()) return secret.take_error();
  return totp_code_at(*secret, at);
}

}  // namespace onewindow::identity
