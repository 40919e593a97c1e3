// Performance evaluation (metrics, CSV and Excel) and the full history of an application.
#include "supervision/supervision.h"

#include "crypto/crypto.h"

#include <xlsxwriter.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace onewindow::supervision {

namespace {

struct Tally {
  MetricsRow row;
  std::vector<int> working_days;  // of what was completed
};

double percentile(std::vector<int> values, double share) {
  if (values.empty()) return 0;
  std::sort(values.begin(), values.end());
  // Nearest rank above the share, interpolated between neighbours (the median of 2 and 3 is 2.5).
  double position = share * static_cast<double>(values.size() - 1);
  auto below = static_cast<std::size_t>(position);
  double fraction = position - static_cast<double>(below);
  if (below + 1 >= values.size()) return values.back();
  return values[below] + fraction * (values[below + 1] - values[below]);
}

const std::vector<std::string>& column_names() {
  static const std::vector<std::string> names = {
      "key",       "name",        "received",            "accepted", "completed", "completed_on_time",
      "overdue",   "refused",     "corrections",         "median_working_days", "p90_working_days",
      "ratings",   "bad_ratings", "bad_ratings_answered_in_time"};
  return names;
}

std::string csv_field(const std::string& text) {
  if (text.find_first_of(",\"\r\n") == std::string::npos) return text;
  std::string quoted = "\"";
  for (char c : text) {
    if (c == '"') quoted += '"';
    quoted += c;
  }
  return quoted + "\"";
}

std::string number_text(double value) {
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, "%.1f", value);
  return buffer;
}

// The local date of a timestamp; nullopt when it does not read.
std::optional<Date> day_of(const std::string& timestamp) {
  auto time = parse_timestamp(timestamp, "time");
  if (!time.ok()) return std::nullopt;
  return local_date(*time);
}

// The last day of a deadline (due_at is the first instant past it).
std::optional<Date> last_day_of(const std::string& due_at) {
  auto time = parse_timestamp(due_at, "due_at");
  if (!time.ok()) return std::nullopt;
  return local_date(*time - std::chrono::milliseconds(1));
}

}  // namespace

nlohmann::json MetricsRow::to_json() const {
  return {{"key", key},
          {"name", name},
          {"received", received},
          {"accepted", accepted},
          {"completed", completed},
          {"completed_on_time", completed_on_time},
          {"overdue", overdue},
          {"refused", refused},
          {"corrections", corrections},
          {"median_working_days", median_working_days},
          {"p90_working_days", p90_working_days},
          {"ratings", ratings},
          {"bad_ratings", bad_ratings},
          {"bad_ratings_answered_in_time", bad_ratings_answered_in_time}};
}

nlohmann::json Metrics::to_json() const {
  nlohmann::json list = nlohmann::json::array();
  for (const MetricsRow& row : rows) list.push_back(row.to_json());
  return {{"from", query.from.to_string()}, {"to", query.to.to_string()}, {"by", query.by}, {"rows", list}};
}

std::string Metrics::to_csv() const {
  std::string text;
  for (std::size_t column = 0; column < column_names().size(); ++column) {
    if (column) text += ',';
    text += column_names()[column];
  }
  text += "\r\n";
  for (const MetricsRow& row : rows) {
    text += csv_field(row.key) + ',' + csv_field(row.name) + ',' + std::to_string(row.received) + ',' +
            std::to_string(row.accepted) + ',' + std::to_string(row.completed) + ',' +
            std::to_string(row.completed_on_time) + ',' + std::to_string(row.overdue) + ',' +
            std::to_string(row.refused) + ',' + std::to_string(row.corrections) + ',' +
            number_text(row.median_working_days) + ',' + number_text(row.p90_working_days) + ',' +
            std::to_string(row.ratings) + ',' + std::to_string(row.bad_ratings) + ',' +
            std::to_string(row.bad_ratings_answered_in_time) + "\r\n";
  }
  return text;
}

