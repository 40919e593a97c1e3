// Reading config/supervision/supervision.yaml.
#include "supervision/supervision.h"

#include "base/config.h"

#include <charconv>

namespace onewindow::supervision {

namespace {

struct Reader {
  std::string file;

  Error bad(const YAML::Node& node, const std::string& field, const std::string& message) const {
    return config_error("config.bad_value", file, config_line(node), field, message);
  }

  Result<YAML::Node> mapping(const YAML::Node& parent, const char* key, const std::string& path,
                                   std::initializer_list<std::string_view> known) const {
    YAML::Node node = parent[key];
    std::string field = path.empty() ? key : path + "." + key;
    if (!node || node.IsNull()) return YAML::Node(YAML::NodeType::Map);
    if (!node.IsMap()) return bad(node, field, "must be a mapping");
    ONEWINDOW_TRY(check_known_keys(node, file, field + ".", known));
    return node;
  }

  Result<int> integer(const YAML::Node& mapping, const std::string& path, const char* key, int fallback, int least,
                      int most) const {
    auto text = config_text(mapping, file, path, key, false);
    if (!text.ok()) return text.take_error();
    if (text->empty()) return fallback;
    int value = 0;
    auto [end, error] = std::from_chars(text->data(), text->data() + text->size(), value);
    if (error != std::errc() || end != text->data() + text->size() || value < least || value > most) {
      return bad(mapping[key], path + "." + key,
                 "must be a whole number from " + std::to_string(least) + " to " + std::to_string(most));
    }
    return value;
  }

  Result<bool> enabled(const YAML::Node& mapping, const std::string& path) const {
    auto text = config_text(mapping, file, path, "enabled", false);
    if (!text.ok()) return text.take_error();
    if (text->empty() || *text == "true") return true;
    if (*text == "false") return false;
    return bad(mapping["enabled"], path + ".enabled", "must be true or false");
  }

  // One rule's mapping under rules: (its keys are "enabled" and `thresholds`), with `enabled` set.
  Result<YAML::Node> rule(const YAML::Node& rules, const char* name, std::initializer_list<std::string_view> known,
                          bool& on) const {
    auto node = mapping(rules, name, "rules", known);
    if (!node.ok()) return node.take_error();
    auto given = enabled(*node, std::string("rules.") + name);
    if (!given.ok()) return given.take_error();
    on = *given;
    return node;
  }

  // "HH:MM" as minutes after midnight.
  Result<int> time_of_day(const YAML::Node& mapping, const std::string& path, const char* key, int fallback) const {
    auto text = config_text(mapping, file, path, key, false);
    if (!text.ok()) return text.take_error();
    if (text->empty()) return fallback;
    int hours = -1;
    int minutes = -1;
    if (text->size() == 5 && (*text)[2] == ':') {
      std::from_chars(text->data(), text->data() + 2, hours);
      std::from_chars(text->data() + 3, text->data() + 5, minutes);
    }
    if (hours < 0 || hours > 24 || minutes < 0 || minutes > 59 || hours * 60 + minutes > 24 * 60) {
      return bad(mapping[key], path + "." + key, "must be a time of day HH:MM");
    }
    return hours * 60 + minutes;
  }
};

}  // namespace

Result<Configuration> Configuration::load(const std::filesystem::path& file) {
  auto document = load_yaml_file(file);
  if (!document.ok()) return document.take_error();
  Reader reader{file.string()};
  Configuration configuration;
  if (!document->IsMap()) return reader.bad(*document, "", "the file must be a mapping");
  ONEWINDOW_TRY(check_known_keys(*document, reader.file, "", {"warnings", "rules"}));

  auto warnings = reader.mapping(*document, "warnings", "", {"yellow_share", "pass_interval_seconds"});
  if (!warnings.ok()) return warnings.take_error();
  auto share = config_text(*warnings, reader.file, "warnings", "yellow_share", false);
  if (!share.ok()) return share.take_error();
  if (!share->empty()) {
    double value = 0;
    auto [end, error] = std::from_chars(share->data(), share->data() + share->size(), value);
    if (error != std::errc() || end != share->data() + share->size() || value <= 0 || value > 1) {
      return reader.bad((*warnings)["yellow_share"], "warnings.yellow_share", "must be a number above 0 and at most 1");
    }
    configuration.yellow_percent = static_cast<int>(value * 100 + 0.5);
  }
  auto interval = reader.integer(*warnings, "warnings", "pass_interval_seconds", 60, 1, 86400);
  if (!interval.ok()) return interval.take_error();
  configuration.interval = std::chrono::seconds(*interval);

  auto rules = reader.mapping(*document, "rules", "",
                              {"rubber_stamp", "same_official", "outside_working_hours", "repeated_returns",
                               "foreign_prefill_read"});
  if (!rules.ok()) return rules.take_error();

  auto rubber_stamp = reader.rule(*rules, "rubber_stamp", {"enabled", "within_seconds"}, configuration.rubber_stamp);
  if (!rubber_stamp.ok()) return rubber_stamp.take_error();
  auto within = reader.integer(*rubber_stamp, "rules.rubber_stamp", "within_seconds", 60, 1, 86400);
  if (!within.ok()) return within.take_error();
  configuration.rubber_stamp_seconds = *within;

  auto same_official = reader.rule(*rules, "same_official", {"enabled"}, configuration.same_official);
  if (!same_official.ok()) return same_official.take_error();

  auto hours = reader.rule(*rules, "outside_working_hours", {"enabled", "from", "to"}, configuration.outside_working_hours);
  if (!hours.ok()) return hours.take_error();
  auto from = reader.time_of_day(*hours, "rules.outside_working_hours", "from", configuration.working_hours_from);
  if (!from.ok()) return from.take_error();
  auto to = reader.time_of_day(*hours, "rules.outside_working_hours", "to", configuration.working_hours_to);
  if (!to.ok()) return to.take_error();
  if (*to <= *from) return reader.bad((*hours)["to"], "rules.outside_working_hours.to", "must be later than from");
  configuration.working_hours_from = *from;
  configuration.working_hours_to = *to;

  auto returns = reader.rule(*rules, "repeated_returns", {"enabled", "at_least"}, configuration.repeated_returns);
  if (!returns.ok()) return returns.take_error();
  auto at_least = reader.integer(*returns, "rules.repeated_returns", "at_least", 2, 1, 1000);
  if (!at_least.ok()) return at_least.take_error();
  configuration.returns_at_least = *at_least;

  auto prefill = reader.rule(*rules, "foreign_prefill_read", {"enabled"}, configuration.foreign_prefill_read);
  if (!prefill.ok()) return prefill.take_error();
  return configuration;
}

}  // namespace onewindow::supervision
