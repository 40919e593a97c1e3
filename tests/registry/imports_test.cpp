// Bulk imports from CSV: valid rows written in batches, rejected rows reported by line, GB18030,
// an interrupted import resumed without duplicates or losses, and the schema migration that
// brought the current-values storage. On SQLite and PostgreSQL.
#include "registry_fixture.h"
#include "registry/storage.h"

namespace onewindow::registry {
namespace {

// Valid persons: 17 digits, then the check character computed here.
std::string citizen_id(const std::string& division, const std::string& birth, int sequence) {
  char digits[4];
  std::snprintf(digits, sizeof digits, "%03d", sequence);
  std::string first = division + birth + digits;
  return first + citizen_id_check_character(first).value();
}

class ImportsTest : public RegistryFixture {
 protected:
  Result<ImportStatus> import_file(const std::filesystem::path& file, TextEncoding encoding = TextEncoding::utf8,
                                   int batch_rows = 2, const std::string& department = "police") {
    ImportRequest request{"person", file, encoding, "户籍数据导入", {"acc_police_import", department}, "command", batch_rows};
    auto begun = imports_->begin(request);
    if (!begun.ok()) return begun.take_error();
    return imports_->run(begun->id);
  }

  std::int64_t count(const std::string& sql) {
    auto value = database_->read_value<std::int64_t>([&](store::Session& session) -> Result<std::int64_t> {
      auto row = session.query_one(sql);
      if (!row.ok()) return row.take_error();
      return (*row)->integer(0);
    });
    EXPECT_TRUE(value.ok());
    return value.ok() ? *value : -1;
  }

