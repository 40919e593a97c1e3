// The condition language of process models; see Expression in workflow.h.
#include "workflow/workflow.h"

#include <charconv>
#include <cmath>
#include <cstdlib>
#include <limits>

namespace onewindow::workflow {

namespace {

constexpr std::size_t max_length = 2000;
constexpr int max_depth = 64;

}  // namespace

struct Expression::Node {
  enum class Kind { literal, variable, list, unary, binary } kind = Kind::literal;
  std::string operation;                     // unary: "-", "not"; binary: "+", "==", "and", "in", ...
  nlohmann::json value;                      // literal
  std::vector<std::string> path;             // variable: names; a number stands for an index
  std::vector<std::shared_ptr<const Node>> operands;
};

namespace {

using NodePointer = std::shared_ptr<const Expression::Node>;

class Parser {
 public:
  explicit Parser(std::string_view text) : text_(text) {}

  Result<NodePointer> parse() {
    auto node = parse_or(0);
    if (!node.ok()) return node;
    skip_spaces();
    if (at_ < text_.size()) return fail("unexpected text");
    return node;
  }

 private:
  Error fail(const std::string& why) const {
    return Error(ErrorKind::invalid_argument, "workflow.bad_expression",
                 "column " + std::to_string(at_ + 1) + ": " + why, {{"field", "expression"}, {"column", at_ + 1}});
  }

  void skip_spaces() {
    while (at_ < text_.size() && (text_[at_] == ' ' || text_[at_] == '\t' || text_[at_] == '\n' || text_[at_] == '\r')) ++at_;
  }

  // Consumes `symbol` if it comes next; a word must not run on into a name (`in` of `income`).
  bool take(std::string_view symbol) {
    skip_spaces();
    if (text_.substr(at_, symbol.size()) != symbol) return false;
    bool word = std::isalpha(static_cast<unsigned char>(symbol[0])) != 0;
    std::size_t after = at_ + symbol.size();
    if (word && after < text_.size() && (std::isalnum(static_cast<unsigned char>(text_[after])) != 0 || text_[after] == '_')) {
      return false;
    }
    at_ = after;
    return true;
  }

  static NodePointer binary(std::string operation, NodePointer left, NodePointer right) {
    auto node = std::make_shared<Expression::Node>();
    node->kind = Expression::Node::Kind::binary;
    node->operation = std::move(operation);
    node->operands = {std::move(left), std::move(right)};
    return node;
  }

  Result<NodePointer> deeper(int depth) const {
    if (depth > max_depth) return fail("nested too deeply");
    return NodePointer();
  }

  Result<NodePointer> parse_or(int depth) {
    ONEWINDOW_TRY(deeper(depth).status());
    auto left = parse_and(depth + 1);
    if (!left.ok()) return left;
    NodePointer node = *left;
    while (take("||") || take("or")) {
      auto right = parse_and(depth + 1);
      if (!right.ok()) return right;
      node = binary("or", node, *right);
    }
    return node;
  }

  Result<NodePointer> parse_and(int depth) {
    auto left = parse_not(depth + 1);
    if (!left.ok()) return left;
    NodePointer node = *left;
    while (take("&&") || take("and")) {
      auto right = parse_not(depth + 1);
      if (!right.ok()) return right;
      node = binary("and", node, *right);
    }
    return node;
  }

  Result<NodePointer> parse_not(int depth) {
    ONEWINDOW_TRY(deeper(depth).status());
    skip_spaces();
    bool negated = (text_.substr(at_, 2) != "!=" && take("!")) || take("not");
    if (negated) {
      auto operand = parse_not(depth + 1);
      if (!operand.ok()) return operand;
      auto node = std::make_shared<Expression::Node>();
      node->kind = Expression::Node::Kind::unary;
      node->operation = "not";
      node->operands = {*operand};
      return NodePointer(node);
    }
    return parse_comparison(depth + 1);
  }

  Result<NodePointer> parse_comparison(int depth) {
    auto left = parse_additive(depth + 1);
    if (!left.ok()) return left;
    for (const char* operation : {"==", "!=", "<=", ">=", "<", ">", "in"}) {
      if (take(operation)) {
        auto right = parse_additive(depth + 1);
        if (!right.ok()) return right;
        return binary(operation, *left, *right);
      }
    }
    return left;
  }

