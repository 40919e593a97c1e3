// The certificate authority over the store: tables, issuing, rotation, revocation, CRLs.
//
// Every act that writes runs inside one Database::write. Key generation and signing happen
// inside the transaction too: they take about a millisecond, and doing them there keeps the
// check (is there an active certificate?) and the act (supersede it, insert the new one) in
// one snapshot. Under PostgreSQL two processes may still race; the partial unique index on
// active certificates and the CRL number's primary key catch that, and the act is retried.
#include "pki/pki.h"

#include "base/identifiers.h"

#include <openssl/crypto.h>

#include <algorithm>
#include <thread>
#include <utility>

namespace onewindow::pki {

struct CertificateAuthority::State {
  store::Database* database;
  const Clock* clock;
  crypto::Sm4Envelope envelope;
  NodeIdentity node;
  AuthorityOptions options;
  CertificateRecord root_record;
  crypto::Certificate root;
  crypto::PrivateKey root_key;
  // Set once by record_acts_in, before the authority serves requests.
  mutable audit::TransparencyLog* log = nullptr;
};

namespace {

using TimePoint = std::chrono::system_clock::time_point;

constexpr std::size_t serial_size = 16;
constexpr std::size_t key_encryption_key_size = 16;
constexpr std::size_t common_name_limit = 64;  // X.520 ub-common-name, in characters
constexpr std::string_view root_name_prefix = "onewindow Root CA ";
constexpr std::string_view node_name_prefix = "onewindow node ";
constexpr std::string_view organization = "onewindow";
constexpr int attempts = 5;

// ---- SQL --------------------------------------------------------------------------------------

// Statuses and kinds are the lower-case names of the enums. Timestamps are format_timestamp
// text, which sorts in time order.
constexpr const char* create_certificate_table = R"sql(
CREATE TABLE pki_certificate (
  serial TEXT PRIMARY KEY,
  subject_kind TEXT NOT NULL CHECK (subject_kind IN ('root', 'node', 'department')),
  subject_key TEXT NOT NULL,
  subject_name TEXT NOT NULL,
  issuer_serial TEXT REFERENCES pki_certificate (serial),
  supersedes TEXT REFERENCES pki_certificate (serial),
  certificate_pem TEXT NOT NULL,
  not_before TEXT NOT NULL,
  not_after TEXT NOT NULL,
  issued_at TEXT NOT NULL,
  status TEXT NOT NULL CHECK (status IN ('active', 'superseded', 'revoked')),
  superseded_at TEXT,
  revoked_at TEXT,
  revocation_reason TEXT,
  CHECK ((status = 'revoked') = (revoked_at IS NOT NULL))
);
CREATE UNIQUE INDEX pki_certificate_one_active ON pki_certificate (subject_kind, subject_key)
  WHERE status = 'active';
CREATE INDEX pki_certificate_by_subject ON pki_certificate (subject_kind, subject_key, issued_at);
CREATE INDEX pki_certificate_revoked ON pki_certificate (issuer_serial) WHERE status = 'revoked'
)sql";

// The private key of a certificate as an SM4 envelope whose associated data is the serial;
// deleted when the certificate is superseded or revoked. BYTEA serves both engines (SQLite keeps
// bytes in it as they are).
constexpr const char* create_private_key_table = R"sql(
CREATE TABLE pki_private_key (
  serial TEXT PRIMARY KEY REFERENCES pki_certificate (serial),
  envelope BYTEA NOT NULL
)
)sql";

constexpr const char* create_revocation_list_table = R"sql(
CREATE TABLE pki_revocation_list (
  number BIGINT PRIMARY KEY,
  issuer_serial TEXT NOT NULL REFERENCES pki_certificate (serial),
  this_update TEXT NOT NULL,
  next_update TEXT NOT NULL,
  revocation_list_pem TEXT NOT NULL
)
)sql";

#define ONEWINDOW_PKI_CERTIFICATE_COLUMNS                                                  \
  "serial, subject_kind, subject_key, subject_name, issuer_serial, supersedes, "           \
  "certificate_pem, not_before, not_after, issued_at, status, superseded_at, revoked_at, " \
  "revocation_reason"

constexpr const char* select_certificate =
    "SELECT " ONEWINDOW_PKI_CERTIFICATE_COLUMNS " FROM pki_certificate WHERE serial = $1";
constexpr const char* select_active_certificate =
    "SELECT " ONEWINDOW_PKI_CERTIFICATE_COLUMNS
    " FROM pki_certificate WHERE subject_kind = $1 AND subject_key = $2 AND status = 'active'";
constexpr const char* select_certificates =
    "SELECT " ONEWINDOW_PKI_CERTIFICATE_COLUMNS
    " FROM pki_certificate"
    " WHERE (CAST($1 AS TEXT) IS NULL OR subject_kind = $1)"
    " AND (CAST($2 AS TEXT) IS NULL OR subject_key = $2)"
    " AND (CAST($3 AS TEXT) IS NULL OR status = $3)"
    " ORDER BY issued_at DESC, serial";
constexpr const char* select_active_node_certificate =
    "SELECT serial, certificate_pem FROM pki_certificate "
    "WHERE subject_kind = 'node' AND status = 'active' ORDER BY issued_at DESC";
constexpr const char* select_unrevoked_node_certificates =
    "SELECT serial, certificate_pem FROM pki_certificate "
    "WHERE subject_kind = 'node' AND status <> 'revoked' ORDER BY issued_at DESC";
