// Roles and permissions (config/roles.yaml) and the node's departments (config/departments.yaml).
#include "identity/identity.h"

#include "base/config.h"
#include "base/identifiers.h"

namespace onewindow::identity {

namespace {
constexpr std::pair<AccountKind, std::string_view> kind_names[] = {
    {AccountKind::citizen, "citizen"},       {AccountKind::enterprise_user, "enterprise_user"},
    {AccountKind::official, "official"},     {AccountKind::supervisor, "supervisor"},
    {AccountKind::platform_operator, "operator"},
};


}  // namespace

std::string_view kind_name(AccountKind kind) {
  for (const auto& [candidate, name] : kind_names) {
    if (candidate == kind) return name;
  }
  return "citizen";
}

Result<AccountKind> parse_kind(std::string_view text, std::string_view field) {
  for (const auto& [kind, name] : kind_names) {
    if (name == text) return kind;
  }
  return Error::invalid("identity.unknown_kind", std::string(field),
                        std::string(field) + " must be one of citizen, enterprise_user, official, supervisor, operator");
}

Result<AccessPolicy> AccessPolicy::load(const std::filesystem::path& path) {
  auto document = load_yaml_file(path);
  if (!document.ok()) return document.take_error();
  const std::string file = path.string();
  ONEWINDOW_TRY(check_known_keys(*document, file, "", {"permissions", "roles"}));
  AccessPolicy policy;
  YAML::Node permissions = (*document)["permissions"];
  if (!permissions.IsMap()) return config_error("config.bad_value", file, config_line(permissions), "permissions", "must be a mapping");
  for (const auto& entry : permissions) {
    std::string name = entry.first.Scalar();
    std::string path_name = "permissions." + name;
    ONEWINDOW_TRY(check_known_keys(entry.second, file, path_name + ".", {"scope", "description"}));
    auto scope = config_text(entry.second, file, path_name, "scope");
    if (!scope.ok()) return scope.take_error();
    auto description = config_text(entry.second, file, path_name, "description");
    if (!description.ok()) return description.take_error();
    PermissionScope parsed;
    if (*scope == "global") parsed = PermissionScope::global;
    else if (*scope == "department") parsed = PermissionScope::department;
    else if (*scope == "own") parsed = PermissionScope::own;
    else return config_error("config.bad_value", file, config_line(entry.second["scope"]), path_name + ".scope",
                             "must be global, department or own");
    if (name == "public" || name == "authenticated") {
      return config_error("config.bad_value", file, config_line(entry.first), path_name,
                          "is reserved: routes use it to say no permission is needed");
    }
    policy.permissions_[name] = {name, parsed, *description};
  }
  YAML::Node roles = (*document)["roles"];
  if (!roles.IsMap()) return config_error("config.bad_value", file, config_line(roles), "roles", "must be a mapping");
  for (const auto& entry : roles) {
    RoleDefinition role;
    role.name = entry.first.Scalar();
    std::string path_name = "roles." + role.name;
    ONEWINDOW_TRY(check_known_keys(entry.second, file, path_name + ".", {"name", "name_en", "kinds", "permissions"}));
    auto chinese = config_text(entry.second, file, path_name, "name");
    if (!chinese.ok()) return chinese.take_error();
    auto english = config_text(entry.second, file, path_name, "name_en");
    if (!english.ok()) return english.take_error();
    role.chinese_name = *chinese;
    role.english_name = *english;
    auto kinds = config_text_list(entry.second, file, path_name, "kinds");
    if (!kinds.ok()) return kinds.take_error();
    for (const std::string& kind : *kinds) {
      auto parsed = parse_kind(kind);
      if (!parsed.ok()) {
        return config_error("config.bad_value", file, config_line(entry.second["kinds"]), path_name + ".kinds",
                            "unknown account kind " + kind);
      }
      role.kinds.push_back(*parsed);
    }
    auto granted = config_text_list(entry.second, file, path_name, "permissions");
    if (!granted.ok()) return granted.take_error();
    for (const std::string& permission : *granted) {
      if (!policy.permissions_.count(permission)) {
        return config_error("config.bad_value", file, config_line(entry.second["permissions"]),
                            path_name + ".permissions", "unknown permission " + permission);
      }
    }
    role.permissions = *granted;
    policy.roles_[role.name] = std::move(role);
  }
  for (const auto& [kind, name] : kind_names) {
    const RoleDefinition* base = policy.role(name);
    if (base == nullptr || std::find(base->kinds.begin(), base->kinds.end(), kind) == base->kinds.end()) {
      return config_error("config.missing_field", file, config_line(roles), "roles." + std::string(name),
                          "every account kind needs its base role of the same name, held by that kind");
    }
  }
  return policy;
}

const PermissionDefinition* AccessPolicy::permission(std::string_view name) const {
  auto found = permissions_.find(name);
  return found == permissions_.end() ? nullptr : &found->second;
}

const RoleDefinition* AccessPolicy::role(std::string_view name) const {
  auto found = roles_.find(name);
  return found == roles_.end() ? nullptr : &found->second;
}

std::set<std::string> AccessPolicy::permissions_of(AccountKind kind, const std::vector<std::string>& roles) const {
  std::set<std::string> granted;
  auto add = [&](std::string_view name) {
    const RoleDefinition* definition = role(name);
    if (definition == nullptr) return;
    if (std::find(definition->kinds.begin(), definition->kinds.end(), kind) == definition->kinds.end()) return;
    granted.insert(definition->permissions.begin(), definition->permissions.end());
  };
  add(kind_name(kind));
  for (const std::string& name : roles) add(name);
  return granted;
}

Status AccessPolicy::check_role(AccountKind kind, std::string_view name, std::string_view field) const {
  const RoleDefinition* definition = role(name);
  if (definition == nullptr) {
    return Error::invalid("identity.unknown_role", std::string(field), "unknown role " + std::string(name));
  }
  if (std::find(definition->kinds.begin(), definition->kinds.end(), kind) == definition->kinds.end()) {
    return Error::invalid("identity.role_not_for_kind", std::string(field),
                          "role " + std::string(name) + " cannot be held by an account of kind " +
                              std::string(kind_name(kind)));
  }
  return ok_status();
}

Result<DirectoryConfiguration> DirectoryConfiguration::load(const std::filesystem::path& path) {
  auto document = load_yaml_file(path);
  if (!document.ok()) return document.take_error();
  const std::string file = path.string();
  ONEWINDOW_TRY(check_known_keys(*document, file, "", {"nodes", "departments"}));
  DirectoryConfiguration configuration;
  std::set<std::string> divisions;
  int index = 0;
  for (const auto& item : (*document)["nodes"]) {
    std::string path_name = "nodes[" + std::to_string(index++) + "]";
    ONEWINDOW_TRY(check_known_keys(item, file, path_name + ".", {"division", "name", "name_en", "parent"}));
    Node node;
    for (auto [key, target] : {std::pair{"division", &node.division}, std::pair{"name", &node.name},
                               std::pair{"name_en", &node.english_name}}) {
      auto value = config_text(item, file, path_name, key);
      if (!value.ok()) return value.take_error();
      *target = *value;
    }
    auto parent = config_text(item, file, path_name, "parent", false);
    if (!parent.ok()) return parent.take_error();
    node.parent_division = *parent;
    if (!node.parent_division.empty() && !divisions.count(node.parent_division)) {
      return config_error("config.bad_value", file, config_line(item["parent"]), path_name + ".parent",
                          "the parent node must be listed before its children");
    }
    divisions.insert(node.division);
    configuration.nodes.push_back(node);
  }
  std::set<std::string> keys, codes;
  index = 0;
  for (const auto& item : (*document)["departments"]) {
    std::string path_name = "departments[" + std::to_string(index++) + "]";
    ONEWINDOW_TRY(check_known_keys(item, file, path_name + ".", {"key", "division", "uscc", "name", "name_en", "note", "parent"}));
    Department department;
    for (auto [key, target] : {std::pair{"key", &department.key}, std::pair{"division", &department.division},
                               std::pair{"uscc", &department.unified_social_credit_code},
                               std::pair{"name", &department.name}, std::pair{"name_en", &department.english_name}}) {
      auto value = config_text(item, file, path_name, key);
      if (!value.ok()) return value.take_error();
      *target = *value;
    }
    auto parent = config_text(item, file, path_name, "parent", false);
    if (!parent.ok()) return parent.take_error();
    department.parent_id = *parent;  // a key here; the directory turns it into an id
    if (!divisions.count(department.division)) {
      return config_error("config.bad_value", file, config_line(item["division"]), path_name + ".division",
                          "must be one of the nodes' divisions");
    }
    Status code = validate_unified_social_credit_code(department.unified_social_credit_code, "uscc");
    if (!code.ok()) {
      return config_error(code.error().code, file, config_line(item["uscc"]), path_name + ".uscc", code.error().message);
    }
    if (!department.unified_social_credit_code.starts_with("11")) {
      return config_error("config.bad_value", file, config_line(item["uscc"]), path_name + ".uscc",
                          "a government department's code starts with 11");
    }
    if (!keys.insert(department.key).second) {
      return config_error("config.duplicate", file, config_line(item["key"]), path_name + ".key", "is listed twice");
    }
    if (!codes.insert(department.unified_social_credit_code).second) {
      return config_error("config.duplicate", file, config_line(item["uscc"]), path_name + ".uscc", "is listed twice");
    }
    if (!department.parent_id.empty() && !keys.count(department.parent_id)) {
      return config_error("config.bad_value", file, config_line(item["parent"]), path_name + ".parent",
                          "the parent department must be listed before it");
    }
    configuration.departments.push_back(department);
  }
  return configuration;
}

}  // namespace onewindow::identity
