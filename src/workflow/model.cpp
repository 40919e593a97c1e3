// Reading BPMN 2.0 XML into a checked Model; see workflow.h.
#include "workflow/workflow.h"

#include <pugixml.hpp>

#include <algorithm>
#include <cctype>
#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <sstream>

namespace onewindow::workflow {

namespace {

constexpr std::string_view bpmn_namespace = "http://www.omg.org/spec/BPMN/20100524/MODEL";

// Elements of a process that describe it without changing what it does.
const std::set<std::string, std::less<>> descriptive = {
    "documentation",     "extensionElements", "laneSet",        "dataObject",      "dataObjectReference",
    "dataStoreReference", "textAnnotation",   "association",    "group",           "property",
    "ioSpecification",   "dataInputAssociation", "dataOutputAssociation", "incoming", "outgoing",
    "auditing",          "monitoring",        "category",       "categoryValue",   "resourceRole",
    "performer",         "humanPerformer",    "potentialOwner", "rendering",       "ioBinding"};

// Top-level declarations of a definitions element that are not processes.
const std::set<std::string, std::less<>> declarations = {
    "collaboration", "message",   "itemDefinition", "error",    "signal",       "escalation",  "dataStore",
    "resource",      "interface", "documentation",  "extensionElements", "relationship", "import",
    "category",      "globalTask", "globalUserTask", "globalManualTask", "correlationProperty", "partnerRole",
    "partnerEntity", "eventDefinition", "timerEventDefinition", "messageEventDefinition", "choreography",
    "conversation"};

// Namespace prefixes in scope, innermost first.
struct Scope {
  std::map<std::string, std::string> prefixes;  // "" is the default namespace
};

struct Name {
  std::string uri;
  std::string local;
};

class Reader {
 public:
  Reader(std::string_view xml, std::string_view file) : xml_(xml), file_(file) {}

  Result<Model> read() {
    pugi::xml_document document;
    pugi::xml_parse_result parsed =
        document.load_buffer(xml_.data(), xml_.size(), pugi::parse_default | pugi::parse_declaration, pugi::encoding_auto);
    if (!parsed) {
      return Error::invalid("workflow.malformed_xml", "file",
                            file_ + ":" + std::to_string(line_of(parsed.offset)) + ": not well-formed XML: " +
                                parsed.description());
    }
    pugi::xml_node root = document.document_element();
    Scope scope = enter(root, Scope());
    Name root_name = name_of(root, scope);
    if (root_name.uri != bpmn_namespace || root_name.local != "definitions") {
      return Error::invalid("workflow.not_bpmn", "file", file_ + ": the root element is not BPMN 2.0 definitions");
    }
    Model model;
    model.file = file_;
    for (pugi::xml_node child : root.children()) {
      if (child.type() != pugi::node_element) continue;
      Scope inner = enter(child, scope);
      Name name = name_of(child, inner);
      if (name.uri != bpmn_namespace) continue;  // diagrams (BPMN DI) and vendors' own elements
      if (name.local == "process") {
        auto process = read_process(child, inner, "process");
        if (!process.ok()) return process.take_error();
        model.processes.push_back(std::move(process).value());
      } else if (!declarations.contains(name.local)) {
        return refuse("workflow.unsupported_element", child, name.local, "not supported at the top of a model");
      }
    }
    if (model.processes.empty()) return Error::invalid("workflow.no_process", "file", file_ + ": no process in the file");
    return model;
  }

 private:
  int line_of(std::ptrdiff_t offset) const {
    std::size_t end = std::min(static_cast<std::size_t>(std::max<std::ptrdiff_t>(offset, 0)), xml_.size());
    return 1 + static_cast<int>(std::count(xml_.begin(), xml_.begin() + static_cast<std::ptrdiff_t>(end), '\n'));
  }
  int line_of(pugi::xml_node node) const { return line_of(node.offset_debug()); }

