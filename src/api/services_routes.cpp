#include "api/api.h"
#include "api/callers.h"

#include "services/services.h"

namespace onewindow::api {

namespace {

// The caller as an applicant: a citizen for themselves, an enterprise user for their enterprise.
Result<services::Applicant> applicant_of(const Request& request) {
  const identity::Principal& principal = *request.principal;
  if (principal.kind == identity::AccountKind::citizen && !principal.citizen_id.empty()) {
    return services::Applicant{principal.account_id, "citizen", principal.citizen_id, principal.display_name};
  }
  if (principal.kind == identity::AccountKind::enterprise_user && !principal.legal_person.empty()) {
    return services::Applicant{principal.account_id, "enterprise_user", principal.legal_person, principal.display_name};
  }
  return Error(ErrorKind::permission_denied, "services.not_an_applicant",
               "only a citizen or an enterprise user with their own record applies for services");
}

// The caller as an official of a department, with the roles the workflow checks.
Result<services::Official> official_of(const Request& request, identity::Directory& directory) {
  auto actor = caller(request, directory);
  if (!actor.ok()) return actor.take_error();
  if (actor->department_key.empty()) {
    return Error(ErrorKind::permission_denied, "services.no_department", "only an official of a department acts on applications");
  }
  return services::Official{actor->account_id, actor->department_key, actor->roles};
}

Result<std::vector<std::string>> optional_list(const nlohmann::json& body, const char* name) {
  if (!body.contains(name)) return std::vector<std::string>{};
  return string_list(body, name);
}

}  // namespace

void add_services_routes(Router& router, services::Applications& applications, identity::Directory& directory,
                         std::string public_url) {
  const services::ServiceCatalog& catalog = applications.services();

  router.add({"GET", "/api/v1/services", "public",
              "The service items (政务服务事项): code, name, type, departments and the promised limit; ?q= finds them by "
              "name.",
              "services", [&catalog](const Request& request) -> Result<Response> {
                std::string text;
                if (auto found = request.query.find("q"); found != request.query.end()) text = found->second;
                nlohmann::json list = nlohmann::json::array();
                for (const auto& service : catalog.all()) {
                  if (!text.empty() && service.name.find(text) == std::string::npos &&
                      service.english_name.find(text) == std::string::npos && service.code.find(text) == std::string::npos) {
                    continue;
                  }
                  list.push_back({{"code", service.code},
                                  {"name", service.name},
                                  {"name_en", service.english_name},
                                  {"type", service.type},
                                  {"competent_department", service.competent_department},
                                  {"implementing_departments", service.implementing_departments},
                                  {"promised_limit", service.promised_limit},
                                  {"statutory_limit", service.statutory_limit}});
                }
                return Response::json(200, {{"services", list}});
              }});

  router.add({"GET", "/api/v1/services/{code}", "public",
              "A service item's guide: conditions, materials, limits, fees, the legal basis and the form with where each "
              "field comes from.",
              "services", [&catalog](const Request& request) -> Result<Response> {
                const services::ServiceItem* service = catalog.find(request.path_parameters.at("code"));
                if (!service) {
                  return Error(ErrorKind::not_found, "services.unknown_service", "no service " + request.path_parameters.at("code"),
                               {{"field", "code"}});
                }
                return Response::json(200, service->guide());
              }});

  router.add({"POST", "/api/v1/services/{code}/applications", "services.apply",
              "Starts an application: the one form, with what the registries hold filled in through the exchange and "
              "marked with its source, and the values given laid over it. submit: true submits at once. With an "
              "Idempotency-Key header a retried request returns the application the key made (200) instead of a second "
              "one (201).",
              "services",
              [&applications](const Request& request) -> Result<Response> {
                nlohmann::json body = nlohmann::json::object();
                if (!request.body.empty()) {
                  auto parsed = request.json_body();
                  if (!parsed.ok()) return parsed.take_error();
                  body = *parsed;
                }
                ONEWINDOW_TRY(only_known_fields(body, {"form", "submit"}));
                nlohmann::json form = body.value("form", nlohmann::json::object());
                if (!form.is_object()) return Error::invalid("http.bad_field", "form", "form is an object of field values");
                if (body.contains("submit") && !body["submit"].is_boolean()) {
                  return Error::invalid("http.bad_field", "submit", "submit is true or false");
                }
                auto applicant = applicant_of(request);
                if (!applicant.ok()) return applicant.take_error();
                bool replayed = false;
                auto made = applications.create(request.path_parameters.at("code"), *applicant, form,
                                                request.header("idempotency-key"), body.value("submit", false), &replayed);
                if (!made.ok()) return made.take_error();
                return Response::json(replayed ? 200 : 201, made->to_json());
              },
              {{"type", "object"},
               {"properties", {{"form", {{"type", "object"}}}, {"submit", {{"type", "boolean"}}}}}}});

  router.add({"GET", "/api/v1/me/applications", "services.apply", "The caller's applications, newest first.", "services",
              [&applications](const Request& request) -> Result<Response> {
                auto applicant = applicant_of(request);
                if (!applicant.ok()) return applicant.take_error();
                auto list = applications.applications_of(*applicant);
                if (!list.ok()) return list.take_error();
                nlohmann::json out = nlohmann::json::array();
                for (const auto& application : *list) out.push_back(application.to_json());
                return Response::json(200, {{"applications", out}});
              }});

  router.add({"GET", "/api/v1/applications/{id}", "authenticated",
              "An application: all of it for its applicant; for an official of the window or an implementing "
              "department, the fields and materials meant for that department and its tasks.",
              "services",
              [&applications, &directory](const Request& request) -> Result<Response> {
                const std::string& id = request.path_parameters.at("id");
                if (auto applicant = applicant_of(request); applicant.ok()) {
                  auto found = applications.of_applicant(id, *applicant);
                  if (!found.ok()) return found.take_error();
                  return Response::json(200, found->to_json());
                }
                auto official = official_of(request, directory);
                if (!official.ok()) {
                  return Error(ErrorKind::not_found, "services.application_not_found", "no application " + id, {{"field", "id"}});
                }
                auto seen = applications.for_official(id, *official);
                if (!seen.ok()) return seen.take_error();
                return Response::json(200, *seen);
              }});

  router.add({"PUT", "/api/v1/applications/{id}/form", "services.apply",
              "Sets form values of a draft, or of an application in correction; null removes a value. A prefilled "
              "field the applicant changes becomes the applicant's.",
              "services",
              [&applications](const Request& request) -> Result<Response> {
                auto body = request.json_body();
                if (!body.ok()) return body.take_error();
                ONEWINDOW_TRY(only_known_fields(*body, {"form"}));
                if (!body->contains("form")) return Error::invalid("http.missing_field", "form", "form is required");
                auto applicant = applicant_of(request);
                if (!applicant.ok()) return applicant.take_error();
                auto updated = applications.update_form(request.path_parameters.at("id"), *applicant, (*body)["form"]);
                if (!updated.ok()) return updated.take_error();
                return Response::json(200, updated->to_json());
              },
              {{"type", "object"}, {"required", {"form"}}, {"properties", {{"form", {{"type", "object"}}}}}}});

  router.add({"PUT", "/api/v1/applications/{id}/materials/{material}", "services.apply",
              "Uploads the file of one material as the request body, with its Content-Type (application/pdf, "
              "image/jpeg or image/png as the material allows) and ?file_name=; kept with its SM3 digest. Too large is "
              "413, another type (by the declared type or the file's first bytes) 415.",
              "services",
              [&applications](const Request& request) -> Result<Response> {
                auto applicant = applicant_of(request);
                if (!applicant.ok()) return applicant.take_error();
                std::string file_name = request.path_parameters.at("material");
                if (auto given = request.query.find("file_name"); given != request.query.end()) file_name = given->second;
                std::string type = request.header("content-type");
                if (auto semicolon = type.find(';'); semicolon != std::string::npos) type.resize(semicolon);
                auto attached = applications.attach(request.path_parameters.at("id"), *applicant,
                                                    request.path_parameters.at("material"), file_name, type, request.body);
                if (!attached.ok()) return attached.take_error();
                return Response::json(200, attached->to_json());
              }});

  router.add({"PUT", "/api/v1/applications/{id}/materials/{material}/license", "services.apply",
              "Presents one of the applicant's own electronic licenses for a material instead of a file "
              "{\"identifier\"}: it must be theirs and valid now; the departments verify it.",
              "services",
              [&applications](const Request& request) -> Result<Response> {
                auto body = request.json_body();
                if (!body.ok()) return body.take_error();
                ONEWINDOW_TRY(only_known_fields(*body, {"identifier"}));
                auto identifier = string_field(*body, "identifier", true);
                if (!identifier.ok()) return identifier.take_error();
                auto applicant = applicant_of(request);
                if (!applicant.ok()) return applicant.take_error();
                auto attached = applications.attach_license(request.path_parameters.at("id"), *applicant,
                                                            request.path_parameters.at("material"), *identifier);
                if (!attached.ok()) return attached.take_error();
                return Response::json(200, attached->to_json());
              },
              {{"type", "object"}, {"required", {"identifier"}}, {"properties", {{"identifier", {{"type", "string"}}}}}}});

  router.add({"GET", "/api/v1/applications/{id}/materials/{material}", "authenticated",
              "The file of one material, for the applicant or an official whose department needs it.", "services",
              [&applications, &directory](const Request& request) -> Result<Response> {
                const std::string& id = request.path_parameters.at("id");
                auto applicant = applicant_of(request);
                auto official = official_of(request, directory);
                auto content = applications.material_content(id, request.path_parameters.at("material"),
                                                             applicant.ok() ? &*applicant : nullptr,
                                                             official.ok() ? &*official : nullptr);
                if (!content.ok()) return content.take_error();
                // An upload is the applicant's file, not this site's page: it is saved, never shown
                // in the site's origin, and were it opened it could run nothing.
                Response response = Response::text(200, content->content_type, std::move(content->content));
                response.headers.emplace_back("Content-Disposition",
                                              "attachment; filename=\"" + request.path_parameters.at("material") + "\"");
                response.headers.emplace_back("Content-Security-Policy", "default-src 'none'; sandbox");
                return response;
              }});

  router.add({"POST", "/api/v1/applications/{id}/submit", "services.apply",
              "Submits a draft: the form is checked against its schema, declared identifiers checked, key materials "
              "required, and every intake check run. A retried submit returns the submitted application.",
              "services", [&applications](const Request& request) -> Result<Response> {
                auto applicant = applicant_of(request);
                if (!applicant.ok()) return applicant.take_error();
                auto submitted = applications.submit(request.path_parameters.at("id"), *applicant);
                if (!submitted.ok()) return submitted.take_error();
                return Response::json(200, submitted->to_json());
              }});

  router.add({"GET", "/api/v1/applications/{id}/progress", "services.apply",
              "Where the application is: the departments holding it and what each is doing, the expected completion "
              "date, and its history.",
              "services", [&applications](const Request& request) -> Result<Response> {
                auto applicant = applicant_of(request);
                if (!applicant.ok()) return applicant.take_error();
                auto progress = applications.progress(request.path_parameters.at("id"), *applicant);
                if (!progress.ok()) return progress.take_error();
                return Response::json(200, *progress);
              }});

  router.add({"GET", "/api/v1/applications/{id}/licenses/{identifier}/pdf", "services.apply",
              "The printable (PDF) of a license the application issued, for its applicant (a parent for the newborn's "
              "licenses, who is not their holder).",
              "services", [&applications, public_url](const Request& request) -> Result<Response> {
                auto applicant = applicant_of(request);
                if (!applicant.ok()) return applicant.take_error();
                const std::string& identifier = request.path_parameters.at("identifier");
                auto pdf = applications.license_pdf(request.path_parameters.at("id"), *applicant, identifier, public_url);
                if (!pdf.ok()) return pdf.take_error();
                Response response = Response::text(200, "application/pdf", std::move(pdf).value());
                response.headers.emplace_back("Content-Disposition", "attachment; filename=\"" + identifier + ".pdf\"");
                response.headers.emplace_back("Cache-Control", "private, no-store");
                return response;
              }});

  router.add({"POST", "/api/v1/applications/{id}/correction-supplied", "services.apply",
              "Says that what a correction asked for is supplied (materials uploaded, fields set): the departments' "
              "clock starts again.",
              "services", [&applications](const Request& request) -> Result<Response> {
                auto applicant = applicant_of(request);
                if (!applicant.ok()) return applicant.take_error();
                auto resumed = applications.supply_correction(request.path_parameters.at("id"), *applicant);
                if (!resumed.ok()) return resumed.take_error();
                return Response::json(200, resumed->to_json());
              }});

  router.add({"POST", "/api/v1/applications/{id}/rating", "services.apply",
              "Rates a finished application once (好差评): level 5 非常满意, 4 满意, 3 基本满意, 2 不满意, 1 非常不满意, "
              "and a comment (required for 1 and 2). A bad rating opens a follow-up for the competent department: a "
              "call back within 1 working day, the fix within 15.",
              "services",
              [&applications](const Request& request) -> Result<Response> {
                auto body = request.json_body();
                if (!body.ok()) return body.take_error();
                ONEWINDOW_TRY(only_known_fields(*body, {"level", "comment"}));
                if (!body->contains("level") || !(*body)["level"].is_number_integer()) {
                  return Error::invalid("http.bad_field", "level", "level is a whole number from 1 to 5");
                }
                auto comment = string_field(*body, "comment", false);
                if (!comment.ok()) return comment.take_error();
                auto applicant = applicant_of(request);
                if (!applicant.ok()) return applicant.take_error();
                auto rated = applications.rate(request.path_parameters.at("id"), *applicant, (*body)["level"].get<int>(), *comment);
                if (!rated.ok()) return rated.take_error();
                return Response::json(200, rated->to_json());
              },
              {{"type", "object"},
               {"required", {"level"}},
               {"properties", {{"level", {{"type", "integer"}, {"minimum", 1}, {"maximum", 5}}}, {"comment", {{"type", "string"}}}}}}});

  router.add({"GET", "/api/v1/intake", "services.intake",
              "Submitted applications waiting at the caller's window (the intake department), oldest first.", "services",
              [&applications, &directory](const Request& request) -> Result<Response> {
                auto official = official_of(request, directory);
                if (!official.ok()) return official.take_error();
                auto waiting = applications.awaiting_intake(*official);
                if (!waiting.ok()) return waiting.take_error();
                nlohmann::json list = nlohmann::json::array();
                for (const auto& application : *waiting) {
                  auto seen = applications.for_official(application.id, *official);
                  if (seen.ok()) list.push_back(*seen);
                }
                return Response::json(200, {{"applications", list}});
              }});

  router.add({"POST", "/api/v1/applications/{id}/intake", "services.intake",
              "The window's decision on a submitted application: accept (the approvals start and the clock with them), "
              "reject with a reason, or accept_with_missing naming the non-key materials still to come (容缺受理).",
              "services",
              [&applications, &directory](const Request& request) -> Result<Response> {
                auto body = request.json_body();
                if (!body.ok()) return body.take_error();
                ONEWINDOW_TRY(only_known_fields(*body, {"decision", "reason", "missing"}));
                auto decision = string_field(*body, "decision", true);
                if (!decision.ok()) return decision.take_error();
                auto reason = string_field(*body, "reason", false);
                if (!reason.ok()) return reason.take_error();
                auto missing = optional_list(*body, "missing");
                if (!missing.ok()) return missing.take_error();
                auto official = official_of(request, directory);
                if (!official.ok()) return official.take_error();
                auto decided = applications.intake(request.path_parameters.at("id"), *decision, *reason, *missing, *official);
                if (!decided.ok()) return decided.take_error();
                return Response::json(200, decided->to_json());
              },
              {{"type", "object"},
               {"required", {"decision"}},
               {"properties",
                {{"decision", {{"type", "string"}, {"enum", {"accept", "reject", "accept_with_missing"}}}},
                 {"reason", {{"type", "string"}}},
                 {"missing", {{"type", "array"}, {"items", {{"type", "string"}}}}}}}}});

  router.add({"POST", "/api/v1/applications/{id}/decision", "services.decide",
              "An implementing department's decision on its task: approve; refuse with reason and legal_basis; or "
              "correction naming what is missing (the application waits, and its clock stops, until the applicant "
              "supplies it).",
              "services",
              [&applications, &directory](const Request& request) -> Result<Response> {
                auto body = request.json_body();
                if (!body.ok()) return body.take_error();
                ONEWINDOW_TRY(only_known_fields(*body, {"task_id", "outcome", "reason", "legal_basis", "missing"}));
                services::Decision decision;
                for (auto [field, target, required] :
                     {std::tuple{"task_id", &decision.task_id, true}, std::tuple{"outcome", &decision.outcome, true},
                      std::tuple{"reason", &decision.reason, false}, std::tuple{"legal_basis", &decision.legal_basis, false}}) {
                  auto text = string_field(*body, field, required);
                  if (!text.ok()) return text.take_error();
                  *target = *text;
                }
                auto missing = optional_list(*body, "missing");
                if (!missing.ok()) return missing.take_error();
                decision.missing = *missing;
                auto official = official_of(request, directory);
                if (!official.ok()) return official.take_error();
                auto decided = applications.decide(request.path_parameters.at("id"), decision, *official);
                if (!decided.ok()) return decided.take_error();
                auto seen = applications.for_official(decided->id, *official);
                if (!seen.ok()) return seen.take_error();
                return Response::json(200, *seen);
              },
              {{"type", "object"},
               {"required", {"task_id", "outcome"}},
               {"properties",
                {{"task_id", {{"type", "string"}}},
                 {"outcome", {{"type", "string"}, {"enum", {"approve", "refuse", "correction"}}}},
                 {"reason", {{"type", "string"}}},
                 {"legal_basis", {{"type", "string"}}},
                 {"missing", {{"type", "array"}, {"items", {{"type", "string"}}}}}}}}});
}

}  // namespace onewindow::api
