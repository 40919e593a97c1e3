// Accounts, roles, logins and sessions, against SQLite and PostgreSQL.
#include "audit/audit.h"
#include "identity/identity.h"
#include "identity/recent_lookups.h"
#include "testing.h"

#include <gtest/gtest.h>

#include <thread>

namespace onewindow::identity {
namespace {

using onewindow::testing::TemporaryDirectory;

constexpr const char* citizen_id = "360426199101010071";

class IdentityTest : public ::testing::TestWithParam<store::Backend> {
 protected:
  static std::vector<store::Migration> migrations() {
    std::vector<store::Migration> all = audit::TransparencyLog::migrations();
    for (auto& migration : Directory::migrations()) all.push_back(migration);
    return all;
  }

  void SetUp() override {

    auto node_key = crypto::PrivateKey::generate();
    ASSERT_TRUE(node_key.ok());
    log_ = std::make_unique<audit::TransparencyLog>(*database_, *node_key, clock_);
    auto key = crypto::random_bytes(16);
    auto envelope = crypto::Sm4Envelope::create(*key);
    ASSERT_TRUE(envelope.ok());
    auto policy = AccessPolicy::load(onewindow::testing::config_dir() / "roles.yaml");
    ASSERT_TRUE(policy.ok()) << policy.error().message;
    Options cheap;  // tests log in often: the cheapest argon2id cost libargon2 allows
    cheap.argon2_memory_kib = 64;
    cheap.argon2_iterations = 1;
    directory_service_ = std::make_unique<Directory>(*database_, *log_, *envelope, *policy, clock_, cheap);
    auto configuration = DirectoryConfiguration::load(onewindow::testing::config_dir() / "departments.yaml");
    ASSERT_TRUE(configuration.ok()) << configuration.error().message;
    ASSERT_TRUE(directory_service_->synchronise_departments(*configuration).ok());
  }

  std::string department_id(const char* key) {
    auto department = directory_service_->department_by_key(key);
    EXPECT_TRUE(department.ok());
    return department.ok() ? department->id : "";
  }

  CreatedAccount make_official(const std::string& username, const char* department_key) {
    NewAccount account;
    account.kind = AccountKind::official;
    account.username = username;
    account.password = "correct horse battery";
    account.display_name = "王晓明";
    account.department_id = department_id(department_key);
    auto created = directory_service_->create_account(account, nullptr);
    EXPECT_TRUE(created.ok()) << (created.ok() ? "" : created.error().message);
    return created.ok() ? *created : CreatedAccount{};
  }

  std::string code_for(const CreatedAccount& account) {
    auto code = Directory::totp_code(account.totp_secret, clock_.now());
    EXPECT_TRUE(code.ok());
    return code.ok() ? *code : "";
  }