constexpr const char* count_certificates = "SELECT COUNT(*) FROM pki_certificate";
constexpr const char* select_any_active_root =
    "SELECT subject_key FROM pki_certificate WHERE subject_kind = 'root' AND status = 'active'";
constexpr const char* insert_certificate =
    "INSERT INTO pki_certificate (serial, subject_kind, subject_key, subject_name, "
    "issuer_serial, supersedes, certificate_pem, not_before, not_after, issued_at, status) "
    "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, 'active')";
// Changes nothing; on PostgreSQL it takes the lock of the subject's active row, so that acts on
// one subject queue behind each other instead of failing (SQLite serialises all writes anyway).
constexpr const char* lock_active_certificate =
    "UPDATE pki_certificate SET status = 'active' "
    "WHERE subject_kind = $1 AND subject_key = $2 AND status = 'active'";
constexpr const char* supersede_certificate =
    "UPDATE pki_certificate SET status = 'superseded', superseded_at = $2 "
    "WHERE serial = $1 AND status = 'active'";
constexpr const char* revoke_certificate =
    "UPDATE pki_certificate SET status = 'revoked', revoked_at = $2, revocation_reason = $3 "
    "WHERE serial = $1 AND status <> 'revoked'";
constexpr const char* insert_private_key =
    "INSERT INTO pki_private_key (serial, envelope) VALUES ($1, $2)";
constexpr const char* select_private_key = "SELECT envelope FROM pki_private_key WHERE serial = $1";
constexpr const char* delete_private_key = "DELETE FROM pki_private_key WHERE serial = $1";
// Revoked certificates of this issuer that have not expired by thisUpdate (RFC 5280 lets an
// expired certificate leave the CRL).
constexpr const char* select_revoked =
    "SELECT serial, revoked_at, revocation_reason FROM pki_certificate "
    "WHERE status = 'revoked' AND issuer_serial = $1 AND not_after >= $2 ORDER BY serial";
constexpr const char* select_next_revocation_list_number =
    "SELECT COALESCE(MAX(number), 0) + 1 FROM pki_revocation_list";
constexpr const char* select_newest_revocation_list =
    "SELECT number, this_update, next_update, revocation_list_pem FROM pki_revocation_list "
    "ORDER BY number DESC LIMIT 1";
constexpr const char* insert_revocation_list =
    "INSERT INTO pki_revocation_list (number, issuer_serial, this_update, next_update, "
    "revocation_list_pem) VALUES ($1, $2, $3, $4, $5)";

#undef ONEWINDOW_PKI_CERTIFICATE_COLUMNS

// ---- Small helpers --------------------------------------------------------------------------

Error not_found(std::string message) {
  return Error(ErrorKind::not_found, "pki.certificate_not_found", std::move(message));
}

Error corrupt(std::string message) {
  return Error(ErrorKind::internal, "pki.corrupt_record", std::move(message));
}

// Another writer got there first (PostgreSQL): the act may be tried again.
Error concurrent_change() {
  return Error(ErrorKind::conflict, "pki.concurrent_change",
               "another writer changed the certificate at the same time; try again");
}

bool retryable(const Error& error) {
  return error.code == "store.unique_violation" || error.code == "pki.concurrent_change";
}

template <typename T>
Result<T> write_with_retry(store::Database& database,
                           const std::function<Result<T>(store::Session&)>& work) {
  for (int attempt = 1;; ++attempt) {
    Result<T> result = database.write_value<T>(work);
    if (result.ok() || attempt == attempts || !retryable(result.error())) return result;
    // A few milliseconds, different for each contender, so that they do not collide again.
    auto jitter = crypto::random_bytes(1);
    int pause = attempt * 2 + (jitter.ok() ? (*jitter)[0] % 8 : 0);
    std::this_thread::sleep_for(std::chrono::milliseconds(pause));
  }
}

TimePoint whole_seconds(TimePoint time) { return std::chrono::floor<std::chrono::seconds>(time); }

// Now, to the millisecond that format_timestamp keeps, so that a record returned by an act
// equals the same record read back.
TimePoint now_of(const Clock& clock) {
  return std::chrono::floor<std::chrono::milliseconds>(clock.now());
}

std::string associated_data(std::string_view serial) {
  return "onewindow pki private key " + std::string(serial);
}

// Counts UTF-8 characters, refusing control characters and malformed text.
Result<std::size_t> checked_characters(std::string_view text, std::string_view field) {
  std::size_t characters = 0;
  for (std::size_t i = 0; i < text.size();) {
    auto byte = static_cast<unsigned char>(text[i]);
    std::size_t length = byte < 0x80           ? 1
                         : (byte >> 5) == 0x6  ? 2
                         : (byte >> 4) == 0xe  ? 3
                         : (byte >> 3) == 0x1e ? 4
                                               : 0;
    bool valid = length != 0 && i + length <= text.size();
    for (std::size_t j = 1; valid && j < length; ++j) {
      valid = (static_cast<unsigned char>(text[i + j]) >> 6) == 0x2;
    }
    if (!valid || byte < 0x20 || byte == 0x7f) {
      return Error::invalid("pki.bad_name", std::string(field),
                            std::string(field) + " must be UTF-8 text without control characters");
    }
    i += length;
    ++characters;
  }
  return characters;
}

