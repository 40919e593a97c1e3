// The clock worker: yellow and red warnings on every running clock, and the worker thread.
#include "supervision/supervision.h"

#include "base/identifiers.h"
#include "base/log.h"

#include <unordered_map>

namespace onewindow::supervision {

namespace {

constexpr const char* schema_v1 = R"(
    CREATE TABLE supervision_warning (
      id TEXT PRIMARY KEY,
      subject TEXT NOT NULL,
      level TEXT NOT NULL,
      kind TEXT NOT NULL,
      instance_id TEXT NOT NULL,
      application_id TEXT NOT NULL,
      process_id TEXT NOT NULL,
      service TEXT NOT NULL,
      department TEXT NOT NULL,
      assignee TEXT NOT NULL,
      used_working_days INTEGER NOT NULL,
      limit_working_days INTEGER NOT NULL,
      due_on TEXT NOT NULL,
      raised_on TEXT NOT NULL,
      raised_at TEXT NOT NULL,
      log_index BIGINT NOT NULL,
      UNIQUE (subject, level));
    CREATE INDEX supervision_warning_application ON supervision_warning (application_id);
    CREATE TABLE supervision_case (
      id TEXT PRIMARY KEY,
      rule TEXT NOT NULL,
      subject TEXT NOT NULL,
      application_id TEXT NOT NULL,
      department TEXT NOT NULL,
      official TEXT NOT NULL,
      detail TEXT NOT NULL,
      act_log_index BIGINT NOT NULL,
      raised_at TEXT NOT NULL,
      status TEXT NOT NULL,
      comment TEXT NOT NULL,
      closed_by TEXT NOT NULL,
      closed_at TEXT NOT NULL,
      UNIQUE (rule, subject));
    CREATE INDEX supervision_case_status ON supervision_case (status, raised_at);
    CREATE TABLE supervision_cursor (
      name TEXT PRIMARY KEY,
      position BIGINT NOT NULL);
)";

constexpr const char* warning_columns =
    "SELECT id, level, kind, subject, instance_id, application_id, process_id, service, department, assignee, "
    "used_working_days, limit_working_days, due_on, raised_on, raised_at, log_index FROM supervision_warning";

// Warnings written per transaction: enough to make a pass that raises many cheap, few enough
// that a pass does not hold the log's append lock for long.
constexpr std::size_t warnings_per_transaction = 200;

Warning warning_from(const store::Row& row) {
  Warning warning;
  warning.id = row.text(0);
  warning.level = row.text(1);
  warning.kind = row.text(2);
  warning.subject = row.text(3);
  warning.instance_id = row.text(4);
  warning.application_id = row.text(5);
  warning.process_id = row.text(6);
  warning.service = row.text(7);
  warning.department = row.text(8);
  warning.assignee = row.text(9);
  warning.used_working_days = static_cast<int>(row.integer(10));
  warning.limit_working_days = static_cast<int>(row.integer(11));
  warning.due_on = row.text(12);
  warning.raised_on = row.text(13);
  warning.raised_at = row.text(14);
  warning.log_index = row.integer(15);
  return warning;
}

}  // namespace

nlohmann::json Warning::to_json() const {
  return {{"id", id},
          {"level", level},
          {"kind", kind},
          {"subject", subject},
          {"instance_id", instance_id},
          {"application_id", application_id},
          {"task_id", kind == "task" ? nlohmann::json(subject) : nlohmann::json(nullptr)},
          {"process_id", process_id},
          {"service_code", service},
          {"department", department},
          {"assignee", assignee},
          {"used_working_days", used_working_days},
          {"limit_working_days", limit_working_days},
          {"due_on", due_on},
          {"raised_on", raised_on},
          {"raised_at", raised_at},
          {"log_index", log_index}};
}

struct Supervision::Pending {
  workflow::Deadline deadline;
  std::string level;
  int used = 0;
  Date due_on;
};

Supervision::Supervision(store::Database& database, audit::TransparencyLog& log, workflow::Engine& engine,
                         const WorkingDayCalendar& calendar, const Clock& clock, Configuration configuration,
                         std::map<std::string, ProcessOwner> owners, Recipients recipients,
                         const services::Applications* applications)
    : database_(database),
      log_(log),
      engine_(engine),
      calendar_(calendar),
      clock_(clock),
      configuration_(std::move(configuration)),
      owners_(std::move(owners)),
      recipients_(std::move(recipients)),
      applications_(applications) {}

Supervision::~Supervision() { stop(); }

std::vector<store::Migration> Supervision::migrations() {
  return {{"supervision", 1, "warnings, anomaly cases and the examiner's place in the log", schema_v1, ""}};
}

