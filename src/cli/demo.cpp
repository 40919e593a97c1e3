// The demo's accounts, one of each kind, and its registries: generated persons and enterprises
// imported as their authorities would, plus the demo citizen and enterprise themselves. Made once,
// described in data_dir/demo-accounts.txt.
#include "cli/cli.h"

#include "base/identifiers.h"
#include "synthetic/synthetic.h"

#include <fstream>
#include <sys/stat.h>

namespace onewindow::cli {

namespace {

constexpr const char* demo_password = "onewindow-demo";

struct DemoAccount {
  identity::AccountKind kind;
  const char* username;
  const char* display_name;
  const char* department_key;  // officials
  std::vector<std::string> roles;
};

// A valid citizen ID number for the demo citizen: Laixi, born 1990-03-07, sequence 123 (odd: male).
Result<std::string> demo_citizen_id() {
  std::string first = "37028519900307123";
  auto check = citizen_id_check_character(first);
  if (!check.ok()) return check.take_error();
  return first + *check;
}

// A valid USCC for the demo enterprise: an enterprise (91) of Laixi.
Result<std::string> demo_enterprise_code() {
  std::string body = "MA3C8N2Q";
  auto organization = organization_code_check_character(body);
  if (!organization.ok()) return organization.take_error();
  std::string first = "91370285" + body + *organization;
  auto check = unified_social_credit_code_check_character(first);
  if (!check.ok()) return check.take_error();
  return first + *check;
}

constexpr std::int64_t demo_persons = 2000;
constexpr std::int64_t demo_enterprises = 200;

// The registries' demo data: `onewindow generate` with a fixed seed, each file imported by the
// department that is the authority of its fields; then the demo citizen and enterprise.
Result<std::string> seed_registries(Platform& platform, const std::string& citizen_id, const std::string& enterprise) {
  synthetic::Options options;
  options.persons = demo_persons;
  options.enterprises = demo_enterprises;
  options.today = Date(2026, 1, 1);
  std::filesystem::path directory = std::filesystem::path(platform.settings.data_dir) / "generated";
  auto files = synthetic::generate(options, *platform.divisions, directory);
  if (!files.ok()) return files.take_error();
  for (const synthetic::GeneratedFile& file : *files) {
    registry::ImportRequest request{file.registry, file.path, TextEncoding::utf8, "演示数据 demo data",
                                    {"demo", file.department}};
    auto begun = platform.imports->begin(request);
    if (!begun.ok()) return begun.take_error();
    auto finished = platform.imports->run(begun->id);
    if (!finished.ok()) return finished.take_error();
  }
  auto citizen = platform.registries->write(
      "person", citizen_id,
      {{"name", "张三"}, {"sex", "1"}, {"birth_date", "1990-03-07"}, {"ethnicity", "01"},
       {"household_address", "山东省青岛市莱西市烟台路8号"}, {"household_division", "370285"}, {"phone", "13800000001"}},
      "演示数据 demo data", {"demo", "police"});
  if (!citizen.ok()) return citizen.take_error();
  auto company = platform.registries->write(
      "legal_person", enterprise,
      {{"name", "青岛莱西示范有限公司"}, {"entity_type", "limited_liability_company"}, {"legal_representative", "李四"},
       {"registered_capital", "500.00"}, {"address", "山东省青岛市莱西市威海中路1号"}, {"division", "370285"},
       {"establishment_date", "2020-05-01"}, {"status", "active"}},
      "演示数据 demo data", {"demo", "market"});
  if (!company.ok()) return company.take_error();
  return "Registries: " + std::to_string(demo_persons + 1) + " persons and " + std::to_string(demo_enterprises + 1) +
         " enterprises (generated, seed " + std::to_string(options.seed) + "), e.g. GET " +
         "/api/v1/registries/person/records?field=name&prefix=王 as police.clerk";
}

}  // namespace

Result<std::vector<std::string>> seed_demo(Platform& platform) {
  std::filesystem::path file = std::filesystem::path(platform.settings.data_dir) / "demo-accounts.txt";
  std::vector<std::string> lines;
  if (std::filesystem::exists(file)) {
    std::ifstream in(file);
    for (std::string line; std::getline(in, line);) lines.push_back(line);
    return lines;
  }
  auto citizen_id = demo_citizen_id();
  if (!citizen_id.ok()) return citizen_id.take_error();
  auto enterprise = demo_enterprise_code();
  if (!enterprise.ok()) return enterprise.take_error();

  const std::vector<DemoAccount> accounts = {
      {identity::AccountKind::platform_operator, "operator", "平台运维 Platform operator", "", {}},
      {identity::AccountKind::supervisor, "supervisor", "监察员 Supervisor", "", {}},
      {identity::AccountKind::official, "approval.clerk", "行政审批局窗口 Approval bureau clerk", "approval", {}},
      {identity::AccountKind::official, "market.clerk", "市场监管局审批员 Market regulation official", "market",
       {"department_administrator"}},
      {identity::AccountKind::official, "police.clerk", "公安局审批员 Public security official", "police", {}},
      {identity::AccountKind::official, "health.clerk", "卫健委审批员 Health commission official", "health", {}},
      {identity::AccountKind::citizen, "citizen", "张三", "", {}},
      {identity::AccountKind::enterprise_user, "enterprise", "李四 (青岛莱西示范有限公司)", "", {}},
  };
  std::string citizen_account;
  lines.push_back("Demo accounts (password for all: " + std::string(demo_password) + "):");
  for (const DemoAccount& demo : accounts) {
    identity::NewAccount account;
    account.kind = demo.kind;
    account.username = demo.username;
    account.password = demo_password;
    account.display_name = demo.display_name;
    account.roles = demo.roles;
    if (demo.kind == identity::AccountKind::official) {
      auto department = platform.directory->department_by_key(demo.department_key);
      if (!department.ok()) return department.take_error();
      account.department_id = department->id;
    }
    if (demo.kind == identity::AccountKind::citizen) account.citizen_id = *citizen_id;
    if (demo.kind == identity::AccountKind::enterprise_user) {
      account.legal_person = *enterprise;
      account.enterprise_role = "legal_representative";
    }
    auto created = platform.directory->create_account(account, nullptr);
    if (!created.ok()) return created.take_error();
    if (demo.kind == identity::AccountKind::citizen) citizen_account = created->account.id;
    std::string line = "  " + std::string(identity::kind_name(demo.kind)) + ": " + demo.username;
    if (demo.department_key[0] != '\0') line += " (" + std::string(demo.department_key) + ")";
    if (!created->totp_secret.empty()) {
      line += "  TOTP secret " + created->totp_secret + " (code: oathtool --totp -b " + created->totp_secret + ")";
    }
    lines.push_back(line);
  }
  for (const auto& [client, secret] : platform.new_client_secrets) {
    lines.push_back("  OpenID Connect client " + client + ": secret " + secret);
  }
  lines.push_back("  (demo secrets are kept in " + file.string() + "; never run a demo data directory in production)");
  auto registries = seed_registries(platform, *citizen_id, *enterprise);
  if (!registries.ok()) return registries.take_error();
  lines.push_back(*registries);
  // One case of config/processes/parallel_approval.bpmn, waiting at the approval bureau's window.
  if (platform.workflow) {
    auto started = platform.workflow->start(
        {0, "parallel_approval", "demo-1", {{"applicant", "张三"}, {"service", "食品经营许可 food business licence"}}, 0},
        {citizen_account, "", {"citizen"}});
    if (!started.ok()) return started.take_error();
    lines.push_back("  a parallel-approval case (" + started->id +
                    ") waits in approval.clerk's inbox: GET /api/v1/workflow/tasks");
  }
  // Electronic licenses the demo citizen and enterprise hold, as their departments issued them.
  if (platform.licenses) {
    license::IssueRequest business{"business_license", "青岛莱西示范有限公司", *enterprise};
    business.license_number = *enterprise;
    business.jurisdiction = "370285";
    business.data = {{"entity_type", "有限责任公司"},
                     {"legal_representative", "李四"},
                     {"registered_capital", "伍佰万元整"},
                     {"establishment_date", "2020年5月1日"},
                     {"business_term", "长期"},
                     {"address", "山东省青岛市莱西市威海中路1号"},
                     {"business_scope", "软件开发；信息技术咨询服务。"}};
    business.basis = "演示数据 demo data";
    auto licensed = platform.licenses->issue(business, {"demo", "market"});
    if (!licensed.ok()) return licensed.take_error();
    license::IssueRequest household{"household_registration", "张三", *citizen_id};
    household.jurisdiction = "370285";
    household.data = {{"household_type", "家庭户"},
                      {"householder", "张三"},
                      {"relationship", "户主"},
                      {"address", "山东省青岛市莱西市烟台路8号"}};
    household.basis = "演示数据 demo data";
    auto registered = platform.licenses->issue(household, {"demo", "police"});
    if (!registered.ok()) return registered.take_error();
    lines.push_back("Licenses: a 营业执照 for enterprise and a 户口登记 for citizen (GET /api/v1/me/licenses); anyone "
                    "verifies GET /api/v1/licenses/" + licensed->identifier + "/verify");
  }
  {
    std::ofstream out(file);
    for (const std::string& line : lines) out << line << "\n";
  }
  ::chmod(file.c_str(), 0600);
  return lines;
}

}  // namespace onewindow::cli
