// pki: the platform's certificate authority.
//
// Each node runs one root CA (self-signed, SM2, 20 years) that issues certificates to the node
// itself (subject: its GB/T 2260 division code and name) and to each department (subject: its
// unified social credit code and Chinese name), and a revocation list (CRL). Certificates and
// CRLs are X.509 signed SM2-with-SM3 with the SM2 ID that the stock `openssl verify` uses
// (crypto::x509_sm2_id), so `openssl verify -CAfile root.pem cert.pem` accepts them. The
// profiles, tables and commands are in docs/pki.md.
//
// Contract:
// - Private keys live in the database only inside an SM4 envelope (crypto::Sm4Envelope) under
//   the key-encryption key given to open(), with the certificate's serial as associated data,
//   so an envelope moved to another row does not decrypt. open() refuses a wrong key-encryption
//   key (pki.wrong_key_encryption_key) instead of producing garbage later.
// - Issuing, rotating and revoking each run in one store transaction: certificate rows, keys
//   and the new CRL commit together or not at all.
// - Serial numbers are 16 random bytes, positive (the top bit is clear), written as 32
//   lower-case hex digits; a serial is the table's primary key, so it is never used twice.
// - A subject (kind and key) has at most one active certificate. Rotating one issues a new key
//   and certificate and marks the old one superseded (it stays valid until it expires or is
//   revoked, and is not on the CRL); the old private key is deleted, as are the keys of revoked
//   certificates: a retired key signs nothing more. The root is not rotated in this version.
// - Thread safety: a CertificateAuthority may be used from many threads at once, and several
//   processes may open the same database; the Database and the Clock must outlive it.
//
// Error codes (besides store.*, crypto.* and the identifiers.unified_social_credit_code_* checks
// of base/identifiers.h, which name the field "uscc"):
//   pki.bad_key_encryption_key    (invalid_argument) the key-encryption key is not 16 bytes
//   pki.wrong_key_encryption_key  (invalid_argument) the database's keys were encrypted under
//                                                    another key-encryption key
//   pki.bad_node_identity         (invalid_argument) division code not 6 digits, or a bad name
//   pki.node_identity_changed     (conflict)         the database's root belongs to another
//                                                    division code
//   pki.bad_name                  (invalid_argument) a subject name that is empty, too long or
//                                                    has control characters (field "name")
//   pki.bad_serial                (invalid_argument) not 32 hex digits (field "serial")
//   pki.bad_subject_kind          (invalid_argument) not root, node or department
//   pki.bad_status                (invalid_argument) not active, superseded or revoked
//   pki.bad_revocation_reason     (invalid_argument) a reason the CA does not take
//   pki.certificate_not_found     (not_found)        no such serial, or no active certificate
//                                                    for the subject
//   pki.already_revoked           (conflict)
//   pki.root_not_revocable        (conflict)         the root CA is not revoked through itself
//   pki.node_certificate_active   (conflict)         rotate the node first, then revoke the old
//   pki.root_rotation_unsupported (conflict)
//   pki.concurrent_change         (conflict)         another writer kept changing the same
//                                                    certificate (PostgreSQL); try again
//   pki.corrupt_record            (internal)         a stored row that does not parse or match
//
// Later the transparency log (audit/) records each issuing, rotation and revocation in the same
// transaction; the places are marked "transparency log" in certificate_authority.cpp.
#pragma once

#include "audit/audit.h"
#include "base/clock.h"
#include "base/result.h"
#include "crypto/crypto.h"
#include "store/store.h"

#include <chrono>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace onewindow::pki {

enum class SubjectKind { root, node, department };
// "root", "node", "department".
std::string_view subject_kind_name(SubjectKind kind);
Result<SubjectKind> parse_subject_kind(std::string_view text,
                                       std::string_view field = "subject_kind");

enum class CertificateStatus { active, superseded, revoked };
// "active", "superseded", "revoked".
std::string_view certificate_status_name(CertificateStatus status);
Result<CertificateStatus> parse_certificate_status(std::string_view text,
                                                   std::string_view field = "status");

// The reasons a certificate may be revoked for: unspecified, key_compromise,
// affiliation_changed, superseded, cessation_of_operation, privilege_withdrawn
// (crypto::revocation_reason_name). The CA-level reasons and certificate_hold (a revocation
// here is final) give pki.bad_revocation_reason naming `field`.
Result<crypto::RevocationReason> parse_revocation_reason(std::string_view text,
                                                         std::string_view field = "reason");

// Who this node is: its GB/T 2260 division code ("370200") and name ("青岛市").
struct NodeIdentity {
  std::string division_code;
  std::string name;
};

struct AuthorityOptions {
  std::chrono::days root_validity{7305};       // 20 years
  std::chrono::days node_validity{730};        // 2 years
  std::chrono::days department_validity{730};  // 2 years
  // thisUpdate to nextUpdate of a CRL; a CRL is made again when half of it has passed, and at
  // every revocation.
  std::chrono::days revocation_list_validity{7};
  // open() rotates the node's certificate when it expires within this time.
  std::chrono::days node_renewal_window{30};
  // Certificates start this long before they are issued, for clocks that run a little behind.
  std::chrono::minutes backdating{10};
  // Where the CRL is published (cRLDistributionPoints of every certificate issued, e.g.
  // "https://host/api/v1/pki/crl"); empty leaves the extension out.
  std::string revocation_list_url;
};