Result<PassReport> Supervision::watch() {
  std::lock_guard pass(pass_mutex_);
  recipients_cache_.clear();
  PassReport report;
  const Date today = clock_.today();

  // What was raised before: a clock is warned once per level, whichever pass saw it first.
  std::unordered_map<std::string, int> raised;  // subject -> 1 yellow, 2 red
  ONEWINDOW_TRY(database_.read([&](store::Session& session) {
    return session.query_each("SELECT subject, level FROM supervision_warning", {}, [&](const store::Row& row) {
      raised[row.text(0)] |= row.text(1) == "red" ? 2 : 1;
      return true;
    });
  }));

  // Deadlines are ends of days, so a pass meets few distinct ones: their last day and the
  // working days left to it are worked out once each.
  struct Left {
    Date due_on;
    std::optional<int> left;
  };
  std::unordered_map<std::string, Left> lefts;
  std::vector<Pending> pending;
  ONEWINDOW_TRY(engine_.deadlines([&](const workflow::Deadline& deadline) -> Status {
    ++report.clocks;
    if (deadline.working_days <= 0) return ok_status();
    auto known = lefts.find(deadline.due_at);
    if (known == lefts.end()) {
      Left left;
      auto due = parse_timestamp(deadline.due_at, "due_at");
      if (due.ok()) {
        left.due_on = local_date(*due - std::chrono::milliseconds(1));
        auto between = calendar_.working_days_between(today, left.due_on);
        if (between.ok()) left.left = *between;
      }
      known = lefts.emplace(deadline.due_at, left).first;
    }
    if (!known->second.left) {
      ++report.skipped;
      return ok_status();
    }
    const int left = *known->second.left;
    const int used = deadline.working_days - left;
    auto have = raised.find(deadline.id);
    const int levels = have == raised.end() ? 0 : have->second;
    if (used * 100 >= configuration_.yellow_percent * deadline.working_days && !(levels & 1)) {
      pending.push_back({deadline, "yellow", used, known->second.due_on});
    }
    if (left < 0 && !(levels & 2)) pending.push_back({deadline, "red", used, known->second.due_on});
    return ok_status();
  }));

  for (std::size_t first = 0; first < pending.size(); first += warnings_per_transaction) {
    const std::size_t end = std::min(pending.size(), first + warnings_per_transaction);
    std::int64_t raised_here = 0;
    ONEWINDOW_TRY(database_.write([&](store::Session& session) -> Status {
      raised_here = 0;
      for (std::size_t index = first; index < end; ++index) {
        auto exists = session.query_one("SELECT 1 FROM supervision_warning WHERE subject = $1 AND level = $2",
                                        {pending[index].deadline.id, pending[index].level});
        if (!exists.ok()) return exists.take_error();
        if (exists->has_value()) continue;  // another process raised it meanwhile
        ONEWINDOW_TRY(raise(session, pending[index], today));
        ++raised_here;
      }
      return ok_status();
    }));
    report.raised += raised_here;
  }
  return report;
}

Status Supervision::raise(store::Session& session, const Pending& pending, Date today) {
  const workflow::Deadline& deadline = pending.deadline;
  const ProcessOwner* owner = nullptr;
  if (auto found = owners_.find(deadline.process_id); found != owners_.end()) owner = &found->second;
  std::string department = deadline.kind == "task" ? deadline.department : owner ? owner->department : "";
  std::string service = owner ? owner->service : "";
  std::string now = format_timestamp(clock_.now());
  std::string id = new_id("spw");

  nlohmann::json details = {{"level", pending.level},
                            {"kind", deadline.kind},
                            {"instance", deadline.instance_id},
                            {"application", deadline.business_key},
                            {"service", service},
                            {"department", department},
                            {"used_working_days", pending.used},
                            {"limit_working_days", deadline.working_days},
                            {"due_on", pending.due_on.to_string()}};
  auto receipt = log_.record(session, {"system", "", "supervision.warning",
                                       deadline.kind == "task" ? "workflow_task" : "workflow_instance", deadline.id, "",
                                       details});
  if (!receipt.ok()) return receipt.take_error();
  ONEWINDOW_TRY(session
                    .execute("INSERT INTO supervision_warning (id, subject, level, kind, instance_id, application_id, "
                             "process_id, service, department, assignee, used_working_days, limit_working_days, due_on, "
                             "raised_on, raised_at, log_index) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, "
                             "$13, $14, $15, $16)",
                             {id, deadline.id, pending.level, deadline.kind, deadline.instance_id, deadline.business_key,
                              deadline.process_id, service, department, deadline.assignee,
                              static_cast<std::int64_t>(pending.used), static_cast<std::int64_t>(deadline.working_days),
                              pending.due_on.to_string(), today.to_string(), now, receipt->index})
                    .status());

  std::vector<std::string> accounts;
  if (!department.empty()) {
    auto of_department = recipients_of(department);
    if (!of_department.ok()) return of_department.take_error();
    accounts = *of_department;
  }
  auto supervisors = recipients_of("");
  if (!supervisors.ok()) return supervisors.take_error();
  accounts.insert(accounts.end(), supervisors->begin(), supervisors->end());

  const bool red = pending.level == "red";
  std::string what = deadline.business_key.empty() ? deadline.instance_id : deadline.business_key;
  std::string subject = std::string(red ? "红灯：已超期 " : "黄灯：临近期限 ") + what;
  std::string body = "已用 " + std::to_string(pending.used) + " / " + std::to_string(deadline.working_days) +
                     " 个工作日，最后期限 " + pending.due_on.to_string();
  if (deadline.kind == "task") body += "（" + deadline.node_id + "）";
  // A service's process runs one application per instance, its business key the application's id.
  std::string link = !service.empty() ? "/api/v1/supervision/applications/" + deadline.business_key + "/history"
                                      : "/api/v1/workflow/instances/" + deadline.instance_id;
  return notify(session, accounts, {"", red ? "supervision.red" : "supervision.yellow", subject, body, link});
}

