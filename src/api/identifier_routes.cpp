#include "api/api.h"

#include "base/clock.h"
#include "base/identifiers.h"

namespace onewindow::api {

namespace {
nlohmann::json outcome(const Status& status) {
  if (status.ok()) return {{"valid", true}};
  return {{"valid", false}, {"code", status.error().code}, {"message", status.error().message}};
}
}  // namespace

void add_identifier_routes(Router& router, const DivisionCodes& divisions, const Clock& clock) {
  router.add({"POST", "/api/v1/identifiers/check", "public",
              "Checks a citizen ID number, a unified social credit code and a division code, each with its check "
              "character and tables, without storing or logging them.",
              "identifiers",
              [&divisions, &clock](const Request& request) -> Result<Response> {
                auto body = request.json_body();
                if (!body.ok()) return body.take_error();
                static const std::vector<std::string> fields = {"citizen_id", "unified_social_credit_code", "division"};
                for (const auto& [key, value] : body->items()) {
                  if (std::find(fields.begin(), fields.end(), key) == fields.end()) {
                    return Error::invalid("http.unknown_field", key,
                                          "unknown field " + key + "; known: citizen_id, unified_social_credit_code, division");
                  }
                  if (!value.is_string()) return Error::invalid("http.bad_field", key, key + " must be a string");
                }
                if (body->empty()) {
                  return Error::invalid("http.missing_field", "citizen_id",
                                        "give at least one of citizen_id, unified_social_credit_code, division");
                }
                nlohmann::json results = nlohmann::json::object();
                if (body->contains("citizen_id")) {
                  results["citizen_id"] =
                      outcome(validate_citizen_id((*body)["citizen_id"].get<std::string>(), clock.today(), "citizen_id"));
                }
                if (body->contains("unified_social_credit_code")) {
                  results["unified_social_credit_code"] = outcome(validate_unified_social_credit_code(
                      (*body)["unified_social_credit_code"].get<std::string>(), "unified_social_credit_code"));
                }
                if (body->contains("division")) {
                  results["division"] = outcome(divisions.validate((*body)["division"].get<std::string>(), "division"));
                }
                return Response::json(200, {{"results", results}});
              },
              {{"type", "object"},
               {"additionalProperties", false},
               {"minProperties", 1},
               {"properties",
                {{"citizen_id", {{"type", "string"}}},
                 {"unified_social_credit_code", {{"type", "string"}}},
                 {"division", {{"type", "string"}}}}}}});

  router.add({"GET", "/api/v1/divisions/{code}", "public",
              "A GB/T 2260 division with its parent and the divisions under it.", "identifiers",
              [&divisions](const Request& request) -> Result<Response> {
                const std::string& code = request.path_parameters.at("code");
                const Division* division = divisions.find(code);
                if (division == nullptr) {
                  Status checked = divisions.validate(code, "code");
                  Error error = checked.ok() ? Error(ErrorKind::internal, "identifiers.division_unknown", "")
                                             : checked.take_error();
                  // A well-formed code that is not in the table is a missing resource here.
                  if (error.code == "identifiers.division_unknown") error.kind = ErrorKind::not_found;
                  return error;
                }
                auto describe = [](const Division& item) {
                  return nlohmann::json{{"code", item.code}, {"name", item.name}, {"name_en", item.english_name}};
                };
                nlohmann::json children = nlohmann::json::array();
                for (const Division* child : divisions.children(code)) children.push_back(describe(*child));
                nlohmann::json answer = describe(*division);
                const Division* parent = divisions.parent(code);
                answer["parent"] = parent ? describe(*parent) : nlohmann::json(nullptr);
                answer["children"] = children;
                return Response::json(200, answer);
              }});
}

}  // namespace onewindow::api
