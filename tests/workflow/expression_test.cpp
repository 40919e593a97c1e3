// The condition language: what it computes, what it refuses, and that it cannot be made to run
// anything or to exhaust the stack.
#include "workflow/workflow.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <limits>

namespace onewindow::workflow {
namespace {

nlohmann::json evaluate(const std::string& text, const nlohmann::json& variables) {
  auto expression = Expression::parse(text);
  EXPECT_TRUE(expression.ok()) << text << ": " << expression.error().message;
  if (!expression.ok()) return "parse error";
  auto value = expression->evaluate(variables);
  EXPECT_TRUE(value.ok()) << text << ": " << value.error().message;
  return value.ok() ? *value : nlohmann::json("evaluation error");
}

TEST(WorkflowExpression, ComputesConditionsOverTheVariables) {
  const nlohmann::json variables = {{"outcome", "approve"},
                                    {"amount", 1200},
                                    {"rate", 0.5},
                                    {"applicant", {{"division", "370285"}, {"age", 34}}},
                                    {"reviews", {"approve", "approve", "refuse"}},
                                    {"nrOfInstances", 4},
                                    {"nrOfCompletedInstances", 3}};
  const std::vector<std::pair<std::string, nlohmann::json>> cases = {
      {R"(outcome == "approve")", true},
      {"outcome != 'approve'", false},
      {"${amount > 1000 && rate < 1}", true},
      {"amount >= 1200 and not (rate == 0.5)", false},
      {"applicant.division == \"370285\" or missing == 1", true},
      {"missing == null", true},
      {"applicant.age + 1", 35},
      {"amount * 2 - 400 / 2", 2200.0},
      {"amount % 7", 1200 % 7},
      {"-amount", -1200},
      {"reviews[2]", "refuse"},
      {"'refuse' in reviews", true},
      {"outcome in [\"approve\", \"conditional\"]", true},
      {"\"pro\" in outcome", true},
      {"nrOfCompletedInstances / nrOfInstances >= 0.75", true},
      {"'a' + \"b\"", "ab"},
      {"\"b\" > 'a'", true},
      {"1 == 1.0", true},
      {"[]", nlohmann::json::array()},
      {"income == null", true},  // a name that begins with "in" is a name
  };
  for (const auto& [text, expected] : cases) EXPECT_EQ(evaluate(text, variables), expected) << text;
}

TEST(WorkflowExpression, AndAndOrStopWhenTheLeftSideDecides) {
  // The right side would be an error; it is never evaluated.
  EXPECT_EQ(evaluate("false and 1 < 'x'", {}), false);
  EXPECT_EQ(evaluate("true or 1 < 'x'", {}), true);
}

TEST(WorkflowExpression, BadTextIsRefusedWithItsColumn) {
  for (const auto& [text, column] : std::vector<std::pair<std::string, int>>{
           {"amount >", 9}, {"(a == 1", 8}, {"a == 'open", 6}, {"a b", 3}, {"= some x in y", 1}, {"a.", 3},
           {"a[x]", 3}, {"", 1}, {"99999999999999999999", 21}}) {
    auto refused = Expression::parse(text);
    ASSERT_FALSE(refused.ok()) << text;
    EXPECT_EQ(refused.error().code, "workflow.bad_expression");
    EXPECT_EQ(refused.error().details["column"], column) << text << ": " << refused.error().message;
  }
  EXPECT_EQ(Expression::parse(std::string(3000, '1')).error().code, "workflow.bad_expression");
  // Nesting is bounded, so no text can exhaust the stack.
  EXPECT_EQ(Expression::parse(std::string(10000, '(') + "1" + std::string(10000, ')')).error().code,
            "workflow.bad_expression");
  EXPECT_EQ(Expression::parse(std::string(10000, '-') + "1").error().code, "workflow.bad_expression");
  EXPECT_EQ(Expression::parse(std::string(10000, '!') + "true").error().code, "workflow.bad_expression");
}

TEST(WorkflowExpression, WrongTypesAreErrorsNotGuesses) {
  for (const std::string text : {"1 < 'a'", "not 1", "1 and true", "'a' * 2", "1 / 0", "5 % 0", "- 'a'",
                                 "900000000000000000 * 100", "1 in 2"}) {
    auto expression = Expression::parse(text);
    ASSERT_TRUE(expression.ok()) << text;
    auto value = expression->evaluate({});
    ASSERT_FALSE(value.ok()) << text << " gave " << value->dump();
    EXPECT_EQ(value.error().code, "workflow.expression_type") << text;
  }
  auto not_boolean = Expression::parse("amount + 1");
  EXPECT_EQ(not_boolean->test({{"amount", 1}}).error().code, "workflow.expression_type");
  EXPECT_EQ(*Expression::parse("amount > 1")->test({{"amount", 2}}), true);
}

// Found by fuzz/expression_fuzz (fuzz/corpus/expression_fuzz/regression_*): variables come from
// forms and requests, so their numbers can be anything JSON allows.
TEST(WorkflowExpression, ExtremeNumbersInTheVariablesAreErrorsNotUndefinedBehaviour) {
  const nlohmann::json variables = {{"negative", std::numeric_limits<std::int64_t>::min()},
                                    {"unsigned", std::numeric_limits<std::uint64_t>::max()},
                                    {"list", {"a", "b"}}};
  // -(-2^63) does not fit in 64 bits: it was a signed overflow.
  auto negated = Expression::parse("-negative")->evaluate(variables);
  ASSERT_FALSE(negated.ok());
  EXPECT_EQ(negated.error().code, "workflow.expression_type");
  EXPECT_EQ(negated.error().details["field"], "expression");
  // An index too large for size_t threw std::out_of_range out of evaluate; it is past the end.
  EXPECT_EQ(evaluate("list[99999999999999999999999] == null", variables), true);
  EXPECT_EQ(evaluate("list[1]", variables), "b");
  // 2^64 - 1 was read as -1, so that it plus one was 0, and it equalled -1.
  EXPECT_EQ(evaluate("unsigned + 1 == 0", variables), false);
  EXPECT_EQ(evaluate("unsigned > 0", variables), true);
  EXPECT_EQ(evaluate("-unsigned < 0", variables), true);
  EXPECT_EQ(evaluate("unsigned == -1", variables), false);
}

}  // namespace
}  // namespace onewindow::workflow
