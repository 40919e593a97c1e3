// What the catalog and exchange tests share: the node's departments (their keys and USCCs), the
// registry definitions, and the catalog's configuration, all from config/.
#pragma once

#include "catalog/catalog.h"
#include "identity/identity.h"
#include "testing.h"

#include <gtest/gtest.h>

namespace onewindow::catalog {

struct CatalogData {
  std::set<std::string> department_keys;
  std::map<std::string, std::string> department_codes;
  std::optional<registry::RegistryCatalog> registries;
  std::optional<CatalogConfiguration> configuration;

  // Loads everything; a failure fails the test (check HasFatalFailure()).
  void load() {
    auto departments = identity::DirectoryConfiguration::load(testing::config_dir() / "departments.yaml");
    ASSERT_TRUE(departments.ok());
    for (const auto& department : departments->departments) {
      department_keys.insert(department.key);
      department_codes[department.key] = department.unified_social_credit_code;
    }
    auto definitions = registry::RegistryCatalog::load(testing::config_dir() / "registries", department_keys);
    ASSERT_TRUE(definitions.ok()) << definitions.error().message;
    registries.emplace(std::move(definitions).value());
    auto loaded = CatalogConfiguration::load(testing::config_dir() / "catalog", *registries);
    ASSERT_TRUE(loaded.ok()) << loaded.error().message;
    configuration.emplace(std::move(loaded).value());
  }
};

}  // namespace onewindow::catalog
