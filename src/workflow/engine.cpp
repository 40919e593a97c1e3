// The Engine: deployments, instances, tasks and timers in the database, one transaction per step;
// see workflow.h. The rules of a step are in interpreter.cpp.
#include "workflow/interpreter.h"

#include "base/identifiers.h"
#include "base/log.h"
#include "crypto/crypto.h"

#include <algorithm>
#include <set>
#include <tuple>

namespace onewindow::workflow {

using detail::InstanceState;
using detail::Interpreter;
using detail::TaskState;
using detail::TimePoint;
using detail::TimerState;

namespace {

constexpr int most_conflict_retries = 8;
constexpr const char* conflict_code = "workflow.conflict";

constexpr const char* schema_v1 = R"(
    CREATE TABLE workflow_deployment (
      id BIGINT PRIMARY KEY,
      name TEXT NOT NULL,
      version INTEGER NOT NULL,
      digest TEXT NOT NULL,
      processes TEXT NOT NULL,
      xml TEXT NOT NULL,
      deployed_at TEXT NOT NULL,
      deployed_by TEXT NOT NULL,
      log_index BIGINT NOT NULL,
      UNIQUE (name, version));
    CREATE INDEX workflow_deployment_digest ON workflow_deployment (name, digest);
    CREATE TABLE workflow_deployed_process (
      process_id TEXT NOT NULL,
      deployment BIGINT NOT NULL REFERENCES workflow_deployment (id),
      PRIMARY KEY (process_id, deployment));
    CREATE TABLE workflow_instance (
      id TEXT PRIMARY KEY,
      deployment BIGINT NOT NULL REFERENCES workflow_deployment (id),
      process_id TEXT NOT NULL,
      business_key TEXT,
      status TEXT NOT NULL,
      started_by TEXT NOT NULL,
      started_at TEXT NOT NULL,
      ended_at TEXT,
      due_at TEXT,
      revision BIGINT NOT NULL,
      state TEXT NOT NULL,
      UNIQUE (process_id, business_key));
    CREATE INDEX workflow_instance_status ON workflow_instance (status);
    CREATE TABLE workflow_task (
      id TEXT PRIMARY KEY,
      instance_id TEXT NOT NULL REFERENCES workflow_instance (id),
      node_id TEXT NOT NULL,
      name TEXT NOT NULL,
      candidate_department TEXT NOT NULL,
      candidate_role TEXT NOT NULL,
      assignee TEXT NOT NULL,
      owner TEXT NOT NULL,
      delegation TEXT NOT NULL,
      status TEXT NOT NULL,
      loop_index INTEGER NOT NULL,
      created_at TEXT NOT NULL,
      due_at TEXT,
      claimed_at TEXT,
      ended_at TEXT,
      ended_by TEXT NOT NULL,
      outcome TEXT NOT NULL,
      comment TEXT NOT NULL);
    CREATE INDEX workflow_task_instance ON workflow_task (instance_id);
    CREATE INDEX workflow_task_inbox ON workflow_task (candidate_department) WHERE status IN ('open', 'waiting');
    CREATE INDEX workflow_task_assignee ON workflow_task (assignee, status) WHERE assignee <> '';
    CREATE INDEX workflow_task_owner ON workflow_task (owner) WHERE owner <> '';
    CREATE TABLE workflow_timer (
      id TEXT PRIMARY KEY,
      instance_id TEXT NOT NULL REFERENCES workflow_instance (id),
      node_id TEXT NOT NULL,
      due_at TEXT NOT NULL,
      state TEXT NOT NULL);
    CREATE INDEX workflow_timer_due ON workflow_timer (state, due_at);
    CREATE TABLE workflow_step (
      instance_id TEXT NOT NULL REFERENCES workflow_instance (id),
      sequence BIGINT NOT NULL,
      at TEXT NOT NULL,
      actor TEXT NOT NULL,
      action TEXT NOT NULL,
      trace TEXT NOT NULL,
      log_index BIGINT NOT NULL,
      PRIMARY KEY (instance_id, sequence));
)";

// The limit a deadline was set from: supervision counts the working days used against it.
constexpr const char* schema_v2 = R"(
    ALTER TABLE workflow_instance ADD COLUMN working_days INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE workflow_task ADD COLUMN working_days INTEGER NOT NULL DEFAULT 0;
)";

constexpr const char* select_instance = "SELECT state, revision FROM workflow_instance WHERE id = $1";
constexpr const char* insert_instance =
    "INSERT INTO workflow_instance (id, deployment, process_id, business_key, status, started_by, started_at, ended_at, "
    "due_at, revision, state, working_days) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 1, $10, $11)";
constexpr const char* update_instance =
    "UPDATE workflow_instance SET status = $1, ended_at = $2, due_at = $3, revision = revision + 1, state = $4 "
    "WHERE id = $5 AND revision = $6";
constexpr const char* upsert_task =
    "INSERT INTO workflow_task (id, instance_id, node_id, name, candidate_department, candidate_role, assignee, owner, "
    "delegation, status, loop_index, created_at, due_at, claimed_at, ended_at, ended_by, outcome, comment, working_days) "
    "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19) "
    "ON CONFLICT (id) DO UPDATE SET candidate_department = excluded.candidate_department, assignee = excluded.assignee, "
    "owner = excluded.owner, delegation = excluded.delegation, status = excluded.status, due_at = excluded.due_at, "
    "claimed_at = excluded.claimed_at, ended_at = excluded.ended_at, ended_by = excluded.ended_by, "
    "outcome = excluded.outcome, comment = excluded.comment";
