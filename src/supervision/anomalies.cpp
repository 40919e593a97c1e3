// The examiner: anomaly rules applied to every official act in the transparency log, and the
// cases they open.
#include "supervision/supervision.h"

#include "base/identifiers.h"

#include <algorithm>

namespace onewindow::supervision {

namespace {

constexpr const char* cursor_name = "anomalies";
// Log entries read and judged per transaction.
constexpr std::int64_t entries_per_transaction = 500;

constexpr const char* case_columns =
    "SELECT id, rule, subject, application_id, department, official, detail, act_log_index, raised_at, status, "
    "comment, closed_by, closed_at FROM supervision_case";

AnomalyCase case_from(const store::Row& row) {
  AnomalyCase anomaly;
  anomaly.id = row.text(0);
  anomaly.rule = row.text(1);
  anomaly.subject = row.text(2);
  anomaly.application_id = row.text(3);
  anomaly.department = row.text(4);
  anomaly.official = row.text(5);
  anomaly.detail = row.text(6);
  anomaly.act_log_index = row.integer(7);
  anomaly.raised_at = row.text(8);
  anomaly.status = row.text(9);
  anomaly.comment = row.text(10);
  anomaly.closed_by = row.text(11);
  anomaly.closed_at = row.text(12);
  return anomaly;
}

bool starts_with(std::string_view text, std::string_view prefix) { return text.substr(0, prefix.size()) == prefix; }

// Workflow actions an official takes on a task.
bool task_action(std::string_view action) {
  static const std::set<std::string_view> actions = {"workflow.claim",    "workflow.complete",   "workflow.transfer",
                                                     "workflow.delegate", "workflow.take_back",  "workflow.return",
                                                     "workflow.add_signer", "workflow.unclaim"};
  return actions.contains(action);
}

}  // namespace

std::optional<bool> outside_working_hours(std::chrono::system_clock::time_point time, const Configuration& configuration,
                                          const WorkingDayCalendar& calendar) {
  Date day = local_date(time);
  auto working = calendar.is_working_day(day);
  if (!working.ok()) return std::nullopt;
  if (!*working) return true;
  auto minutes = std::chrono::duration_cast<std::chrono::minutes>(time - local_day_start(day)).count();
  return minutes < configuration.working_hours_from || minutes >= configuration.working_hours_to;
}

nlohmann::json AnomalyCase::to_json() const {
  auto optional = [](const std::string& text) { return text.empty() ? nlohmann::json(nullptr) : nlohmann::json(text); };
  return {{"id", id},
          {"rule", rule},
          {"subject", subject},
          {"application_id", optional(application_id)},
          {"department", optional(department)},
          {"official", optional(official)},
          {"detail", detail},
          {"act_log_index", act_log_index},
          {"raised_at", raised_at},
          {"status", status},
          {"comment", optional(comment)},
          {"closed_by", optional(closed_by)},
          {"closed_at", optional(closed_at)}};
}

Result<ExamineReport> Supervision::examine() {
  std::lock_guard pass(pass_mutex_);
  recipients_cache_.clear();
  ExamineReport report;
  auto stored = database_.read_value<std::int64_t>([&](store::Session& session) -> Result<std::int64_t> {
    auto row = session.query_one("SELECT position FROM supervision_cursor WHERE name = $1", {std::string(cursor_name)});
    if (!row.ok()) return row.take_error();
    return row->has_value() ? (**row).integer(0) : 0;
  });
  if (!stored.ok()) return stored.take_error();
  auto size = log_.size();
  if (!size.ok()) return size.take_error();

  // The services' record of one application, read once per batch.
  std::map<std::string, std::vector<services::ApplicationEvent>> events_of;
  auto events = [&](const std::string& application) -> const std::vector<services::ApplicationEvent>* {
    if (!applications_) return nullptr;
    auto found = events_of.find(application);
    if (found == events_of.end()) {
      auto read = applications_->events(application);
      found = events_of.emplace(application, read.ok() ? std::move(read).value() : std::vector<services::ApplicationEvent>{}).first;
    }
    return &found->second;
  };
  auto of_service = [&](const std::string& process) {
    auto owner = owners_.find(process);
    return owner != owners_.end() && !owner->second.service.empty();
  };

  for (std::int64_t first = *stored; first < *size; first += entries_per_transaction) {
    const std::int64_t end = std::min(*size, first + entries_per_transaction);
    events_of.clear();
    std::vector<AnomalyCase> found;
    for (std::int64_t index = first; index < end; ++index) {
      auto entry = log_.entry(index);
      if (!entry.ok()) return entry.take_error();
      nlohmann::json act = nlohmann::json::parse(entry->content, nullptr, false);
      if (act.is_discarded()) continue;
      const std::string action = act.value("action", "");
      const std::string actor = act.value("actor", "");
      const std::string object = act.value("object_id", "");
      const nlohmann::json details = act.value("details", nlohmann::json::object());
      if (actor == "system" || starts_with(action, "supervision.")) continue;
      auto hit = [&](std::string rule, std::string subject, std::string application, std::string department,
                     std::string detail) {
        AnomalyCase anomaly;
        anomaly.rule = std::move(rule);
        anomaly.subject = std::move(subject);
        anomaly.application_id = std::move(application);
        anomaly.department = std::move(department);
        anomaly.official = actor;
        anomaly.detail = std::move(detail);
        anomaly.act_log_index = index;
        found.push_back(std::move(anomaly));
      };
      const bool services_act = action == "services.intake" || action == "services.decide";
      const std::string process = details.value("process", "");
      // A workflow act on a service's instance comes with the services' own act, which is judged.
      const bool official_act = services_act || (task_action(action) && !of_service(process));

      if (configuration_.rubber_stamp && action == "workflow.complete") {
        auto task = engine_.task(details.value("task", ""));
        if (task.ok() && !task->ended_at.empty()) {
          // Completing claims a task nobody holds: then it counts from when it opened.
          const std::string& from =
              !task->claimed_at.empty() && task->claimed_at < task->ended_at ? task->claimed_at : task->created_at;
          auto start = parse_timestamp(from, "claimed_at");
          auto ended = parse_timestamp(task->ended_at, "ended_at");
          if (start.ok() && ended.ok()) {
            auto seconds = std::chrono::duration_cast<std::chrono::seconds>(*ended - *start).count();
            if (seconds < configuration_.rubber_stamp_seconds) {
              auto instance = engine_.instance(task->instance_id);
              hit("rubber_stamp", task->id, instance.ok() ? instance->business_key : "", task->candidate_department,
                  "task " + task->node_id + " completed " + std::to_string(seconds) + " s after it was " +
                      (&from == &task->claimed_at ? "claimed" : "opened"));
            }
          }
        }
      }
      if (configuration_.same_official && action == "services.decide") {
        if (const auto* list = events(object)) {
          for (const auto& event : *list) {
            if (event.action == "intake" && event.log_index < index && event.actor == actor) {
              hit("same_official", object, object, event.department,
                  "the official who took the application at the window also decided " +
                      details.value("step", std::string("a task")));
              break;
            }
          }
        }
      }
      if (configuration_.outside_working_hours && official_act) {
        auto time = parse_timestamp(act.value("time", ""), "time");
        auto outside = time.ok() ? outside_working_hours(*time, configuration_, calendar_) : std::nullopt;
        if (outside && *outside) {
          Date day = local_date(*time);
          auto minutes = std::chrono::duration_cast<std::chrono::minutes>(*time - local_day_start(day)).count();
          char clock[6];
          std::snprintf(clock, sizeof clock, "%02d:%02d", static_cast<int>(minutes / 60), static_cast<int>(minutes % 60));
          // The services' record names the official's department.
          std::string department;
          if (const auto* list = services_act ? events(object) : nullptr) {
            for (const auto& event : *list) {
              if (event.log_index == index) department = event.department;
            }
          }
          hit("outside_working_hours", "log:" + std::to_string(index), services_act ? object : "", department,
              action + " on " + day.to_string() + " at " + clock);
        }
      }
      if (configuration_.repeated_returns && action == "services.decide" && details.value("outcome", "") == "correction") {
        if (const auto* list = events(object)) {
          auto returns = std::count_if(list->begin(), list->end(), [&](const services::ApplicationEvent& event) {
            return event.action == "decide" && event.log_index <= index &&
                   event.details.value("outcome", "") == "correction";
          });
          if (returns >= configuration_.returns_at_least) {
            hit("repeated_returns", object, object, "",
                "returned for correction " + std::to_string(returns) + " times");
          }
        }
      }
      if (configuration_.repeated_returns && action == "workflow.return" && !of_service(process)) {
        auto steps = engine_.history(object);
        if (steps.ok()) {
          auto returns = std::count_if(steps->begin(), steps->end(), [&](const workflow::StepView& step) {
            return step.action == "return" && step.log_index <= index;
          });
          if (returns >= configuration_.returns_at_least) {
            hit("repeated_returns", object, "", "", "returned " + std::to_string(returns) + " times");
          }
        }
      }
      if (configuration_.foreign_prefill_read && action == "exchange.read" && starts_with(actor, "service:")) {
        const std::string service = actor.substr(8);
        const std::string consumer = details.value("consumer", "");
        for (const auto& [process_id, owner] : owners_) {
          if (owner.service != service) continue;
          const auto& implementing = owner.implementing_departments;
          if (std::find(implementing.begin(), implementing.end(), consumer) == implementing.end()) {
            hit("foreign_prefill_read", "log:" + std::to_string(index), "", consumer,
                "prefill for " + service + " read by " + consumer + ", which does not implement it");
          }
          break;
        }
      }
    }
    ONEWINDOW_TRY(database_.write([&](store::Session& session) -> Status {
      std::int64_t opened = 0;
      for (const AnomalyCase& anomaly : found) ONEWINDOW_TRY(open_case(session, anomaly, opened));
      ONEWINDOW_TRY(session
                        .execute("INSERT INTO supervision_cursor (name, position) VALUES ($1, $2) "
                                 "ON CONFLICT (name) DO UPDATE SET position = excluded.position",
                                 {std::string(cursor_name), end})
                        .status());
      report.opened += opened;
      return ok_status();
    }));
    report.entries += end - first;
  }
  return report;
}

Status Supervision::open_case(store::Session& session, AnomalyCase anomaly, std::int64_t& opened) {
  auto exists = session.query_one("SELECT 1 FROM supervision_case WHERE rule = $1 AND subject = $2",
                                  {anomaly.rule, anomaly.subject});
  if (!exists.ok()) return exists.take_error();
  if (exists->has_value()) return ok_status();
  anomaly.id = new_id("spc");
  anomaly.raised_at = format_timestamp(clock_.now());
  anomaly.status = "open";
  auto receipt = log_.record(session, {"system", "", "supervision.case_opened", "supervision_case", anomaly.id, "",
                                       {{"rule", anomaly.rule},
                                        {"subject", anomaly.subject},
                                        {"application", anomaly.application_id},
                                        {"department", anomaly.department},
                                        {"official", anomaly.official},
                                        {"act_log_index", anomaly.act_log_index}}});
  if (!receipt.ok()) return receipt.take_error();
  ONEWINDOW_TRY(session
                    .execute("INSERT INTO supervision_case (id, rule, subject, application_id, department, official, "
                             "detail, act_log_index, raised_at, status, comment, closed_by, closed_at) VALUES ($1, $2, "
                             "$3, $4, $5, $6, $7, $8, $9, 'open', '', '', '')",
                             {anomaly.id, anomaly.rule, anomaly.subject, anomaly.application_id, anomaly.department,
                              anomaly.official, anomaly.detail, anomaly.act_log_index, anomaly.raised_at})
                    .status());
  ++opened;
  auto supervisors = recipients_of("");
  if (!supervisors.ok()) return supervisors.take_error();
  return notify(session, *supervisors,
                {"", "supervision.case", "异常待核查：" + anomaly.rule, anomaly.detail,
                 "/api/v1/supervision/cases/" + anomaly.id});
}

Result<std::vector<AnomalyCase>> Supervision::cases(std::string_view status) const {
  if (!status.empty() && status != "open" && status != "closed") {
    return Error::invalid("supervision.bad_field", "status", "status is open or closed");
  }
  return database_.read_value<std::vector<AnomalyCase>>([&](store::Session& session) -> Result<std::vector<AnomalyCase>> {
    auto rows = status.empty()
                    ? session.query(std::string(case_columns) + " ORDER BY raised_at DESC, id DESC LIMIT 1000")
                    : session.query(std::string(case_columns) + " WHERE status = $1 ORDER BY raised_at DESC, id DESC LIMIT 1000",
                                    {std::string(status)});
    if (!rows.ok()) return rows.take_error();
    std::vector<AnomalyCase> list;
    for (const auto& row : *rows) list.push_back(case_from(row));
    return list;
  });
}

Result<Supervision::Counts> Supervision::counts() const {
  return database_.read_value<Counts>([&](store::Session& session) -> Result<Counts> {
    Counts counts;
    for (auto [sql, into] : {std::pair{"SELECT level, COUNT(*) FROM supervision_warning GROUP BY level", &counts.warnings},
                             std::pair{"SELECT status, COUNT(*) FROM supervision_case GROUP BY status", &counts.cases}}) {
      auto rows = session.query(sql);
      if (!rows.ok()) return rows.take_error();
      for (const auto& row : *rows) (*into)[row.text(0)] = row.integer(1);
    }
    return counts;
  });
}

Result<AnomalyCase> Supervision::close_case(std::string_view id, std::string_view comment, const std::string& by) {
  if (comment.empty()) return Error::invalid("supervision.bad_field", "comment", "closing a case says what was found");
  if (comment.size() > 2000) return Error::invalid("supervision.bad_field", "comment", "a comment is at most 2000 bytes");
  return database_.write_value<AnomalyCase>([&](store::Session& session) -> Result<AnomalyCase> {
    auto row = session.query_one(std::string(case_columns) + " WHERE id = $1", {std::string(id)});
    if (!row.ok()) return row.take_error();
    if (!row->has_value()) {
      return Error(ErrorKind::not_found, "supervision.case_not_found", "no case " + std::string(id), {{"field", "id"}});
    }
    AnomalyCase anomaly = case_from(**row);
    if (anomaly.status == "closed") {
      return Error(ErrorKind::conflict, "supervision.case_closed", "case " + anomaly.id + " is closed already",
                   {{"field", "id"}});
    }
    anomaly.status = "closed";
    anomaly.comment = std::string(comment);
    anomaly.closed_by = by;
    anomaly.closed_at = format_timestamp(clock_.now());
    ONEWINDOW_TRY(session
                      .execute("UPDATE supervision_case SET status = 'closed', comment = $1, closed_by = $2, closed_at = $3 "
                               "WHERE id = $4",
                               {anomaly.comment, anomaly.closed_by, anomaly.closed_at, anomaly.id})
                      .status());
    auto receipt = log_.record(session, {by, "", "supervision.case_closed", "supervision_case", anomaly.id, "",
                                         {{"rule", anomaly.rule}, {"comment", anomaly.comment}}});
    if (!receipt.ok()) return receipt.take_error();
    return anomaly;
  });
}

}  // namespace onewindow::supervision
