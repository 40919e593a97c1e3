// Fuzz target: the condition language of gateways and multi-instance loops,
// workflow::Expression::parse, evaluate and test.
//
// Input: the expression's text, optionally followed by a NUL byte and a JSON object used as the
// variables (otherwise a fixed set that looks like an approval's: outcomes by task, numbers,
// lists, nested objects). Contract checked: parse gives an Expression or workflow.bad_expression;
// evaluate and test give a value or an error; nothing crashes, leaks or reaches undefined
// behaviour, whatever the text or the variables (huge numbers, deep nesting, odd types).
#include "workflow/workflow.h"

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace {
const nlohmann::json& default_variables() {
  static const nlohmann::json variables = {
      {"outcome", "approve"},
      {"outcomes", {{"market_review", "approve"}, {"police_review", "refuse"}, {"tax_review", nullptr}}},
      {"amount", 150},
      {"ratio", 0.66},
      {"big", 9007199254740993LL},
      {"negative", -9223372036854775807LL - 1},
      {"unsigned", 18446744073709551615ULL},
      {"approved", true},
      {"departments", {"market", "police", "tax"}},
      {"applicant", {{"name", "张三"}, {"age", 30}, {"children", {{{"name", "a"}}, {{"name", "b"}}}}}},
      {"nrOfInstances", 3},
      {"nrOfCompletedInstances", 2},
      {"nrOfActiveInstances", 1},
      {"empty", nlohmann::json::array()},
      {"nothing", nullptr}};
  return variables;
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view input(reinterpret_cast<const char*>(data), size);
  std::string_view text = input;
  nlohmann::json variables = default_variables();
  if (auto separator = input.find('\0'); separator != std::string_view::npos) {
    text = input.substr(0, separator);
    nlohmann::json given = nlohmann::json::parse(input.substr(separator + 1), nullptr, false);
    if (given.is_object()) variables = std::move(given);
  }
  auto expression = onewindow::workflow::Expression::parse(text);
  if (!expression.ok()) {
    if (expression.error().code != "workflow.bad_expression") __builtin_trap();
    return 0;
  }
  auto value = expression->evaluate(variables);
  auto truth = expression->test(variables);
  // test() is evaluate() that must give a boolean: the two agree.
  if (value.ok() && value->is_boolean() && (!truth.ok() || *truth != value->get<bool>())) __builtin_trap();
  // A parsed expression reparses from its own text.
  if (!onewindow::workflow::Expression::parse(expression->text()).ok()) __builtin_trap();
  return 0;
}