constexpr const char* upsert_timer =
    "INSERT INTO workflow_timer (id, instance_id, node_id, due_at, state) VALUES ($1, $2, $3, $4, $5) "
    "ON CONFLICT (id) DO UPDATE SET due_at = excluded.due_at, state = excluded.state";
constexpr const char* delete_timer = "DELETE FROM workflow_timer WHERE id = $1";
constexpr const char* hold_timers = "UPDATE workflow_timer SET state = $1 WHERE instance_id = $2";
constexpr const char* insert_step =
    "INSERT INTO workflow_step (instance_id, sequence, at, actor, action, trace, log_index) VALUES ($1, $2, $3, $4, $5, $6, $7)";
constexpr const char* task_columns =
    "SELECT id, instance_id, node_id, name, candidate_department, candidate_role, assignee, owner, delegation, status, "
    "loop_index, created_at, due_at, claimed_at, ended_at, ended_by, outcome, comment, working_days FROM workflow_task";
constexpr const char* deployment_columns =
    "SELECT id, name, version, digest, processes, deployed_at, deployed_by FROM workflow_deployment";

store::Value optional_value(const std::optional<TimePoint>& time) {
  if (!time) return std::monostate();
  return format_timestamp(*time);
}

std::string optional_text(const store::Row& row, std::size_t column) { return row.optional_text(column).value_or(""); }

TaskView task_from(const store::Row& row) {
  TaskView task;
  task.id = row.text(0);
  task.instance_id = row.text(1);
  task.node_id = row.text(2);
  task.name = row.text(3);
  task.candidate_department = row.text(4);
  task.candidate_role = row.text(5);
  task.assignee = row.text(6);
  task.owner = row.text(7);
  task.delegation = row.text(8);
  task.status = row.text(9);
  task.loop_index = static_cast<int>(row.integer(10));
  task.created_at = row.text(11);
  task.due_at = optional_text(row, 12);
  task.claimed_at = optional_text(row, 13);
  task.ended_at = optional_text(row, 14);
  task.ended_by = row.text(15);
  task.outcome = row.text(16);
  task.comment = row.text(17);
  task.working_days = static_cast<int>(row.integer(18));
  return task;
}

Deployment deployment_from(const store::Row& row) {
  Deployment deployment;
  deployment.id = row.integer(0);
  deployment.name = row.text(1);
  deployment.version = static_cast<int>(row.integer(2));
  deployment.digest = row.text(3);
  deployment.processes = nlohmann::json::parse(row.text(4)).get<std::vector<std::string>>();
  deployment.deployed_at = row.text(5);
  deployment.deployed_by = row.text(6);
  return deployment;
}

InstanceView view_of(const InstanceState& state) {
  InstanceView view;
  view.id = state.id;
  view.deployment = state.deployment;
  view.process_id = state.process;
  view.business_key = state.business_key;
  view.module = state.module;
  view.status = state.status;
  view.started_by = state.started_by;
  view.started_at = format_timestamp(state.started_at);
  if (state.ended_at) view.ended_at = format_timestamp(*state.ended_at);
  if (state.due_at) view.due_at = format_timestamp(*state.due_at);
  view.working_days = state.working_days;
  if (state.suspended_at) view.suspended_at = format_timestamp(*state.suspended_at);
  view.variables = state.variables;
  view.active_nodes = state.active_nodes();
  return view;
}

// What of a task its row shows; a task whose row shows the same is not written again.
auto row_fields(const TaskState& task) {
  return std::tie(task.department, task.assignee, task.owner, task.delegation, task.status, task.due_at, task.claimed_at);
}

store::Parameters task_parameters(const TaskState& task, const std::string& instance_id) {
  return {task.id,
          instance_id,
          task.node,
          task.name,
          task.department,
          task.role,
          task.assignee,
          task.owner,
          task.delegation,
          task.status,
          static_cast<std::int64_t>(task.loop_index),
          format_timestamp(task.created_at),
          optional_value(task.due_at),
          optional_value(task.claimed_at),
          optional_value(task.ended_at),
          task.ended_by,
          task.outcome,
          task.comment,
          static_cast<std::int64_t>(task.working_days)};
}

// The newest deployment holding the process, or nullopt when none does.
Result<std::optional<std::int64_t>> newest_deployment(store::Session& session, std::string_view process_id) {
  auto newest = session.query_one("SELECT MAX(deployment) FROM workflow_deployed_process WHERE process_id = $1",
                                  {std::string(process_id)});
  if (!newest.ok()) return newest.take_error();
  if (!*newest || (*newest)->is_null(0)) return std::optional<std::int64_t>();
  return std::optional<std::int64_t>((*newest)->integer(0));
}

bool valid_deployment_name(std::string_view name) {
  return !name.empty() && name.size() <= 64 && std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
  });
}

// Every hook and called element of a process and its subprocesses.
void collect(const Process& process, std::set<std::string>& hooks, std::set<std::string>& called) {
  for (const Node& node : process.nodes) {
    if (node.kind == NodeKind::service_task) hooks.insert(node.hook);
    if (node.kind == NodeKind::call_activity) called.insert(node.called_element);
    for (const Process& inner : node.sub_process) collect(inner, hooks, called);
  }
}

}  // namespace

bool Actor::has_role(std::string_view role) const {
  return std::find(roles.begin(), roles.end(), role) != roles.end();
}

nlohmann::json Deployment::to_json() const {
  return {{"id", id},          {"name", name},           {"version", version},         {"digest", digest},
          {"processes", processes}, {"deployed_at", deployed_at}, {"deployed_by", deployed_by}};
}