  static Scope enter(pugi::xml_node node, const Scope& outer) {
    Scope scope = outer;
    for (pugi::xml_attribute attribute : node.attributes()) {
      std::string_view name = attribute.name();
      if (name == "xmlns") scope.prefixes[""] = attribute.value();
      if (name.starts_with("xmlns:")) scope.prefixes[std::string(name.substr(6))] = attribute.value();
    }
    return scope;
  }

  static Name name_of(pugi::xml_node node, const Scope& scope) {
    std::string_view qualified = node.name();
    auto colon = qualified.find(':');
    std::string prefix = colon == std::string_view::npos ? "" : std::string(qualified.substr(0, colon));
    auto found = scope.prefixes.find(prefix);
    return {found == scope.prefixes.end() ? "" : found->second,
            std::string(colon == std::string_view::npos ? qualified : qualified.substr(colon + 1))};
  }

  // An attribute of onewindow's namespace, whatever its prefix.
  static std::string extension(pugi::xml_node node, const Scope& scope, std::string_view local) {
    for (pugi::xml_attribute attribute : node.attributes()) {
      std::string_view name = attribute.name();
      auto colon = name.find(':');
      if (colon == std::string_view::npos || name.substr(colon + 1) != local) continue;
      auto found = scope.prefixes.find(std::string(name.substr(0, colon)));
      if (found != scope.prefixes.end() && found->second == extension_namespace) return attribute.value();
    }
    return "";
  }

  Error refuse(const char* code, pugi::xml_node node, std::string_view element, const std::string& why,
               std::string_view field = "element") const {
    std::string id = node.attribute("id").value();
    int line = line_of(node);
    return Error(ErrorKind::invalid_argument, code,
                 file_ + ":" + std::to_string(line) + ": " + std::string(element) + (id.empty() ? "" : " " + id) + ": " + why,
                 {{"file", file_}, {"line", line}, {"element", element}, {"id", id}, {"field", field}});
  }

  // The BPMN child elements of a node, with their names.
  std::vector<std::pair<pugi::xml_node, Name>> bpmn_children(pugi::xml_node node, const Scope& scope) const {
    std::vector<std::pair<pugi::xml_node, Name>> children;
    for (pugi::xml_node child : node.children()) {
      if (child.type() != pugi::node_element) continue;
      Name name = name_of(child, enter(child, scope));
      if (name.uri == bpmn_namespace) children.emplace_back(child, name);
    }
    return children;
  }

  static std::string text_of(pugi::xml_node node) {
    std::string text = node.child_value();
    auto first = text.find_first_not_of(" \t\r\n");
    if (first == std::string::npos) return "";
    return text.substr(first, text.find_last_not_of(" \t\r\n") - first + 1);
  }

  // onewindow:workingDays on an element: 0 when absent.
  Result<int> working_days(pugi::xml_node node, const Scope& scope, std::string_view element) const {
    std::string days = extension(node, scope, "workingDays");
    if (days.empty()) return 0;
    int value = 0;
    bool digits = days.size() <= 4 && std::all_of(days.begin(), days.end(), [](char c) { return c >= '0' && c <= '9'; });
    if (digits) value = std::stoi(days);
    if (!digits || value < 1) {
      return refuse("workflow.bad_attribute", node, element, "onewindow:workingDays must be a whole number from 1",
                    "workingDays");
    }
    return value;
  }

  // An onewindow attribute that may be an expression in ${...}.
  Result<Assignment> assignment(pugi::xml_node node, const Scope& scope, std::string_view element,
                                std::string_view attribute) const {
    Assignment result;
    result.text = extension(node, scope, attribute);
    if (result.text.starts_with("${")) {
      auto parsed = Expression::parse(result.text);
      if (!parsed.ok()) {
        return refuse("workflow.bad_expression", node, element,
                      "onewindow:" + std::string(attribute) + ", " + parsed.error().message, attribute);
      }
      result.expression = std::move(parsed).value();
    }
    return result;
  }

