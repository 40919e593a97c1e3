// One-stop services over HTTP, as a citizen and the officials would use them: the newborn pack
// applied for with the form prefilled from the person registry through health's grant (and the
// read shown under who read my data), a retried submit with the same Idempotency-Key, bad files
// and a bad form refused naming the field, intake at the approval bureau's window, public
// security asking for correction (the instance suspended), the citizen supplying it, the four
// departments approving in parallel, each seeing only its part; then enterprise establishment,
// refused by tax with reasons and the legal basis, which ends the others' tasks.
#include "served_platform.h"

#include "crypto/crypto.h"

#include <gtest/gtest.h>

#include <set>

namespace onewindow::cli {
namespace {

using onewindow::testing::http_request;
using onewindow::testing::HttpResponse;

constexpr const char* citizen_id = "360426199101010071";
constexpr const char* other_parent_id = "44011320141005001X";
const std::string pdf = "%PDF-1.4\n1 0 obj << >> endobj\ntrailer << >>\n%%EOF\n";
const std::string png = std::string("\x89PNG\r\n\x1a\n", 8) + std::string(64, '\0');

class ServicesRoutes : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(served_.platform);
    base_ = served_.base + "/api/v1";
    for (const std::string department : {"approval", "health", "police", "medins", "hrss", "market", "tax"}) {
      officials_[department] = served_.official("services." + department, department);
      officials_[department]["Content-Type"] = "application/json";
    }
    citizen_ = served_.bearer({identity::AccountKind::citizen, "services.citizen", "served password 1", "张三", "", {}, citizen_id, "", ""})
                   .first;
    other_ = served_.bearer({identity::AccountKind::citizen, "services.other", "served password 1", "李四", "", {}, other_parent_id, "", ""})
                 .first;
    citizen_["Content-Type"] = "application/json";
    ASSERT_TRUE(served_.platform->registries
                    ->write("person", citizen_id,
                            {{"name", "张三"}, {"sex", "1"}, {"birth_date", "1991-01-01"}, {"phone", "13812345678"},
                             {"household_address", "山东省青岛市莱西市烟台路1号"}},
                            "户籍登记", {"acc_police", "police"})
                    .ok());
    // Health may read the parent's name, phone and household address for the newborn pack; market
    // the founder's name and phone for enterprise establishment.
    grant("health", {"name", "phone", "household_address"});
    grant("market", {"name", "phone"});
  }

  void grant(const std::string& department, const std::vector<std::string>& items) {
    auto found = http_request("GET", base_ + "/catalog/resources?classification=101001", "", officials_.at(department));
    std::string resource = body_of(found)["resources"][0]["id"];
    HttpResponse asked = http_request("POST", base_ + "/catalog/grants",
                                      nlohmann::json{{"resource_id", resource},
                                                     {"items", items},
                                                     {"purpose", "一件事一次办 prefill"},
                                                     {"legal_basis", "《优化营商环境条例》第三十七条"},
                                                     {"expires_on", "2030-12-31"}}
                                          .dump(),
                                      officials_.at(department));
    ASSERT_EQ(asked.status, 201) << asked.body;
    ASSERT_EQ(http_request("POST", base_ + "/catalog/grants/" + std::string(body_of(asked)["id"]) + "/decision",
                           R"({"grant":true})", officials_.at("police"))
                  .status,
              200);
  }

  HttpResponse upload(const std::string& id, const std::string& material, const std::string& type, const std::string& content,
                      const std::map<std::string, std::string>* as = nullptr) {
    auto headers = as ? *as : citizen_;
    headers["Content-Type"] = type;
    return http_request("PUT", base_ + "/applications/" + id + "/materials/" + material + "?file_name=" + material + ".bin",
                        content, headers);
  }

  // The open task of a department on the application, as that department sees it.
  std::string task_of(const std::string& id, const std::string& department) {
    HttpResponse seen = http_request("GET", base_ + "/applications/" + id, "", officials_.at(department));
    EXPECT_EQ(seen.status, 200) << seen.body;
    nlohmann::json view = body_of(seen);
    for (const auto& task : view["tasks"]) {
      if (task["status"] == "open") return task["id"];
    }
    ADD_FAILURE() << department << " has no open task: " << seen.body;
    return "";
  }

  HttpResponse decide(const std::string& id, const std::string& department, nlohmann::json decision) {
    decision["task_id"] = task_of(id, department);
    return http_request("POST", base_ + "/applications/" + id + "/decision", decision.dump(), officials_.at(department));
  }

