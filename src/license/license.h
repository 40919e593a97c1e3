// license: electronic licenses (电子证照, issue 7). What a department grants at the end of a case,
// made a document that anyone can check without asking the platform.
//
// Contract:
// - License types are configuration (config/licenses/types.yaml, LicenseConfiguration): each has
//   a key, a 3-digit code under its defining agency, Chinese and English names, the issuing
//   department, the kind of holder, a validity in years (0: no expiry) and its data items.
// - A license is a document in canonical JSON (audit::canonical_json) with the metadata of
//   GB/T 36901-36905 as implementations carry it (docs/license.md lists the fields) and its data
//   items as an object, signed SM2-with-SM3 with the default distinguishing ID
//   (crypto::sm2_default_id) by the issuing department's key held by pki/. The document is stored
//   as the exact bytes signed, with the signature (DER) and the serial of the department
//   certificate that signed, so `openssl pkeyutl -verify ... -digest sm3 -pkeyopt
//   distid:1234567812345678` checks it offline (docs/license.md has the command lines).
// - Its identifier is 1.2.156.3005.2.<type code>.<issuer USCC>.<serial>.<version>.<check>, the
//   check character by ISO/IEC 7064 MOD 37,36 (mod37_36_check_character) over type code, issuer,
//   serial and version joined without dots. The serial is the issue year and 12 random
//   characters of 0-9A-Z, so that identifiers (printed and in the QR code) cannot be guessed:
//   whoever has one may see the license through the public verify answer, as whoever holds the
//   paper sees it.
// - Issuing runs in the caller's transaction (the services module issues in the transaction of
//   the approval step) with its transparency-log entry license.issue; revocation (only by the
//   issuing department, with a reason: license.revoke) and presentation (license.present, and
//   license.presentation_read when the department fetches it) are logged the same way.
//   Nothing here writes outside one transaction.
// - A license is valid from its issue date to its valid_to date (inclusive, China Standard
//   Time) unless revoked; verify() also checks the signature against the stored certificate
//   chain up to this node's root.
// - Who may see a license: its holder (a citizen by citizen ID number, an enterprise user by its
//   legal person's USCC) and officials of its issuing department; anyone else gets
//   license.not_found, as if it did not exist. The public verify answer is the exception, by
//   identifier.
// - The signing key is the department's active certificate's (pki::CertificateAuthority); a
//   department without one (or whose certificate expires within 30 days) gets a new one from
//   ensure_certificates() (at start) or from the issue() that opens its own transaction, never
//   inside a caller's transaction.
//
// Errors: license.bad_field (with the field), license.bad_identifier, license.identifier_check,
// license.unknown_type, license.unknown_item (invalid_argument); license.not_found,
// license.presentation_not_found (not_found); license.not_issuer, license.not_holder
// (permission_denied); license.already_revoked, license.not_valid (presenting a license that is
// revoked or expired), license.presentation_expired, license.no_certificate (conflict); license.corrupt (internal); identifiers.* for holder ids,
// config.* and license.unknown_department for the configuration, license.pdf for a PDF that
// cannot be made.
//
// Thread safety: Licenses may be used from many threads at once; LicenseConfiguration is
// immutable once loaded.
#pragma once

#include "audit/audit.h"
#include "base/clock.h"
#include "base/result.h"
#include "crypto/crypto.h"
#include "pki/pki.h"
#include "store/store.h"

#include <nlohmann/json.hpp>

#include <chrono>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace onewindow::license {

inline constexpr std::string_view identifier_prefix = "1.2.156.3005.2.";
// The holder id types of the metadata.
inline constexpr std::string_view citizen_id_type = "111";
inline constexpr std::string_view credit_code_type = "001";

// ---- Identifiers ------------------------------------------------------------------------------

struct LicenseIdentifier {
  std::string type_code;    // the defining agency's USCC and the 3-digit sequence: 21 characters
  std::string issuer_code;  // the issuing department's USCC
  std::string serial;       // 1 to 32 characters of 0-9A-Z
  std::string version;      // 3 digits
  char check = '0';

  // 1.2.156.3005.2.<type code>.<issuer>.<serial>.<version>.<check>
  std::string text() const;

  // Computes the check character. license.bad_identifier naming the part that is malformed.
  static Result<LicenseIdentifier> make(std::string type_code, std::string issuer_code, std::string serial,
                                        std::string version);
  // Reads and checks an identifier: license.bad_identifier for the wrong shape (the message names
  // the part), license.identifier_check when the check character does not match.
  static Result<LicenseIdentifier> parse(std::string_view text, std::string_view field = "identifier");
};

// ---- Configuration ----------------------------------------------------------------------------

// A department that may issue licenses, as config/departments.yaml describes it.
struct Department {
  std::string key;  // "market"
  std::string name;
  std::string english_name;
  std::string uscc;
  std::string division;  // the GB/T 2260 code of its jurisdiction
};