  Result<NodePointer> parse_additive(int depth) {
    auto left = parse_multiplicative(depth + 1);
    if (!left.ok()) return left;
    NodePointer node = *left;
    while (true) {
      std::string operation = take("+") ? "+" : take("-") ? "-" : "";
      if (operation.empty()) return node;
      auto right = parse_multiplicative(depth + 1);
      if (!right.ok()) return right;
      node = binary(operation, node, *right);
    }
  }

  Result<NodePointer> parse_multiplicative(int depth) {
    auto left = parse_unary(depth + 1);
    if (!left.ok()) return left;
    NodePointer node = *left;
    while (true) {
      std::string operation = take("*") ? "*" : take("/") ? "/" : take("%") ? "%" : "";
      if (operation.empty()) return node;
      auto right = parse_unary(depth + 1);
      if (!right.ok()) return right;
      node = binary(operation, node, *right);
    }
  }

  Result<NodePointer> parse_unary(int depth) {
    ONEWINDOW_TRY(deeper(depth).status());
    if (take("-")) {
      auto operand = parse_unary(depth + 1);
      if (!operand.ok()) return operand;
      auto node = std::make_shared<Expression::Node>();
      node->kind = Expression::Node::Kind::unary;
      node->operation = "-";
      node->operands = {*operand};
      return NodePointer(node);
    }
    return parse_primary(depth + 1);
  }

  Result<NodePointer> parse_primary(int depth) {
    skip_spaces();
    if (at_ >= text_.size()) return fail("an expression ends too soon");
    auto node = std::make_shared<Expression::Node>();
    char c = text_[at_];
    if (take("(")) {
      auto inner = parse_or(depth + 1);
      if (!inner.ok()) return inner;
      if (!take(")")) return fail("a ( is never closed");
      return inner;
    }
    if (take("[")) {
      node->kind = Expression::Node::Kind::list;
      if (!take("]")) {
        do {
          auto item = parse_or(depth + 1);
          if (!item.ok()) return item;
          node->operands.push_back(*item);
        } while (take(","));
        if (!take("]")) return fail("a [ is never closed");
      }
      return NodePointer(node);
    }
    if (c == '"' || c == '\'') return parse_string(c);
    if (std::isdigit(static_cast<unsigned char>(c)) != 0) return parse_number();
    if (std::isalpha(static_cast<unsigned char>(c)) != 0 || c == '_') {
      std::string name = identifier();
      if (name == "true" || name == "false") {
        node->value = name == "true";
        return NodePointer(node);
      }
      if (name == "null") return NodePointer(node);
      node->kind = Expression::Node::Kind::variable;
      node->path.push_back(name);
      while (true) {
        if (at_ < text_.size() && text_[at_] == '.') {
          ++at_;
          std::string part = identifier();
          if (part.empty()) return fail("a name must follow .");
          node->path.push_back(part);
        } else if (at_ < text_.size() && text_[at_] == '[') {
          ++at_;
          std::size_t start = at_;
          while (at_ < text_.size() && std::isdigit(static_cast<unsigned char>(text_[at_])) != 0) ++at_;
          if (start == at_ || at_ >= text_.size() || text_[at_] != ']') return fail("an index is a whole number in [ ]");
          node->path.push_back(std::string(text_.substr(start, at_ - start)));
          ++at_;
        } else {
          return NodePointer(node);
        }
      }
    }
    return fail(std::string("unexpected ") + c);
  }

  std::string identifier() {
    std::size_t start = at_;
    while (at_ < text_.size() &&
           (std::isalnum(static_cast<unsigned char>(text_[at_])) != 0 || text_[at_] == '_')) {
      ++at_;
    }
    return std::string(text_.substr(start, at_ - start));
  }

  Result<NodePointer> parse_string(char quote) {
    std::size_t start = at_++;
    std::string value;
    while (at_ < text_.size() && text_[at_] != quote) {
      if (text_[at_] == '\\' && at_ + 1 < text_.size()) ++at_;
      value += text_[at_++];
    }
    if (at_ >= text_.size()) {
      at_ = start;  // the message points at the quote that opens it
      return fail("a string is never closed");
    }
    ++at_;
    auto node = std::make_shared<Expression::Node>();
    node->value = value;
    return NodePointer(node);
  }