  static bool is_variable_name(std::string_view name) {
    return !name.empty() && !std::isdigit(static_cast<unsigned char>(name[0])) &&
           std::all_of(name.begin(), name.end(), [](char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; });
  }

  Result<TimerDuration> read_timer(pugi::xml_node definition, const Scope& scope, std::string_view element) const {
    TimerDuration timer;
    auto days = working_days(definition, scope, element);
    if (!days.ok()) return days.take_error();
    if (*days > 0) {
      timer.working_days = *days;
      return timer;
    }
    for (const auto& [child, name] : bpmn_children(definition, scope)) {
      if (name.local == "timeDuration") {
        // ISO 8601 durations: P3D, PT4H30M, P1W, P1DT12H.
        static const std::regex duration(R"(P(?!$)(\d+Y)?(\d+M)?(\d+W)?(\d+D)?(T(?=\d)(\d+H)?(\d+M)?(\d+(\.\d+)?S)?)?)");
        timer.iso8601 = text_of(child);
        // std::regex recurses once per character: a long enough text (200,000 digits) would
        // overflow the stack. Every duration it could accept is far shorter than this.
        constexpr std::size_t longest_duration = 64;
        if (timer.iso8601.size() > longest_duration || !std::regex_match(timer.iso8601, duration)) {
          return refuse("workflow.bad_attribute", child, "timeDuration",
                        "a duration is ISO 8601 (P3D, PT4H) or onewindow:workingDays on the timer", "timeDuration");
        }
        if (Status countable = check_timer_duration(timer); !countable.ok()) {
          return refuse("workflow.bad_attribute", child, "timeDuration", countable.error().message, "timeDuration");
        }
        return timer;
      }
      if (name.local == "timeDate" || name.local == "timeCycle") {
        return refuse("workflow.unsupported_element", child, name.local,
                      "timers run for a duration (timeDuration or onewindow:workingDays), not at a date or in cycles");
      }
    }
    return refuse("workflow.bad_attribute", definition, "timerEventDefinition",
                  "a timer needs a timeDuration or onewindow:workingDays", "timeDuration");
  }

  // The one event definition of an event, or none; `allowed` are the definitions it may have.
  Result<std::optional<std::pair<pugi::xml_node, std::string>>> event_definition(
      pugi::xml_node event, const Scope& scope, std::string_view element, const std::set<std::string>& allowed) const {
    std::optional<std::pair<pugi::xml_node, std::string>> found;
    for (const auto& [child, name] : bpmn_children(event, scope)) {
      if (!name.local.ends_with("EventDefinition") && name.local != "eventDefinitionRef") continue;
      if (!allowed.contains(name.local)) {
        return refuse("workflow.unsupported_element", event, element,
                      std::string(element) + " with " + name.local + " is not supported");
      }
      if (found) return refuse("workflow.unsupported_element", event, element, "several event definitions on one event");
      found.emplace(child, name.local);
    }
    return found;
  }