  onewindow::testing::TestDatabase database_{GetParam(), migrations()};
  ManualClock clock_{Date(2026, 11, 23)};
  std::unique_ptr<audit::TransparencyLog> log_;
  std::unique_ptr<Directory> directory_service_;
};

TEST_P(IdentityTest, DepartmentsComeFromTheConfigurationWithStableIds) {
  auto departments = directory_service_->departments();
  ASSERT_TRUE(departments.ok());
  EXPECT_EQ(departments->size(), 20u);
  std::string market = department_id("market");
  auto configuration = DirectoryConfiguration::load(onewindow::testing::config_dir() / "departments.yaml");
  ASSERT_TRUE(directory_service_->synchronise_departments(*configuration).ok());
  EXPECT_EQ(department_id("market"), market);
  EXPECT_EQ(directory_service_->department(market)->name, "青岛市市场监督管理局");
}

TEST_P(IdentityTest, CitizenRegistersWithAValidIdAndLogsIn) {
  NewAccount account{AccountKind::citizen, "Zhang.San", "a long enough password", "张三", "", {}, citizen_id, "", ""};
  auto created = directory_service_->create_account(account, nullptr);
  ASSERT_TRUE(created.ok()) << created.error().message;
  EXPECT_EQ(created->account.username, "zhang.san");
  EXPECT_TRUE(created->totp_secret.empty());
  auto login = directory_service_->login({"zhang.san", "a long enough password", "", "127.0.0.1", SessionKind::browser});
  ASSERT_TRUE(login.ok()) << login.error().message;
  EXPECT_TRUE(login->principal.has("identity.sessions.own"));
  EXPECT_FALSE(login->principal.has("identity.accounts.manage"));
  auto again = directory_service_->authenticate(login->token, SessionKind::browser);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->account_id, created->account.id);
  EXPECT_EQ(again->citizen_id, citizen_id);
  clock_.advance(std::chrono::minutes(5));
  auto later = directory_service_->authenticate(login->token, SessionKind::browser);
  EXPECT_EQ(later->authenticated_at, login->principal.authenticated_at) << "the login time, not the time of the request";
  // A browser cookie is not a bearer token.
  EXPECT_FALSE(directory_service_->authenticate(login->token, SessionKind::bearer).ok());
}

TEST_P(IdentityTest, BadInputNamesTheField) {
  struct Case {
    NewAccount account;
    const char* field;
  } cases[] = {
      {{AccountKind::citizen, "zs", "a long enough password", "张三", "", {}, citizen_id, "", ""}, "username"},
      {{AccountKind::citizen, "zhangsan", "short", "张三", "", {}, citizen_id, "", ""}, "password"},
      {{AccountKind::citizen, "zhangsan", "a long enough password", "", "", {}, citizen_id, "", ""}, "display_name"},
      {{AccountKind::citizen, "zhangsan", "a long enough password", "张三", "", {}, "360426199101010072", "", ""}, "citizen_id"},
      {{AccountKind::enterprise_user, "boss", "a long enough password", "李四", "", {}, "", "91110000600037341M", "legal_representative"}, "legal_person"},
      {{AccountKind::enterprise_user, "boss", "a long enough password", "李四", "", {}, "", "91110000600037341L", "owner"}, "enterprise_role"},
      {{AccountKind::official, "clerk", "a long enough password", "王五", "", {}, "", "", ""}, "department_id"},
      {{AccountKind::official, "clerk", "a long enough password", "王五", "dep_nowhere", {}, "", "", ""}, "department_id"},
      {{AccountKind::citizen, "zhangsan", "a long enough password", "张三", "", {"operator"}, citizen_id, "", ""}, "roles"},
  };
  for (const Case& test : cases) {
    auto created = directory_service_->create_account(test.account, nullptr);
    ASSERT_FALSE(created.ok()) << test.field;
    EXPECT_EQ(created.error().details["field"], test.field) << created.error().message;
    // The ID number never appears in an error message.
    EXPECT_EQ(created.error().message.find("36042619910101007"), std::string::npos);
  }
  auto accounts = directory_service_->accounts_of_department(department_id("market"));
  ASSERT_TRUE(accounts.ok());
  EXPECT_TRUE(accounts->empty());
}

TEST_P(IdentityTest, UsernamesAndCitizensAreUnique) {
  NewAccount account{AccountKind::citizen, "zhangsan", "a long enough password", "张三", "", {}, citizen_id, "", ""};
  ASSERT_TRUE(directory_service_->create_account(account, nullptr).ok());
  auto same_name = directory_service_->create_account(account, nullptr);
  ASSERT_FALSE(same_name.ok());
  account.username = "zhangsan2";
  auto same_person = directory_service_->create_account(account, nullptr);
  ASSERT_FALSE(same_person.ok());
  EXPECT_EQ(same_person.error().code, "identity.citizen_registered");
}

TEST_P(IdentityTest, OfficialsNeedTheSecondFactorAndCodesAreSpentOnce) {
  CreatedAccount official = make_official("clerk", "market");
  ASSERT_FALSE(official.totp_secret.empty());
  EXPECT_TRUE(official.totp_uri.starts_with("otpauth://totp/"));
  auto without = directory_service_->login({"clerk", "correct horse battery", "", "127.0.0.1", SessionKind::browser});
  ASSERT_FALSE(without.ok());
  EXPECT_EQ(without.error().code, "identity.second_factor_required");
  auto wrong = directory_service_->login({"clerk", "correct horse battery", "000000", "127.0.0.1", SessionKind::browser});
  ASSERT_FALSE(wrong.ok());
  EXPECT_EQ(wrong.error().code, "identity.login_failed");
  std::string code = code_for(official);
  auto with = directory_service_->login({"clerk", "correct horse battery", code, "127.0.0.1", SessionKind::bearer});
  ASSERT_TRUE(with.ok()) << with.error().message;
  EXPECT_EQ(with->principal.department_id, department_id("market"));
  EXPECT_TRUE(with->principal.has("identity.department_accounts.read"));
  auto replayed = directory_service_->login({"clerk", "correct horse battery", code, "127.0.0.1", SessionKind::bearer});
  ASSERT_FALSE(replayed.ok());
  EXPECT_EQ(replayed.error().code, "identity.login_failed");
  clock_.advance(std::chrono::seconds(30));
  EXPECT_TRUE(directory_service_->login({"clerk", "correct horse battery", code_for(official), "127.0.0.1", SessionKind::bearer}).ok());
}

TEST_P(IdentityTest, RepeatedFailuresLockTheAccountForAWhile) {
  CreatedAccount official = make_official("clerk", "market");
  for (int attempt = 0; attempt < 5; ++attempt) {
    auto failed = directory_service_->login({"clerk", "wrong password!", "", "10.0.0." + std::to_string(attempt), SessionKind::browser});
    ASSERT_FALSE(failed.ok());
    EXPECT_EQ(failed.error().code, "identity.login_failed");
  }
  auto locked = directory_service_->login({"clerk", "correct horse battery", code_for(official), "10.0.1.1", SessionKind::browser});
  ASSERT_FALSE(locked.ok());
  EXPECT_EQ(locked.error().code, "identity.locked");
  EXPECT_EQ(locked.error().kind, ErrorKind::too_many_requests);
  clock_.advance(std::chrono::minutes(16));
  auto later = directory_service_->login({"clerk", "correct horse battery", code_for(official), "10.0.1.1", SessionKind::browser});
  EXPECT_TRUE(later.ok()) << later.error().message;
}

TEST_P(IdentityTest, OneAddressIsRateLimited) {
  for (int attempt = 0; attempt < 20; ++attempt) {
    auto failed = directory_service_->login({"user" + std::to_string(attempt), "wrong password!", "", "192.0.2.7", SessionKind::browser});
    EXPECT_EQ(failed.error().code, "identity.login_failed");
  }
  auto limited = directory_service_->login({"anyone", "wrong password!", "", "192.0.2.7", SessionKind::browser});
  EXPECT_EQ(limited.error().code, "identity.rate_limited");
  auto elsewhere = directory_service_->login({"anyone", "wrong password!", "", "192.0.2.8", SessionKind::browser});
  EXPECT_EQ(elsewhere.error().code, "identity.login_failed");
  clock_.advance(std::chrono::minutes(2));
  EXPECT_EQ(directory_service_->login({"anyone", "wrong password!", "", "192.0.2.7", SessionKind::browser}).error().code,
            "identity.login_failed");
}

TEST_P(IdentityTest, SessionsExpireAndLogoutEverywhereEndsThemAll) {
  NewAccount account{AccountKind::citizen, "zhangsan", "a long enough password", "张三", "", {}, citizen_id, "", ""};
  ASSERT_TRUE(directory_service_->create_account(account, nullptr).ok());
  auto first = directory_service_->login({"zhangsan", "a long enough password", "", "127.0.0.1", SessionKind::browser});
  auto second = directory_service_->login({"zhangsan", "a long enough password", "", "127.0.0.1", SessionKind::bearer});
  ASSERT_TRUE(first.ok() && second.ok());
  // Each session looked up first, so that what the directory keeps of it must be forgotten.
  ASSERT_TRUE(directory_service_->authenticate(first->token, SessionKind::browser).ok());
  ASSERT_TRUE(directory_service_->authenticate(second->token, SessionKind::bearer).ok());
  ASSERT_TRUE(directory_service_->logout(first->principal).ok());
  EXPECT_FALSE(directory_service_->authenticate(first->token, SessionKind::browser).ok());
  EXPECT_TRUE(directory_service_->authenticate(second->token, SessionKind::bearer).ok());
  auto third = directory_service_->login({"zhangsan", "a long enough password", "", "127.0.0.1", SessionKind::browser});
  ASSERT_TRUE(directory_service_->logout_everywhere(third->principal).ok());
  EXPECT_FALSE(directory_service_->authenticate(second->token, SessionKind::bearer).ok());
  EXPECT_FALSE(directory_service_->authenticate(third->token, SessionKind::browser).ok());

  auto fourth = directory_service_->login({"zhangsan", "a long enough password", "", "127.0.0.1", SessionKind::browser});
  ASSERT_TRUE(directory_service_->authenticate(fourth->token, SessionKind::browser).ok());
  clock_.advance(std::chrono::hours(13));
  EXPECT_FALSE(directory_service_->authenticate(fourth->token, SessionKind::browser).ok());
}

TEST_P(IdentityTest, RolesChangeWhatAnOfficialMayDo) {
  CreatedAccount official = make_official("clerk", "market");
  auto operator_account = directory_service_->create_account(
      {AccountKind::platform_operator, "ops", "operator password 1", "运维", "", {}, "", "", ""}, nullptr);
  ASSERT_TRUE(operator_account.ok());
  auto login = directory_service_->login({"ops", "operator password 1", code_for(*operator_account), "127.0.0.1", SessionKind::bearer});
  ASSERT_TRUE(login.ok()) << login.error().message;
  ASSERT_TRUE(directory_service_->set_roles(official.account.id, {"department_administrator"}, login->principal).ok());
  EXPECT_EQ(directory_service_->account(official.account.id)->roles, std::vector<std::string>{"department_administrator"});
  auto refused = directory_service_->set_roles(official.account.id, {"operator"}, login->principal);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().code, "identity.role_not_for_kind");
}

