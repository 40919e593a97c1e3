#include "api/api.h"

#include "notification/notification.h"

namespace onewindow::api {

void add_notification_routes(Router& router, notification::Inbox& inbox) {
  router.add({"GET", "/api/v1/me/notifications", "authenticated",
              "The caller's notices, newest first (at most 200); ?unread=true for the unread ones only.", "notification",
              [&inbox](const Request& request) -> Result<Response> {
                bool unread = false;
                if (auto given = request.query.find("unread"); given != request.query.end()) {
                  if (given->second != "true" && given->second != "false") {
                    return Error::invalid("http.bad_parameter", "unread", "unread is true or false");
                  }
                  unread = given->second == "true";
                }
                auto notices = inbox.notices(request.principal->account_id, unread);
                if (!notices.ok()) return notices.take_error();
                nlohmann::json list = nlohmann::json::array();
                for (const auto& notice : *notices) list.push_back(notice.to_json());
                return Response::json(200, {{"notifications", list}});
              }});

  router.add({"POST", "/api/v1/me/notifications/{id}/read", "authenticated", "Marks one of the caller's notices read.",
              "notification", [&inbox](const Request& request) -> Result<Response> {
                auto read = inbox.mark_read(request.principal->account_id, request.path_parameters.at("id"));
                if (!read.ok()) return read.take_error();
                return Response::json(200, read->to_json());
              }});
}

}  // namespace onewindow::api