nlohmann::json TaskView::to_json() const {
  auto optional = [](const std::string& text) { return text.empty() ? nlohmann::json(nullptr) : nlohmann::json(text); };
  return {{"id", id},
          {"instance_id", instance_id},
          {"node_id", node_id},
          {"name", name},
          {"candidate_department", optional(candidate_department)},
          {"candidate_role", optional(candidate_role)},
          {"assignee", optional(assignee)},
          {"owner", optional(owner)},
          {"delegation", optional(delegation)},
          {"status", status},
          {"loop_index", loop_index < 0 ? nlohmann::json(nullptr) : nlohmann::json(loop_index)},
          {"created_at", created_at},
          {"due_at", optional(due_at)},
          {"claimed_at", optional(claimed_at)},
          {"ended_at", optional(ended_at)},
          {"ended_by", optional(ended_by)},
          {"outcome", optional(outcome)},
          {"comment", optional(comment)},
          {"working_days", working_days}};
}

nlohmann::json InstanceView::to_json() const {
  auto optional = [](const std::string& text) { return text.empty() ? nlohmann::json(nullptr) : nlohmann::json(text); };
  return {{"id", id},
          {"deployment", deployment},
          {"process_id", process_id},
          {"business_key", optional(business_key)},
          {"module", optional(module)},
          {"status", status},
          {"started_by", started_by},
          {"started_at", started_at},
          {"ended_at", optional(ended_at)},
          {"due_at", optional(due_at)},
          {"working_days", working_days},
          {"suspended_at", optional(suspended_at)},
          {"variables", variables},
          {"active_nodes", active_nodes}};
}

nlohmann::json StepView::to_json() const {
  return {{"sequence", sequence}, {"at", at}, {"actor", actor}, {"action", action}, {"trace", trace}, {"log_index", log_index}};
}

// ---- Deployments --------------------------------------------------------------------------------

namespace detail {

// Parsed models by deployment id. Deployments never change, so a model once read stays right.
class DeploymentCache {
 public:
  Result<std::shared_ptr<const Model>> model(store::Session& session, std::int64_t deployment) {
    {
      std::lock_guard lock(mutex_);
      auto found = models_.find(deployment);
      if (found != models_.end()) return found->second;
    }
    auto row = session.query_one("SELECT name, xml FROM workflow_deployment WHERE id = $1", {deployment});
    if (!row.ok()) return row.take_error();
    if (!*row) {
      return Error(ErrorKind::not_found, "workflow.unknown_deployment", "no deployment " + std::to_string(deployment),
                   {{"field", "deployment"}});
    }
    auto parsed = parse_model((*row)->text(1), (*row)->text(0));
    if (!parsed.ok()) return parsed.take_error();
    auto model = std::make_shared<const Model>(std::move(parsed).value());
    std::lock_guard lock(mutex_);
    // Another thread may have read it meanwhile: everyone gets the one kept.
    return models_.emplace(deployment, std::move(model)).first->second;
  }

 private:
  std::mutex mutex_;
  std::map<std::int64_t, std::shared_ptr<const Model>> models_;
};

}  // namespace detail

Engine::Engine(store::Database& database, audit::TransparencyLog& log, const WorkingDayCalendar& calendar,
               const Clock& clock)
    : database_(database),
      log_(log),
      calendar_(calendar),
      clock_(clock),
      deployments_(std::make_unique<detail::DeploymentCache>()) {}

Engine::~Engine() { stop_timers(); }

std::vector<store::Migration> Engine::migrations() {
  return {{"workflow", 1, "deployments, instances, tasks, timers and steps", schema_v1, ""},
          {"workflow", 2, "the working-day limit of each instance and task, for supervision", schema_v2, ""}};
}

void Engine::register_hook(std::string name, Hook hook) { hooks_[std::move(name)] = std::move(hook); }

