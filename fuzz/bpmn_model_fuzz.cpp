// Fuzz target: the BPMN importer, workflow::parse_model, on any bytes as the XML of a model.
//
// Contract checked: for every input parse_model returns a Model or an Error with a code, and
// never crashes, leaks or reaches undefined behaviour. A model it accepts is whole: every index
// between nodes and flows points inside its process, and what the import parsed (conditions,
// assignments, timer durations) can be used without crashing: conditions evaluated over no
// variables, timers' due times computed on the real working-day calendar.
#include "base/calendar.h"
#include "workflow/workflow.h"

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

namespace {
using namespace onewindow;

const WorkingDayCalendar& calendar() {
  static const WorkingDayCalendar loaded = [] {
    auto result = WorkingDayCalendar::load(std::string(ONEWINDOW_FUZZ_CONFIG_DIR) + "/calendar");
    if (!result.ok()) std::abort();  // the fuzz build's config/ is broken, not the importer
    return std::move(result).value();
  }();
  return loaded;
}

void walk(const workflow::Process& process, const nlohmann::json& variables) {
  const auto start = std::chrono::sys_days(std::chrono::year(2026) / 9 / 30) + std::chrono::hours(2);
  for (const auto& flow : process.flows) {
    if (flow.source >= process.nodes.size() || flow.target >= process.nodes.size()) __builtin_trap();
    // Evaluating may fail (an absent variable compared), but must not crash.
    if (flow.guard) (void)flow.guard->evaluate(variables);
  }
  for (const auto& node : process.nodes) {
    for (std::size_t index : node.incoming) if (index >= process.flows.size()) __builtin_trap();
    for (std::size_t index : node.outgoing) if (index >= process.flows.size()) __builtin_trap();
    if (node.default_flow && *node.default_flow >= process.flows.size()) __builtin_trap();
    (void)node.candidate_department.value(variables);
    (void)node.assignee.value(variables);
    if (node.multi_instance) {
      if (node.multi_instance->completion) (void)node.multi_instance->completion->evaluate(variables);
      if (node.multi_instance->count) (void)node.multi_instance->count->evaluate(variables);
    }
    if (node.timer) (void)workflow::due_at(*node.timer, start, calendar());
    for (const auto& child : node.sub_process) walk(child, variables);
  }
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view xml(reinterpret_cast<const char*>(data), size);
  auto model = workflow::parse_model(xml, "fuzz.bpmn");
  if (!model.ok()) {
    // Every refusal carries a stable code; an empty one would be a bug in the importer.
    if (model.error().code.empty()) __builtin_trap();
    return 0;
  }
  const nlohmann::json variables = nlohmann::json::object();
  for (const auto& process : model->processes) walk(process, variables);
  return 0;
}
