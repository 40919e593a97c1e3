// The resource catalog and its grants, on SQLite and PostgreSQL: the registries published from
// configuration, resources registered by departments and found again, the three share types,
// decisions, revocation, expiry and the items a grant covers, each act in the transparency log.
#include "catalog_fixture.h"

namespace onewindow::catalog {
namespace {

class CatalogTest : public ::testing::TestWithParam<store::Backend> {
 protected:
  static std::vector<store::Migration> migrations() {
    std::vector<store::Migration> all = audit::TransparencyLog::migrations();
    for (auto& migration : Catalog::migrations()) all.push_back(migration);
    return all;
  }

  void SetUp() override {
    data_.load();
    ASSERT_FALSE(HasFatalFailure());
    std::map<std::string, std::string>& codes = data_.department_codes;
    registries_.emplace(*data_.registries);
    configuration_.emplace(*data_.configuration);
    log_ = std::make_unique<audit::TransparencyLog>(*database_, *crypto::PrivateKey::generate(), clock_);
    catalog_ = std::make_unique<Catalog>(*database_, *log_, *configuration_, codes, clock_);
    ASSERT_TRUE(catalog_->publish_registries(*registries_).ok());
    market_ = {"acc_market", "market", codes["market"]};
    tax_ = {"acc_tax", "tax", codes["tax"]};
    police_ = {"acc_police", "police", codes["police"]};
    civil_ = {"acc_civil", "civil", codes["civil"]};
  }

  Resource registry_resource(const std::string& name) {
    auto found = catalog_->search({"", "", "", std::nullopt, 50, 0});
    for (const auto& resource : (*found)["resources"]) {
      if (resource.value("registry", "") == name) return *catalog_->resource(resource["id"].get<std::string>());
    }
    ADD_FAILURE() << "no catalog entry for registry " << name;
    return {};
  }

  GrantRequest request_for(const Resource& resource, std::vector<std::string> items) {
    return {resource.id, std::move(items), "企业开办联审 joint review of a new enterprise", "《优化营商环境条例》第十九条",
            "2027-12-31"};
  }

