#include "api/api.h"

#include "registry/registry.h"

#include <charconv>

namespace onewindow::api {

namespace {

// The caller's department key ("police"): the authority a registry field names.
Result<std::string> department_key(const Request& request, identity::Directory& directory) {
  if (request.principal->department_id.empty()) return std::string();
  auto department = directory.department(request.principal->department_id);
  if (!department.ok()) return department.take_error();
  return department->key;
}

nlohmann::json describe(const registry::RegistryDefinition& definition) {
  nlohmann::json fields = nlohmann::json::array();
  for (const registry::FieldDefinition& field : definition.fields) {
    fields.push_back({{"name", field.name},
                      {"label", field.label},
                      {"label_en", field.english_label},
                      {"type", registry::type_name(field.type)},
                      {"required", field.required},
                      {"authority", field.authority},
                      {"sensitivity", registry::sensitivity_name(field.sensitivity)},
                      {"indexed", field.indexed}});
  }
  return {{"name", definition.name},
          {"title", definition.title},
          {"title_en", definition.english_title},
          {"key", definition.key},
          {"fields", fields}};
}

}  // namespace

void add_registry_routes(Router& router, registry::Registries& registries, identity::Directory& directory,
                         const RegistryImports& imports) {
  router.add({"GET", "/api/v1/registries", "registry.read",
              "The base registries: their fields, the authority department of each, sensitivity.", "registry",
              [&registries](const Request&) -> Result<Response> {
                nlohmann::json list = nlohmann::json::array();
                for (const auto& definition : registries.catalog().all()) list.push_back(describe(definition));
                return Response::json(200, {{"registries", list}});
              }});

  router.add({"PUT", "/api/v1/registries/{registry}/records/{key}", "registry.write",
              "Writes fields of a record; only the authority department of each field may write it, and every change "
              "is kept with who, when, why and its transparency-log entry.",
              "registry",
              [&registries, &directory](const Request& request) -> Result<Response> {
                auto body = request.json_body();
                if (!body.ok()) return body.take_error();
                ONEWINDOW_TRY(only_known_fields(*body, {"fields", "reason"}));
                auto reason = string_field(*body, "reason", true);
                if (!reason.ok()) return reason.take_error();
                if (!body->contains("fields")) return Error::invalid("http.missing_field", "fields", "fields is required");
                auto department = department_key(request, directory);
                if (!department.ok()) return department.take_error();
                auto receipt = registries.write(request.path_parameters.at("registry"), request.path_parameters.at("key"),
                                                (*body)["fields"], *reason, {request.principal->account_id, *department});
                if (!receipt.ok()) return receipt.take_error();
                return Response::json(receipt->created ? 201 : 200, {{"written_at", receipt->written_at},
                                                                     {"log_index", receipt->log_index},
                                                                     {"created", receipt->created}});
              },
              {{"type", "object"},
               {"required", {"fields", "reason"}},
               {"properties", {{"fields", {{"type", "object"}}}, {"reason", {{"type", "string"}}}}}}});

  router.add({"GET", "/api/v1/registries/{registry}/records/{key}", "registry.read",
              "A record now, or as it was at as_of (a UTC time); personal fields masked unless the reader's department "
              "is their authority.",
              "registry",
              [&registries, &directory](const Request& request) -> Result<Response> {
                std::optional<std::chrono::system_clock::time_point> as_of;
                if (auto given = request.query.find("as_of"); given != request.query.end()) {
                  auto parsed = parse_timestamp(given->second, "as_of");
                  if (!parsed.ok()) return parsed.take_error();
                  as_of = *parsed;
                }
                auto department = department_key(request, directory);
                if (!department.ok()) return department.take_error();
                auto record = registries.read(request.path_parameters.at("registry"), request.path_parameters.at("key"),
                                              {*department}, as_of);
                if (!record.ok()) return record.take_error();
                return Response::json(200, *record);
              }});

  router.add({"GET", "/api/v1/registries/{registry}/records", "registry.read",
              "Finds records by an indexed field: field and value (exact), or field and prefix (a string field, "
              "e.g. a name); paged with limit (1-100) and cursor.",
              "registry",
              [&registries, &directory](const Request& request) -> Result<Response> {
                registry::Registries::Search search;
                auto field = request.query.find("field");
                if (field == request.query.end()) return Error::invalid("http.missing_parameter", "field", "field is required");
                search.field = field->second;
                if (auto value = request.query.find("value"); value != request.query.end()) search.value = nlohmann::json(value->second);
                if (auto prefix = request.query.find("prefix"); prefix != request.query.end()) search.prefix = prefix->second;
                if (auto cursor = request.query.find("cursor"); cursor != request.query.end()) search.cursor = cursor->second;
                if (auto limit = request.query.find("limit"); limit != request.query.end()) {
                  int parsed = 0;
                  auto [end, error] = std::from_chars(limit->second.data(), limit->second.data() + limit->second.size(), parsed);
                  if (error != std::errc() || end != limit->second.data() + limit->second.size()) {
                    return Error::invalid("http.bad_parameter", "limit", "limit must be a whole number from 1 to 100");
                  }
                  search.limit = parsed;
                }
                auto department = department_key(request, directory);
                if (!department.ok()) return department.take_error();
                auto found = registries.search(request.path_parameters.at("registry"), search, {*department});
                if (!found.ok()) return found.take_error();
                return Response::json(200, *found);
              }});

  router.add({"GET", "/api/v1/registries/{registry}/records/{key}/history", "registry.read",
              "Every version of every field of a record: value (masked for the reader), who, when, why, log entry.",
              "registry",
              [&registries, &directory](const Request& request) -> Result<Response> {
                auto department = department_key(request, directory);
                if (!department.ok()) return department.take_error();
                auto history = registries.history(request.path_parameters.at("registry"), request.path_parameters.at("key"),
                                                  {*department});
                if (!history.ok()) return history.take_error();
                return Response::json(200, *history);
              }});

  if (imports.imports == nullptr) return;
  router.add({"POST", "/api/v1/registries/{registry}/imports", "registry.write",
              "Imports a CSV file (the body, text/csv): a header row of field names, the key among them, then a row "
              "per record. Query: reason (required), encoding (utf-8 or gb18030). Answers 202 at once; the import "
              "runs in the background, batch by batch.",
              "registry",
              [&directory, imports](const Request& request) -> Result<Response> {
                auto reason = request.query.find("reason");
                if (reason == request.query.end() || reason->second.empty()) {
                  return Error::invalid("registry.reason_required", "reason", "reason is required");
                }
                registry::ImportRequest import;
                if (auto encoding = request.query.find("encoding"); encoding != request.query.end()) {
                  auto parsed = parse_text_encoding(encoding->second);
                  if (!parsed.ok()) return parsed.take_error();
                  import.encoding = *parsed;
                }
                if (request.body.empty()) return Error::invalid("http.missing_body", "body", "the body is the CSV file");
                auto department = department_key(request, directory);
                if (!department.ok()) return department.take_error();
                import.registry = request.path_parameters.at("registry");
                import.reason = reason->second;
                import.writer = {request.principal->account_id, *department};
                auto begun = imports.imports->begin_upload(import, request.body, imports.upload_directory);
                if (!begun.ok()) return begun.take_error();
                imports.queue->submit(begun->id);
                Response response = Response::json(202, begun->to_json());
                response.headers.emplace_back("Location", "/api/v1/imports/" + begun->id);
                return response;
              }});

  router.add({"GET", "/api/v1/imports/{id}", "registry.write",
              "An import's state and progress: percentage of the file committed, rows created, updated, rejected.",
              "registry",
              [&directory, imports](const Request& request) -> Result<Response> {
                auto department = department_key(request, directory);
                if (!department.ok()) return department.take_error();
                auto status = imports.imports->status(request.path_parameters.at("id"), *department);
                if (!status.ok()) return status.take_error();
                return Response::json(200, status->to_json());
              }});

  router.add({"GET", "/api/v1/imports/{id}/rejections", "registry.write",
              "The rows an import did not write, as CSV: line, field, code, message (never the row's values).",
              "registry",
              [&directory, imports](const Request& request) -> Result<Response> {
                const std::string& id = request.path_parameters.at("id");
                auto department = department_key(request, directory);
                if (!department.ok()) return department.take_error();
                auto report = imports.imports->rejections_csv(id, *department);
                if (!report.ok()) return report.take_error();
                Response response = Response::text(200, "text/csv; charset=utf-8", std::move(report).value());
                response.headers.emplace_back("Content-Disposition", "attachment; filename=\"" + id + "-rejections.csv\"");
                return response;
              }});
}

}  // namespace onewindow::api
