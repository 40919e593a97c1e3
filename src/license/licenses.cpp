// Issuing, reading, revoking, verifying and presenting licenses; see license.h.
#include "license/license.h"

#include "base/identifiers.h"

#include <algorithm>
#include <set>

namespace onewindow::license {

namespace {

constexpr const char* schema_v1 = R"sql(
CREATE TABLE license (
  identifier TEXT PRIMARY KEY,
  type TEXT NOT NULL,
  issuer TEXT NOT NULL,
  holder_id TEXT NOT NULL,
  holder_id_type TEXT NOT NULL,
  valid_to TEXT,
  document TEXT NOT NULL,
  signature BYTEA NOT NULL,
  certificate_serial TEXT NOT NULL,
  issued_at TEXT NOT NULL,
  issued_by TEXT NOT NULL,
  status TEXT NOT NULL CHECK (status IN ('valid', 'revoked')),
  revoked_at TEXT,
  revoked_by TEXT,
  revocation_reason TEXT,
  log_index BIGINT NOT NULL,
  CHECK ((status = 'revoked') = (revoked_at IS NOT NULL))
);
CREATE INDEX license_by_holder ON license (holder_id_type, holder_id, issued_at);
CREATE INDEX license_by_issuer ON license (issuer, issued_at);
CREATE TABLE license_presentation (
  id TEXT PRIMARY KEY,
  identifier TEXT NOT NULL REFERENCES license (identifier),
  department TEXT NOT NULL,
  purpose TEXT NOT NULL,
  presented_by TEXT NOT NULL,
  created_at TEXT NOT NULL,
  expires_at TEXT NOT NULL,
  log_index BIGINT NOT NULL
);
CREATE INDEX license_presentation_by_department ON license_presentation (department, created_at)
)sql";

constexpr const char* select_license =
    "SELECT identifier, type, issuer, holder_id, holder_id_type, valid_to, document, signature, certificate_serial, "
    "issued_at, issued_by, status, revoked_at, revoked_by, revocation_reason, log_index FROM license";

constexpr const char* insert_license =
    "INSERT INTO license (identifier, type, issuer, holder_id, holder_id_type, valid_to, document, signature, "
    "certificate_serial, issued_at, issued_by, status, log_index) "
    "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, 'valid', $12)";

constexpr const char* revoke_license =
    "UPDATE license SET status = 'revoked', revoked_at = $2, revoked_by = $3, revocation_reason = $4 "
    "WHERE identifier = $1 AND status = 'valid'";

constexpr const char* insert_presentation =
    "INSERT INTO license_presentation (id, identifier, department, purpose, presented_by, created_at, expires_at, "
    "log_index) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)";

constexpr const char* select_presentation =
    "SELECT id, identifier, department, purpose, presented_by, created_at, expires_at FROM license_presentation "
    "WHERE id = $1";

constexpr std::string_view serial_alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ";
constexpr std::size_t serial_random_characters = 12;
// ensure_certificate() renews a department certificate this long before it expires.
constexpr std::chrono::days certificate_renewal_window{30};

Error bad_field(const std::string& field, const std::string& message) {
  return Error::invalid("license.bad_field", field, message);
}

Error not_found(std::string_view identifier) {
  return Error(ErrorKind::not_found, "license.not_found", "no license " + std::string(identifier),
               {{"field", "identifier"}});
}

Error corrupt(const std::string& message) { return Error(ErrorKind::internal, "license.corrupt", message); }

// Text a person typed: 1 to `limit` bytes (0 to `limit` when optional), no control characters
// but line breaks where `lines` allows them.
Status check_text(std::string_view text, const std::string& field, std::size_t limit, bool required,
                  bool lines = false) {
  if (required && text.empty()) return bad_field(field, field + " is required");
  if (text.size() > limit) return bad_field(field, field + " is at most " + std::to_string(limit) + " bytes");
  for (char c : text) {
    auto byte = static_cast<unsigned char>(c);
    if ((byte < 0x20 && !(lines && (c == '\n' || c == '\r' || c == '\t'))) || byte == 0x7f) {
      return bad_field(field, field + " holds a control character");
    }
  }
  return ok_status();
}

// The last day a license issued on `from` is valid: `years` later, less one day. A year after
// 29 February is 1 March (C++'s rule for a day its month lacks), so the last day is 28 February.
Date last_valid_day(Date from, int years) {
  std::chrono::year_month_day later = from.calendar() + std::chrono::years(years);
  return Date(std::chrono::sys_days(later) - std::chrono::days(1));
}

Result<std::string> random_serial(Date today) {
  std::string serial = std::to_string(today.year());
  while (serial.size() < 4 + serial_random_characters) {
    auto bytes = crypto::random_bytes(16);
    if (!bytes.ok()) return bytes.take_error();
    // 252 = 7 * 36: values above it would favour the first characters.
    for (std::uint8_t byte : *bytes) {
      if (byte < 252 && serial.size() < 4 + serial_random_characters) serial += serial_alphabet[byte % 36];
    }
  }
  return serial;
}

Result<License> license_of(const store::Row& row) {
  License license;
  license.identifier = row.text(0);
  license.type = row.text(1);
  license.issuer = row.text(2);
  license.holder_id = row.text(3);
  license.holder_id_type = row.text(4);
  license.valid_to = row.optional_text(5).value_or("");
  license.document = row.text(6);
  license.signature = row.blob(7);
  license.certificate_serial = row.text(8);
  license.issued_at = row.text(9);
  license.issued_by = row.text(10);
  license.revoked = row.text(11) == "revoked";
  license.revoked_at = row.optional_text(12).value_or("");
  license.revoked_by = row.optional_text(13).value_or("");
  license.revocation_reason = row.optional_text(14).value_or("");
  license.log_index = row.integer(15);
  return license;
}

Presentation presentation_of(const store::Row& row) {
  return {row.text(0), row.text(1), row.text(2), row.text(3), row.text(4), row.text(5), row.text(6)};
}

nlohmann::json text_or_null(const std::string& text) { return text.empty() ? nlohmann::json(nullptr) : nlohmann::json(text); }

bool holds(const License& license, const Viewer& viewer) {
  if (license.holder_id_type == citizen_id_type) return !viewer.citizen_id.empty() && viewer.citizen_id == license.holder_id;
  return !viewer.legal_person.empty() && viewer.legal_person == license.holder_id;
}

bool may_see(const License& license, const Viewer& viewer) {
  return holds(license, viewer) || (!viewer.department.empty() && viewer.department == license.issuer);
}

}  // namespace