  // Verifies a license as anyone could, offline: the public verify answer's document, signature
  // and certificate chain, checked by the openssl command line.
  void verify_offline(const std::string& identifier) {
    HttpResponse verified = http_request("GET", base_ + "/licenses/" + identifier + "/verify");
    ASSERT_EQ(verified.status, 200) << verified.body;
    nlohmann::json answer = body_of(verified);
    EXPECT_EQ(answer["status"], "valid") << verified.body;
    std::filesystem::path folder = files_.path() / identifier;
    std::filesystem::create_directories(folder);
    onewindow::testing::write_file(folder / "license.json", answer["document_canonical"].get<std::string>());
    auto signature = crypto::from_hex(answer["signature_hex"].get<std::string>());
    ASSERT_TRUE(signature.ok());
    onewindow::testing::write_file(folder / "license.sig", std::string(signature->begin(), signature->end()));
    ASSERT_EQ(answer["certificate_chain_pem"].size(), 2u);
    onewindow::testing::write_file(folder / "department.pem", answer["certificate_chain_pem"][0].get<std::string>());
    onewindow::testing::write_file(folder / "root.pem", answer["certificate_chain_pem"][1].get<std::string>());
    auto run = [&](const std::string& command) {
      return onewindow::testing::run_command("cd '" + folder.string() + "' && " + command);
    };
    ASSERT_EQ(run("openssl x509 -in department.pem -pubkey -noout > department.pub").exit_code, 0);
    auto signature_checked = run(
        "openssl pkeyutl -verify -pubin -inkey department.pub -sigfile license.sig -rawin -digest sm3 -in license.json "
        "-pkeyopt distid:1234567812345678");
    EXPECT_EQ(signature_checked.exit_code, 0) << identifier << ": " << signature_checked.output;
    auto chain = run("openssl verify -CAfile root.pem department.pem");
    EXPECT_EQ(chain.exit_code, 0) << identifier << ": " << chain.output;
  }

  onewindow::testing::TemporaryDirectory files_;
  ServedPlatform served_;
  std::string base_;
  std::map<std::string, std::map<std::string, std::string>> officials_;
  std::map<std::string, std::string> citizen_, other_;
};

