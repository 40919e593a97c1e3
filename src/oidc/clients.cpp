// Registered clients: checks, registration by an operator, and the clients of
// config/oidc_clients.yaml.
#include "oidc/internal.h"

#include "base/config.h"
#include "base/identifiers.h"

#include <algorithm>
#include <cctype>
#include <set>

namespace onewindow::oidc {

namespace {

constexpr std::size_t secret_bytes = 32;  // made secrets: 256 bits, 43 base64url characters
constexpr std::size_t shortest_secret = 32;

Error bad_client(std::string field, std::string message) {
  return Error::invalid("oidc.bad_client", std::move(field), std::move(message));
}

bool client_id_well_formed(std::string_view id) {
  if (id.size() < 3 || id.size() > 64) return false;
  if (!std::isalnum(static_cast<unsigned char>(id[0]))) return false;
  return std::all_of(id.begin(), id.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
  });
}

bool secret_well_formed(std::string_view secret) {
  return secret.size() >= shortest_secret && secret.size() <= 256 &&
         std::all_of(secret.begin(), secret.end(), [](char c) { return c >= 0x21 && c <= 0x7e; });
}

bool has_duplicates(std::vector<std::string> values) {
  std::sort(values.begin(), values.end());
  return std::adjacent_find(values.begin(), values.end()) != values.end();
}

nlohmann::json act_details(const Client& client) {
  return {{"name", client.name},
          {"kind", client_kind_name(client.kind)},
          {"redirect_uris", client.redirect_uris},
          {"grant_types", client.grant_types},
          {"scopes", client.scopes},
          {"department_id", client.department_id},
          {"source", client.source}};
}

Client client_of(const NewClient& client, std::string source, std::string created_by, const std::string& now) {
  return {client.client_id, client.name,  client.kind,        client.redirect_uris, client.grant_types, client.scopes,
          client.department_id, std::move(source), std::move(created_by), now, now};
}

store::Value optional_text(const std::string& text) { return text.empty() ? store::Value{} : store::Value{text}; }

Status insert_client(store::Session& session, const Client& client, const std::string& digest) {
  auto inserted = session.execute(
      "INSERT INTO oidc_client (client_id, name, kind, secret_digest, redirect_uris, grant_types, scopes, "
      "department_id, source, created_by, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, "
      "$11, $12)",
      {client.client_id, client.name, std::string(client_kind_name(client.kind)), optional_text(digest),
       json_list(client.redirect_uris), json_list(client.grant_types), json_list(client.scopes),
       optional_text(client.department_id), client.source, client.created_by, client.created_at, client.updated_at});
  if (!inserted.ok()) return inserted.take_error();
  return ok_status();
}

}  // namespace

