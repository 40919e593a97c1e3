// The rules that move an instance from one wait to the next; see interpreter.h.
#include "workflow/interpreter.h"

#include "base/identifiers.h"

#include <algorithm>

namespace onewindow::workflow::detail {

namespace {

// A step that moves tokens this often without waiting is a model looping on itself.
constexpr int most_moves_per_step = 10'000;
constexpr int most_loop_instances = 1'000;

Error conflict(const char* code, std::string message) {
  return Error(ErrorKind::conflict, code, std::move(message));
}
Error denied(const char* code, std::string message) {
  return Error(ErrorKind::permission_denied, code, std::move(message));
}

nlohmann::json time_json(const std::optional<TimePoint>& time) {
  return time ? nlohmann::json(format_timestamp(*time)) : nlohmann::json(nullptr);
}

Result<std::optional<TimePoint>> optional_time(const nlohmann::json& json, const char* key) {
  auto found = json.find(key);
  if (found == json.end() || found->is_null()) return std::optional<TimePoint>();
  auto parsed = parse_timestamp(found->get<std::string>(), key);
  if (!parsed.ok()) return parsed.take_error();
  return std::optional<TimePoint>(*parsed);
}

Result<TimePoint> required_time(const nlohmann::json& json, const char* key) {
  auto parsed = optional_time(json, key);
  if (!parsed.ok()) return parsed.take_error();
  if (!*parsed) return Error(ErrorKind::internal, "workflow.corrupt_state", std::string("no ") + key + " in a stored state");
  return **parsed;
}


}  // namespace

// ---- State as JSON ------------------------------------------------------------------------------

nlohmann::json InstanceState::to_json() const {
  nlohmann::json json = {{"id", id},
                         {"deployment", deployment},
                         {"process", process},
                         {"business_key", business_key},
                         {"module", module},
                         {"status", status},
                         {"started_by", started_by},
                         {"started_at", format_timestamp(started_at)},
                         {"ended_at", time_json(ended_at)},
                         {"due_at", time_json(due_at)},
                         {"working_days", working_days},
                         {"suspended_at", time_json(suspended_at)},
                         {"acted", acted},
                         {"variables", variables},
                         {"next_number", next_number}};
  nlohmann::json& token_list = json["tokens"] = nlohmann::json::array();
  for (const auto& [number, token] : tokens) {
    nlohmann::json item = {{"id", token.id}, {"scope", token.scope}, {"node", token.node}, {"wait", token.wait}};
    if (token.host) item["host"] = token.host;
    if (token.loop_index >= 0) item["loop_index"] = token.loop_index;
    if (!token.signers_after.empty()) {
      nlohmann::json& signers = item["signers_after"] = nlohmann::json::array();
      for (const Signer& signer : token.signers_after) signers.push_back({signer.account, signer.department});
    }
    token_list.push_back(std::move(item));
  }
  nlohmann::json& scope_list = json["scopes"] = nlohmann::json::array();
  for (const auto& [number, scope] : scopes) {
    nlohmann::json item = {{"id", scope.id},
                           {"kind", scope.kind},
                           {"parent_scope", scope.parent_scope},
                           {"parent_token", scope.parent_token},
                           {"deployment", scope.deployment},
                           {"path", scope.path},
                           {"variables", scope.variables}};
    if (!scope.arrivals.empty()) item["arrivals"] = scope.arrivals;
    if (!scope.completed.empty()) item["completed"] = scope.completed;
    if (scope.kind == "loop") {
      item["items"] = scope.items;
      item["next_index"] = scope.next_index;
    }
    scope_list.push_back(std::move(item));
  }
  nlohmann::json& task_list = json["tasks"] = nlohmann::json::array();
  for (const auto& [task_id, task] : tasks) {
    task_list.push_back({{"id", task.id},
                         {"token", task.token},
                         {"node", task.node},
                         {"name", task.name},
                         {"department", task.department},
                         {"role", task.role},
                         {"assignee", task.assignee},
                         {"owner", task.owner},
                         {"delegation", task.delegation},
                         {"status", task.status},
                         {"loop_index", task.loop_index},
                         {"created_at", format_timestamp(task.created_at)},
                         {"due_at", time_json(task.due_at)},
                         {"working_days", task.working_days},
                         {"claimed_at", time_json(task.claimed_at)},
                         {"reopens", task.reopens},
                         {"fixed_assignee", task.fixed_assignee},
                         {"outcome", task.outcome},
                         {"comment", task.comment}});
  }
  nlohmann::json& timer_list = json["timers"] = nlohmann::json::array();
  for (const auto& [timer_id, timer] : timers) {
    timer_list.push_back({{"id", timer.id},
                          {"token", timer.token},
                          {"node", timer.node},
                          {"due_at", format_timestamp(timer.due_at)},
                          {"working_days", timer.working_days}});
  }
  return json;
}

Result<InstanceState> InstanceState::from_json(const nlohmann::json& json) {
  try {
    InstanceState state;
    state.id = json.at("id").get<std::string>();
    state.deployment = json.at("deployment").get<std::int64_t>();
    state.process = json.at("process").get<std::string>();
    state.business_key = json.at("business_key").get<std::string>();
    state.module = json.value("module", "");  // instances started before modules were kept have none
    state.status = json.at("status").get<std::string>();
    state.started_by = json.at("started_by").get<std::string>();
    auto started = required_time(json, "started_at");
    if (!started.ok()) return started.take_error();
    state.started_at = *started;
    for (auto [field, key] : {std::pair{&state.ended_at, "ended_at"}, std::pair{&state.due_at, "due_at"},
                              std::pair{&state.suspended_at, "suspended_at"}}) {
      auto time = optional_time(json, key);
      if (!time.ok()) return time.take_error();
      *field = *time;
    }
    // States written before limits were kept have none.
    state.working_days = json.value("working_days", 0);
    state.acted = json.at("acted").get<bool>();
    state.variables = json.at("variables");
    state.next_number = json.at("next_number").get<std::int64_t>();
    for (const auto& item : json.at("tokens")) {
      TokenState token;
      token.id = item.at("id").get<std::int64_t>();
      token.scope = item.at("scope").get<std::int64_t>();
      token.node = item.at("node").get<std::string>();
      token.wait = item.at("wait").get<std::string>();
      token.host = item.value("host", std::int64_t{0});
      token.loop_index = item.value("loop_index", -1);
      if (item.contains("signers_after")) {
        for (const auto& signer : item.at("signers_after")) {
          token.signers_after.push_back({signer.at(0).get<std::string>(), signer.at(1).get<std::string>()});
        }
      }
      state.tokens.emplace(token.id, std::move(token));
    }
    for (const auto& item : json.at("scopes")) {
      ScopeState scope;
      scope.id = item.at("id").get<std::int64_t>();
      scope.kind = item.at("kind").get<std::string>();
      scope.parent_scope = item.at("parent_scope").get<std::int64_t>();
      scope.parent_token = item.at("parent_token").get<std::int64_t>();
      scope.deployment = item.at("deployment").get<std::int64_t>();
      scope.path = item.at("path").get<std::string>();
      scope.variables = item.at("variables");
      if (item.contains("arrivals")) scope.arrivals = item.at("arrivals").get<std::map<std::string, std::map<std::string, int>>>();
      if (item.contains("completed")) scope.completed = item.at("completed").get<std::set<std::string>>();
      if (item.contains("items")) scope.items = item.at("items");
      scope.next_index = item.value("next_index", 0);
      state.scopes.emplace(scope.id, std::move(scope));
    }
    for (const auto& item : json.at("tasks")) {
      TaskState task;
      task.id = item.at("id").get<std::string>();
      task.token = item.at("token").get<std::int64_t>();
      task.node = item.at("node").get<std::string>();
      task.name = item.at("name").get<std::string>();
      task.department = item.at("department").get<std::string>();
      task.role = item.at("role").get<std::string>();
      task.assignee = item.at("assignee").get<std::string>();
      task.owner = item.at("owner").get<std::string>();
      task.delegation = item.at("delegation").get<std::string>();
      task.status = item.at("status").get<std::string>();
      task.loop_index = item.at("loop_index").get<int>();
      auto created = required_time(item, "created_at");
      if (!created.ok()) return created.take_error();
      task.created_at = *created;
      auto due = optional_time(item, "due_at");
      if (!due.ok()) return due.take_error();
      task.due_at = *due;
      task.working_days = item.value("working_days", 0);
      auto claimed = optional_time(item, "claimed_at");
      if (!claimed.ok()) return claimed.take_error();
      task.claimed_at = *claimed;
      task.reopens = item.at("reopens").get<std::string>();
      task.fixed_assignee = item.at("fixed_assignee").get<bool>();
      task.outcome = item.at("outcome").get<std::string>();
      task.comment = item.at("comment").get<std::string>();
      state.tasks.emplace(task.id, std::move(task));
    }
    for (const auto& item : json.at("timers")) {
      TimerState timer;
      timer.id = item.at("id").get<std::string>();
      timer.token = item.at("token").get<std::int64_t>();
      timer.node = item.at("node").get<std::string>();
      auto due = required_time(item, "due_at");
      if (!due.ok()) return due.take_error();
      timer.due_at = *due;
      timer.working_days = item.at("working_days").get<bool>();
      state.timers.emplace(timer.id, std::move(timer));
    }
    return state;
  } catch (const nlohmann::json::exception& error) {
    return Error(ErrorKind::internal, "workflow.corrupt_state", std::string("a stored instance state is damaged: ") + error.what());
  }
}

std::vector<std::string> InstanceState::active_nodes() const {
  std::vector<std::string> nodes;
  for (const auto& [number, token] : tokens) nodes.push_back(token.node);
  std::sort(nodes.begin(), nodes.end());
  return nodes;
}

// ---- Suspension ---------------------------------------------------------------------------------

Result<TimePoint> shift_by_suspension(TimePoint due, TimePoint suspended, TimePoint resumed,
                                      const WorkingDayCalendar& calendar, bool working_days) {
  if (resumed <= suspended) return due;
  if (!working_days) return due + (resumed - suspended);
  // The day of suspending was used; the day of resuming is not counted, as the day a case is
  // received is not: the working days after the one up to and including the other.
  auto lost = calendar.working_days_between(local_date(suspended), local_date(resumed));
  if (!lost.ok()) return lost.take_error();
  if (*lost <= 0) return due;
  // A working-day deadline ends at 24:00 of its day: the day is the one just before the instant.
  Date day = local_date(due - std::chrono::milliseconds(1));
  auto moved = calendar.add_working_days(day, *lost);
  if (!moved.ok()) return moved.take_error();
  return local_day_start(moved->plus_days(1));
}

// ---- The interpreter ----------------------------------------------------------------------------

Interpreter::Interpreter(InstanceState& state, const Environment& environment, TimePoint now, const Actor& actor)
    : state_(state), environment_(environment), now_(now), actor_(actor) {}

std::string Interpreter::new_id(std::string_view prefix) const { return onewindow::new_id(prefix); }

Result<const Process*> Interpreter::process_of(const ScopeState& scope) {
  auto model = model_of(scope.deployment);
  if (!model.ok()) return model.take_error();
  std::string_view path = scope.path;
  auto slash = path.find('/');
  const Process* process = (*model)->process(path.substr(0, slash));
  while (process && slash != std::string_view::npos) {
    path = path.substr(slash + 1);
    slash = path.find('/');
    const Node* node = process->node(path.substr(0, slash));
    process = node && !node->sub_process.empty() ? &node->sub_process.front() : nullptr;
  }
  if (!process) {
    return Error(ErrorKind::internal, "workflow.corrupt_state",
                 "the process " + scope.path + " is not in deployment " + std::to_string(scope.deployment));
  }
  return process;
}

Result<const Node*> Interpreter::node_of(const TokenState& token) {
  auto process = process_of(state_.scopes.at(token.scope));
  if (!process.ok()) return process.take_error();
  const Node* node = (*process)->node(token.node);
  if (!node) return Error(ErrorKind::internal, "workflow.corrupt_state", "no node " + token.node + " in its process");
  return node;
}

nlohmann::json Interpreter::variables_for(std::int64_t scope_id) const {
  std::vector<const ScopeState*> chain;
  for (auto found = state_.scopes.find(scope_id); found != state_.scopes.end();
       found = state_.scopes.find(found->second.parent_scope)) {
    chain.push_back(&found->second);
    if (found->second.parent_scope == 0) break;
  }
  nlohmann::json variables = state_.variables;
  for (auto scope = chain.rbegin(); scope != chain.rend(); ++scope) {
    for (const auto& [name, value] : (*scope)->variables.items()) variables[name] = value;
  }
  return variables;
}

std::int64_t Interpreter::new_token(std::int64_t scope, const std::string& node) {
  TokenState token;
  token.id = state_.next_number++;
  token.scope = scope;
  token.node = node;
  state_.tokens.emplace(token.id, token);
  return token.id;
}

std::int64_t Interpreter::new_scope(ScopeState scope) {
  scope.id = state_.next_number++;
  std::int64_t id = scope.id;
  state_.scopes.emplace(id, std::move(scope));
  return id;
}

Result<TimePoint> Interpreter::due(const TimerDuration& duration) const {
  return due_at(duration, now_, environment_.calendar);
}

Result<const Model*> Interpreter::model_of(std::int64_t deployment) {
  auto held = models_.find(deployment);
  if (held != models_.end()) return held->second.get();
  auto model = environment_.model(deployment);
  if (!model.ok()) return model.take_error();
  // Held for the whole step: the processes and nodes it hands out point into it.
  return models_.emplace(deployment, std::move(model).value()).first->second.get();
}

Status Interpreter::start() {
  auto model = model_of(state_.deployment);
  if (!model.ok()) return model.take_error();
  const Process* process = (*model)->process(state_.process);
  if (!process) {
    return Error(ErrorKind::not_found, "workflow.unknown_process", "no process " + state_.process + " in the deployment");
  }
  ScopeState root;
  root.kind = "process";
  root.deployment = state_.deployment;
  root.path = state_.process;
  std::int64_t scope = new_scope(std::move(root));
  trace_.push_back("start " + state_.process);
  ONEWINDOW_TRY(start_scope(scope, *process));
  return run();
}

Status Interpreter::start_scope(std::int64_t scope_id, const Process& process) {
  bool started = false;
  for (const Node& node : process.nodes) {
    if (node.kind != NodeKind::start_event) continue;
    moves_.push_back({new_token(scope_id, node.id), std::nullopt});
    started = true;
  }
  if (!started) return Error(ErrorKind::internal, "workflow.no_start_event", "process " + process.id + " has no start event");
  return ok_status();
}

Status Interpreter::run() {
  for (;;) {
    while (!moves_.empty()) {
      Move move = moves_.front();
      moves_.pop_front();
      if (++moves_done_ > most_moves_per_step) {
        return Error(ErrorKind::invalid_argument, "workflow.endless_loop",
                     "the instance moved " + std::to_string(most_moves_per_step) +
                         " times in one step without waiting: the model loops on itself");
      }
      ONEWINDOW_TRY(arrive(move.token, move.via));
    }
    // An inclusive join waits only while a token of its scope can still reach it; a token that
    // ended elsewhere may have set it free.
    bool released = false;
    for (auto& [scope_id, scope] : state_.scopes) {
      if (scope.arrivals.empty()) continue;
      auto process = process_of(scope);
      if (!process.ok()) return process.take_error();
      for (auto arrival = scope.arrivals.begin(); arrival != scope.arrivals.end(); ++arrival) {
        const Node* gateway = (*process)->node(arrival->first);
        if (!gateway || gateway->kind != NodeKind::inclusive_gateway) continue;
        std::size_t target = static_cast<std::size_t>(gateway - (*process)->nodes.data());
        bool reachable = false;
        for (const auto& [number, token] : state_.tokens) {
          if (token.scope != scope_id) continue;
          const Node* at = (*process)->node(token.node);
          if (at && can_reach(**process, static_cast<std::size_t>(at - (*process)->nodes.data()), target)) reachable = true;
        }
        if (reachable) continue;
        scope.arrivals.erase(arrival);
        std::int64_t token = new_token(scope_id, gateway->id);
        trace_.push_back("join " + gateway->id);
        ONEWINDOW_TRY(take_flows(token, **process, *gateway, false));
        released = true;
        break;
      }
      if (released) break;
    }
    if (!released) return ok_status();
  }
}

Status Interpreter::arrive(std::int64_t token_id, std::optional<std::size_t> via) {
  auto found = state_.tokens.find(token_id);
  if (found == state_.tokens.end()) return ok_status();  // ended meanwhile (a terminate end event)
  TokenState& token = found->second;
  ScopeState& scope = state_.scopes.at(token.scope);
  auto process_result = process_of(scope);
  if (!process_result.ok()) return process_result.take_error();
  const Process& process = **process_result;
  const Node* node_pointer = process.node(token.node);
  if (!node_pointer) return Error(ErrorKind::internal, "workflow.corrupt_state", "no node " + token.node);
  const Node& node = *node_pointer;
  trace_.push_back("enter " + node.id);

  switch (node.kind) {
    case NodeKind::start_event:
    case NodeKind::timer_boundary_event:
      return leave(token_id, process, node);
    case NodeKind::end_event:
      return consume(token_id);
    case NodeKind::terminate_end_event: {
      std::int64_t scope_id = token.scope;
      std::vector<std::int64_t> others;
      for (const auto& [number, other] : state_.tokens) {
        if (other.scope == scope_id && number != token_id) others.push_back(number);
      }
      for (std::int64_t other : others) cancel_token(other, "cancelled");
      state_.scopes.at(scope_id).arrivals.clear();
      trace_.push_back("terminate " + state_.scopes.at(scope_id).path);
      state_.tokens.erase(token_id);
      if (state_.scopes.at(scope_id).parent_token == 0) state_.status = "terminated";
      return scope_done(scope_id);
    }
    case NodeKind::task:
    case NodeKind::user_task:
    case NodeKind::service_task:
    case NodeKind::sub_process:
    case NodeKind::call_activity:
      return enter_activity(token_id, process, node);
    case NodeKind::exclusive_gateway:
      return take_flows(token_id, process, node, true);
    case NodeKind::parallel_gateway:
    case NodeKind::inclusive_gateway: {
      if (node.incoming.size() > 1) {
        if (!via) return Error(ErrorKind::internal, "workflow.corrupt_state", "a token reached a join by no flow");
        auto& arrivals = scope.arrivals[node.id];
        ++arrivals[process.flows[*via].id];
        state_.tokens.erase(token_id);
        if (node.kind == NodeKind::inclusive_gateway) {
          trace_.push_back("wait " + node.id);
          return ok_status();  // run() releases it when nothing else can reach it
        }
        bool all = std::all_of(node.incoming.begin(), node.incoming.end(), [&](std::size_t flow) {
          auto count = arrivals.find(process.flows[flow].id);
          return count != arrivals.end() && count->second > 0;
        });
        if (!all) {
          trace_.push_back("wait " + node.id);
          return ok_status();
        }
        for (std::size_t flow : node.incoming) {
          if (--arrivals[process.flows[flow].id] == 0) arrivals.erase(process.flows[flow].id);
        }
        if (arrivals.empty()) scope.arrivals.erase(node.id);
        trace_.push_back("join " + node.id);
        token_id = new_token(scope.id, node.id);  // the arriving token is gone: its scope is this one
      }
      if (node.kind == NodeKind::parallel_gateway) {
        TokenState& moving = state_.tokens.at(token_id);
        bool first = true;
        for (std::size_t flow : node.outgoing) {
          std::int64_t next = first ? token_id : new_token(moving.scope, node.id);
          state_.tokens.at(next).node = process.nodes[process.flows[flow].target].id;
          moves_.push_back({next, flow});
          first = false;
        }
        if (node.outgoing.empty()) return consume(token_id);
        return ok_status();
      }
      return take_flows(token_id, process, node, false);
    }
    case NodeKind::timer_catch_event:
      token.wait = "timer";
      return set_timer(token_id, node);
  }
  return ok_status();
}

Status Interpreter::leave(std::int64_t token_id, const Process& process, const Node& node) {
  return take_flows(token_id, process, node, node.kind == NodeKind::exclusive_gateway);
}

Status Interpreter::take_flows(std::int64_t token_id, const Process& process, const Node& node, bool exclusive) {
  TokenState& token = state_.tokens.at(token_id);
  token.wait.clear();
  token.signers_after.clear();
  if (node.outgoing.empty()) return consume(token_id);
  nlohmann::json variables;
  bool have_variables = false;
  std::vector<std::size_t> taken;
  for (std::size_t flow : node.outgoing) {
    if (node.default_flow && *node.default_flow == flow) continue;
    const Flow& candidate = process.flows[flow];
    bool pass = true;
    if (candidate.guard) {
      if (!have_variables) {
        variables = variables_for(token.scope);
        have_variables = true;
      }
      auto tested = candidate.guard->test(variables);
      if (!tested.ok()) {
        Error error = tested.take_error();
        error.message = "flow " + candidate.id + ": " + error.message;
        error.details["flow"] = candidate.id;
        return error;
      }
      pass = *tested;
    }
    if (pass) {
      taken.push_back(flow);
      if (exclusive) break;
    }
  }
  if (taken.empty() && node.default_flow) taken.push_back(*node.default_flow);
  if (taken.empty()) {
    return Error(ErrorKind::invalid_argument, "workflow.no_flow_taken",
                 std::string(kind_name(node.kind)) + " " + node.id + ": no outgoing flow's condition holds and there is no default flow",
                 {{"node", node.id}});
  }
  std::int64_t scope = token.scope;
  for (std::size_t i = 0; i < taken.size(); ++i) {
    std::int64_t next = i == 0 ? token_id : new_token(scope, node.id);
    state_.tokens.at(next).node = process.nodes[process.flows[taken[i]].target].id;
    moves_.push_back({next, taken[i]});
  }
  return ok_status();
}

Status Interpreter::enter_activity(std::int64_t token_id, const Process& process, const Node& node) {
  for (const Node& boundary : process.nodes) {
    if (boundary.kind == NodeKind::timer_boundary_event && boundary.attached_to == node.id) {
      ONEWINDOW_TRY(set_timer(token_id, boundary));
    }
  }
  if (!node.multi_instance) return run_body(token_id, process, node);

  const MultiInstance& loop = *node.multi_instance;
  TokenState& token = state_.tokens.at(token_id);
  nlohmann::json variables = variables_for(token.scope);
  nlohmann::json items = nlohmann::json::array();
  if (!loop.collection.empty()) {
    auto found = variables.find(loop.collection);
    if (found == variables.end() || !found->is_array()) {
      return Error(ErrorKind::invalid_argument, "workflow.bad_collection",
                   std::string(kind_name(node.kind)) + " " + node.id + ": the variable " + loop.collection + " must be a list",
                   {{"node", node.id}, {"field", loop.collection}});
    }
    items = *found;
  } else {
    auto count = loop.count->evaluate(variables);
    if (!count.ok()) return count.take_error();
    if (!count->is_number_integer() || count->get<std::int64_t>() < 0) {
      return Error(ErrorKind::invalid_argument, "workflow.bad_collection",
                   std::string(kind_name(node.kind)) + " " + node.id + ": loopCardinality must give a whole number from 0",
                   {{"node", node.id}});
    }
    for (std::int64_t i = 0; i < count->get<std::int64_t>() && i <= most_loop_instances; ++i) items.push_back(i);
  }
  if (items.size() > static_cast<std::size_t>(most_loop_instances)) {
    return Error(ErrorKind::invalid_argument, "workflow.bad_collection",
                 std::string(kind_name(node.kind)) + " " + node.id + ": at most " +
                     std::to_string(most_loop_instances) + " instances",
                 {{"node", node.id}});
  }
  int count = static_cast<int>(items.size());
  trace_.push_back("instances " + node.id + " " + std::to_string(count));
  if (count == 0) return activity_done(token_id);
  ScopeState counts;
  counts.kind = "loop";
  counts.parent_scope = token.scope;
  counts.parent_token = token_id;
  counts.deployment = state_.scopes.at(token.scope).deployment;
  counts.path = state_.scopes.at(token.scope).path;
  counts.variables = {{"nrOfInstances", count}, {"nrOfCompletedInstances", 0}, {"nrOfActiveInstances", 0}};
  counts.items = std::move(items);
  new_scope(std::move(counts));
  state_.tokens.at(token_id).wait = "instances";
  if (loop.sequential) return start_instance_of_loop(token_id, node, 0);
  for (int i = 0; i < count; ++i) ONEWINDOW_TRY(start_instance_of_loop(token_id, node, i));
  return ok_status();
}

Status Interpreter::start_instance_of_loop(std::int64_t host_id, const Node& node, int index) {
  auto loop = std::find_if(state_.scopes.begin(), state_.scopes.end(), [&](const auto& entry) {
    return entry.second.kind == "loop" && entry.second.parent_token == host_id;
  });
  if (loop == state_.scopes.end()) return Error(ErrorKind::internal, "workflow.corrupt_state", "a loop without its counts");
  ScopeState& counts = loop->second;
  counts.next_index = index + 1;
  counts.variables["nrOfActiveInstances"] = counts.variables["nrOfActiveInstances"].get<int>() + 1;
  ScopeState instance;
  instance.kind = "loop_instance";
  instance.parent_scope = counts.id;
  instance.deployment = counts.deployment;
  instance.path = counts.path;
  instance.variables = {{node.multi_instance->element_variable, counts.items.at(static_cast<std::size_t>(index))},
                        {"loopCounter", index}};
  std::int64_t scope_id = new_scope(std::move(instance));
  std::int64_t token_id = new_token(scope_id, node.id);
  state_.scopes.at(scope_id).parent_token = token_id;
  TokenState& token = state_.tokens.at(token_id);
  token.host = host_id;
  token.loop_index = index;
  auto process = process_of(state_.scopes.at(scope_id));
  if (!process.ok()) return process.take_error();
  return run_body(token_id, **process, node);
}

Status Interpreter::run_body(std::int64_t token_id, const Process& process, const Node& node) {
  TokenState& token = state_.tokens.at(token_id);
  switch (node.kind) {
    case NodeKind::task:
      return activity_done(token_id);
    case NodeKind::service_task: {
      auto set = environment_.hook(node.hook, node.id, variables_for(token.scope));
      if (!set.ok()) return set.take_error();
      if (!set->is_object()) {
        return Error(ErrorKind::internal, "workflow.bad_hook_result", "hook " + node.hook + " must give a JSON object");
      }
      for (const auto& [name, value] : set->items()) state_.variables[name] = value;
      trace_.push_back("hook " + node.id + " " + node.hook);
      return activity_done(token_id);
    }
    case NodeKind::user_task: {
      nlohmann::json variables = variables_for(token.scope);
      auto department = node.candidate_department.value(variables);
      if (!department.ok()) return department.take_error();
      auto assignee = node.assignee.value(variables);
      if (!assignee.ok()) return assignee.take_error();
      token.wait = "task";
      return open_task_for(token_id, node, *assignee, *department, !assignee->empty());
    }
    case NodeKind::sub_process: {
      ScopeState inner;
      inner.kind = "sub_process";
      inner.parent_scope = token.scope;
      inner.parent_token = token_id;
      inner.deployment = state_.scopes.at(token.scope).deployment;
      inner.path = state_.scopes.at(token.scope).path + "/" + node.id;
      token.wait = "scope";
      std::int64_t scope_id = new_scope(std::move(inner));
      return start_scope(scope_id, node.sub_process.front());
    }
    case NodeKind::call_activity: {
      auto deployment = environment_.newest_deployment(node.called_element);
      if (!deployment.ok()) return deployment.take_error();
      ScopeState called;
      called.kind = "process";
      called.parent_scope = token.scope;
      called.parent_token = token_id;
      called.deployment = *deployment;
      called.path = node.called_element;
      token.wait = "scope";
      std::int64_t scope_id = new_scope(std::move(called));
      auto called_process = process_of(state_.scopes.at(scope_id));
      if (!called_process.ok()) return called_process.take_error();
      trace_.push_back("call " + node.id + " " + node.called_element);
      return start_scope(scope_id, **called_process);
    }
    default:
      break;
  }
  (void)process;
  return Error(ErrorKind::internal, "workflow.corrupt_state", "node " + node.id + " is not an activity");
}

Status Interpreter::open_task_for(std::int64_t token_id, const Node& node, const std::string& assignee,
                                  const std::string& department, bool fixed) {
  const TokenState& token = state_.tokens.at(token_id);
  TaskState task;
  task.id = new_id("wft");
  task.token = token_id;
  task.node = node.id;
  task.name = node.name;
  task.department = department;
  task.role = fixed ? "" : node.candidate_role;
  task.assignee = assignee;
  task.fixed_assignee = fixed;
  // The instance of the nearest multi-instance activity around the task, if any.
  task.loop_index = token.loop_index;
  for (auto scope = state_.scopes.find(token.scope); task.loop_index < 0 && scope != state_.scopes.end();
       scope = state_.scopes.find(scope->second.parent_scope)) {
    if (scope->second.kind == "loop_instance") task.loop_index = scope->second.variables.value("loopCounter", -1);
    if (scope->second.parent_scope == 0) break;
  }
  task.created_at = now_;
  if (node.working_days > 0) {
    auto due_at = due(TimerDuration{"", node.working_days});
    if (!due_at.ok()) return due_at.take_error();
    task.due_at = *due_at;
    task.working_days = node.working_days;
  }
  std::string line = "open " + node.id;
  if (task.loop_index >= 0) line += "[" + std::to_string(task.loop_index) + "]";
  line += " for " + (fixed ? assignee : department.empty() ? std::string("anyone") : department);
  if (!task.role.empty()) line += "/" + task.role;
  trace_.push_back(line);
  state_.tasks.emplace(task.id, std::move(task));
  return ok_status();
}

Status Interpreter::set_timer(std::int64_t token_id, const Node& timer_node) {
  auto due_at = due(*timer_node.timer);
  if (!due_at.ok()) return due_at.take_error();
  TimerState timer;
  timer.id = new_id("wtm");
  timer.token = token_id;
  timer.node = timer_node.id;
  timer.due_at = *due_at;
  timer.working_days = timer_node.timer->working_days > 0;
  trace_.push_back("timer " + timer_node.id + " due " + format_timestamp(timer.due_at));
  state_.timers.emplace(timer.id, std::move(timer));
  return ok_status();
}

Status Interpreter::activity_done(std::int64_t token_id) {
  cancel_timers_of(token_id);
  TokenState& token = state_.tokens.at(token_id);
  token.wait.clear();
  if (token.host) return loop_instance_done(token.host, token_id);
  auto process = process_of(state_.scopes.at(token.scope));
  if (!process.ok()) return process.take_error();
  const Node* node = (*process)->node(token.node);
  if (!node) return Error(ErrorKind::internal, "workflow.corrupt_state", "no node " + token.node);
  return leave(token_id, **process, *node);
}

Status Interpreter::loop_instance_done(std::int64_t host_id, std::int64_t token_id) {
  std::int64_t instance_scope = state_.tokens.at(token_id).scope;
  std::int64_t counts_id = state_.scopes.at(instance_scope).parent_scope;
  state_.scopes.erase(instance_scope);
  state_.tokens.erase(token_id);
  ScopeState& counts = state_.scopes.at(counts_id);
  int completed = counts.variables["nrOfCompletedInstances"].get<int>() + 1;
  counts.variables["nrOfCompletedInstances"] = completed;
  counts.variables["nrOfActiveInstances"] = counts.variables["nrOfActiveInstances"].get<int>() - 1;
  int total = counts.variables["nrOfInstances"].get<int>();

  TokenState& host = state_.tokens.at(host_id);
  auto node = node_of(host);
  if (!node.ok()) return node.take_error();
  const MultiInstance& loop = *(*node)->multi_instance;
  bool done = completed >= total;
  if (!done && loop.completion) {
    auto met = loop.completion->test(variables_for(counts_id));
    if (!met.ok()) return met.take_error();
    if (*met) {
      trace_.push_back("condition " + (*node)->id + " met");
      done = true;
    }
  }
  if (done) {
    std::vector<std::int64_t> remaining;
    for (const auto& [number, other] : state_.tokens) {
      if (other.host == host_id) remaining.push_back(number);
    }
    for (std::int64_t other : remaining) cancel_token(other, "cancelled");
    state_.scopes.erase(counts_id);
    return activity_done(host_id);
  }
  if (loop.sequential) return start_instance_of_loop(host_id, **node, counts.next_index);
  return ok_status();
}

Status Interpreter::consume(std::int64_t token_id) {
  std::int64_t scope_id = state_.tokens.at(token_id).scope;
  state_.tokens.erase(token_id);
  for (const auto& [number, token] : state_.tokens) {
    if (token.scope == scope_id) return ok_status();
  }
  // Tokens waiting at a join keep the scope open: an inclusive join goes on once nothing else can
  // reach it (run() sees to that); a parallel join that can never complete is the model's deadlock,
  // and the instance waits there rather than ending as if its work were done.
  if (!state_.scopes.at(scope_id).arrivals.empty()) return ok_status();
  return scope_done(scope_id);
}

Status Interpreter::scope_done(std::int64_t scope_id) {
  ScopeState& scope = state_.scopes.at(scope_id);
  if (scope.parent_token == 0) {
    if (state_.status != "terminated") state_.status = "completed";
    state_.ended_at = now_;
    std::vector<std::string> timers;
    for (const auto& [id, timer] : state_.timers) timers.push_back(id);
    for (const std::string& id : timers) {
      state_.timers.erase(id);
      ended_timers_.push_back(id);
    }
    state_.scopes.clear();
    trace_.push_back("instance " + state_.status);
    return ok_status();
  }
  std::int64_t parent = scope.parent_token;
  trace_.push_back("end " + scope.path);
  state_.scopes.erase(scope_id);
  return activity_done(parent);
}

void Interpreter::cancel_timers_of(std::int64_t token_id) {
  for (auto timer = state_.timers.begin(); timer != state_.timers.end();) {
    if (timer->second.token == token_id) {
      ended_timers_.push_back(timer->first);
      timer = state_.timers.erase(timer);
    } else {
      ++timer;
    }
  }
}

void Interpreter::cancel_token(std::int64_t token_id, const std::string& status) {
  if (!state_.tokens.contains(token_id)) return;
  std::vector<std::int64_t> inner;
  for (const auto& [number, token] : state_.tokens) {
    if (token.host == token_id) inner.push_back(number);
  }
  for (std::int64_t number : inner) cancel_token(number, status);
  std::vector<std::int64_t> children;
  for (const auto& [number, scope] : state_.scopes) {
    if (scope.parent_token == token_id) children.push_back(number);
  }
  for (std::int64_t child : children) {
    std::vector<std::int64_t> tokens;
    for (const auto& [number, token] : state_.tokens) {
      if (token.scope == child && number != token_id) tokens.push_back(number);
    }
    for (std::int64_t number : tokens) cancel_token(number, status);
    state_.scopes.erase(child);
  }
  std::vector<std::string> tasks;
  for (const auto& [id, task] : state_.tasks) {
    if (task.token == token_id) tasks.push_back(id);
  }
  for (const std::string& id : tasks) close_task(id, status, "", "");
  cancel_timers_of(token_id);
  state_.tokens.erase(token_id);
}

void Interpreter::close_task(const std::string& task_id, const std::string& status, const std::string& outcome,
                             const std::string& comment) {
  auto found = state_.tasks.find(task_id);
  if (found == state_.tasks.end()) return;
  TaskState task = std::move(found->second);
  state_.tasks.erase(found);
  task.status = status;
  task.ended_at = now_;
  task.ended_by = actor_.account_id;
  task.outcome = outcome;
  task.comment = comment;
  std::string line = "close " + task.node;
  if (task.loop_index >= 0) line += "[" + std::to_string(task.loop_index) + "]";
  line += " " + status;
  if (!outcome.empty()) line += " " + outcome;
  trace_.push_back(line);
  closed_tasks_.push_back(std::move(task));
}

bool Interpreter::can_reach(const Process& process, std::size_t from, std::size_t to) const {
  if (from == to) return true;
  std::vector<bool> seen(process.nodes.size(), false);
  std::vector<std::size_t> stack = {from};
  seen[from] = true;
  while (!stack.empty()) {
    std::size_t at = stack.back();
    stack.pop_back();
    std::vector<std::size_t> next;
    for (std::size_t flow : process.nodes[at].outgoing) next.push_back(process.flows[flow].target);
    for (std::size_t i = 0; i < process.nodes.size(); ++i) {
      // A token inside an activity can leave by its boundary events too.
      if (process.nodes[i].kind == NodeKind::timer_boundary_event && process.nodes[i].attached_to == process.nodes[at].id) {
        next.push_back(i);
      }
    }
    for (std::size_t node : next) {
      if (node == to) return true;
      if (!seen[node]) {
        seen[node] = true;
        stack.push_back(node);
      }
    }
  }
  return false;
}

// ---- Task actions -------------------------------------------------------------------------------

Result<TaskState*> Interpreter::open_task(std::string_view task_id) {
  if (state_.status == "suspended") {
    return conflict("workflow.instance_suspended", "the instance is suspended: its tasks wait until it resumes");
  }
  auto found = state_.tasks.find(std::string(task_id));
  if (found == state_.tasks.end()) return conflict("workflow.task_not_open", "the task is not open");
  return &found->second;
}

Status Interpreter::check_may_hold(const TaskState& task, const Actor& actor) const {
  if (!task.department.empty() && actor.department_key != task.department) {
    return denied("workflow.not_candidate", "the task is for an official of " + task.department);
  }
  if (!task.role.empty() && !actor.has_role(task.role)) {
    return denied("workflow.not_candidate", "the task is for an official with the role " + task.role);
  }
  return ok_status();
}

// The actor must hold the task; one who may hold an unheld task takes it.
Status Interpreter::check_holder(const TaskState& task) const {
  if (task.status != "open") return conflict("workflow.task_not_open", "the task waits for its signer to sign first");
  if (task.assignee == actor_.account_id) return ok_status();
  if (task.assignee.empty()) return check_may_hold(task, actor_);
  return denied("workflow.not_assignee", "the task is held by another official");
}

Status Interpreter::claim(TaskState& task) {
  if (task.assignee == actor_.account_id) return ok_status();
  if (!task.assignee.empty()) return conflict("workflow.task_claimed", "another official holds the task");
  ONEWINDOW_TRY(check_may_hold(task, actor_));
  task.assignee = actor_.account_id;
  task.claimed_at = now_;
  state_.acted = true;
  trace_.push_back("claim " + task.node + " by " + actor_.account_id);
  return ok_status();
}

Status Interpreter::unclaim(TaskState& task) {
  if (task.assignee != actor_.account_id) return denied("workflow.not_assignee", "only the holder gives a task back");
  if (task.fixed_assignee || !task.delegation.empty()) {
    return Error(ErrorKind::invalid_argument, "workflow.bad_action", "this task is assigned to its holder and cannot be given back");
  }
  task.assignee.clear();
  task.claimed_at.reset();
  trace_.push_back("unclaim " + task.node + " by " + actor_.account_id);
  return ok_status();
}

Status Interpreter::complete(TaskState& task, const Completion& completion) {
  ONEWINDOW_TRY(check_holder(task));
  if (!completion.variables.is_object()) {
    return Error::invalid("workflow.bad_variables", "variables", "variables must be a JSON object");
  }
  if (task.assignee.empty()) {
    task.assignee = actor_.account_id;
    task.claimed_at = now_;
  }
  state_.acted = true;
  if (task.delegation == "pending") {
    // The delegate's work goes back to the owner, who completes the task.
    trace_.push_back("resolve " + task.node + " by " + actor_.account_id);
    task.assignee = task.owner;
    task.owner.clear();
    task.delegation.clear();
    task.outcome = completion.outcome;
    task.comment = completion.comment;
    return ok_status();
  }
  for (const auto& [name, value] : completion.variables.items()) state_.variables[name] = value;
  if (!completion.outcome.empty()) {
    state_.variables["outcome"] = completion.outcome;
    nlohmann::json& outcomes = state_.variables["outcomes"];
    if (!outcomes.is_object()) outcomes = nlohmann::json::object();
    if (task.loop_index >= 0) {
      if (!outcomes[task.node].is_array()) outcomes[task.node] = nlohmann::json::array();
      outcomes[task.node].push_back(completion.outcome);
    } else {
      outcomes[task.node] = completion.outcome;
    }
  }
  std::string task_id = task.id;
  std::string reopens = task.reopens;
  std::int64_t token_id = task.token;
  std::string node_id = task.node;
  close_task(task_id, "completed", completion.outcome, completion.comment);
  TokenState& token = state_.tokens.at(token_id);
  state_.scopes.at(token.scope).completed.insert(node_id);
  if (!reopens.empty()) {
    auto held = state_.tasks.find(reopens);
    if (held != state_.tasks.end()) {
      held->second.status = "open";
      trace_.push_back("reopen " + held->second.node);
      return ok_status();
    }
  }
  if (!token.signers_after.empty()) {
    Signer signer = token.signers_after.front();
    token.signers_after.erase(token.signers_after.begin());
    auto node = node_of(token);
    if (!node.ok()) return node.take_error();
    return open_task_for(token_id, **node, signer.account, signer.department, true);
  }
  ONEWINDOW_TRY(activity_done(token_id));
  return run();
}

Status Interpreter::transfer(TaskState& task, const Actor& to, std::string_view comment) {
  ONEWINDOW_TRY(check_holder(task));
  if (!task.delegation.empty()) {
    return Error(ErrorKind::invalid_argument, "workflow.bad_action", "a delegated task is taken back before it is transferred");
  }
  ONEWINDOW_TRY(check_may_hold(task, to));
  task.assignee = to.account_id;
  task.claimed_at = now_;
  task.comment = std::string(comment);
  state_.acted = true;
  trace_.push_back("transfer " + task.node + " to " + to.account_id);
  return ok_status();
}

Status Interpreter::delegate(TaskState& task, const Actor& to) {
  ONEWINDOW_TRY(check_holder(task));
  if (!task.delegation.empty()) return Error(ErrorKind::invalid_argument, "workflow.bad_action", "the task is delegated already");
  ONEWINDOW_TRY(check_may_hold(task, to));
  task.owner = actor_.account_id;
  task.assignee = to.account_id;
  task.delegation = "pending";
  state_.acted = true;
  trace_.push_back("delegate " + task.node + " to " + to.account_id);
  return ok_status();
}

Status Interpreter::take_back(TaskState& task) {
  if (task.delegation != "pending" || task.owner != actor_.account_id) {
    return denied("workflow.not_assignee", "only the official who delegated a task takes it back");
  }
  task.assignee = task.owner;
  task.owner.clear();
  task.delegation.clear();
  trace_.push_back("take back " + task.node + " by " + actor_.account_id);
  return ok_status();
}

Status Interpreter::return_to(TaskState& task, std::string_view node_id, std::string_view comment) {
  ONEWINDOW_TRY(check_holder(task));
  TokenState& token = state_.tokens.at(task.token);
  if (token.host) {
    return Error(ErrorKind::invalid_argument, "workflow.bad_action",
                 "a task of a multi-instance activity is completed, not returned");
  }
  std::int64_t scope_id = token.scope;
  ScopeState& scope = state_.scopes.at(scope_id);
  auto process_result = process_of(scope);
  if (!process_result.ok()) return process_result.take_error();
  const Process& process = **process_result;
  const Node* target = process.node(node_id);
  const Node* here = process.node(task.node);
  auto index = [&](const Node* node) { return static_cast<std::size_t>(node - process.nodes.data()); };
  if (!target || target->kind != NodeKind::user_task || !scope.completed.contains(target->id) || target == here ||
      !can_reach(process, index(target), index(here))) {
    return Error(ErrorKind::invalid_argument, "workflow.not_an_earlier_task",
                 std::string(node_id) + " is not a user task completed earlier on the way to " + task.node,
                 {{"field", "node"}});
  }
  state_.acted = true;
  std::string from = task.node;
  close_task(task.id, "returned", "return", std::string(comment));
  // Every token between the target and here, in every branch that passed through the target.
  std::vector<std::int64_t> rewound;
  for (const auto& [number, other] : state_.tokens) {
    if (other.scope != scope_id) continue;
    const Node* at = process.node(other.node);
    if (at && can_reach(process, index(target), index(at))) rewound.push_back(number);
  }
  for (std::int64_t number : rewound) cancel_token(number, "cancelled");
  for (auto arrival = scope.arrivals.begin(); arrival != scope.arrivals.end();) {
    const Node* gateway = process.node(arrival->first);
    if (gateway && can_reach(process, index(target), index(gateway))) {
      arrival = scope.arrivals.erase(arrival);
    } else {
      ++arrival;
    }
  }
  trace_.push_back("return " + from + " to " + target->id);
  moves_.push_back({new_token(scope_id, target->id), std::nullopt});
  return run();
}

Status Interpreter::add_signer(TaskState& task, const Actor& signer, bool before) {
  ONEWINDOW_TRY(check_holder(task));
  ONEWINDOW_TRY(check_may_hold(task, signer));
  state_.acted = true;
  if (task.assignee.empty()) task.assignee = actor_.account_id;
  std::string department = signer.department_key;
  if (!before) {
    state_.tokens.at(task.token).signers_after.push_back({signer.account_id, department});
    trace_.push_back("add signer after " + task.node + " " + signer.account_id);
    return ok_status();
  }
  std::string held = task.id;
  task.status = "waiting";
  TokenState& token = state_.tokens.at(task.token);
  auto node = node_of(token);
  if (!node.ok()) return node.take_error();
  trace_.push_back("add signer before " + task.node + " " + signer.account_id);
  std::set<std::string> existing;
  for (const auto& [id, other] : state_.tasks) existing.insert(id);
  ONEWINDOW_TRY(open_task_for(token.id, **node, signer.account_id, department, true));
  for (auto& [id, other] : state_.tasks) {
    if (!existing.contains(id)) other.reopens = held;
  }
  return ok_status();
}

// ---- Instance actions ---------------------------------------------------------------------------

Status Interpreter::suspend(std::string_view reason) {
  if (state_.status != "running") return conflict("workflow.instance_not_running", "only a running instance is suspended");
  state_.status = "suspended";
  state_.suspended_at = now_;
  trace_.push_back("suspend" + (reason.empty() ? std::string() : " " + std::string(reason)));
  return ok_status();
}

Status Interpreter::resume() {
  if (state_.status != "suspended" || !state_.suspended_at) {
    return conflict("workflow.instance_not_running", "only a suspended instance is resumed");
  }
  TimePoint suspended = *state_.suspended_at;
  for (auto& [id, timer] : state_.timers) {
    auto moved = shift_by_suspension(timer.due_at, suspended, now_, environment_.calendar, timer.working_days);
    if (!moved.ok()) return moved.take_error();
    timer.due_at = *moved;
    trace_.push_back("timer " + timer.node + " due " + format_timestamp(timer.due_at));
  }
  for (auto& [id, task] : state_.tasks) {
    if (!task.due_at) continue;
    auto moved = shift_by_suspension(*task.due_at, suspended, now_, environment_.calendar, true);
    if (!moved.ok()) return moved.take_error();
    task.due_at = *moved;
  }
  if (state_.due_at) {
    auto moved = shift_by_suspension(*state_.due_at, suspended, now_, environment_.calendar, true);
    if (!moved.ok()) return moved.take_error();
    state_.due_at = *moved;
  }
  state_.status = "running";
  state_.suspended_at.reset();
  trace_.push_back("resume");
  return ok_status();
}

Status Interpreter::withdraw(std::string_view reason) {
  if (actor_.account_id != state_.started_by) {
    return denied("workflow.not_starter", "only the one who started the instance withdraws it");
  }
  if (state_.status != "running" && state_.status != "suspended") {
    return conflict("workflow.instance_not_running", "the instance has ended");
  }
  if (state_.acted) return conflict("workflow.already_acted", "an official has acted on the instance already");
  std::vector<std::int64_t> tokens;
  for (const auto& [number, token] : state_.tokens) tokens.push_back(number);
  for (std::int64_t number : tokens) cancel_token(number, "withdrawn");
  state_.scopes.clear();
  state_.status = "withdrawn";
  state_.ended_at = now_;
  trace_.push_back("withdraw" + (reason.empty() ? std::string() : " " + std::string(reason)));
  return ok_status();
}

Status Interpreter::fire(const std::string& timer_id) {
  auto found = state_.timers.find(timer_id);
  if (found == state_.timers.end()) return conflict("workflow.timer_not_pending", "the timer is not pending");
  TimerState timer = found->second;
  state_.timers.erase(found);
  ended_timers_.push_back(timer_id);
  trace_.push_back("fire " + timer.node);
  auto token_found = state_.tokens.find(timer.token);
  if (token_found == state_.tokens.end()) return ok_status();
  TokenState& token = token_found->second;
  auto process_result = process_of(state_.scopes.at(token.scope));
  if (!process_result.ok()) return process_result.take_error();
  const Process& process = **process_result;
  const Node* node = process.node(timer.node);
  if (!node) return Error(ErrorKind::internal, "workflow.corrupt_state", "no timer " + timer.node);
  if (node->kind == NodeKind::timer_catch_event) {
    ONEWINDOW_TRY(leave(token.id, process, *node));
    return run();
  }
  std::int64_t scope = token.scope;
  if (node->cancel_activity) cancel_token(token.id, "cancelled");
  moves_.push_back({new_token(scope, node->id), std::nullopt});
  return run();
}

}  // namespace onewindow::workflow::detail
