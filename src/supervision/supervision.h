// supervision: electronic supervision (电子监察) of every case, every deadline and every official
// act: full tracking, real-time monitoring, early warning and performance evaluation
// (全程跟踪、实时监控、预警纠错、绩效评估).
//
// Contract:
// - The clock worker (Supervision::watch) looks at every running clock the workflow keeps
//   (workflow::Engine::deadlines: an instance with a deadline, an open task with one; suspended
//   instances are skipped, their clock stopped) and counts the working days used of its limit on
//   the calendar: used = limit - working days left to its last day, so a suspension, which moved
//   the last day later, is not counted. A yellow warning is raised once the used share reaches
//   the configured share (80% by default), a red one on the first working day past the last day.
//   Each warning is raised once per clock and level (a unique row), in one transaction with its
//   transparency-log entry ("supervision.warning") and the notices to the department's officials
//   and to every supervisor. A pass computes from the stored state only, so a pass after a restart
//   raises what the passes missed and nothing twice.
// - The examiner (Supervision::examine) reads the transparency log from where it stopped, and
//   applies the anomaly rules of the configuration to each official act. A hit opens a case
//   (once per rule and subject) for a supervisor to close with a comment; the cursor, the cases
//   and their log entries commit together.
// - Reports (metrics per department, service item, official and period; an application's full
//   history with the inclusion proof of each act's log entry) are read-only.
//
// Errors: config.* for the configuration file; supervision.case_not_found,
// supervision.application_not_found (not_found); supervision.bad_field (invalid_argument);
// supervision.case_closed (conflict); and those of the store, the log and the workflow.
//
// Thread safety: Supervision and Reports may be used from many threads at once; watch() and
// examine() take a lock of their own so that two passes never overlap in one process (two
// processes are safe too: the unique rows decide).
#pragma once

#include "audit/audit.h"
#include "base/calendar.h"
#include "base/clock.h"
#include "base/result.h"
#include "notification/notification.h"
#include "services/services.h"
#include "store/store.h"
#include "workflow/workflow.h"

#include <nlohmann/json.hpp>

#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace onewindow::supervision {

// config/supervision.yaml.
struct Configuration {
  int yellow_percent = 80;                  // warnings.yellow_share, as a percentage of the limit
  std::chrono::seconds interval{60};        // warnings.pass_interval_seconds: between passes
  // Anomaly rules, each with its own threshold; a rule not enabled is not applied.
  bool rubber_stamp = true;                 // a task completed within seconds of being claimed
  int rubber_stamp_seconds = 60;
  bool same_official = true;                // one official at intake and at a decision
  bool outside_working_hours = true;        // an act on a day off or outside the hours
  int working_hours_from = 8 * 60 + 30;     // minutes after local midnight
  int working_hours_to = 17 * 60 + 30;
  bool repeated_returns = true;             // one application returned for correction again and again
  int returns_at_least = 2;
  bool foreign_prefill_read = true;         // prefill read by a department not implementing the service

  static Result<Configuration> load(const std::filesystem::path& file);
};

// The rule outside_working_hours on one instant: on a day that is not a working day, or outside
// the configured hours (China Standard Time). nullopt when the calendar has no such year.
std::optional<bool> outside_working_hours(std::chrono::system_clock::time_point time, const Configuration& configuration,
                                          const WorkingDayCalendar& calendar);

// What a process is to supervision: the service item it runs and who answers for it.
struct ProcessOwner {
  std::string service;     // the service item's code; empty for a process of no service
  std::string department;  // told of the instance's warnings (the competent department)
  std::vector<std::string> implementing_departments;
};

// Who is told of warnings: the accounts of a department (by key), and the supervisors.
struct Recipients {
  std::function<Result<std::vector<std::string>>(const std::string& department)> of_department;
  std::function<Result<std::vector<std::string>>()> supervisors;
};

struct Warning {
  std::string id;  // "spw_..."
  std::string level;    // "yellow", "red"
  std::string kind;     // "instance" (the whole case), "task" (one department's step)
  std::string subject;  // the instance's or the task's id
  std::string instance_id;
  std::string application_id;  // the instance's business key
  std::string process_id;
  std::string service;
  std::string department;
  std::string assignee;
  int used_working_days = 0;
  int limit_working_days = 0;
  std::string due_on;     // the last day, YYYY-MM-DD
  std::string raised_on;  // the local date of the pass that raised it
  std::string raised_at;
  std::int64_t log_index = 0;
  nlohmann::json to_json() const;
};

struct WarningQuery {
  std::string level;       // when not empty
  std::string department;  // when not empty
  std::string application_id;
  int limit = 1000;
};

struct PassReport {
  std::int64_t clocks = 0;   // running clocks looked at
  std::int64_t raised = 0;   // warnings raised by this pass
  std::int64_t skipped = 0;  // clocks that could not be counted (a year with no calendar)
};

struct AnomalyCase {
  std::string id;  // "spc_..."
  std::string rule;     // rubber_stamp, same_official, outside_working_hours, repeated_returns, foreign_prefill_read
  std::string subject;  // what it is about: a task, an application, a log entry
  std::string application_id;
  std::string department;
  std::string official;
  std::string detail;    // in words
  std::int64_t act_log_index = 0;  // the act that triggered it
  std::string raised_at;
  std::string status;  // "open", "closed"
  std::string comment;
  std::string closed_by;
  std::string closed_at;
  nlohmann::json to_json() const;
};

