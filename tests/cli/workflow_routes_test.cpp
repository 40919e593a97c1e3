// Workflow over HTTP as its users call it: an operator deploys a model and starts a case, officials
// of two departments work their inboxes, a supervisor reads the history. Bad input is refused with
// a 4xx naming the field, and a department never acts on another's task.
#include "served_platform.h"

#include <gtest/gtest.h>

namespace onewindow::cli {
namespace {

using onewindow::testing::http_request;
using onewindow::testing::HttpResponse;

class WorkflowRoutes : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(served_.platform);
    base_ = served_.base + "/api/v1/workflow";
    operator_ = served_.bearer({identity::AccountKind::platform_operator, "wf.operator", "served password 1", "运维", "", {},
                                "", "", ""})
                    .first;
    auto [market, market_principal] = served_.bearer({identity::AccountKind::official, "wf.market", "served password 1", "审查员",
                                                      served_.platform->directory->department_by_key("market")->id, {}, "", "", ""});
    market_ = market;
    market_account_ = market_principal.account_id;
    auto [colleague, colleague_principal] = served_.bearer({identity::AccountKind::official, "wf.market2", "served password 1",
                                                            "审查员", served_.platform->directory->department_by_key("market")->id,
                                                            {}, "", "", ""});
    colleague_ = colleague;
    colleague_account_ = colleague_principal.account_id;
    tax_ = served_.official("wf.tax", "tax");
    police_ = served_.official("wf.police", "police");
    hrss_ = served_.official("wf.hrss", "hrss");
    for (auto* headers : {&operator_, &market_, &colleague_, &tax_, &police_, &hrss_}) (*headers)["Content-Type"] = "application/json";
  }

  HttpResponse post(const std::string& path, const std::string& body, std::map<std::string, std::string> headers) {
    return http_request("POST", base_ + path, body, headers);
  }
  HttpResponse get(const std::string& path, const std::map<std::string, std::string>& headers) {
    return http_request("GET", base_ + path, "", headers);
  }

  std::string deploy_and_start() {
    auto headers = operator_;
    headers["Content-Type"] = "application/xml";
    std::string xml = onewindow::testing::read_file(onewindow::testing::source_dir() / "bench" / "models" / "parallel_reviews.bpmn");
    HttpResponse deployed = post("/deployments?name=parallel_reviews", xml, headers);
    EXPECT_TRUE(deployed.status == 201 || deployed.status == 200) << deployed.body;
    HttpResponse started = post("/instances", R"({"process_id":"parallel_reviews","variables":{"amount":3}})", operator_);
    EXPECT_EQ(started.status, 201) << started.body;
    return body_of(started)["id"];
  }

  // The one open task of the caller's department in the instance.
  std::string task_of(const std::string& instance, const std::map<std::string, std::string>& headers) {
    HttpResponse inbox = get("/tasks?instance_id=" + instance, headers);
    EXPECT_EQ(inbox.status, 200) << inbox.body;
    auto tasks = body_of(inbox)["tasks"];
    EXPECT_EQ(tasks.size(), 1u) << inbox.body;
    return tasks.empty() ? "" : tasks[0]["id"].get<std::string>();
  }

  ServedPlatform served_;
  std::string base_;
  std::map<std::string, std::string> operator_, market_, colleague_, tax_, police_, hrss_;
  std::string market_account_, colleague_account_;
};