TEST_F(ServicesRoutes, ACitizenAppliesForTheNewbornPackAndFourDepartmentsApproveInParallel) {
  HttpResponse guide = http_request("GET", base_ + "/services/QD-CSYJS-001");
  ASSERT_EQ(guide.status, 200) << guide.body;
  EXPECT_EQ(body_of(guide)["promised_limit"], 5);
  EXPECT_EQ(body_of(http_request("GET", base_ + "/services?q=%E5%87%BA%E7%94%9F"))["services"].size(), 1u);

  nlohmann::json form = {{"child_name", "张小宝"}, {"child_sex", "1"}, {"child_birth_date", "2026-11-28"},
                         {"birth_hospital", "青岛市妇女儿童医院"}, {"other_parent_name", "李四"}};
  auto headers = citizen_;
  headers["Idempotency-Key"] = "newborn-2026-11-28";
  HttpResponse made = http_request("POST", base_ + "/services/QD-CSYJS-001/applications", nlohmann::json{{"form", form}}.dump(),
                                   headers);
  ASSERT_EQ(made.status, 201) << made.body;
  nlohmann::json application = body_of(made);
  std::string id = application["id"];
  EXPECT_EQ(application["state"], "draft");
  EXPECT_EQ(application["form"]["applicant_name"], "张三") << "prefilled from the person registry";
  EXPECT_EQ(application["form"]["household_address"], "山东省青岛市莱西市烟台路1号");
  EXPECT_EQ(application["sources"]["applicant_name"]["source"], "registry");
  EXPECT_EQ(application["sources"]["applicant_name"]["through"], "health");
  EXPECT_TRUE(application["sources"]["applicant_name"]["log_index"].is_number());
  EXPECT_EQ(application["sources"]["child_name"]["source"], "applicant");

  HttpResponse again = http_request("POST", base_ + "/services/QD-CSYJS-001/applications", nlohmann::json{{"form", form}}.dump(),
                                    headers);
  EXPECT_EQ(again.status, 200) << again.body;
  EXPECT_EQ(body_of(again)["id"], id) << "the same key, the same application";
  EXPECT_EQ(body_of(http_request("GET", base_ + "/me/applications", "", citizen_))["applications"].size(), 1u);

  // The prefill is a read through the exchange: the citizen sees it.
  HttpResponse reads = http_request("GET", base_ + "/me/data-reads", "", citizen_);
  ASSERT_EQ(reads.status, 200);
  ASSERT_EQ(body_of(reads)["reads"].size(), 1u) << reads.body;
  EXPECT_EQ(body_of(reads)["reads"][0]["department"], "health");

  // Bad files and a bad form, each named.
  HttpResponse wrong_type = upload(id, "birth_record", "application/pdf", png);
  EXPECT_EQ(wrong_type.status, 415) << wrong_type.body;
  EXPECT_EQ(body_of(wrong_type)["error"]["code"], "services.bad_file_type");
  EXPECT_EQ(upload(id, "photo", "application/pdf", pdf).status, 415) << "the photo is an image";
  HttpResponse too_large = upload(id, "photo", "image/png", png + std::string(2 * 1024 * 1024, 'x'));
  EXPECT_EQ(too_large.status, 413) << too_large.body;
  EXPECT_EQ(body_of(too_large)["error"]["details"]["field"], "file");
  EXPECT_EQ(upload(id, "shoe_size", "application/pdf", pdf).status, 404);
  EXPECT_EQ(upload(id, "birth_record", "application/pdf", pdf, &other_).status, 404) << "another citizen's application";
  HttpResponse early = http_request("POST", base_ + "/applications/" + id + "/submit", "", citizen_);
  EXPECT_EQ(early.status, 400) << early.body;
  EXPECT_EQ(body_of(early)["error"]["code"], "services.form_invalid");
  EXPECT_EQ(body_of(early)["error"]["details"]["field"], "other_parent_id");
  HttpResponse bad_id = http_request("PUT", base_ + "/applications/" + id + "/form",
                                     R"({"form":{"other_parent_id":"440113201410050011"}})", citizen_);
  ASSERT_EQ(bad_id.status, 200) << bad_id.body;
  HttpResponse bad_check = http_request("POST", base_ + "/applications/" + id + "/submit", "", citizen_);
  EXPECT_EQ(bad_check.status, 400) << bad_check.body;
  EXPECT_EQ(body_of(bad_check)["error"]["details"]["field"], "other_parent_id");
  ASSERT_EQ(http_request("PUT", base_ + "/applications/" + id + "/form",
                         nlohmann::json{{"form", {{"other_parent_id", other_parent_id}}}}.dump(), citizen_)
                .status,
            200);
  HttpResponse no_material = http_request("POST", base_ + "/applications/" + id + "/submit", "", citizen_);
  EXPECT_EQ(no_material.status, 400);
  EXPECT_EQ(body_of(no_material)["error"]["code"], "services.material_missing");
  ASSERT_EQ(upload(id, "birth_record", "application/pdf", pdf).status, 200);
  ASSERT_EQ(upload(id, "photo", "image/png", png).status, 200);
  EXPECT_TRUE(std::filesystem::is_directory(served_.directory.path() / "materials" / id))
      << "uploads are kept under the data directory";

  HttpResponse submitted = http_request("POST", base_ + "/applications/" + id + "/submit", "", citizen_);
  ASSERT_EQ(submitted.status, 200) << submitted.body;
  EXPECT_EQ(body_of(submitted)["state"], "submitted");
  EXPECT_EQ(http_request("POST", base_ + "/applications/" + id + "/submit", "", citizen_).status, 200) << "a retried submit";

  // Intake at the approval bureau's window, nowhere else.
  HttpResponse elsewhere = http_request("POST", base_ + "/applications/" + id + "/intake", R"({"decision":"accept"})",
                                        officials_.at("health"));
  EXPECT_EQ(elsewhere.status, 403) << elsewhere.body;
  HttpResponse waiting = http_request("GET", base_ + "/intake", "", officials_.at("approval"));
  ASSERT_EQ(body_of(waiting)["applications"].size(), 1u) << waiting.body;
  HttpResponse accepted = http_request("POST", base_ + "/applications/" + id + "/intake",
                                       R"({"decision":"accept_with_missing","missing":["parents_ids"]})",
                                       officials_.at("approval"));
  ASSERT_EQ(accepted.status, 200) << accepted.body;
  EXPECT_EQ(body_of(accepted)["state"], "accepted");
  EXPECT_NE(body_of(accepted)["due_on"], "");

  // Each department sees its part only.
  nlohmann::json hrss_view = body_of(http_request("GET", base_ + "/applications/" + id, "", officials_.at("hrss")));
  EXPECT_FALSE(hrss_view["form"].contains("birth_hospital")) << hrss_view.dump();
  EXPECT_TRUE(hrss_view["form"].contains("child_name"));
  EXPECT_EQ(hrss_view["materials"].size(), 1u) << "the photo only";
  nlohmann::json health_view = body_of(http_request("GET", base_ + "/applications/" + id, "", officials_.at("health")));
  EXPECT_TRUE(health_view["form"].contains("birth_hospital"));
  EXPECT_EQ(http_request("GET", base_ + "/applications/" + id, "", officials_.at("market")).status, 404)
      << "market does not implement the newborn pack";
  EXPECT_EQ(http_request("GET", base_ + "/applications/" + id, "", other_).status, 404);

  // Public security asks for the parents' identity cards: the clock stops.
  HttpResponse correction = decide(id, "police", {{"outcome", "correction"}, {"reason", "请补充父母双方身份证件"},
                                                  {"missing", {"parents_ids"}}});
  ASSERT_EQ(correction.status, 200) << correction.body;
  EXPECT_EQ(body_of(correction)["state"], "correction");
  nlohmann::json progress = body_of(http_request("GET", base_ + "/applications/" + id + "/progress", "", citizen_));
  EXPECT_EQ(progress["state"], "correction");
  EXPECT_EQ(progress["missing"], nlohmann::json::array({"parents_ids"}));
  EXPECT_EQ(progress["tasks"].size(), 4u) << progress.dump();
  HttpResponse while_waiting = decide(id, "hrss", {{"outcome", "approve"}});
  EXPECT_EQ(while_waiting.status, 409) << "nothing moves while the applicant is asked: " << while_waiting.body;
  HttpResponse too_soon = http_request("POST", base_ + "/applications/" + id + "/correction-supplied", "", citizen_);
  EXPECT_EQ(too_soon.status, 400);
  EXPECT_EQ(body_of(too_soon)["error"]["details"]["material"], "parents_ids");
  // The household registration the citizen holds stands in for the identity cards.
  license::IssueRequest household{"household_registration", "张三", citizen_id};
  household.data = {{"address", "山东省青岛市莱西市烟台路1号"}};
  auto registration = served_.platform->licenses->issue(household, {"acc_police", "police"});
  ASSERT_TRUE(registration.ok()) << registration.error().message;
  license::IssueRequest others{"household_registration", "李四", other_parent_id};
  auto not_his = served_.platform->licenses->issue(others, {"acc_police", "police"});
  ASSERT_TRUE(not_his.ok());
  HttpResponse foreign = http_request("PUT", base_ + "/applications/" + id + "/materials/parents_ids/license",
                                      nlohmann::json{{"identifier", not_his->identifier}}.dump(), citizen_);
  EXPECT_EQ(foreign.status, 404) << "another person's license: " << foreign.body;
  EXPECT_EQ(body_of(foreign)["error"]["details"]["field"], "identifier");
  HttpResponse presented = http_request("PUT", base_ + "/applications/" + id + "/materials/parents_ids/license",
                                        nlohmann::json{{"identifier", registration->identifier}}.dump(), citizen_);
  ASSERT_EQ(presented.status, 200) << presented.body;
  nlohmann::json police_view = body_of(http_request("GET", base_ + "/applications/" + id, "", officials_.at("police")));
  bool named = false;
  for (const auto& material : police_view["materials"]) named |= material["license"] == registration->identifier;
  EXPECT_TRUE(named) << "public security sees which license stands in: " << police_view.dump();
  HttpResponse supplied = http_request("POST", base_ + "/applications/" + id + "/correction-supplied", "", citizen_);
  ASSERT_EQ(supplied.status, 200) << supplied.body;
  EXPECT_EQ(body_of(supplied)["state"], "accepted");

  // A department acting on another's task is refused.
  std::string health_task = task_of(id, "health");
  HttpResponse not_theirs = http_request("POST", base_ + "/applications/" + id + "/decision",
                                         nlohmann::json{{"task_id", health_task}, {"outcome", "approve"}}.dump(),
                                         officials_.at("police"));
  EXPECT_EQ(not_theirs.status, 403) << not_theirs.body;
  EXPECT_EQ(body_of(not_theirs)["error"]["details"]["field"], "task_id");
  // The generic workflow routes do not move an application's instance behind its back.
  HttpResponse generic = http_request("POST", base_ + "/workflow/tasks/" + health_task + "/complete",
                                      R"({"outcome":"approve"})", officials_.at("health"));
  EXPECT_EQ(generic.status, 409) << generic.body;
  EXPECT_EQ(body_of(generic)["error"]["code"], "workflow.module_instance");
  HttpResponse no_basis = decide(id, "medins", {{"outcome", "refuse"}, {"reason", "不符合参保条件"}});
  EXPECT_EQ(no_basis.status, 400);
  EXPECT_EQ(body_of(no_basis)["error"]["details"]["field"], "legal_basis");

  for (const std::string department : {"health", "police", "medins", "hrss"}) {
    HttpResponse approved = decide(id, department, {{"outcome", "approve"}, {"reason", "符合条件"}});
    ASSERT_EQ(approved.status, 200) << department << ": " << approved.body;
  }
  nlohmann::json done = body_of(http_request("GET", base_ + "/applications/" + id, "", citizen_));
  EXPECT_EQ(done["state"], "approved") << done.dump();
  EXPECT_NE(done["finished_at"], "");

  // Four licenses, one per department, each for the newborn, signed by its department.
  ASSERT_EQ(done["licenses"].size(), 4u) << done.dump();
  std::set<std::string> issuers;
  std::set<std::string> holders;
  for (const auto& issued : done["licenses"]) {
    issuers.insert(issued["department"].get<std::string>());
    holders.insert(issued["holder_id"].get<std::string>());
    verify_offline(issued["identifier"]);
  }
  EXPECT_EQ(issuers, (std::set<std::string>{"health", "police", "medins", "hrss"}));
  ASSERT_EQ(holders.size(), 1u) << "one newborn on all four";
  EXPECT_TRUE(validate_citizen_id(*holders.begin(), Date(2026, 12, 31)).ok()) << "a valid citizen ID number was made";
  EXPECT_EQ(holders.begin()->substr(6, 8), "20261128") << "from the birth date";

  // The newborn is in the person registry under that number, as public security's registration,
  // and the other departments read it there as their grants allow.
  ASSERT_EQ(done["records"].size(), 1u) << done.dump();
  EXPECT_EQ(done["records"][0]["registry"], "person");
  EXPECT_EQ(done["records"][0]["key"], *holders.begin());
  EXPECT_TRUE(done["records"][0]["log_index"].is_number());
  HttpResponse registered =
      http_request("GET", base_ + "/registries/person/records/" + *holders.begin(), "", officials_.at("police"));
  ASSERT_EQ(registered.status, 200) << registered.body;
  nlohmann::json newborn = body_of(registered)["fields"];
  EXPECT_EQ(newborn["name"], "张小宝");
  EXPECT_EQ(newborn["sex"], "1");
  EXPECT_EQ(newborn["birth_date"], "2026-11-28");
  EXPECT_EQ(newborn["household_address"], "山东省青岛市莱西市烟台路1号") << "the parent's, from the form";
  progress = body_of(http_request("GET", base_ + "/applications/" + id + "/progress", "", citizen_));
  std::vector<std::string> actions;
  for (const auto& event : progress["history"]) actions.push_back(event["action"]);
  EXPECT_EQ(std::count(actions.begin(), actions.end(), "decide"), 5) << progress.dump();
  EXPECT_EQ(std::count(actions.begin(), actions.end(), "correction_supplied"), 1);

  // The citizen was told at each turn.
  nlohmann::json notices = body_of(http_request("GET", base_ + "/me/notifications", "", citizen_))["notifications"];
  std::vector<std::string> kinds;
  for (const auto& notice : notices) kinds.push_back(notice["kind"]);
  EXPECT_EQ(kinds, (std::vector<std::string>{"license.issued", "license.issued", "license.issued", "license.issued",
                                             "application.approved", "application.correction", "application.accepted"}));
  std::string notice_id = notices[0]["id"];
  EXPECT_EQ(http_request("POST", base_ + "/me/notifications/" + notice_id + "/read", "", other_).status, 404)
      << "another's notice";
  ASSERT_EQ(http_request("POST", base_ + "/me/notifications/" + notice_id + "/read", "", citizen_).status, 200);
  EXPECT_EQ(body_of(http_request("GET", base_ + "/me/notifications?unread=true", "", citizen_))["notifications"].size(), 6u);

  // A bad rating opens a follow-up for health, the competent department: first a call back.
  HttpResponse unexplained = http_request("POST", base_ + "/applications/" + id + "/rating", R"({"level":2})", citizen_);
  EXPECT_EQ(unexplained.status, 400);
  EXPECT_EQ(body_of(unexplained)["error"]["details"]["field"], "comment");
  EXPECT_EQ(http_request("POST", base_ + "/applications/" + id + "/rating", R"({"level":6})", citizen_).status, 400);
  HttpResponse rated = http_request("POST", base_ + "/applications/" + id + "/rating",
                                    R"({"level":2,"comment":"窗口等候时间太长"})", citizen_);
  ASSERT_EQ(rated.status, 200) << rated.body;
  std::string follow_up = body_of(rated)["follow_up_instance"];
  EXPECT_NE(follow_up, "");
  nlohmann::json inbox = body_of(http_request("GET", base_ + "/workflow/tasks", "", officials_.at("health")));
  bool call_back = false;
  for (const auto& task : inbox["tasks"]) call_back |= task["instance_id"] == follow_up && task["node_id"] == "call_back";
  EXPECT_TRUE(call_back) << inbox.dump();
  EXPECT_EQ(http_request("POST", base_ + "/applications/" + id + "/rating", R"({"level":5})", citizen_).status, 409)
      << "rated once";
}

