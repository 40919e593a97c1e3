#include "base/config.h"

#include <fstream>
#include <sstream>

namespace onewindow {

Error config_error(std::string code, std::string_view file, int line, std::string_view key,
                   std::string_view message) {
  std::string text = std::string(file);
  if (line > 0) text += ":" + std::to_string(line);
  text += ": ";
  if (!key.empty()) text += std::string(key) + ": ";
  text += message;
  return Error(ErrorKind::invalid_argument, std::move(code), std::move(text),
               {{"file", std::string(file)}, {"line", line}, {"field", std::string(key)}});
}

int config_line(const YAML::Node& node) {
  if (!node.IsDefined()) return 0;
  const YAML::Mark mark = node.Mark();
  return mark.line < 0 ? 0 : mark.line + 1;
}

Result<YAML::Node> parse_yaml(std::string_view text, std::string_view file) {
  try {
    return YAML::Load(std::string(text));
  } catch (const YAML::Exception& exception) {
    return config_error("config.syntax", file, exception.mark.line + 1, "", exception.msg);
  }
}

Result<YAML::Node> load_yaml_file(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) {
    return config_error("config.missing_file", file.string(), 0, "", "cannot read the file");
  }
  std::stringstream text;
  text << in.rdbuf();
  return parse_yaml(text.str(), file.string());
}

Status check_known_keys(const YAML::Node& mapping, std::string_view file, std::string_view prefix,
                        std::initializer_list<std::string_view> known) {
  if (!mapping.IsMap()) {
    std::string where = prefix.empty() ? std::string("(document)") : std::string(prefix.substr(0, prefix.size() - 1));
    return config_error("config.bad_value", file, config_line(mapping), where, "must be a mapping of keys to values");
  }
  for (const auto& entry : mapping) {
    std::string key = entry.first.as<std::string>();
    bool found = false;
    for (std::string_view candidate : known) found = found || candidate == key;
    if (!found) {
      std::string list;
      for (std::string_view candidate : known) list += (list.empty() ? "" : ", ") + std::string(candidate);
      return config_error("config.unknown_key", file, config_line(entry.first), std::string(prefix) + key,
                          "unknown key; known keys here: " + list);
    }
  }
  return ok_status();
}

Result<std::string> config_text(const YAML::Node& mapping, std::string_view file, const std::string& path,
                                const char* key, bool required) {
  YAML::Node node = mapping[key];
  std::string field = path.empty() ? std::string(key) : path + "." + key;
  if (!node.IsDefined() || node.IsNull()) {
    if (!required) return std::string();
    return config_error("config.missing_field", file, config_line(mapping), field, "is required");
  }
  if (!node.IsScalar()) return config_error("config.bad_value", file, config_line(node), field, "must be a single value");
  return node.Scalar();
}

Result<std::vector<std::string>> config_text_list(const YAML::Node& mapping, std::string_view file,
                                                  const std::string& path, const char* key) {
  YAML::Node node = mapping[key];
  std::string field = path.empty() ? std::string(key) : path + "." + key;
  std::vector<std::string> values;
  if (!node.IsDefined() || node.IsNull()) return values;
  if (!node.IsSequence()) return config_error("config.bad_value", file, config_line(node), field, "must be a list");
  for (const auto& item : node) {
    if (!item.IsScalar()) return config_error("config.bad_value", file, config_line(item), field, "must list single values");
    values.push_back(item.Scalar());
  }
  return values;
}

}  // namespace onewindow