Result<Deployment> Engine::deploy(std::string_view name, std::string_view xml, const Actor& by) {
  if (!valid_deployment_name(name)) {
    return Error::invalid("workflow.bad_deployment_name", "name",
                          "a deployment's name is 1 to 64 of a-z, 0-9, _ and -");
  }
  auto model = parse_model(xml, name);
  if (!model.ok()) return model.take_error();
  std::set<std::string> hooks;
  std::set<std::string> called;
  std::vector<std::string> processes;
  for (const Process& process : model->processes) {
    collect(process, hooks, called);
    processes.push_back(process.id);
  }
  for (const std::string& hook : hooks) {
    if (!hooks_.contains(hook)) {
      return Error(ErrorKind::invalid_argument, "workflow.unknown_hook",
                   std::string(name) + ": no hook " + hook + " is registered on this platform", {{"field", "hook"}, {"hook", hook}});
    }
  }
  std::string digest = crypto::to_hex(crypto::sm3(xml));
  std::string now = format_timestamp(clock_.now());
  return database_.write_value<Deployment>([&](store::Session& session) -> Result<Deployment> {
    auto existing = session.query_one(std::string(deployment_columns) + " WHERE name = $1 AND digest = $2", {std::string(name), digest});
    if (!existing.ok()) return existing.take_error();
    if (*existing) {
      Deployment found = deployment_from(**existing);
      found.existing = true;
      return found;
    }
    for (const std::string& element : called) {
      if (std::find(processes.begin(), processes.end(), element) != processes.end()) continue;
      auto deployed = session.query_one("SELECT 1 FROM workflow_deployed_process WHERE process_id = $1", {element});
      if (!deployed.ok()) return deployed.take_error();
      if (!*deployed) {
        return Error(ErrorKind::invalid_argument, "workflow.unknown_called_element",
                     std::string(name) + ": a call activity calls " + element +
                         ", which is neither in this model nor deployed",
                     {{"field", "calledElement"}, {"called_element", element}});
      }
    }
    auto numbers = session.query_one(
        "SELECT (SELECT COALESCE(MAX(id), 0) + 1 FROM workflow_deployment), "
        "(SELECT COALESCE(MAX(version), 0) + 1 FROM workflow_deployment WHERE name = $1)",
        {std::string(name)});
    if (!numbers.ok()) return numbers.take_error();
    Deployment deployment;
    deployment.id = (*numbers)->integer(0);
    deployment.name = std::string(name);
    deployment.version = static_cast<int>((*numbers)->integer(1));
    deployment.digest = digest;
    deployment.processes = processes;
    deployment.deployed_at = now;
    deployment.deployed_by = by.account_id;
    auto receipt = log_.record(session, {by.account_id, "", "workflow.deploy", "workflow_deployment",
                                         std::to_string(deployment.id), "",
                                         {{"name", deployment.name}, {"version", deployment.version},
                                          {"digest", digest}, {"processes", processes}}});
    if (!receipt.ok()) return receipt.take_error();
    ONEWINDOW_TRY(session
                      .execute("INSERT INTO workflow_deployment (id, name, version, digest, processes, xml, deployed_at, "
                               "deployed_by, log_index) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
                               {deployment.id, deployment.name, static_cast<std::int64_t>(deployment.version), digest,
                                nlohmann::json(processes).dump(), std::string(xml), now, by.account_id, receipt->index})
                      .status());
    for (const std::string& process : processes) {
      ONEWINDOW_TRY(session
                        .execute("INSERT INTO workflow_deployed_process (process_id, deployment) VALUES ($1, $2)",
                                 {process, deployment.id})
                        .status());
    }
    return deployment;
  });
}

Result<Deployment> Engine::deployment(std::int64_t id) const {
  return database_.read_value<Deployment>([&](store::Session& session) -> Result<Deployment> {
    auto row = session.query_one(std::string(deployment_columns) + " WHERE id = $1", {id});
    if (!row.ok()) return row.take_error();
    if (!*row) return Error(ErrorKind::not_found, "workflow.unknown_deployment", "no deployment " + std::to_string(id));
    return deployment_from(**row);
  });
}

Result<std::vector<Deployment>> Engine::deployments() const {
  return database_.read_value<std::vector<Deployment>>([&](store::Session& session) -> Result<std::vector<Deployment>> {
    auto rows = session.query(std::string(deployment_columns) +
                              " d WHERE version = (SELECT MAX(version) FROM workflow_deployment e WHERE e.name = d.name) "
                              "ORDER BY name");
    if (!rows.ok()) return rows.take_error();
    std::vector<Deployment> all;
    for (const auto& row : *rows) all.push_back(deployment_from(row));
    return all;
  });
}

// ---- Steps --------------------------------------------------------------------------------------

struct Engine::Step {
  InstanceState& state;
  Interpreter& interpreter;
};

namespace {

// An instance a module started for its own records moves only through that module's steps
// (StartRequest::module): the application of services/, say.
Status not_a_module_instance(const InstanceState& state) {
  if (state.module.empty()) return ok_status();
  return Error(ErrorKind::conflict, "workflow.module_instance",
               "instance " + state.id + " moves with the record " + state.business_key + " of " + state.module +
                   ": act through " + state.module + ", not the workflow's own steps",
               {{"field", "id"}, {"module", state.module}, {"business_key", state.business_key}});
}

// A step's action that moves the case: refused for a module's instance, then done.
template <typename Action>
auto moving_the_case(Action action) {
  return [action](auto& step) -> Status {
    ONEWINDOW_TRY(not_a_module_instance(step.state));
    return action(step);
  };
}

// Stores what a step changed: the instance row, its tasks' and timers' rows, the step's history
// row and its transparency-log entry, all in the caller's transaction.
struct StepWriter {
  store::Session& session;
  audit::TransparencyLog& log;
  const Actor& actor;
  std::string action;
  nlohmann::json log_details;
  TimePoint now;

