// `onewindow audit verify` against a log tampered with directly in the database, as an intruder
// with database access would: on SQLite and on PostgreSQL.
#include "cli/cli.h"
#include "testing.h"

#include <gtest/gtest.h>

namespace onewindow::cli {
namespace {

using onewindow::testing::TemporaryDirectory;

class AuditVerifyCommand : public ::testing::TestWithParam<store::Backend> {
 protected:
  void SetUp() override {
    settings_ = *load_settings(std::nullopt, [](const char*) -> const char* { return nullptr; }, {});
    settings_.data_dir = directory_.path().string();
    settings_.config_dir = onewindow::testing::config_dir().string();
    if (GetParam() == store::Backend::postgresql) {
      schema_ = std::make_unique<onewindow::testing::PostgresSchema>();
      settings_.database.url = schema_->url();
    }
    // A platform's first start records the departments and the configured single sign-on
    // clients (over 20 entries); then a tree head is signed.
    auto platform = build_platform(settings_);
    ASSERT_TRUE(platform.ok()) << platform.error().message;
    ASSERT_TRUE((*platform)->transparency_log->sign_tree_head().ok());
  }

  onewindow::testing::CommandOutput verify() {
    std::string command = onewindow::testing::onewindow_binary().string() + " audit verify --data-dir " +
                          settings_.data_dir + " --config-dir " + settings_.config_dir;
    if (schema_) command += " --database-url '" + schema_->url() + "'";
    return onewindow::testing::run_command(command);
  }

  void tamper(const std::string& sql) {
    store::Options options;
    options.data_directory = settings_.data_dir;
    if (schema_) options.url = schema_->url();
    auto database = store::Database::open(options);
    ASSERT_TRUE(database.ok());
    Status changed = (*database)->write([&](store::Session& session) -> Status { return session.execute_script(sql); });
    ASSERT_TRUE(changed.ok()) << changed.error().message;
  }

  TemporaryDirectory directory_;
  std::unique_ptr<onewindow::testing::PostgresSchema> schema_;
  Settings settings_;
};

TEST_P(AuditVerifyCommand, AnUntouchedLogVerifies) {
  auto result = verify();
  EXPECT_EQ(result.exit_code, 0) << result.output;
  EXPECT_THAT(result.output, ::testing::StartsWith("ok: "));
  EXPECT_THAT(result.output, ::testing::HasSubstr("entries"));
}

TEST_P(AuditVerifyCommand, AnEditedEntryIsNamed) {
  tamper("UPDATE audit_entry SET content = REPLACE(content, 'department', 'departmenT') WHERE entry_index = 7");
  auto result = verify();
  EXPECT_EQ(result.exit_code, 1) << result.output;
  EXPECT_THAT(result.output, ::testing::HasSubstr("7"));
  EXPECT_THAT(result.output, ::testing::HasSubstr("changed"));
}

TEST_P(AuditVerifyCommand, ADeletedEntryIsNamed) {
  tamper("DELETE FROM audit_entry WHERE entry_index = 11");
  auto result = verify();
  EXPECT_EQ(result.exit_code, 1) << result.output;
  EXPECT_THAT(result.output, ::testing::HasSubstr("11"));
  EXPECT_THAT(result.output, ::testing::HasSubstr("missing"));
}

TEST_P(AuditVerifyCommand, ReorderedEntriesAreNamed) {
  tamper("UPDATE audit_entry SET entry_index = -1 WHERE entry_index = 3;"
         "UPDATE audit_entry SET entry_index = 3 WHERE entry_index = 4;"
         "UPDATE audit_entry SET entry_index = 4 WHERE entry_index = -1");
  auto result = verify();
  EXPECT_EQ(result.exit_code, 1) << result.output;
  EXPECT_THAT(result.output, ::testing::HasSubstr("3"));
  EXPECT_THAT(result.output, ::testing::HasSubstr("reordered"));
}

INSTANTIATE_TEST_SUITE_P(Backends, AuditVerifyCommand,
                         ::testing::Values(store::Backend::sqlite, store::Backend::postgresql),
                         [](const auto& info) { return std::string(store::backend_name(info.param)); });

}  // namespace
}  // namespace onewindow::cli
