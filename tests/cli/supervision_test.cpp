// Supervision over the whole platform, in-process, on SQLite and PostgreSQL: each anomaly rule
// triggered by real acts on real applications, and acts that must not trigger it; cases closed
// once; and, over the demo's data, the metrics API, its CSV and its Excel export agreeing, and
// an application's history proven entry by entry under the signed tree head.
#include "served_process.h"

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>
#include <thread>

namespace onewindow::cli {
namespace {

constexpr const char* citizen_id = "360426199101010071";

class SupervisionTest : public ::testing::TestWithParam<store::Backend> {
 protected:
  void SetUp() override {
    settings_ = test_settings(directory_, GetParam(), schema_);
    auto built = build_platform(settings_, false);
    ASSERT_TRUE(built.ok()) << built.error().message;
    platform_ = std::move(built).value();
    ASSERT_TRUE(platform_->registries
                    ->write("person", citizen_id, {{"name", "张三"}, {"sex", "1"}, {"birth_date", "1991-01-01"}}, "户籍登记",
                            {"acc_police", "police"})
                    .ok());
  }

  // A Supervision of its own over the platform's parts, with the rules set as the test needs.
  std::unique_ptr<supervision::Supervision> supervision_with(const supervision::Configuration& configuration) {
    std::map<std::string, supervision::ProcessOwner> owners;
    for (const auto& service : platform_->service_catalog->all()) {
      owners[service.process] = {service.code, service.competent_department, service.implementing_departments};
    }
    return std::make_unique<supervision::Supervision>(*platform_->database, *platform_->transparency_log,
                                                      *platform_->workflow, *platform_->calendar, platform_->clock,
                                                      configuration, owners, supervision::Recipients{},
                                                      platform_->applications.get());
  }

  // Only the rule under test.
  static supervision::Configuration only(const std::string& rule) {
    supervision::Configuration configuration;
    configuration.rubber_stamp = rule == "rubber_stamp";
    configuration.same_official = rule == "same_official";
    configuration.outside_working_hours = rule == "outside_working_hours";
    configuration.repeated_returns = rule == "repeated_returns";
    configuration.foreign_prefill_read = rule == "foreign_prefill_read";
    return configuration;
  }

  // A newborn application at the window, accepted by `window`.
  services::Application accepted(const services::Official& window) {
    auto made = platform_->applications->create(
        "QD-CSYJS-001", citizen_,
        {{"child_name", "张小宝"}, {"child_sex", "1"}, {"child_birth_date", "2026-11-28"},
         {"birth_hospital", "青岛市妇女儿童医院"}, {"other_parent_name", "李四"},
         {"other_parent_id", "44011320141005001X"}, {"household_address", "山东省青岛市莱西市烟台路1号"},
         {"applicant_name", "张三"}},
        "", false);
    EXPECT_TRUE(made.ok()) << made.error().message;
    EXPECT_TRUE(platform_->applications->attach(made->id, citizen_, "birth_record", "a.pdf", "application/pdf", "%PDF-1.4\n").ok());
    EXPECT_TRUE(platform_->applications->submit(made->id, citizen_).ok());
    auto taken = platform_->applications->intake(made->id, "accept", "", {}, window);
    EXPECT_TRUE(taken.ok()) << taken.error().message;
    return *taken;
  }

  std::string task_of(const services::Application& application, const std::string& department) {
    auto tasks = platform_->workflow->tasks({application.instance_id, department, "", true});
    EXPECT_TRUE(tasks.ok() && !tasks->empty()) << department;
    return tasks.ok() && !tasks->empty() ? tasks->front().id : "";
  }

  Status decide(const services::Application& application, const services::Official& official, const std::string& outcome,
                std::vector<std::string> missing = {}) {
    services::Decision decision{task_of(application, official.department_key), outcome, outcome == "approve" ? "" : "原因",
                                outcome == "refuse" ? "《条例》" : "", std::move(missing)};
    return platform_->applications->decide(application.id, decision, official).status();
  }