  testing::TestDatabase database_{GetParam(), migrations()};
  ManualClock clock_{Date(2026, 11, 23)};
  CatalogData data_;
  std::optional<registry::RegistryCatalog> registries_;
  std::optional<CatalogConfiguration> configuration_;
  std::unique_ptr<audit::TransparencyLog> log_;
  std::unique_ptr<Catalog> catalog_;
  Department market_, tax_, police_, civil_;
};

TEST_P(CatalogTest, EveryRegistryIsPublishedWithItsAuthorityAndFields) {
  Resource person = registry_resource("person");
  EXPECT_EQ(person.code, "101001-000001");
  EXPECT_EQ(person.provider, "police");
  EXPECT_FALSE(person.provider_code.empty());
  EXPECT_EQ(person.share_type, ShareType::conditional);
  EXPECT_EQ(person.format, "registry");
  ASSERT_NE(person.item("id_number"), nullptr);
  EXPECT_EQ(person.item("id_number")->type, "citizen_id");
  EXPECT_EQ(person.published_on, "2026-11-23");
  Resource legal_person = registry_resource("legal_person");
  EXPECT_EQ(legal_person.provider, "market");
  EXPECT_EQ(legal_person.code, "102001-000001");
  EXPECT_EQ(legal_person.share_type, ShareType::unconditional);

  // Publishing again changes nothing and logs nothing.
  std::int64_t logged = *log_->size();
  clock_.advance(std::chrono::hours(24 * 3));
  ASSERT_TRUE(catalog_->publish_registries(*registries_).ok());
  EXPECT_EQ(*log_->size(), logged);
  EXPECT_EQ(registry_resource("person").published_on, "2026-11-23");
}

TEST_P(CatalogTest, DepartmentsRegisterResourcesThatSearchFinds) {
  NewResource dataset;
  dataset.classification = "3-01-001";
  dataset.name = "食品经营许可证发放清单";
  dataset.summary = "市场监管局发放的食品经营许可证, 每日更新";
  dataset.format = "csv";
  dataset.items = {{"license_number", "许可证编号", "string"}, {"holder", "经营者名称", "string"}};
  dataset.share_type = ShareType::unconditional;
  dataset.update_cycle = "daily";
  auto registered = catalog_->register_resource(dataset, market_);
  ASSERT_TRUE(registered.ok()) << registered.error().message;
  EXPECT_EQ(registered->code, "301001-000001");
  EXPECT_EQ(registered->provider, "market");
  auto second = catalog_->register_resource(dataset, tax_);
  ASSERT_TRUE(second.ok());
  EXPECT_EQ(second->code, "301001-000002");

  auto by_text = catalog_->search({"食品经营", "", "", std::nullopt, 50, 0});
  ASSERT_TRUE(by_text.ok());
  EXPECT_EQ((*by_text)["total"], 2);
  auto by_provider = catalog_->search({"", "", "market", std::nullopt, 50, 0});
  EXPECT_EQ((*by_provider)["total"], 2) << "the dataset and the legal-person registry";
  auto by_class = catalog_->search({"", "1", "", std::nullopt, 50, 0});
  EXPECT_EQ((*by_class)["total"], 2) << "the two base registries";
  auto by_share = catalog_->search({"", "", "", ShareType::conditional, 50, 0});
  EXPECT_EQ((*by_share)["total"], 1);
  auto literal = catalog_->search({"100%", "", "", std::nullopt, 50, 0});
  EXPECT_EQ((*literal)["total"], 0) << "% is searched for, not a wildcard";
  auto paged = catalog_->search({"", "", "", std::nullopt, 2, 2});
  EXPECT_EQ((*paged)["resources"].size(), 2u);
  EXPECT_EQ((*paged)["total"], 4);
  EXPECT_EQ(catalog_->resource("301001-000002")->id, second->id) << "found by code too";

  NewResource bad = dataset;
  bad.classification = "9-99-999";
  EXPECT_EQ(catalog_->register_resource(bad, market_).error().code, "catalog.unknown_classification");
  bad = dataset;
  bad.items.push_back(bad.items.front());
  EXPECT_EQ(catalog_->register_resource(bad, market_).error().details["field"], "items");
  bad = dataset;
  bad.share_type = ShareType::conditional;
  EXPECT_EQ(catalog_->register_resource(bad, market_).error().details["field"], "share_condition");
  EXPECT_EQ(catalog_->search({"", "x", "", std::nullopt, 50, 0}).error().details["field"], "classification");
}

TEST_P(CatalogTest, TheThreeShareTypesDecideAGrantRequest) {
  // Unconditional: granted at once.
  Resource legal_person = registry_resource("legal_person");
  auto granted = catalog_->request_grant(request_for(legal_person, {"name", "uscc"}), tax_);
  ASSERT_TRUE(granted.ok()) << granted.error().message;
  EXPECT_EQ(granted->status, "granted");
  EXPECT_TRUE(catalog_->check_grant("tax", legal_person.id, {"name"}).ok());

  // Conditional: pending until the provider decides.
  Resource person = registry_resource("person");
  auto pending = catalog_->request_grant(request_for(person, {"name", "birth_date"}), civil_);
  ASSERT_TRUE(pending.ok());
  EXPECT_EQ(pending->status, "pending");
  EXPECT_EQ(catalog_->check_grant("civil", person.id, {"name"}).error().code, "catalog.no_grant");
  EXPECT_EQ(catalog_->decide(pending->id, true, "", civil_).error().code, "catalog.not_provider");
  auto decided = catalog_->decide(pending->id, true, "", police_);
  ASSERT_TRUE(decided.ok()) << decided.error().message;
  EXPECT_EQ(decided->status, "granted");
  EXPECT_EQ(decided->decided_by, "acc_police");
  EXPECT_EQ(catalog_->decide(pending->id, false, "again", police_).error().code, "catalog.grant_not_pending");
  EXPECT_TRUE(catalog_->check_grant("civil", person.id, {"name", "birth_date"}).ok());
  auto refused = catalog_->request_grant(request_for(person, {"phone"}), market_);
  ASSERT_TRUE(refused.ok());
  EXPECT_EQ(catalog_->decide(refused->id, false, "", police_).error().details["field"], "reason");
  EXPECT_EQ(catalog_->decide(refused->id, false, "用途与电话号码无关", police_)->status, "refused");

  // None: refused at once.
  NewResource closed;
  closed.classification = "301001";
  closed.name = "内部考勤";
  closed.format = "json";
  closed.items = {{"official", "工作人员", "string"}};
  closed.share_type = ShareType::none;
  auto internal = catalog_->register_resource(closed, market_);
  ASSERT_TRUE(internal.ok());
  auto none = catalog_->request_grant(request_for(*internal, {"official"}), tax_);
  ASSERT_TRUE(none.ok());
  EXPECT_EQ(none->status, "refused");
  EXPECT_EQ(catalog_->check_grant("tax", internal->id, {"official"}).error().code, "catalog.no_grant");

  // Each request and decision is in the log, with its legal basis.
  auto entry = log_->entry(*log_->size() - 1);
  ASSERT_TRUE(entry.ok());
  EXPECT_NE(entry->content.find("catalog.grant_request"), std::string::npos);
  EXPECT_NE(entry->content.find("优化营商环境条例"), std::string::npos);
}

TEST_P(CatalogTest, AGrantCoversItsItemsUntilItExpiresOrIsRevoked) {
  Resource legal_person = registry_resource("legal_person");
  auto granted = catalog_->request_grant({legal_person.id, {"name", "uscc"}, "税务登记", "《税收征收管理法》第十五条", "2026-11-30"}, tax_);
  ASSERT_TRUE(granted.ok());
  auto missing = catalog_->check_grant("tax", legal_person.id, {"name", "registered_capital"});
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().code, "catalog.item_not_granted");
  EXPECT_EQ(missing.error().details["item"], "registered_capital");

