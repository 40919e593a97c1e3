// workflow: BPMN 2.0 process models for government approval (issue 6). This first part reads a
// model and checks it; the interpreter, instances, tasks and timers come next.
//
// Contract:
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
//   collection on multi-instance loops. docs/workflow.md lists them.
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

#include "base/calendar.h"
#include "base/result.h"

#include <nlohmann/json.hpp>

#include <chrono>

#include <filesystem>
#include <memory>
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
// (a duration that is neither).
Result<std::chrono::system_clock::time_point> due_at(const TimerDuration& duration,
                                                     std::chrono::system_clock::time_point start,
                                                     const WorkingDayCalendar& calendar);

struct MultiInstance {
  bool sequential = false;
  std::string collection;            // onewindow:collection: the variable listing the instances
  std::string cardinality;           // loopCardinality expression, when given instead
  std::string completion_condition;  // e.g. "nrOfCompletedInstances >= 1"
  std::optional<Expression> completion;  // completion_condition, parsed at import
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

  std::string candidate_department;  // user tasks
  std::string candidate_role;
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

}  // namespace onewindow::workflow
