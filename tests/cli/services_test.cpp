// The services module in-process, on SQLite and PostgreSQL: service files with mistakes are
// refused naming file, line and field; without a grant nothing is prefilled and the source says
// why; an intake check registered by the test stops a submit; the same Idempotency-Key from two
// threads at once makes one application; and an application's acceptance and its workflow
// instance commit together.
#include "cli/cli.h"
#include "testing.h"

#include <gtest/gtest.h>

#include <fstream>
#include <thread>

namespace onewindow::cli {
namespace {

constexpr const char* citizen_id = "360426199101010071";

class ServicesTest : public ::testing::TestWithParam<store::Backend> {
 protected:
  void SetUp() override {
    settings_ = *load_settings(std::nullopt, [](const char*) -> const char* { return nullptr; }, {});
    settings_.data_dir = directory_.path().string();
    settings_.config_dir = onewindow::testing::config_dir().string();
    if (GetParam() == store::Backend::postgresql) {
      schema_ = std::make_unique<onewindow::testing::PostgresSchema>();
      settings_.database.url = schema_->url();
    }
    auto built = build_platform(settings_, false);
    ASSERT_TRUE(built.ok()) << built.error().message;
    platform_ = std::move(built).value();
    ASSERT_TRUE(platform_->registries
                    ->write("person", citizen_id, {{"name", "张三"}, {"sex", "1"}, {"birth_date", "1991-01-01"}}, "户籍登记",
                            {"acc_police", "police"})
                    .ok());
  }

  services::Applications& applications() { return *platform_->applications; }

  nlohmann::json newborn_form() const {
    return {{"child_name", "张小宝"}, {"child_sex", "1"}, {"child_birth_date", "2026-11-28"},
            {"birth_hospital", "青岛市妇女儿童医院"}, {"other_parent_name", "李四"}, {"other_parent_id", "44011320141005001X"},
            {"household_address", "山东省青岛市莱西市烟台路1号"}, {"applicant_name", "张三"}};
  }

  // A copy of config/services with one file's text changed, loaded.
  Result<services::ServiceCatalog> load_changed(const std::string& file, const std::string& from, const std::string& to) {
    std::filesystem::path copy = directory_.path() / "services";
    std::filesystem::create_directories(copy);
    for (const auto& entry : std::filesystem::directory_iterator(onewindow::testing::config_dir() / "services")) {
      std::filesystem::copy_file(entry.path(), copy / entry.path().filename(), std::filesystem::copy_options::overwrite_existing);
    }
    std::string text = onewindow::testing::read_file(copy / file);
    auto at = text.find(from);
    EXPECT_NE(at, std::string::npos) << from;
    if (at != std::string::npos) text.replace(at, from.size(), to);
    onewindow::testing::write_file(copy / file, text);
    std::set<std::string> departments;
    for (const auto& department : platform_->directory_configuration->departments) departments.insert(department.key);
    return services::ServiceCatalog::load(copy, departments, *platform_->registry_catalog);
  }