// One certificate as the CA keeps it.
struct CertificateRecord {
  std::string serial;  // 32 lower-case hex digits
  SubjectKind subject_kind = SubjectKind::department;
  std::string subject_key;    // USCC or division code (the root: the node's division code)
  std::string subject_name;   // the department's or node's name
  std::string issuer_serial;  // empty for the root
  std::string supersedes;     // the serial of the certificate this one replaced, or empty
  std::string certificate_pem;
  std::chrono::system_clock::time_point not_before;
  std::chrono::system_clock::time_point not_after;
  std::chrono::system_clock::time_point issued_at;
  CertificateStatus status = CertificateStatus::active;
  std::optional<std::chrono::system_clock::time_point> superseded_at;
  std::optional<std::chrono::system_clock::time_point> revoked_at;
  std::optional<crypto::RevocationReason> revocation_reason;
};

// Empty or unset fields match everything. Results come newest first (by issued_at; serial
// orders certificates issued in the same millisecond).
struct CertificateFilter {
  std::optional<SubjectKind> subject_kind;
  std::string subject_key;
  std::optional<CertificateStatus> status;
};

class CertificateAuthority {
 public:
  // The tables: pki_certificate, pki_private_key, pki_revocation_list.
  static std::vector<store::Migration> migrations();

  // Opens the CA in a migrated database. On first use creates the root CA and the node's
  // certificate; afterwards loads the root (decrypting its key, which checks the
  // key-encryption key), and issues the node a new certificate when it has none, its name
  // changed, or its certificate expires within the renewal window.
  static Result<CertificateAuthority> open(store::Database& database,
                                           std::span<const std::uint8_t> key_encryption_key,
                                           const Clock& clock, NodeIdentity node,
                                           AuthorityOptions options = {});

  const NodeIdentity& node() const;
  const crypto::Certificate& root_certificate() const;

  // The node's active certificate and its private key.
  Result<CertificateRecord> node_certificate() const;
  Result<crypto::PrivateKey> node_key() const;

  // Issues a department a new key and certificate. A department that already has an active
  // certificate is rotated: the old one is superseded (and may carry an old name).
  // uscc is upper-cased and validated; name is the department's Chinese name.
  // actor: the account id of whoever asked (for the transparency log), or "system".
  Result<CertificateRecord> issue_department_certificate(std::string_view uscc,
                                                         std::string_view name,
                                                         std::string_view actor = "system");
  // The private key of a department's active certificate, to sign on the department's behalf.
  Result<crypto::PrivateKey> department_key(std::string_view uscc) const;

  // Issues a new key and certificate for the subject's active certificate, under the same name,
  // and supersedes the old one. Node or department; pki.root_rotation_unsupported for the root.
  Result<CertificateRecord> rotate(SubjectKind kind, std::string_view subject_key,
                                   std::string_view actor = "system");

  // Revokes a certificate (active or superseded) and makes a new CRL in the same transaction.
  Result<CertificateRecord> revoke(std::string_view serial, crypto::RevocationReason reason,
                                   std::string_view actor = "system");

  // From now on every issue, rotation and revocation is recorded in `log`, in the transaction
  // that makes it. (The log is signed with the node key this authority holds, so it can only be
  // attached after open(): the creation of the root and the first node certificate precede it.)
  void record_acts_in(audit::TransparencyLog& log);

  // The current CRL, signed by the root: made afresh (and kept) when there is none yet or half
  // of the newest one's validity has passed.
  Result<crypto::RevocationList> revocation_list();

  Result<CertificateRecord> certificate(std::string_view serial) const;
  // The certificate and the ones above it, ending with the root (the root's chain is itself).
  Result<std::vector<crypto::Certificate>> chain(std::string_view serial) const;
  Result<std::vector<CertificateRecord>> list(const CertificateFilter& filter = {}) const;

  // Lower-case hex of 32 digits, as the CA writes serials; pki.bad_serial naming `field`.
  static Result<std::string> normalise_serial(std::string_view text,
                                              std::string_view field = "serial");

  struct State;  // implementation detail, defined in certificate_authority.cpp

 private:
  explicit CertificateAuthority(std::shared_ptr<const State> state) : state_(std::move(state)) {}
  std::shared_ptr<const State> state_;
};

// The public key of the node's active certificate, read without the key-encryption key, for
// checking what the node signed (`onewindow audit verify`). Signatures made before the node's
// certificate was rotated need the superseded certificates' keys: list() has them.
// pki.certificate_not_found before the CA was first opened.
Result<crypto::PublicKey> node_public_key(store::Database& database);
// The public keys of every node certificate that is not revoked, newest first: what the node
// may have signed with over time (its certificate rotates). Read without the key-encryption key.
Result<std::vector<crypto::PublicKey>> node_public_keys(store::Database& database);

}  // namespace onewindow::pki