// Two directories on one database stand for two nodes: what one ends, the other learns within
// its recent_lookup_lifetime, and at once with a lifetime of zero.
TEST_P(IdentityTest, AnotherNodesLogoutHoldsWithinTheLookupLifetime) {
  NewAccount account{AccountKind::citizen, "zhangsan", "a long enough password", "张三", "", {}, citizen_id, "", ""};
  ASSERT_TRUE(directory_service_->create_account(account, nullptr).ok());
  auto key = crypto::random_bytes(16);
  auto envelope = crypto::Sm4Envelope::create(*key);
  auto policy = AccessPolicy::load(onewindow::testing::config_dir() / "roles.yaml");
  ASSERT_TRUE(envelope.ok() && policy.ok());
  Options short_lived;
  short_lived.recent_lookup_lifetime = std::chrono::milliseconds(200);
  Directory other_node(*database_, *log_, *envelope, *policy, clock_, short_lived);
  Options unkept;
  unkept.recent_lookup_lifetime = std::chrono::milliseconds(0);
  Directory third_node(*database_, *log_, *envelope, *policy, clock_, unkept);

  auto login = directory_service_->login({"zhangsan", "a long enough password", "", "127.0.0.1", SessionKind::bearer});
  ASSERT_TRUE(login.ok());
  ASSERT_TRUE(other_node.authenticate(login->token, SessionKind::bearer).ok());
  ASSERT_TRUE(third_node.authenticate(login->token, SessionKind::bearer).ok());
  ASSERT_TRUE(directory_service_->logout(login->principal).ok());
  EXPECT_FALSE(directory_service_->authenticate(login->token, SessionKind::bearer).ok());
  EXPECT_FALSE(third_node.authenticate(login->token, SessionKind::bearer).ok());
  // The other node answers from what it read until its lifetime has passed, then no more.
  EXPECT_TRUE(other_node.authenticate(login->token, SessionKind::bearer).ok());
  std::this_thread::sleep_for(std::chrono::milliseconds(250));
  auto later = other_node.authenticate(login->token, SessionKind::bearer);
  ASSERT_FALSE(later.ok());
  EXPECT_EQ(later.error().code, "identity.unauthenticated");
}

