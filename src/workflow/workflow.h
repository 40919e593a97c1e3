// workflow: BPMN 2.0 process models for government approval (issue 6): reading and checking a
// model, the condition language, working-day timers, and the Engine that runs instances of the
// models with their tasks and timers in the database (the Engine's own contract is below).
//
// Contract of the model reader:
// - load_model() / parse_model() read BPMN 2.0 XML as modelling tools write it (bpmn-js, Camunda
//   Modeler, Signavio...): elements are found by namespace, whatever their prefix. The result is
//   every executable process of the file with its nodes and sequence flows; diagrams, lanes,
//   documentation, data objects and collaborations are read past, as they change nothing a
//   process does.
// - Supported (and only these): start events (none), end events (none, terminate), tasks
//   (abstract task as a step that completes at once, user task, service task), exclusive,
//   parallel and inclusive gateways, embedded subprocesses, call activities, multi-instance
//   loops on activities (parallel or sequential, with a completion condition), timer boundary
//   events (interrupting or not) and intermediate timer catch events, sequence flows with
//   conditions and default flows.
// - onewindow's extension attributes, in namespace https://onewindow.invalid/bpmn (prefix
//   `onewindow:` by convention): candidateDepartment and candidateRole on user tasks, hook on
//   service tasks, workingDays on timer event definitions (instead of an ISO 8601 duration),
//   collection and elementVariable on multi-instance loops, workingDays on user tasks (the
//   task's deadline) and on processes (the instance's), assignee on user tasks.
//   candidateDepartment and assignee may be an expression in ${...} over the variables (the
//   instance's item of a multi-instance loop, say). docs/workflow.md lists them.
// - Everything else is refused with the element, its id and its line: a message
//   "file:line: element id: why" and details {file, line, element, id, field}. Nothing is half
//   loaded; a malformed file is an error, never a crash.
//
// Errors (Error::invalid unless said):
//   workflow.unreadable          the file cannot be read (not_found)
//   workflow.malformed_xml       not well-formed XML (with the line)
//   workflow.not_bpmn            the root is not BPMN 2.0 definitions
//   workflow.no_process          no process in the file
//   workflow.unsupported_element an element or event definition of BPMN this engine does not run
//   workflow.bad_attribute       a missing id, a bad duration, a bad number of working days
//   workflow.duplicate_id        two elements with one id in a process
//   workflow.unknown_reference   a flow, default flow or boundary event naming no node here
//   workflow.no_start_event      a process (or subprocess) without a none start event
//   workflow.bad_expression      a condition that is not an Expression (the message says where)
//
// Thread safety: a Model is immutable once loaded.
#pragma once

#include "audit/audit.h"
#include "base/calendar.h"
#include "base/clock.h"
#include "base/result.h"
#include "store/store.h"

#include <nlohmann/json.hpp>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <thread>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace onewindow::workflow {

// The condition language of gateways' flows and multi-instance completion conditions: values
// (numbers, 'strings' or "strings", true, false, null, [lists]), variables by name with .field
// and [index], == != < <= > >= in, + - * / %, and or not (also && || !), parentheses. `${...}`
// around it, as Camunda and Flowable write conditions, means the same. Nothing in it can call a
// function, loop or reach outside the variables it is given. docs/workflow.md has the rules.
class Expression {
 public:
  // workflow.bad_expression, with the column, for text that is not an expression (at most 2,000
  // characters, nested at most 64 deep).
  static Result<Expression> parse(std::string_view text);

  // The value over the variables (a JSON object); an absent variable is null. Errors:
  // workflow.expression_type (a comparison of a number with a string, and of anything other
  // than true or false, a number too large, division by zero).
  Result<nlohmann::json> evaluate(const nlohmann::json& variables) const;
  // evaluate(), which must give true or false (workflow.expression_type otherwise).
  Result<bool> test(const nlohmann::json& variables) const;
  const std::string& text() const { return text_; }

  struct Node;

 private:
  Result<nlohmann::json> evaluate(const Node& node, const nlohmann::json& variables) const;
  std::string text_;
  std::shared_ptr<const Node> root_;
};

// The namespace of onewindow's extension attributes.
inline constexpr std::string_view extension_namespace = "https://onewindow.invalid/bpmn";

enum class NodeKind {
  start_event,
  end_event,
  terminate_end_event,
  task,  // abstract task: completes at once
  user_task,
  service_task,
  exclusive_gateway,
  parallel_gateway,
  inclusive_gateway,
  sub_process,
  call_activity,
  timer_boundary_event,
  timer_catch_event,
};
// The BPMN element name: "startEvent", "userTask", ...
std::string_view kind_name(NodeKind kind);