// ---- Values -----------------------------------------------------------------------------------

std::string_view status_name(LicenseStatus status) {
  switch (status) {
    case LicenseStatus::valid: return "valid";
    case LicenseStatus::revoked: return "revoked";
    case LicenseStatus::expired: return "expired";
  }
  return "valid";
}

nlohmann::json License::fields() const { return nlohmann::json::parse(document, nullptr, false); }

LicenseStatus License::status_on(Date today) const {
  if (revoked) return LicenseStatus::revoked;
  if (!valid_to.empty() && today.to_string() > valid_to) return LicenseStatus::expired;
  return LicenseStatus::valid;
}

nlohmann::json License::to_json(Date today) const {
  return {{"identifier", identifier},
          {"type", type},
          {"issuer", issuer},
          {"status", status_name(status_on(today))},
          {"document", fields()},
          {"document_canonical", document},
          {"signature_hex", crypto::to_hex(signature)},
          {"certificate_serial", certificate_serial},
          {"issued_at", issued_at},
          {"revoked_at", text_or_null(revoked_at)},
          {"revocation_reason", text_or_null(revocation_reason)}};
}

std::string_view Verification::outcome_name() const {
  switch (outcome) {
    case Outcome::valid: return "valid";
    case Outcome::revoked: return "revoked";
    case Outcome::expired: return "expired";
    case Outcome::invalid: return "invalid";
    case Outcome::not_found: return "not_found";
  }
  return "not_found";
}

nlohmann::json Verification::to_json() const {
  nlohmann::json answer = {{"status", outcome_name()},
                           {"signature_valid", signature_valid},
                           {"checked_at", checked_at},
                           {"problem", text_or_null(problem)}};
  if (!license) return answer;
  nlohmann::json chain_pem = nlohmann::json::array();
  for (const crypto::Certificate& certificate : chain) chain_pem.push_back(certificate.pem());
  nlohmann::json document = license->fields();
  answer["identifier"] = license->identifier;
  answer["document"] = document.is_discarded() ? nlohmann::json(nullptr) : document;
  answer["document_canonical"] = license->document;
  answer["signature_hex"] = crypto::to_hex(license->signature);
  answer["signature_algorithm"] = "SM2 with SM3, distinguishing ID " + std::string(crypto::sm2_default_id) + ", DER";
  answer["certificate_serial"] = license->certificate_serial;
  answer["certificate_status"] =
      certificate ? nlohmann::json(pki::certificate_status_name(certificate->status)) : nlohmann::json(nullptr);
  answer["certificate_chain_pem"] = chain_pem;
  answer["revoked_at"] = text_or_null(license->revoked_at);
  answer["revocation_reason"] = text_or_null(license->revocation_reason);
  return answer;
}