enum class HolderKind { citizen, legal_person };
std::string_view holder_kind_name(HolderKind kind);  // "citizen", "legal_person"

struct DataItem {
  std::string name;
  std::string label;  // Chinese, printed on the license
  std::string english_label;
};

struct LicenseType {
  std::string key;   // "business_license"
  std::string code;  // "001"
  std::string name;  // 营业执照
  std::string english_name;
  std::string department;       // the issuing department's key
  std::string defining_agency;  // USCC
  HolderKind holder = HolderKind::citizen;
  int validity_years = 0;  // 0: no expiry
  std::vector<DataItem> items;

  // The license type code of the metadata and the identifier: defining agency + code.
  std::string type_code() const { return defining_agency + code; }
  std::string_view holder_id_type() const { return holder == HolderKind::citizen ? citizen_id_type : credit_code_type; }
  const DataItem* item(std::string_view name) const;
};

struct LicenseConfiguration {
  std::vector<LicenseType> types;
  std::map<std::string, Department, std::less<>> departments;  // every department, by key

  // Reads config/licenses/types.yaml. Errors name the file, the line and the field
  // (config.missing_field, config.bad_value, config.unknown_key, license.unknown_department,
  // license.duplicate_type, identifiers.* as config.bad_value).
  static Result<LicenseConfiguration> load(const std::filesystem::path& file, std::vector<Department> departments);

  // By key ("business_license") or by type code (21 characters); nullptr when there is none.
  const LicenseType* type(std::string_view key_or_code) const;
  const Department* department(std::string_view key) const;
};

// ---- Licenses ---------------------------------------------------------------------------------

// Who acts: an official (or the services module, "system") for a department.
struct Actor {
  std::string account_id;
  std::string department;  // its key
};

// Who asks to see a license; every field empty that does not apply.
struct Viewer {
  std::string citizen_id;    // a citizen
  std::string legal_person;  // an enterprise user, for this legal person
  std::string department;    // an official of this department (key)
};

struct IssueRequest {
  std::string type;  // the type's key or type code
  std::string holder_name;
  std::string holder_id;        // citizen ID number or USCC, by the type's holder
  std::string license_number;   // empty: the serial
  std::string license_name;     // empty: the type's name
  std::string jurisdiction;     // 6-digit division code; empty: the issuer's
  std::string related_license;  // an identifier, or empty
  nlohmann::json data = nlohmann::json::object();  // the type's items, each a string
  std::string basis;  // why (the case, the legal basis), for the transparency log
};

enum class LicenseStatus { valid, revoked, expired };
std::string_view status_name(LicenseStatus status);  // "valid", "revoked", "expired"

struct License {
  std::string identifier;
  std::string type;  // the type's key
  std::string issuer;  // the issuing department's key
  std::string holder_id;
  std::string holder_id_type;
  std::string valid_to;  // YYYY-MM-DD, the last day it is valid; empty: no expiry
  // The canonical JSON: exactly the bytes signed.
  std::string document;
  crypto::Bytes signature;  // DER SM2 signature of document
  std::string certificate_serial;
  std::string issued_at;
  std::string issued_by;
  bool revoked = false;
  std::string revoked_at;
  std::string revoked_by;
  std::string revocation_reason;
  std::int64_t log_index = 0;  // of its license.issue entry

  // The document parsed.
  nlohmann::json fields() const;
  // Revoked, expired (after valid_to in China Standard Time) or valid on `today`.
  LicenseStatus status_on(Date today) const;
  // {"identifier", "status", "document": {...}, "document_canonical", "signature_hex",
  //  "certificate_serial", "issued_at", "revoked_at", "revocation_reason"}.
  nlohmann::json to_json(Date today) const;
};

// What verify() found.
struct Verification {
  enum class Outcome { valid, revoked, expired, invalid, not_found };
  Outcome outcome = Outcome::not_found;
  std::optional<License> license;
  // The signature of the stored document verifies with the department certificate, which the
  // chain leads up to this node's root, and which names the issuer.
  bool signature_valid = false;
  std::string problem;  // why the signature or document failed, when it did
  std::vector<crypto::Certificate> chain;  // the department's certificate first, the root last
  std::optional<pki::CertificateRecord> certificate;
  std::string checked_at;

  // "valid", "revoked", "expired", "invalid", "not_found".
  std::string_view outcome_name() const;
  // The public answer: {"identifier", "status", "signature_valid", "checked_at", "problem",
  // "document" (parsed), "document_canonical" (the bytes signed), "signature_hex",
  // "signature_algorithm", "certificate_serial", "certificate_status", "certificate_chain_pem",
  // "revoked_at", "revocation_reason"}.
  nlohmann::json to_json() const;
};

