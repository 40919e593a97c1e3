// The demo's accounts, one of each kind, and its registries: generated persons and enterprises
// imported as their authorities would, plus the demo citizen and enterprise themselves. Made once,
// described in data_dir/demo-accounts.txt.
#include "cli/cli.h"

#include "base/identifiers.h"
#include "synthetic/synthetic.h"

#include <fstream>
#include <map>
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

// The demo's applications, one in every state of an application's life, some accepted days ago
// (by an engine on a clock set back) so that they are near or past their deadline.
Result<std::vector<std::string>> seed_applications(Platform& platform, const services::Applicant& citizen,
                                                   const std::map<std::string, std::string>& officials) {
  // Health and market read the citizen's registry items for the forms, through grants.
  auto resource = platform.catalog->registry_resource("person");
  if (!resource.ok()) return resource.take_error();
  for (auto [department, items] : {std::pair{"health", std::vector<std::string>{"name", "phone", "household_address"}},
                                   std::pair{"market", std::vector<std::string>{"name", "phone"}}}) {
    auto requested = platform.catalog->request_grant(
        {resource->id, items, "一件事一次办：表单预填 prefill", "《优化营商环境条例》第三十七条", "2030-12-31"},
        {officials.at(department), department, ""});
    if (!requested.ok()) return requested.take_error();
    auto decided = platform.catalog->decide(requested->id, true, "", {officials.at("police"), "police", ""});
    if (!decided.ok()) return decided.take_error();
  }
  auto official = [&](const std::string& department) {
    return services::Official{officials.at(department), department, {"official"}};
  };
  const std::string pdf = "%PDF-1.4\n1 0 obj << >> endobj\ntrailer << >>\n%%EOF\n";
  const std::string png = std::string("\x89PNG\r\n\x1a\n", 8) + std::string(32, '\0');
  auto newborn = [&](services::Applications& applications, const std::string& child) -> Result<services::Application> {
    auto made = applications.create("QD-CSYJS-001", citizen,
                                    {{"child_name", child}, {"child_sex", "2"}, {"child_birth_date", "2026-11-20"},
                                     {"birth_hospital", "莱西市人民医院"}, {"other_parent_name", "王芳"},
                                     {"other_parent_id", "44011320141005001X"}, {"bank_for_card", "qdbank"}},
                                    "", false);
    if (!made.ok()) return made.take_error();
    ONEWINDOW_TRY(applications.attach(made->id, citizen, "birth_record", "出生医学证明申领登记表.pdf", "application/pdf", pdf).status());
    return made;
  };
  auto enterprise = [&](services::Applications& applications, const std::string& name) -> Result<services::Application> {
    auto made = applications.create("QD-QYKB-001", citizen,
                                    {{"company_name", name}, {"entity_type", "limited_liability_company"},
                                     {"registered_capital", 100}, {"business_scope", "软件开发；信息技术咨询服务"},
                                     {"address", "山东省青岛市莱西市烟台路8号"}, {"division", "370285"}, {"employees", 3},
                                     {"seal_count", 2}},
                                    "", false);
    if (!made.ok()) return made.take_error();
    ONEWINDOW_TRY(applications.attach(made->id, citizen, "articles", "公司章程.pdf", "application/pdf", pdf).status());
    ONEWINDOW_TRY(applications.attach(made->id, citizen, "premises", "住所使用证明.pdf", "application/pdf", pdf).status());
    return made;
  };
  auto task_of = [&](services::Applications& applications, const services::Application& application,
                     const std::string& department) -> Result<std::string> {
    auto seen = applications.for_official(application.id, official(department));
    if (!seen.ok()) return seen.take_error();
    for (const auto& task : (*seen)["tasks"]) {
      if (task["status"] == "open") return task["id"].get<std::string>();
    }
    return Error(ErrorKind::internal, "demo.no_task", department + " has no open task on " + application.id);
  };
  auto decide = [&](services::Applications& applications, const services::Application& application,
                    const std::string& department, services::Decision decision) -> Result<services::Application> {
    auto task = task_of(applications, application, department);
    if (!task.ok()) return task.take_error();
    decision.task_id = *task;
    return applications.decide(application.id, decision, official(department));
  };
  services::Applications& now = *platform.applications;
  std::vector<std::string> lines = {"Applications of citizen (GET /api/v1/me/applications), one in every state:"};
  auto line = [&](const services::Application& application, const std::string& what) {
    lines.push_back("  " + application.id + " " + application.service + " " + application.state + ": " + what);
  };

  // Approved, its four licenses issued, rated.
  auto approved = newborn(now, "张小花");
  if (!approved.ok()) return approved.take_error();
  ONEWINDOW_TRY(now.submit(approved->id, citizen).status());
  ONEWINDOW_TRY(now.intake(approved->id, "accept", "", {}, official("approval")).status());
  for (const std::string department : {"health", "police", "medins", "hrss"}) {
    auto decided = decide(now, *approved, department, {"", "approve", "符合条件", "", {}});
    if (!decided.ok()) return decided.take_error();
    approved = decided;
  }
  ONEWINDOW_TRY(now.rate(approved->id, citizen, 5, "一次办好").status());
  line(*approved, "four licenses issued (GET /api/v1/me/licenses does not list them: they are the newborn's), rated 5");

  // Accepted days ago: enterprise establishment past its 3 working days, a newborn pack near its 5.
  for (auto [accepted_on, past_deadline] : {std::pair{Date(2026, 11, 24), true}, std::pair{Date(2026, 11, 25), false}}) {
    ManualClock then(accepted_on);
    workflow::Engine engine(*platform.database, *platform.transparency_log, *platform.calendar, then);
    services::Applications earlier(*platform.database, *platform.transparency_log, *platform.service_catalog, *platform.exchange,
                                   engine, then,
                                   {std::filesystem::path(platform.settings.data_dir) / "materials", platform.licenses.get()});
    auto made = past_deadline ? enterprise(earlier, "青岛莱西逾期示范有限公司") : newborn(earlier, "张小雨");
    if (!made.ok()) return made.take_error();
    ONEWINDOW_TRY(earlier.submit(made->id, citizen).status());
    auto accepted = earlier.intake(made->id, "accept", "", {}, official("approval"));
    if (!accepted.ok()) return accepted.take_error();
    if (past_deadline) {
      then.advance(std::chrono::hours(2));
      auto decided = decide(earlier, *accepted, "market", {"", "approve", "", "", {}});
      if (!decided.ok()) return decided.take_error();
      accepted = decided;
    }
    line(*accepted, std::string("accepted ") + accepted_on.to_string() + ", due " + accepted->due_on +
                        (past_deadline ? ": past its deadline, market approved, the others waiting" : ": near its deadline"));
  }

  // In correction: public security asks for the parents' identity cards.
  auto correction = newborn(now, "张小雪");
  if (!correction.ok()) return correction.take_error();
  ONEWINDOW_TRY(now.submit(correction->id, citizen).status());
  ONEWINDOW_TRY(now.intake(correction->id, "accept", "", {}, official("approval")).status());
  auto asked = decide(now, *correction, "police", {"", "correction", "请补充父母双方身份证件", "", {"parents_ids"}});
  if (!asked.ok()) return asked.take_error();
  line(*asked, "public security asks for parents_ids; upload it, then POST .../correction-supplied");

  // Waiting at the window.
  auto waiting = enterprise(now, "青岛莱西待受理示范有限公司");
  if (!waiting.ok()) return waiting.take_error();
  auto submitted = now.submit(waiting->id, citizen);
  if (!submitted.ok()) return submitted.take_error();
  line(*submitted, "waits for approval.clerk: GET /api/v1/intake");

  // A draft.
  auto draft = newborn(now, "张小草");
  if (!draft.ok()) return draft.take_error();
  line(*draft, "a draft, prefilled from the person registry through health's grant");

  // Rejected at the window, and refused by tax.
  auto rejected = enterprise(now, "青岛莱西不予受理示范有限公司");
  if (!rejected.ok()) return rejected.take_error();
  ONEWINDOW_TRY(now.submit(rejected->id, citizen).status());
  auto turned_away = now.intake(rejected->id, "reject", "企业名称与已登记企业重名", {}, official("approval"));
  if (!turned_away.ok()) return turned_away.take_error();
  line(*turned_away, "the window rejected it: the name is taken");
  auto refused = enterprise(now, "青岛莱西不予许可示范有限公司");
  if (!refused.ok()) return refused.take_error();
  ONEWINDOW_TRY(now.submit(refused->id, citizen).status());
  auto in_approval = now.intake(refused->id, "accept", "", {}, official("approval"));
  if (!in_approval.ok()) return in_approval.take_error();
  auto by_tax = decide(now, *in_approval, "tax", {"", "refuse", "住所与税务登记地址不一致", "《税务登记管理办法》第十条", {}});
  if (!by_tax.ok()) return by_tax.take_error();
  line(*by_tax, "tax refused it, with reasons and the legal basis");
  return lines;
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
      {identity::AccountKind::official, "medins.clerk", "医保局审批员 Medical insurance official", "medins", {}},
      {identity::AccountKind::official, "tax.clerk", "税务局审批员 Tax official", "tax", {}},
      {identity::AccountKind::official, "hrss.clerk", "人社局审批员 Human resources and social security official", "hrss", {}},
      {identity::AccountKind::citizen, "citizen", "张三", "", {}},
      {identity::AccountKind::enterprise_user, "enterprise", "李四 (青岛莱西示范有限公司)", "", {}},
  };
  std::string citizen_account;
  std::map<std::string, std::string> official_accounts;  // by department key
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
    if (demo.kind == identity::AccountKind::official) official_accounts[demo.department_key] = created->account.id;
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
  if (platform.applications) {
    auto applications = seed_applications(platform, {citizen_account, "citizen", *citizen_id, "张三"}, official_accounts);
    if (!applications.ok()) return applications.take_error();
    lines.insert(lines.end(), applications->begin(), applications->end());
  }
  if (platform.supervision) {
    // At once rather than at the worker's next interval, so that the dashboard has the demo's
    // warnings and cases from the start.
    auto watched = platform.supervision->watch();
    if (!watched.ok()) return watched.take_error();
    auto examined = platform.supervision->examine();
    if (!examined.ok()) return examined.take_error();
    lines.push_back("supervision: " + std::to_string(watched->raised) + " warnings and " +
                    std::to_string(examined->opened) +
                    " anomaly cases (GET /api/v1/supervision/warnings and /cases as supervisor)");
  }
  {
    std::ofstream out(file);
    for (const std::string& line : lines) out << line << "\n";
  }
  ::chmod(file.c_str(), 0600);
  return lines;
}

}  // namespace onewindow::cli