nlohmann::json Presentation::to_json() const {
  return {{"id", id},
          {"identifier", identifier},
          {"department", department},
          {"purpose", purpose},
          {"presented_by", presented_by},
          {"created_at", created_at},
          {"expires_at", expires_at}};
}

std::string verify_url(std::string_view public_url, std::string_view identifier) {
  std::string base(public_url);
  while (base.ends_with('/')) base.pop_back();
  return base + "/api/v1/licenses/" + std::string(identifier) + "/verify";
}

// ---- Licenses ---------------------------------------------------------------------------------

Licenses::Licenses(store::Database& database, audit::TransparencyLog& log, pki::CertificateAuthority& authority,
                   const LicenseConfiguration& configuration, const Clock& clock, Options options)
    : database_(database),
      log_(log),
      authority_(authority),
      configuration_(configuration),
      clock_(clock),
      options_(options) {}

std::vector<store::Migration> Licenses::migrations() {
  return {{"license", 1, "licenses and their presentations", schema_v1, ""}};
}

Status Licenses::ensure_certificate(const Department& department, std::string_view actor) {
  std::lock_guard lock(certificate_mutex_);
  auto active = authority_.list({pki::SubjectKind::department, department.uscc, pki::CertificateStatus::active});
  if (!active.ok()) return active.take_error();
  if (active->empty()) return authority_.issue_department_certificate(department.uscc, department.name, actor).status();
  // A license is never signed with a certificate about to expire: it would verify only until then.
  if (active->front().not_after < clock_.now() + certificate_renewal_window) {
    return authority_.rotate(pki::SubjectKind::department, department.uscc, actor).status();
  }
  return ok_status();
}

Status Licenses::ensure_certificates(std::string_view actor) {
  std::set<std::string> done;
  for (const LicenseType& type : configuration_.types) {
    if (!done.insert(type.department).second) continue;
    const Department* department = configuration_.department(type.department);
    if (department == nullptr) continue;
    ONEWINDOW_TRY(ensure_certificate(*department, actor));
  }
  return ok_status();
}

Result<std::shared_ptr<const Licenses::SigningKey>> Licenses::signing_key(const Department& department) const {
  // A rotation between the two reads would pair a key with the wrong certificate: check they
  // belong together, and read again if not.
  for (int attempt = 0; attempt < 3; ++attempt) {
    auto active = authority_.list({pki::SubjectKind::department, department.uscc, pki::CertificateStatus::active});
    if (!active.ok()) return active.take_error();
    if (active->empty()) {
      return Error(ErrorKind::conflict, "license.no_certificate",
                   "the department " + department.key + " has no certificate to sign licenses with yet");
    }
    {
      std::lock_guard lock(signing_keys_mutex_);
      auto kept = signing_keys_.find(active->front().serial);
      if (kept != signing_keys_.end()) {
        auto now = clock_.now();
        if (now >= kept->second->not_before && now <= kept->second->not_after) return kept->second;
      }
    }
    auto key = authority_.department_key(department.uscc);
    if (!key.ok()) {
      if (key.error().code == "pki.certificate_not_found") continue;
      return key.take_error();
    }
    auto certificate = crypto::Certificate::from_pem(active->front().certificate_pem);
    if (!certificate.ok()) return corrupt("the certificate " + active->front().serial + " does not parse");
    auto now = clock_.now();
    if (now < certificate->not_before() || now > certificate->not_after()) {
      return Error(ErrorKind::conflict, "license.no_certificate",
                   "the certificate of " + department.key + " is not valid now; it must be rotated (pki)");
    }
    if (certificate->public_key().to_hex() == key->public_key().to_hex()) {
      auto signing = std::make_shared<const SigningKey>(
          SigningKey{std::move(active->front()), std::move(key).value(), certificate->not_before(), certificate->not_after()});
      std::lock_guard lock(signing_keys_mutex_);
      signing_keys_[signing->first.serial] = signing;
      return signing;
    }
  }
  return Error(ErrorKind::unavailable, "license.no_certificate",
               "the certificate of " + department.key + " kept changing; try again");
}