TEST_F(ServicesRoutes, AnEnterpriseIsEstablishedWithFourSignedLicensesInParallel) {
  nlohmann::json form = {{"company_name", "青岛示范科技有限公司"}, {"entity_type", "limited_liability_company"},
                         {"registered_capital", 100}, {"business_scope", "软件开发"},
                         {"address", "山东省青岛市莱西市烟台路2号"}, {"division", "370285"}, {"employees", 5},
                         {"seal_count", 2}};
  auto headers = citizen_;
  headers["Idempotency-Key"] = "establish-1";
  HttpResponse made = http_request("POST", base_ + "/services/QD-QYKB-001/applications", nlohmann::json{{"form", form}}.dump(),
                                   headers);
  ASSERT_EQ(made.status, 201) << made.body;
  std::string id = body_of(made)["id"];
  EXPECT_EQ(body_of(made)["form"]["representative_name"], "张三") << "prefilled through market's grant";
  ASSERT_EQ(upload(id, "articles", "application/pdf", pdf).status, 200);
  ASSERT_EQ(upload(id, "premises", "application/pdf", pdf).status, 200);
  ASSERT_EQ(http_request("POST", base_ + "/applications/" + id + "/submit", "", citizen_).status, 200);
  ASSERT_EQ(http_request("POST", base_ + "/applications/" + id + "/intake", R"({"decision":"accept"})", officials_.at("approval"))
                .status,
            200);
  // Public security asks for the seal specimen first.
  ASSERT_EQ(decide(id, "police", {{"outcome", "correction"}, {"reason", "请上传印章印模"}, {"missing", {"seal_specimen"}}}).status,
            200);
  ASSERT_EQ(upload(id, "seal_specimen", "image/png", png).status, 200);
  ASSERT_EQ(http_request("POST", base_ + "/applications/" + id + "/correction-supplied", "", citizen_).status, 200);
  for (const std::string department : {"tax", "market", "hrss", "police"}) {
    HttpResponse approved = decide(id, department, {{"outcome", "approve"}});
    ASSERT_EQ(approved.status, 200) << department << ": " << approved.body;
  }
  nlohmann::json done = body_of(http_request("GET", base_ + "/applications/" + id, "", citizen_));
  ASSERT_EQ(done["state"], "approved") << done.dump();
  ASSERT_EQ(done["licenses"].size(), 4u) << done.dump();
  std::set<std::string> holders;
  for (const auto& issued : done["licenses"]) {
    holders.insert(issued["holder_id"].get<std::string>());
    verify_offline(issued["identifier"]);
  }
  ASSERT_EQ(holders.size(), 1u) << "one enterprise, one unified social credit code";
  EXPECT_TRUE(validate_unified_social_credit_code(*holders.begin()).ok()) << *holders.begin();
  EXPECT_EQ(holders.begin()->substr(2, 6), "370285") << "registered where the form says";

  // The enterprise is in the legal-person registry under its code, as market regulation's act.
  ASSERT_EQ(done["records"].size(), 1u) << done.dump();
  EXPECT_EQ(done["records"][0]["registry"], "legal_person");
  EXPECT_EQ(done["records"][0]["key"], *holders.begin());
  EXPECT_EQ(done["records"][0]["department"], "market");
  HttpResponse registered = http_request("GET", base_ + "/registries/legal_person/records/" + *holders.begin(), "",
                                         officials_.at("market"));
  ASSERT_EQ(registered.status, 200) << registered.body;
  nlohmann::json fields = body_of(registered)["fields"];
  EXPECT_EQ(fields["name"], "青岛示范科技有限公司");
  EXPECT_EQ(fields["entity_type"], "limited_liability_company");
  EXPECT_EQ(fields["legal_representative"], "张三");
  EXPECT_EQ(fields["registered_capital"], 100);
  EXPECT_EQ(fields["address"], "山东省青岛市莱西市烟台路2号");
  EXPECT_EQ(fields["division"], "370285");
  EXPECT_EQ(fields["status"], "active");
  EXPECT_EQ(fields["establishment_date"], served_.platform->clock.today().to_string());
  HttpResponse rated = http_request("POST", base_ + "/applications/" + id + "/rating", R"({"level":5,"comment":"三天办好"})",
                                    citizen_);
  ASSERT_EQ(rated.status, 200) << rated.body;
  EXPECT_EQ(body_of(rated)["rating"], 5);
}