  const services::Applicant citizen_{"acc_citizen", "citizen", citizen_id, "张三"};
  onewindow::testing::TemporaryDirectory directory_;
  std::unique_ptr<onewindow::testing::PostgresSchema> schema_;
  Settings settings_;
  std::unique_ptr<Platform> platform_;
};

TEST_P(ServicesTest, MistakesInServiceFilesNameFileLineAndField) {
  struct Case {
    std::string file, from, to, code, field;
  };
  for (const Case& test : std::vector<Case>{
           {"newborn.yaml", "promised_limit: 5", "promised_limit: 25", "services.promised_over_statutory", "promised_limit"},
           {"newborn.yaml", "implementing_departments: [health, police, medins, hrss]",
            "implementing_departments: [health, police, medins, fisheries]", "services.unknown_department",
            "implementing_departments"},
           {"newborn.yaml", "through: health}", "through: market}", "services.unknown_department", "form.fields.applicant_name.through"},
           {"newborn.yaml", "item: phone", "item: shoe_size", "services.unknown_item", "form.fields.applicant_phone.item"},
           {"newborn.yaml", "    child_sex:", "    child_gender:", "services.unknown_form_field", "form.fields.child_gender"},
           {"newborn.yaml", "content_types: [image/jpeg, image/png]", "content_types: [image/gif]", "config.bad_value",
            "materials[2].content_types"},
           {"newborn.yaml", "statutory_limit: 20", "statutory_limit: twenty", "config.bad_value", "statutory_limit"},
           {"newborn.yaml", "fees: []", "fees: []\ncolour: red", "config.unknown_key", "colour"},
           // What approval writes into a registry: the registry, its fields, their authority, the
           // required ones, and the form fields they come from.
           {"newborn.yaml", "  - registry: person", "  - registry: people", "services.unknown_registry", "records[0].registry"},
           {"newborn.yaml", "    holder: new_person\n    department: police",
            "    holder: applicant\n    department: police", "config.bad_value", "records[0].holder"},
           {"newborn.yaml", "    department: police\n    fields: {name: child_name",
            "    department: health\n    fields: {name: child_name", "registry.field_not_owned", "records[0].fields.name"},
           {"newborn.yaml", "fields: {name: child_name, sex: child_sex,", "fields: {name: child_name, sex: child_sex, death_date: child_birth_date,",
            "registry.field_not_owned", "records[0].fields.death_date"},
           {"newborn.yaml", "fields: {name: child_name, sex: child_sex,", "fields: {name: child_name,", "config.missing_field",
            "records[0].fields"},
           {"newborn.yaml", "birth_date: child_birth_date, household_address", "birth_date: child_birthday, household_address",
            "services.unknown_form_field", "records[0].fields.birth_date"},
           {"newborn.yaml", "household_address: household_address}", "household_address: household_address, shoe_size: child_sex}",
            "services.unknown_item", "records[0].fields.shoe_size"},
           {"newborn.form.json", "\"type\": \"object\",", "\"type\": \"object\", \"minProperties\": \"x\",", "services.bad_schema",
            "form.schema"},
       }) {
    auto loaded = load_changed(test.file, test.from, test.to);
    ASSERT_FALSE(loaded.ok()) << test.to;
    EXPECT_EQ(loaded.error().code, test.code) << test.to << ": " << loaded.error().message;
    EXPECT_EQ(loaded.error().details.value("field", ""), test.field) << test.to << ": " << loaded.error().message;
    EXPECT_NE(loaded.error().details.value("file", ""), "") << test.to;
    if (test.file.ends_with(".yaml")) EXPECT_GT(loaded.error().details.value("line", 0), 0) << test.to;
  }
}

TEST_P(ServicesTest, WithoutAGrantNothingIsPrefilledAndTheSourceSaysWhy) {
  auto made = applications().create("QD-CSYJS-001", citizen_, nlohmann::json::object(), "", false);
  ASSERT_TRUE(made.ok()) << made.error().message;
  EXPECT_FALSE(made->form.contains("applicant_name"));
  EXPECT_EQ(made->sources["applicant_name"]["source"], "none");
  EXPECT_EQ(made->sources["applicant_name"]["why"], "catalog.no_grant");
  auto reads = platform_->exchange->reads_of("person", citizen_id);
  ASSERT_TRUE(reads.ok());
  EXPECT_TRUE((*reads)["reads"].empty()) << "a refused read is not a read";
}

TEST_P(ServicesTest, AnIntakeCheckRegisteredByAModuleStopsASubmit) {
  int checked = 0;
  applications().add_intake_check("test_credit", [&](const services::ServiceItem& service, const services::Application& application) -> Status {
    ++checked;
    if (application.form.value("other_parent_name", "") == "失信人") {
      return Error(ErrorKind::conflict, "credit.joint_punishment", "a party is under joint punishment for broken trust",
                   {{"field", "other_parent_name"}});
    }
    EXPECT_EQ(service.code, "QD-CSYJS-001");
    return ok_status();
  });
  nlohmann::json form = newborn_form();
  form["other_parent_name"] = "失信人";
  auto made = applications().create("QD-CSYJS-001", citizen_, form, "", false);
  ASSERT_TRUE(made.ok());
  ASSERT_TRUE(applications().attach(made->id, citizen_, "birth_record", "a.pdf", "application/pdf", "%PDF-1.4\n").ok());
  auto refused = applications().submit(made->id, citizen_);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().code, "credit.joint_punishment");
  EXPECT_EQ(refused.error().details.value("check", ""), "test_credit");
  EXPECT_EQ(refused.error().details.value("field", ""), "other_parent_name");
  EXPECT_EQ(applications().of_applicant(made->id, citizen_)->state, "draft") << "nothing half-done";
  ASSERT_TRUE(applications().update_form(made->id, citizen_, {{"other_parent_name", "李四"}}).ok());
  auto submitted = applications().submit(made->id, citizen_);
  ASSERT_TRUE(submitted.ok()) << submitted.error().message;
  EXPECT_EQ(submitted->state, "submitted");
  EXPECT_EQ(checked, 2);
}

TEST_P(ServicesTest, OneIdempotencyKeyFromTwoThreadsMakesOneApplication) {
  std::vector<std::string> ids(4);
  std::vector<std::thread> threads;
  for (std::size_t i = 0; i < ids.size(); ++i) {
    threads.emplace_back([&, i] {
      auto made = applications().create("QD-CSYJS-001", citizen_, newborn_form(), "retry-key-1", false);
      EXPECT_TRUE(made.ok()) << made.error().code << ": " << made.error().message;
      if (made.ok()) ids[i] = made->id;
    });
  }
  for (auto& thread : threads) thread.join();
  for (const auto& id : ids) EXPECT_EQ(id, ids[0]);
  EXPECT_EQ(applications().applications_of(citizen_)->size(), 1u);
  auto other = applications().create("QD-QYKB-001", citizen_, nlohmann::json::object(), "retry-key-1", false);
  ASSERT_FALSE(other.ok());
  EXPECT_EQ(other.error().code, "services.idempotency_key_reused");
}

TEST_P(ServicesTest, AcceptanceAndItsInstanceCommitTogether) {
  auto made = applications().create("QD-CSYJS-001", citizen_, newborn_form(), "", false);
  ASSERT_TRUE(made.ok());
  ASSERT_TRUE(applications().attach(made->id, citizen_, "birth_record", "a.pdf", "application/pdf", "%PDF-1.4\n").ok());
  ASSERT_TRUE(applications().submit(made->id, citizen_).ok());
  services::Official window{"acc_window", "approval", {"official"}};
  // The same service with a process nobody deployed: the start fails, and so does the acceptance.
  auto broken = load_changed("newborn.yaml", "process: newborn", "process: no_such_process");
  ASSERT_TRUE(broken.ok()) << broken.error().message;
  services::Applications with_broken_process(*platform_->database, *platform_->transparency_log, *broken,
                                             *platform_->exchange, *platform_->workflow, platform_->clock,
                                             {directory_.path() / "materials"});
  auto failed = with_broken_process.intake(made->id, "accept", "", {}, window);
  ASSERT_FALSE(failed.ok());
  EXPECT_EQ(failed.error().code, "workflow.unknown_process");
  EXPECT_EQ(applications().of_applicant(made->id, citizen_)->state, "submitted") << "not accepted without its instance";

  auto accepted = applications().intake(made->id, "accept", "", {}, window);
  ASSERT_TRUE(accepted.ok()) << accepted.error().message;
  auto instance = platform_->workflow->instance(accepted->instance_id);
  ASSERT_TRUE(instance.ok());
  EXPECT_EQ(instance->business_key, made->id);
  EXPECT_EQ(instance->active_nodes.size(), 4u) << "the four departments at once";
  EXPECT_EQ(accepted->due_on, local_date(*parse_timestamp(instance->due_at) - std::chrono::hours(1)).to_string())
      << "the expected completion date is the last day before the instance's deadline, the promised limit in working days";
  // 5 working days from acceptance, the day of acceptance not counted.
  Date day = platform_->clock.today();
  for (int counted = 0; counted < 5;) {
    day = day.plus_days(1);
    if (*platform_->calendar->is_working_day(day)) ++counted;
  }
  EXPECT_EQ(accepted->due_on, day.to_string());
}

INSTANTIATE_TEST_SUITE_P(Backends, ServicesTest, ::testing::Values(store::Backend::sqlite, store::Backend::postgresql),
                         [](const auto& info) { return std::string(store::backend_name(info.param)); });

}  // namespace
}  // namespace onewindow::cli