  Status write(const InstanceState& before, const InstanceState& after, const Interpreter& interpreter,
               std::int64_t revision) {
    const bool created = revision == 0;
    std::string state_text = after.to_json().dump();
    if (created) {
      ONEWINDOW_TRY(session
                        .execute(insert_instance,
                                 {after.id, after.deployment, after.process,
                                  after.business_key.empty() ? store::Value() : store::Value(after.business_key),
                                  after.status, after.started_by, format_timestamp(after.started_at),
                                  optional_value(after.ended_at), optional_value(after.due_at), state_text,
                                  static_cast<std::int64_t>(after.working_days)})
                        .status());
    } else {
      auto updated = session.execute(update_instance, {after.status, optional_value(after.ended_at),
                                                       optional_value(after.due_at), state_text, after.id, revision});
      if (!updated.ok()) return updated.take_error();
      if (*updated == 0) return Error(ErrorKind::conflict, conflict_code, "the instance changed during the step");
    }
    for (const auto& [id, task] : after.tasks) {
      auto old = before.tasks.find(id);
      if (old != before.tasks.end() && row_fields(old->second) == row_fields(task)) continue;
      ONEWINDOW_TRY(session.execute(upsert_task, task_parameters(task, after.id)).status());
    }
    for (const TaskState& task : interpreter.closed_tasks()) {
      ONEWINDOW_TRY(session.execute(upsert_task, task_parameters(task, after.id)).status());
    }
    const std::string timer_state = after.status == "suspended" ? "held" : "pending";
    for (const std::string& id : interpreter.ended_timers()) {
      if (before.timers.contains(id)) ONEWINDOW_TRY(session.execute(delete_timer, {id}).status());
    }
    for (const auto& [id, timer] : after.timers) {
      auto old = before.timers.find(id);
      if (old != before.timers.end() && old->second.due_at == timer.due_at) continue;
      ONEWINDOW_TRY(session.execute(upsert_timer, {id, after.id, timer.node, format_timestamp(timer.due_at), timer_state}).status());
    }
    if (!created && (before.status == "suspended") != (after.status == "suspended")) {
      ONEWINDOW_TRY(session.execute(hold_timers, {timer_state, after.id}).status());
    }
    nlohmann::json details = log_details;
    details["process"] = after.process;
    details["status"] = after.status;
    auto receipt = log.record(session, {actor.account_id, "", "workflow." + action, "workflow_instance", after.id, "", details});
    if (!receipt.ok()) return receipt.take_error();
    return session
        .execute(insert_step, {after.id, revision + 1, format_timestamp(now), actor.account_id, action,
                               nlohmann::json(interpreter.trace()).dump(), receipt->index})
        .status();
  }
};

}  // namespace

// What start() checks before any transaction.
static Status check_start(const StartRequest& request) {
  if (!request.variables.is_object()) {
    return Error::invalid("workflow.bad_variables", "variables", "variables must be a JSON object");
  }
  if (request.business_key.size() > 200) {
    return Error::invalid("workflow.bad_business_key", "business_key", "a business key is at most 200 bytes");
  }
  return ok_status();
}

Result<InstanceView> Engine::start(const StartRequest& request, const Actor& by) {
  ONEWINDOW_TRY(check_start(request));
  std::string id = new_id("wfi");
  for (int attempt = 0;; ++attempt) {
    auto started = database_.write_value<InstanceView>(
        [&](store::Session& session) { return start_in(session, request, by, id); });
    if (started.ok() || started.error().code != "store.unique_violation" || attempt > 0) return started;
    // Two starts with one business key at once: the second finds the first on its next try.
  }
}

Result<InstanceView> Engine::start(store::Session& session, const StartRequest& request, const Actor& by) {
  ONEWINDOW_TRY(check_start(request));
  return start_in(session, request, by, new_id("wfi"));
}

Result<InstanceView> Engine::start_in(store::Session& session, const StartRequest& request, const Actor& by,
                                      const std::string& id) {
    std::int64_t deployment = request.deployment;
    if (deployment == 0) {
      auto newest = newest_deployment(session, request.process_id);
      if (!newest.ok()) return newest.take_error();
      if (!*newest) {
        return Error(ErrorKind::not_found, "workflow.unknown_process", "no deployed process " + request.process_id,
                     {{"field", "process_id"}});
      }
      deployment = **newest;
    }
    if (!request.business_key.empty()) {
      auto taken = session.query_one("SELECT id FROM workflow_instance WHERE process_id = $1 AND business_key = $2",
                                     {request.process_id, request.business_key});
      if (!taken.ok()) return taken.take_error();
      if (*taken) {
        return Error(ErrorKind::conflict, "workflow.duplicate_business_key",
                     "an instance of " + request.process_id + " with this business key exists: " + (*taken)->text(0),
                     {{"field", "business_key"}, {"instance_id", (*taken)->text(0)}});
      }
    }
    auto model = deployments_->model(session, deployment);
    if (!model.ok()) return model.take_error();
    const Process* process = (*model)->process(request.process_id);
    if (!process) {
      return Error(ErrorKind::not_found, "workflow.unknown_process",
                   "no process " + request.process_id + " in deployment " + std::to_string(deployment),
                   {{"field", "process_id"}});
    }
    TimePoint now = clock_.now();
    InstanceState state;
    state.id = id;
    state.deployment = deployment;
    state.process = request.process_id;
    state.business_key = request.business_key;
    state.module = request.module;
    state.started_by = by.account_id;
    state.started_at = now;
    state.variables = request.variables;
    int limit = request.deadline_working_days > 0 ? request.deadline_working_days : process->working_days;
    if (limit > 0) {
      auto due = due_at(TimerDuration{"", limit}, now, calendar_);
      if (!due.ok()) return due.take_error();
      state.due_at = *due;
      state.working_days = limit;
    }
    InstanceState before = state;
    detail::Environment environment = environment_for(session, id);
    Interpreter interpreter(state, environment, now, by);
    ONEWINDOW_TRY(interpreter.start());
    StepWriter writer{session, log_, by, "start", {{"deployment", deployment}}, now};
    ONEWINDOW_TRY(writer.write(before, state, interpreter, 0));
    return view_of(state);
}

detail::Environment Engine::environment_for(store::Session& session, const std::string& instance_id) {
  return detail::Environment{
      calendar_,
      [this, &session](std::int64_t deployment) { return deployments_->model(session, deployment); },
      [&session](std::string_view process_id) -> Result<std::int64_t> {
        auto newest = newest_deployment(session, process_id);
        if (!newest.ok()) return newest.take_error();
        if (!*newest) {
          return Error(ErrorKind::invalid_argument, "workflow.unknown_called_element",
                       "no deployed process " + std::string(process_id) + " to call");
        }
        return **newest;
      },
      [this, &session, instance_id](const std::string& hook, const std::string& node,
                                    const nlohmann::json& variables) -> Result<nlohmann::json> {
        auto found = hooks_.find(hook);
        if (found == hooks_.end()) {
          return Error(ErrorKind::internal, "workflow.unknown_hook", "no hook " + hook + " is registered");
        }
        HookCall call{session, instance_id, node, variables};
        return found->second(call);
      }};
}

