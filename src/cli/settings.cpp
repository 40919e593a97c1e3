#include "cli/cli.h"

#include "base/build_info.h"
#include "base/config.h"

#include <charconv>

namespace onewindow::cli {

namespace {

enum class Type { text, integer, large_integer, boolean };  // integer is int, large_integer long long

// The one table of settings: the YAML key, the environment variable and the field it sets.
struct Entry {
  const char* key;
  const char* environment_variable;
  Type type;
  const char* description;
  std::function<void*(Settings&)> field;
  long long minimum = 0;
  long long maximum = 0;
};

const std::vector<Entry>& entries() {
  static const std::vector<Entry> table = {
      {"listen", "ONEWINDOW_LISTEN", Type::text, "address and port to listen on (HOST:PORT)",
       [](Settings& s) -> void* { return &s.listen; }},
      {"public_url", "ONEWINDOW_PUBLIC_URL", Type::text,
       "where people and other systems reach this server, e.g. https://onewindow.example.gov.cn (default http://<listen>)",
       [](Settings& s) -> void* { return &s.public_url; }},
      {"data_dir", "ONEWINDOW_DATA_DIR", Type::text, "directory for the SQLite database and stored files",
       [](Settings& s) -> void* { return &s.data_dir; }},
      {"config_dir", "ONEWINDOW_CONFIG_DIR", Type::text, "directory of calendars, divisions and other configuration data",
       [](Settings& s) -> void* { return &s.config_dir; }},
      {"web_dir", "ONEWINDOW_WEB_DIR", Type::text,
       "directory of the built web UI (web/dist), served at /; empty serves the API only",
       [](Settings& s) -> void* { return &s.web_dir; }},
      {"database.url", "ONEWINDOW_DATABASE_URL", Type::text,
       "\"sqlite\" (data_dir/onewindow.db), \"sqlite:FILE\" or postgresql://user@host:port/db",
       [](Settings& s) -> void* { return &s.database.url; }},
      {"database.pool_size", "ONEWINDOW_DATABASE_POOL_SIZE", Type::integer, "database connections (readers on SQLite)",
       [](Settings& s) -> void* { return &s.database.pool_size; }, 1, 256},
      {"database.busy_timeout_milliseconds", "ONEWINDOW_DATABASE_BUSY_TIMEOUT_MILLISECONDS", Type::integer,
       "how long a SQLite write waits for another writer", [](Settings& s) -> void* { return &s.database.busy_timeout_milliseconds; },
       0, 600000},
      {"database.sqlite_synchronous", "ONEWINDOW_DATABASE_SQLITE_SYNCHRONOUS", Type::text,
       "\"normal\" (survives a killed process) or \"full\" (also a power cut)",
       [](Settings& s) -> void* { return &s.database.sqlite_synchronous; }},
      {"http.threads", "ONEWINDOW_HTTP_THREADS", Type::integer, "threads answering HTTP requests",
       [](Settings& s) -> void* { return &s.http.threads; }, 1, 256},
      {"http.max_body_bytes", "ONEWINDOW_HTTP_MAX_BODY_BYTES", Type::large_integer, "largest request body accepted",
       [](Settings& s) -> void* { return &s.http.max_body_bytes; }, 1024, 1LL << 32},
      {"http.max_header_bytes", "ONEWINDOW_HTTP_MAX_HEADER_BYTES", Type::large_integer, "largest URL or header value accepted",
       [](Settings& s) -> void* { return &s.http.max_header_bytes; }, 1024, 1LL << 20},
      {"http.request_timeout_seconds", "ONEWINDOW_HTTP_REQUEST_TIMEOUT_SECONDS", Type::integer,
       "time allowed to read a request, answer it and write the answer",
       [](Settings& s) -> void* { return &s.http.request_timeout_seconds; }, 1, 3600},
      {"http.shutdown_grace_seconds", "ONEWINDOW_HTTP_SHUTDOWN_GRACE_SECONDS", Type::integer,
       "on SIGTERM, how long requests in flight may take to finish",
       [](Settings& s) -> void* { return &s.http.shutdown_grace_seconds; }, 0, 3600},
      {"http.access_log", "ONEWINDOW_HTTP_ACCESS_LOG", Type::boolean, "one log line per request",
       [](Settings& s) -> void* { return &s.http.access_log; }},
      {"log.level", "ONEWINDOW_LOG_LEVEL", Type::text, "trace, debug, info, warn, error or off",
       [](Settings& s) -> void* { return &s.log.level; }},
      {"security.key_encryption_key", "ONEWINDOW_SECURITY_KEY_ENCRYPTION_KEY", Type::text,
       "32 hex characters that encrypt private keys and TOTP secrets at rest (empty: one is generated into data_dir)",
       [](Settings& s) -> void* { return &s.security.key_encryption_key; }},
      {"security.secure_cookies", "ONEWINDOW_SECURITY_SECURE_COOKIES", Type::boolean,
       "mark the session cookie Secure (set when served over HTTPS)",
       [](Settings& s) -> void* { return &s.security.secure_cookies; }},
      {"security.session_lookup_milliseconds", "ONEWINDOW_SECURITY_SESSION_LOOKUP_MILLISECONDS", Type::integer,
       "how long a session, once looked up, is answered from memory; another node's logout holds within it (0: never)",
       [](Settings& s) -> void* { return &s.security.session_lookup_milliseconds; }, 0, 60000},
      {"node.division", "ONEWINDOW_NODE_DIVISION", Type::text,
       "division code of this node, one of the nodes in config/departments.yaml",
       [](Settings& s) -> void* { return &s.node.division; }},
  };
  return table;
}

std::string default_text(const Entry& entry) {
  Settings defaults;
  defaults.config_dir = build_info::default_config_dir;
  defaults.web_dir = build_info::default_web_dir;
  void* field = entry.field(defaults);
  switch (entry.type) {
    case Type::text: return *static_cast<std::string*>(field);
    case Type::boolean: return *static_cast<bool*>(field) ? "true" : "false";
    case Type::integer: return std::to_string(*static_cast<int*>(field));
    case Type::large_integer: return std::to_string(*static_cast<long long*>(field));
  }
  return {};
}

// Sets one setting from its text; on failure returns a sentence saying what was expected.
std::optional<std::string> assign(const Entry& entry, Settings& settings, std::string_view text) {
  void* field = entry.field(settings);
  switch (entry.type) {
    case Type::text:
      if (text.empty() && std::string_view(entry.key) != "security.key_encryption_key" &&
          std::string_view(entry.key) != "public_url") {
        return std::string("must not be empty");
      }
      *static_cast<std::string*>(field) = std::string(text);
      return std::nullopt;
    case Type::boolean:
      if (text == "true") *static_cast<bool*>(field) = true;
      else if (text == "false") *static_cast<bool*>(field) = false;
      else return std::string("must be true or false");
      return std::nullopt;
    case Type::integer:
    case Type::large_integer: {
      long long value = 0;
      auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
      if (error != std::errc() || end != text.data() + text.size() || value < entry.minimum || value > entry.maximum) {
        return "must be a whole number from " + std::to_string(entry.minimum) + " to " + std::to_string(entry.maximum);
      }
      if (entry.type == Type::large_integer) *static_cast<long long*>(field) = value;
      else *static_cast<int*>(field) = static_cast<int>(value);
      return std::nullopt;
    }
  }
  return std::nullopt;
}

Status apply_file(const std::filesystem::path& file, Settings& settings) {
  auto document = load_yaml_file(file);
  if (!document.ok()) return document.take_error();
  const std::string name = file.string();
  if (document->IsNull()) return ok_status();  // an empty file sets nothing
  ONEWINDOW_TRY(check_known_keys(*document, name, "", {"listen", "public_url", "data_dir", "config_dir", "web_dir", "database", "http", "log", "security", "node"}));
  std::map<std::string, std::vector<std::string_view>> known_by_section;
  for (const Entry& entry : entries()) {
    std::string_view key = entry.key;
    auto dot = key.find('.');
    if (dot != std::string_view::npos) known_by_section[std::string(key.substr(0, dot))].push_back(key.substr(dot + 1));
  }
  for (const auto& [section, keys] : known_by_section) {
    YAML::Node node = (*document)[section];
    if (!node.IsDefined() || node.IsNull()) continue;
    if (!node.IsMap()) {
      return config_error("config.bad_value", name, config_line(node), section, "must be a mapping of keys to values");
    }
    for (const auto& item : node) {
      std::string key = item.first.as<std::string>();
      if (std::find(keys.begin(), keys.end(), key) == keys.end()) {
        std::string list;
        for (auto known : keys) list += (list.empty() ? "" : ", ") + std::string(known);
        return config_error("config.unknown_key", name, config_line(item.first), section + "." + key,
                            "unknown key; known keys here: " + list);
      }
    }
  }
  for (const Entry& entry : entries()) {
    std::string_view key = entry.key;
    auto dot = key.find('.');
    YAML::Node node = dot == std::string_view::npos
                          ? (*document)[std::string(key)]
                          : (*document)[std::string(key.substr(0, dot))][std::string(key.substr(dot + 1))];
    if (!node.IsDefined() || node.IsNull()) continue;
    if (!node.IsScalar()) {
      return config_error("config.bad_value", name, config_line(node), entry.key, "must be a single value");
    }
    if (auto problem = assign(entry, settings, node.Scalar())) {
      return config_error("config.bad_value", name, config_line(node), entry.key, *problem);
    }
  }
  return ok_status();
}

}  // namespace

std::vector<SettingDescription> describe_settings() {
  std::vector<SettingDescription> descriptions;
  for (const Entry& entry : entries()) {
    descriptions.push_back({entry.key, entry.environment_variable, entry.description, default_text(entry)});
  }
  return descriptions;
}

Result<Settings> load_settings(const std::optional<std::filesystem::path>& file,
                               const std::function<const char*(const char*)>& environment,
                               const FlagOverrides& flags) {
  Settings settings;
  settings.config_dir = build_info::default_config_dir;
  settings.web_dir = build_info::default_web_dir;
  if (file) ONEWINDOW_TRY(apply_file(*file, settings));
  for (const Entry& entry : entries()) {
    const char* value = environment(entry.environment_variable);
    if (value == nullptr) continue;
    if (auto problem = assign(entry, settings, value)) {
      return Error(ErrorKind::invalid_argument, "config.bad_environment",
                   std::string("environment variable ") + entry.environment_variable + ": " + *problem,
                   {{"field", entry.environment_variable}});
    }
  }
  for (const auto& [key, value] : flags) {
    auto found = std::find_if(entries().begin(), entries().end(), [&](const Entry& entry) { return entry.key == key; });
    if (found == entries().end()) {
      return Error(ErrorKind::internal, "config.unknown_flag", "no setting for flag " + key);
    }
    if (auto problem = assign(*found, settings, value)) {
      std::string flag = "--" + key;
      std::replace(flag.begin(), flag.end(), '_', '-');
      std::replace(flag.begin(), flag.end(), '.', '-');
      return Error(ErrorKind::invalid_argument, "config.bad_flag", flag + ": " + *problem, {{"field", flag}});
    }
  }
  return settings;
}

}  // namespace onewindow::cli
