#include "api/api.h"

namespace onewindow::api {

namespace {
nlohmann::json error_envelope_schema() {
  return {{"type", "object"},
          {"required", {"error"}},
          {"properties",
           {{"error",
             {{"type", "object"},
              {"required", {"code", "message", "details", "request_id"}},
              {"properties",
               {{"code", {{"type", "string"}, {"description", "stable error code, e.g. http.malformed_json"}}},
                {"message", {{"type", "string"}}},
                {"details", {{"type", "object"}}},
                {"request_id", {{"type", "string"}}}}}}}}}};
}

std::string operation_id(const Route& route) {
  std::string id = route.method;
  for (char& c : id) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  for (char c : route.pattern) {
    if (std::isalnum(static_cast<unsigned char>(c))) id += c;
    else if (!id.empty() && id.back() != '_') id += '_';
  }
  while (!id.empty() && id.back() == '_') id.pop_back();
  return id;
}
}  // namespace

nlohmann::json openapi_document(const Router& router, std::string_view version) {
  nlohmann::json paths = nlohmann::json::object();
  for (const Route& route : router.routes()) {
    nlohmann::json operation = {
        {"operationId", operation_id(route)},
        {"summary", route.summary},
        {"tags", {route.tag.empty() ? "system" : route.tag}},
        {"x-permission", route.permission},
    };
    nlohmann::json parameters = nlohmann::json::array();
    std::size_t open = route.pattern.find('{');
    while (open != std::string::npos) {
      std::size_t close = route.pattern.find('}', open);
      parameters.push_back({{"name", route.pattern.substr(open + 1, close - open - 1)},
                            {"in", "path"},
                            {"required", true},
                            {"schema", {{"type", "string"}}}});
      open = route.pattern.find('{', close);
    }
    if (!parameters.empty()) operation["parameters"] = parameters;
    if (!route.request_schema.is_null()) {
      operation["requestBody"] = {
          {"required", true}, {"content", {{"application/json", {{"schema", route.request_schema}}}}}};
    }
    nlohmann::json success = {{"description", "success"}};
    if (!route.response_schema.is_null()) {
      success["content"] = {{"application/json", {{"schema", route.response_schema}}}};
    }
    operation["responses"] = {
        {"200", success},
        {"default", {{"description", "an error in the common envelope"},
                     {"content", {{"application/json", {{"schema", {{"$ref", "#/components/schemas/Error"}}}}}}}}}};
    std::string method = route.method;
    for (char& c : method) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    paths[route.pattern][method] = operation;
  }
  return {{"openapi", "3.1.0"},
          {"info",
           {{"title", "onewindow"},
            {"version", std::string(version)},
            {"description", "Integrated e-government platform: registries, exchange, one-stop services, supervision."}}},
          {"paths", paths},
          {"components", {{"schemas", {{"Error", error_envelope_schema()}}}}}};
}

}  // namespace onewindow::api