Status check_name(std::string_view name, std::size_t limit, std::string_view field,
                  std::string_view code) {
  auto characters = checked_characters(name, field);
  if (!characters.ok()) {
    Error error = characters.take_error();
    error.code = std::string(code);
    return error;
  }
  if (*characters == 0 || *characters > limit || name.front() == ' ' || name.back() == ' ') {
    return Error::invalid(std::string(code), std::string(field),
                          std::string(field) + " must be 1 to " + std::to_string(limit) +
                              " characters without leading or trailing spaces");
  }
  return ok_status();
}

Result<std::string> normalised_uscc(std::string_view uscc) {
  std::string code = normalise_unified_social_credit_code(uscc);
  ONEWINDOW_TRY(validate_unified_social_credit_code(code, "uscc"));
  return code;
}

Result<std::string> new_serial() {
  auto bytes = crypto::random_bytes(serial_size);
  if (!bytes.ok()) return bytes.take_error();
  // 0x40 to 0x7f in the first byte: positive, and always 16 bytes (32 hex digits) long, with
  // 126 random bits.
  (*bytes)[0] = static_cast<std::uint8_t>(0x40 | ((*bytes)[0] & 0x3f));
  return crypto::to_hex(*bytes);
}

store::Value text_or_null(const std::string& text) {
  return text.empty() ? store::Value(std::monostate{}) : store::Value(text);
}

Result<TimePoint> stored_time(const std::string& text, std::string_view column) {
  auto time = parse_timestamp(text, column);
  if (!time.ok()) return corrupt("pki_certificate." + std::string(column) + " is not a timestamp");
  return *time;
}

Result<CertificateRecord> record_of(const store::Row& row) {
  CertificateRecord record;
  record.serial = row.text(0);
  auto kind = parse_subject_kind(row.text(1));
  if (!kind.ok())
    return corrupt("pki_certificate.subject_kind of " + record.serial + " is unknown");
  record.subject_kind = *kind;
  record.subject_key = row.text(2);
  record.subject_name = row.text(3);
  record.issuer_serial = row.optional_text(4).value_or("");
  record.supersedes = row.optional_text(5).value_or("");
  record.certificate_pem = row.text(6);
  auto not_before = stored_time(row.text(7), "not_before");
  auto not_after = stored_time(row.text(8), "not_after");
  auto issued_at = stored_time(row.text(9), "issued_at");
  if (!not_before.ok()) return not_before.take_error();
  if (!not_after.ok()) return not_after.take_error();
  if (!issued_at.ok()) return issued_at.take_error();
  record.not_before = *not_before;
  record.not_after = *not_after;
  record.issued_at = *issued_at;
  auto status = parse_certificate_status(row.text(10));
  if (!status.ok()) return corrupt("pki_certificate.status of " + record.serial + " is unknown");
  record.status = *status;
  if (auto text = row.optional_text(11)) {
    auto time = stored_time(*text, "superseded_at");
    if (!time.ok()) return time.take_error();
    record.superseded_at = *time;
  }
  if (auto text = row.optional_text(12)) {
    auto time = stored_time(*text, "revoked_at");
    if (!time.ok()) return time.take_error();
    record.revoked_at = *time;
  }
  if (auto text = row.optional_text(13)) {
    auto reason = crypto::parse_revocation_reason(*text);
    if (!reason.ok())
      return corrupt("pki_certificate.revocation_reason of " + record.serial + " is unknown");
    record.revocation_reason = *reason;
  }
  return record;
}

Result<std::optional<CertificateRecord>> find_one(store::Session& session, const char* sql,
                                                  const store::Parameters& parameters) {
  auto row = session.query_one(sql, parameters);
  if (!row.ok()) return row.take_error();
  if (!*row) return std::optional<CertificateRecord>();
  auto record = record_of(**row);
  if (!record.ok()) return record.take_error();
  return std::optional<CertificateRecord>(std::move(record).value());
}

Result<std::optional<CertificateRecord>> find_active(store::Session& session, SubjectKind kind,
                                                     const std::string& subject_key) {
  return find_one(session, select_active_certificate,
                  {std::string(subject_kind_name(kind)), subject_key});
}

// find_active for an act that will replace the active certificate: waits for other writers of
// the same subject first.
Result<std::optional<CertificateRecord>> find_active_for_update(store::Session& session,
                                                                SubjectKind kind,
                                                                const std::string& subject_key) {
  auto locked =
      session.execute(lock_active_certificate, {std::string(subject_kind_name(kind)), subject_key});
  if (!locked.ok()) return locked.take_error();
  return find_active(session, kind, subject_key);
}

// Decrypts and parses the private key of a certificate; pki.wrong_key_encryption_key when the
// envelope does not open.
Result<crypto::PrivateKey> load_key(store::Session& session, const crypto::Sm4Envelope& envelope,
                                    const std::string& serial) {
  auto row = session.query_one(select_private_key, {serial});
  if (!row.ok()) return row.take_error();
  if (!*row)
    return not_found("the certificate " + serial +
                     " has no private key (it was superseded or revoked)");
  std::string data = associated_data(serial);
  auto plaintext = envelope.decrypt((*row)->blob(0), crypto::as_bytes(data));
  if (!plaintext.ok()) {
    return Error(ErrorKind::invalid_argument, "pki.wrong_key_encryption_key",
                 "the private key of certificate " + serial +
                     " does not decrypt: the key-encryption key is not the one the keys were "
                     "stored under (or the row was altered)");
  }
  std::string pem(plaintext->begin(), plaintext->end());
  OPENSSL_cleanse(plaintext->data(), plaintext->size());
  auto key = crypto::PrivateKey::from_pem(pem);
  OPENSSL_cleanse(pem.data(), pem.size());
  if (!key.ok()) return corrupt("the private key of certificate " + serial + " does not parse");
  return key;
}