// A newborn's citizen ID number ends in a sequence number of three digits, drawn at random: drawn
// again while the person registry holds it, so that the child never lands on someone else's
// record, and once the draws fail, each is tried in turn. All the 500 girls' numbers of the day
// and district but one are taken first: the child gets that one.
TEST_F(ServicesRoutes, ANewbornIsRegisteredUnderANumberNoOneHas) {
  const std::string division = served_.platform->directory->department_by_key("health")->division;
  const std::string free_sequence = "486";
  std::set<std::string> taken;
  for (int sequence = 0; sequence < 1000; sequence += 2) {
    // Girls' numbers: the sequence's last digit even.
    char digits[4];
    std::snprintf(digits, sizeof digits, "%03d", sequence);
    if (digits == free_sequence) continue;
    std::string first = division + "20261128" + digits;
    std::string number = first + *citizen_id_check_character(first);
    ASSERT_TRUE(served_.platform->registries
                    ->write("person", number, {{"name", "王某"}, {"sex", "2"}, {"birth_date", "2026-11-28"}}, "户籍登记",
                            {"acc_police", "police"})
                    .ok());
    taken.insert(number);
  }
  nlohmann::json form = {{"child_name", "张小妹"}, {"child_sex", "2"}, {"child_birth_date", "2026-11-28"},
                         {"birth_hospital", "青岛市妇女儿童医院"}, {"other_parent_name", "李四"},
                         {"other_parent_id", other_parent_id}, {"household_address", "山东省青岛市莱西市烟台路1号"},
                         {"applicant_name", "张三"}};
  HttpResponse made = http_request("POST", base_ + "/services/QD-CSYJS-001/applications", nlohmann::json{{"form", form}}.dump(),
                                   citizen_);
  ASSERT_EQ(made.status, 201) << made.body;
  std::string id = body_of(made)["id"];

  // A date the form's pattern lets through but the registry refuses is refused at submit,
  // naming the form's field, not at the last approval.
  ASSERT_EQ(http_request("PUT", base_ + "/applications/" + id + "/form", R"({"form":{"child_birth_date":"2026-02-30"}})",
                         citizen_)
                .status,
            200);
  ASSERT_EQ(upload(id, "birth_record", "application/pdf", pdf).status, 200);
  ASSERT_EQ(upload(id, "photo", "image/png", png).status, 200);
  HttpResponse impossible = http_request("POST", base_ + "/applications/" + id + "/submit", "", citizen_);
  EXPECT_EQ(impossible.status, 400) << impossible.body;
  EXPECT_EQ(body_of(impossible)["error"]["details"]["field"], "child_birth_date") << impossible.body;
  EXPECT_EQ(body_of(impossible)["error"]["details"]["registry_field"], "birth_date");
  ASSERT_EQ(http_request("PUT", base_ + "/applications/" + id + "/form", R"({"form":{"child_birth_date":"2026-11-28"}})",
                         citizen_)
                .status,
            200);

  ASSERT_EQ(http_request("POST", base_ + "/applications/" + id + "/submit", "", citizen_).status, 200);
  ASSERT_EQ(http_request("POST", base_ + "/applications/" + id + "/intake", R"({"decision":"accept"})", officials_.at("approval"))
                .status,
            200);
  for (const std::string department : {"health", "police", "medins", "hrss"}) {
    HttpResponse approved = decide(id, department, {{"outcome", "approve"}});
    ASSERT_EQ(approved.status, 200) << department << ": " << approved.body;
  }
  nlohmann::json done = body_of(http_request("GET", base_ + "/applications/" + id, "", citizen_));
  ASSERT_EQ(done["state"], "approved") << done.dump();
  std::string number = done["records"][0]["key"];
  EXPECT_EQ(number.substr(0, 17), division + "20261128" + free_sequence) << "the one number left";
  EXPECT_FALSE(taken.contains(number)) << number << " was someone else's";
  EXPECT_EQ(taken.size(), 499u);
  HttpResponse registered = http_request("GET", base_ + "/registries/person/records/" + number, "", officials_.at("police"));
  EXPECT_EQ(body_of(registered)["fields"]["name"], "张小妹");
}