Result<std::string> Metrics::to_xlsx() const {
  // libxlsxwriter writes to a file; it is read back and removed.
  auto directory = std::filesystem::temp_directory_path();
  std::string path = (directory / ("onewindow-metrics-" + std::to_string(reinterpret_cast<std::uintptr_t>(this)) + "-" +
                                   std::to_string(std::chrono::steady_clock::now().time_since_epoch().count()) + ".xlsx"))
                         .string();
  auto failed = [&](const std::string& what) {
    std::filesystem::remove(path);
    return Error(ErrorKind::internal, "supervision.export_failed", "the Excel export failed: " + what);
  };
  lxw_workbook* workbook = workbook_new(path.c_str());
  if (!workbook) return failed("cannot create the workbook");
  lxw_worksheet* sheet = workbook_add_worksheet(workbook, "metrics");
  lxw_format* bold = workbook_add_format(workbook);
  format_set_bold(bold);
  for (std::size_t column = 0; column < column_names().size(); ++column) {
    worksheet_write_string(sheet, 0, static_cast<lxw_col_t>(column), column_names()[column].c_str(), bold);
  }
  lxw_row_t line = 1;
  for (const MetricsRow& row : rows) {
    worksheet_write_string(sheet, line, 0, row.key.c_str(), nullptr);
    worksheet_write_string(sheet, line, 1, row.name.c_str(), nullptr);
    const double values[] = {static_cast<double>(row.received),  static_cast<double>(row.accepted),
                             static_cast<double>(row.completed), static_cast<double>(row.completed_on_time),
                             static_cast<double>(row.overdue),   static_cast<double>(row.refused),
                             static_cast<double>(row.corrections), row.median_working_days,
                             row.p90_working_days,               static_cast<double>(row.ratings),
                             static_cast<double>(row.bad_ratings),
                             static_cast<double>(row.bad_ratings_answered_in_time)};
    for (std::size_t index = 0; index < std::size(values); ++index) {
      worksheet_write_number(sheet, line, static_cast<lxw_col_t>(index + 2), values[index], nullptr);
    }
    ++line;
  }
  worksheet_write_string(sheet, line + 1, 0, ("from " + query.from.to_string() + " to " + query.to.to_string() +
                                               ", by " + query.by).c_str(), nullptr);
  if (workbook_close(workbook) != LXW_NO_ERROR) return failed("cannot write the workbook");
  std::ifstream in(path, std::ios::binary);
  std::stringstream bytes;
  bytes << in.rdbuf();
  std::filesystem::remove(path);
  return bytes.str();
}

Reports::Reports(const services::Applications& applications, workflow::Engine& engine, audit::TransparencyLog& log,
                 const WorkingDayCalendar& calendar, const Clock& clock,
                 std::map<std::string, std::string> department_names)
    : applications_(applications),
      engine_(engine),
      log_(log),
      calendar_(calendar),
      clock_(clock),
      department_names_(std::move(department_names)) {}