// What a new certificate is for, before its key and serial exist.
struct Subject {
  SubjectKind kind;
  std::string key;   // USCC or division code
  std::string name;  // department or node name
};

crypto::DistinguishedName distinguished_name(const Subject& subject, const NodeIdentity& node) {
  crypto::DistinguishedName name;
  name.country = "CN";
  name.locality = node.name;
  name.serial_number = subject.key;
  switch (subject.kind) {
    case SubjectKind::root:
      name.organization = std::string(organization);
      name.common_name = std::string(root_name_prefix) + subject.name;
      break;
    case SubjectKind::node:
      name.organization = std::string(organization);
      name.common_name = std::string(node_name_prefix) + subject.name;
      break;
    case SubjectKind::department:
      name.organization = subject.name;
      name.common_name = subject.name;
      break;
  }
  return name;
}

crypto::CertificateProfile profile_for(const Subject& subject, const NodeIdentity& node,
                                       const AuthorityOptions& options, TimePoint now,
                                       TimePoint ceiling) {
  crypto::CertificateProfile profile;
  profile.subject = distinguished_name(subject, node);
  profile.not_before = whole_seconds(now - options.backdating);
  std::chrono::days validity = subject.kind == SubjectKind::root   ? options.root_validity
                               : subject.kind == SubjectKind::node ? options.node_validity
                                                                   : options.department_validity;
  // A certificate outliving its issuer would fail validation in its last days anyway.
  profile.not_after = std::min(whole_seconds(now + validity), ceiling);
  if (subject.kind == SubjectKind::root) {
    profile.certificate_authority = true;
    profile.path_length = 0;  // it issues end certificates only
    profile.key_usage.certificate_sign = true;
    profile.key_usage.crl_sign = true;
  } else {
    profile.key_usage.digital_signature = true;
    profile.key_usage.non_repudiation = true;
    profile.revocation_list_url = options.revocation_list_url;
  }
  return profile;
}

// Inserts the certificate row and its encrypted key.
Status insert(store::Session& session, const crypto::Sm4Envelope& envelope,
              const CertificateRecord& record, const crypto::PrivateKey& key) {
  auto inserted = session.execute(
      insert_certificate,
      {record.serial, std::string(subject_kind_name(record.subject_kind)), record.subject_key,
       record.subject_name, text_or_null(record.issuer_serial), text_or_null(record.supersedes),
       record.certificate_pem, format_timestamp(record.not_before),
       format_timestamp(record.not_after), format_timestamp(record.issued_at)});
  if (!inserted.ok()) return inserted.take_error();
  auto pem = key.to_pem();
  if (!pem.ok()) return pem.take_error();
  std::string data = associated_data(record.serial);
  auto sealed = envelope.encrypt(crypto::as_bytes(*pem), crypto::as_bytes(data));
  OPENSSL_cleanse(pem->data(), pem->size());
  if (!sealed.ok()) return sealed.take_error();
  auto stored = session.execute(insert_private_key,
                                {record.serial, store::Blob(sealed->begin(), sealed->end())});
  if (!stored.ok()) return stored.take_error();
  return ok_status();
}

CertificateRecord record_for(const crypto::Certificate& certificate, const Subject& subject,
                             std::string serial, std::string issuer_serial, std::string supersedes,
                             TimePoint now) {
  CertificateRecord record;
  record.serial = std::move(serial);
  record.subject_kind = subject.kind;
  record.subject_key = subject.key;
  record.subject_name = subject.name;
  record.issuer_serial = std::move(issuer_serial);
  record.supersedes = std::move(supersedes);
  record.certificate_pem = certificate.pem();
  record.not_before = certificate.not_before();
  record.not_after = certificate.not_after();
  record.issued_at = now;
  record.status = CertificateStatus::active;
  return record;
}

// Creates the self-signed root.
Result<CertificateRecord> create_root(store::Session& session, const crypto::Sm4Envelope& envelope,
                                      const NodeIdentity& node, const AuthorityOptions& options,
                                      TimePoint now) {
  auto key = crypto::PrivateKey::generate();
  if (!key.ok()) return key.take_error();
  auto serial = new_serial();
  if (!serial.ok()) return serial.take_error();
  Subject subject{SubjectKind::root, node.division_code, node.name};
  crypto::CertificateProfile profile = profile_for(subject, node, options, now, TimePoint::max());
  profile.serial = crypto::from_hex(*serial).value();
  auto certificate = crypto::issue_self_signed_certificate(profile, *key);
  if (!certificate.ok()) return certificate.take_error();
  CertificateRecord record = record_for(*certificate, subject, *serial, "", "", now);
  ONEWINDOW_TRY(insert(session, envelope, record, *key));
  // Transparency log: record the creation of the root CA here, in this transaction.
  return record;
}

