#include "api/api.h"

#include "base/log.h"

#include <charconv>

namespace onewindow::api {

int status_for(ErrorKind kind) {
  switch (kind) {
    case ErrorKind::invalid_argument: return 400;
    case ErrorKind::unauthenticated: return 401;
    case ErrorKind::permission_denied: return 403;
    case ErrorKind::not_found: return 404;
    case ErrorKind::conflict: return 409;
    case ErrorKind::too_large: return 413;
    case ErrorKind::unsupported: return 415;
    case ErrorKind::too_many_requests: return 429;
    case ErrorKind::unavailable: return 503;
    case ErrorKind::internal: return 500;
  }
  return 500;
}

Response Response::json(int status, const nlohmann::json& body) {
  Response response;
  response.status = status;
  response.body = body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  return response;
}

Response Response::streamed(std::string content_type, std::function<void(const StreamWriter& write)> stream) {
  Response response;
  response.content_type = std::move(content_type);
  response.stream = std::move(stream);
  return response;
}

Response Response::text(int status, std::string content_type, std::string body) {
  Response response;
  response.status = status;
  response.content_type = std::move(content_type);
  response.body = std::move(body);
  return response;
}

Response error_response(const Error& error, std::string_view request_id) {
  nlohmann::json details = error.details.is_null() ? nlohmann::json::object() : error.details;
  Response response = Response::json(status_for(error.kind), {{"error",
                                                               {{"code", error.code},
                                                                {"message", error.message},
                                                                {"details", details},
                                                                {"request_id", std::string(request_id)}}}});
  // An error that knows how long to wait says so the way HTTP clients read it (RFC 9110 10.2.3).
  auto wait = details.find("retry_after_seconds");
  if (wait != details.end() && wait->is_number_integer() && wait->get<std::int64_t>() > 0) {
    response.headers.emplace_back("Retry-After", std::to_string(wait->get<std::int64_t>()));
  }
  return response;
}

std::string Request::header(std::string_view lower_case_name) const {
  auto found = headers.find(std::string(lower_case_name));
  return found == headers.end() ? std::string() : found->second;
}

std::string Request::cookie(std::string_view name) const {
  std::string header_value = header("cookie");
  std::string_view rest = header_value;
  while (!rest.empty()) {
    auto end = rest.find(';');
    std::string_view pair = rest.substr(0, end);
    rest = end == std::string_view::npos ? std::string_view() : rest.substr(end + 1);
    while (!pair.empty() && pair.front() == ' ') pair.remove_prefix(1);
    auto equals = pair.find('=');
    if (equals != std::string_view::npos && pair.substr(0, equals) == name) return std::string(pair.substr(equals + 1));
  }
  return {};
}

Result<std::string> string_field(const nlohmann::json& body, const char* name, bool required) {
  auto found = body.find(name);
  if (found == body.end() || found->is_null()) {
    if (required) return Error::invalid("http.missing_field", name, std::string(name) + " is required");
    return std::string();
  }
  if (!found->is_string()) return Error::invalid("http.bad_field", name, std::string(name) + " must be a string");
  return found->get<std::string>();
}

Result<std::vector<std::string>> string_list(const nlohmann::json& body, const char* name) {
  std::vector<std::string> values;
  auto found = body.find(name);
  if (found == body.end() || found->is_null()) return values;
  if (!found->is_array()) return Error::invalid("http.bad_field", name, std::string(name) + " must be a list of strings");
  for (const auto& item : *found) {
    if (!item.is_string()) return Error::invalid("http.bad_field", name, std::string(name) + " must be a list of strings");
    values.push_back(item.get<std::string>());
  }
  return values;
}

Status only_known_fields(const nlohmann::json& body, std::initializer_list<std::string_view> known) {
  for (const auto& [key, value] : body.items()) {
    if (std::find(known.begin(), known.end(), key) == known.end()) {
      return Error::invalid("http.unknown_field", key, "unknown field " + key);
    }
  }
  return ok_status();
}

Status require_department(const Request& request, std::string_view department_id) {
  if (!request.principal || request.principal->department_id.empty() || request.principal->department_id != department_id) {
    return Error(ErrorKind::permission_denied, "identity.other_department",
                 "this belongs to another department", {{"department_id", std::string(department_id)}});
  }
  return ok_status();
}

Result<nlohmann::json> Request::json_body() const {
  std::string content_type = header("content-type");
  auto semicolon = content_type.find(';');
  std::string media_type = content_type.substr(0, semicolon);
  while (!media_type.empty() && media_type.back() == ' ') media_type.pop_back();
  for (char& c : media_type) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (media_type != "application/json") {
    return Error(ErrorKind::unsupported, "http.unsupported_media_type",
                 "the body must be JSON with Content-Type: application/json",
                 {{"field", "Content-Type"}, {"received", content_type}});
  }
  nlohmann::json parsed = nlohmann::json::parse(body, nullptr, false);
  if (parsed.is_discarded()) {
    // Parse again to learn where it broke; the message names the byte, not the content. A
    // number too large for a double (1e400) is refused with out_of_range, which carries no byte:
    // it must be caught here too, or the handler throws and the client sees a 500.
    std::size_t offset = 0;
    try {
      (void)nlohmann::json::parse(body);
    } catch (const nlohmann::json::parse_error& failure) {
      offset = failure.byte;
    } catch (const nlohmann::json::exception&) {
      return Error(ErrorKind::invalid_argument, "http.malformed_json",
                   "the body is not valid JSON (a number too large to hold)", {{"field", "body"}});
    }
    return Error(ErrorKind::invalid_argument, "http.malformed_json",
                 "the body is not valid JSON (near byte " + std::to_string(offset) + ")",
                 {{"field", "body"}, {"byte", offset}});
  }
  if (!parsed.is_object()) {
    return Error(ErrorKind::invalid_argument, "http.body_not_object", "the body must be a JSON object",
                 {{"field", "body"}});
  }
  return parsed;
}

namespace {
std::vector<std::string> split_path(std::string_view path) {
  std::vector<std::string> segments;
  std::size_t start = 0;
  while (start < path.size()) {
    if (path[start] == '/') {
      ++start;
      continue;
    }
    std::size_t end = path.find('/', start);
    if (end == std::string_view::npos) end = path.size();
    segments.emplace_back(path.substr(start, end - start));
    start = end;
  }
  return segments;
}

bool is_parameter(const std::string& segment) {
  return segment.size() > 2 && segment.front() == '{' && segment.back() == '}';
}

bool matches(const std::vector<std::string>& pattern, const std::vector<std::string>& path,
             std::map<std::string, std::string>* parameters) {
  if (pattern.size() != path.size()) return false;
  for (std::size_t i = 0; i < pattern.size(); ++i) {
    if (is_parameter(pattern[i])) {
      if (path[i].empty()) return false;
      if (parameters) (*parameters)[pattern[i].substr(1, pattern[i].size() - 2)] = path[i];
    } else if (pattern[i] != path[i]) {
      return false;
    }
  }
  return true;
}
}  // namespace

void Router::add(Route route) {
  compiled_.push_back({split_path(route.pattern)});
  routes_.push_back(std::move(route));
}

Response Router::dispatch(Request& request, std::string& route_pattern) const {
  std::vector<std::string> segments = split_path(request.path);
  std::string allowed;
  // Literal segments win over parameters: try routes without parameters at a position first by
  // checking every route and preferring the one with the fewest parameters.
  const Route* best = nullptr;
  int best_parameters = 1 << 30;
  for (std::size_t i = 0; i < routes_.size(); ++i) {
    if (!matches(compiled_[i].segments, segments, nullptr)) continue;
    if (routes_[i].method != request.method &&
        !(request.method == "HEAD" && routes_[i].method == "GET")) {
      if (allowed.find(routes_[i].method) == std::string::npos) {
        allowed += (allowed.empty() ? "" : ", ") + routes_[i].method;
      }
      continue;
    }
    int parameters = 0;
    for (const auto& segment : compiled_[i].segments) parameters += is_parameter(segment) ? 1 : 0;
    if (parameters < best_parameters) {
      best = &routes_[i];
      best_parameters = parameters;
    }
  }
  if (best == nullptr) {
    route_pattern = "unmatched";
    if (!allowed.empty()) {
      Response response = error_response(
          Error(ErrorKind::invalid_argument, "http.method_not_allowed",
                "method " + request.method + " is not allowed here; allowed: " + allowed,
                {{"allowed", allowed}}),
          request.request_id);
      response.status = 405;
      response.headers.emplace_back("Allow", allowed);
      return response;
    }
    if (fallback_ && (request.method == "GET" || request.method == "HEAD")) {
      route_pattern = "web";
      Result<Response> result = fallback_(request);
      if (!result.ok()) return error_response(result.error(), request.request_id);
      return std::move(result).value();
    }
    return error_response(Error(ErrorKind::not_found, "http.not_found", "no such route: " + request.path),
                          request.request_id);
  }
  route_pattern = best->pattern;
  request.path_parameters.clear();
  matches(compiled_[best - routes_.data()].segments, segments, &request.path_parameters);
  if (Status allowed = authorize(*best, request); !allowed.ok()) {
    return error_response(allowed.error(), request.request_id);
  }
  try {
    Result<Response> result = best->handler(request);
    if (!result.ok()) return error_response(result.error(), request.request_id);
    return std::move(result).value();
  } catch (const std::exception& failure) {
    log::error("request " + request.request_id + " " + request.method + " " + best->pattern +
               " threw: " + failure.what());
  } catch (...) {
    log::error("request " + request.request_id + " " + request.method + " " + best->pattern +
               " threw a non-standard exception");
  }
  return error_response(Error(ErrorKind::internal, "server.internal",
                              "the server failed while answering; the request id identifies the log line"),
                        request.request_id);
}

Status Router::authorize(const Route& route, Request& request) const {
  if (authenticator_) {
    auto principal = authenticator_(request);
    // Bad credentials on a public route are ignored: the route needs none.
    if (principal.ok()) request.principal = std::move(principal).value();
    else if (route.permission != "public") return principal.take_error();
  }
  if (route.permission == "public") return ok_status();
  if (!request.principal) {
    return Error(ErrorKind::unauthenticated, "identity.unauthenticated", "log in first");
  }
  const identity::Principal& principal = *request.principal;
  // A browser session proves itself on every change with the token it got at login, which a
  // page of another site cannot read: cross-site request forgery fails here.
  bool safe_method = request.method == "GET" || request.method == "HEAD";
  if (principal.browser_session && !safe_method && request.header("x-csrf-token") != principal.csrf_token) {
    return Error(ErrorKind::permission_denied, "http.csrf_token",
                 "the X-CSRF-Token header is missing or wrong for this session", {{"field", "X-CSRF-Token"}});
  }
  if (route.permission == "authenticated") return ok_status();
  if (!principal.has(route.permission)) {
    return Error(ErrorKind::permission_denied, "identity.permission_denied",
                 "this needs the permission " + route.permission, {{"permission", route.permission}});
  }
  if (!route.department_parameter.empty()) {
    auto department = request.path_parameters.find(route.department_parameter);
    if (department != request.path_parameters.end()) ONEWINDOW_TRY(require_department(request, department->second));
  }
  return ok_status();
}

Status Router::check_permissions(const identity::AccessPolicy& policy) const {
  for (const Route& route : routes_) {
    if (route.permission == "public" || route.permission == "authenticated") continue;
    const identity::PermissionDefinition* permission = policy.permission(route.permission);
    if (permission == nullptr) {
      return Error(ErrorKind::internal, "identity.unknown_permission",
                   route.method + " " + route.pattern + " needs permission " + route.permission +
                       ", which config/roles.yaml does not define");
    }
    if (!route.department_parameter.empty() &&
        route.pattern.find("{" + route.department_parameter + "}") == std::string::npos) {
      return Error(ErrorKind::internal, "identity.unknown_permission",
                   route.method + " " + route.pattern + " names department parameter " + route.department_parameter +
                       ", which its path does not have");
    }
  }
  return ok_status();
}

Result<std::pair<std::string, int>> parse_listen_address(std::string_view text) {
  auto colon = text.rfind(':');
  if (colon == std::string_view::npos || colon == 0) {
    return Error::invalid("config.bad_value", "listen", "listen must be HOST:PORT, for example 127.0.0.1:8080");
  }
  std::string host(text.substr(0, colon));
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  std::string_view port_text = text.substr(colon + 1);
  int port = 0;
  auto [end, error] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  if (error != std::errc() || end != port_text.data() + port_text.size() || port < 1 || port > 65535) {
    return Error::invalid("config.bad_value", "listen", "the port in listen must be a number from 1 to 65535");
  }
  return std::pair<std::string, int>(host, port);
}

}  // namespace onewindow::api
