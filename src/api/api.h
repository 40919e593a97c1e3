// api: HTTP in and out. Translates requests to module calls and results back to responses; no
// business rule lives here.
//
// - Route handlers see the project's own Request and Response, never the HTTP library, so that
//   RESTinio's heavy headers stay in http_server.cpp.
// - A handler returns Result<Response>; an Error becomes the one JSON envelope
//   {"error": {"code", "message", "details", "request_id"}} with the HTTP status chosen by its
//   ErrorKind in one table (status_for). A handler that throws gives a 500 in the same envelope
//   and a log line; the server goes on.
// - Every route is declared once in a Router with its method, path pattern ("/api/v1/x/{id}"),
//   the permission it needs and its OpenAPI description; /api/openapi.json is generated from
//   that same table, so a served route cannot be missing from it.
// - Router and Metrics are safe to use from many threads once routes are added; routes are added
//   before the server starts.
#pragma once

#include "base/result.h"
#include "identity/identity.h"

#include <nlohmann/json.hpp>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace onewindow {
class WorkingDayCalendar;
class DivisionCodes;
class Clock;
namespace store {
class Database;
}
namespace audit {
class TransparencyLog;
}
namespace pki {
class CertificateAuthority;
}
namespace oidc {
class Provider;
}
namespace workflow {
class Engine;
}
namespace catalog {
class Catalog;
class Exchange;
class Subscriptions;
struct CatalogConfiguration;
}
namespace license {
class Licenses;
}
namespace registry {
class Registries;
class Imports;
class ImportQueue;
}
namespace services {
class Applications;
}
namespace notification {
class Inbox;
}
namespace supervision {
class Supervision;
class Reports;
}
}  // namespace onewindow

namespace onewindow::api {

struct Request {
  std::string method;                          // upper case
  std::string path;                            // decoded path, no query
  std::map<std::string, std::string> query;    // decoded query parameters
  std::map<std::string, std::string> headers;  // lower-case names
  std::map<std::string, std::string> path_parameters;
  std::string body;
  std::string request_id;
  std::string client_address;                   // the peer's IP address
  std::optional<identity::Principal> principal;  // set by the router when the caller logged in

  std::string header(std::string_view lower_case_name) const;
  // The value of one cookie, or empty.
  std::string cookie(std::string_view name) const;
  // The body as JSON: http.unsupported_media_type when Content-Type is not application/json,
  // http.malformed_json (with the byte offset) when it does not parse, http.body_not_object when
  // it is not a JSON object.
  Result<nlohmann::json> json_body() const;
};

// Fields of a JSON request body, each error naming the field (400 http.missing_field,
// http.bad_field, http.unknown_field).
Result<std::string> string_field(const nlohmann::json& body, const char* name, bool required);
Result<std::vector<std::string>> string_list(const nlohmann::json& body, const char* name);
Status only_known_fields(const nlohmann::json& body, std::initializer_list<std::string_view> known);

// Writes one piece of a streamed body; false once the client has gone (stop producing then).
using StreamWriter = std::function<bool(std::string_view piece)>;

struct Response {
  int status = 200;
  std::string content_type = "application/json";
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  // A body produced piece by piece and never held whole (a bulk read as NDJSON): the server
  // sends it chunked, calling `stream` on a thread of its own once the head is sent. Each write
  // waits until the piece is on its way, so memory stays flat however long the body.
  std::function<void(const StreamWriter& write)> stream;

