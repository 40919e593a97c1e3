// The interpreter inside workflow's Engine: an instance's state as plain data, and the rules that
// move it from one wait to the next. Nothing here touches the database; engine.cpp loads the
// state, lets the Interpreter act on it, and stores what changed, all in one transaction.
// Internal to src/workflow.
#pragma once

#include "workflow/workflow.h"

#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace onewindow::workflow::detail {

using TimePoint = std::chrono::system_clock::time_point;

// A signer added after the holder of a task (加签).
struct Signer {
  std::string account;
  std::string department;
};

struct TokenState {
  std::int64_t id = 0;
  std::int64_t scope = 0;
  std::string node;
  // What it waits for at its node: "" (moving), "task", "timer", "scope" (its subprocess or
  // called process), "instances" (the instances of its multi-instance activity).
  std::string wait;
  std::int64_t host = 0;  // one instance of a multi-instance activity: the host token
  int loop_index = -1;
  std::vector<Signer> signers_after;
};

struct ScopeState {
  std::int64_t id = 0;
  // "process" (the instance's own, or a called one), "sub_process", "loop" (the instances of a
  // multi-instance activity: their counts) and "loop_instance" (one instance: its item).
  std::string kind;
  std::int64_t parent_scope = 0;  // for variables; 0 for the root
  std::int64_t parent_token = 0;  // the token waiting for this scope; 0 for the root
  std::int64_t deployment = 0;
  std::string path;  // the process: its id, then "/<subprocess id>" for each level down
  nlohmann::json variables = nlohmann::json::object();  // the scope's own
  // Parallel and inclusive joins: arrivals by gateway, then by incoming flow id.
  std::map<std::string, std::map<std::string, int>> arrivals;
  std::set<std::string> completed;  // user tasks completed in the scope, for returns
  nlohmann::json items = nlohmann::json::array();  // "loop": what the instances are over
  int next_index = 0;                               // "loop", sequential: the next instance
};

struct TaskState {
  std::string id;
  std::int64_t token = 0;
  std::string node;
  std::string name;
  std::string department;
  std::string role;
  std::string assignee;
  std::string owner;
  std::string delegation;
  std::string status = "open";
  int loop_index = -1;
  TimePoint created_at{};
  std::optional<TimePoint> due_at;
  int working_days = 0;  // the limit due_at was set from, before any suspension moved it; 0: none
  std::optional<TimePoint> claimed_at;
  std::string reopens;  // a signer's task added before: the task that opens again after it
  bool fixed_assignee = false;  // only the assignee may act (onewindow:assignee, a signer)
  // Filled when the task closes.
  std::optional<TimePoint> ended_at;
  std::string ended_by;
  std::string outcome;
  std::string comment;
};

struct TimerState {
  std::string id;
  std::int64_t token = 0;  // the token waiting at a catch event, or the activity's token
  std::string node;        // the timer event
  TimePoint due_at{};
  bool working_days = false;  // counted in working days (moves by working days on resume)
};

struct InstanceState {
  std::string id;
  std::int64_t deployment = 0;
  std::string process;
  std::string business_key;
  std::string module;  // the module whose records move with the instance (StartRequest::module); "" for none
  std::string status = "running";
  std::string started_by;
  TimePoint started_at{};
  std::optional<TimePoint> ended_at;
  std::optional<TimePoint> due_at;
  int working_days = 0;  // the limit due_at was set from, before any suspension moved it; 0: none
  std::optional<TimePoint> suspended_at;
  bool acted = false;  // an official acted: the starter can no longer withdraw
  nlohmann::json variables = nlohmann::json::object();
  std::int64_t next_number = 1;
  std::map<std::int64_t, TokenState> tokens;
  std::map<std::int64_t, ScopeState> scopes;
  std::map<std::string, TaskState> tasks;    // open and waiting
  std::map<std::string, TimerState> timers;  // pending

  nlohmann::json to_json() const;
  static Result<InstanceState> from_json(const nlohmann::json& json);
  std::vector<std::string> active_nodes() const;
};

// What the interpreter needs from outside: models, hooks, ids and the calendar.
struct Environment {
  const WorkingDayCalendar& calendar;
  std::function<Result<std::shared_ptr<const Model>>(std::int64_t deployment)> model;
  std::function<Result<std::int64_t>(std::string_view process_id)> newest_deployment;
  std::function<Result<nlohmann::json>(const std::string& hook, const std::string& node, const nlohmann::json& variables)> hook;
};