Result<License> Licenses::issue(store::Session& session, const IssueRequest& request, const Actor& by) {
  const LicenseType* type = configuration_.type(request.type);
  if (type == nullptr) {
    return Error::invalid("license.unknown_type", "type", "no license type " + request.type + " in config/licenses/types.yaml");
  }
  if (by.department != type->department) {
    return Error(ErrorKind::permission_denied, "license.not_issuer",
                 "a " + type->name + " is issued by " + type->department + " only", {{"field", "type"}});
  }
  const Department* issuer = configuration_.department(type->department);
  if (issuer == nullptr) return corrupt("the issuing department " + type->department + " is not configured");
  const Date today = clock_.today();

  ONEWINDOW_TRY(check_text(request.holder_name, "holder_name", 200, true));
  std::string holder_id;
  if (type->holder == HolderKind::citizen) {
    holder_id = normalise_citizen_id(request.holder_id);
    ONEWINDOW_TRY(validate_citizen_id(holder_id, today, "holder_id"));
  } else {
    holder_id = normalise_unified_social_credit_code(request.holder_id);
    ONEWINDOW_TRY(validate_unified_social_credit_code(holder_id, "holder_id"));
  }
  ONEWINDOW_TRY(check_text(request.license_number, "license_number", 64, false));
  ONEWINDOW_TRY(check_text(request.license_name, "license_name", 100, false));
  ONEWINDOW_TRY(check_text(request.basis, "basis", 500, false));
  std::string jurisdiction = request.jurisdiction.empty() ? issuer->division : request.jurisdiction;
  if (jurisdiction.size() != 6 || !std::all_of(jurisdiction.begin(), jurisdiction.end(), [](char c) {
        return c >= '0' && c <= '9';
      })) {
    return bad_field("jurisdiction", "jurisdiction is a 6-digit division code");
  }
  if (!request.related_license.empty()) {
    ONEWINDOW_TRY(LicenseIdentifier::parse(request.related_license, "related_license").status());
  }
  if (!request.data.is_object()) return bad_field("data", "data is an object of the type's data items");
  for (const auto& [name, value] : request.data.items()) {
    if (type->item(name) == nullptr) {
      return Error::invalid("license.unknown_item", "data." + name, "a " + type->name + " has no data item " + name);
    }
    if (!value.is_string()) return bad_field("data." + name, "data." + name + " must be a string");
    ONEWINDOW_TRY(check_text(value.get_ref<const std::string&>(), "data." + name, 4000, false, true));
  }

  auto signer = signing_key(*issuer);
  if (!signer.ok()) return signer.take_error();
  const pki::CertificateRecord& certificate = (*signer)->first;
  const crypto::PrivateKey& key = (*signer)->second;
  auto serial = random_serial(today);
  if (!serial.ok()) return serial.take_error();
  auto identifier = LicenseIdentifier::make(type->type_code(), issuer->uscc, *serial, "001");
  if (!identifier.ok()) return identifier.take_error();

  License license;
  license.identifier = identifier->text();
  license.type = type->key;
  license.issuer = issuer->key;
  license.holder_id = holder_id;
  license.holder_id_type = std::string(type->holder_id_type());
  if (type->validity_years > 0) license.valid_to = last_valid_day(today, type->validity_years).to_string();
  nlohmann::json document = {
      {"kind", "onewindow.license.v1"},
      {"license_name", request.license_name.empty() ? type->name : request.license_name},
      {"license_type_name", type->name},
      {"license_type_code", type->type_code()},
      {"license_number", request.license_number.empty() ? *serial : request.license_number},
      {"identifier", license.identifier},
      {"holder_name", request.holder_name},
      {"holder_id", holder_id},
      {"holder_id_type", license.holder_id_type},
      {"issuer_name", issuer->name},
      {"issuer_code", issuer->uscc},
      {"issue_date", today.to_string()},
      {"valid_from", today.to_string()},
      {"valid_to", text_or_null(license.valid_to)},
      {"jurisdiction", jurisdiction},
      {"related_license", text_or_null(request.related_license)},
      {"data", request.data},
  };
  auto canonical = audit::canonical_json(document);
  if (!canonical.ok()) {
    Error error = canonical.take_error();
    error.details["field"] = "data";
    return error;
  }
  license.document = std::move(canonical).value();
  auto signature = key.sign(license.document);
  if (!signature.ok()) return signature.take_error();
  license.signature = std::move(signature).value();
  license.certificate_serial = certificate.serial;
  license.issued_at = format_timestamp(clock_.now());
  license.issued_by = by.account_id;

  auto receipt = log_.record(session, {by.account_id, holder_id, "license.issue", "license", license.identifier,
                                       request.basis,
                                       {{"type", type->key},
                                        {"issuer", issuer->key},
                                        {"holder_id_type", license.holder_id_type},
                                        {"license_number", document["license_number"]},
                                        {"valid_to", text_or_null(license.valid_to)},
                                        {"certificate_serial", certificate.serial},
                                        {"document_sm3", crypto::to_hex(crypto::sm3(license.document))}}});
  if (!receipt.ok()) return receipt.take_error();
  license.log_index = receipt->index;
  ONEWINDOW_TRY(session
                    .execute(insert_license,
                             {license.identifier, license.type, license.issuer, license.holder_id,
                              license.holder_id_type,
                              license.valid_to.empty() ? store::Value() : store::Value(license.valid_to),
                              license.document, store::Blob(license.signature), license.certificate_serial,
                              license.issued_at, license.issued_by, license.log_index})
                    .status());
  return license;
}