Result<NewClient> Provider::checked(const NewClient& given) const {
  NewClient client = given;
  if (client.client_id.empty()) client.client_id = new_id("client");
  if (!client_id_well_formed(client.client_id)) {
    return bad_client("client_id", "client_id must be 3 to 64 characters of lower-case letters, digits, '.', '_' or '-', "
                                   "beginning with a letter or digit");
  }
  if (client.name.empty() || client.name.size() > 200) return bad_client("name", "name must be 1 to 200 bytes");

  if (client.grant_types.empty()) client.grant_types = {std::string(authorization_code_grant)};
  for (const auto& grant : client.grant_types) {
    if (grant != authorization_code_grant && grant != client_credentials_grant) {
      return bad_client("grant_types", "grant_types may hold authorization_code and client_credentials, not " + grant);
    }
  }
  if (has_duplicates(client.grant_types)) return bad_client("grant_types", "grant_types lists a grant twice");
  bool code = contains(client.grant_types, authorization_code_grant);
  bool machine = contains(client.grant_types, client_credentials_grant);
  if (machine && client.kind == ClientKind::public_client) {
    return bad_client("grant_types", "client_credentials needs a confidential client: a public one has no secret");
  }

  if (code && client.redirect_uris.empty()) {
    return bad_client("redirect_uris", "a client of the authorization_code grant needs at least one redirect URI");
  }
  if (!code && !client.redirect_uris.empty()) {
    return bad_client("redirect_uris", "redirect URIs belong to the authorization_code grant, which this client lacks");
  }
  for (const auto& uri : client.redirect_uris) {
    if (!url_acceptable(uri, true)) {
      return bad_client("redirect_uris", "redirect URI " + uri +
                                             " must be an absolute https URL (http only on 127.0.0.1, localhost or "
                                             "[::1]) without a fragment");
    }
  }
  if (has_duplicates(client.redirect_uris)) return bad_client("redirect_uris", "redirect_uris lists a URI twice");

  if (client.scopes.empty() && code) client.scopes = {std::string(openid_scope), std::string(profile_scope)};
  for (const auto& scope : client.scopes) {
    if (!scope_token_well_formed(scope)) {
      return bad_client("scopes", "a scope is 1 to 64 printable ASCII characters without spaces, quotes or backslashes");
    }
    if (is_person_scope(scope) && !code) {
      return bad_client("scopes", "the scope " + scope + " is granted by a person, through the authorization_code grant");
    }
    if (!is_person_scope(scope) && !machine) {
      return bad_client("scopes", "the scope " + scope +
                                      " is not one a person grants (openid, profile, citizen_id); other scopes are for "
                                      "client_credentials");
    }
  }
  if (has_duplicates(client.scopes)) return bad_client("scopes", "scopes lists a scope twice");
  if (code && !contains(client.scopes, openid_scope)) {
    return bad_client("scopes", "a client of the authorization_code grant must be allowed the openid scope");
  }

  if (machine && client.department_id.empty()) {
    return bad_client("department_id", "a client_credentials client belongs to a department: department_id is required");
  }
  if (!machine && !client.department_id.empty()) {
    return bad_client("department_id", "only a client_credentials client belongs to a department");
  }
  if (!client.department_id.empty()) {
    auto department = directory_.department(client.department_id);
    if (!department.ok()) {
      if (department.error().kind != ErrorKind::not_found) return department.take_error();
      return bad_client("department_id", "there is no department " + client.department_id);
    }
  }

  if (client.kind == ClientKind::public_client && !client.secret.empty()) {
    return bad_client("secret", "a public client has no secret");
  }
  if (!client.secret.empty() && !secret_well_formed(client.secret)) {
    return bad_client("secret", "a client secret is 32 to 256 printable ASCII characters without spaces");
  }
  return client;
}

Result<RegisteredClient> Provider::register_client(const NewClient& given, const identity::Principal& by) {
  auto client = checked(given);
  if (!client.ok()) return client.take_error();
  RegisteredClient registered;
  if (client->kind == ClientKind::confidential && client->secret.empty()) {
    auto made = random_token(secret_bytes);
    if (!made.ok()) return made.take_error();
    registered.secret = *made;
    client->secret = *made;
  }
  registered.client = client_of(*client, "api", by.account_id, format_timestamp(clock_.now()));
  std::string digest = client->secret.empty() ? std::string() : secret_digest(client->secret);
  Status stored = database_.write([&](store::Session& session) -> Status {
    auto existing = session.query_one("SELECT 1 FROM oidc_client WHERE client_id = $1", {registered.client.client_id});
    if (!existing.ok()) return existing.take_error();
    if (existing->has_value()) {
      return Error(ErrorKind::conflict, "oidc.client_exists", "a client " + registered.client.client_id + " exists already",
                   {{"field", "client_id"}});
    }
    ONEWINDOW_TRY(insert_client(session, registered.client, digest));
    auto recorded = log_.record(session, {by.account_id, "", "oidc.client_registered", "oidc_client",
                                          registered.client.client_id, "", act_details(registered.client)});
    if (!recorded.ok()) return recorded.take_error();
    return ok_status();
  });
  if (!stored.ok()) return stored.take_error();
  return registered;
}