Result<Metrics> Reports::metrics(const MetricsQuery& query) const {
  if (query.by != "service" && query.by != "department" && query.by != "official") {
    return Error::invalid("supervision.bad_field", "by", "by is service, department or official");
  }
  if (query.to < query.from) return Error::invalid("supervision.bad_field", "to", "to is before from");
  if ((query.to.days() - query.from.days()).count() > 3660) {
    return Error::invalid("supervision.bad_field", "to", "a period is at most ten years");
  }
  auto applications = applications_.submitted_between(query.from, query.to);
  if (!applications.ok()) return applications.take_error();
  const Date today = clock_.today();
  std::map<std::string, Tally> tallies;
  auto tally = [&](const std::string& key) -> Tally& {
    Tally& found = tallies[key];
    found.row.key = key;
    return found;
  };
  // Working days of a limit used by `end`, suspensions excluded: the limit less what was left.
  auto used_by = [&](int limit, Date end, Date last_day) -> std::optional<int> {
    auto left = calendar_.working_days_between(end, last_day);
    if (!left.ok()) return std::nullopt;
    return limit - *left;
  };
  auto late = [&](Date end, Date last_day) {
    auto left = calendar_.working_days_between(end, last_day);
    return left.ok() && *left < 0;
  };

  for (const services::Application& application : *applications) {
    const services::ServiceItem* service = applications_.services().find(application.service);
    auto events = applications_.events(application.id);
    if (!events.ok()) return events.take_error();
    const services::ApplicationEvent* intake = nullptr;
    for (const auto& event : *events) {
      if (event.action == "intake") intake = &event;
    }
    const bool accepted = !application.accepted_at.empty();
    const bool finished = application.state == "approved" || application.state == "refused";
    std::optional<Date> due;
    if (auto parsed = Date::parse(application.due_on); parsed.ok()) due = *parsed;
    std::optional<Date> finished_on = finished ? day_of(application.finished_at) : std::nullopt;
    bool answered_in_time = false;
    if (!application.follow_up_instance.empty()) {
      auto follow_up = engine_.tasks({application.follow_up_instance, "", "", false});
      if (follow_up.ok()) {
        for (const auto& task : *follow_up) {
          // The first step of the follow-up is the call back.
          if (task.status == "completed" && !task.due_at.empty() && task.ended_at < task.due_at) answered_in_time = true;
          break;
        }
      }
    }

    if (query.by == "service") {
      Tally& row = tally(application.service);
      row.row.name = service ? service->name : application.service;
      ++row.row.received;
      if (accepted) ++row.row.accepted;
      if (finished) ++row.row.completed;
      if (application.state == "refused") ++row.row.refused;
      for (const auto& event : *events) {
        if (event.action == "decide" && event.details.value("outcome", "") == "correction") ++row.row.corrections;
      }
      if (finished && due && finished_on) {
        if (late(*finished_on, *due)) {
          ++row.row.overdue;
        } else {
          ++row.row.completed_on_time;
        }
        if (service) {
          if (auto used = used_by(service->promised_limit, *finished_on, *due)) row.working_days.push_back(*used);
        }
      } else if (application.state == "accepted" && due && late(today, *due)) {
        ++row.row.overdue;
      }
      if (application.rating > 0) {
        ++row.row.ratings;
        if (application.rating <= 2) {
          ++row.row.bad_ratings;
          if (answered_in_time) ++row.row.bad_ratings_answered_in_time;
        }
      }
      continue;
    }

    // By department or official: the window's part, then each review task.
    const bool by_department = query.by == "department";
    std::vector<workflow::TaskView> tasks;
    if (!application.instance_id.empty()) {
      auto found = engine_.tasks({application.instance_id, "", "", false});
      if (!found.ok()) return found.take_error();
      tasks = std::move(found).value();
    }
    if (intake || application.state == "submitted") {
      std::string key = by_department ? (intake ? intake->department : service ? service->intake_department : "")
                                      : (intake ? intake->actor : "");
      if (!key.empty()) {
        Tally& row = tally(key);
        ++row.row.received;
        if (accepted) ++row.row.accepted;
        if (intake && intake->details.value("decision", "") == "reject") ++row.row.refused;
      }
    }
    for (const workflow::TaskView& task : tasks) {
      std::string key = by_department ? task.candidate_department : !task.ended_by.empty() ? task.ended_by : task.assignee;
      if (key.empty()) continue;
      Tally& row = tally(key);
      ++row.row.received;
      ++row.row.accepted;
      auto last_day = task.due_at.empty() ? std::nullopt : last_day_of(task.due_at);
      if (task.status == "completed") {
        ++row.row.completed;
        if (task.outcome == "refuse") ++row.row.refused;
        auto ended = day_of(task.ended_at);
        if (last_day && ended) {
          if (late(*ended, *last_day)) {
            ++row.row.overdue;
          } else {
            ++row.row.completed_on_time;
          }
          if (task.working_days > 0) {
            if (auto used = used_by(task.working_days, *ended, *last_day)) row.working_days.push_back(*used);
          }
        }
      } else if ((task.status == "open" || task.status == "waiting") && application.state == "accepted" && last_day &&
                 late(today, *last_day)) {
        ++row.row.overdue;
      }
    }
    for (const auto& event : *events) {
      if (event.action != "decide" || event.details.value("outcome", "") != "correction") continue;
      std::string key = by_department ? event.department : event.actor;
      if (!key.empty()) ++tally(key).row.corrections;
    }
    if (by_department && service && application.rating > 0) {
      Tally& row = tally(service->competent_department);
      ++row.row.ratings;
      if (application.rating <= 2) {
        ++row.row.bad_ratings;
        if (answered_in_time) ++row.row.bad_ratings_answered_in_time;
      }
    }
  }

  Metrics metrics;
  metrics.query = query;
  for (auto& [key, tally] : tallies) {
    MetricsRow row = tally.row;
    if (query.by == "department") {
      auto name = department_names_.find(key);
      row.name = name != department_names_.end() ? name->second : key;
    } else if (query.by == "official") {
      row.name = key;
    }
    row.median_working_days = percentile(tally.working_days, 0.5);
    row.p90_working_days = percentile(tally.working_days, 0.9);
    metrics.rows.push_back(std::move(row));
  }
  return metrics;
}