Result<License> Licenses::issue(const IssueRequest& request, const Actor& by) {
  if (const LicenseType* type = configuration_.type(request.type); type != nullptr && by.department == type->department) {
    if (const Department* issuer = configuration_.department(type->department)) {
      ONEWINDOW_TRY(ensure_certificate(*issuer, by.account_id.empty() ? "system" : by.account_id));
    }
  }
  return database_.write_value<License>([&](store::Session& session) { return issue(session, request, by); });
}

Result<std::optional<License>> Licenses::find(store::Session& session, std::string_view identifier) const {
  auto row = session.query_one(std::string(select_license) + " WHERE identifier = $1", {std::string(identifier)});
  if (!row.ok()) return row.take_error();
  if (!*row) return std::optional<License>();
  auto license = license_of(**row);
  if (!license.ok()) return license.take_error();
  return std::optional<License>(std::move(license).value());
}

Result<License> Licenses::license(std::string_view identifier) const {
  ONEWINDOW_TRY(LicenseIdentifier::parse(identifier).status());
  return database_.read_value<License>([&](store::Session& session) -> Result<License> {
    auto found = find(session, identifier);
    if (!found.ok()) return found.take_error();
    if (!*found) return not_found(identifier);
    return std::move(**found);
  });
}

Result<License> Licenses::license_for(std::string_view identifier, const Viewer& viewer) const {
  auto found = license(identifier);
  if (!found.ok()) return found;
  if (!may_see(*found, viewer)) return not_found(identifier);
  return found;
}

Result<std::vector<License>> Licenses::licenses_of(const Viewer& holder) const {
  std::string type, id;
  if (!holder.citizen_id.empty()) {
    type = citizen_id_type;
    id = holder.citizen_id;
  } else if (!holder.legal_person.empty()) {
    type = credit_code_type;
    id = holder.legal_person;
  } else {
    return Error(ErrorKind::permission_denied, "license.not_holder",
                 "only a citizen or an enterprise user holds licenses");
  }
  return database_.read_value<std::vector<License>>([&](store::Session& session) -> Result<std::vector<License>> {
    auto rows = session.query(std::string(select_license) +
                                  " WHERE holder_id_type = $1 AND holder_id = $2 ORDER BY issued_at DESC, identifier "
                                  "LIMIT 500",
                              {type, id});
    if (!rows.ok()) return rows.take_error();
    std::vector<License> licenses;
    for (const store::Row& row : *rows) {
      auto license = license_of(row);
      if (!license.ok()) return license.take_error();
      licenses.push_back(std::move(license).value());
    }
    return licenses;
  });
}