  Result<Node> read_node(pugi::xml_node element, const Scope& scope, const std::string& local) {
    Node node;
    node.id = element.attribute("id").value();
    node.name = element.attribute("name").value();
    node.line = line_of(element);
    if (node.id.empty()) return refuse("workflow.bad_attribute", element, local, "every element needs an id", "id");
    bool activity = false;
    if (local == "startEvent") {
      auto definition = event_definition(element, scope, local, {});
      if (!definition.ok()) return definition.take_error();
      node.kind = NodeKind::start_event;
    } else if (local == "endEvent") {
      auto definition = event_definition(element, scope, local, {"terminateEventDefinition"});
      if (!definition.ok()) return definition.take_error();
      node.kind = *definition ? NodeKind::terminate_end_event : NodeKind::end_event;
    } else if (local == "boundaryEvent" || local == "intermediateCatchEvent") {
      auto definition = event_definition(element, scope, local, {"timerEventDefinition"});
      if (!definition.ok()) return definition.take_error();
      if (!*definition) return refuse("workflow.unsupported_element", element, local, "only timer events are supported");
      auto timer = read_timer((*definition)->first, scope, local);
      if (!timer.ok()) return timer.take_error();
      node.timer = *timer;
      if (local == "boundaryEvent") {
        node.kind = NodeKind::timer_boundary_event;
        node.attached_to = element.attribute("attachedToRef").value();
        node.cancel_activity = std::string_view(element.attribute("cancelActivity").as_string("true")) != "false";
        if (node.attached_to.empty()) {
          return refuse("workflow.bad_attribute", element, local, "a boundary event needs attachedToRef", "attachedToRef");
        }
      } else {
        node.kind = NodeKind::timer_catch_event;
      }
    } else if (local == "task" || local == "userTask" || local == "serviceTask") {
      activity = true;
      node.kind = local == "task" ? NodeKind::task : local == "userTask" ? NodeKind::user_task : NodeKind::service_task;
      auto department = assignment(element, scope, local, "candidateDepartment");
      if (!department.ok()) return department.take_error();
      node.candidate_department = std::move(department).value();
      auto assignee = assignment(element, scope, local, "assignee");
      if (!assignee.ok()) return assignee.take_error();
      node.assignee = std::move(assignee).value();
      node.candidate_role = extension(element, scope, "candidateRole");
      node.hook = extension(element, scope, "hook");
      if (node.kind == NodeKind::user_task) {
        auto days = working_days(element, scope, local);
        if (!days.ok()) return days.take_error();
        node.working_days = *days;
      }
      if (node.kind == NodeKind::service_task && node.hook.empty()) {
        return refuse("workflow.bad_attribute", element, local,
                      "a service task names the hook it runs in onewindow:hook (docs/workflow.md)", "hook");
      }
    } else if (local == "exclusiveGateway" || local == "parallelGateway" || local == "inclusiveGateway") {
      node.kind = local == "exclusiveGateway"   ? NodeKind::exclusive_gateway
                  : local == "parallelGateway" ? NodeKind::parallel_gateway
                                               : NodeKind::inclusive_gateway;
    } else if (local == "subProcess") {
      activity = true;
      node.kind = NodeKind::sub_process;
      if (std::string_view(element.attribute("triggeredByEvent").value()) == "true") {
        return refuse("workflow.unsupported_element", element, local, "event subprocesses are not supported");
      }
      auto inner = read_process(element, scope, local);
      if (!inner.ok()) return inner.take_error();
      node.sub_process.push_back(std::move(inner).value());
    } else if (local == "callActivity") {
      activity = true;
      node.kind = NodeKind::call_activity;
      node.called_element = element.attribute("calledElement").value();
      if (node.called_element.empty()) {
        return refuse("workflow.bad_attribute", element, local, "a call activity names the process it calls in calledElement",
                      "calledElement");
      }
    } else {
      return refuse("workflow.unsupported_element", element, local, "this element is not supported (docs/workflow.md)");
    }
    for (const auto& [child, name] : bpmn_children(element, scope)) {
      if (name.local == "multiInstanceLoopCharacteristics" && activity) {
        MultiInstance loop;
        loop.sequential = std::string_view(child.attribute("isSequential").value()) == "true";
        loop.collection = extension(child, scope, "collection");
        std::string element_variable = extension(child, scope, "elementVariable");
        if (!element_variable.empty()) loop.element_variable = element_variable;
        if (!is_variable_name(loop.element_variable)) {
          return refuse("workflow.bad_attribute", child, name.local,
                        "onewindow:elementVariable must be a name of letters, digits and _", "elementVariable");
        }
        for (const auto& [part, part_name] : bpmn_children(child, scope)) {
          if (part_name.local == "loopCardinality") {
            loop.cardinality = text_of(part);
            auto parsed = Expression::parse(loop.cardinality);
            if (!parsed.ok()) {
              return refuse("workflow.bad_expression", part, "loopCardinality", "its expression, " + parsed.error().message);
            }
            loop.count = std::move(parsed).value();
          }
          if (part_name.local == "completionCondition") {
            loop.completion_condition = text_of(part);
            auto parsed = Expression::parse(loop.completion_condition);
            if (!parsed.ok()) {
              return refuse("workflow.bad_expression", part, "completionCondition", "its condition, " + parsed.error().message);
            }
            loop.completion = std::move(parsed).value();
          }
        }
        if (loop.collection.empty() == loop.cardinality.empty()) {
          return refuse("workflow.bad_attribute", child, name.local,
                        "a multi-instance loop has either onewindow:collection or loopCardinality", "collection");
        }
        node.multi_instance = loop;
      } else if (name.local.ends_with("LoopCharacteristics")) {
        return refuse("workflow.unsupported_element", child, name.local,
                      "only multi-instance loops on activities are supported");
      }
    }
    return node;
  }