Result<nlohmann::json> Reports::applications(Date from, Date to, const std::string& service,
                                             const std::string& state) const {
  if (to < from) return Error::invalid("supervision.bad_field", "to", "to is before from");
  auto applications = applications_.submitted_between(from, to);
  if (!applications.ok()) return applications.take_error();
  const Date today = clock_.today();
  nlohmann::json list = nlohmann::json::array();
  for (auto application = applications->rbegin(); application != applications->rend() && list.size() < 1000;
       ++application) {
    if (!service.empty() && application->service != service) continue;
    if (!state.empty() && application->state != state) continue;
    bool overdue = false;
    if (application->state == "accepted" && !application->due_on.empty()) {
      auto due = Date::parse(application->due_on);
      auto left = due.ok() ? calendar_.working_days_between(today, *due) : Result<int>(due.error());
      overdue = left.ok() && *left < 0;
    }
    list.push_back({{"id", application->id},
                    {"service_code", application->service},
                    {"applicant", application->applicant},
                    {"status", application->state},
                    {"submitted_at", application->submitted_at},
                    {"accepted_at", application->accepted_at},
                    {"due_on", application->due_on},
                    {"finished_at", application->finished_at},
                    {"overdue", overdue}});
  }
  return nlohmann::json{{"from", from.to_string()}, {"to", to.to_string()}, {"applications", list}};
}

Result<nlohmann::json> Reports::history(std::string_view application_id) const {
  auto application = applications_.find(application_id);
  if (!application.ok()) {
    if (application.error().code == "services.application_not_found") {
      return Error(ErrorKind::not_found, "supervision.application_not_found",
                   "no application " + std::string(application_id), {{"field", "id"}});
    }
    return application.take_error();
  }
  auto events = applications_.events(application->id);
  if (!events.ok()) return events.take_error();
  nlohmann::json acts = nlohmann::json::array();
  for (const auto& event : *events) {
    acts.push_back({{"at", event.at},
                    {"actor", event.actor},
                    {"act", "services." + event.action},
                    {"department", event.department},
                    {"details", event.details},
                    {"log_index", event.log_index}});
  }
  for (const std::string& instance : {application->instance_id, application->follow_up_instance}) {
    if (instance.empty()) continue;
    auto steps = engine_.history(instance);
    if (!steps.ok()) return steps.take_error();
    for (const auto& step : *steps) {
      acts.push_back({{"at", step.at},
                      {"actor", step.actor},
                      {"act", "workflow." + step.action},
                      {"department", ""},
                      {"details", {{"instance", instance}, {"trace", step.trace}}},
                      {"log_index", step.log_index}});
    }
  }
  std::stable_sort(acts.begin(), acts.end(), [](const nlohmann::json& left, const nlohmann::json& right) {
    return left["log_index"].get<std::int64_t>() < right["log_index"].get<std::int64_t>();
  });

  // Each act's entry, and its inclusion proof under the latest signed tree head when the head
  // covers it (the signer catches up within its interval).
  auto head = log_.latest_tree_head();
  nlohmann::json tree_head = nullptr;
  if (head.ok()) {
    tree_head = {{"tree_size", head->tree_size},
                 {"timestamp", head->timestamp},
                 {"root_hash", crypto::to_hex(head->root_hash)},
                 {"signature", crypto::to_hex(head->signature)},
                 {"signed_message", head->signed_message()}};
  }
  for (nlohmann::json& act : acts) {
    const std::int64_t index = act["log_index"];
    auto entry = log_.entry(index);
    if (!entry.ok()) return entry.take_error();
    act["entry"] = entry->content;
    act["leaf_hash"] = crypto::to_hex(entry->leaf_hash);
    if (head.ok() && index < head->tree_size) {
      auto path = log_.inclusion_proof(index, head->tree_size);
      if (!path.ok()) return path.take_error();
      nlohmann::json hashes = nlohmann::json::array();
      for (const auto& hash : *path) hashes.push_back(crypto::to_hex(hash));
      act["proof"] = {{"tree_size", head->tree_size}, {"audit_path", hashes}};
    } else {
      act["proof"] = nullptr;
    }
  }
  return nlohmann::json{{"application", application->to_json()}, {"acts", acts}, {"tree_head", tree_head}};
}

}  // namespace onewindow::supervision
