// What the license tests share: the node's departments as the license module sees them, the
// license types of config/licenses/types.yaml, and a certificate authority, transparency log and
// Licenses over a fresh database of either engine.
#pragma once

#include "identity/identity.h"
#include "license/license.h"
#include "testing.h"

#include <gtest/gtest.h>

namespace onewindow::license {

// The departments of config/departments.yaml; a failure fails the test.
inline std::vector<Department> configured_departments() {
  auto loaded = identity::DirectoryConfiguration::load(testing::config_dir() / "departments.yaml");
  EXPECT_TRUE(loaded.ok()) << loaded.error().message;
  std::vector<Department> departments;
  if (!loaded.ok()) return departments;
  for (const auto& department : loaded->departments) {
    departments.push_back({department.key, department.name, department.english_name,
                           department.unified_social_credit_code, department.division});
  }
  return departments;
}

inline std::vector<store::Migration> license_migrations() {
  std::vector<store::Migration> all = audit::TransparencyLog::migrations();
  for (auto* module : {&pki::CertificateAuthority::migrations, &Licenses::migrations}) {
    for (auto& migration : (*module)()) all.push_back(migration);
  }
  return all;
}

constexpr const char* enterprise_code = "91110000600037341L";  // REFERENCE.md's valid USCC
constexpr const char* citizen_id = "360426199101010071";       // and citizen ID numbers
constexpr const char* other_citizen_id = "44011320141005001X";

class LicenseFixture : public ::testing::TestWithParam<store::Backend> {
 protected:
  void SetUp() override {
    auto configuration = LicenseConfiguration::load(testing::config_dir() / "licenses" / "types.yaml",
                                                    configured_departments());
    ASSERT_TRUE(configuration.ok()) << configuration.error().message;
    configuration_.emplace(std::move(configuration).value());
    auto authority = pki::CertificateAuthority::open(*database_, crypto::Bytes(16, 0x2a), clock_, {"370200", "青岛市"});
    ASSERT_TRUE(authority.ok()) << authority.error().message;
    authority_ = std::make_unique<pki::CertificateAuthority>(std::move(authority).value());
    log_ = std::make_unique<audit::TransparencyLog>(*database_, *authority_->node_key(), clock_);
    authority_->record_acts_in(*log_);
    licenses_ = std::make_unique<Licenses>(*database_, *log_, *authority_, *configuration_, clock_);
  }

  // A business license of the market department for the reference enterprise.
  Result<License> business_license(const std::string& number = "91110000600037341L") {
    IssueRequest request;
    request.type = "business_license";
    request.holder_name = "青岛示范有限公司";
    request.holder_id = enterprise_code;
    request.license_number = number;
    request.data = {{"entity_type", "有限责任公司（自然人投资或控股）"},
                    {"legal_representative", "李四"},
                    {"registered_capital", "壹佰万元整"},
                    {"establishment_date", "2026年11月23日"},
                    {"address", "山东省青岛市莱西市烟台路1号"},
                    {"business_scope", "软件开发；信息技术咨询服务。（依法须经批准的项目，经相关部门批准后方可开展经营活动）"}};
    request.basis = "设立登记 app_demo";
    return licenses_->issue(request, market_);
  }

  // A social security card (valid 10 years) of hrss for a citizen.
  Result<License> social_security_card(const std::string& holder = citizen_id, const std::string& name = "张三") {
    IssueRequest request;
    request.type = "social_security_card";
    request.holder_name = name;
    request.holder_id = holder;
    request.data = {{"card_number", "A12345678"}, {"bank", "中国工商银行青岛分行"}};
    return licenses_->issue(request, hrss_);
  }

  std::int64_t log_size() { return *log_->size(); }

  // The content of the latest log entry, parsed.
  nlohmann::json last_entry() {
    auto entry = log_->entry(log_size() - 1);
    EXPECT_TRUE(entry.ok());
    return entry.ok() ? nlohmann::json::parse(entry->content) : nlohmann::json();
  }

  // The openssl command line checks validity against the real time, so the clock starts there.
  ManualClock clock_{std::chrono::system_clock::now()};
  testing::TestDatabase database_{GetParam(), license_migrations()};
  std::optional<LicenseConfiguration> configuration_;
  std::unique_ptr<pki::CertificateAuthority> authority_;
  std::unique_ptr<audit::TransparencyLog> log_;
  std::unique_ptr<Licenses> licenses_;
  const Actor market_{"acc_market_official", "market"};
  const Actor hrss_{"acc_hrss_official", "hrss"};
  const Actor police_{"acc_police_official", "police"};
  const Viewer enterprise_{"", enterprise_code, ""};
  const Viewer citizen_{citizen_id, "", ""};
  const Viewer other_citizen_{other_citizen_id, "", ""};
  testing::TemporaryDirectory files_;
};

}  // namespace onewindow::license