  static Response json(int status, const nlohmann::json& body);
  static Response text(int status, std::string content_type, std::string body);
  static Response streamed(std::string content_type, std::function<void(const StreamWriter& write)> stream);
};

// The HTTP status of each kind of error: the one table.
int status_for(ErrorKind kind);
// The error envelope.
Response error_response(const Error& error, std::string_view request_id);

using Handler = std::function<Result<Response>(const Request&)>;

struct Route {
  std::string method;       // GET, POST, PUT, PATCH, DELETE
  std::string pattern;      // "/api/v1/calendar/days/{date}"
  // "public" (anyone), "authenticated" (any logged-in account) or a permission of
  // config/roles.yaml, which the caller must hold.
  std::string permission;
  std::string summary;      // one line for OpenAPI
  std::string tag;          // OpenAPI group
  Handler handler;
  nlohmann::json request_schema = nullptr;   // JSON Schema of the body, if any
  nlohmann::json response_schema = nullptr;  // JSON Schema of a 2xx body, if any
  // For a department-scoped permission: the path parameter holding the department whose object
  // this is. The router refuses (403) a caller of another department. Routes whose department is
  // known only after a lookup check it in the handler with require_department.
  std::string department_parameter;
};

// Finds who is calling from the request's credentials (session cookie or bearer token):
// nullopt when it carries none, an error when they are invalid.
using Authenticator = std::function<Result<std::optional<identity::Principal>>(const Request&)>;

// 403 identity.other_department unless the caller belongs to `department_id` (for
// department-scoped permissions checked in a handler).
Status require_department(const Request& request, std::string_view department_id);

// Counts requests and their latency per route, for /metrics (Prometheus text format 0.0.4).
class Metrics {
 public:
  void record(std::string_view method, std::string_view route, int status, std::chrono::nanoseconds duration);
  // Adds what a module renders at each scrape, Prometheus text with its HELP and TYPE lines
  // (the exchange's share statistics, subscription backlogs). Add before serving.
  void add_collector(std::function<std::string()> collector) { collectors_.push_back(std::move(collector)); }
  std::string render_prometheus() const;

 private:
  std::string render_http() const;

  std::vector<std::function<std::string()>> collectors_;
  struct Series;
  mutable std::mutex mutex_;
  std::map<std::string, std::shared_ptr<Series>> series_;  // by "method route"
  std::map<std::string, std::uint64_t> responses_;         // by "method route status"
};

class Router {
 public:
  void add(Route route);
  const std::vector<Route>& routes() const { return routes_; }

  // Without an authenticator every route that is not public answers 401. With a policy, routes
  // whose permission has department scope are checked against department_parameter.
  void set_authenticator(Authenticator authenticator) { authenticator_ = std::move(authenticator); }
  void set_policy(const identity::AccessPolicy* policy) { policy_ = policy; }
  // Answers GET and HEAD requests for paths no route matches (the web UI's files), instead of
  // 404 http.not_found; it is not part of the OpenAPI document and needs no login.
  void set_fallback(Handler fallback) { fallback_ = std::move(fallback); }
  // identity.unknown_permission when a route names a permission the policy does not have, or a
  // department-scoped permission with a department_parameter missing from its pattern.
  Status check_permissions(const identity::AccessPolicy& policy) const;

  // Finds the route, runs it and renders errors. Unknown path: 404 http.not_found; known path with
  // another method: 405 http.method_not_allowed with an Allow header. Sets `route_pattern` to the
  // matched pattern (or "unmatched") for metrics and logs.
  Response dispatch(Request& request, std::string& route_pattern) const;

 private:
  struct Compiled {
    std::vector<std::string> segments;  // "{name}" marks a parameter
  };
  Status authorize(const Route& route, Request& request) const;

  std::vector<Route> routes_;
  std::vector<Compiled> compiled_;
  Authenticator authenticator_;
  const identity::AccessPolicy* policy_ = nullptr;
  Handler fallback_;
};

// The OpenAPI 3.1 document of every route in the router.
nlohmann::json openapi_document(const Router& router, std::string_view version);

struct ServerOptions {
  std::string address = "127.0.0.1";
  int port = 8080;
  int threads = 2;
  std::size_t max_body_bytes = 1024 * 1024;
  std::size_t max_header_bytes = 16 * 1024;
  std::chrono::seconds request_timeout{30};
  std::chrono::seconds shutdown_grace{20};
  bool access_log = true;
};

// Runs the HTTP server on a thread pool. start() returns once it listens (or fails);
// drain_and_stop() stops taking new requests (they get 503 server.shutting_down), waits up to
// shutdown_grace for the requests in flight to be answered, then stops.
class Server {
 public:
  Server(const Router& router, Metrics& metrics, ServerOptions options);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  Status start();
  void drain_and_stop();
  bool draining() const;