Status Engine::step_in(store::Session& session, std::string_view instance_id, const Actor& actor, std::string_view action,
                       const nlohmann::json& log_details, const std::function<Status(Step&)>& work) {
  auto row = session.query_one(select_instance, {std::string(instance_id)});
  if (!row.ok()) return row.take_error();
  if (!*row) {
    return Error(ErrorKind::not_found, "workflow.instance_not_found", "no instance " + std::string(instance_id),
                 {{"field", "instance_id"}});
  }
  auto parsed = InstanceState::from_json(nlohmann::json::parse((*row)->text(0)));
  if (!parsed.ok()) return parsed.take_error();
  InstanceState state = std::move(parsed).value();
  std::int64_t revision = (*row)->integer(1);
  InstanceState before = state;
  TimePoint now = clock_.now();
  detail::Environment environment = environment_for(session, state.id);
  Interpreter interpreter(state, environment, now, actor);
  Step step{state, interpreter};
  ONEWINDOW_TRY(work(step));
  StepWriter writer{session, log_, actor, std::string(action), log_details, now};
  return writer.write(before, state, interpreter, revision);
}

Result<std::string> Engine::run_step(std::string_view instance_id, const Actor& actor, std::string_view action,
                                     const nlohmann::json& log_details, const std::function<Status(Step&)>& work) {
  for (int attempt = 0;; ++attempt) {
    Status status = database_.write(
        [&](store::Session& session) { return step_in(session, instance_id, actor, action, log_details, work); });
    if (status.ok()) return std::string(instance_id);
    if (status.error().code != conflict_code || attempt + 1 >= most_conflict_retries) return status.take_error();
  }
}

Result<InstanceView> Engine::instance_step(std::string_view instance_id, const Actor& actor, std::string_view action,
                                           const nlohmann::json& log_details, const std::function<Status(Step&)>& work) {
  auto done = run_step(instance_id, actor, action, log_details, work);
  if (!done.ok()) return done.take_error();
  return instance(instance_id);
}

Result<TaskView> Engine::task_step(std::string_view task_id, const Actor& actor, std::string_view action,
                                   const nlohmann::json& log_details, const std::function<Status(Step&)>& work) {
  auto found = task(task_id);
  if (!found.ok()) return found.take_error();
  nlohmann::json details = log_details;
  details["task"] = found->id;
  details["node"] = found->node_id;
  auto done = run_step(found->instance_id, actor, action, details, work);
  if (!done.ok()) return done.take_error();
  return task(task_id);
}

Result<InstanceView> Engine::instance(std::string_view id) const {
  return database_.read_value<InstanceView>([&](store::Session& session) { return instance(session, id); });
}

Result<InstanceView> Engine::instance(store::Session& session, std::string_view id) const {
  auto row = session.query_one(select_instance, {std::string(id)});
  if (!row.ok()) return row.take_error();
  if (!*row) {
    return Error(ErrorKind::not_found, "workflow.instance_not_found", "no instance " + std::string(id),
                 {{"field", "instance_id"}});
  }
  auto state = InstanceState::from_json(nlohmann::json::parse((*row)->text(0)));
  if (!state.ok()) return state.take_error();
  return view_of(*state);
}

Result<std::vector<StepView>> Engine::history(std::string_view instance_id) const {
  return database_.read_value<std::vector<StepView>>([&](store::Session& session) -> Result<std::vector<StepView>> {
    auto rows = session.query(
        "SELECT sequence, at, actor, action, trace, log_index FROM workflow_step WHERE instance_id = $1 ORDER BY sequence",
        {std::string(instance_id)});
    if (!rows.ok()) return rows.take_error();
    std::vector<StepView> steps;
    for (const auto& row : *rows) {
      steps.push_back({row.integer(0), row.text(1), row.text(2), row.text(3),
                       nlohmann::json::parse(row.text(4)).get<std::vector<std::string>>(), row.integer(5)});
    }
    return steps;
  });
}

Status Engine::deadlines(const std::function<Status(const Deadline&)>& each) const {
  return database_.read([&](store::Session& session) -> Status {
    Status failed;
    auto stop_on = [&](Status status) {
      if (status.ok()) return true;
      failed = std::move(status);
      return false;
    };
    ONEWINDOW_TRY(session.query_each(
        "SELECT id, business_key, process_id, started_at, due_at, working_days FROM workflow_instance "
        "WHERE status = 'running' AND due_at IS NOT NULL",
        {}, [&](const store::Row& row) {
          Deadline deadline;
          deadline.kind = "instance";
          deadline.id = row.text(0);
          deadline.instance_id = deadline.id;
          deadline.business_key = optional_text(row, 1);
          deadline.process_id = row.text(2);
          deadline.started_at = row.text(3);
          deadline.due_at = row.text(4);
          deadline.working_days = static_cast<int>(row.integer(5));
          return stop_on(each(deadline));
        }));
    ONEWINDOW_TRY(failed);
    ONEWINDOW_TRY(session.query_each(
        "SELECT t.id, t.instance_id, i.business_key, i.process_id, t.node_id, t.candidate_department, t.assignee, "
        "t.created_at, t.due_at, t.working_days FROM workflow_task t JOIN workflow_instance i ON i.id = t.instance_id "
        "WHERE t.status IN ('open', 'waiting') AND t.due_at IS NOT NULL AND i.status = 'running'",
        {}, [&](const store::Row& row) {
          Deadline deadline;
          deadline.kind = "task";
          deadline.id = row.text(0);
          deadline.instance_id = row.text(1);
          deadline.business_key = optional_text(row, 2);
          deadline.process_id = row.text(3);
          deadline.node_id = row.text(4);
          deadline.department = row.text(5);
          deadline.assignee = row.text(6);
          deadline.started_at = row.text(7);
          deadline.due_at = row.text(8);
          deadline.working_days = static_cast<int>(row.integer(9));
          return stop_on(each(deadline));
        }));
    return failed;
  });
}