// A timer's duration: ISO 8601 (PT4H, P3D, P1W) or working days on the calendar.
struct TimerDuration {
  std::string iso8601;   // as written, checked for form
  int working_days = 0;  // > 0 when given as onewindow:workingDays
};

// When a timer started at `start` falls due.
// - Working days end at the end of the N-th working day after the start's date, at 24:00 China
//   Standard Time, as government time limits count them: a case received on Wednesday
//   2026-09-30 with 3 working days is due at the end of Saturday 2026-10-10 (the National Day
//   holiday is not counted, the Saturday made a working day is).
// - ISO 8601 durations count calendar time: weeks, days, hours, minutes and seconds exactly;
//   years and months on the calendar in China Standard Time, a day past a month's end becoming
//   its last day (P1M from 31 January is 28 or 29 February, same time of day).
// Errors: calendar.year_not_loaded (working days past the loaded years), workflow.bad_attribute
// (a duration that is neither, or longer than 100 years).
Result<std::chrono::system_clock::time_point> due_at(const TimerDuration& duration,
                                                     std::chrono::system_clock::time_point start,
                                                     const WorkingDayCalendar& calendar);
// Whether due_at can count an ISO 8601 duration: workflow.bad_attribute when it is malformed or
// longer than 100 years (beyond what the clock can hold). The model reader refuses such a timer.
Status check_timer_duration(const TimerDuration& duration);

struct MultiInstance {
  bool sequential = false;
  std::string collection;            // onewindow:collection: the variable listing the instances
  std::string element_variable = "item";  // onewindow:elementVariable: each instance's own entry
  std::string cardinality;           // loopCardinality expression, when given instead
  std::string completion_condition;  // e.g. "nrOfCompletedInstances >= 1"
  std::optional<Expression> completion;  // completion_condition, parsed at import
  std::optional<Expression> count;       // cardinality, parsed at import
};

// An attribute that is either a literal ("market") or an expression in ${...} over the variables.
struct Assignment {
  std::string text;                       // as written
  std::optional<Expression> expression;  // when written as ${...}

  bool empty() const { return text.empty(); }
  // The literal, or the expression's value, which must be a string (workflow.expression_type).
  Result<std::string> value(const nlohmann::json& variables) const;
};

struct Process;

struct Node {
  std::string id;
  std::string name;
  NodeKind kind = NodeKind::task;
  int line = 0;
  std::vector<std::size_t> incoming;  // indexes into Process::flows
  std::vector<std::size_t> outgoing;
  std::optional<std::size_t> default_flow;  // gateways and activities

  Assignment candidate_department;  // user tasks: a department key
  std::string candidate_role;
  Assignment assignee;              // user tasks: the one account that may act, when set
  int working_days = 0;             // user tasks: the task's deadline, when > 0
  std::string hook;                  // service tasks
  std::string called_element;        // call activities: the id of the process called
  std::optional<MultiInstance> multi_instance;
  std::optional<TimerDuration> timer;  // timer events
  std::string attached_to;             // boundary events: the activity's id
  bool cancel_activity = true;         // boundary events: interrupting
  std::vector<Process> sub_process;    // embedded subprocesses: exactly one
};

struct Flow {
  std::string id;
  std::string name;
  std::size_t source = 0;  // index into Process::nodes
  std::size_t target = 0;
  std::string condition;   // conditionExpression text; empty for none
  std::optional<Expression> guard;  // condition, parsed at import
  int line = 0;
};

struct Process {
  std::string id;
  std::string name;
  int working_days = 0;  // onewindow:workingDays on a process: the instance's deadline, when > 0
  std::vector<Node> nodes;
  std::vector<Flow> flows;

  const Node* node(std::string_view id) const;
};

struct Model {
  std::string file;  // for messages
  std::vector<Process> processes;

  const Process* process(std::string_view id) const;
};

// `name` stands for the file in messages.
Result<Model> parse_model(std::string_view xml, std::string_view name);
Result<Model> load_model(const std::filesystem::path& file);