// Issues subject a new key and certificate under the root, superseding `previous` (the
// subject's active certificate) if there is one.
Result<CertificateRecord> issue_in(store::Session& session,
                                   const CertificateAuthority::State& state, const Subject& subject,
                                   const std::optional<CertificateRecord>& previous,
                                   TimePoint now, std::string_view actor = "system") {
  if (previous) {
    auto changed =
        session.execute(supersede_certificate, {previous->serial, format_timestamp(now)});
    if (!changed.ok()) return changed.take_error();
    if (*changed != 1) return concurrent_change();
    auto deleted = session.execute(delete_private_key, {previous->serial});
    if (!deleted.ok()) return deleted.take_error();
  }
  auto key = crypto::PrivateKey::generate();
  if (!key.ok()) return key.take_error();
  auto serial = new_serial();
  if (!serial.ok()) return serial.take_error();
  crypto::CertificateProfile profile =
      profile_for(subject, state.node, state.options, now, state.root.not_after());
  profile.serial = crypto::from_hex(*serial).value();
  auto certificate =
      crypto::issue_certificate(profile, key->public_key(), state.root, state.root_key);
  if (!certificate.ok()) return certificate.take_error();
  CertificateRecord record = record_for(*certificate, subject, *serial, state.root_record.serial,
                                        previous ? previous->serial : std::string(), now);
  ONEWINDOW_TRY(insert(session, state.envelope, record, *key));
  if (state.log != nullptr) {
    auto recorded = state.log->record(
        session, {std::string(actor), "", previous ? "pki.certificate_rotated" : "pki.certificate_issued",
                  "certificate", record.serial, "",
                  {{"subject_kind", subject_kind_name(subject.kind)}, {"subject", subject.key},
                   {"supersedes", previous ? previous->serial : std::string()}}});
    if (!recorded.ok()) return recorded.take_error();
  }
  return record;
}

// Makes, stores and returns a new CRL of the root.
Result<crypto::RevocationList> make_revocation_list(store::Session& session,
                                                    const CertificateAuthority::State& state,
                                                    TimePoint now) {
  auto number_row = session.query_one(select_next_revocation_list_number);
  if (!number_row.ok()) return number_row.take_error();
  std::int64_t number = (*number_row)->integer(0);
  crypto::RevocationListProfile profile;
  profile.this_update = whole_seconds(now);
  profile.next_update = profile.this_update + state.options.revocation_list_validity;
  profile.number = static_cast<std::uint64_t>(number);
  auto rows = session.query(select_revoked,
                            {state.root_record.serial, format_timestamp(profile.this_update)});
  if (!rows.ok()) return rows.take_error();
  for (const store::Row& row : *rows) {
    crypto::RevokedCertificate entry;
    auto serial = crypto::from_hex(row.text(0));
    auto revoked_at = stored_time(row.text(1), "revoked_at");
    auto reason = crypto::parse_revocation_reason(row.optional_text(2).value_or("unspecified"));
    if (!serial.ok() || !revoked_at.ok() || !reason.ok()) {
      return corrupt("the revoked certificate " + row.text(0) + " has a malformed row");
    }
    entry.serial = std::move(serial).value();
    entry.revoked_at = *revoked_at;
    entry.reason = *reason;
    profile.revoked.push_back(std::move(entry));
  }
  auto list = crypto::issue_revocation_list(profile, state.root, state.root_key);
  if (!list.ok()) return list.take_error();
  auto stored =
      session.execute(insert_revocation_list,
                      {number, state.root_record.serial, format_timestamp(profile.this_update),
                       format_timestamp(profile.next_update), list->pem()});
  if (!stored.ok()) return stored.take_error();
  return list;
}

// The newest stored CRL if it is less than half-way through its validity.
Result<std::optional<crypto::RevocationList>> fresh_revocation_list(store::Session& session,
                                                                    TimePoint now) {
  auto row = session.query_one(select_newest_revocation_list);
  if (!row.ok()) return row.take_error();
  if (!*row) return std::optional<crypto::RevocationList>();
  auto this_update = stored_time((*row)->text(1), "this_update");
  auto next_update = stored_time((*row)->text(2), "next_update");
  if (!this_update.ok() || !next_update.ok()) return corrupt("a stored CRL has a malformed time");
  if (now >= *this_update + (*next_update - *this_update) / 2 || now < *this_update) {
    return std::optional<crypto::RevocationList>();
  }
  auto list = crypto::RevocationList::from_pem((*row)->text(3));
  if (!list.ok()) return corrupt("a stored CRL does not parse");
  return std::optional<crypto::RevocationList>(std::move(list).value());
}

Status check_node(const NodeIdentity& node) {
  if (node.division_code.size() != 6 ||
      !std::all_of(node.division_code.begin(), node.division_code.end(),
                   [](char c) { return c >= '0' && c <= '9'; })) {
    return Error::invalid("pki.bad_node_identity", "node.division_code",
                          "the node's division code is 6 digits (GB/T 2260), like 370200");
  }
  return check_name(node.name, common_name_limit - root_name_prefix.size(), "node.name",
                    "pki.bad_node_identity");
}

}  // namespace

// ---- Names ------------------------------------------------------------------------------------

std::string_view subject_kind_name(SubjectKind kind) {
  switch (kind) {
    case SubjectKind::root:
      return "root";
    case SubjectKind::node:
      return "node";
    case SubjectKind::department:
      return "department";
  }
  return "department";
}