  onewindow::testing::TemporaryDirectory directory_;
};

TEST_P(ImportsTest, ValidRowsAreWrittenAndEveryRejectedRowIsReportedWithItsLine) {
  std::string csv = "id_number,name,sex,birth_date,household_division\r\n";
  csv += citizen_id("370202", "19800101", 11) + ",张三,1,1980-01-01,370202\r\n";                  // line 2
  std::string wrong_check = citizen_id("370202", "19800101", 12);
  wrong_check.back() = wrong_check.back() == '1' ? '2' : '1';
  csv += wrong_check + ",李四,1,1980-01-01,370202\r\n";  // 3: check character
  csv += citizen_id("370203", "19900202", 22) + ",\"王,五\",2,1990-02-02,370203\r\n";               // 4: quoted comma
  csv += citizen_id("370211", "20000303", 33) + ",赵六,7,2000-03-03,370211\r\n";                    // 5: sex code
  csv += citizen_id("370212", "19700404", 44) + ",钱七,1\r\n";                                       // 6: cells missing
  csv += ",孙八,1,1970-04-04,370212\r\n";                                                            // 7: no key
  csv += citizen_id("370213", "19600505", 55) + ",周九,1,1960-05-05,370213\r\n";                    // 8
  csv += citizen_id("370214", "19500606", 66) + ",吴十,1,2091-06-06,370214\r\n";                    // 9: future date
  auto finished = import_file(directory_.write("persons.csv", csv));
  ASSERT_TRUE(finished.ok()) << finished.error().message;
  EXPECT_EQ(finished->state, "finished");
  EXPECT_EQ(finished->percentage(), 100);
  EXPECT_EQ(finished->rows_read, 8);
  EXPECT_EQ(finished->rows_created, 3);
  EXPECT_EQ(finished->rows_rejected, 5);

  auto report = imports_->rejections_csv(finished->id);
  ASSERT_TRUE(report.ok());
  std::istringstream lines(*report);
  CsvReader reader(lines);
  std::vector<std::string> fields;
  ASSERT_TRUE(*reader.next(fields));
  EXPECT_EQ(fields, (std::vector<std::string>{"line", "field", "code", "message"}));
  std::map<std::string, std::pair<std::string, std::string>> rejected;  // line -> field, code
  while (*reader.next(fields)) rejected[fields[0]] = {fields[1], fields[2]};
  EXPECT_EQ(rejected["3"], (std::pair<std::string, std::string>{"id_number", "identifiers.citizen_id_check"}));
  EXPECT_EQ(rejected["5"], (std::pair<std::string, std::string>{"sex", "registry.value_enum"}));
  EXPECT_EQ(rejected["6"].second, "registry.import_columns");
  EXPECT_EQ(rejected["7"], (std::pair<std::string, std::string>{"id_number", "registry.value_required"}));
  EXPECT_EQ(rejected["9"], (std::pair<std::string, std::string>{"birth_date", "registry.value_future"}));
  EXPECT_EQ(rejected.size(), 5u);
  EXPECT_EQ(report->find("李四"), std::string::npos) << "the report names fields and reasons, never values";

  auto quoted = registries_->read("person", citizen_id("370203", "19900202", 22), {"police"});
  ASSERT_TRUE(quoted.ok());
  EXPECT_EQ((*quoted)["fields"]["name"], "王,五");
  // The import's beginning and end, and of its four batches of two lines the three with rows to
  // write: one transparency-log entry each, naming the import, never a value.
  ASSERT_EQ(count("SELECT COUNT(*) FROM audit_entry"), 5);
  std::vector<std::string> actions;
  for (std::int64_t index = 0; index < 5; ++index) {
    auto entry = log_->entry(index);
    ASSERT_TRUE(entry.ok());
    auto content = nlohmann::json::parse(entry->content);
    actions.push_back(content["action"]);
    EXPECT_TRUE(content["object_id"] == finished->id || content["details"]["import"] == finished->id) << entry->content;
    EXPECT_EQ(entry->content.find("张三"), std::string::npos);
  }
  EXPECT_EQ(actions, (std::vector<std::string>{"registry.import_begun", "registry.import", "registry.import",
                                               "registry.import", "registry.import_finished"}));
}

TEST_P(ImportsTest, Gb18030FilesAreReadAsGb18030) {
  std::string id = citizen_id("370285", "19851111", 101);
  std::string utf8 = "id_number,name,sex,birth_date,household_address\r\n" + id +
                     ",欧阳娜娜,2,1985-11-11,山东省青岛市莱西市烟台路8号\r\n";
  auto encoded = from_utf8(utf8, TextEncoding::gb18030);
  ASSERT_TRUE(encoded.ok());
  auto file = directory_.write("persons-gb18030.csv", *encoded);

  auto as_utf8 = import_file(file, TextEncoding::utf8);
  ASSERT_TRUE(as_utf8.ok());
  EXPECT_EQ(as_utf8->rows_created, 0);
  EXPECT_EQ(as_utf8->rows_rejected, 1);
  auto report = imports_->rejections_csv(as_utf8->id);
  EXPECT_NE(report->find("csv.bad_encoding"), std::string::npos);

  auto as_gb18030 = import_file(file, TextEncoding::gb18030);
  ASSERT_TRUE(as_gb18030.ok()) << as_gb18030.error().message;
  EXPECT_EQ(as_gb18030->rows_created, 1);
  auto record = registries_->read("person", id, {"police"});
  ASSERT_TRUE(record.ok());
  EXPECT_EQ((*record)["fields"]["name"], "欧阳娜娜");
  EXPECT_EQ((*record)["fields"]["household_address"], "山东省青岛市莱西市烟台路8号");
}

TEST_P(ImportsTest, AWrongHeaderRefusesTheWholeFile) {
  struct Case {
    std::string header;
    std::string code;
    std::string field;
  };
  for (const Case& test : std::vector<Case>{{"id_number,name,marital_status", "registry.field_not_owned", "marital_status"},
                                            {"id_number,nickname", "registry.unknown_field", "nickname"},
                                            {"name,sex", "registry.import_header", "id_number"},
                                            {"id_number,name,name", "registry.import_header", "name"}}) {
    auto refused = import_file(directory_.write("header.csv", test.header + "\r\n"));
    ASSERT_FALSE(refused.ok()) << test.header;
    EXPECT_EQ(refused.error().code, test.code) << test.header;
    EXPECT_EQ(refused.error().details["field"], test.field) << test.header;
  }
  EXPECT_EQ(count("SELECT COUNT(*) FROM registry_import"), 0);
}

TEST_P(ImportsTest, OtherDepartmentsImportTheirFieldsOfExistingRecords) {
  std::string existing = citizen_id("370202", "19800101", 11);
  ASSERT_TRUE(import_file(directory_.write("police.csv", "id_number,name,sex,birth_date\r\n" + existing +
                                                             ",张三,1,1980-01-01\r\n"))
                  .ok());
  std::string unknown = citizen_id("370202", "19800101", 13);
  ImportRequest request{"person", directory_.write("civil.csv", "id_number,marital_status\r\n" + existing + ",20\r\n" +
                                                                     unknown + ",10\r\n"),
                        TextEncoding::utf8, "婚姻登记数据", {"acc_civil", "civil"}};
  auto begun = imports_->begin(request);
  ASSERT_TRUE(begun.ok()) << begun.error().message;
  auto finished = imports_->run(begun->id);
  ASSERT_TRUE(finished.ok());
  EXPECT_EQ(finished->rows_updated, 1);
  EXPECT_EQ(finished->rows_rejected, 1) << "civil affairs cannot create persons";
  EXPECT_EQ((*registries_->read("person", existing, {"civil"}))["fields"]["marital_status"], "20");
}

TEST_P(ImportsTest, AnInterruptedImportResumesWithoutDuplicatesOrLosses) {
  std::string csv = "id_number,name,sex,birth_date\r\n";
  const int rows = 50;
  std::set<std::string> keys;
  for (int i = 0; i < rows; ++i) {
    std::string id = citizen_id("370202", "19800101", 1 + i * 2);
    keys.insert(id);
    csv += id + ",张" + std::to_string(i) + ",1,1980-01-01\r\n";
  }
  // A key twice: the second row is a change of the record the first made, in a later batch.
  csv += citizen_id("370202", "19800101", 1) + ",张改,1,1980-01-01\r\n";
  auto file = directory_.write("persons.csv", csv);
  ImportRequest request{"person", file, TextEncoding::utf8, "户籍数据导入", {"acc_police", "police"}, "command", 7};
  auto begun = imports_->begin(request);
  ASSERT_TRUE(begun.ok());

  // Stop after the third batch, as a kill between two batches would.
  std::atomic<bool> stop = false;
  int batches = 0;
  auto stopped = imports_->run(begun->id, [&](const ImportStatus&) { stop = ++batches == 3; }, &stop);
  ASSERT_TRUE(stopped.ok());
  EXPECT_EQ(stopped->state, "running");
  EXPECT_EQ(stopped->rows_read, 21);
  EXPECT_GT(stopped->percentage(), 0);
  EXPECT_LT(stopped->percentage(), 100);

  // Beginning the same file again finds the unfinished import and resumes it.
  auto again = imports_->begin(request);
  ASSERT_TRUE(again.ok());
  EXPECT_TRUE(again->resumed);
  EXPECT_EQ(again->id, begun->id);
  auto finished = imports_->run(again->id);
  ASSERT_TRUE(finished.ok()) << finished.error().message;
  EXPECT_EQ(finished->state, "finished");
  EXPECT_EQ(finished->rows_read, rows + 1);
  EXPECT_EQ(finished->rows_created, rows);
  EXPECT_EQ(finished->rows_updated, 1);
  EXPECT_EQ(finished->rows_rejected, 0);
  EXPECT_EQ(count("SELECT COUNT(*) FROM registry_record"), rows);
  // Every record written once, but the one whose key came twice: a row written again on resuming
  // would be a second version of its record.
  EXPECT_EQ(count("SELECT COUNT(*) FROM registry_record WHERE version = 1"), rows - 1);
  EXPECT_EQ(count("SELECT COUNT(*) FROM registry_change"), 2) << "that record's two versions";
  EXPECT_EQ((*registries_->read("person", citizen_id("370202", "19800101", 1), {"police"}))["fields"]["name"], "张改");
  for (const std::string& key : keys) ASSERT_TRUE(registries_->read("person", key, {"police"}).ok()) << "lost a row";

  // A finished import is not begun again by the same file: that would be a new import.
  auto rerun = imports_->begin(request);
  ASSERT_TRUE(rerun.ok());
  EXPECT_FALSE(rerun->resumed);
}

TEST_P(ImportsTest, ASecondRunnerOfTheSameImportStopsInsteadOfWritingTwice) {
  std::string csv = "id_number,name,sex,birth_date\r\n";
  for (int i = 0; i < 10; ++i) csv += citizen_id("370202", "19800101", 1 + i * 2) + ",张三,1,1980-01-01\r\n";
  ImportRequest request{"person", directory_.write("persons.csv", csv), TextEncoding::utf8, "导入", {"acc", "police"},
                        "command", 3};
  auto begun = imports_->begin(request);
  ASSERT_TRUE(begun.ok());
  std::optional<Result<ImportStatus>> inner;
  auto outer = imports_->run(begun->id, [&](const ImportStatus&) {
    if (!inner) inner = imports_->run(begun->id);  // another process catching up meanwhile
  });
  ASSERT_TRUE(inner.has_value());
  ASSERT_TRUE(inner->ok());
  EXPECT_EQ((*inner)->state, "finished");
  ASSERT_FALSE(outer.ok());
  EXPECT_EQ(outer.error().code, "registry.import_moved");
  EXPECT_EQ(count("SELECT COUNT(*) FROM registry_record WHERE version = 1"), 10);
  EXPECT_EQ(count("SELECT COUNT(*) FROM registry_change"), 0) << "no record was written twice";
}

TEST_P(ImportsTest, AFileChangedUnderAnImportFailsItAndSaysSo) {
  std::string csv = "id_number,name,sex,birth_date\r\n" + citizen_id("370202", "19800101", 11) + ",张三,1,1980-01-01\r\n";
  auto file = directory_.write("persons.csv", csv);
  ImportRequest request{"person", file, TextEncoding::utf8, "导入", {"acc_police", "police"}};
  auto begun = imports_->begin(request);
  ASSERT_TRUE(begun.ok());
  directory_.write("persons.csv", csv + citizen_id("370202", "19800101", 13) + ",李四,1,1980-01-01\r\n");
  auto run = imports_->run(begun->id);
  ASSERT_FALSE(run.ok());
  EXPECT_EQ(run.error().code, "registry.import_file_changed");
  auto status = imports_->status(begun->id);
  EXPECT_EQ(status->state, "failed");
  EXPECT_NE(status->error.find("registry.import_file_changed"), std::string::npos);
  EXPECT_EQ(count("SELECT COUNT(*) FROM registry_record"), 0);
  auto last = log_->entry(*log_->size() - 1);
  ASSERT_TRUE(last.ok());
  EXPECT_EQ(nlohmann::json::parse(last->content)["action"], "registry.import_failed");
}

TEST_P(ImportsTest, ImportedRecordsAreStoredAsWritesStoreThemAndFoundByTheirLookups) {
  // Imports write a new record's stored text straight from the cells; it must be what a write
  // of the same values stores, escapes and member order included.
  std::string imported = citizen_id("370285", "19851111", 101);
  std::string written = citizen_id("370285", "19851111", 103);
  const std::string address = "山东省青岛市\t莱西市 \"烟台\" 路\\8号\x01\n二单元";
  std::string csv = "household_address,name,id_number,sex,birth_date,household_division,phone\r\n";
  csv += "\"山东省青岛市\t莱西市 \"\"烟台\"\" 路\\8号\x01\n二单元\",欧阳娜娜," + imported + ",2,1985-11-11,370285,13812345678\r\n";
  auto finished = import_file(directory_.write("persons.csv", csv));
  ASSERT_TRUE(finished.ok()) << finished.error().message;
  ASSERT_EQ(finished->rows_created, 1) << *imports_->rejections_csv(finished->id);
  ASSERT_TRUE(registries_
                  ->write("person", written,
                          {{"household_address", address}, {"name", "欧阳娜娜"}, {"sex", "2"}, {"birth_date", "1985-11-11"},
                           {"household_division", "370285"}, {"phone", "13812345678"}},
                          "出生登记", police_)
                  .ok());
  auto stored = [&](const std::string& key) {
    auto text = database_->read_value<std::string>([&](store::Session& session) -> Result<std::string> {
      auto row = session.query_one("SELECT fields FROM registry_record WHERE record_key = $1", {key});
      if (!row.ok()) return row.take_error();
      return (*row)->text(0);
    });
    EXPECT_TRUE(text.ok());
    return text.ok() ? *text : std::string();
  };
  std::string from_import = stored(imported);
  std::string from_write = stored(written);
  from_write.replace(from_write.find(written), written.size(), imported);
  EXPECT_EQ(from_import, from_write);
  EXPECT_EQ(nlohmann::json::parse(from_import)["household_address"], address);

  auto by_name = registries_->search("person", {"name", std::nullopt, std::string("欧阳"), "", 10}, {"police"});
  ASSERT_TRUE(by_name.ok());
  EXPECT_EQ((*by_name)["records"].size(), 2u);
  auto by_division =
      registries_->search("person", {"household_division", nlohmann::json("370285"), std::nullopt, "", 10}, {"police"});
  ASSERT_TRUE(by_division.ok());
  EXPECT_EQ((*by_division)["records"].size(), 2u);
  EXPECT_EQ(count("SELECT COUNT(*) FROM registry_lookup"), 4);
}

TEST_P(ImportsTest, IntegerCellsAreStoredAsNumbers) {
  // A legal person (market), then its insured employees (social security): "012" is the number 12,
  // "12a" is no number.
  std::string uscc = "91110000600037341L";
  auto company = registries_->write(
      "legal_person", uscc,
      {{"name", "青岛示范有限公司"}, {"entity_type", "limited_liability_company"}, {"legal_representative", "李四"},
       {"address", "山东省青岛市市南区香港中路1号"}, {"division", "370202"}, {"establishment_date", "2020-05-01"},
       {"status", "active"}},
      "设立登记", market_);
  ASSERT_TRUE(company.ok()) << company.error().message;
  ImportRequest request{"legal_person",
                        directory_.write("hrss.csv", "uscc,insured_employee_count\r\n" + uscc + ",012\r\n" + uscc + ",12a\r\n"),
                        TextEncoding::utf8, "参保数据", {"acc_hrss", "hrss"}};
  auto begun = imports_->begin(request);
  ASSERT_TRUE(begun.ok()) << begun.error().message;
  auto finished = imports_->run(begun->id);
  ASSERT_TRUE(finished.ok());
  EXPECT_EQ(finished->rows_updated, 1);
  EXPECT_EQ(finished->rows_rejected, 1);
  EXPECT_NE(imports_->rejections_csv(finished->id)->find("insured_employee_count,registry.value_type"), std::string::npos);
  EXPECT_EQ((*registries_->read("legal_person", uscc, {"hrss"}))["fields"]["insured_employee_count"], 12);
}

TEST_P(ImportsTest, TheStorageMigrationKeepsRecordsWrittenBeforeIt) {
  // A database at registry version 1, with a record written the way version 1 wrote it.
  auto all = Registries::migrations();
  std::vector<store::Migration> before = audit::TransparencyLog::migrations();
  before.push_back(all[0]);
  onewindow::testing::TestDatabase old(GetParam(), before);
  Status written = old->write([](store::Session& session) -> Status {
    ONEWINDOW_TRY(session.execute("INSERT INTO registry_record VALUES ('person', $1, '2026-01-01T00:00:00.000Z', 'acc')",
                                  {std::string(person_id)}).status());
    const char* insert =
        "INSERT INTO registry_value VALUES ('person', $1, $2, $3, $4, $5, $6, 'acc', 'police', 'r', $7)";
    ONEWINDOW_TRY(session.execute(insert, {std::string(person_id), "name", std::int64_t{1}, "\"张三\"",
                                           "2026-01-01T00:00:00.000Z", "2026-02-01T00:00:00.000Z", std::int64_t{0}})
                      .status());
    ONEWINDOW_TRY(session.execute(insert, {std::string(person_id), "name", std::int64_t{2}, "\"张三丰\"",
                                           "2026-02-01T00:00:00.000Z", std::monostate{}, std::int64_t{1}})
                      .status());
    return session.execute(insert, {std::string(person_id), "id_number", std::int64_t{1},
                                    "\"" + std::string(person_id) + "\"", "2026-01-01T00:00:00.000Z", std::monostate{},
                                    std::int64_t{0}})
        .status();
  });
  ASSERT_TRUE(written.ok()) << written.error().message;
  std::vector<store::Migration> after = before;
  after.push_back(all[1]);
  after.push_back(all[2]);
  auto migrated = old->migrate(after);
  ASSERT_TRUE(migrated.ok()) << migrated.error().message;

  auto node_key = crypto::PrivateKey::generate();
  audit::TransparencyLog log(*old, *node_key, clock_);
  Registries registries(*old, log, *catalog_, *divisions_, clock_);
  ASSERT_TRUE(registries.prepare().ok());
  auto now = registries.read("person", person_id, {"police"});
  ASSERT_TRUE(now.ok()) << now.error().message;
  EXPECT_EQ((*now)["fields"]["name"], "张三丰");
  auto then = registries.read("person", person_id, {"police"}, *parse_timestamp("2026-01-15T00:00:00.000Z"));
  ASSERT_TRUE(then.ok());
  EXPECT_EQ((*then)["fields"]["name"], "张三");
  auto found = registries.search("person", {"name", std::nullopt, std::string("张三"), "", 10}, {"police"});
  ASSERT_TRUE(found.ok());
  EXPECT_EQ((*found)["records"].size(), 1u) << "prepare() made the lookups of records written before";
  auto history = registries.history("person", person_id, {"police"});
  ASSERT_TRUE(history.ok());
  EXPECT_EQ((*history)["versions"].size(), 3u);
}

TEST(ImportText, ValuesGivenAsTextAreWrittenAsNlohmannJsonWritesThem) {
  FieldDefinition text_field;
  text_field.name = "name";
  FieldDefinition number_field;
  number_field.name = "count";
  number_field.type = FieldType::integer;
  for (const std::string& value : {std::string("张三"), std::string("a\"b\\c/d"), std::string("\b\f\n\r\t\x01\x1f\x7f"),
                                   std::string(""), std::string("𠀀 emoji 😀")}) {
    std::string out;
    append_stored_value(out, text_field, value);
    EXPECT_EQ(out, nlohmann::json(value).dump()) << value;
    EXPECT_EQ(stored_text(text_field, value), lookup_text(nlohmann::json(value)));
    EXPECT_EQ(stored_value(text_field, value), nlohmann::json(value));
  }
  for (const auto& [value, number] : std::vector<std::pair<std::string, std::int64_t>>{
           {"012", 12}, {"-5", -5}, {"0", 0}, {"-0", 0}, {"9223372036854775807", 9223372036854775807}}) {
    std::string out;
    append_stored_value(out, number_field, value);
    EXPECT_EQ(out, nlohmann::json(number).dump()) << value;
    EXPECT_EQ(stored_text(number_field, value), lookup_text(nlohmann::json(number)));
    EXPECT_EQ(stored_value(number_field, value), nlohmann::json(number));
  }
}

INSTANTIATE_TEST_SUITE_P(Backends, ImportsTest, ::testing::Values(store::Backend::sqlite, store::Backend::postgresql),
                         [](const auto& info) { return std::string(store::backend_name(info.param)); });

}  // namespace
}  // namespace onewindow::registry