Status Supervision::notify(store::Session& session, const std::vector<std::string>& accounts,
                           const notification::Notice& notice) {
  for (const std::string& account : accounts) {
    notification::Notice addressed = notice;
    addressed.account_id = account;
    for (notification::Channel* channel : channels_) ONEWINDOW_TRY(channel->deliver(session, addressed));
  }
  return ok_status();
}

Result<std::vector<std::string>> Supervision::recipients_of(const std::string& department) {
  // Looked up once per pass (the pass clears the cache): accounts change between passes, and a
  // pass that raises thousands of warnings for one department asks the directory once.
  if (auto known = recipients_cache_.find(department); known != recipients_cache_.end()) return known->second;
  Result<std::vector<std::string>> found = std::vector<std::string>{};
  if (department.empty() && recipients_.supervisors) found = recipients_.supervisors();
  if (!department.empty() && recipients_.of_department) found = recipients_.of_department(department);
  if (!found.ok()) return found.take_error();
  recipients_cache_[department] = *found;
  return found;
}

Result<std::vector<Warning>> Supervision::warnings(const WarningQuery& query) const {
  if (!query.level.empty() && query.level != "yellow" && query.level != "red") {
    return Error::invalid("supervision.bad_field", "level", "level is yellow or red");
  }
  std::string sql = std::string(warning_columns) + " WHERE 1 = 1";
  store::Parameters parameters;
  auto add = [&](const char* column, const std::string& value) {
    if (value.empty()) return;
    parameters.push_back(value);
    sql += std::string(" AND ") + column + " = $" + std::to_string(parameters.size());
  };
  add("level", query.level);
  add("department", query.department);
  add("application_id", query.application_id);
  sql += " ORDER BY raised_at DESC, id DESC LIMIT " + std::to_string(std::clamp(query.limit, 1, 10000));
  return database_.read_value<std::vector<Warning>>([&](store::Session& session) -> Result<std::vector<Warning>> {
    auto rows = session.query(sql, parameters);
    if (!rows.ok()) return rows.take_error();
    std::vector<Warning> list;
    for (const auto& row : *rows) list.push_back(warning_from(row));
    return list;
  });
}

void Supervision::start() {
  std::lock_guard lock(worker_mutex_);
  if (worker_.joinable()) return;
  stopping_ = false;
  worker_ = std::thread([this] { loop(); });
}

void Supervision::stop() {
  {
    std::lock_guard lock(worker_mutex_);
    stopping_ = true;
  }
  worker_wake_.notify_all();
  if (worker_.joinable()) worker_.join();
}

void Supervision::loop() {
  std::unique_lock lock(worker_mutex_);
  while (!stopping_) {
    lock.unlock();
    auto watched = watch();
    if (!watched.ok()) log::warn("supervision: the clock pass failed: " + watched.error().message);
    auto examined = examine();
    if (!examined.ok()) log::warn("supervision: the anomaly rules failed: " + examined.error().message);
    lock.lock();
    worker_wake_.wait_for(lock, configuration_.interval, [this] { return stopping_; });
  }
}

}  // namespace onewindow::supervision
