// One data, one source: every field of both shipped registries has the authority the plans give
// it, only that department may write it, and the refusal names the field and its authority.
#include "registry_fixture.h"

namespace onewindow::registry {
namespace {

constexpr const char* company_code = "91110000600037341L";

// The authority of every field, as the issue lists them, and a valid value for each.
struct Expected {
  const char* authority;
  nlohmann::json value;
};
const std::map<std::string, std::map<std::string, Expected>>& expected_fields() {
  static const std::map<std::string, std::map<std::string, Expected>> fields = {
      {"person",
       {{"id_number", {"police", person_id}},
        {"name", {"police", "王五"}},
        {"sex", {"police", "1"}},
        {"birth_date", {"police", "1991-01-01"}},
        {"ethnicity", {"police", "01"}},
        {"household_address", {"police", "山东省青岛市市南区香港中路1号"}},
        {"household_division", {"police", "370202"}},
        {"current_address", {"police", "山东省青岛市崂山区海尔路2号"}},
        {"phone", {"police", "13812345678"}},
        {"marital_status", {"civil", "20"}},
        {"death_date", {"health", "2026-01-01"}}}},
      {"legal_person",
       {{"uscc", {"market", company_code}},
        {"name", {"market", "青岛示范有限公司"}},
        {"entity_type", {"market", "limited_liability_company"}},
        {"legal_representative", {"market", "李四"}},
        {"legal_representative_id", {"market", person_id}},
        {"registered_capital", {"market", "100.00"}},
        {"business_scope", {"market", "软件开发"}},
        {"address", {"market", "山东省青岛市市南区香港中路1号"}},
        {"division", {"market", "370202"}},
        {"establishment_date", {"market", "2020-05-01"}},
        {"status", {"market", "active"}},
        {"tax_registration_status", {"tax", "normal"}},
        {"taxpayer_type", {"tax", "general"}},
        {"social_insurance_registration_date", {"hrss", "2021-01-01"}},
        {"insured_employee_count", {"hrss", 12}}}},
  };
  return fields;
}

using AuthorityTest = RegistryFixture;

TEST_P(AuthorityTest, EveryFieldHasTheAuthorityThePlansGiveIt) {
  for (const auto& [registry, fields] : expected_fields()) {
    const RegistryDefinition* definition = catalog_->find(registry);
    ASSERT_NE(definition, nullptr) << registry;
    ASSERT_EQ(definition->fields.size(), fields.size()) << registry << ": a field is missing from this test or the file";
    for (const FieldDefinition& field : definition->fields) {
      auto expected = fields.find(field.name);
      ASSERT_NE(expected, fields.end()) << registry << "." << field.name;
      EXPECT_EQ(field.authority, expected->second.authority) << registry << "." << field.name;
    }
  }
}

TEST_P(AuthorityTest, OnlyTheAuthorityWritesEachFieldOfBothRegistries) {
  auto person = registries_->write("person", person_id, {{"name", "王五"}, {"sex", "1"}, {"birth_date", "1991-01-01"}},
                                   "户籍登记", {"acc_police", "police"});
  ASSERT_TRUE(person.ok()) << person.error().message;
  auto company = registries_->write(
      "legal_person", company_code,
      {{"name", "青岛示范有限公司"}, {"entity_type", "limited_liability_company"}, {"legal_representative", "李四"},
       {"address", "山东省青岛市市南区香港中路1号"}, {"division", "370202"}, {"establishment_date", "2020-05-01"},
       {"status", "active"}},
      "设立登记", {"acc_market", "market"});
  ASSERT_TRUE(company.ok()) << company.error().message;

  int refusals = 0;
  for (const auto& [registry, fields] : expected_fields()) {
    const std::string key = registry == "person" ? person_id : company_code;
    for (const auto& [name, expected] : fields) {
      for (const std::string& department : department_keys_) {
        Writer writer{"acc_" + department, department};
        auto written = registries_->write(registry, key, {{name, expected.value}}, "核对", writer);
        if (department == expected.authority) {
          EXPECT_TRUE(written.ok()) << registry << "." << name << " by " << department << ": " << written.error().message;
          continue;
        }
        ++refusals;
        ASSERT_FALSE(written.ok()) << registry << "." << name << " written by " << department;
        EXPECT_EQ(written.error().code, "registry.field_not_owned");
        EXPECT_EQ(written.error().kind, ErrorKind::permission_denied);
        EXPECT_EQ(written.error().details["field"], name);
        EXPECT_EQ(written.error().details["authority"], expected.authority);
        EXPECT_NE(written.error().message.find(name), std::string::npos);
        EXPECT_NE(written.error().message.find(expected.authority), std::string::npos);
      }
    }
  }
  EXPECT_GT(refusals, 26 * 3) << "every field was tried by several departments that do not own it";
  // Each owned write made a new version; every refused one left nothing behind.
  auto history = registries_->history("person", person_id, {"police"});
  ASSERT_TRUE(history.ok());
  std::set<std::string> written_fields;
  for (const auto& version : (*history)["versions"]) written_fields.insert(version["field"]);
  EXPECT_EQ(written_fields.size(), expected_fields().at("person").size());
}

INSTANTIATE_TEST_SUITE_P(Backends, AuthorityTest, ::testing::Values(store::Backend::sqlite, store::Backend::postgresql),
                         [](const auto& info) { return std::string(store::backend_name(info.param)); });

}  // namespace
}  // namespace onewindow::registry
