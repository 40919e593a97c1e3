// The certificate authority over HTTP: the root certificate and the CRL for anyone who checks a
// signature, certificates with their chains, and issuing, rotating and revoking for operators.
#include "api/api.h"

#include "base/clock.h"
#include "base/identifiers.h"
#include "pki/pki.h"

#include <algorithm>

namespace onewindow::api {

namespace {

constexpr const char* pem_content_type = "application/x-pem-file";
constexpr const char* crl_content_type = "application/pkix-crl";  // DER (RFC 5280 4.2.1.13)

nlohmann::json optional_time(const std::optional<std::chrono::system_clock::time_point>& time) {
  return time ? nlohmann::json(format_timestamp(*time)) : nlohmann::json(nullptr);
}

nlohmann::json optional_text(const std::string& text) {
  return text.empty() ? nlohmann::json(nullptr) : nlohmann::json(text);
}

nlohmann::json describe(const pki::CertificateRecord& record) {
  return {
      {"serial", record.serial},
      {"subject_kind", pki::subject_kind_name(record.subject_kind)},
      {"subject_key", record.subject_key},
      {"subject_name", record.subject_name},
      {"issuer_serial", optional_text(record.issuer_serial)},
      {"supersedes", optional_text(record.supersedes)},
      {"status", pki::certificate_status_name(record.status)},
      {"not_before", format_timestamp(record.not_before)},
      {"not_after", format_timestamp(record.not_after)},
      {"issued_at", format_timestamp(record.issued_at)},
      {"superseded_at", optional_time(record.superseded_at)},
      {"revoked_at", optional_time(record.revoked_at)},
      {"revocation_reason", record.revocation_reason
                                ? nlohmann::json(crypto::revocation_reason_name(*record.revocation_reason))
                                : nlohmann::json(nullptr)},
  };
}

// The record with its PEM and chain (the certificate first, the root last).
Result<nlohmann::json> describe_in_full(const pki::CertificateAuthority& authority,
                                        const pki::CertificateRecord& record) {
  auto chain = authority.chain(record.serial);
  if (!chain.ok()) return chain.take_error();
  nlohmann::json described = describe(record);
  nlohmann::json chain_pem = nlohmann::json::array();
  for (const crypto::Certificate& certificate : *chain) chain_pem.push_back(certificate.pem());
  const crypto::Certificate& certificate = chain->front();
  described["subject"] = certificate.subject_text();
  described["issuer"] = certificate.issuer_text();
  described["fingerprint_sm3"] = crypto::to_hex(certificate.fingerprint());
  described["certificate_pem"] = certificate.pem();
  described["chain_pem"] = chain_pem;
  return described;
}

const nlohmann::json record_schema = {
    {"type", "object"},
    {"required", {"serial", "subject_kind", "subject_key", "subject_name", "status", "not_before", "not_after"}},
    {"properties",
     {{"serial", {{"type", "string"}, {"pattern", "^[0-9a-f]{32}$"}}},
      {"subject_kind", {{"enum", {"root", "node", "department"}}}},
      {"subject_key", {{"type", "string"}}},
      {"subject_name", {{"type", "string"}}},
      {"issuer_serial", {{"type", {"string", "null"}}}},
      {"supersedes", {{"type", {"string", "null"}}}},
      {"status", {{"enum", {"active", "superseded", "revoked"}}}},
      {"not_before", {{"type", "string"}}},
      {"not_after", {{"type", "string"}}},
      {"issued_at", {{"type", "string"}}},
      {"superseded_at", {{"type", {"string", "null"}}}},
      {"revoked_at", {{"type", {"string", "null"}}}},
      {"revocation_reason", {{"type", {"string", "null"}}}},
      {"certificate_pem", {{"type", "string"}}},
      {"chain_pem", {{"type", "array"}, {"items", {{"type", "string"}}}}}}}};

// The body of a POST, where an empty body counts as {}; unknown fields and fields that are not
// strings are refused by name.
Result<nlohmann::json> string_fields(const Request& request, const std::vector<std::string>& allowed) {
  if (request.body.empty()) return nlohmann::json::object();
  auto body = request.json_body();
  if (!body.ok()) return body.take_error();
  for (const auto& [key, value] : body->items()) {
    if (std::find(allowed.begin(), allowed.end(), key) == allowed.end()) {
      return Error::invalid("http.unknown_field", key, "unknown field " + key);
    }
    if (!value.is_string()) return Error::invalid("http.bad_field", key, key + " must be a string");
  }
  return body;
}

}  // namespace

void add_pki_routes(Router& router, pki::CertificateAuthority& authority) {
  router.add({"GET", "/api/v1/pki/root.pem", "public",
              "The platform's root CA certificate (PEM), the trust anchor for every certificate and CRL it issues.",
              "pki", [&authority](const Request&) -> Result<Response> {
                return Response::text(200, pem_content_type, authority.root_certificate().pem());
              }});

  router.add({"GET", "/api/v1/pki/crl", "public",
              "The current certificate revocation list, signed by the root CA: PEM, or DER with format=der.", "pki",
              [&authority](const Request& request) -> Result<Response> {
                std::string format = "pem";
                if (auto given = request.query.find("format"); given != request.query.end()) format = given->second;
                if (format != "pem" && format != "der") {
                  return Error::invalid("http.bad_parameter", "format", "format must be pem or der");
                }
                auto list = authority.revocation_list();
                if (!list.ok()) return list.take_error();
                if (format == "der") {
                  return Response::text(200, crl_content_type, std::string(list->der().begin(), list->der().end()));
                }
                return Response::text(200, pem_content_type, list->pem());
              }});

  router.add(
      {"GET",
       "/api/v1/pki/certificates",
       "pki.read",
       "The certificates the CA issued, newest first; filtered by subject_kind (root, node, department), "
       "subject (a USCC or division code) and status (active, superseded, revoked).",
       "pki",
       [&authority](const Request& request) -> Result<Response> {
         pki::CertificateFilter filter;
         if (auto kind = request.query.find("subject_kind"); kind != request.query.end() && !kind->second.empty()) {
           auto parsed = pki::parse_subject_kind(kind->second, "subject_kind");
           if (!parsed.ok()) return parsed.take_error();
           filter.subject_kind = *parsed;
         }
         if (auto subject = request.query.find("subject"); subject != request.query.end()) {
           filter.subject_key = normalise_unified_social_credit_code(subject->second);
         }
         if (auto status = request.query.find("status"); status != request.query.end() && !status->second.empty()) {
           auto parsed = pki::parse_certificate_status(status->second, "status");
           if (!parsed.ok()) return parsed.take_error();
           filter.status = *parsed;
         }
         auto records = authority.list(filter);
         if (!records.ok()) return records.take_error();
         nlohmann::json listed = nlohmann::json::array();
         for (const pki::CertificateRecord& record : *records) listed.push_back(describe(record));
         return Response::json(200, {{"certificates", listed}});
       },
       nullptr,
       {{"type", "object"}, {"properties", {{"certificates", {{"type", "array"}, {"items", record_schema}}}}}}});

  router.add({"GET", "/api/v1/pki/certificates/{serial}", "public",
              "One certificate with its PEM and its chain up to the root; format=pem gives the chain as one PEM file.",
              "pki",
              [&authority](const Request& request) -> Result<Response> {
                auto record = authority.certificate(request.path_parameters.at("serial"));
                if (!record.ok()) return record.take_error();
                if (auto format = request.query.find("format"); format != request.query.end()) {
                  if (format->second != "pem" && format->second != "json") {
                    return Error::invalid("http.bad_parameter", "format", "format must be json or pem");
                  }
                  if (format->second == "pem") {
                    auto chain = authority.chain(record->serial);
                    if (!chain.ok()) return chain.take_error();
                    std::string pem;
                    for (const crypto::Certificate& certificate : *chain) pem += certificate.pem();
                    return Response::text(200, pem_content_type, pem);
                  }
                }
                auto described = describe_in_full(authority, *record);
                if (!described.ok()) return described.take_error();
                return Response::json(200, *described);
              },
              nullptr, record_schema});

  router.add({"POST",
              "/api/v1/pki/departments/{uscc}/certificate",
              "pki.issue",
              "Issues a department a new SM2 key and certificate; a department that has one is rotated (the old "
              "certificate is superseded). name (the department's Chinese name) is required the first time.",
              "pki",
              [&authority](const Request& request) -> Result<Response> {
                std::string uscc = normalise_unified_social_credit_code(request.path_parameters.at("uscc"));
                ONEWINDOW_TRY(validate_unified_social_credit_code(uscc, "uscc"));
                auto body = string_fields(request, {"name"});
                if (!body.ok()) return body.take_error();
                Result<pki::CertificateRecord> issued = Error();
                if (body->contains("name")) {
                  issued = authority.issue_department_certificate(uscc, (*body)["name"].get<std::string>(),
                                                                  request.principal->account_id);
                } else {
                  auto active = authority.list({pki::SubjectKind::department, uscc, pki::CertificateStatus::active});
                  if (!active.ok()) return active.take_error();
                  if (active->empty()) {
                    return Error::invalid("http.missing_field", "name",
                                          "name is required for a department's first certificate");
                  }
                  issued = authority.rotate(pki::SubjectKind::department, uscc, request.principal->account_id);
                }
                if (!issued.ok()) return issued.take_error();
                auto described = describe_in_full(authority, *issued);
                if (!described.ok()) return described.take_error();
                return Response::json(201, *described);
              },
              {{"type", "object"},
               {"additionalProperties", false},
               {"properties", {{"name", {{"type", "string"}, {"minLength", 1}, {"maxLength", 64}}}}}},
              record_schema});

  router.add({"POST",
              "/api/v1/pki/certificates/{serial}/revocation",
              "pki.revoke",
              "Revokes a certificate for a reason (key_compromise, affiliation_changed, superseded, "
              "cessation_of_operation, privilege_withdrawn or unspecified) and publishes a new CRL.",
              "pki",
              [&authority](const Request& request) -> Result<Response> {
                auto serial = pki::CertificateAuthority::normalise_serial(request.path_parameters.at("serial"));
                if (!serial.ok()) return serial.take_error();
                auto body = string_fields(request, {"reason"});
                if (!body.ok()) return body.take_error();
                if (!body->contains("reason")) {
                  return Error::invalid("http.missing_field", "reason", "reason is required");
                }
                auto reason = pki::parse_revocation_reason((*body)["reason"].get<std::string>(), "reason");
                if (!reason.ok()) return reason.take_error();
                auto revoked = authority.revoke(*serial, *reason, request.principal->account_id);
                if (!revoked.ok()) return revoked.take_error();
                return Response::json(200, describe(*revoked));
              },
              {{"type", "object"},
               {"additionalProperties", false},
               {"required", {"reason"}},
               {"properties",
                {{"reason",
                  {{"enum",
                    {"unspecified", "key_compromise", "affiliation_changed", "superseded", "cessation_of_operation",
                     "privilege_withdrawn"}}}}}}},
              record_schema});
}

}  // namespace onewindow::api