// Acts on one instance's state for one step. Not thread-safe; one per step.
class Interpreter {
 public:
  Interpreter(InstanceState& state, const Environment& environment, TimePoint now, const Actor& actor);

  Status start();
  Status claim(TaskState& task);
  Status unclaim(TaskState& task);
  Status complete(TaskState& task, const Completion& completion);
  Status transfer(TaskState& task, const Actor& to, std::string_view comment);
  Status delegate(TaskState& task, const Actor& to);
  Status take_back(TaskState& task);
  Status return_to(TaskState& task, std::string_view node_id, std::string_view comment);
  Status add_signer(TaskState& task, const Actor& signer, bool before);
  Status suspend(std::string_view reason);
  Status resume();
  Status withdraw(std::string_view reason);
  Status fire(const std::string& timer_id);

  // The task of the instance, for the actions above: workflow.task_not_open when it is not
  // open (closed tasks are not in the state).
  Result<TaskState*> open_task(std::string_view task_id);

  const std::vector<std::string>& trace() const { return trace_; }
  const std::vector<TaskState>& closed_tasks() const { return closed_tasks_; }
  const std::vector<std::string>& ended_timers() const { return ended_timers_; }

 private:
  struct Move {
    std::int64_t token = 0;
    std::optional<std::size_t> via;  // the flow it came by
  };

  Result<const Model*> model_of(std::int64_t deployment);
  Result<const Process*> process_of(const ScopeState& scope);
  Result<const Node*> node_of(const TokenState& token);
  nlohmann::json variables_for(std::int64_t scope_id) const;
  std::int64_t new_token(std::int64_t scope, const std::string& node);
  std::int64_t new_scope(ScopeState scope);

  Status run();  // moves every token queued until each waits or ends
  Status arrive(std::int64_t token_id, std::optional<std::size_t> via);
  Status leave(std::int64_t token_id, const Process& process, const Node& node);
  Status take_flows(std::int64_t token_id, const Process& process, const Node& node, bool exclusive);
  Status enter_activity(std::int64_t token_id, const Process& process, const Node& node);
  Status run_body(std::int64_t token_id, const Process& process, const Node& node);
  Status start_instance_of_loop(std::int64_t host_id, const Node& node, int index);
  Status activity_done(std::int64_t token_id);
  Status loop_instance_done(std::int64_t host_id, std::int64_t token_id);
  Status consume(std::int64_t token_id);
  Status scope_done(std::int64_t scope_id);
  Status start_scope(std::int64_t scope_id, const Process& process);
  Status open_task_for(std::int64_t token_id, const Node& node, const std::string& assignee, const std::string& department,
                       bool fixed);
  Status set_timer(std::int64_t token_id, const Node& timer_node);
  void cancel_token(std::int64_t token_id, const std::string& status);
  void cancel_timers_of(std::int64_t token_id);
  void close_task(const std::string& task_id, const std::string& status, const std::string& outcome,
                  const std::string& comment);
  bool can_reach(const Process& process, std::size_t from, std::size_t to) const;
  Status check_may_hold(const TaskState& task, const Actor& actor) const;
  Status check_holder(const TaskState& task) const;
  Result<TimePoint> due(const TimerDuration& duration) const;
  std::string new_id(std::string_view prefix) const;

  InstanceState& state_;
  const Environment& environment_;
  TimePoint now_;
  const Actor& actor_;
  std::map<std::int64_t, std::shared_ptr<const Model>> models_;  // the models this step uses
  std::deque<Move> moves_;
  int moves_done_ = 0;
  std::vector<std::string> trace_;
  std::vector<TaskState> closed_tasks_;
  std::vector<std::string> ended_timers_;
};

// When a deadline falls after a suspension of the instance from `suspended` to `resumed`: a
// working-day deadline (at the end of a working day) later by the working days after the day of
// suspending up to and including the day of resuming; any other by the time suspended.
Result<TimePoint> shift_by_suspension(TimePoint due, TimePoint suspended, TimePoint resumed,
                                      const WorkingDayCalendar& calendar, bool working_days);

}  // namespace onewindow::workflow::detail