// ---- The engine -------------------------------------------------------------------------------
//
// Contract:
// - Models are deployed into the database (deploy): a name and its BPMN text, numbered versions
//   per name; deploying the same text again gives the version it already has. An instance runs
//   on the version it started with, whatever is deployed later. Call activities start the
//   newest deployed process of their calledElement, as a part of the same instance.
// - Every step of an instance is one transaction: the event that caused it (a start, a task
//   action, a timer falling due), everything the instance does until it waits again (tokens,
//   gateways, service-task hooks, tasks opened and closed, timers set and cancelled), a row of
//   its history with the trace of what it did, and one transparency-log entry
//   ("workflow.<action>"). A process killed at any moment leaves each step done whole or not
//   at all, so nothing is lost and nothing is done twice; timers that fell due while it was
//   down fire when fire_due_timers() next runs.
// - An instance's state (tokens, scopes, variables, open tasks, pending timers) is one row;
//   open tasks and pending timers have rows of their own too, for inboxes and for finding due
//   timers. Two steps of one instance never interleave: a step that finds the instance changed
//   under it is run again (workflow.conflict after several tries).
// - Hooks are how other modules act from service tasks: register them before deploying a model
//   that names them (workflow.unknown_hook otherwise). A hook runs inside the step's
//   transaction; its error fails the step, which is then not done at all.
// - Who may act on a task is the task's rule, not the caller's: an official of its candidate
//   department holding its candidate role, or its assignee only when it has one. The engine
//   trusts the Actor it is given; api/ builds it from the authenticated principal.
// - Time comes from the Clock, deadlines and working-day timers from the calendar. While an
//   instance is suspended its timers do not fire, its tasks cannot be acted on, and on resume
//   every deadline and timer moves later by the working days of the suspension (those after the
//   day it was suspended, which was used, up to and including the day it resumed, which is not
//   counted, as the day a case is received is not), or by the time it lasted for ISO 8601
//   timers: the clock stops.
// - Thread safety: an Engine may be used from many threads at once. register_hook is for the
//   owner, before other calls; start_timers and stop_timers too.
//
// Errors (besides the model's, the hooks' and the store's):
//   workflow.unknown_deployment, workflow.unknown_process, workflow.instance_not_found,
//   workflow.task_not_found (not_found)
//   workflow.bad_deployment_name, workflow.unknown_hook, workflow.unknown_called_element,
//   workflow.bad_variables, workflow.bad_business_key, workflow.bad_collection,
//   workflow.no_flow_taken, workflow.expression_type, workflow.endless_loop (a model looping
//   without waiting), workflow.not_an_earlier_task, workflow.bad_action (invalid_argument)
//   workflow.not_candidate, workflow.not_assignee, workflow.not_starter (permission_denied)
//   workflow.task_not_open, workflow.task_claimed, workflow.instance_not_running,
//   workflow.instance_suspended, workflow.already_acted, workflow.duplicate_business_key,
//   workflow.timer_not_pending (fired meanwhile), workflow.conflict (conflict)
//   workflow.corrupt_state, workflow.bad_hook_result (internal)

// Who acts: an account with its department and roles; "system" for timers.
struct Actor {
  std::string account_id;
  std::string department_key;  // "market"; empty for accounts of no department
  std::vector<std::string> roles;

  bool has_role(std::string_view role) const;
};

struct Deployment {
  std::int64_t id = 0;
  std::string name;
  int version = 0;
  std::string digest;  // SM3 of the text, hex
  std::vector<std::string> processes;
  std::string deployed_at;
  std::string deployed_by;
  bool existing = false;  // deploy() found this text deployed already
  nlohmann::json to_json() const;
};

// A task as stored. status: "open" (may be acted on), "waiting" (its signer added before it
// signs first), "completed", "cancelled" (its activity ended otherwise), "returned", "withdrawn".
struct TaskView {
  std::string id;  // "wft_..."
  std::string instance_id;
  std::string node_id;
  std::string name;
  std::string candidate_department;
  std::string candidate_role;
  std::string assignee;    // who holds it; empty until claimed
  std::string owner;       // who delegated it, while delegated
  std::string delegation;  // "pending" while delegated
  std::string status;
  int loop_index = -1;     // which instance of a multi-instance activity; -1 for none
  std::string created_at;
  std::string due_at;      // empty when the task has no deadline
  int working_days = 0;    // the limit due_at was set from (moved later by suspensions); 0: none
  std::string claimed_at;
  std::string ended_at;
  std::string ended_by;
  std::string outcome;
  std::string comment;
  nlohmann::json to_json() const;
};

// An instance as stored. status: "running", "suspended", "completed", "terminated" (by a
// terminate end event), "withdrawn" (by its starter).
struct InstanceView {
  std::string id;  // "wfi_..."
  std::int64_t deployment = 0;
  std::string process_id;
  std::string business_key;
  std::string module;  // StartRequest::module; "" when the engine's own steps move it
  std::string status;
  std::string started_by;
  std::string started_at;
  std::string ended_at;
  std::string due_at;        // the instance's deadline; empty when none
  int working_days = 0;      // the limit due_at was set from (moved later by suspensions); 0: none
  std::string suspended_at;  // while suspended
  nlohmann::json variables = nlohmann::json::object();
  std::vector<std::string> active_nodes;  // where its tokens are, sorted
  nlohmann::json to_json() const;
};

