// Records: writes by each field's authority only, history, reads as of a past time, masking by
// the reader's department, every write in the transparency log. On SQLite and PostgreSQL.
#include "identity/identity.h"
#include "registry/registry.h"
#include "registry_fixture.h"
#include "testing.h"

#include <gtest/gtest.h>

namespace onewindow::registry {
namespace {

using RecordsTest = RegistryFixture;

TEST_P(RecordsTest, TheAuthorityCreatesAndReadsItsRecordUnmasked) {
  auto created = register_person();
  ASSERT_TRUE(created.ok()) << created.error().message;
  EXPECT_TRUE(created->created);
  auto record = registries_->read("person", person_id, {"police"});
  ASSERT_TRUE(record.ok()) << record.error().message;
  EXPECT_EQ((*record)["fields"]["name"], "张三");
  EXPECT_EQ((*record)["fields"]["id_number"], person_id);
  EXPECT_EQ((*record)["fields"]["phone"], "13812345678");
  // A record never changed keeps its first version in its own row; reads as of a time and the
  // history still show it.
  auto then = registries_->read("person", person_id, {"police"}, clock_.now());
  ASSERT_TRUE(then.ok()) << then.error().message;
  EXPECT_EQ((*then)["fields"], (*record)["fields"]);
  auto history = registries_->history("person", person_id, {"police"});
  ASSERT_TRUE(history.ok());
  EXPECT_EQ((*history)["versions"].size(), 5u);  // id_number, name, sex, birth_date, phone
  EXPECT_EQ((*history)["versions"][0]["log_index"], created->log_index);
  EXPECT_EQ((*history)["versions"][0]["written_by"], "acc_police");
}

TEST_P(RecordsTest, OtherDepartmentsSeePersonalFieldsMasked) {
  ASSERT_TRUE(register_person().ok());
  auto record = registries_->read("person", person_id, {"civil"});
  ASSERT_TRUE(record.ok());
  EXPECT_EQ((*record)["fields"]["name"], "张*");
  EXPECT_EQ((*record)["key"], "360426********0071");
  EXPECT_EQ((*record)["fields"]["id_number"], "360426********0071");
  EXPECT_EQ((*record)["fields"]["phone"], "138****5678");
  EXPECT_EQ(record->dump().find(person_id), std::string::npos);
}

TEST_P(RecordsTest, EachFieldIsWrittenOnlyByItsAuthority) {
  ASSERT_TRUE(register_person().ok());
  auto refused = registries_->write("person", person_id, {{"name", "李四"}}, "改名", civil_);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().code, "registry.field_not_owned");
  EXPECT_EQ(refused.error().kind, ErrorKind::permission_denied);
  EXPECT_EQ(refused.error().details["field"], "name");
  EXPECT_EQ(refused.error().details["authority"], "police");
  EXPECT_NE(refused.error().message.find("police"), std::string::npos);
  auto married = registries_->write("person", person_id, {{"marital_status", "20"}}, "结婚登记", civil_);
  ASSERT_TRUE(married.ok()) << married.error().message;
  EXPECT_FALSE(married->created);
  // A department that is not the key's authority cannot create records.
  auto stranger = registries_->write("person", "44011320141005001X", {{"marital_status", "10"}}, "登记", civil_);
  ASSERT_FALSE(stranger.ok());
  EXPECT_EQ(stranger.error().code, "registry.record_not_found");
}

TEST_P(RecordsTest, BadWritesNameTheFieldAndLeaveNothing) {
  struct Case {
    nlohmann::json fields;
    const char* field;
  } cases[] = {
      {{{"name", "张三"}, {"sex", "7"}, {"birth_date", "1991-01-01"}}, "sex"},
      {{{"name", "张三"}, {"sex", "1"}, {"birth_date", "2091-01-01"}}, "birth_date"},
      {{{"name", "张三"}, {"sex", "1"}}, "birth_date"},
      {{{"name", "张三"}, {"sex", "1"}, {"birth_date", "1991-01-01"}, {"nickname", "x"}}, "nickname"},
      {{{"name", "张三"}, {"sex", "1"}, {"birth_date", "1991-01-01"}, {"household_division", "379999"}}, "household_division"},
  };
  for (const Case& test : cases) {
    auto refused = registries_->write("person", person_id, test.fields, "登记", police_);
    ASSERT_FALSE(refused.ok()) << test.field;
    EXPECT_EQ(refused.error().details["field"], test.field) << refused.error().message;
  }
  auto bad_key = registries_->write("person", "360426199101010072", {{"name", "张三"}}, "登记", police_);
  ASSERT_FALSE(bad_key.ok());
  auto no_reason = registries_->write("person", person_id, {{"name", "张三"}}, "", police_);
  EXPECT_EQ(no_reason.error().details["field"], "reason");
  EXPECT_EQ(registries_->read("person", person_id, {"police"}).error().code, "registry.record_not_found");
  EXPECT_EQ(*log_->size(), 0) << "a refused write leaves no log entry";
}

TEST_P(RecordsTest, HistoryAndReadsAsOfAPastTime) {
  ASSERT_TRUE(register_person().ok());
  auto before_marriage = clock_.now();
  clock_.advance(std::chrono::hours(24));
  ASSERT_TRUE(registries_->write("person", person_id, {{"marital_status", "20"}}, "结婚登记", civil_).ok());
  clock_.advance(std::chrono::hours(24));
  ASSERT_TRUE(registries_->write("person", person_id, {{"phone", "13900000000"}}, "更新联系方式", police_).ok());

  auto then = registries_->read("person", person_id, {"police"}, before_marriage);
  ASSERT_TRUE(then.ok());
  EXPECT_FALSE((*then)["fields"].contains("marital_status"));
  EXPECT_EQ((*then)["fields"]["phone"], "13812345678");
  auto now = registries_->read("person", person_id, {"police"});
  EXPECT_EQ((*now)["fields"]["phone"], "13900000000");
  // Marital status is civil affairs' field, and sensitive: the police see it fully masked.
  EXPECT_EQ((*now)["fields"]["marital_status"], "***");
  EXPECT_EQ((*registries_->read("person", person_id, {"civil"}))["fields"]["marital_status"], "20");
  auto long_ago = registries_->read("person", person_id, {"police"}, before_marriage - std::chrono::hours(24));
  EXPECT_EQ(long_ago.error().code, "registry.record_not_found");

  auto history = registries_->history("person", person_id, {"civil"});
  ASSERT_TRUE(history.ok());
  int phone_versions = 0;
  for (const auto& version : (*history)["versions"]) {
    if (version["field"] == "phone") {
      ++phone_versions;
      EXPECT_EQ(version["written_by"], "acc_police");
      EXPECT_THAT(version["value"].get<std::string>(), ::testing::HasSubstr("****"));  // masked for civil affairs
    }
    EXPECT_TRUE(version["log_index"].is_number_integer());
  }
  EXPECT_EQ(phone_versions, 2);
}

TEST_P(RecordsTest, EveryWriteIsOneTransparencyLogEntryWithoutValues) {
  auto created = register_person();
  ASSERT_TRUE(created.ok());
  auto entry = log_->entry(created->log_index);
  ASSERT_TRUE(entry.ok());
  auto content = nlohmann::json::parse(entry->content);
  EXPECT_EQ(content["action"], "registry.write");
  EXPECT_EQ(content["actor"], "acc_police");
  EXPECT_EQ(content["basis"], "出生登记 birth registration");
  EXPECT_EQ(entry->content.find("张三"), std::string::npos);
  EXPECT_EQ(entry->content.find("13812345678"), std::string::npos);
}

TEST_P(RecordsTest, LegalPersonFieldsBelongToMarketTaxAndSocialSecurity) {
  std::string code = "91110000600037341L";
  auto created = registries_->write("legal_person", code,
                                    {{"name", "青岛示范有限公司"}, {"entity_type", "limited_liability_company"}, {"legal_representative", "李四"},
                                     {"address", "山东省青岛市市南区香港中路1号"}, {"division", "370202"},
                                     {"establishment_date", "2020-05-01"}, {"status", "active"}},
                                    "设立登记", market_);
  ASSERT_TRUE(created.ok()) << created.error().message;
  auto tax = registries_->write("legal_person", code, {{"taxpayer_type", "general"}}, "税务登记", {"acc_tax", "tax"});
  EXPECT_TRUE(tax.ok()) << tax.error().message;
  auto refused = registries_->write("legal_person", code, {{"taxpayer_type", "general"}}, "税务登记", market_);
  EXPECT_EQ(refused.error().code, "registry.field_not_owned");
}

TEST_P(RecordsTest, FindsByIndexedFieldsAndNamePrefixInPages) {
  const char* ids[] = {"360426199101010071", "44011320141005001X", "34052419800101001X"};
  const char* names[] = {"张三", "张三丰", "李四"};
  for (int i = 0; i < 3; ++i) {
    auto written = registries_->write("person", ids[i], {{"name", names[i]}, {"sex", "1"}, {"birth_date", "1980-01-01"},
                                                         {"household_division", "370285"}},
                                      "户籍登记", police_);
    ASSERT_TRUE(written.ok()) << written.error().message;
  }
  Registries::Search by_prefix{"name", std::nullopt, std::string("张"), "", 1};
  auto first = registries_->search("person", by_prefix, {"police"});
  ASSERT_TRUE(first.ok()) << first.error().message;
  ASSERT_EQ((*first)["records"].size(), 1u);
  ASSERT_FALSE((*first)["next_cursor"].get<std::string>().empty());
  by_prefix.cursor = (*first)["next_cursor"];
  // A record that sorts before the cursor, written between the two pages, moves nothing.
  ASSERT_TRUE(registries_->write("person", "11010519491231002X", {{"name", "张一"}, {"sex", "2"}, {"birth_date", "1949-12-31"}},
                                 "户籍登记", police_)
                  .ok());
  auto second = registries_->search("person", by_prefix, {"police"});
  ASSERT_TRUE(second.ok());
  ASSERT_EQ((*second)["records"].size(), 1u);
  EXPECT_TRUE((*second)["next_cursor"].get<std::string>().empty());
  std::set<std::string> found = {(*first)["records"][0]["fields"]["name"], (*second)["records"][0]["fields"]["name"]};
  EXPECT_EQ(found, (std::set<std::string>{"张三", "张三丰"}));

  auto by_division = registries_->search("person", {"household_division", nlohmann::json("370285"), std::nullopt, "", 10}, {"civil"});
  ASSERT_TRUE(by_division.ok());
  EXPECT_EQ((*by_division)["records"].size(), 3u);
  EXPECT_EQ(by_division->dump().find("360426199101010071"), std::string::npos) << "keys stay masked for other departments";

  auto wildcard = registries_->search("person", {"name", std::nullopt, std::string("%"), "", 10}, {"police"});
  ASSERT_TRUE(wildcard.ok());
  EXPECT_TRUE((*wildcard)["records"].empty()) << "% in a prefix matches only itself";
  auto unindexed = registries_->search("person", {"phone", nlohmann::json("13812345678"), std::nullopt, "", 10}, {"police"});
  EXPECT_EQ(unindexed.error().code, "registry.field_not_indexed");
  auto bad_cursor = registries_->search("person", {"name", std::nullopt, std::string("张"), "x", 10}, {"police"});
  EXPECT_EQ(bad_cursor.error().details["field"], "cursor");
}

INSTANTIATE_TEST_SUITE_P(Backends, RecordsTest, ::testing::Values(store::Backend::sqlite, store::Backend::postgresql),
                         [](const auto& info) { return std::string(store::backend_name(info.param)); });

}  // namespace
}  // namespace onewindow::registry
