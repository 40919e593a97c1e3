#include "api/api.h"
#include "api/callers.h"

#include "workflow/workflow.h"

namespace onewindow::api {

namespace {

// The official a body's field names (the one a task goes to): workflow.unknown_account, naming
// the field, when there is no such account.
Result<workflow::Actor> named_official(identity::Directory& directory, const nlohmann::json& body, const char* field) {
  auto id = string_field(body, field, true);
  if (!id.ok()) return id.take_error();
  auto actor = actor_of(directory, *id, "", false);
  if (!actor.ok()) {
    if (actor.error().kind == ErrorKind::not_found) {
      return Error::invalid("workflow.unknown_account", field, std::string(field) + " names no account");
    }
    return actor.take_error();
  }
  return actor;
}

Result<nlohmann::json> object_field(const nlohmann::json& body, const char* name) {
  auto found = body.find(name);
  if (found == body.end() || found->is_null()) return nlohmann::json::object();
  if (!found->is_object()) return Error::invalid("http.bad_field", name, std::string(name) + " must be a JSON object");
  return *found;
}

Response task_response(const workflow::TaskView& task) { return Response::json(200, task.to_json()); }

const nlohmann::json reason_schema = {{"type", "object"}, {"properties", {{"reason", {{"type", "string"}}}}}};

}  // namespace

void add_workflow_routes(Router& router, workflow::Engine& engine, identity::Directory& directory) {
  router.add({"POST", "/api/v1/workflow/deployments", "workflow.deploy",
              "Deploys a BPMN 2.0 model (the body, application/xml) as the next version of ?name=; the same text "
              "again gives the version it has. Refusals name the element, its id and its line.",
              "workflow",
              [&engine, &directory](const Request& request) -> Result<Response> {
                auto name = request.query.find("name");
                if (name == request.query.end()) return Error::invalid("http.missing_parameter", "name", "name is required");
                std::string type = request.header("content-type");
                if (type.find("xml") == std::string::npos) {
                  return Error(ErrorKind::unsupported, "http.unsupported_media_type", "the body is BPMN XML (application/xml)",
                               {{"field", "content-type"}});
                }
                auto by = caller(request, directory);
                if (!by.ok()) return by.take_error();
                auto deployed = engine.deploy(name->second, request.body, *by);
                if (!deployed.ok()) return deployed.take_error();
                return Response::json(deployed->existing ? 200 : 201, deployed->to_json());
              }});

  router.add({"GET", "/api/v1/workflow/deployments", "workflow.deploy", "The newest deployment of each model name.",
              "workflow", [&engine](const Request&) -> Result<Response> {
                auto all = engine.deployments();
                if (!all.ok()) return all.take_error();
                nlohmann::json list = nlohmann::json::array();
                for (const auto& deployment : *all) list.push_back(deployment.to_json());
                return Response::json(200, {{"deployments", list}});
              }});

  router.add({"POST", "/api/v1/workflow/instances", "workflow.start",
              "Starts an instance of the newest deployed process_id, with variables, a business_key unique among its "
              "instances, and deadline_working_days overriding the process's own.",
              "workflow",
              [&engine, &directory](const Request& request) -> Result<Response> {
                auto body = request.json_body();
                if (!body.ok()) return body.take_error();
                ONEWINDOW_TRY(only_known_fields(*body, {"process_id", "business_key", "variables", "deadline_working_days"}));
                workflow::StartRequest start;
                auto process = string_field(*body, "process_id", true);
                if (!process.ok()) return process.take_error();
                start.process_id = *process;
                auto key = string_field(*body, "business_key", false);
                if (!key.ok()) return key.take_error();
                start.business_key = *key;
                auto variables = object_field(*body, "variables");
                if (!variables.ok()) return variables.take_error();
                start.variables = *variables;
                if (auto days = body->find("deadline_working_days"); days != body->end()) {
                  if (!days->is_number_integer() || days->get<std::int64_t>() < 1 || days->get<std::int64_t>() > 3650) {
                    return Error::invalid("http.bad_field", "deadline_working_days", "a whole number of working days from 1");
                  }
                  start.deadline_working_days = days->get<int>();
                }
                auto by = caller(request, directory);
                if (!by.ok()) return by.take_error();
                auto started = engine.start(start, *by);
                if (!started.ok()) return started.take_error();
                return Response::json(201, started->to_json());
              },
              {{"type", "object"},
               {"required", {"process_id"}},
               {"properties",
                {{"process_id", {{"type", "string"}}},
                 {"business_key", {{"type", "string"}}},
                 {"variables", {{"type", "object"}}},
                 {"deadline_working_days", {{"type", "integer"}}}}}}});

  router.add({"GET", "/api/v1/workflow/instances/{id}", "workflow.read",
              "An instance: its status, deadline, variables and where its tokens are.", "workflow",
              [&engine](const Request& request) -> Result<Response> {
                auto found = engine.instance(request.path_parameters.at("id"));
                if (!found.ok()) return found.take_error();
                return Response::json(200, found->to_json());
              }});

  router.add({"GET", "/api/v1/workflow/instances/{id}/history", "workflow.read",
              "Every step of an instance: when, who, what it did (its trace) and its transparency-log entry.",
              "workflow",
              [&engine](const Request& request) -> Result<Response> {
                auto steps = engine.history(request.path_parameters.at("id"));
                if (!steps.ok()) return steps.take_error();
                if (steps->empty()) {
                  auto found = engine.instance(request.path_parameters.at("id"));
                  if (!found.ok()) return found.take_error();
                }
                nlohmann::json list = nlohmann::json::array();
                for (const auto& step : *steps) list.push_back(step.to_json());
                return Response::json(200, {{"steps", list}});
              }});

  // Suspending, resuming and withdrawing: the instance after the step.
  struct InstanceAction {
    const char* path;
    const char* permission;
    const char* summary;
    std::function<Result<workflow::InstanceView>(const std::string&, const std::string&, const workflow::Actor&)> act;
  };
  for (const InstanceAction& action : std::initializer_list<InstanceAction>{
           {"suspend", "workflow.manage",
            "Suspends the instance (a correction is requested): its working-day clock stops and its tasks wait.",
            [&engine](const std::string& id, const std::string& reason, const workflow::Actor& by) {
              return engine.suspend(id, reason, by);
            }},
           {"resume", "workflow.manage",
            "Resumes a suspended instance; its deadlines and timers move later by the working days suspended.",
            [&engine](const std::string& id, const std::string&, const workflow::Actor& by) { return engine.resume(id, by); }},
           {"withdraw", "authenticated", "The starter withdraws the instance while no official has acted on it.",
            [&engine](const std::string& id, const std::string& reason, const workflow::Actor& by) {
              return engine.withdraw(id, reason, by);
            }}}) {
    router.add({"POST", std::string("/api/v1/workflow/instances/{id}/") + action.path, action.permission, action.summary,
                "workflow",
                [&engine, &directory, act = action.act](const Request& request) -> Result<Response> {
                  std::string reason;
                  if (!request.body.empty()) {
                    auto body = request.json_body();
                    if (!body.ok()) return body.take_error();
                    ONEWINDOW_TRY(only_known_fields(*body, {"reason"}));
                    auto given = string_field(*body, "reason", false);
                    if (!given.ok()) return given.take_error();
                    reason = *given;
                  }
                  auto by = caller(request, directory);
                  if (!by.ok()) return by.take_error();
                  auto done = act(request.path_parameters.at("id"), reason, *by);
                  if (!done.ok()) return done.take_error();
                  return Response::json(200, done->to_json());
                },
                reason_schema});
  }

  router.add({"GET", "/api/v1/workflow/tasks", "workflow.tasks",
              "The caller's inbox: open tasks of the caller's department and tasks the caller holds, oldest first; "
              "?instance_id= narrows it to one instance.",
              "workflow",
              [&engine, &directory](const Request& request) -> Result<Response> {
                auto by = caller(request, directory);
                if (!by.ok()) return by.take_error();
                auto inbox = engine.inbox(*by, request.query.count("instance_id") ? request.query.at("instance_id") : "");
                if (!inbox.ok()) return inbox.take_error();
                nlohmann::json list = nlohmann::json::array();
                for (const auto& task : *inbox) list.push_back(task.to_json());
                return Response::json(200, {{"tasks", list}});
              }});

  router.add({"GET", "/api/v1/workflow/tasks/{id}", "workflow.tasks",
              "A task the caller may see: one of the caller's department, or one the caller holds or delegated.",
              "workflow",
              [&engine, &directory](const Request& request) -> Result<Response> {
                auto by = caller(request, directory);
                if (!by.ok()) return by.take_error();
                auto task = engine.task(request.path_parameters.at("id"), *by);
                if (!task.ok()) return task.take_error();
                return task_response(*task);
              }});

  // Actions on a task that take nothing but the caller.
  struct TaskAction {
    const char* path;
    const char* summary;
    std::function<Result<workflow::TaskView>(const std::string&, const workflow::Actor&)> act;
  };
  for (const TaskAction& action : std::initializer_list<TaskAction>{
           {"claim", "Takes the task to work on it.",
            [&engine](const std::string& id, const workflow::Actor& by) { return engine.claim(id, by); }},
           {"unclaim", "Gives a claimed task back to the department.",
            [&engine](const std::string& id, const workflow::Actor& by) { return engine.unclaim(id, by); }},
           {"take-back", "The official who delegated the task takes it back.",
            [&engine](const std::string& id, const workflow::Actor& by) { return engine.take_back(id, by); }}}) {
    router.add({"POST", std::string("/api/v1/workflow/tasks/{id}/") + action.path, "workflow.tasks", action.summary,
                "workflow", [&directory, act = action.act](const Request& request) -> Result<Response> {
                  auto by = caller(request, directory);
                  if (!by.ok()) return by.take_error();
                  auto task = act(request.path_parameters.at("id"), *by);
                  if (!task.ok()) return task.take_error();
                  return task_response(*task);
                }});
  }

  router.add({"POST", "/api/v1/workflow/tasks/{id}/complete", "workflow.tasks",
              "Completes the task with an outcome (approve, refuse, ...), a comment and variables for the instance.",
              "workflow",
              [&engine, &directory](const Request& request) -> Result<Response> {
                auto body = request.json_body();
                if (!body.ok()) return body.take_error();
                ONEWINDOW_TRY(only_known_fields(*body, {"outcome", "comment", "variables"}));
                workflow::Completion completion;
                auto outcome = string_field(*body, "outcome", false);
                if (!outcome.ok()) return outcome.take_error();
                completion.outcome = *outcome;
                auto comment = string_field(*body, "comment", false);
                if (!comment.ok()) return comment.take_error();
                completion.comment = *comment;
                auto variables = object_field(*body, "variables");
                if (!variables.ok()) return variables.take_error();
                completion.variables = *variables;
                auto by = caller(request, directory);
                if (!by.ok()) return by.take_error();
                auto task = engine.complete(request.path_parameters.at("id"), completion, *by);
                if (!task.ok()) return task.take_error();
                return task_response(*task);
              },
              {{"type", "object"},
               {"properties",
                {{"outcome", {{"type", "string"}}}, {"comment", {{"type", "string"}}}, {"variables", {{"type", "object"}}}}}}});

  // Actions that hand the task to another official, named by account id in the body's `to`.
  struct HandOver {
    const char* path;
    const char* summary;
    std::function<Result<workflow::TaskView>(const std::string&, const workflow::Actor&, const std::string&,
                                             const workflow::Actor&)>
        act;
  };
  for (const HandOver& action : std::initializer_list<HandOver>{
           {"transfer", "Hands the task to another official who may hold it (转办).",
            [&engine](const std::string& id, const workflow::Actor& to, const std::string& comment, const workflow::Actor& by) {
              return engine.transfer(id, to, comment, by);
            }},
           {"delegate", "Lends the task to another official to work on (委派); the holder may take it back.",
            [&engine](const std::string& id, const workflow::Actor& to, const std::string&, const workflow::Actor& by) {
              return engine.delegate(id, to, by);
            }}}) {
    router.add({"POST", std::string("/api/v1/workflow/tasks/{id}/") + action.path, "workflow.tasks", action.summary,
                "workflow",
                [&directory, act = action.act](const Request& request) -> Result<Response> {
                  auto body = request.json_body();
                  if (!body.ok()) return body.take_error();
                  ONEWINDOW_TRY(only_known_fields(*body, {"to", "comment"}));
                  auto to = named_official(directory, *body, "to");
                  if (!to.ok()) return to.take_error();
                  auto comment = string_field(*body, "comment", false);
                  if (!comment.ok()) return comment.take_error();
                  auto by = caller(request, directory);
                  if (!by.ok()) return by.take_error();
                  auto task = act(request.path_parameters.at("id"), *to, *comment, *by);
                  if (!task.ok()) return task.take_error();
                  return task_response(*task);
                },
                {{"type", "object"},
                 {"required", {"to"}},
                 {"properties", {{"to", {{"type", "string"}}}, {"comment", {{"type", "string"}}}}}}});
  }

  router.add({"POST", "/api/v1/workflow/tasks/{id}/return", "workflow.tasks",
              "Sends the case back to an earlier user task (退回), named by its node id.", "workflow",
              [&engine, &directory](const Request& request) -> Result<Response> {
                auto body = request.json_body();
                if (!body.ok()) return body.take_error();
                ONEWINDOW_TRY(only_known_fields(*body, {"node", "comment"}));
                auto node = string_field(*body, "node", true);
                if (!node.ok()) return node.take_error();
                auto comment = string_field(*body, "comment", false);
                if (!comment.ok()) return comment.take_error();
                auto by = caller(request, directory);
                if (!by.ok()) return by.take_error();
                auto task = engine.return_to(request.path_parameters.at("id"), *node, *comment, *by);
                if (!task.ok()) return task.take_error();
                return task_response(*task);
              },
              {{"type", "object"},
               {"required", {"node"}},
               {"properties", {{"node", {{"type", "string"}}}, {"comment", {{"type", "string"}}}}}}});

  router.add({"POST", "/api/v1/workflow/tasks/{id}/signers", "workflow.tasks",
              "Adds a signer (加签), the official named by account id in `signer`, before or after the holder "
              "(`position`).",
              "workflow",
              [&engine, &directory](const Request& request) -> Result<Response> {
                auto body = request.json_body();
                if (!body.ok()) return body.take_error();
                ONEWINDOW_TRY(only_known_fields(*body, {"signer", "position"}));
                auto signer = named_official(directory, *body, "signer");
                if (!signer.ok()) return signer.take_error();
                auto position = string_field(*body, "position", true);
                if (!position.ok()) return position.take_error();
                if (*position != "before" && *position != "after") {
                  return Error::invalid("http.bad_field", "position", "position is before or after");
                }
                auto by = caller(request, directory);
                if (!by.ok()) return by.take_error();
                auto task = engine.add_signer(request.path_parameters.at("id"), *signer, *position == "before", *by);
                if (!task.ok()) return task.take_error();
                return task_response(*task);
              },
              {{"type", "object"},
               {"required", {"signer", "position"}},
               {"properties", {{"signer", {{"type", "string"}}}, {"position", {{"enum", {"before", "after"}}}}}}}});
}

}  // namespace onewindow::api