// One step of an instance, as its history keeps it.
struct StepView {
  std::int64_t sequence = 0;
  std::string at;
  std::string actor;
  std::string action;  // "start", "complete", "timer", ...
  std::vector<std::string> trace;  // what the step did, line by line (docs/workflow.md)
  std::int64_t log_index = 0;
  nlohmann::json to_json() const;
};

struct StartRequest {
  std::int64_t deployment = 0;  // 0: the newest deployment holding process_id
  std::string process_id;
  std::string business_key;     // unique among the instances of the process when not empty
  nlohmann::json variables = nlohmann::json::object();
  int deadline_working_days = 0;  // > 0 overrides the process's onewindow:workingDays
  // The module whose own records move with the instance ("services": an application). Such an
  // instance moves only through that module's steps in its session: the engine's own complete,
  // return_to, suspend, resume and withdraw refuse it (workflow.module_instance), since they would
  // leave the module's records behind. Claiming and handing tasks on stay open to officials.
  std::string module;
};

struct Completion {
  std::string outcome;  // "approve", "refuse", ...: becomes the variable `outcome` and outcomes.<node>
  std::string comment;
  nlohmann::json variables = nlohmann::json::object();  // set on the instance
};

// What a hook sees: the step's transaction, the instance, the service task and the variables.
struct HookCall {
  store::Session& session;
  const std::string& instance_id;
  const std::string& node_id;
  const nlohmann::json& variables;
};
// Returns variables to set (a JSON object, possibly empty).
using Hook = std::function<Result<nlohmann::json>(HookCall&)>;

// A running clock, as supervision watches it: an instance running (not suspended) with a
// deadline, or an open task of such an instance with a deadline of its own.
struct Deadline {
  std::string kind;  // "instance" or "task"
  std::string id;    // the instance's or the task's
  std::string instance_id;
  std::string business_key;
  std::string process_id;
  std::string node_id;     // tasks only
  std::string department;  // tasks: the candidate department
  std::string assignee;    // tasks: who holds it, empty when nobody does
  std::string started_at;  // the instance's start, the task's creation
  std::string due_at;      // exclusive: the first instant past the deadline
  int working_days = 0;    // the limit (0 for rows from before limits were kept)
};

struct TaskQuery {
  std::string instance_id;           // when not empty
  std::string candidate_department;  // when not empty
  std::string assignee;              // when not empty
  bool open_only = true;             // open and waiting tasks only
};

namespace detail {
class DeploymentCache;
struct Environment;
}

class Engine {
 public:
  // References to database, log, calendar and clock; all must outlive the engine.
  Engine(store::Database& database, audit::TransparencyLog& log, const WorkingDayCalendar& calendar,
         const Clock& clock);
  ~Engine();  // stops the timer thread
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  // The tables (module "workflow").
  static std::vector<store::Migration> migrations();

  void register_hook(std::string name, Hook hook);

  // Reads and checks the model (parse_model's errors), checks that its hooks are registered,
  // and keeps it as the next version of `name` (a-z, 0-9, _ and -, 1 to 64 characters).
  Result<Deployment> deploy(std::string_view name, std::string_view xml, const Actor& by);
  Result<Deployment> deployment(std::int64_t id) const;
  // The newest deployments, one per name.
  Result<std::vector<Deployment>> deployments() const;

  Result<InstanceView> start(const StartRequest& request, const Actor& by);
  Result<InstanceView> instance(std::string_view id) const;
  Result<InstanceView> instance(store::Session& session, std::string_view id) const;
  Result<std::vector<StepView>> history(std::string_view instance_id) const;

  Result<TaskView> task(std::string_view id) const;
  Result<TaskView> task(store::Session& session, std::string_view id) const;
  // Oldest first, at most 1,000.
  Result<std::vector<TaskView>> tasks(const TaskQuery& query) const;
  // The actor's inbox: open tasks of the actor's department and open tasks the actor holds or
  // delegated, oldest first, of one instance when instance_id is not empty.
  Result<std::vector<TaskView>> inbox(const Actor& actor, std::string_view instance_id = "") const;
  // The task, when the viewer may see it: one of the viewer's department, or one the viewer
  // holds, held, delegated or completed; workflow.task_not_found otherwise.
  Result<TaskView> task(std::string_view id, const Actor& viewer) const;