TEST_P(IdentityTest, SecretsAreNotStoredInTheClear) {
  CreatedAccount official = make_official("clerk", "market");
  auto login = directory_service_->login({"clerk", "correct horse battery", code_for(official), "127.0.0.1", SessionKind::bearer});
  ASSERT_TRUE(login.ok());
  Status checked = database_->read([&](store::Session& session) -> Status {
    auto account = session.query_one("SELECT password_hash, totp_secret FROM account WHERE username = 'clerk'");
    EXPECT_TRUE(account.ok());
    EXPECT_TRUE((*account)->text(0).starts_with("$argon2id$"));
    EXPECT_EQ((*account)->text(0).find("correct horse"), std::string::npos);
    const store::Blob& sealed = (*account)->blob(1);
    std::string sealed_text(sealed.begin(), sealed.end());
    EXPECT_EQ(sealed_text.find(official.totp_secret), std::string::npos);
    auto sessions = session.query("SELECT token_digest FROM session");
    EXPECT_TRUE(sessions.ok());
    for (const auto& row : *sessions) EXPECT_NE(row.text(0), login->token);
    return ok_status();
  });
  EXPECT_TRUE(checked.ok());
}

TEST_P(IdentityTest, ChangesAndPrivilegedLoginsAreInTheTransparencyLog) {
  CreatedAccount official = make_official("clerk", "market");
  ASSERT_TRUE(directory_service_->login({"clerk", "correct horse battery", code_for(official), "127.0.0.1", SessionKind::bearer}).ok());
  std::vector<std::string> actions;
  Status read = database_->read([&](store::Session& session) -> Status {
    auto count = session.query_one("SELECT COUNT(*) FROM department");
    EXPECT_EQ((*count)->integer(0), 20);
    return ok_status();
  });
  ASSERT_TRUE(read.ok());
  auto head = log_->sign_tree_head();
  ASSERT_TRUE(head.ok()) << head.error().message;
  // 20 departments added, one account created, one privileged login.
  for (std::int64_t index = 0; index < 22; ++index) {
    auto entry = log_->entry(index);
    ASSERT_TRUE(entry.ok()) << index;
  }
  EXPECT_FALSE(log_->entry(22).ok());
}