Result<License> Licenses::revoke(std::string_view identifier, std::string_view reason, const Actor& by) {
  ONEWINDOW_TRY(LicenseIdentifier::parse(identifier).status());
  ONEWINDOW_TRY(check_text(reason, "reason", 500, true));
  std::string now = format_timestamp(clock_.now());
  return database_.write_value<License>([&](store::Session& session) -> Result<License> {
    auto found = find(session, identifier);
    if (!found.ok()) return found.take_error();
    if (!*found) return not_found(identifier);
    License license = std::move(**found);
    if (license.issuer != by.department) {
      return Error(ErrorKind::permission_denied, "license.not_issuer",
                   "only the issuing department " + license.issuer + " revokes this license");
    }
    if (license.revoked) {
      return Error(ErrorKind::conflict, "license.already_revoked", "the license was revoked at " + license.revoked_at);
    }
    auto changed = session.execute(revoke_license, {license.identifier, now, by.account_id, std::string(reason)});
    if (!changed.ok()) return changed.take_error();
    if (*changed != 1) return Error(ErrorKind::conflict, "license.already_revoked", "the license was revoked meanwhile");
    auto receipt = log_.record(session, {by.account_id, license.holder_id, "license.revoke", "license",
                                         license.identifier, std::string(reason),
                                         {{"type", license.type}, {"issuer", license.issuer}}});
    if (!receipt.ok()) return receipt.take_error();
    license.revoked = true;
    license.revoked_at = now;
    license.revoked_by = by.account_id;
    license.revocation_reason = std::string(reason);
    return license;
  });
}

Result<Verification> Licenses::verify(std::string_view identifier) const {
  ONEWINDOW_TRY(LicenseIdentifier::parse(identifier).status());
  Verification verification;
  verification.checked_at = format_timestamp(clock_.now());
  auto found = database_.read_value<std::optional<License>>(
      [&](store::Session& session) { return find(session, identifier); });
  if (!found.ok()) return found.take_error();
  if (!*found) return verification;
  verification.license = std::move(**found);
  const License& license = *verification.license;

  auto problem = [&]() -> std::string {
    auto record = authority_.certificate(license.certificate_serial);
    if (!record.ok()) return "the certificate " + license.certificate_serial + " that signed it is unknown";
    verification.certificate = *record;
    auto chain = authority_.chain(license.certificate_serial);
    if (!chain.ok()) return "the certificate chain cannot be read: " + chain.error().message;
    verification.chain = std::move(chain).value();
    const std::vector<crypto::Certificate>& chain_ = verification.chain;
    if (chain_.size() < 2) return "the certificate chain does not lead to a root";
    for (std::size_t i = 0; i + 1 < chain_.size(); ++i) {
      if (!chain_[i].verify_signature(chain_[i + 1].public_key()).ok()) {
        return "the certificate " + chain_[i].serial_hex() + " is not signed by its issuer";
      }
    }
    if (chain_.back().fingerprint() != authority_.root_certificate().fingerprint()) {
      return "the chain ends at a root other than this node's";
    }
    if (!chain_.front().public_key().verify(license.document, license.signature).ok()) {
      return "the signature does not verify: the document was changed, or not signed by this certificate";
    }
    nlohmann::json document = license.fields();
    if (!document.is_object()) return "the document is not JSON";
    auto canonical = audit::canonical_json(document);
    if (!canonical.ok() || *canonical != license.document) return "the document is not in canonical form";
    if (document.value("identifier", "") != license.identifier) return "the document names another identifier";
    if (document.value("holder_id", "") != license.holder_id) return "the document names another holder";
    if (document.value("issuer_code", "") != chain_.front().subject().serial_number) {
      return "the certificate that signed it is not the issuer's";
    }
    auto issued = parse_timestamp(license.issued_at);
    if (!issued.ok() || *issued < chain_.front().not_before() || *issued > chain_.front().not_after()) {
      return "it was signed outside the validity of its certificate";
    }
    if (record->status == pki::CertificateStatus::revoked && record->revoked_at &&
        (*record->revoked_at <= *issued || record->revocation_reason == crypto::RevocationReason::key_compromise)) {
      return "the certificate that signed it was revoked (" +
             std::string(crypto::revocation_reason_name(
                 record->revocation_reason.value_or(crypto::RevocationReason::unspecified))) +
             ")";
    }
    return "";
  }();
  verification.problem = problem;
  verification.signature_valid = problem.empty();
  if (!verification.signature_valid) {
    verification.outcome = Verification::Outcome::invalid;
    return verification;
  }
  switch (license.status_on(clock_.today())) {
    case LicenseStatus::valid: verification.outcome = Verification::Outcome::valid; break;
    case LicenseStatus::revoked: verification.outcome = Verification::Outcome::revoked; break;
    case LicenseStatus::expired: verification.outcome = Verification::Outcome::expired; break;
  }
  return verification;
}