Result<TaskView> Engine::task(std::string_view id) const {
  return database_.read_value<TaskView>([&](store::Session& session) { return task(session, id); });
}

Result<TaskView> Engine::task(store::Session& session, std::string_view id) const {
  auto row = session.query_one(std::string(task_columns) + " WHERE id = $1", {std::string(id)});
  if (!row.ok()) return row.take_error();
  if (!*row) return Error(ErrorKind::not_found, "workflow.task_not_found", "no task " + std::string(id), {{"field", "task_id"}});
  return task_from(**row);
}

Result<std::vector<TaskView>> Engine::tasks(const TaskQuery& query) const {
  std::string sql = std::string(task_columns) + " WHERE 1 = 1";
  store::Parameters parameters;
  auto add = [&](const char* column, const std::string& value) {
    parameters.push_back(value);
    sql += std::string(" AND ") + column + " = $" + std::to_string(parameters.size());
  };
  if (!query.instance_id.empty()) add("instance_id", query.instance_id);
  if (!query.candidate_department.empty()) add("candidate_department", query.candidate_department);
  if (!query.assignee.empty()) {
    add("assignee", query.assignee);
    sql += " AND assignee <> ''";  // so that the partial index on assignees serves
  }
  if (query.open_only) sql += " AND status IN ('open', 'waiting')";
  sql += " ORDER BY created_at, id LIMIT 1000";
  return database_.read_value<std::vector<TaskView>>([&](store::Session& session) -> Result<std::vector<TaskView>> {
    auto rows = session.query(sql, parameters);
    if (!rows.ok()) return rows.take_error();
    std::vector<TaskView> found;
    for (const auto& row : *rows) found.push_back(task_from(row));
    return found;
  });
}

Result<std::vector<TaskView>> Engine::inbox(const Actor& actor, std::string_view instance_id) const {
  std::vector<TaskView> found;
  std::set<std::string> seen;
  std::vector<TaskQuery> queries = {{std::string(instance_id), "", actor.account_id, true}};
  if (!actor.department_key.empty()) queries.push_back({std::string(instance_id), actor.department_key, "", true});
  for (const TaskQuery& query : queries) {
    auto tasks = this->tasks(query);
    if (!tasks.ok()) return tasks.take_error();
    for (auto& task : *tasks) {
      if (seen.insert(task.id).second) found.push_back(std::move(task));
    }
  }
  auto owned = database_.read_value<std::vector<store::Row>>([&](store::Session& session) {
    return session.query(std::string(task_columns) + " WHERE owner = $1 AND owner <> '' AND status IN ('open', 'waiting')", {actor.account_id});
  });
  if (!owned.ok()) return owned.take_error();
  for (const auto& row : *owned) {
    TaskView task = task_from(row);
    if ((instance_id.empty() || task.instance_id == instance_id) && seen.insert(task.id).second) found.push_back(std::move(task));
  }
  std::sort(found.begin(), found.end(),
            [](const TaskView& a, const TaskView& b) { return std::tie(a.created_at, a.id) < std::tie(b.created_at, b.id); });
  return found;
}

Result<TaskView> Engine::task(std::string_view id, const Actor& viewer) const {
  auto found = task(id);
  if (!found.ok()) return found.take_error();
  bool mine = viewer.account_id == found->assignee || viewer.account_id == found->owner ||
              viewer.account_id == found->ended_by;
  bool department = !viewer.department_key.empty() && viewer.department_key == found->candidate_department;
  if (!mine && !department) {
    return Error(ErrorKind::not_found, "workflow.task_not_found", "no task " + std::string(id), {{"field", "task_id"}});
  }
  return found;
}

// ---- Actions ------------------------------------------------------------------------------------

#define ONEWINDOW_TASK_ACTION(call)                                                      \
  [&](Step& step) -> Status {                                                            \
    auto held = step.interpreter.open_task(task_id);                                     \
    if (!held.ok()) return held.take_error();                                            \
    TaskState& task = **held;                                                            \
    return step.interpreter.call;                                                        \
  }

Result<TaskView> Engine::claim(std::string_view task_id, const Actor& actor) {
  return task_step(task_id, actor, "claim", {}, ONEWINDOW_TASK_ACTION(claim(task)));
}

Result<TaskView> Engine::unclaim(std::string_view task_id, const Actor& actor) {
  return task_step(task_id, actor, "unclaim", {}, ONEWINDOW_TASK_ACTION(unclaim(task)));
}

Result<TaskView> Engine::complete(std::string_view task_id, const Completion& completion, const Actor& actor) {
  return task_step(task_id, actor, "complete", {{"outcome", completion.outcome}},
                   moving_the_case(ONEWINDOW_TASK_ACTION(complete(task, completion))));
}

