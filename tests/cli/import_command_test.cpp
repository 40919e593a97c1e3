// `onewindow generate` then `onewindow import`, killed with SIGKILL in the middle of the import and
// run again: the import resumes after its last committed batch, and every generated person is
// stored exactly once. On SQLite (the process is killed, so the file must be left consistent) and
// on PostgreSQL.
#include "cli/cli.h"
#include "testing.h"

#include <gtest/gtest.h>

#include <fstream>

namespace onewindow::cli {
namespace {

using onewindow::testing::run_command;
using onewindow::testing::TemporaryDirectory;

class ImportCommand : public ::testing::TestWithParam<store::Backend> {
 protected:
  void SetUp() override {
    if (GetParam() == store::Backend::postgresql) schema_ = std::make_unique<onewindow::testing::PostgresSchema>();
  }

  std::string common_flags() const {
    std::string flags = " --data-dir " + (directory_.path() / "data").string() + " --config-dir " +
                        onewindow::testing::config_dir().string();
    if (schema_) flags += " --database-url '" + schema_->url() + "'";
    return flags;
  }

  std::int64_t count(const std::string& sql) {
    store::Options options;
    options.data_directory = (directory_.path() / "data").string();
    if (schema_) options.url = schema_->url();
    auto database = store::Database::open(options);
    EXPECT_TRUE(database.ok());
    auto value = (*database)->read_value<std::int64_t>([&](store::Session& session) -> Result<std::int64_t> {
      auto row = session.query_one(sql);
      if (!row.ok()) return row.take_error();
      return (*row)->integer(0);
    });
    EXPECT_TRUE(value.ok()) << value.error().message;
    return value.ok() ? *value : -1;
  }

  TemporaryDirectory directory_;
  std::unique_ptr<onewindow::testing::PostgresSchema> schema_;
};

TEST_P(ImportCommand, AKilledImportResumesWithoutDuplicatesOrLosses) {
  const std::string binary = onewindow::testing::onewindow_binary().string();
  const std::string csv = (directory_.path() / "csv").string();
  constexpr int persons = 60000;
  auto generated = run_command(binary + " generate --persons " + std::to_string(persons) + " --enterprises 0 --output " + csv +
                               common_flags() + " 2>&1");
  ASSERT_EQ(generated.exit_code, 0) << generated.output;
  EXPECT_NE(generated.output.find("person.police.csv  60000 rows"), std::string::npos) << generated.output;

  // The import in the background; as soon as its progress bar shows it under way, SIGKILL.
  std::string import = binary + " import person " + csv + "/person.police.csv --department police --batch-rows 100" +
                       common_flags();
  std::string progress = (directory_.path() / "progress.txt").string();
  auto killed = run_command(import + " 2>" + progress + " & pid=$!; "
                            "for i in $(seq 1 3000); do "
                            "  if tr '\\r' '\\n' < " + progress + " | grep -Eq '^\\[.*\\] +[1-9][0-9]?%'; then kill -9 $pid; break; fi; "
                            "  sleep 0.02; "
                            "done; wait $pid; echo \"exit=$?\"");
  ASSERT_NE(killed.output.find("exit=137"), std::string::npos) << "the import was not killed midway: " << killed.output;
  std::int64_t stored_before = count("SELECT COUNT(*) FROM registry_record");
  EXPECT_GT(stored_before, 0);
  EXPECT_LT(stored_before, persons);
  EXPECT_EQ(stored_before, count("SELECT rows_created FROM registry_import"));

  auto resumed = run_command(import + " 2>&1");
  ASSERT_EQ(resumed.exit_code, 0) << resumed.output;
  EXPECT_NE(resumed.output.find("resuming import"), std::string::npos) << resumed.output;
  EXPECT_NE(resumed.output.find("finished: 60000 rows read, 60000 created, 0 updated, 0 rejected"), std::string::npos)
      << resumed.output;
  EXPECT_EQ(count("SELECT COUNT(*) FROM registry_record WHERE registry = 'person'"), persons);
  // A row written again would be a second version of its record.
  EXPECT_EQ(count("SELECT COUNT(*) FROM registry_record WHERE version = 1"), persons) << "no row was written twice";
  EXPECT_EQ(count("SELECT COUNT(*) FROM registry_change"), 0);
  EXPECT_EQ(count("SELECT COUNT(*) FROM registry_import"), 1);

  auto verified = run_command(binary + " audit verify" + common_flags() + " 2>&1");
  EXPECT_EQ(verified.exit_code, 0) << verified.output;
}

INSTANTIATE_TEST_SUITE_P(Backends, ImportCommand, ::testing::Values(store::Backend::sqlite, store::Backend::postgresql),
                         [](const auto& info) { return std::string(store::backend_name(info.param)); });

}  // namespace
}  // namespace onewindow::cli
