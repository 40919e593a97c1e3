// Reading BPMN 2.0 models: what is supported comes out as nodes and flows; anything else is
// refused naming the element, its id and its line; the MIWG reference models never crash it.
#include "workflow/workflow.h"

#include "testing.h"

#include <gtest/gtest.h>

namespace onewindow::workflow {
namespace {

// A parallel approval as bpmn-js draws it, with onewindow's extension attributes.
constexpr const char* approval = R"(<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
                  xmlns:bpmndi="http://www.omg.org/spec/BPMN/20100524/DI"
                  xmlns:ow="https://onewindow.invalid/bpmn" id="Definitions_1">
  <bpmn:process id="parallel_approval" name="并联审批" isExecutable="true">
    <bpmn:startEvent id="received" name="受理" />
    <bpmn:parallelGateway id="split" />
    <bpmn:userTask id="market_review" name="市场监管审查" ow:candidateDepartment="market" ow:candidateRole="official">
      <bpmn:multiInstanceLoopCharacteristics ow:collection="reviewers">
        <bpmn:completionCondition>nrOfCompletedInstances &gt;= 1</bpmn:completionCondition>
      </bpmn:multiInstanceLoopCharacteristics>
    </bpmn:userTask>
    <bpmn:boundaryEvent id="market_late" attachedToRef="market_review" cancelActivity="false">
      <bpmn:timerEventDefinition ow:workingDays="5" />
    </bpmn:boundaryEvent>
    <bpmn:serviceTask id="notify" ow:hook="supervision.warn" />
    <bpmn:userTask id="police_review" ow:candidateDepartment="police" />
    <bpmn:parallelGateway id="join" />
    <bpmn:exclusiveGateway id="decide" default="refused_flow" />
    <bpmn:intermediateCatchEvent id="wait">
      <bpmn:timerEventDefinition><bpmn:timeDuration>PT4H</bpmn:timeDuration></bpmn:timerEventDefinition>
    </bpmn:intermediateCatchEvent>
    <bpmn:endEvent id="approved" />
    <bpmn:endEvent id="refused"><bpmn:terminateEventDefinition /></bpmn:endEvent>
    <bpmn:sequenceFlow id="f1" sourceRef="received" targetRef="split" />
    <bpmn:sequenceFlow id="f2" sourceRef="split" targetRef="market_review" />
    <bpmn:sequenceFlow id="f3" sourceRef="split" targetRef="police_review" />
    <bpmn:sequenceFlow id="f4" sourceRef="market_review" targetRef="join" />
    <bpmn:sequenceFlow id="f5" sourceRef="police_review" targetRef="join" />
    <bpmn:sequenceFlow id="f6" sourceRef="join" targetRef="decide" />
    <bpmn:sequenceFlow id="approved_flow" sourceRef="decide" targetRef="wait">
      <bpmn:conditionExpression>outcome == "approve"</bpmn:conditionExpression>
    </bpmn:sequenceFlow>
    <bpmn:sequenceFlow id="f7" sourceRef="wait" targetRef="approved" />
    <bpmn:sequenceFlow id="refused_flow" sourceRef="decide" targetRef="refused" />
    <bpmn:sequenceFlow id="f8" sourceRef="market_late" targetRef="notify" />
  </bpmn:process>
  <bpmndi:BPMNDiagram id="diagram"><bpmndi:BPMNPlane id="plane" bpmnElement="parallel_approval" /></bpmndi:BPMNDiagram>
</bpmn:definitions>
)";

TEST(WorkflowModel, ReadsWhatItSupportsWithTheExtensionAttributes) {
  auto model = parse_model(approval, "approval.bpmn");
  ASSERT_TRUE(model.ok()) << model.error().message;
  ASSERT_EQ(model->processes.size(), 1u);
  const Process& process = model->processes[0];
  EXPECT_EQ(process.name, "并联审批");
  EXPECT_EQ(process.nodes.size(), 11u);
  EXPECT_EQ(process.flows.size(), 10u);

  const Node* market = process.node("market_review");
  ASSERT_NE(market, nullptr);
  EXPECT_EQ(market->kind, NodeKind::user_task);
  EXPECT_EQ(market->candidate_department.text, "market");
  EXPECT_EQ(market->candidate_role, "official");
  ASSERT_TRUE(market->multi_instance.has_value());
  EXPECT_FALSE(market->multi_instance->sequential);
  EXPECT_EQ(market->multi_instance->collection, "reviewers");
  EXPECT_EQ(market->multi_instance->completion_condition, "nrOfCompletedInstances >= 1");
  EXPECT_EQ(market->line, 8);

  const Node* late = process.node("market_late");
  EXPECT_EQ(late->kind, NodeKind::timer_boundary_event);
  EXPECT_EQ(late->attached_to, "market_review");
  EXPECT_FALSE(late->cancel_activity);
  EXPECT_EQ(late->timer->working_days, 5);
  EXPECT_EQ(process.node("wait")->timer->iso8601, "PT4H");
  EXPECT_EQ(process.node("notify")->hook, "supervision.warn");
  EXPECT_EQ(process.node("refused")->kind, NodeKind::terminate_end_event);

  const Node* decide = process.node("decide");
  ASSERT_TRUE(decide->default_flow.has_value());
  EXPECT_EQ(process.flows[*decide->default_flow].id, "refused_flow");
  EXPECT_EQ(decide->outgoing.size(), 2u);
  EXPECT_EQ(process.flows[decide->outgoing[0]].condition, "outcome == \"approve\"");
  EXPECT_EQ(process.node("split")->outgoing.size(), 2u);
  EXPECT_EQ(process.node("join")->incoming.size(), 2u);
}

// The approval model with one line replaced.
std::string approval_with(const std::string& from, const std::string& to) {
  std::string text = approval;
  auto at = text.find(from);
  EXPECT_NE(at, std::string::npos) << from;
  return text.replace(at, from.size(), to);
}

TEST(WorkflowModel, RefusesWhatItDoesNotRunNamingElementIdAndLine) {
  struct Case {
    std::string from, to, code, element, id;
    int line;
  };
  const std::vector<Case> cases = {
      {R"(<bpmn:serviceTask id="notify" ow:hook="supervision.warn" />)", R"(<bpmn:scriptTask id="notify" />)",
       "workflow.unsupported_element", "scriptTask", "notify", 16},
      {R"(<bpmn:startEvent id="received" name="受理" />)",
       R"(<bpmn:startEvent id="received"><bpmn:messageEventDefinition /></bpmn:startEvent>)",
       "workflow.unsupported_element", "startEvent", "received", 6},
      {R"(<bpmn:timerEventDefinition ow:workingDays="5" />)", R"(<bpmn:timerEventDefinition ow:workingDays="0" />)",
       "workflow.bad_attribute", "boundaryEvent", "", 14},
      {R"(<bpmn:timeDuration>PT4H</bpmn:timeDuration>)", R"(<bpmn:timeDuration>4 hours</bpmn:timeDuration>)",
       "workflow.bad_attribute", "timeDuration", "", 21},
      // Found by fuzz/bpmn_model_fuzz: a duration too long for the clock is refused at import.
      {R"(<bpmn:timeDuration>PT4H</bpmn:timeDuration>)", R"(<bpmn:timeDuration>P999999D</bpmn:timeDuration>)",
       "workflow.bad_attribute", "timeDuration", "", 21},
      // Found with fuzz/bpmn_model_fuzz: 200,000 digits overflowed the stack inside std::regex.
      {R"(<bpmn:timeDuration>PT4H</bpmn:timeDuration>)",
       "<bpmn:timeDuration>P" + std::string(200000, '0') + "1D</bpmn:timeDuration>", "workflow.bad_attribute",
       "timeDuration", "", 21},
      {R"(<bpmn:serviceTask id="notify" ow:hook="supervision.warn" />)", R"(<bpmn:serviceTask id="notify" />)",
       "workflow.bad_attribute", "serviceTask", "notify", 16},
      {R"(targetRef="police_review" />)", R"(targetRef="nowhere" />)", "workflow.unknown_reference", "sequenceFlow", "f3",
       27},
      {R"(<bpmn:exclusiveGateway id="decide" default="refused_flow" />)", R"(<bpmn:exclusiveGateway id="decide" default="f1" />)",
       "workflow.unknown_reference", "exclusiveGateway", "decide", 19},
      {R"(<bpmn:userTask id="police_review" ow:candidateDepartment="police" />)", R"(<bpmn:userTask id="join" />)",
       "workflow.duplicate_id", "parallelGateway", "join", 18},
      {R"(<bpmn:startEvent id="received" name="受理" />)", R"(<bpmn:task id="received" />)", "workflow.no_start_event",
       "process", "parallel_approval", 5},
  };
  for (const Case& test : cases) {
    auto refused = parse_model(approval_with(test.from, test.to), "approval.bpmn");
    ASSERT_FALSE(refused.ok()) << test.to;
    EXPECT_EQ(refused.error().code, test.code) << test.to << ": " << refused.error().message;
    EXPECT_EQ(refused.error().details["element"], test.element) << refused.error().message;
    if (!test.id.empty()) EXPECT_EQ(refused.error().details["id"], test.id) << refused.error().message;
    EXPECT_EQ(refused.error().details["line"], test.line) << refused.error().message;
    EXPECT_TRUE(refused.error().message.starts_with("approval.bpmn:" + std::to_string(test.line) + ": "))
        << refused.error().message;
  }
}

TEST(WorkflowModel, MalformedFilesAreErrorsNotCrashes) {
  EXPECT_EQ(parse_model("<bpmn:definitions", "x.bpmn").error().code, "workflow.malformed_xml");
  EXPECT_EQ(parse_model("<definitions/>", "x.bpmn").error().code, "workflow.not_bpmn");
  EXPECT_EQ(parse_model(R"(<definitions xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL"/>)", "x.bpmn").error().code,
            "workflow.no_process");
  EXPECT_EQ(load_model("/nonexistent/model.bpmn").error().code, "workflow.unreadable");
  std::string text = approval;
  for (std::size_t cut = 0; cut < text.size(); cut += 97) {
    auto result = parse_model(text.substr(0, cut), "cut.bpmn");  // must answer, whatever it answers
    EXPECT_FALSE(result.ok());
  }
}

TEST(WorkflowModel, EveryMiwgReferenceModelImportsOrIsRefusedClearly) {
  const std::set<std::string> refusals = {"workflow.unsupported_element", "workflow.bad_attribute",
                                          "workflow.no_start_event", "workflow.unknown_reference",
                                          "workflow.bad_expression"};
  int imported = 0, refused = 0;
  for (const auto& entry : std::filesystem::directory_iterator(onewindow::testing::source_dir() / "tests" / "workflow" /
                                                               "bpmn-miwg")) {
    if (entry.path().extension() != ".bpmn") continue;
    SCOPED_TRACE(entry.path().filename().string());
    auto model = load_model(entry.path());
    if (model.ok()) {
      ++imported;
      EXPECT_FALSE(model->processes.empty());
      continue;
    }
    ++refused;
    EXPECT_TRUE(refusals.contains(model.error().code)) << model.error().code << ": " << model.error().message;
    EXPECT_GT(model.error().details["line"].get<int>(), 0) << model.error().message;
    EXPECT_FALSE(model.error().details["element"].get<std::string>().empty()) << model.error().message;
    std::printf("  %s: %s\n", entry.path().filename().c_str(), model.error().message.c_str());
  }
  EXPECT_EQ(imported + refused, 21);
  EXPECT_GE(imported, 3) << "the simple ones (A.1.0, A.2.x) import";
}

}  // namespace
}  // namespace onewindow::workflow