// A license shown by its holder to a department, for a purpose, for a short time.
struct Presentation {
  std::string id;  // "lpr_..."
  std::string identifier;
  std::string department;  // the key of the department it is shown to
  std::string purpose;
  std::string presented_by;  // the account
  std::string created_at;
  std::string expires_at;
  nlohmann::json to_json() const;
};

struct Options {
  std::chrono::hours presentation_lifetime{72};
};

class Licenses {
 public:
  // References to everything; all must outlive this object.
  Licenses(store::Database& database, audit::TransparencyLog& log, pki::CertificateAuthority& authority,
           const LicenseConfiguration& configuration, const Clock& clock, Options options = {});

  // The tables license, license_presentation.
  static std::vector<store::Migration> migrations();

  const LicenseConfiguration& configuration() const { return configuration_; }
  const Clock& clock() const { return clock_; }

  // Gives every department that issues a configured type a certificate when it has none, and a
  // new one when its certificate expires within 30 days (the authority logs both). Each in its own transaction: call it at start,
  // never inside another transaction.
  Status ensure_certificates(std::string_view actor = "system");

  // Issues a license in the caller's write transaction: checks the request against its type,
  // makes and signs the document, stores it and records license.issue. `by` must belong to the
  // type's issuing department (license.not_issuer). license.no_certificate when the department
  // has no certificate yet (see ensure_certificates).
  Result<License> issue(store::Session& session, const IssueRequest& request, const Actor& by);
  // The same in a transaction of its own, giving the department a certificate first if it has none.
  Result<License> issue(const IssueRequest& request, const Actor& by);

  // The license whatever who asks (for modules that decide themselves); license.not_found.
  Result<License> license(std::string_view identifier) const;
  // The license for its holder or an official of its issuing department; license.not_found for
  // anyone else.
  Result<License> license_for(std::string_view identifier, const Viewer& viewer) const;
  // The licenses a citizen or legal person holds, newest first (at most 500);
  // license.not_holder when the viewer is neither.
  Result<std::vector<License>> licenses_of(const Viewer& holder) const;

  // Ends a license for good, by an official of its issuing department, with a reason.
  Result<License> revoke(std::string_view identifier, std::string_view reason, const Actor& by);

  // The license's status today and whether its signature and certificate chain check out.
  // A malformed identifier is an error; one that names no license is Outcome::not_found.
  Result<Verification> verify(std::string_view identifier) const;

  // The holder shows a license to another department for a purpose: a presentation that
  // department may fetch until it expires (Options::presentation_lifetime).
  Result<Presentation> present(std::string_view identifier, const Viewer& holder, std::string_view account_id,
                               std::string_view department, std::string_view purpose);
  // The department fetches what was presented to it, verified, and the fetch is recorded.
  // license.presentation_not_found for another department's, license.presentation_expired
  // after it expired.
  Result<std::pair<Presentation, Verification>> presented(std::string_view presentation_id, const Actor& by);

  // The printable license as PDF bytes, with a QR code of its verify URL
  // (<public_url>/api/v1/licenses/<identifier>/verify); for its holder or issuer.
  Result<std::string> pdf(std::string_view identifier, const Viewer& viewer, std::string_view public_url) const;

 private:
  Result<std::optional<License>> find(store::Session& session, std::string_view identifier) const;
  Status ensure_certificate(const Department& department, std::string_view actor);
  struct SigningKey {
    pki::CertificateRecord first;  // the certificate
    crypto::PrivateKey second;     // its key
    std::chrono::system_clock::time_point not_before, not_after;  // the certificate's, parsed once
  };
  // The department's active certificate and its key, read in transactions of their own. The key
  // is decrypted once per certificate and kept by the certificate's serial: each call still asks
  // which certificate is active, so a rotation or revocation is seen at once, but unwrapping the
  // key was most of an issue's time.
  Result<std::shared_ptr<const SigningKey>> signing_key(const Department& department) const;

  store::Database& database_;
  audit::TransparencyLog& log_;
  pki::CertificateAuthority& authority_;
  const LicenseConfiguration& configuration_;
  const Clock& clock_;
  Options options_;
  std::mutex certificate_mutex_;  // one department certificate issued at a time from here
  mutable std::mutex signing_keys_mutex_;
  mutable std::map<std::string, std::shared_ptr<const SigningKey>, std::less<>> signing_keys_;  // by serial
};

// The verify URL of a license under public_url (trailing slashes dropped).
std::string verify_url(std::string_view public_url, std::string_view identifier);

// The printable license: an A4 page (Cairo's PDF surface, Pango with "Noto Sans CJK SC" for
// Chinese and "DejaVu Sans" for Latin letters and digits) with
// the license's name, number, holder, issuer, dates, data items with their labels, the
// identifier, and a QR code (libqrencode, drawn as rectangles) of `url`. license.pdf when Cairo
// or libqrencode fail.
Result<std::string> render_pdf(const License& license, const LicenseType& type, std::string_view url);

}  // namespace onewindow::license