Result<std::vector<Client>> Provider::clients() const {
  return database_.read_value<std::vector<Client>>([&](store::Session& session) -> Result<std::vector<Client>> {
    auto rows = session.query("SELECT " + std::string(client_columns) + " FROM oidc_client ORDER BY client_id");
    if (!rows.ok()) return rows.take_error();
    std::vector<Client> clients;
    for (const store::Row& row : *rows) {
      auto client = client_from(row);
      if (!client.ok()) return client.take_error();
      clients.push_back(std::move(client).value());
    }
    return clients;
  });
}

Result<Client> Provider::client(std::string_view client_id) const {
  return database_.read_value<Client>([&](store::Session& session) -> Result<Client> {
    auto row = session.query_one("SELECT " + std::string(client_columns) + " FROM oidc_client WHERE client_id = $1",
                                 {std::string(client_id)});
    if (!row.ok()) return row.take_error();
    if (!row->has_value()) {
      return Error(ErrorKind::not_found, "oidc.unknown_client", "there is no client " + std::string(client_id),
                   {{"field", "client_id"}});
    }
    return client_from(**row);
  });
}

// ---- config/oidc_clients.yaml -----------------------------------------------------------------

namespace {



bool variable_name_well_formed(std::string_view name) {
  if (name.empty() || (name[0] >= '0' && name[0] <= '9')) return false;
  return std::all_of(name.begin(), name.end(), [](char c) { return (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_'; });
}

}  // namespace

namespace {
Result<ClientConfiguration> configuration_from(const YAML::Node& document, const std::string& file);
}  // namespace

Result<ClientConfiguration> ClientConfiguration::load(const std::filesystem::path& path) {
  auto document = load_yaml_file(path);
  if (!document.ok()) return document.take_error();
  return configuration_from(*document, path.string());
}

Result<ClientConfiguration> ClientConfiguration::parse(std::string_view text, std::string_view file) {
  auto document = parse_yaml(text, file);
  if (!document.ok()) return document.take_error();
  return configuration_from(*document, std::string(file));
}

namespace {

Result<ClientConfiguration> configuration_from(const YAML::Node& document, const std::string& file) {
  ONEWINDOW_TRY(check_known_keys(document, file, "", {"clients"}));
  YAML::Node list = document["clients"];
  if (!list.IsDefined()) return config_error("config.missing_field", file, 0, "clients", "is required");
  if (!list.IsNull() && !list.IsSequence()) return config_error("config.bad_value", file, config_line(list), "clients", "must be a list");
  ClientConfiguration configuration;
  configuration.file = file;
  std::set<std::string> ids;
  int index = 0;
  for (const auto& item : list) {
    std::string path = "clients[" + std::to_string(index++) + "]";
    ONEWINDOW_TRY(check_known_keys(item, file, path + ".",
                                   {"client_id", "name", "kind", "redirect_uris", "grant_types", "scopes", "department",
                                    "secret_environment_variable"}));
    ConfiguredClient configured;
    configured.line = config_line(item);
    NewClient& client = configured.client;
    auto at = [&](const char* key) { return config_line(item[key]) > 0 ? config_line(item[key]) : configured.line; };
    for (auto [key, target, required] :
         {std::tuple{"client_id", &client.client_id, true}, std::tuple{"name", &client.name, true},
          std::tuple{"department", &configured.department, false},
          std::tuple{"secret_environment_variable", &configured.secret_environment_variable, false}}) {
      auto value = config_text(item, file, path, key, required);
      if (!value.ok()) return value.take_error();
      *target = *value;
    }
    auto kind = config_text(item, file, path, "kind", false);
    if (!kind.ok()) return kind.take_error();
    if (!kind->empty()) {
      auto parsed = parse_client_kind(*kind);
      if (!parsed.ok()) return config_error("config.bad_value", file, at("kind"), path + ".kind", "must be confidential or public");
      client.kind = *parsed;
    }
    for (auto [key, target] : {std::pair{"redirect_uris", &client.redirect_uris}, std::pair{"grant_types", &client.grant_types},
                               std::pair{"scopes", &client.scopes}}) {
      auto values = config_text_list(item, file, path, key);
      if (!values.ok()) return values.take_error();
      *target = *values;
    }
    // The checks that need no database, here, so that the file's own line is named.
    if (!client_id_well_formed(client.client_id)) {
      return config_error("config.bad_value", file, at("client_id"), path + ".client_id",
                          "must be 3 to 64 characters of lower-case letters, digits, '.', '_' or '-'");
    }
    if (!ids.insert(client.client_id).second) {
      return config_error("config.duplicate", file, at("client_id"), path + ".client_id", "names a client listed before");
    }
    for (const auto& uri : client.redirect_uris) {
      if (!url_acceptable(uri, true)) {
        return config_error("config.bad_value", file, at("redirect_uris"), path + ".redirect_uris",
                            uri + " must be an absolute https URL (http only on a loopback host) without a fragment");
      }
    }
    for (const auto& grant : client.grant_types) {
      if (grant != authorization_code_grant && grant != client_credentials_grant) {
        return config_error("config.bad_value", file, at("grant_types"), path + ".grant_types",
                            "may hold authorization_code and client_credentials, not " + grant);
      }
    }
    for (const auto& scope : client.scopes) {
      if (!scope_token_well_formed(scope)) {
        return config_error("config.bad_value", file, at("scopes"), path + ".scopes", "holds a malformed scope: " + scope);
      }
    }
    if (!configured.secret_environment_variable.empty() && !variable_name_well_formed(configured.secret_environment_variable)) {
      return config_error("config.bad_value", file, at("secret_environment_variable"), path + ".secret_environment_variable",
                          "must be an environment variable name: A-Z, 0-9 and _");
    }
    if (client.kind == ClientKind::public_client && !configured.secret_environment_variable.empty()) {
      return config_error("config.bad_value", file, at("secret_environment_variable"), path + ".secret_environment_variable",
                          "a public client has no secret");
    }
    configuration.clients.push_back(std::move(configured));
  }
  return configuration;
}

}  // namespace

Result<std::vector<RegisteredClient>> Provider::register_configured_clients(
    const ClientConfiguration& configuration, const std::function<const char*(const char*)>& environment) {
  const std::string& file = configuration.file;
  struct Pending {
    NewClient client;  // checked; secret from the environment or empty
    int line = 0;
    std::string path;
  };
  std::vector<Pending> pending;
  int index = 0;
  for (const ConfiguredClient& configured : configuration.clients) {
    std::string path = "clients[" + std::to_string(index++) + "]";
    NewClient client = configured.client;
    if (!configured.department.empty()) {
      auto department = directory_.department_by_key(configured.department);
      if (!department.ok()) {
        if (department.error().kind != ErrorKind::not_found) return department.take_error();
        return config_error("config.bad_value", file, configured.line, path + ".department",
                            "no department has the key " + configured.department + " (config/departments.yaml)");
      }
      client.department_id = department->id;
    }
    if (!configured.secret_environment_variable.empty()) {
      const char* value = environment(configured.secret_environment_variable.c_str());
      if (value != nullptr && *value != '\0') {
        client.secret = value;
        if (!secret_well_formed(client.secret)) {
          // Names the variable, never its value.
          return config_error("config.bad_value", file, configured.line, path + ".secret_environment_variable",
                              "the secret in " + configured.secret_environment_variable +
                                  " must be 32 to 256 printable ASCII characters without spaces");
        }
      }
    }
    auto valid = checked(client);
    if (!valid.ok()) {
      std::string field = valid.error().details.value("field", "");
      if (field == "department_id") field = "department";
      if (field == "secret") field = "secret_environment_variable";
      return config_error("config.bad_value", file, configured.line, path + (field.empty() ? "" : "." + field),
                          valid.error().message);
    }
    pending.push_back({std::move(valid).value(), configured.line, path});
  }

  std::vector<RegisteredClient> answer;
  std::string now = format_timestamp(clock_.now());
  Status stored = database_.write([&](store::Session& session) -> Status {
    answer.clear();
    for (const Pending& item : pending) {
      const NewClient& wanted = item.client;
      RegisteredClient registered;
      registered.client = client_of(wanted, "config", "system", now);
      auto row = session.query_one("SELECT " + std::string(client_columns) +
                                       ", secret_digest FROM oidc_client WHERE client_id = $1",
                                   {wanted.client_id});
      if (!row.ok()) return row.take_error();

      std::optional<std::string> stored_digest;
      if (row->has_value() && !(*row)->is_null(11)) stored_digest = (*row)->text(11);
      std::string digest;
      if (wanted.kind == ClientKind::confidential) {
        if (!wanted.secret.empty()) {
          digest = secret_digest(wanted.secret);
        } else if (stored_digest) {
          digest = *stored_digest;  // made at an earlier start and shown then
        } else {
          auto made = random_token(secret_bytes);
          if (!made.ok()) return made.take_error();
          registered.secret = *made;
          digest = secret_digest(*made);
        }
      }

      if (!row->has_value()) {
        ONEWINDOW_TRY(insert_client(session, registered.client, digest));
        auto recorded = log_.record(session, {"system", "", "oidc.client_registered", "oidc_client", wanted.client_id,
                                              file, act_details(registered.client)});
        if (!recorded.ok()) return recorded.take_error();
        answer.push_back(std::move(registered));
        continue;
      }
      auto existing = client_from(**row);
      if (!existing.ok()) return existing.take_error();
      if (existing->source != "config") {
        return config_error("oidc.client_exists", file, item.line, item.path + ".client_id",
                            "an operator registered the client " + wanted.client_id +
                                " through the API; the configuration may not take it over");
      }
      std::vector<std::string> changed;
      if (existing->name != wanted.name) changed.push_back("name");
      if (existing->kind != wanted.kind) changed.push_back("kind");
      if (existing->redirect_uris != wanted.redirect_uris) changed.push_back("redirect_uris");
      if (existing->grant_types != wanted.grant_types) changed.push_back("grant_types");
      if (existing->scopes != wanted.scopes) changed.push_back("scopes");
      if (existing->department_id != wanted.department_id) changed.push_back("department_id");
      if (stored_digest.value_or("") != digest) changed.push_back("secret");
      registered.client.created_at = existing->created_at;
      registered.client.created_by = existing->created_by;
      registered.client.updated_at = existing->updated_at;
      if (!changed.empty()) {
        registered.client.updated_at = now;
        auto updated = session.execute(
            "UPDATE oidc_client SET name = $2, kind = $3, secret_digest = $4, redirect_uris = $5, grant_types = $6, "
            "scopes = $7, department_id = $8, updated_at = $9 WHERE client_id = $1",
            {wanted.client_id, wanted.name, std::string(client_kind_name(wanted.kind)), optional_text(digest),
             json_list(wanted.redirect_uris), json_list(wanted.grant_types), json_list(wanted.scopes),
             optional_text(wanted.department_id), now});
        if (!updated.ok()) return updated.take_error();
        nlohmann::json details = act_details(registered.client);
        details["changed"] = changed;
        auto recorded = log_.record(session, {"system", "", "oidc.client_updated", "oidc_client", wanted.client_id, file,
                                              details});
        if (!recorded.ok()) return recorded.take_error();
      }
      answer.push_back(std::move(registered));
    }
    return ok_status();
  });
  if (!stored.ok()) return stored.take_error();
  return answer;
}

}  // namespace onewindow::oidc