Result<SubjectKind> parse_subject_kind(std::string_view text, std::string_view field) {
  for (SubjectKind kind : {SubjectKind::root, SubjectKind::node, SubjectKind::department}) {
    if (subject_kind_name(kind) == text) return kind;
  }
  return Error::invalid("pki.bad_subject_kind", std::string(field),
                        std::string(field) + " must be root, node or department");
}

std::string_view certificate_status_name(CertificateStatus status) {
  switch (status) {
    case CertificateStatus::active:
      return "active";
    case CertificateStatus::superseded:
      return "superseded";
    case CertificateStatus::revoked:
      return "revoked";
  }
  return "active";
}

Result<CertificateStatus> parse_certificate_status(std::string_view text, std::string_view field) {
  for (CertificateStatus status :
       {CertificateStatus::active, CertificateStatus::superseded, CertificateStatus::revoked}) {
    if (certificate_status_name(status) == text) return status;
  }
  return Error::invalid("pki.bad_status", std::string(field),
                        std::string(field) + " must be active, superseded or revoked");
}

Result<crypto::RevocationReason> parse_revocation_reason(std::string_view text,
                                                         std::string_view field) {
  using crypto::RevocationReason;
  for (RevocationReason reason :
       {RevocationReason::unspecified, RevocationReason::key_compromise,
        RevocationReason::affiliation_changed, RevocationReason::superseded,
        RevocationReason::cessation_of_operation, RevocationReason::privilege_withdrawn}) {
    if (crypto::revocation_reason_name(reason) == text) return reason;
  }
  return Error::invalid("pki.bad_revocation_reason", std::string(field),
                        std::string(field) +
                            " must be one of unspecified, key_compromise, affiliation_changed, "
                            "superseded, cessation_of_operation, privilege_withdrawn");
}

// ---- CertificateAuthority -------------------------------------------------------------------

std::vector<store::Migration> CertificateAuthority::migrations() {
  return {
      {"pki", 1, "certificates", create_certificate_table, ""},
      {"pki", 2, "private keys", create_private_key_table, ""},
      {"pki", 3, "revocation lists", create_revocation_list_table, ""},
  };
}

Result<CertificateAuthority> CertificateAuthority::open(
    store::Database& database, std::span<const std::uint8_t> key_encryption_key, const Clock& clock,
    NodeIdentity node, AuthorityOptions options) {
  if (key_encryption_key.size() != key_encryption_key_size) {
    return Error::invalid("pki.bad_key_encryption_key", "key_encryption_key",
                          "the key-encryption key is 16 bytes (32 hex digits), not " +
                              std::to_string(key_encryption_key.size()) + " bytes");
  }
  ONEWINDOW_TRY(check_node(node));
  auto envelope = crypto::Sm4Envelope::create(key_encryption_key);
  if (!envelope.ok()) return envelope.take_error();

  // Loads or creates the root, then makes sure the node has a current certificate.
  std::function<Result<CertificateAuthority>(store::Session&)> work =
      [&](store::Session& session) -> Result<CertificateAuthority> {
    TimePoint now = now_of(clock);
    auto root_record = find_active(session, SubjectKind::root, node.division_code);
    if (!root_record.ok()) return root_record.take_error();
    if (!*root_record) {
      auto any = session.query_one(count_certificates);
      if (!any.ok()) return any.take_error();
      if ((*any)->integer(0) > 0) {
        auto other_root = session.query_one(select_any_active_root);
        if (!other_root.ok()) return other_root.take_error();
        if (*other_root) {
          return Error(ErrorKind::conflict, "pki.node_identity_changed",
                       "the certificate authority in this database belongs to the node with "
                       "division code " +
                           (*other_root)->text(0) + ", not " + node.division_code,
                       nlohmann::json{{"stored", (*other_root)->text(0)},
                                      {"configured", node.division_code}});
        }
        return corrupt("the database holds certificates but no active root CA");
      }
      auto created = create_root(session, *envelope, node, options, now);
      if (!created.ok()) return created.take_error();
      *root_record = std::move(created).value();
    }
    auto root = crypto::Certificate::from_pem((*root_record)->certificate_pem);
    if (!root.ok()) return corrupt("the root certificate does not parse");
    auto root_key = load_key(session, *envelope, (*root_record)->serial);
    if (!root_key.ok()) return root_key.take_error();
    if (root_key->public_key().to_hex() != root->public_key().to_hex()) {
      return corrupt("the root's private key does not match the root certificate");
    }
    auto state = std::make_shared<State>(
        State{&database, &clock, *envelope, node, options, **root_record, *root, *root_key});

    auto node_record = find_active_for_update(session, SubjectKind::node, node.division_code);
    if (!node_record.ok()) return node_record.take_error();
    bool renew = !*node_record || (*node_record)->subject_name != node.name ||
                 (*node_record)->not_after - now < options.node_renewal_window;
    if (renew) {
      auto issued = issue_in(session, *state, {SubjectKind::node, node.division_code, node.name},
                             *node_record, now);
      if (!issued.ok()) return issued.take_error();
    }
    return CertificateAuthority(std::move(state));
  };
  return write_with_retry(database, work);
}

const NodeIdentity& CertificateAuthority::node() const { return state_->node; }

const crypto::Certificate& CertificateAuthority::root_certificate() const { return state_->root; }

void CertificateAuthority::record_acts_in(audit::TransparencyLog& log) { state_->log = &log; }