TEST_F(WorkflowRoutes, ACaseRunsFromDeploymentThroughTheInboxesToItsEnd) {
  std::string instance = deploy_and_start();
  auto headers = operator_;
  headers["Content-Type"] = "application/xml";
  std::string xml = onewindow::testing::read_file(onewindow::testing::source_dir() / "bench" / "models" / "parallel_reviews.bpmn");
  HttpResponse again = post("/deployments?name=parallel_reviews", xml, headers);
  EXPECT_EQ(again.status, 200) << "the same text keeps its version";
  EXPECT_EQ(body_of(again)["version"], 1);

  std::string market_task = task_of(instance, market_);
  HttpResponse claimed = post("/tasks/" + market_task + "/claim", "", market_);
  ASSERT_EQ(claimed.status, 200) << claimed.body;
  EXPECT_EQ(body_of(claimed)["assignee"], market_account_);
  // Handed to a colleague, who completes it.
  HttpResponse transferred = post("/tasks/" + market_task + "/transfer", R"({"to":")" + colleague_account_ + R"("})", market_);
  ASSERT_EQ(transferred.status, 200) << transferred.body;
  HttpResponse completed = post("/tasks/" + market_task + "/complete", R"({"outcome":"approve","comment":"材料齐全"})", colleague_);
  ASSERT_EQ(completed.status, 200) << completed.body;
  EXPECT_EQ(body_of(completed)["status"], "completed");
  EXPECT_EQ(body_of(completed)["comment"], "材料齐全");
  HttpResponse twice = post("/tasks/" + market_task + "/complete", R"({"outcome":"approve"})", colleague_);
  EXPECT_EQ(twice.status, 409);
  EXPECT_EQ(body_of(twice)["error"]["code"], "workflow.task_not_open");

  for (auto* headers : {&tax_, &police_, &hrss_}) {
    std::string task = task_of(instance, *headers);
    HttpResponse done = post("/tasks/" + task + "/complete", R"({"outcome":"approve"})", *headers);
    ASSERT_EQ(done.status, 200) << done.body;
  }
  HttpResponse read = get("/instances/" + instance, operator_);
  ASSERT_EQ(read.status, 200);
  EXPECT_EQ(body_of(read)["status"], "completed");
  EXPECT_EQ(body_of(read)["variables"]["outcomes"]["market_review"], "approve");
  HttpResponse history = get("/instances/" + instance + "/history", market_);
  ASSERT_EQ(history.status, 200);
  auto steps = body_of(history)["steps"];
  ASSERT_EQ(steps.size(), 7u) << "start, claim, transfer and four completions";
  EXPECT_EQ(steps[0]["action"], "start");
  EXPECT_EQ(steps[2]["action"], "transfer");
  EXPECT_GE(steps[6]["log_index"].get<std::int64_t>(), 0);
}

TEST_F(WorkflowRoutes, NoDepartmentActsOnAnothersTask) {
  std::string instance = deploy_and_start();
  std::string market_task = task_of(instance, market_);
  HttpResponse by_tax = post("/tasks/" + market_task + "/complete", R"({"outcome":"approve"})", tax_);
  EXPECT_EQ(by_tax.status, 403) << by_tax.body;
  EXPECT_EQ(body_of(by_tax)["error"]["code"], "workflow.not_candidate");
  HttpResponse seen = get("/tasks/" + market_task, tax_);
  EXPECT_EQ(seen.status, 404) << "another department's task is not shown";
  EXPECT_EQ(get("/tasks/" + market_task, market_).status, 200);
  // Nor is it handed to another department's official.
  std::string tax_account = served_.platform->directory->account_by_username("wf.tax")->id;
  HttpResponse to_tax = post("/tasks/" + market_task + "/transfer", R"({"to":")" + tax_account + R"("})", market_);
  EXPECT_EQ(to_tax.status, 403) << to_tax.body;
  HttpResponse inbox = get("/tasks", tax_);
  for (const auto& task : body_of(inbox)["tasks"]) EXPECT_EQ(task["candidate_department"], "tax");
}