  Result<Process> read_process(pugi::xml_node element, const Scope& outer, std::string_view element_name) {
    Process process;
    process.id = element.attribute("id").value();
    process.name = element.attribute("name").value();
    if (process.id.empty()) return refuse("workflow.bad_attribute", element, element_name, "every element needs an id", "id");
    if (element_name == "process") {
      auto days = working_days(element, outer, element_name);
      if (!days.ok()) return days.take_error();
      process.working_days = *days;
    }
    struct PendingFlow {
      pugi::xml_node element;
      std::string source, target;
    };
    std::vector<PendingFlow> pending;
    std::map<std::string, pugi::xml_node> defaults;  // node id -> its element, for default flows
    std::set<std::string> ids;
    for (pugi::xml_node child : element.children()) {
      if (child.type() != pugi::node_element) continue;
      Scope scope = enter(child, outer);
      Name name = name_of(child, scope);
      if (name.uri != bpmn_namespace || descriptive.contains(name.local)) continue;
      if (name.local.ends_with("LoopCharacteristics") && element_name != "process") continue;  // the subprocess's own
      if (name.local == "sequenceFlow") {
        Flow flow;
        flow.id = child.attribute("id").value();
        flow.name = child.attribute("name").value();
        flow.line = line_of(child);
        if (flow.id.empty()) return refuse("workflow.bad_attribute", child, name.local, "every element needs an id", "id");
        for (const auto& [part, part_name] : bpmn_children(child, scope)) {
          // An empty condition, as descriptive models hold, is no condition.
          if (part_name.local == "conditionExpression" && !text_of(part).empty()) {
            flow.condition = text_of(part);
            auto parsed = Expression::parse(flow.condition);
            if (!parsed.ok()) {
              return refuse("workflow.bad_expression", child, name.local, "its condition, " + parsed.error().message);
            }
            flow.guard = std::move(parsed).value();
          }
        }
        if (!ids.insert(flow.id).second) return refuse("workflow.duplicate_id", child, name.local, "another element has this id", "id");
        pending.push_back({child, child.attribute("sourceRef").value(), child.attribute("targetRef").value()});
        process.flows.push_back(std::move(flow));
        continue;
      }
      auto node = read_node(child, scope, name.local);
      if (!node.ok()) return node.take_error();
      if (!ids.insert(node->id).second) return refuse("workflow.duplicate_id", child, name.local, "another element has this id", "id");
      if (child.attribute("default")) defaults[node->id] = child;
      process.nodes.push_back(std::move(node).value());
    }

    std::map<std::string, std::size_t> index;
    for (std::size_t i = 0; i < process.nodes.size(); ++i) index[process.nodes[i].id] = i;
    for (std::size_t i = 0; i < pending.size(); ++i) {
      auto source = index.find(pending[i].source);
      auto target = index.find(pending[i].target);
      if (source == index.end() || target == index.end()) {
        return refuse("workflow.unknown_reference", pending[i].element, "sequenceFlow",
                      "sourceRef and targetRef must name nodes of the same process",
                      source == index.end() ? "sourceRef" : "targetRef");
      }
      process.flows[i].source = source->second;
      process.flows[i].target = target->second;
      process.nodes[source->second].outgoing.push_back(i);
      process.nodes[target->second].incoming.push_back(i);
    }
    for (const auto& [id, node_element] : defaults) {
      Node& node = process.nodes[index.at(id)];
      std::string flow_id = node_element.attribute("default").value();
      auto flow = std::find_if(node.outgoing.begin(), node.outgoing.end(),
                               [&](std::size_t i) { return process.flows[i].id == flow_id; });
      if (flow == node.outgoing.end()) {
        return refuse("workflow.unknown_reference", node_element, kind_name(node.kind),
                      "the default flow must be one of the element's outgoing flows", "default");
      }
      node.default_flow = *flow;
    }
    for (const Node& node : process.nodes) {
      if (node.kind != NodeKind::timer_boundary_event) continue;
      auto host = index.find(node.attached_to);
      bool activity = host != index.end() && (process.nodes[host->second].kind == NodeKind::task ||
                                              process.nodes[host->second].kind == NodeKind::user_task ||
                                              process.nodes[host->second].kind == NodeKind::service_task ||
                                              process.nodes[host->second].kind == NodeKind::sub_process ||
                                              process.nodes[host->second].kind == NodeKind::call_activity);
      if (!activity) {
        return Error(ErrorKind::invalid_argument, "workflow.unknown_reference",
                     file_ + ":" + std::to_string(node.line) + ": boundaryEvent " + node.id +
                         ": attachedToRef must name an activity of the same process",
                     {{"file", file_}, {"line", node.line}, {"element", "boundaryEvent"}, {"id", node.id},
                      {"field", "attachedToRef"}});
      }
    }
    bool started = std::any_of(process.nodes.begin(), process.nodes.end(),
                               [](const Node& node) { return node.kind == NodeKind::start_event; });
    if (!started) {
      return refuse("workflow.no_start_event", element, element_name, "needs a start event with no event definition");
    }
    return process;
  }