Result<CertificateRecord> CertificateAuthority::node_certificate() const {
  return state_->database->read_value<CertificateRecord>(
      [this](store::Session& session) -> Result<CertificateRecord> {
        auto record = find_active(session, SubjectKind::node, state_->node.division_code);
        if (!record.ok()) return record.take_error();
        if (!*record) return not_found("the node has no active certificate");
        return std::move(**record);
      });
}

Result<crypto::PrivateKey> CertificateAuthority::node_key() const {
  return state_->database->read_value<crypto::PrivateKey>(
      [this](store::Session& session) -> Result<crypto::PrivateKey> {
        auto record = find_active(session, SubjectKind::node, state_->node.division_code);
        if (!record.ok()) return record.take_error();
        if (!*record) return not_found("the node has no active certificate");
        return load_key(session, state_->envelope, (*record)->serial);
      });
}

Result<CertificateRecord> CertificateAuthority::issue_department_certificate(
    std::string_view uscc, std::string_view name, std::string_view actor) {
  auto code = normalised_uscc(uscc);
  if (!code.ok()) return code.take_error();
  ONEWINDOW_TRY(check_name(name, common_name_limit, "name", "pki.bad_name"));
  Subject subject{SubjectKind::department, *code, std::string(name)};
  return write_with_retry<CertificateRecord>(
      *state_->database, [&](store::Session& session) -> Result<CertificateRecord> {
        auto previous = find_active_for_update(session, SubjectKind::department, subject.key);
        if (!previous.ok()) return previous.take_error();
        return issue_in(session, *state_, subject, *previous, now_of(*state_->clock), actor);
      });
}

Result<crypto::PrivateKey> CertificateAuthority::department_key(std::string_view uscc) const {
  auto code = normalised_uscc(uscc);
  if (!code.ok()) return code.take_error();
  return state_->database->read_value<crypto::PrivateKey>(
      [&](store::Session& session) -> Result<crypto::PrivateKey> {
        auto record = find_active(session, SubjectKind::department, *code);
        if (!record.ok()) return record.take_error();
        if (!*record) return not_found("the department " + *code + " has no active certificate");
        return load_key(session, state_->envelope, (*record)->serial);
      });
}

Result<CertificateRecord> CertificateAuthority::rotate(SubjectKind kind,
                                                       std::string_view subject_key,
                                                       std::string_view actor) {
  if (kind == SubjectKind::root) {
    return Error(ErrorKind::conflict, "pki.root_rotation_unsupported",
                 "the root CA is not rotated in this version");
  }
  std::string key(subject_key);
  if (kind == SubjectKind::department) {
    auto code = normalised_uscc(subject_key);
    if (!code.ok()) return code.take_error();
    key = *code;
  }
  return write_with_retry<CertificateRecord>(
      *state_->database, [&](store::Session& session) -> Result<CertificateRecord> {
        auto previous = find_active_for_update(session, kind, key);
        if (!previous.ok()) return previous.take_error();
        if (!*previous) {
          return not_found("the " + std::string(subject_kind_name(kind)) + " " + key +
                           " has no active certificate to rotate");
        }
        Subject subject{kind, key, (*previous)->subject_name};
        return issue_in(session, *state_, subject, *previous, now_of(*state_->clock), actor);
      });
}

Result<CertificateRecord> CertificateAuthority::revoke(std::string_view serial,
                                                       crypto::RevocationReason reason,
                                                       std::string_view actor) {
  auto normalised = normalise_serial(serial);
  if (!normalised.ok()) return normalised.take_error();
  return write_with_retry<CertificateRecord>(
      *state_->database, [&](store::Session& session) -> Result<CertificateRecord> {
        auto found = find_one(session, select_certificate, {*normalised});
        if (!found.ok()) return found.take_error();
        if (!*found) return not_found("no certificate has the serial " + *normalised);
        CertificateRecord record = std::move(**found);
        if (record.status == CertificateStatus::revoked) {
          return Error(ErrorKind::conflict, "pki.already_revoked",
                       "the certificate " + record.serial + " is revoked already");
        }
        if (record.subject_kind == SubjectKind::root) {
          return Error(
              ErrorKind::conflict, "pki.root_not_revocable",
              "the root CA cannot revoke itself; replace the platform's trust anchor instead");
        }
        if (record.subject_kind == SubjectKind::node &&
            record.status == CertificateStatus::active) {
          return Error(ErrorKind::conflict, "pki.node_certificate_active",
                       "the node's active certificate is not revoked directly: rotate it first, "
                       "then revoke the superseded one");
        }
        TimePoint now = whole_seconds(now_of(*state_->clock));
        std::string reason_name(crypto::revocation_reason_name(reason));
        auto changed = session.execute(revoke_certificate,
                                       {record.serial, format_timestamp(now), reason_name});
        if (!changed.ok()) return changed.take_error();
        if (*changed != 1) return concurrent_change();
        auto deleted = session.execute(delete_private_key, {record.serial});
        if (!deleted.ok()) return deleted.take_error();
        if (state_->log != nullptr) {
          auto recorded = state_->log->record(
              session, {std::string(actor), "", "pki.certificate_revoked", "certificate", record.serial, "",
                        {{"subject_kind", subject_kind_name(record.subject_kind)},
                         {"subject", record.subject_key},
                         {"reason", crypto::revocation_reason_name(reason)}}});
          if (!recorded.ok()) return recorded.take_error();
        }
        auto list = make_revocation_list(session, *state_, now);
        if (!list.ok()) return list.take_error();
        record.status = CertificateStatus::revoked;
        record.revoked_at = now;
        record.revocation_reason = reason;
        return record;
      });
}