INSTANTIATE_TEST_SUITE_P(Backends, IdentityTest, ::testing::Values(store::Backend::sqlite, store::Backend::postgresql),
                         [](const auto& info) { return std::string(store::backend_name(info.param)); });

TEST(RecentLookups, KeepsForALifetimeAndForgetsWhatAWriteMayHaveChanged) {
  const auto now = std::chrono::system_clock::now();
  Principal principal;
  principal.account_id = "acc_1";
  Department department;
  department.id = "dep_1";

  RecentLookups recent(std::chrono::milliseconds(200));
  EXPECT_FALSE(recent.principal("bearer:a", now));
  recent.keep_principal("bearer:a", principal, now + std::chrono::hours(1), recent.generation());
  recent.keep_department(department, recent.generation());
  ASSERT_TRUE(recent.principal("bearer:a", now));
  EXPECT_EQ(recent.principal("bearer:a", now)->account_id, "acc_1");
  EXPECT_EQ(recent.department("dep_1")->id, "dep_1");
  // Never past the session's own end, on the platform's clock.
  EXPECT_FALSE(recent.principal("bearer:a", now + std::chrono::hours(1)));

  // What was read before a change is not kept after it.
  std::uint64_t before_change = recent.generation();
  recent.forget_all();
  EXPECT_FALSE(recent.principal("bearer:a", now));
  EXPECT_FALSE(recent.department("dep_1"));
  recent.keep_principal("bearer:a", principal, now + std::chrono::hours(1), before_change);
  recent.keep_department(department, before_change);
  EXPECT_FALSE(recent.principal("bearer:a", now));
  EXPECT_FALSE(recent.department("dep_1"));

  // Kept for the lifetime only.
  recent.keep_principal("bearer:a", principal, now + std::chrono::hours(1), recent.generation());
  std::this_thread::sleep_for(std::chrono::milliseconds(250));
  EXPECT_FALSE(recent.principal("bearer:a", now));

  RecentLookups unkept(std::chrono::milliseconds(0));
  unkept.keep_principal("bearer:a", principal, now + std::chrono::hours(1), unkept.generation());
  EXPECT_FALSE(unkept.principal("bearer:a", now));

  // Full: what has outlived its time makes room, and past that everything goes, never more kept.
  RecentLookups full(std::chrono::milliseconds(60'000));
  for (std::size_t i = 0; i <= RecentLookups::most_entries; ++i) {
    full.keep_principal("bearer:" + std::to_string(i), principal, now + std::chrono::hours(1), full.generation());
  }
  EXPECT_TRUE(full.principal("bearer:" + std::to_string(RecentLookups::most_entries), now));
  EXPECT_FALSE(full.principal("bearer:0", now));
}

TEST(AccessPolicy, ShippedRolesLoadAndMistakesNameTheLine) {
  auto policy = AccessPolicy::load(onewindow::testing::config_dir() / "roles.yaml");
  ASSERT_TRUE(policy.ok()) << policy.error().message;
  EXPECT_EQ(policy->permission("identity.department_accounts.read")->scope, PermissionScope::department);
  auto citizen = policy->permissions_of(AccountKind::citizen, {"operator"});
  EXPECT_FALSE(citizen.count("identity.accounts.manage")) << "a citizen cannot gain an operator's role";

  TemporaryDirectory directory;
  auto file = directory.write("roles.yaml",
                              "permissions:\n  a.read: {scope: global, description: x}\nroles:\n"
                              "  citizen: {name: 公民, name_en: Citizen, kinds: [citizen], permissions: [a.write]}\n");
  auto bad = AccessPolicy::load(file);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().details["line"], 4);
  EXPECT_EQ(bad.error().details["field"], "roles.citizen.permissions");
}

TEST(DirectoryConfiguration, ShippedDepartmentsLoadAndBadCodesAreRefused) {
  auto configuration = DirectoryConfiguration::load(onewindow::testing::config_dir() / "departments.yaml");
  ASSERT_TRUE(configuration.ok()) << configuration.error().message;
  EXPECT_EQ(configuration->nodes.size(), 3u);
  TemporaryDirectory directory;
  auto file = directory.write("departments.yaml",
                              "nodes:\n  - {division: \"370200\", name: 青岛市, name_en: Qingdao}\n"
                              "departments:\n  - {key: x, division: \"370200\", uscc: 11370200MB00000198, name: 某局, name_en: X}\n");
  auto bad = DirectoryConfiguration::load(file);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().details["line"], 4);
  EXPECT_EQ(bad.error().details["field"], "departments[0].uscc");
}

}  // namespace
}  // namespace onewindow::identity
