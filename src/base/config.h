// Configuration files are data (YAML under config/ and the server's settings file). Every mistake
// in one is reported as an Error whose message starts "file:line: key: " and whose details hold
// {"file", "line", "field"}, so that an operator can go straight to it. Stateless; thread-safe.
#pragma once

#include "base/result.h"

#include <yaml-cpp/yaml.h>

#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

namespace onewindow {

// An error in a configuration file. code is stable ("config.unknown_key", "config.bad_value",
// ...); line is 1-based, 0 when unknown.
Error config_error(std::string code, std::string_view file, int line, std::string_view key,
                   std::string_view message);

// The 1-based line of a node, 0 for a node that is not in a file.
int config_line(const YAML::Node& node);

// Reads and parses a YAML file; a missing file is config.missing_file, a syntax error
// config.syntax naming the line.
Result<YAML::Node> load_yaml_file(const std::filesystem::path& file);
// Parses YAML text; `file` names it in errors.
Result<YAML::Node> parse_yaml(std::string_view text, std::string_view file);

// The keys of a mapping must all be in `known`; the first other one is config.unknown_key,
// with the list of known keys in the message. `prefix` is prepended to key names ("http.").
Status check_known_keys(const YAML::Node& mapping, std::string_view file, std::string_view prefix,
                        std::initializer_list<std::string_view> known);

// The scalar at mapping[key]. Missing or null: config.missing_field when required, else "".
// A list or mapping there is config.bad_value. `path` names the mapping in errors
// ("roles.citizen"), so the field is reported as path.key.
Result<std::string> config_text(const YAML::Node& mapping, std::string_view file, const std::string& path,
                                const char* key, bool required = true);
// The list of scalars at mapping[key]; missing or null gives an empty list.
Result<std::vector<std::string>> config_text_list(const YAML::Node& mapping, std::string_view file,
                                                  const std::string& path, const char* key);

}  // namespace onewindow