TEST_F(WorkflowRoutes, BadInputIsRefusedNamingTheField) {
  std::string instance = deploy_and_start();
  std::string task = task_of(instance, market_);
  auto xml_headers = operator_;
  xml_headers["Content-Type"] = "application/xml";
  struct Case {
    std::string what;
    HttpResponse response;
    int status;
    std::string code;
    std::string field;
  };
  std::vector<Case> cases = {
      {"a deployment without a name", post("/deployments", "<definitions/>", xml_headers), 400, "http.missing_parameter", "name"},
      {"a deployment that is not XML", post("/deployments?name=x", "{}", operator_), 415, "http.unsupported_media_type",
       "content-type"},
      {"a malformed model", post("/deployments?name=x", "<definitions", xml_headers), 400, "workflow.malformed_xml", "file"},
      {"a model with an unsupported element",
       post("/deployments?name=x",
            R"(<definitions xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL"><process id="p"><startEvent id="s"/><scriptTask id="t"/></process></definitions>)",
            xml_headers),
       400, "workflow.unsupported_element", "element"},
      {"a bad deployment name", post("/deployments?name=No%20Spaces", "<definitions/>", xml_headers), 400,
       "workflow.bad_deployment_name", "name"},
      {"a start without a process", post("/instances", R"({"variables":{}})", operator_), 400, "http.missing_field", "process_id"},
      {"variables that are not an object", post("/instances", R"({"process_id":"parallel_reviews","variables":[1]})", operator_),
       400, "http.bad_field", "variables"},
      {"an unknown field", post("/instances", R"({"process_id":"parallel_reviews","colour":"red"})", operator_), 400,
       "http.unknown_field", "colour"},
      {"a deadline of no working days", post("/instances", R"({"process_id":"parallel_reviews","deadline_working_days":0})", operator_),
       400, "http.bad_field", "deadline_working_days"},
      {"an unknown process", post("/instances", R"({"process_id":"nothing"})", operator_), 404, "workflow.unknown_process",
       "process_id"},
      {"a completion that is not JSON", post("/tasks/" + task + "/complete", "{", market_), 400, "http.malformed_json", ""},
      {"an outcome that is not a string", post("/tasks/" + task + "/complete", R"({"outcome":5})", market_), 400, "http.bad_field",
       "outcome"},
      {"a transfer to nobody", post("/tasks/" + task + "/transfer", R"({"to":"acc_nobody"})", market_), 400,
       "workflow.unknown_account", "to"},
      {"a transfer without its official", post("/tasks/" + task + "/transfer", R"({})", market_), 400, "http.missing_field", "to"},
      {"a signer in no position",
       post("/tasks/" + task + "/signers", R"({"signer":")" + colleague_account_ + R"(","position":"beside"})", market_), 400,
       "http.bad_field", "position"},
      {"a return to a task not done before", post("/tasks/" + task + "/return", R"({"node":"tax_review"})", market_), 400,
       "workflow.not_an_earlier_task", "node"},
      {"an unknown task", post("/tasks/wft_nothing/claim", "", market_), 404, "workflow.task_not_found", "task_id"},
      {"an unknown instance", get("/instances/wfi_nothing", operator_), 404, "workflow.instance_not_found", "instance_id"},
      {"a withdrawal by someone else", post("/instances/" + instance + "/withdraw", "", market_), 403, "workflow.not_starter", ""},
  };
  for (const Case& test : cases) {
    EXPECT_EQ(test.response.status, test.status) << test.what << ": " << test.response.body;
    auto error = body_of(test.response)["error"];
    EXPECT_EQ(error["code"], test.code) << test.what << ": " << test.response.body;
    if (!test.field.empty()) EXPECT_EQ(error["details"]["field"], test.field) << test.what << ": " << test.response.body;
  }
  // None of it changed the instance.
  HttpResponse history = get("/instances/" + instance + "/history", operator_);
  EXPECT_EQ(body_of(history)["steps"].size(), 1u);
}

TEST_F(WorkflowRoutes, SuspendedCasesWaitAndTheStarterWithdrawsAnUntouchedOne) {
  std::string instance = deploy_and_start();
  HttpResponse suspended = post("/instances/" + instance + "/suspend", R"({"reason":"补正材料"})", market_);
  ASSERT_EQ(suspended.status, 200) << suspended.body;
  EXPECT_EQ(body_of(suspended)["status"], "suspended");
  std::string task = task_of(instance, market_);
  HttpResponse refused = post("/tasks/" + task + "/complete", R"({"outcome":"approve"})", market_);
  EXPECT_EQ(refused.status, 409);
  EXPECT_EQ(body_of(refused)["error"]["code"], "workflow.instance_suspended");
  EXPECT_EQ(post("/instances/" + instance + "/resume", "", market_).status, 200);
  // The operator started it and no official has acted: the operator may withdraw it.
  HttpResponse withdrawn = post("/instances/" + instance + "/withdraw", R"({"reason":"申请人撤回"})", operator_);
  ASSERT_EQ(withdrawn.status, 200) << withdrawn.body;
  EXPECT_EQ(body_of(withdrawn)["status"], "withdrawn");
  EXPECT_TRUE(body_of(get("/tasks?instance_id=" + instance, market_))["tasks"].empty());
}

}  // namespace
}  // namespace onewindow::cli
