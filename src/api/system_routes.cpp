#include "api/api.h"

#include "store/store.h"

namespace onewindow::api {

void add_system_routes(Router& router, SystemContext& context) {
  router.add({"GET", "/healthz", "public", "The process is alive.", "system",
              [](const Request&) -> Result<Response> {
                return Response::json(200, {{"status", "ok"}});
              },
              nullptr,
              {{"type", "object"}, {"properties", {{"status", {{"type", "string"}}}}}}});

  router.add({"GET", "/readyz", "public",
              "The server takes requests: the database answers and it is not shutting down.", "system",
              [&context](const Request&) -> Result<Response> {
                if (context.server != nullptr && context.server->draining()) {
                  return Error(ErrorKind::unavailable, "server.shutting_down", "the server is shutting down");
                }
                Status database = context.database->ping();
                if (!database.ok()) {
                  return Error(ErrorKind::unavailable, "server.database_unavailable",
                               "the database does not answer: " + database.error().message);
                }
                return Response::json(200, {{"status", "ready"},
                                            {"database", std::string(store::backend_name(context.database->backend()))}});
              }});

  router.add({"GET", "/metrics", "public", "Request counts and latency histograms per route (Prometheus).",
              "system", [&context](const Request&) -> Result<Response> {
                return Response::text(200, "text/plain; version=0.0.4; charset=utf-8",
                                      context.metrics->render_prometheus());
              }});

  router.add({"GET", "/api/openapi.json", "public", "This OpenAPI 3.1 document of every route.", "system",
              [&router, &context](const Request&) -> Result<Response> {
                return Response::json(200, openapi_document(router, context.version));
              }});
}

}  // namespace onewindow::api