  // Task actions; each is one step. The TaskView returned is the task after the action.
  Result<TaskView> claim(std::string_view task_id, const Actor& actor);
  Result<TaskView> unclaim(std::string_view task_id, const Actor& actor);
  // Completes the task (claiming it first when nobody holds it and the actor may). On a
  // delegated task, the delegate's completion hands it back to its owner with the outcome and
  // comment, and the owner completes it.
  Result<TaskView> complete(std::string_view task_id, const Completion& completion, const Actor& actor);
  // Hands the task to another official who may hold it (转办); the holder only.
  Result<TaskView> transfer(std::string_view task_id, const Actor& to, std::string_view comment, const Actor& actor);
  // Lends the task to another official of the department to work on (委派); the holder only,
  // who stays its owner and may take it back until the delegate completes it.
  Result<TaskView> delegate(std::string_view task_id, const Actor& to, const Actor& actor);
  Result<TaskView> take_back(std::string_view task_id, const Actor& actor);
  // Sends the case back to an earlier user task of the same scope (退回): the tasks between
  // that task and this one, in every branch that passed through it, are closed and it is opened
  // again. The TaskView is the closed task.
  Result<TaskView> return_to(std::string_view task_id, std::string_view node_id, std::string_view comment,
                             const Actor& actor);
  // Adds a signer (加签), an official who may hold the task: before (the signer signs first,
  // then the task comes back to its holder) or after (the task goes on to the signer once its
  // holder completes it).
  Result<TaskView> add_signer(std::string_view task_id, const Actor& signer, bool before, const Actor& actor);

  // Stops the whole instance's clock, and resumes it.
  Result<InstanceView> suspend(std::string_view instance_id, std::string_view reason, const Actor& actor);
  Result<InstanceView> resume(std::string_view instance_id, const Actor& actor);
  // The starter takes the instance back while no official has acted on it.
  Result<InstanceView> withdraw(std::string_view instance_id, std::string_view reason, const Actor& actor);

  // The same steps in the caller's transaction, for a module whose own rows change with the
  // step (services: an application accepted and its instance started, or suspended for
  // correction, commit together or not at all). One attempt each: when a step of the same
  // instance committed meanwhile, the error is workflow.conflict and the caller retries its whole
  // transaction.
  Result<InstanceView> start(store::Session& session, const StartRequest& request, const Actor& by);
  Result<TaskView> complete(store::Session& session, std::string_view task_id, const Completion& completion,
                            const Actor& actor);
  Result<InstanceView> suspend(store::Session& session, std::string_view instance_id, std::string_view reason,
                               const Actor& actor);
  Result<InstanceView> resume(store::Session& session, std::string_view instance_id, const Actor& actor);

  // Calls `each` for every running clock (Deadline), instances first, in one read transaction
  // (a consistent snapshot) without holding them all; `each` returning an error stops the walk
  // with that error. For the supervision's pass over every case.
  Status deadlines(const std::function<Status(const Deadline&)>& each) const;

  // Fires every timer due by the clock's time, each in its own step; returns how many fired.
  Result<int> fire_due_timers();
  // Calls fire_due_timers every interval on a thread of its own; failures are logged.
  void start_timers(std::chrono::milliseconds interval = std::chrono::milliseconds(1000));
  void stop_timers();

 private:
  struct Step;
  Result<InstanceView> start_in(store::Session& session, const StartRequest& request, const Actor& by,
                                const std::string& id);
  // One step of an instance in the session: reads it, runs `work`, writes the step.
  Status step_in(store::Session& session, std::string_view instance_id, const Actor& actor, std::string_view action,
                 const nlohmann::json& log_details, const std::function<Status(Step&)>& work);
  Result<std::string> run_step(std::string_view instance_id, const Actor& actor, std::string_view action,
                               const nlohmann::json& log_details,
                               const std::function<Status(Step&)>& work);
  Result<TaskView> task_step(std::string_view task_id, const Actor& actor, std::string_view action,
                             const nlohmann::json& log_details, const std::function<Status(Step&)>& work);
  Result<InstanceView> instance_step(std::string_view instance_id, const Actor& actor, std::string_view action,
                                     const nlohmann::json& log_details, const std::function<Status(Step&)>& work);
  detail::Environment environment_for(store::Session& session, const std::string& instance_id);
  void timer_loop(std::chrono::milliseconds interval);

  store::Database& database_;
  audit::TransparencyLog& log_;
  const WorkingDayCalendar& calendar_;
  const Clock& clock_;
  std::map<std::string, Hook, std::less<>> hooks_;
  std::unique_ptr<detail::DeploymentCache> deployments_;

  std::mutex timer_mutex_;
  std::condition_variable timer_wake_;
  std::thread timer_thread_;
  bool timers_stopping_ = false;
};

}  // namespace onewindow::workflow