  Result<NodePointer> parse_number() {
    std::size_t start = at_;
    while (at_ < text_.size() && std::isdigit(static_cast<unsigned char>(text_[at_])) != 0) ++at_;
    bool fraction = at_ + 1 < text_.size() && text_[at_] == '.' && std::isdigit(static_cast<unsigned char>(text_[at_ + 1])) != 0;
    if (fraction) {
      ++at_;
      while (at_ < text_.size() && std::isdigit(static_cast<unsigned char>(text_[at_])) != 0) ++at_;
    }
    std::string digits(text_.substr(start, at_ - start));
    auto node = std::make_shared<Expression::Node>();
    if (fraction) {
      node->value = std::strtod(digits.c_str(), nullptr);
    } else {
      if (digits.size() > 18) return fail("a number is too large");
      node->value = std::stoll(digits);
    }
    return NodePointer(node);
  }

  std::string_view text_;
  std::size_t at_ = 0;
};

Error type_error(const std::string& why) {
  return Error(ErrorKind::invalid_argument, "workflow.expression_type", why, {{"field", "expression"}});
}

// A JSON integer as a signed 64-bit one. Integers above 2^63 - 1 (JSON allows them; nlohmann
// keeps them unsigned) are not: arithmetic takes them as doubles rather than wrapping them round
// to negative numbers.
bool as_integer(const nlohmann::json& value, std::int64_t& integer) {
  if (value.is_number_unsigned()) {
    auto unsigned_value = value.get<std::uint64_t>();
    if (unsigned_value > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) return false;
    integer = static_cast<std::int64_t>(unsigned_value);
    return true;
  }
  if (!value.is_number_integer()) return false;
  integer = value.get<std::int64_t>();
  return true;
}
}  // namespace

Result<Expression> Expression::parse(std::string_view text) {
  std::string_view body = text;
  // ${...}, as Camunda and Flowable models write conditions, means the same.
  auto first = body.find_first_not_of(" \t\r\n");
  auto last = body.find_last_not_of(" \t\r\n");
  if (first != std::string_view::npos) body = body.substr(first, last - first + 1);
  if (body.starts_with("${") && body.ends_with("}")) body = body.substr(2, body.size() - 3);
  if (body.size() > max_length) {
    return Error(ErrorKind::invalid_argument, "workflow.bad_expression", "an expression is at most 2,000 characters",
                 {{"field", "expression"}});
  }
  auto root = Parser(body).parse();
  if (!root.ok()) return root.take_error();
  Expression expression;
  expression.text_ = std::string(text);
  expression.root_ = *root;
  return expression;
}

Result<nlohmann::json> Expression::evaluate(const nlohmann::json& variables) const {
  if (!root_) return nlohmann::json();
  return evaluate(*root_, variables);
}

Result<bool> Expression::test(const nlohmann::json& variables) const {
  auto value = evaluate(variables);
  if (!value.ok()) return value.take_error();
  if (!value->is_boolean()) return type_error("the condition " + text_ + " is not true or false");
  return value->get<bool>();
}

Result<nlohmann::json> Expression::evaluate(const Node& node, const nlohmann::json& variables) const {
  using Kind = Node::Kind;
  switch (node.kind) {
    case Kind::literal:
      return node.value;
    case Kind::variable: {
      // An absent variable is null, so a condition may ask whether something was given.
      const nlohmann::json* at = &variables;
      for (const std::string& part : node.path) {
        if (at->is_object()) {
          auto found = at->find(part);
          if (found == at->end()) return nlohmann::json();
          at = &*found;
        } else if (at->is_array() && std::isdigit(static_cast<unsigned char>(part[0])) != 0) {
          // An index too large for size_t is past the end of any list, like any other too large.
          std::size_t index = 0;
          auto [end, error] = std::from_chars(part.data(), part.data() + part.size(), index);
          if (error != std::errc() || end != part.data() + part.size() || index >= at->size()) return nlohmann::json();
          at = &(*at)[index];
        } else {
          return nlohmann::json();
        }
      }
      // nlohmann compares and adds an integer above 2^63 - 1 as if it were negative (2^64 - 1
      // equals -1); as a double it is itself.
      if (std::int64_t unused = 0; at->is_number_unsigned() && !as_integer(*at, unused)) {
        return nlohmann::json(at->get<double>());
      }
      return *at;
    }
    case Kind::list: {
      nlohmann::json list = nlohmann::json::array();
      for (const auto& item : node.operands) {
        auto value = evaluate(*item, variables);
        if (!value.ok()) return value;
        list.push_back(std::move(value).value());
      }
      return list;
    }
    case Kind::unary: {
      auto operand = evaluate(*node.operands[0], variables);
      if (!operand.ok()) return operand;
      if (node.operation == "not") {
        if (!operand->is_boolean()) return type_error("not needs true or false");
        return nlohmann::json(!operand->get<bool>());
      }
      if (std::int64_t value = 0; as_integer(*operand, value)) {
        // -(-2^63) does not fit: undefined behaviour unless refused.
        if (value == std::numeric_limits<std::int64_t>::min()) return type_error("a number is too large");
        return nlohmann::json(-value);
      }
      if (operand->is_number()) return nlohmann::json(-operand->get<double>());
      return type_error("- needs a number");
    }
    case Kind::binary:
      break;
  }
  const std::string& operation = node.operation;
  auto left = evaluate(*node.operands[0], variables);
  if (!left.ok()) return left;
  if (operation == "and" || operation == "or") {
    if (!left->is_boolean()) return type_error(operation + " needs true or false on both sides");
    // Short-circuit: the right side is not evaluated when the left decides.
    if (operation == "and" && !left->get<bool>()) return nlohmann::json(false);
    if (operation == "or" && left->get<bool>()) return nlohmann::json(true);
    auto right = evaluate(*node.operands[1], variables);
    if (!right.ok()) return right;
    if (!right->is_boolean()) return type_error(operation + " needs true or false on both sides");
    return *right;
  }
  auto right = evaluate(*node.operands[1], variables);
  if (!right.ok()) return right;
  const nlohmann::json& a = *left;
  const nlohmann::json& b = *right;
  if (operation == "==") return nlohmann::json(a == b);
  if (operation == "!=") return nlohmann::json(a != b);
  if (operation == "<" || operation == "<=" || operation == ">" || operation == ">=") {
    if (!((a.is_number() && b.is_number()) || (a.is_string() && b.is_string()))) {
      return type_error(operation + " compares two numbers or two strings");
    }
    bool less = a < b, greater = b < a;
    if (operation == "<") return nlohmann::json(less);
    if (operation == "<=") return nlohmann::json(!greater);
    if (operation == ">") return nlohmann::json(greater);
    return nlohmann::json(!less);
  }
  if (operation == "in") {
    if (b.is_array()) return nlohmann::json(std::find(b.begin(), b.end(), a) != b.end());
    if (a.is_string() && b.is_string()) return nlohmann::json(b.get<std::string>().find(a.get<std::string>()) != std::string::npos);
    return type_error("in looks in a list, or for a string in a string");
  }
  if (operation == "+" && a.is_string() && b.is_string()) return nlohmann::json(a.get<std::string>() + b.get<std::string>());
  if (!a.is_number() || !b.is_number()) return type_error(operation + " needs two numbers");
  std::int64_t x_integer = 0, y_integer = 0;
  bool integers = as_integer(a, x_integer) && as_integer(b, y_integer);
  if ((operation == "/" || operation == "%") && (integers ? y_integer == 0 : b.get<double>() == 0.0)) {
    return type_error("division by zero");
  }
  if (integers && operation != "/") {
    std::int64_t x = x_integer, y = y_integer, result = 0;
    bool overflow = operation == "+"   ? __builtin_add_overflow(x, y, &result)
                    : operation == "-" ? __builtin_sub_overflow(x, y, &result)
                    : operation == "*" ? __builtin_mul_overflow(x, y, &result)
                                       : (result = y == -1 ? 0 : x % y, false);
    if (overflow) return type_error("a number is too large");
    return nlohmann::json(result);
  }
  double x = a.get<double>(), y = b.get<double>();
  if (operation == "+") return nlohmann::json(x + y);
  if (operation == "-") return nlohmann::json(x - y);
  if (operation == "*") return nlohmann::json(x * y);
  if (operation == "/") return nlohmann::json(x / y);
  return nlohmann::json(std::fmod(x, y));
}

}  // namespace onewindow::workflow