 private:
  struct Implementation;
  std::unique_ptr<Implementation> implementation_;
};

// What the system routes need to answer.
struct SystemContext {
  store::Database* database = nullptr;
  const Server* server = nullptr;  // for /readyz during shutdown; may be set after add
  Metrics* metrics = nullptr;
  std::string version;
};

// /healthz, /readyz, /metrics, /api/openapi.json.
void add_system_routes(Router& router, SystemContext& context);
// Working-day calendar: is a day a working day, deadlines, days between.
void add_calendar_routes(Router& router, const WorkingDayCalendar& calendar, const Clock& clock);
// Checks of citizen ID numbers, USCCs and division codes, for forms that validate as you type.
void add_identifier_routes(Router& router, const DivisionCodes& divisions, const Clock& clock);

// The transparency log: signed tree heads, entries, inclusion and consistency proofs.
void add_audit_routes(Router& router, audit::TransparencyLog& log);
// The platform's certificate authority: certificates, chains, revocation list.
void add_pki_routes(Router& router, pki::CertificateAuthority& authority);

// Logging in and out, the caller's own account, departments and accounts (identity).
// secure_cookies adds the Secure attribute to the session cookie (set it behind HTTPS).
void add_identity_routes(Router& router, identity::Directory& directory, bool secure_cookies);
// The authenticator for the router: the session cookie (browsers) or "Authorization: Bearer".
// With single_sign_on, a Bearer access token of the platform's OpenID Connect provider given to a
// department's system (client credentials) is accepted too: its principal is that department's
// machine client (identity::Principal::machine_client), with the token's scopes an official may
// hold as permissions.
Authenticator make_authenticator(const identity::Directory& directory, oidc::Provider* single_sign_on = nullptr);
inline constexpr std::string_view session_cookie = "onewindow_session";

// Base registries: definitions, records written by each field's authority, reads as of a time,
// history.
// With imports: POST /api/v1/registries/{registry}/imports (CSV body, run in the background by the
// queue, the upload kept under upload_directory) and GET /api/v1/imports/{id}[/rejections].
struct RegistryImports {
  registry::Imports* imports = nullptr;  // none: no import routes
  registry::ImportQueue* queue = nullptr;
  std::filesystem::path upload_directory;
};
void add_registry_routes(Router& router, registry::Registries& registries, identity::Directory& directory,
                         const RegistryImports& imports = {});

// The resource catalog: classification, resources (search, registration) and grants (requests,
// decisions, revocations) of the caller's department.
void add_catalog_routes(Router& router, catalog::Catalog& catalog, const catalog::CatalogConfiguration& configuration,
                        identity::Directory& directory);
// The exchange: reads of registry records through grants, subscriptions to changes, who read my
// data; its share statistics and subscription backlogs go into `metrics`.
void add_exchange_routes(Router& router, catalog::Exchange& exchange, catalog::Subscriptions& subscriptions,
                         identity::Directory& directory, Metrics& metrics);
// One-stop services: service guides, applications from the one form to intake and the
// departments' decisions, and the printable licenses an application issued (their QR codes point
// at <public_url>/api/v1/licenses/<identifier>/verify).
void add_services_routes(Router& router, services::Applications& applications, identity::Directory& directory,
                         std::string public_url);
// Electronic supervision: warnings, anomaly cases, metrics (JSON, CSV, Excel) and an
// application's full history with the inclusion proof of each act.
// /metrics gains onewindow_supervision_warnings_total{level} and onewindow_supervision_cases{status}.
void add_supervision_routes(Router& router, supervision::Supervision& supervision, supervision::Reports& reports,
                            Metrics& metrics);
// Every account's inbox of notices.
void add_notification_routes(Router& router, notification::Inbox& inbox);
// Workflow: deployments of BPMN models, instances and their history, the inbox and task actions.
void add_workflow_routes(Router& router, workflow::Engine& engine, identity::Directory& directory);
// Electronic licenses: the public verify answer, the holder's licenses and their PDF (with a QR
// code of <public_url>/api/v1/licenses/<identifier>/verify), revocation by the issuing
// department, presentations to other departments.
void add_license_routes(Router& router, license::Licenses& licenses, identity::Directory& directory,
                        std::string public_url);
// The web UI: the built files under `root` (web/dist), as the router's fallback for GET and HEAD.
// Hashed files under /assets/ are cached for a year, everything else is revalidated; a path
// without a file extension that names no file is the single-page app's own route and gets
// index.html. Paths under /api/ stay 404 JSON; no path leaves `root` (".." segments, encoded or
// not, and symbolic links out of it are 404). An empty root serves nothing.
void add_web_routes(Router& router, std::filesystem::path root);

// Single sign-on: OpenID Connect discovery, authorize, token, userinfo, JWKS.
void add_oidc_routes(Router& router, oidc::Provider& provider, identity::Directory& directory);

// A Prometheus label value escaped: backslash, quote, newline.
std::string prometheus_label(std::string_view text);

// Parses "host:port" as used by --listen; errors name the field.
Result<std::pair<std::string, int>> parse_listen_address(std::string_view text);

}  // namespace onewindow::api