Result<Presentation> Licenses::present(std::string_view identifier, const Viewer& holder, std::string_view account_id,
                                       std::string_view department, std::string_view purpose) {
  auto found = license(identifier);
  if (!found.ok()) return found.take_error();
  if (!holds(*found, holder)) return not_found(identifier);
  if (configuration_.department(department) == nullptr) {
    return bad_field("department", "no department " + std::string(department));
  }
  ONEWINDOW_TRY(check_text(purpose, "purpose", 500, true));
  LicenseStatus status = found->status_on(clock_.today());
  if (status != LicenseStatus::valid) {
    return Error(ErrorKind::conflict, "license.not_valid", "a license that is " + std::string(status_name(status)) +
                                                                " cannot be presented");
  }
  auto now = clock_.now();
  Presentation presentation{new_id("lpr"),
                            found->identifier,
                            std::string(department),
                            std::string(purpose),
                            std::string(account_id),
                            format_timestamp(now),
                            format_timestamp(now + options_.presentation_lifetime)};
  ONEWINDOW_TRY(database_.write([&](store::Session& session) -> Status {
    auto receipt = log_.record(session, {presentation.presented_by, found->holder_id, "license.present",
                                         "license_presentation", presentation.id, presentation.purpose,
                                         {{"identifier", presentation.identifier},
                                          {"department", presentation.department},
                                          {"expires_at", presentation.expires_at}}});
    if (!receipt.ok()) return receipt.take_error();
    return session
        .execute(insert_presentation,
                 {presentation.id, presentation.identifier, presentation.department, presentation.purpose,
                  presentation.presented_by, presentation.created_at, presentation.expires_at, receipt->index})
        .status();
  }));
  return presentation;
}

Result<std::pair<Presentation, Verification>> Licenses::presented(std::string_view presentation_id, const Actor& by) {
  auto missing = [&] {
    return Error(ErrorKind::not_found, "license.presentation_not_found",
                 "no presentation " + std::string(presentation_id) + " to this department", {{"field", "id"}});
  };
  if (!validate_id(presentation_id, "lpr").ok()) return missing();
  auto found = database_.read_value<std::optional<Presentation>>(
      [&](store::Session& session) -> Result<std::optional<Presentation>> {
        auto row = session.query_one(select_presentation, {std::string(presentation_id)});
        if (!row.ok()) return row.take_error();
        if (!*row) return std::optional<Presentation>();
        return std::optional<Presentation>(presentation_of(**row));
      });
  if (!found.ok()) return found.take_error();
  if (!*found || (*found)->department != by.department) return missing();
  Presentation presentation = std::move(**found);
  if (format_timestamp(clock_.now()) > presentation.expires_at) {
    return Error(ErrorKind::conflict, "license.presentation_expired",
                 "the presentation expired at " + presentation.expires_at + ": ask the holder to present it again");
  }
  auto verification = verify(presentation.identifier);
  if (!verification.ok()) return verification.take_error();
  std::string holder = verification->license ? verification->license->holder_id : "";
  ONEWINDOW_TRY(database_.write([&](store::Session& session) -> Status {
    return log_
        .record(session, {by.account_id, holder, "license.presentation_read", "license_presentation", presentation.id,
                          presentation.purpose,
                          {{"identifier", presentation.identifier},
                           {"department", by.department},
                           {"status", verification->outcome_name()}}})
        .status();
  }));
  return std::pair{std::move(presentation), std::move(verification).value()};
}

Result<std::string> Licenses::pdf(std::string_view identifier, const Viewer& viewer, std::string_view public_url) const {
  auto found = license_for(identifier, viewer);
  if (!found.ok()) return found.take_error();
  const LicenseType* type = configuration_.type(found->type);
  if (type == nullptr) {
    return Error(ErrorKind::conflict, "license.unknown_type",
                 "the license type " + found->type + " is no longer configured", {{"field", "type"}});
  }
  return render_pdf(*found, *type, verify_url(public_url, found->identifier));
}

}  // namespace onewindow::license