struct ExamineReport {
  std::int64_t entries = 0;  // log entries read
  std::int64_t opened = 0;   // cases opened
};

class Supervision {
 public:
  // `applications` (may be null) gives the services' own record of who took and decided an
  // application, for the rules about them. `owners` maps process ids to service items.
  Supervision(store::Database& database, audit::TransparencyLog& log, workflow::Engine& engine,
              const WorkingDayCalendar& calendar, const Clock& clock, Configuration configuration,
              std::map<std::string, ProcessOwner> owners, Recipients recipients,
              const services::Applications* applications = nullptr);
  ~Supervision();  // stops the worker
  Supervision(const Supervision&) = delete;
  Supervision& operator=(const Supervision&) = delete;

  static std::vector<store::Migration> migrations();
  void add_channel(notification::Channel& channel) { channels_.push_back(&channel); }
  const Configuration& configuration() const { return configuration_; }

  // One pass of the clock worker.
  Result<PassReport> watch();
  Result<std::vector<Warning>> warnings(const WarningQuery& query) const;

  // Reads the log entries added since the last call and applies the rules.
  Result<ExamineReport> examine();
  // Newest first; status "open", "closed" or "" for all.
  Result<std::vector<AnomalyCase>> cases(std::string_view status) const;
  Result<AnomalyCase> close_case(std::string_view id, std::string_view comment, const std::string& by);

  // For /metrics: warnings raised by level ("yellow", "red") and cases by status ("open", "closed").
  struct Counts {
    std::map<std::string, std::int64_t> warnings;
    std::map<std::string, std::int64_t> cases;
  };
  Result<Counts> counts() const;

  // Runs watch() and examine() every configured interval on a thread of its own; failures are
  // logged and tried again at the next interval.
  void start();
  void stop();

 private:
  struct Pending;
  Status raise(store::Session& session, const Pending& pending, Date today);
  Status open_case(store::Session& session, AnomalyCase anomaly, std::int64_t& opened);
  Status notify(store::Session& session, const std::vector<std::string>& accounts, const notification::Notice& notice);
  Result<std::vector<std::string>> recipients_of(const std::string& department);
  void loop();

  store::Database& database_;
  audit::TransparencyLog& log_;
  workflow::Engine& engine_;
  const WorkingDayCalendar& calendar_;
  const Clock& clock_;
  Configuration configuration_;
  std::map<std::string, ProcessOwner> owners_;
  Recipients recipients_;
  const services::Applications* applications_;
  std::vector<notification::Channel*> channels_;
  std::mutex pass_mutex_;
  // The recipients looked up in the running pass (under pass_mutex_), by department ("" for supervisors).
  std::map<std::string, std::vector<std::string>> recipients_cache_;

  std::mutex worker_mutex_;
  std::condition_variable worker_wake_;
  bool stopping_ = false;
  std::thread worker_;
};

// Performance evaluation (绩效评估) and the full history of a case.
struct MetricsQuery {
  Date from;  // applications submitted from this day
  Date to;    // to this day, both included
  std::string by = "service";  // "service", "department", "official"
};

// One row of metrics. For by=service every count is of applications; for by=department and
// by=official of each department's (official's) part: the window's intake and each review task.
struct MetricsRow {
  std::string key;
  std::string name;
  std::int64_t received = 0;
  std::int64_t accepted = 0;
  std::int64_t completed = 0;
  std::int64_t completed_on_time = 0;
  std::int64_t overdue = 0;  // finished late, or running past the last day
  std::int64_t refused = 0;
  std::int64_t corrections = 0;  // corrections requested
  double median_working_days = 0;  // of the completed ones
  double p90_working_days = 0;
  std::int64_t ratings = 0;
  std::int64_t bad_ratings = 0;
  std::int64_t bad_ratings_answered_in_time = 0;  // its follow-up's call back done within its limit
  nlohmann::json to_json() const;
};

struct Metrics {
  MetricsQuery query;
  std::vector<MetricsRow> rows;
  nlohmann::json to_json() const;
  std::string to_csv() const;
  // An .xlsx workbook (libxlsxwriter) of the same rows; supervision.export_failed when it fails.
  Result<std::string> to_xlsx() const;
};

class Reports {
 public:
  Reports(const services::Applications& applications, workflow::Engine& engine, audit::TransparencyLog& log,
          const WorkingDayCalendar& calendar, const Clock& clock,
          std::map<std::string, std::string> department_names);

  Result<Metrics> metrics(const MetricsQuery& query) const;
  // The applications submitted from..to for the supervisor to find one: of one service and in
  // one state when given, each with whether it is past its last day. At most 1,000, newest first.
  Result<nlohmann::json> applications(Date from, Date to, const std::string& service, const std::string& state) const;
  const Clock& clock() const { return clock_; }
  // Every act on the application (the services' own and the workflow's steps), oldest first,
  // each with its transparency-log entry and the entry's inclusion proof under the latest
  // signed tree head.
  Result<nlohmann::json> history(std::string_view application_id) const;

 private:
  const services::Applications& applications_;
  workflow::Engine& engine_;
  audit::TransparencyLog& log_;
  const WorkingDayCalendar& calendar_;
  const Clock& clock_;
  std::map<std::string, std::string> department_names_;
};

}  // namespace onewindow::supervision