TEST_F(ServicesRoutes, ARefusalByOneDepartmentEndsEnterpriseEstablishment) {
  nlohmann::json form = {{"company_name", "青岛示范科技有限公司"}, {"entity_type", "limited_liability_company"},
                         {"registered_capital", 100}, {"business_scope", "软件开发"},
                         {"address", "山东省青岛市莱西市烟台路2号"}, {"division", "370285"}, {"employees", 5},
                         {"seal_count", 2}};
  HttpResponse made = http_request("POST", base_ + "/services/QD-QYKB-001/applications",
                                   nlohmann::json{{"form", form}}.dump(), citizen_);
  ASSERT_EQ(made.status, 201) << made.body;
  std::string id = body_of(made)["id"];
  EXPECT_EQ(body_of(made)["form"]["representative_name"], "张三");
  EXPECT_EQ(body_of(made)["sources"]["representative_name"]["through"], "market");
  HttpResponse unsupported = upload(id, "articles", "image/png", png);
  EXPECT_EQ(unsupported.status, 415) << "articles are PDF only";
  ASSERT_EQ(upload(id, "articles", "application/pdf", pdf).status, 200);
  ASSERT_EQ(upload(id, "premises", "application/pdf", pdf).status, 200);
  ASSERT_EQ(http_request("POST", base_ + "/applications/" + id + "/submit", "", citizen_).status, 200);
  HttpResponse key_missing = http_request("POST", base_ + "/applications/" + id + "/intake",
                                          R"({"decision":"accept_with_missing","missing":["articles"]})",
                                          officials_.at("approval"));
  EXPECT_EQ(key_missing.status, 400) << "a key material cannot be missing";
  EXPECT_EQ(body_of(key_missing)["error"]["code"], "services.key_material");
  ASSERT_EQ(http_request("POST", base_ + "/applications/" + id + "/intake", R"({"decision":"accept"})", officials_.at("approval"))
                .status,
            200);

  ASSERT_EQ(decide(id, "market", {{"outcome", "approve"}}).status, 200);
  HttpResponse refused = decide(id, "tax", {{"outcome", "refuse"},
                                            {"reason", "住所与税务登记地址不一致"},
                                            {"legal_basis", "《税务登记管理办法》第十条"}});
  ASSERT_EQ(refused.status, 200) << refused.body;
  nlohmann::json application = body_of(http_request("GET", base_ + "/applications/" + id, "", citizen_));
  EXPECT_EQ(application["state"], "refused");
  EXPECT_EQ(application["legal_basis"], "《税务登记管理办法》第十条");
  nlohmann::json progress = body_of(http_request("GET", base_ + "/applications/" + id + "/progress", "", citizen_));
  for (const auto& task : progress["tasks"]) EXPECT_NE(task["status"], "open") << "a refusal ends every task: " << progress.dump();
  HttpResponse late = http_request("POST", base_ + "/applications/" + id + "/decision",
                                   nlohmann::json{{"task_id", "wft_nothing"}, {"outcome", "approve"}}.dump(), officials_.at("hrss"));
  EXPECT_EQ(late.status, 409) << late.body;
  HttpResponse rated = http_request("POST", base_ + "/applications/" + id + "/rating", R"({"level":5})", citizen_);
  ASSERT_EQ(rated.status, 200) << rated.body;
  EXPECT_EQ(body_of(rated)["follow_up_instance"], "") << "a good rating needs no follow-up";
}

}  // namespace
}  // namespace onewindow::cli
