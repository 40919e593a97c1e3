// The registries of config/registries over a fresh database of either engine, with a manual clock
// and writers of the demo departments; shared by the registry tests.
#pragma once

#include "identity/identity.h"
#include "registry/registry.h"
#include "testing.h"

#include <gtest/gtest.h>

namespace onewindow::registry {

constexpr const char* person_id = "360426199101010071";

class RegistryFixture : public ::testing::TestWithParam<store::Backend> {
 protected:
  static std::vector<store::Migration> migrations() {
    std::vector<store::Migration> all = audit::TransparencyLog::migrations();
    for (auto& migration : Registries::migrations()) all.push_back(migration);
    return all;
  }

  void SetUp() override {
    auto departments = identity::DirectoryConfiguration::load(onewindow::testing::config_dir() / "departments.yaml");
    ASSERT_TRUE(departments.ok());
    std::set<std::string> keys;
    for (const auto& department : departments->departments) keys.insert(department.key);
    department_keys_ = keys;
    auto catalog = RegistryCatalog::load(onewindow::testing::config_dir() / "registries", keys);
    ASSERT_TRUE(catalog.ok()) << catalog.error().message;
    catalog_.emplace(std::move(catalog).value());
    auto divisions = DivisionCodes::load(onewindow::testing::config_dir() / "divisions.yaml");
    ASSERT_TRUE(divisions.ok());
    divisions_.emplace(std::move(divisions).value());
    auto node_key = crypto::PrivateKey::generate();
    log_ = std::make_unique<audit::TransparencyLog>(*database_, *node_key, clock_);
    registries_ = std::make_unique<Registries>(*database_, *log_, *catalog_, *divisions_, clock_);
    ASSERT_TRUE(registries_->prepare().ok());
    imports_ = std::make_unique<Imports>(*database_, *registries_, clock_);
  }

  Result<WriteReceipt> register_person() {
    return registries_->write("person", person_id,
                              {{"name", "张三"}, {"sex", "1"}, {"birth_date", "1991-01-01"}, {"phone", "13812345678"}},
                              "出生登记 birth registration", police_);
  }

  onewindow::testing::TestDatabase database_{GetParam(), migrations()};
  ManualClock clock_{Date(2026, 11, 23)};
  std::optional<RegistryCatalog> catalog_;
  std::optional<DivisionCodes> divisions_;
  std::unique_ptr<audit::TransparencyLog> log_;
  std::unique_ptr<Registries> registries_;
  std::unique_ptr<Imports> imports_;
  std::set<std::string> department_keys_;
  Writer police_{"acc_police", "police"};
  Writer civil_{"acc_civil", "civil"};
  Writer market_{"acc_market", "market"};
};

}  // namespace onewindow::registry
