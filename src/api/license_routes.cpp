// Electronic licenses over HTTP: the public verify answer, the holder's licenses and their PDF,
// revocation by the issuing department, and presenting a license to another department.
#include "api/api.h"

#include "license/license.h"

namespace onewindow::api {

namespace {

// Who is asking, as the license module judges: the holder's ids and the official's department.
Result<license::Viewer> viewer_of(const Request& request, identity::Directory& directory) {
  const identity::Principal& principal = *request.principal;
  license::Viewer viewer{principal.citizen_id, principal.legal_person, ""};
  if (!principal.department_id.empty()) {
    auto department = directory.department(principal.department_id);
    if (!department.ok()) return department.take_error();
    viewer.department = department->key;
  }
  return viewer;
}

Result<license::Actor> actor_of(const Request& request, identity::Directory& directory) {
  const identity::Principal& principal = *request.principal;
  if (principal.department_id.empty()) {
    return Error(ErrorKind::permission_denied, "license.no_department", "only an official of a department does this");
  }
  auto department = directory.department(principal.department_id);
  if (!department.ok()) return department.take_error();
  return license::Actor{principal.account_id, department->key};
}

const nlohmann::json license_schema = {
    {"type", "object"},
    {"required", {"identifier", "type", "issuer", "status", "document", "document_canonical", "signature_hex"}},
    {"properties",
     {{"identifier", {{"type", "string"}}},
      {"type", {{"type", "string"}}},
      {"issuer", {{"type", "string"}}},
      {"status", {{"enum", {"valid", "revoked", "expired"}}}},
      {"document", {{"type", "object"}}},
      {"document_canonical", {{"type", "string"}, {"description", "the canonical JSON, exactly the bytes signed"}}},
      {"signature_hex", {{"type", "string"}, {"description", "DER SM2 signature (SM3, ID 1234567812345678)"}}},
      {"certificate_serial", {{"type", "string"}}},
      {"issued_at", {{"type", "string"}}},
      {"revoked_at", {{"type", {"string", "null"}}}},
      {"revocation_reason", {{"type", {"string", "null"}}}}}}};

const nlohmann::json verification_schema = {
    {"type", "object"},
    {"required", {"identifier", "status", "signature_valid", "checked_at"}},
    {"properties",
     {{"identifier", {{"type", "string"}}},
      {"status", {{"enum", {"valid", "revoked", "expired", "invalid"}}}},
      {"signature_valid", {{"type", "boolean"}}},
      {"checked_at", {{"type", "string"}}},
      {"problem", {{"type", {"string", "null"}}}},
      {"document", {{"type", {"object", "null"}}}},
      {"document_canonical", {{"type", "string"}}},
      {"signature_hex", {{"type", "string"}}},
      {"signature_algorithm", {{"type", "string"}}},
      {"certificate_serial", {{"type", "string"}}},
      {"certificate_status", {{"type", {"string", "null"}}}},
      {"certificate_chain_pem", {{"type", "array"}, {"items", {{"type", "string"}}}}},
      {"revoked_at", {{"type", {"string", "null"}}}},
      {"revocation_reason", {{"type", {"string", "null"}}}}}}};

const nlohmann::json presentation_schema = {
    {"type", "object"},
    {"required", {"id", "identifier", "department", "purpose", "created_at", "expires_at"}},
    {"properties",
     {{"id", {{"type", "string"}}},
      {"identifier", {{"type", "string"}}},
      {"department", {{"type", "string"}}},
      {"purpose", {{"type", "string"}}},
      {"presented_by", {{"type", "string"}}},
      {"created_at", {{"type", "string"}}},
      {"expires_at", {{"type", "string"}}}}}};

}  // namespace

void add_license_routes(Router& router, license::Licenses& licenses, identity::Directory& directory,
                        std::string public_url) {
  router.add({"GET", "/api/v1/licenses/{identifier}/verify", "public",
              "Verifies a license (no login: the URL of its QR code): valid, revoked, expired or invalid, with the "
              "document, its SM2 signature and the certificate chain to check it offline.",
              "licenses",
              [&licenses](const Request& request) -> Result<Response> {
                const std::string& identifier = request.path_parameters.at("identifier");
                auto verification = licenses.verify(identifier);
                if (!verification.ok()) return verification.take_error();
                if (!verification->license) {
                  return Error(ErrorKind::not_found, "license.not_found", "no license " + identifier,
                               {{"field", "identifier"}});
                }
                return Response::json(200, verification->to_json());
              },
              nullptr, verification_schema});

  router.add({"GET", "/api/v1/me/licenses", "license.own",
              "The licenses the caller holds: a citizen's by citizen ID number, an enterprise user's by the legal "
              "person's USCC; newest first.",
              "licenses",
              [&licenses, &directory](const Request& request) -> Result<Response> {
                auto viewer = viewer_of(request, directory);
                if (!viewer.ok()) return viewer.take_error();
                auto held = licenses.licenses_of(*viewer);
                if (!held.ok()) return held.take_error();
                Date today = licenses.clock().today();
                nlohmann::json list = nlohmann::json::array();
                for (const license::License& license : *held) list.push_back(license.to_json(today));
                return Response::json(200, {{"licenses", list}});
              },
              nullptr,
              {{"type", "object"}, {"properties", {{"licenses", {{"type", "array"}, {"items", license_schema}}}}}}});

  router.add({"GET", "/api/v1/licenses/{identifier}", "authenticated",
              "A license, for its holder or an official of its issuing department (404 for anyone else).", "licenses",
              [&licenses, &directory](const Request& request) -> Result<Response> {
                auto viewer = viewer_of(request, directory);
                if (!viewer.ok()) return viewer.take_error();
                auto found = licenses.license_for(request.path_parameters.at("identifier"), *viewer);
                if (!found.ok()) return found.take_error();
                return Response::json(200, found->to_json(licenses.clock().today()));
              },
              nullptr, license_schema});

  router.add({"GET", "/api/v1/licenses/{identifier}/pdf", "authenticated",
              "The printable license (PDF, A4) with a QR code of its verify URL, for its holder or an official of "
              "its issuing department (404 for anyone else).",
              "licenses",
              [&licenses, &directory, public_url](const Request& request) -> Result<Response> {
                auto viewer = viewer_of(request, directory);
                if (!viewer.ok()) return viewer.take_error();
                const std::string& identifier = request.path_parameters.at("identifier");
                auto pdf = licenses.pdf(identifier, *viewer, public_url);
                if (!pdf.ok()) return pdf.take_error();
                Response response = Response::text(200, "application/pdf", std::move(pdf).value());
                response.headers.emplace_back("Content-Disposition", "inline; filename=\"" + identifier + ".pdf\"");
                response.headers.emplace_back("Cache-Control", "private, no-store");
                return response;
              }});

  router.add({"POST", "/api/v1/licenses/{identifier}/revoke", "license.revoke",
              "Revokes a license for good, with a reason: for officials of its issuing department only.", "licenses",
              [&licenses, &directory](const Request& request) -> Result<Response> {
                auto body = request.json_body();
                if (!body.ok()) return body.take_error();
                ONEWINDOW_TRY(only_known_fields(*body, {"reason"}));
                auto reason = string_field(*body, "reason", true);
                if (!reason.ok()) return reason.take_error();
                auto by = actor_of(request, directory);
                if (!by.ok()) return by.take_error();
                auto revoked = licenses.revoke(request.path_parameters.at("identifier"), *reason, *by);
                if (!revoked.ok()) return revoked.take_error();
                return Response::json(200, revoked->to_json(licenses.clock().today()));
              },
              {{"type", "object"},
               {"required", {"reason"}},
               {"additionalProperties", false},
               {"properties", {{"reason", {{"type", "string"}, {"minLength", 1}, {"maxLength", 500}}}}}},
              license_schema});

  router.add({"POST", "/api/v1/licenses/{identifier}/presentations", "license.own",
              "The holder presents a license to a department (its key) for a purpose, instead of a paper copy: the "
              "department may fetch it, verified, until the presentation expires.",
              "licenses",
              [&licenses](const Request& request) -> Result<Response> {
                auto body = request.json_body();
                if (!body.ok()) return body.take_error();
                ONEWINDOW_TRY(only_known_fields(*body, {"department", "purpose"}));
                auto department = string_field(*body, "department", true);
                if (!department.ok()) return department.take_error();
                auto purpose = string_field(*body, "purpose", true);
                if (!purpose.ok()) return purpose.take_error();
                const identity::Principal& principal = *request.principal;
                auto presented = licenses.present(request.path_parameters.at("identifier"),
                                                  {principal.citizen_id, principal.legal_person, ""},
                                                  principal.account_id, *department, *purpose);
                if (!presented.ok()) return presented.take_error();
                return Response::json(201, presented->to_json());
              },
              {{"type", "object"},
               {"required", {"department", "purpose"}},
               {"additionalProperties", false},
               {"properties", {{"department", {{"type", "string"}}}, {"purpose", {{"type", "string"}}}}}},
              presentation_schema});

  router.add({"GET", "/api/v1/license-presentations/{id}", "license.presented",
              "A license presented to the caller's department, with its verification; the fetch is recorded.",
              "licenses",
              [&licenses, &directory](const Request& request) -> Result<Response> {
                auto by = actor_of(request, directory);
                if (!by.ok()) return by.take_error();
                auto presented = licenses.presented(request.path_parameters.at("id"), *by);
                if (!presented.ok()) return presented.take_error();
                return Response::json(200, {{"presentation", presented->first.to_json()},
                                            {"verification", presented->second.to_json()}});
              },
              nullptr,
              {{"type", "object"},
               {"properties", {{"presentation", presentation_schema}, {"verification", verification_schema}}}}});
}

}  // namespace onewindow::api
