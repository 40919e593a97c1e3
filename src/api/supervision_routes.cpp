#include "api/api.h"

#include "supervision/supervision.h"

namespace onewindow::api {

namespace {

std::string query_text(const Request& request, const char* name) {
  auto found = request.query.find(name);
  return found == request.query.end() ? std::string() : found->second;
}

// ?from=&to=&by=: the period defaults to the last 30 days up to today.
Result<supervision::MetricsQuery> metrics_query(const Request& request, const Clock& clock) {
  supervision::MetricsQuery query;
  query.to = clock.today();
  query.from = query.to.plus_days(-29);
  if (auto text = query_text(request, "from"); !text.empty()) {
    auto from = Date::parse(text, "from");
    if (!from.ok()) return from.take_error();
    query.from = *from;
  }
  if (auto text = query_text(request, "to"); !text.empty()) {
    auto to = Date::parse(text, "to");
    if (!to.ok()) return to.take_error();
    query.to = *to;
  }
  if (auto by = query_text(request, "by"); !by.empty()) query.by = by;
  return query;
}

}  // namespace

void add_supervision_routes(Router& router, supervision::Supervision& supervision, supervision::Reports& reports,
                            Metrics& metrics) {
  const Clock& clock = reports.clock();
  metrics.add_collector([&supervision] {
    auto counts = supervision.counts();
    if (!counts.ok()) return std::string();
    std::string out =
        "# HELP onewindow_supervision_warnings_total Deadline warnings raised by the clock worker, by level.\n"
        "# TYPE onewindow_supervision_warnings_total counter\n";
    for (const char* level : {"yellow", "red"}) {
      auto found = counts->warnings.find(level);
      out += std::string("onewindow_supervision_warnings_total{level=\"") + level + "\"} " +
             std::to_string(found == counts->warnings.end() ? 0 : found->second) + "\n";
    }
    out += "# HELP onewindow_supervision_cases Anomaly cases, by status.\n# TYPE onewindow_supervision_cases gauge\n";
    for (const char* status : {"open", "closed"}) {
      auto found = counts->cases.find(status);
      out += std::string("onewindow_supervision_cases{status=\"") + status + "\"} " +
             std::to_string(found == counts->cases.end() ? 0 : found->second) + "\n";
    }
    return out;
  });
  router.add({"GET", "/api/v1/supervision/warnings", "supervision.read",
              "Yellow and red warnings raised by the clock worker, newest first; ?level=yellow|red, "
              "?department=KEY, ?application=ID.",
              "supervision", [&supervision](const Request& request) -> Result<Response> {
                supervision::WarningQuery query;
                query.level = query_text(request, "level");
                query.department = query_text(request, "department");
                query.application_id = query_text(request, "application");
                auto warnings = supervision.warnings(query);
                if (!warnings.ok()) return warnings.take_error();
                nlohmann::json list = nlohmann::json::array();
                for (const auto& warning : *warnings) list.push_back(warning.to_json());
                return Response::json(200, {{"warnings", list}});
              }});

  router.add({"GET", "/api/v1/supervision/cases", "supervision.read",
              "Anomaly cases opened by the rules of config/supervision/supervision.yaml, newest first; "
              "?status=open|closed.",
              "supervision", [&supervision](const Request& request) -> Result<Response> {
                auto cases = supervision.cases(query_text(request, "status"));
                if (!cases.ok()) return cases.take_error();
                nlohmann::json list = nlohmann::json::array();
                for (const auto& anomaly : *cases) list.push_back(anomaly.to_json());
                return Response::json(200, {{"cases", list}});
              }});

  router.add({"POST", "/api/v1/supervision/cases/{id}/close", "supervision.cases",
              "Closes an anomaly case with a comment saying what was found.", "supervision",
              [&supervision](const Request& request) -> Result<Response> {
                auto body = request.json_body();
                if (!body.ok()) return body.take_error();
                ONEWINDOW_TRY(only_known_fields(*body, {"comment"}));
                auto comment = string_field(*body, "comment", true);
                if (!comment.ok()) return comment.take_error();
                auto closed = supervision.close_case(request.path_parameters.at("id"), *comment,
                                                     request.principal->account_id);
                if (!closed.ok()) return closed.take_error();
                return Response::json(200, closed->to_json());
              }});

  router.add({"GET", "/api/v1/supervision/metrics", "supervision.read",
              "Metrics of the applications submitted from..to (YYYY-MM-DD, both included; the last 30 days by "
              "default), by=service|department|official.",
              "supervision", [&reports, &clock](const Request& request) -> Result<Response> {
                auto query = metrics_query(request, clock);
                if (!query.ok()) return query.take_error();
                auto metrics = reports.metrics(*query);
                if (!metrics.ok()) return metrics.take_error();
                return Response::json(200, metrics->to_json());
              }});

  router.add({"GET", "/api/v1/supervision/metrics.csv", "supervision.read",
              "The same metrics as CSV (RFC 4180, UTF-8).", "supervision",
              [&reports, &clock](const Request& request) -> Result<Response> {
                auto query = metrics_query(request, clock);
                if (!query.ok()) return query.take_error();
                auto metrics = reports.metrics(*query);
                if (!metrics.ok()) return metrics.take_error();
                Response response = Response::text(200, "text/csv; charset=utf-8", metrics->to_csv());
                response.headers.push_back({"Content-Disposition", "attachment; filename=\"metrics.csv\""});
                return response;
              }});

  router.add({"GET", "/api/v1/supervision/metrics.xlsx", "supervision.read",
              "The same metrics as an Excel workbook.", "supervision",
              [&reports, &clock](const Request& request) -> Result<Response> {
                auto query = metrics_query(request, clock);
                if (!query.ok()) return query.take_error();
                auto metrics = reports.metrics(*query);
                if (!metrics.ok()) return metrics.take_error();
                auto workbook = metrics->to_xlsx();
                if (!workbook.ok()) return workbook.take_error();
                Response response = Response::text(
                    200, "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", std::move(workbook).value());
                response.headers.push_back({"Content-Disposition", "attachment; filename=\"metrics.xlsx\""});
                return response;
              }});

  router.add({"GET", "/api/v1/supervision/applications", "supervision.read",
              "The applications submitted from..to (the last 30 days by default) to find one: ?service=CODE, "
              "?status=STATE; each says whether it is overdue.",
              "supervision", [&reports, &clock](const Request& request) -> Result<Response> {
                auto query = metrics_query(request, clock);
                if (!query.ok()) return query.take_error();
                auto list = reports.applications(query->from, query->to, query_text(request, "service"),
                                                 query_text(request, "status"));
                if (!list.ok()) return list.take_error();
                return Response::json(200, *list);
              }});

  router.add({"GET", "/api/v1/supervision/applications/{id}/history", "supervision.read",
              "Every act on the application, oldest first, each with its transparency-log entry and its inclusion "
              "proof under the latest signed tree head (tree_head).",
              "supervision", [&reports](const Request& request) -> Result<Response> {
                auto history = reports.history(request.path_parameters.at("id"));
                if (!history.ok()) return history.take_error();
                return Response::json(200, *history);
              }});
}

}  // namespace onewindow::api