  std::vector<supervision::AnomalyCase> cases_of(supervision::Supervision& supervision, const std::string& rule) {
    auto examined = supervision.examine();
    EXPECT_TRUE(examined.ok()) << examined.error().message;
    auto cases = supervision.cases("");
    EXPECT_TRUE(cases.ok());
    std::vector<supervision::AnomalyCase> found;
    for (const auto& anomaly : cases.ok() ? *cases : std::vector<supervision::AnomalyCase>{}) {
      if (anomaly.rule == rule) found.push_back(anomaly);
    }
    return found;
  }

  const services::Applicant citizen_{"acc_citizen", "citizen", citizen_id, "张三"};
  const services::Official window_{"acc_window", "approval", {"official"}};
  const services::Official health_{"acc_health", "health", {"official"}};
  const services::Official police_{"acc_police", "police", {"official"}};
  onewindow::testing::TemporaryDirectory directory_;
  std::unique_ptr<onewindow::testing::PostgresSchema> schema_;
  Settings settings_;
  std::unique_ptr<Platform> platform_;
};

TEST_P(SupervisionTest, RubberStampingIsATaskCompletedWithinSecondsOfOpening) {
  auto configuration = only("rubber_stamp");
  configuration.rubber_stamp_seconds = 1;
  auto supervision = supervision_with(configuration);
  auto application = accepted(window_);
  ASSERT_TRUE(decide(application, health_, "approve").ok());
  // Police looks at it for longer than the threshold.
  std::this_thread::sleep_for(std::chrono::milliseconds(1100));
  ASSERT_TRUE(decide(application, police_, "approve").ok());
  auto found = cases_of(*supervision, "rubber_stamp");
  ASSERT_EQ(found.size(), 1u);
  EXPECT_EQ(found[0].department, "health");
  EXPECT_EQ(found[0].official, "acc_health");
  EXPECT_EQ(found[0].application_id, application.id);
  EXPECT_EQ(found[0].status, "open");
  // Examining again opens nothing twice.
  EXPECT_EQ(cases_of(*supervision, "rubber_stamp").size(), 1u);
}

TEST_P(SupervisionTest, TheSameOfficialAtIntakeAndAtADecisionIsACase) {
  auto supervision = supervision_with(only("same_official"));
  // One account that works at the window and for health.
  const services::Official both_window{"acc_both", "approval", {"official"}};
  const services::Official both_health{"acc_both", "health", {"official"}};
  auto flagged = accepted(both_window);
  ASSERT_TRUE(decide(flagged, both_health, "approve").ok());
  auto clean = accepted(window_);
  ASSERT_TRUE(decide(clean, health_, "approve").ok());
  auto found = cases_of(*supervision, "same_official");
  ASSERT_EQ(found.size(), 1u);
  EXPECT_EQ(found[0].application_id, flagged.id);
  EXPECT_EQ(found[0].official, "acc_both");
}

TEST_P(SupervisionTest, ActsOutsideTheWorkingHoursAreCases) {
  // Hours that leave out the present minute, whatever it is.
  auto now = platform_->clock.now();
  auto minutes = std::chrono::duration_cast<std::chrono::minutes>(now - local_day_start(local_date(now))).count();
  auto configuration = only("outside_working_hours");
  configuration.working_hours_from = static_cast<int>((minutes + 120) % 1380);
  configuration.working_hours_to = configuration.working_hours_from + 1;
  auto supervision = supervision_with(configuration);
  auto application = accepted(window_);
  ASSERT_TRUE(decide(application, health_, "approve").ok());
  auto found = cases_of(*supervision, "outside_working_hours");
  // The intake and health's decision; the citizen's own acts are not official acts.
  ASSERT_EQ(found.size(), 2u);
  std::set<std::string> officials;
  for (const auto& anomaly : found) {
    officials.insert(anomaly.official);
    EXPECT_EQ(anomaly.application_id, application.id);
  }
  EXPECT_EQ(officials, (std::set<std::string>{"acc_window", "acc_health"}));
}

TEST(SupervisionRules, WorkingHoursFollowTheCalendar) {
  auto calendar = WorkingDayCalendar::load(onewindow::testing::config_dir() / "calendar");
  ASSERT_TRUE(calendar.ok());
  supervision::Configuration configuration;  // 08:30 to 17:30
  auto at = [](int year, unsigned month, unsigned day, int hour, int minute) {
    return local_day_start(Date(year, month, day)) + std::chrono::hours(hour) + std::chrono::minutes(minute);
  };
  // Must not: a Tuesday at 10:00, at 08:30 sharp and at 17:29; Saturday 10 October 2026, a
  // declared working day.
  EXPECT_EQ(supervision::outside_working_hours(at(2026, 12, 1, 10, 0), configuration, *calendar), false);
  EXPECT_EQ(supervision::outside_working_hours(at(2026, 12, 1, 8, 30), configuration, *calendar), false);
  EXPECT_EQ(supervision::outside_working_hours(at(2026, 12, 1, 17, 29), configuration, *calendar), false);
  EXPECT_EQ(supervision::outside_working_hours(at(2026, 10, 10, 10, 0), configuration, *calendar), false);
  // Must: before and after the hours, a Saturday, National Day.
  EXPECT_EQ(supervision::outside_working_hours(at(2026, 12, 1, 8, 29), configuration, *calendar), true);
  EXPECT_EQ(supervision::outside_working_hours(at(2026, 12, 1, 17, 30), configuration, *calendar), true);
  EXPECT_EQ(supervision::outside_working_hours(at(2026, 11, 28, 10, 0), configuration, *calendar), true);
  EXPECT_EQ(supervision::outside_working_hours(at(2026, 10, 2, 10, 0), configuration, *calendar), true);
  // A year with no calendar: not judged.
  EXPECT_EQ(supervision::outside_working_hours(at(2031, 1, 6, 10, 0), configuration, *calendar), std::nullopt);
}

TEST_P(SupervisionTest, AnApplicationReturnedAgainAndAgainIsACase) {
  auto supervision = supervision_with(only("repeated_returns"));
  const std::string png = std::string("\x89PNG\r\n\x1a\n", 8) + std::string(32, '\0');
  auto returned_twice = accepted(window_);
  for (int round = 0; round < 2; ++round) {
    ASSERT_TRUE(decide(returned_twice, police_, "correction", {"photo"}).ok()) << round;
    ASSERT_TRUE(platform_->applications->attach(returned_twice.id, citizen_, "photo", "p.png", "image/png", png).ok());
    auto supplied = platform_->applications->supply_correction(returned_twice.id, citizen_);
    ASSERT_TRUE(supplied.ok()) << supplied.error().message;
  }
  auto returned_once = accepted(window_);
  ASSERT_TRUE(decide(returned_once, police_, "correction", {"photo"}).ok());
  auto found = cases_of(*supervision, "repeated_returns");
  ASSERT_EQ(found.size(), 1u);
  EXPECT_EQ(found[0].application_id, returned_twice.id);
  EXPECT_NE(found[0].detail.find("2 times"), std::string::npos) << found[0].detail;
}

TEST_P(SupervisionTest, APrefillReadByADepartmentNotImplementingTheServiceIsACase) {
  auto supervision = supervision_with(only("foreign_prefill_read"));
  auto resource = platform_->catalog->registry_resource("person");
  ASSERT_TRUE(resource.ok());
  for (const std::string department : {"health", "market"}) {
    auto requested = platform_->catalog->request_grant(
        {resource->id, {"name"}, "表单预填 prefill", "《优化营商环境条例》第三十七条", "2030-12-31"},
        {"acc_" + department, department, ""});
    ASSERT_TRUE(requested.ok()) << requested.error().message;
    ASSERT_TRUE(platform_->catalog->decide(requested->id, true, "", {"acc_police", "police", ""}).ok());
  }
  // Health implements the newborn pack; market does not.
  ASSERT_TRUE(platform_->exchange->read({resource->id, {citizen_id}, {"name"}}, {"service:QD-CSYJS-001", "health"}).ok());
  ASSERT_TRUE(platform_->exchange->read({resource->id, {citizen_id}, {"name"}}, {"service:QD-CSYJS-001", "market"}).ok());
  // Market's own read for its own purposes is no prefill.
  ASSERT_TRUE(platform_->exchange->read({resource->id, {citizen_id}, {"name"}}, {"acc_market", "market"}).ok());
  auto found = cases_of(*supervision, "foreign_prefill_read");
  ASSERT_EQ(found.size(), 1u);
  EXPECT_EQ(found[0].department, "market");
}

TEST_P(SupervisionTest, ACaseIsClosedOnceWithAComment) {
  auto configuration = only("rubber_stamp");
  auto supervision = supervision_with(configuration);
  auto application = accepted(window_);
  ASSERT_TRUE(decide(application, health_, "approve").ok());
  auto found = cases_of(*supervision, "rubber_stamp");
  ASSERT_EQ(found.size(), 1u);
  auto empty = supervision->close_case(found[0].id, "", "acc_supervisor");
  ASSERT_FALSE(empty.ok());
  EXPECT_EQ(empty.error().code, "supervision.bad_field");
  EXPECT_EQ(empty.error().details.value("field", ""), "comment");
  auto closed = supervision->close_case(found[0].id, "已核实：材料齐全，审查属实", "acc_supervisor");
  ASSERT_TRUE(closed.ok()) << closed.error().message;
  EXPECT_EQ(closed->status, "closed");
  EXPECT_EQ(closed->closed_by, "acc_supervisor");
  auto again = supervision->close_case(found[0].id, "again", "acc_supervisor");
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.error().code, "supervision.case_closed");
  auto unknown = supervision->close_case("spc_nothing", "x", "acc_supervisor");
  ASSERT_FALSE(unknown.ok());
  EXPECT_EQ(unknown.error().code, "supervision.case_not_found");
  EXPECT_EQ(supervision->cases("open")->size(), 0u);
  EXPECT_EQ(supervision->cases("closed")->size(), 1u);
}

// The demo's data: metrics as JSON, CSV and Excel say the same; the history of the approved
// application proves each act under the signed tree head.
TEST_P(SupervisionTest, OnTheDemoDataTheMetricsAndTheirExportsAgreeAndHistoriesProve) {
  auto seeded = seed_demo(*platform_);
  ASSERT_TRUE(seeded.ok()) << seeded.error().message;
  const Date today = platform_->clock.today();
  for (const std::string by : {"service", "department", "official"}) {
    auto metrics = platform_->reports->metrics({today.plus_days(-30), today, by});
    ASSERT_TRUE(metrics.ok()) << metrics.error().message;
    ASSERT_FALSE(metrics->rows.empty()) << by;
    nlohmann::json json = metrics->to_json();

    // CSV: one line per row, the same numbers.
    std::istringstream csv(metrics->to_csv());
    std::string header;
    std::getline(csv, header);
    EXPECT_EQ(header, "key,name,received,accepted,completed,completed_on_time,overdue,refused,corrections,"
                      "median_working_days,p90_working_days,ratings,bad_ratings,bad_ratings_answered_in_time\r");
    std::vector<std::string> lines;
    for (std::string line; std::getline(csv, line);) lines.push_back(line);
    ASSERT_EQ(lines.size(), json["rows"].size()) << by;

    // Excel: read back with Python's zipfile, cell by cell.
    auto workbook = metrics->to_xlsx();
    ASSERT_TRUE(workbook.ok()) << workbook.error().message;
    auto file = directory_.path() / ("metrics-" + by + ".xlsx");
    onewindow::testing::write_file(file, *workbook);
    auto script = directory_.path() / "read_xlsx.py";
    onewindow::testing::write_file(script, R"py(import sys, zipfile, re, json
book = zipfile.ZipFile(sys.argv[1])
shared = re.findall(r'<t[^>]*>([^<]*)</t>', book.read('xl/sharedStrings.xml').decode()) if 'xl/sharedStrings.xml' in book.namelist() else []
sheet = book.read('xl/worksheets/sheet1.xml').decode()
rows = []
for row in re.findall(r'<row[^>]*>(.*?)</row>', sheet):
    cells = []
    for attributes, value in re.findall(r'<c ([^>]*)><v>([^<]*)</v></c>', row):
        cells.append(shared[int(value)] if 't="s"' in attributes else float(value))
    rows.append(cells)
print(json.dumps(rows, ensure_ascii=False))
)py");
    auto read = onewindow::testing::run_command("python3 " + script.string() + " " + file.string());
    ASSERT_EQ(read.exit_code, 0) << read.output;
    nlohmann::json sheet = nlohmann::json::parse(read.output);
    ASSERT_GE(sheet.size(), json["rows"].size() + 1) << by;
    for (std::size_t index = 0; index < json["rows"].size(); ++index) {
      const nlohmann::json& row = json["rows"][index];
      const nlohmann::json& cells = sheet[index + 1];
      EXPECT_EQ(cells[0], row["key"]) << by;
      EXPECT_EQ(cells[1], row["name"]) << by;
      std::ostringstream expected_line;
      expected_line << row["received"].get<std::int64_t>() << "," << row["accepted"].get<std::int64_t>() << ","
                    << row["completed"].get<std::int64_t>();
      EXPECT_NE(lines[index].find("," + expected_line.str() + ","), std::string::npos) << lines[index];
      int column = 2;
      for (const char* field : {"received", "accepted", "completed", "completed_on_time", "overdue", "refused",
                                "corrections", "median_working_days", "p90_working_days", "ratings", "bad_ratings",
                                "bad_ratings_answered_in_time"}) {
        EXPECT_DOUBLE_EQ(cells[column++].get<double>(), row[field].get<double>()) << by << " " << field;
      }
    }
  }

  // The demo's applications: one approved, one overdue, one refused, one in correction.
  auto by_service = platform_->reports->metrics({today.plus_days(-30), today, "service"});
  ASSERT_TRUE(by_service.ok());
  std::int64_t received = 0, completed = 0, refused = 0, overdue = 0, corrections = 0, ratings = 0;
  for (const auto& row : by_service->rows) {
    received += row.received;
    completed += row.completed;
    refused += row.refused;
    overdue += row.overdue;
    corrections += row.corrections;
    ratings += row.ratings;
  }
  EXPECT_EQ(completed, 2) << "approved and refused";
  EXPECT_EQ(refused, 1);
  EXPECT_GE(overdue, 1) << "the one accepted days ago";
  EXPECT_GE(corrections, 1);
  EXPECT_EQ(ratings, 1);
  EXPECT_GE(received, 7) << "every application but the draft";

  // The history of the approved application, each act proven.
  auto listed = platform_->reports->applications(today.plus_days(-30), today, "", "approved");
  ASSERT_TRUE(listed.ok());
  ASSERT_FALSE((*listed)["applications"].empty());
  std::string approved = (*listed)["applications"][0]["id"];
  ASSERT_TRUE(platform_->transparency_log->sign_tree_head().ok());
  auto history = platform_->reports->history(approved);
  ASSERT_TRUE(history.ok()) << history.error().message;
  auto head = platform_->transparency_log->latest_tree_head();
  ASSERT_TRUE(head.ok());
  std::set<std::string> acts;
  for (const auto& act : (*history)["acts"]) {
    acts.insert(act["act"]);
    ASSERT_FALSE(act["proof"].is_null()) << act.dump();
    std::vector<crypto::Sm3Digest> path;
    for (const auto& hash : act["proof"]["audit_path"]) {
      auto bytes = crypto::from_hex(hash.get<std::string>());
      ASSERT_TRUE(bytes.ok());
      crypto::Sm3Digest digest{};
      std::copy(bytes->begin(), bytes->end(), digest.begin());
      path.push_back(digest);
    }
    auto leaf = audit::leaf_hash(act["entry"].get<std::string>());
    EXPECT_EQ(crypto::to_hex(leaf), act["leaf_hash"]);
    EXPECT_TRUE(audit::verify_inclusion(act["log_index"], head->tree_size, leaf, path, head->root_hash).ok())
        << act["act"];
  }
  for (const char* act : {"services.submit", "services.intake", "services.decide", "services.rate", "workflow.start",
                          "workflow.complete"}) {
    EXPECT_TRUE(acts.contains(act)) << act;
  }
  auto unknown = platform_->reports->history("app_nothing");
  ASSERT_FALSE(unknown.ok());
  EXPECT_EQ(unknown.error().code, "supervision.application_not_found");
}

INSTANTIATE_TEST_SUITE_P(Backends, SupervisionTest, ::testing::Values(store::Backend::sqlite, store::Backend::postgresql),
                         [](const auto& info) { return std::string(store::backend_name(info.param)); });

}  // namespace
}  // namespace onewindow::cli