Result<TaskView> Engine::complete(store::Session& session, std::string_view task_id, const Completion& completion,
                                 const Actor& actor) {
  auto found = task(session, task_id);
  if (!found.ok()) return found.take_error();
  ONEWINDOW_TRY(step_in(session, found->instance_id, actor, "complete",
                        {{"outcome", completion.outcome}, {"task", found->id}, {"node", found->node_id}},
                        ONEWINDOW_TASK_ACTION(complete(task, completion))));
  return task(session, task_id);
}

Result<TaskView> Engine::transfer(std::string_view task_id, const Actor& to, std::string_view comment, const Actor& actor) {
  return task_step(task_id, actor, "transfer", {{"to", to.account_id}}, ONEWINDOW_TASK_ACTION(transfer(task, to, comment)));
}

Result<TaskView> Engine::delegate(std::string_view task_id, const Actor& to, const Actor& actor) {
  return task_step(task_id, actor, "delegate", {{"to", to.account_id}}, ONEWINDOW_TASK_ACTION(delegate(task, to)));
}

Result<TaskView> Engine::take_back(std::string_view task_id, const Actor& actor) {
  return task_step(task_id, actor, "take_back", {}, ONEWINDOW_TASK_ACTION(take_back(task)));
}

Result<TaskView> Engine::return_to(std::string_view task_id, std::string_view node_id, std::string_view comment,
                                   const Actor& actor) {
  return task_step(task_id, actor, "return", {{"to_node", std::string(node_id)}},
                   moving_the_case(ONEWINDOW_TASK_ACTION(return_to(task, node_id, comment))));
}

Result<TaskView> Engine::add_signer(std::string_view task_id, const Actor& signer, bool before, const Actor& actor) {
  return task_step(task_id, actor, before ? "add_signer_before" : "add_signer_after", {{"signer", signer.account_id}},
                   ONEWINDOW_TASK_ACTION(add_signer(task, signer, before)));
}

#undef ONEWINDOW_TASK_ACTION

Result<InstanceView> Engine::suspend(std::string_view instance_id, std::string_view reason, const Actor& actor) {
  return instance_step(instance_id, actor, "suspend", {{"reason", std::string(reason)}},
                       moving_the_case([&](Step& step) { return step.interpreter.suspend(reason); }));
}

Result<InstanceView> Engine::resume(std::string_view instance_id, const Actor& actor) {
  return instance_step(instance_id, actor, "resume", {},
                       moving_the_case([&](Step& step) { return step.interpreter.resume(); }));
}

Result<InstanceView> Engine::suspend(store::Session& session, std::string_view instance_id, std::string_view reason,
                                    const Actor& actor) {
  ONEWINDOW_TRY(step_in(session, instance_id, actor, "suspend", {{"reason", std::string(reason)}},
                        [&](Step& step) { return step.interpreter.suspend(reason); }));
  return instance(session, instance_id);
}

Result<InstanceView> Engine::resume(store::Session& session, std::string_view instance_id, const Actor& actor) {
  ONEWINDOW_TRY(step_in(session, instance_id, actor, "resume", {}, [&](Step& step) { return step.interpreter.resume(); }));
  return instance(session, instance_id);
}

Result<InstanceView> Engine::withdraw(std::string_view instance_id, std::string_view reason, const Actor& actor) {
  return instance_step(instance_id, actor, "withdraw", {{"reason", std::string(reason)}},
                       moving_the_case([&](Step& step) { return step.interpreter.withdraw(reason); }));
}

// ---- Timers -------------------------------------------------------------------------------------

Result<int> Engine::fire_due_timers() {
  const Actor system{"system", "", {}};
  int fired = 0;
  for (;;) {
    std::string now = format_timestamp(clock_.now());
    auto due = database_.read_value<std::vector<store::Row>>([&](store::Session& session) {
      return session.query(
          "SELECT id, instance_id, node_id FROM workflow_timer WHERE state = 'pending' AND due_at <= $1 "
          "ORDER BY due_at, id LIMIT 100",
          {now});
    });
    if (!due.ok()) return due.take_error();
    int fired_now = 0;
    for (const auto& row : *due) {
      std::string timer_id = row.text(0);
      auto done = run_step(row.text(1), system, "timer", {{"timer", timer_id}, {"node", row.text(2)}},
                           [&](Step& step) { return step.interpreter.fire(timer_id); });
      if (done.ok()) {
        ++fired;
        ++fired_now;
      } else if (done.error().code != "workflow.timer_not_pending") {
        return done.take_error();
      }
    }
    if (due->size() < 100 || fired_now == 0) return fired;
  }
}

void Engine::start_timers(std::chrono::milliseconds interval) {
  std::lock_guard lock(timer_mutex_);
  if (timer_thread_.joinable()) return;
  timers_stopping_ = false;
  timer_thread_ = std::thread([this, interval] { timer_loop(interval); });
}

void Engine::stop_timers() {
  {
    std::lock_guard lock(timer_mutex_);
    timers_stopping_ = true;
  }
  timer_wake_.notify_all();
  if (timer_thread_.joinable()) timer_thread_.join();
}

void Engine::timer_loop(std::chrono::milliseconds interval) {
  std::unique_lock lock(timer_mutex_);
  while (!timers_stopping_) {
    lock.unlock();
    auto fired = fire_due_timers();
    if (!fired.ok()) log::warn("workflow: firing due timers failed: " + fired.error().message);
    lock.lock();
    timer_wake_.wait_for(lock, interval, [this] { return timers_stopping_; });
  }
}

}  // namespace onewindow::workflow