Result<crypto::RevocationList> CertificateAuthority::revocation_list() {
  TimePoint now = now_of(*state_->clock);
  auto stored = state_->database->read_value<std::optional<crypto::RevocationList>>(
      [&](store::Session& session) { return fresh_revocation_list(session, now); });
  if (!stored.ok()) return stored.take_error();
  if (*stored) return std::move(**stored);
  return write_with_retry<crypto::RevocationList>(
      *state_->database, [&](store::Session& session) -> Result<crypto::RevocationList> {
        // Another thread or process may have made one meanwhile.
        auto again = fresh_revocation_list(session, now);
        if (!again.ok()) return again.take_error();
        if (*again) return std::move(**again);
        return make_revocation_list(session, *state_, now);
      });
}

Result<CertificateRecord> CertificateAuthority::certificate(std::string_view serial) const {
  auto normalised = normalise_serial(serial);
  if (!normalised.ok()) return normalised.take_error();
  return state_->database->read_value<CertificateRecord>(
      [&](store::Session& session) -> Result<CertificateRecord> {
        auto found = find_one(session, select_certificate, {*normalised});
        if (!found.ok()) return found.take_error();
        if (!*found) return not_found("no certificate has the serial " + *normalised);
        return std::move(**found);
      });
}

Result<std::vector<crypto::Certificate>> CertificateAuthority::chain(
    std::string_view serial) const {
  auto normalised = normalise_serial(serial);
  if (!normalised.ok()) return normalised.take_error();
  return state_->database->read_value<std::vector<crypto::Certificate>>(
      [&](store::Session& session) -> Result<std::vector<crypto::Certificate>> {
        std::vector<crypto::Certificate> chain;
        std::string next = *normalised;
        // A root issues end certificates only; the bound guards against a looping table.
        for (int depth = 0; !next.empty(); ++depth) {
          if (depth == 4) return corrupt("the chain of " + *normalised + " does not end at a root");
          auto found = find_one(session, select_certificate, {next});
          if (!found.ok()) return found.take_error();
          if (!*found) {
            if (depth == 0) return not_found("no certificate has the serial " + next);
            return corrupt("the issuer " + next + " of a stored certificate is missing");
          }
          auto certificate = crypto::Certificate::from_pem((*found)->certificate_pem);
          if (!certificate.ok()) return corrupt("the certificate " + next + " does not parse");
          chain.push_back(std::move(certificate).value());
          next = (*found)->issuer_serial;
        }
        return chain;
      });
}

Result<std::vector<CertificateRecord>> CertificateAuthority::list(
    const CertificateFilter& filter) const {
  store::Parameters parameters = {
      filter.subject_kind ? store::Value(std::string(subject_kind_name(*filter.subject_kind)))
                          : store::Value(std::monostate{}),
      text_or_null(filter.subject_key),
      filter.status ? store::Value(std::string(certificate_status_name(*filter.status)))
                    : store::Value(std::monostate{})};
  return state_->database->read_value<std::vector<CertificateRecord>>(
      [&](store::Session& session) -> Result<std::vector<CertificateRecord>> {
        auto rows = session.query(select_certificates, parameters);
        if (!rows.ok()) return rows.take_error();
        std::vector<CertificateRecord> records;
        records.reserve(rows->size());
        for (const store::Row& row : *rows) {
          auto record = record_of(row);
          if (!record.ok()) return record.take_error();
          records.push_back(std::move(record).value());
        }
        return records;
      });
}

Result<std::string> CertificateAuthority::normalise_serial(std::string_view text,
                                                           std::string_view field) {
  auto bytes = crypto::from_hex(text);
  if (text.size() != 2 * serial_size || !bytes.ok()) {
    return Error::invalid("pki.bad_serial", std::string(field),
                          std::string(field) + " must be 32 hex digits");
  }
  return crypto::to_hex(*bytes);
}

Result<crypto::PublicKey> node_public_key(store::Database& database) {
  return database.read_value<crypto::PublicKey>(
      [](store::Session& session) -> Result<crypto::PublicKey> {
        auto row = session.query_one(select_active_node_certificate);
        if (!row.ok()) return row.take_error();
        if (!*row) return not_found("the node has no certificate yet: the CA was never opened");
        auto certificate = crypto::Certificate::from_pem((*row)->text(1));
        if (!certificate.ok())
          return corrupt("the certificate " + (*row)->text(0) + " does not parse");
        return certificate->public_key();
      });
}

Result<std::vector<crypto::PublicKey>> node_public_keys(store::Database& database) {
  return database.read_value<std::vector<crypto::PublicKey>>(
      [](store::Session& session) -> Result<std::vector<crypto::PublicKey>> {
        auto rows = session.query(select_unrevoked_node_certificates);
        if (!rows.ok()) return rows.take_error();
        if (rows->empty()) return not_found("the node has no certificate yet: the CA was never opened");
        std::vector<crypto::PublicKey> keys;
        for (const store::Row& row : *rows) {
          auto certificate = crypto::Certificate::from_pem(row.text(1));
          if (!certificate.ok()) return corrupt("the certificate " + row.text(0) + " does not parse");
          keys.push_back(certificate->public_key());
        }
        return keys;
      });
}

}  // namespace onewindow::pki