  clock_.set(local_day_start(Date(2026, 11, 30)) + std::chrono::hours(23));
  EXPECT_TRUE(catalog_->check_grant("tax", legal_person.id, {"name"}).ok()) << "the last day still holds";
  clock_.set(local_day_start(Date(2026, 12, 1)));
  EXPECT_EQ(catalog_->check_grant("tax", legal_person.id, {"name"}).error().code, "catalog.grant_expired");

  auto renewed = catalog_->request_grant({legal_person.id, {"name"}, "税务登记", "《税收征收管理法》第十五条", "2027-01-31"}, tax_);
  ASSERT_TRUE(renewed.ok());
  EXPECT_TRUE(catalog_->check_grant("tax", legal_person.id, {"name"}).ok());
  EXPECT_EQ(catalog_->revoke(renewed->id, "不再需要", civil_).error().code, "catalog.not_party");
  EXPECT_EQ(catalog_->revoke(renewed->id, "", market_).error().details["field"], "reason");
  auto revoked = catalog_->revoke(renewed->id, "企业已注销", market_);
  ASSERT_TRUE(revoked.ok());
  EXPECT_EQ(revoked->status, "revoked");
  EXPECT_EQ(catalog_->check_grant("tax", legal_person.id, {"name"}).error().code, "catalog.grant_expired");
  EXPECT_EQ(catalog_->revoke(renewed->id, "again", tax_).error().code, "catalog.grant_not_active");

  auto grants = catalog_->grants_of("tax");
  ASSERT_TRUE(grants.ok());
  EXPECT_EQ(grants->size(), 2u);
  EXPECT_EQ(catalog_->grants_of("market")->size(), 2u) << "as provider";
}

TEST_P(CatalogTest, ARequestNamesWhatIsWrong) {
  Resource person = registry_resource("person");
  auto unknown = catalog_->request_grant(request_for(person, {"name", "shoe_size"}), civil_);
  ASSERT_FALSE(unknown.ok());
  EXPECT_EQ(unknown.error().code, "catalog.unknown_item");
  EXPECT_EQ(unknown.error().details["item"], "shoe_size");
  GrantRequest request = request_for(person, {"name"});
  request.purpose = "";
  EXPECT_EQ(catalog_->request_grant(request, civil_).error().details["field"], "purpose");
  request = request_for(person, {"name"});
  request.legal_basis = "";
  EXPECT_EQ(catalog_->request_grant(request, civil_).error().details["field"], "legal_basis");
  request = request_for(person, {"name"});
  request.expires_on = "2026-11-22";
  EXPECT_EQ(catalog_->request_grant(request, civil_).error().code, "catalog.expiry_in_past");
  request.expires_on = "2026-13-01";
  EXPECT_EQ(catalog_->request_grant(request, civil_).error().details["field"], "expires_on");
  request = request_for(person, {});
  EXPECT_EQ(catalog_->request_grant(request, civil_).error().details["field"], "items");
  request = request_for(person, {"name"});
  request.resource_id = "res_nothing";
  EXPECT_EQ(catalog_->request_grant(request, civil_).error().code, "catalog.resource_not_found");
}

TEST(CatalogConfiguration, MistakesNameTheFileLineAndField) {
  testing::TemporaryDirectory directory;
  auto registries = registry::RegistryCatalog::load(testing::config_dir() / "registries",
                                                    {"police", "civil", "health", "market", "tax", "hrss"});
  ASSERT_TRUE(registries.ok()) << registries.error().message;
  directory.write("classification.yaml", testing::read_file(testing::config_dir() / "catalog" / "classification.yaml"));
  directory.write("registries.yaml", "registries:\n  person:\n    classification: \"1-09-001\"\n    share_type: conditional\n");
  auto unknown = CatalogConfiguration::load(directory.path(), *registries);
  ASSERT_FALSE(unknown.ok());
  EXPECT_EQ(unknown.error().code, "catalog.unknown_classification");
  EXPECT_EQ(unknown.error().details["line"], 3);
  EXPECT_EQ(unknown.error().details["field"], "registries.person.classification");
  directory.write("registries.yaml", "registries:\n  person:\n    classification: \"1-01-001\"\n    share_type: sometimes\n");
  EXPECT_EQ(CatalogConfiguration::load(directory.path(), *registries).error().code, "catalog.bad_share_type");
  directory.write("registries.yaml", "registries:\n  nobody:\n    classification: \"1-01-001\"\n    share_type: none\n");
  EXPECT_EQ(CatalogConfiguration::load(directory.path(), *registries).error().code, "catalog.unknown_registry");
  directory.write("registries.yaml", "registries:\n  person:\n    classification: \"1-01-001\"\n    share: none\n");
  EXPECT_EQ(CatalogConfiguration::load(directory.path(), *registries).error().code, "config.unknown_key");
}

INSTANTIATE_TEST_SUITE_P(Backends, CatalogTest, ::testing::Values(store::Backend::sqlite, store::Backend::postgresql),
                         [](const auto& info) { return std::string(store::backend_name(info.param)); });

}  // namespace
}  // namespace onewindow::catalog