  std::string_view xml_;
  std::string file_;
};

}  // namespace

std::string_view kind_name(NodeKind kind) {
  switch (kind) {
    case NodeKind::start_event: return "startEvent";
    case NodeKind::end_event: return "endEvent";
    case NodeKind::terminate_end_event: return "endEvent";
    case NodeKind::task: return "task";
    case NodeKind::user_task: return "userTask";
    case NodeKind::service_task: return "serviceTask";
    case NodeKind::exclusive_gateway: return "exclusiveGateway";
    case NodeKind::parallel_gateway: return "parallelGateway";
    case NodeKind::inclusive_gateway: return "inclusiveGateway";
    case NodeKind::sub_process: return "subProcess";
    case NodeKind::call_activity: return "callActivity";
    case NodeKind::timer_boundary_event: return "boundaryEvent";
    case NodeKind::timer_catch_event: return "intermediateCatchEvent";
  }
  return "node";
}

Result<std::string> Assignment::value(const nlohmann::json& variables) const {
  if (!expression) return text;
  auto value = expression->evaluate(variables);
  if (!value.ok()) return value.take_error();
  if (!value->is_string()) {
    return Error(ErrorKind::invalid_argument, "workflow.expression_type", text + " must give a string");
  }
  return value->get<std::string>();
}

const Node* Process::node(std::string_view id) const {
  for (const Node& node : nodes) {
    if (node.id == id) return &node;
  }
  return nullptr;
}

const Process* Model::process(std::string_view id) const {
  for (const Process& process : processes) {
    if (process.id == id) return &process;
  }
  return nullptr;
}

Result<Model> parse_model(std::string_view xml, std::string_view name) {
  return Reader(xml, name).read();
}

Result<Model> load_model(const std::filesystem::path& file) {
  std::ifstream input(file, std::ios::binary);
  if (!input) {
    return Error(ErrorKind::not_found, "workflow.unreadable", "cannot read " + file.string(), {{"field", "file"}});
  }
  std::ostringstream text;
  text << input.rdbuf();
  return parse_model(text.str(), file.string());
}

}  // namespace onewindow::workflow
