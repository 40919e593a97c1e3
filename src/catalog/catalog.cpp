// The resource catalog and its grants; see catalog.h.
#include "catalog/catalog.h"

#include "base/config.h"
#include "base/identifiers.h"

#include <algorithm>
#include <set>

namespace onewindow::catalog {

namespace {

constexpr const char* schema_v1 = R"(
    CREATE TABLE catalog_resource (
      id TEXT PRIMARY KEY,
      code TEXT NOT NULL UNIQUE,
      classification TEXT NOT NULL,
      sequence BIGINT NOT NULL,
      name TEXT NOT NULL,
      summary TEXT NOT NULL,
      provider TEXT NOT NULL,
      registry TEXT UNIQUE,
      share_type TEXT NOT NULL,
      published_on TEXT NOT NULL,
      description TEXT NOT NULL,
      updated_at TEXT NOT NULL,
      log_index BIGINT NOT NULL);
    CREATE INDEX catalog_resource_classification ON catalog_resource (classification, sequence);
    CREATE INDEX catalog_resource_provider ON catalog_resource (provider);
    CREATE TABLE catalog_grant (
      id TEXT PRIMARY KEY,
      resource_id TEXT NOT NULL REFERENCES catalog_resource (id),
      provider TEXT NOT NULL,
      consumer TEXT NOT NULL,
      status TEXT NOT NULL,
      expires_on TEXT NOT NULL,
      description TEXT NOT NULL,
      updated_at TEXT NOT NULL,
      log_index BIGINT NOT NULL);
    CREATE INDEX catalog_grant_consumer ON catalog_grant (consumer, resource_id, status);
    CREATE INDEX catalog_grant_provider ON catalog_grant (provider, status);
)";

constexpr const char* resource_columns = "SELECT description FROM catalog_resource";
constexpr const char* grant_columns = "SELECT description FROM catalog_grant";

Error denied(const char* code, std::string message) {
  return Error(ErrorKind::permission_denied, code, std::move(message));
}

Error invalid(const char* code, std::string field, std::string message) {
  return Error::invalid(code, std::move(field), std::move(message));
}

bool digits(std::string_view text, std::size_t count) {
  return text.size() == count && std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// "1-01-001" (as the files write it) or "101001" to "101001".
std::string classification_code(std::string_view text) {
  std::string code;
  for (char c : text) {
    if (c != '-') code += c;
  }
  return code;
}

nlohmann::json items_json(const std::vector<DataItem>& items) {
  nlohmann::json list = nlohmann::json::array();
  for (const DataItem& item : items) list.push_back({{"name", item.name}, {"label", item.label}, {"type", item.type}});
  return list;
}

Resource resource_from(const nlohmann::json& json) {
  Resource resource;
  resource.id = json.at("id");
  resource.code = json.at("code");
  resource.classification = json.at("classification");
  resource.name = json.at("name");
  resource.provider = json.at("provider");
  resource.provider_code = json.at("provider_code");
  resource.summary = json.at("summary");
  resource.format = json.at("format");
  for (const auto& item : json.at("items")) resource.items.push_back({item.at("name"), item.at("label"), item.at("type")});
  resource.share_type = *parse_share_type(json.at("share_type").get<std::string>());
  resource.share_condition = json.at("share_condition");
  resource.share_method = json.at("share_method");
  resource.open_attribute = json.at("open_attribute");
  resource.update_cycle = json.at("update_cycle");
  resource.published_on = json.at("published_on");
  resource.related_codes = json.at("related_codes").get<std::vector<std::string>>();
  resource.registry = json.value("registry", "");
  return resource;
}

Grant grant_from(const nlohmann::json& json) {
  Grant grant;
  grant.id = json.at("id");
  grant.resource_id = json.at("resource_id");
  grant.resource_code = json.at("resource_code");
  grant.provider = json.at("provider");
  grant.consumer = json.at("consumer");
  grant.items = json.at("items").get<std::vector<std::string>>();
  grant.purpose = json.at("purpose");
  grant.legal_basis = json.at("legal_basis");
  grant.expires_on = json.at("expires_on");
  grant.status = json.at("status");
  grant.reason = json.value("reason", "");
  grant.requested_by = json.at("requested_by");
  grant.requested_at = json.at("requested_at");
  grant.decided_by = json.value("decided_by", "");
  grant.decided_at = json.value("decided_at", "");
  return grant;
}

// Today in China Standard Time as "YYYY-MM-DD", formatted again only when the day changes: the
// grant check compares it with expiry dates before every exchange read.
std::string today_text(const Clock& clock) {
  thread_local Date day;
  thread_local std::string text;
  Date today = local_date(clock.now());
  if (text.empty() || today != day) {
    day = today;
    text = today.to_string();
  }
  return text;
}

// The LIKE pattern that finds `text` anywhere, with % _ and \ taken literally.
std::string contains_pattern(std::string_view text) {
  std::string pattern = "%";
  for (char c : text) {
    if (c == '%' || c == '_' || c == '\\') pattern += '\\';
    pattern += c;
  }
  return pattern + "%";
}

Result<std::vector<Resource>> resources_where(store::Session& session, const std::string& where, const store::Parameters& parameters) {
  auto rows = session.query(std::string(resource_columns) + " " + where, parameters);
  if (!rows.ok()) return rows.take_error();
  std::vector<Resource> found;
  for (const auto& row : *rows) found.push_back(resource_from(nlohmann::json::parse(row.text(0))));
  return found;
}

}  // namespace

std::string_view share_type_name(ShareType type) {
  switch (type) {
    case ShareType::unconditional: return "unconditional";
    case ShareType::conditional: return "conditional";
    case ShareType::none: return "none";
  }
  return "none";
}

Result<ShareType> parse_share_type(std::string_view text, std::string_view field) {
  if (text == "unconditional") return ShareType::unconditional;
  if (text == "conditional") return ShareType::conditional;
  if (text == "none") return ShareType::none;
  return Error::invalid("catalog.bad_share_type", std::string(field), "the share type is unconditional, conditional or none");
}

const DataItem* Resource::item(std::string_view name) const {
  for (const DataItem& item : items) {
    if (item.name == name) return &item;
  }
  return nullptr;
}

nlohmann::json Resource::to_json() const {
  nlohmann::json json = {{"id", id},
                         {"code", code},
                         {"classification", classification},
                         {"name", name},
                         {"provider", provider},
                         {"provider_code", provider_code},
                         {"summary", summary},
                         {"format", format},
                         {"items", items_json(items)},
                         {"share_type", share_type_name(share_type)},
                         {"share_condition", share_condition},
                         {"share_method", share_method},
                         {"open_attribute", open_attribute},
                         {"update_cycle", update_cycle},
                         {"published_on", published_on},
                         {"related_codes", related_codes}};
  if (!registry.empty()) json["registry"] = registry;
  return json;
}

nlohmann::json Grant::to_json() const {
  return {{"id", id},
          {"resource_id", resource_id},
          {"resource_code", resource_code},
          {"provider", provider},
          {"consumer", consumer},
          {"items", items},
          {"purpose", purpose},
          {"legal_basis", legal_basis},
          {"expires_on", expires_on},
          {"status", status},
          {"reason", reason},
          {"requested_by", requested_by},
          {"requested_at", requested_at},
          {"decided_by", decided_by},
          {"decided_at", decided_at}};
}

// ---- Configuration ----------------------------------------------------------------------------

Result<CatalogConfiguration> CatalogConfiguration::load(const std::filesystem::path& directory,
                                                        const registry::RegistryCatalog& registries) {
  CatalogConfiguration configuration;
  const std::string classification_file = (directory / "classification.yaml").string();
  auto classification = load_yaml_file(classification_file);
  if (!classification.ok()) return classification.take_error();
  ONEWINDOW_TRY(check_known_keys(*classification, classification_file, "", {"categories"}));
  // Three levels, each a mapping code -> {name, name_en, and the next level}.
  struct Level {
    const char* children;
    std::size_t digits;
  };
  const std::vector<Level> levels = {{"items", 1}, {"subitems", 2}, {"", 3}};
  std::function<Status(const YAML::Node&, const std::string&, const std::string&, std::size_t)> read_level =
      [&](const YAML::Node& mapping, const std::string& prefix, const std::string& path, std::size_t depth) -> Status {
    if (!mapping.IsMap()) {
      return config_error("config.bad_value", classification_file, config_line(mapping), path, "must be a mapping of codes");
    }
    for (const auto& entry : mapping) {
      std::string code = entry.first.as<std::string>();
      std::string where = path + "." + code;
      if (!digits(code, levels[depth].digits)) {
        return config_error("catalog.unknown_classification", classification_file, config_line(entry.first), where,
                            "a code of this level has " + std::to_string(levels[depth].digits) + " digits");
      }
      const YAML::Node& node = entry.second;
      if (!node.IsMap()) return config_error("config.bad_value", classification_file, config_line(node), where, "must be a mapping");
      if (*levels[depth].children) {
        ONEWINDOW_TRY(check_known_keys(node, classification_file, where + ".", {"name", "name_en", levels[depth].children}));
      } else {
        ONEWINDOW_TRY(check_known_keys(node, classification_file, where + ".", {"name", "name_en"}));
      }
      auto name = config_text(node, classification_file, where, "name");
      if (!name.ok()) return name.take_error();
      auto english = config_text(node, classification_file, where, "name_en", false);
      if (!english.ok()) return english.take_error();
      configuration.classification[prefix + code] = {prefix + code, *name, *english};
      if (*levels[depth].children && node[levels[depth].children]) {
        ONEWINDOW_TRY(read_level(node[levels[depth].children], prefix + code, where + "." + levels[depth].children, depth + 1));
      }
    }
    return ok_status();
  };
  ONEWINDOW_TRY(read_level((*classification)["categories"], "", "categories", 0));

  const std::string registries_file = (directory / "registries.yaml").string();
  auto listed = load_yaml_file(registries_file);
  if (!listed.ok()) return listed.take_error();
  ONEWINDOW_TRY(check_known_keys(*listed, registries_file, "", {"registries"}));
  const YAML::Node& listings = (*listed)["registries"];
  if (listings && !listings.IsMap()) {
    return config_error("config.bad_value", registries_file, config_line(listings), "registries", "must be a mapping");
  }
  for (const auto& entry : listings) {
    RegistryListing listing;
    listing.registry = entry.first.as<std::string>();
    std::string path = "registries." + listing.registry;
    const YAML::Node& node = entry.second;
    if (!registries.find(listing.registry)) {
      return config_error("catalog.unknown_registry", registries_file, config_line(entry.first), path,
                          "no registry of this name in config/registries");
    }
    ONEWINDOW_TRY(check_known_keys(node, registries_file, path + ".",
                                   {"classification", "summary", "share_type", "share_condition", "share_method",
                                    "open_attribute", "update_cycle"}));
    auto classification_text = config_text(node, registries_file, path, "classification");
    if (!classification_text.ok()) return classification_text.take_error();
    listing.classification = classification_code(*classification_text);
    if (listing.classification.size() != 6 || !configuration.classification.contains(listing.classification)) {
      return config_error("catalog.unknown_classification", registries_file, config_line(node["classification"]),
                          path + ".classification", "not a sub-item of config/catalog/classification.yaml");
    }
    auto summary = config_text(node, registries_file, path, "summary", false);
    if (!summary.ok()) return summary.take_error();
    listing.summary = *summary;
    auto share = config_text(node, registries_file, path, "share_type");
    if (!share.ok()) return share.take_error();
    auto share_type = parse_share_type(*share);
    if (!share_type.ok()) {
      return config_error("catalog.bad_share_type", registries_file, config_line(node["share_type"]), path + ".share_type",
                          "is unconditional, conditional or none");
    }
    listing.share_type = *share_type;
    for (auto [field, target] : {std::pair{"share_condition", &listing.share_condition},
                                 std::pair{"share_method", &listing.share_method},
                                 std::pair{"open_attribute", &listing.open_attribute},
                                 std::pair{"update_cycle", &listing.update_cycle}}) {
      auto text = config_text(node, registries_file, path, field, false);
      if (!text.ok()) return text.take_error();
      if (!text->empty()) *target = *text;
    }
    configuration.registries[listing.registry] = listing;
  }
  return configuration;
}

// ---- The catalog ------------------------------------------------------------------------------

Catalog::Catalog(store::Database& database, audit::TransparencyLog& log, const CatalogConfiguration& configuration,
                 std::map<std::string, std::string> department_codes, const Clock& clock)
    : database_(database),
      log_(log),
      configuration_(configuration),
      department_codes_(std::move(department_codes)),
      clock_(clock) {}

std::vector<store::Migration> Catalog::migrations() {
  return {{"catalog", 1, "resources and grants", schema_v1, ""}};
}

namespace {

// Stores a new resource, numbering it within its classification, with its log entry.
Result<Resource> insert_resource(store::Session& session, audit::TransparencyLog& log, Resource resource,
                                 const std::string& actor, const std::string& action, const std::string& now) {
  auto sequence = session.query_one("SELECT COALESCE(MAX(sequence), 0) + 1 FROM catalog_resource WHERE classification = $1",
                                    {resource.classification});
  if (!sequence.ok()) return sequence.take_error();
  std::int64_t number = (*sequence)->integer(0);
  std::string digits = std::to_string(number);
  resource.code = resource.classification + "-" + std::string(digits.size() < 6 ? 6 - digits.size() : 0, '0') + digits;
  auto receipt = log.record(session, {actor, "", action, "catalog_resource", resource.id, "",
                                      {{"code", resource.code}, {"name", resource.name}, {"provider", resource.provider},
                                       {"share_type", share_type_name(resource.share_type)}}});
  if (!receipt.ok()) return receipt.take_error();
  ONEWINDOW_TRY(session
                    .execute("INSERT INTO catalog_resource (id, code, classification, sequence, name, summary, provider, "
                             "registry, share_type, published_on, description, updated_at, log_index) "
                             "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
                             {resource.id, resource.code, resource.classification, number, resource.name, resource.summary,
                              resource.provider,
                              resource.registry.empty() ? store::Value() : store::Value(resource.registry),
                              std::string(share_type_name(resource.share_type)), resource.published_on,
                              resource.to_json().dump(), now, receipt->index})
                    .status());
  return resource;
}

}  // namespace

Status Catalog::publish_registries(const registry::RegistryCatalog& registries) {
  std::string now = format_timestamp(clock_.now());
  std::string today = local_date(clock_.now()).to_string();
  for (const auto& [name, listing] : configuration_.registries) {
    const registry::RegistryDefinition* definition = registries.find(name);
    if (!definition) continue;
    Resource resource;
    resource.classification = listing.classification;
    resource.name = definition->title + "基础信息库";
    resource.provider = definition->key_field().authority;
    auto code = department_codes_.find(resource.provider);
    resource.provider_code = code == department_codes_.end() ? "" : code->second;
    resource.summary = listing.summary;
    resource.format = "registry";
    for (const auto& field : definition->fields) {
      resource.items.push_back({field.name, field.label, std::string(registry::type_name(field.type))});
    }
    resource.share_type = listing.share_type;
    resource.share_condition = listing.share_condition;
    resource.share_method = listing.share_method;
    resource.open_attribute = listing.open_attribute;
    resource.update_cycle = listing.update_cycle;
    resource.registry = name;
    ONEWINDOW_TRY(database_.write([&](store::Session& session) -> Status {
      auto existing = resources_where(session, "WHERE registry = $1", {name});
      if (!existing.ok()) return existing.take_error();
      if (existing->empty()) {
        resource.id = new_id("res");
        resource.published_on = today;
        return insert_resource(session, log_, resource, "system", "catalog.publish", now).status();
      }
      // Kept: its id, code and first publication; the rest follows the registry and the listing.
      const Resource& stored = existing->front();
      resource.id = stored.id;
      resource.code = stored.code;
      resource.published_on = stored.published_on;
      resource.related_codes = stored.related_codes;
      if (resource.to_json() == stored.to_json()) return ok_status();
      auto receipt = log_.record(session, {"system", "", "catalog.publish", "catalog_resource", resource.id, "",
                                           {{"code", resource.code}, {"changed", true}}});
      if (!receipt.ok()) return receipt.take_error();
      return session
          .execute("UPDATE catalog_resource SET name = $1, summary = $2, provider = $3, share_type = $4, description = $5, "
                   "updated_at = $6, log_index = $7 WHERE id = $8",
                   {resource.name, resource.summary, resource.provider, std::string(share_type_name(resource.share_type)),
                    resource.to_json().dump(), now, receipt->index, resource.id})
          .status();
    }));
  }
  return ok_status();
}

Result<Resource> Catalog::register_resource(const NewResource& request, const Department& by) {
  Resource resource;
  resource.classification = classification_code(request.classification);
  if (resource.classification.size() != 6 || !configuration_.classification.contains(resource.classification)) {
    return invalid("catalog.unknown_classification", "classification",
                   "classification must be a sub-item of the catalog's classification, e.g. 301001");
  }
  if (request.name.empty() || request.name.size() > 300) {
    return invalid("catalog.bad_field", "name", "name is 1 to 300 bytes");
  }
  if (request.items.empty()) return invalid("catalog.bad_field", "items", "a resource has at least one data item");
  std::set<std::string> names;
  for (const DataItem& item : request.items) {
    if (item.name.empty() || !names.insert(item.name).second) {
      return invalid("catalog.bad_field", "items", "every data item has a name, and no name twice");
    }
  }
  static const std::set<std::string> formats = {"csv", "json", "api", "xlsx", "file"};
  if (!formats.contains(request.format)) return invalid("catalog.bad_field", "format", "format is csv, json, api, xlsx or file");
  static const std::set<std::string> methods = {"interface", "file", "database"};
  if (!methods.contains(request.share_method)) {
    return invalid("catalog.bad_field", "share_method", "share_method is interface, file or database");
  }
  if (request.share_type == ShareType::conditional && request.share_condition.empty()) {
    return invalid("catalog.bad_field", "share_condition", "a conditional resource states its share condition");
  }
  resource.id = new_id("res");
  resource.name = request.name;
  resource.provider = by.key;
  resource.provider_code = by.code;
  resource.summary = request.summary;
  resource.format = request.format;
  resource.items = request.items;
  resource.share_type = request.share_type;
  resource.share_condition = request.share_condition;
  resource.share_method = request.share_method;
  resource.open_attribute = request.open_attribute;
  resource.update_cycle = request.update_cycle;
  resource.related_codes = request.related_codes;
  resource.published_on = local_date(clock_.now()).to_string();
  std::string now = format_timestamp(clock_.now());
  return database_.write_value<Resource>([&](store::Session& session) {
    return insert_resource(session, log_, resource, by.account_id, "catalog.register", now);
  });
}

Result<Resource> Catalog::resource(std::string_view id_or_code) const {
  return database_.read_value<Resource>([&](store::Session& session) { return resource(session, id_or_code); });
}

Result<Resource> Catalog::resource(store::Session& session, std::string_view id_or_code) const {
  auto found = shared_resource(session, id_or_code);
  if (!found.ok()) return found.take_error();
  return **found;
}

Result<Resource> Catalog::registry_resource(std::string_view registry) const {
  // Every draft of a service prefilled from a registry asks this: found by its id, then parsed
  // once like any resource.
  return database_.read_value<Resource>([&](store::Session& session) -> Result<Resource> {
    auto row = session.query_one("SELECT id FROM catalog_resource WHERE registry = $1", {std::string(registry)});
    if (!row.ok()) return row.take_error();
    if (!row->has_value()) {
      return Error(ErrorKind::not_found, "catalog.resource_not_found",
                   "no resource publishes registry " + std::string(registry), {{"field", "registry"}});
    }
    auto shared = shared_resource(session, (*row)->text(0));
    if (!shared.ok()) return shared.take_error();
    return **shared;
  });
}

Result<std::shared_ptr<const Resource>> Catalog::shared_resource(store::Session& session, std::string_view id_or_code) const {
  // By id or by code, whichever it is: ids begin "res_" and codes with a digit, and one equality
  // costs SQLite less than "id = $1 OR code = $1", which looks in two indexes and merges.
  auto row = session.query_one(id_or_code.starts_with("res_")
                                   ? "SELECT id, log_index FROM catalog_resource WHERE id = $1"
                                   : "SELECT id, log_index FROM catalog_resource WHERE code = $1",
                               {std::string(id_or_code)});
  if (!row.ok()) return row.take_error();
  if (!row->has_value()) {
    return Error(ErrorKind::not_found, "catalog.resource_not_found", "no resource " + std::string(id_or_code),
                 {{"field", "resource_id"}});
  }
  std::string id = (*row)->text(0);
  std::int64_t log_index = (*row)->integer(1);
  {
    std::lock_guard lock(parsed_mutex_);
    auto cached = parsed_resources_.find(id);
    if (cached != parsed_resources_.end() && cached->second.log_index == log_index) return cached->second.value;
  }
  auto found = resources_where(session, "WHERE id = $1", {id});
  if (!found.ok()) return found.take_error();
  if (found->empty()) return Error(ErrorKind::internal, "catalog.resource_vanished", "resource " + id + " vanished in a transaction");
  auto parsed = std::make_shared<const Resource>(std::move(found->front()));
  std::lock_guard lock(parsed_mutex_);
  parsed_resources_[id] = {log_index, parsed};
  return parsed;
}

Result<std::shared_ptr<const Grant>> Catalog::parsed_grant(store::Session& session, const std::string& id,
                                                           std::int64_t log_index) const {
  {
    std::lock_guard lock(parsed_mutex_);
    auto cached = parsed_grants_.find(id);
    if (cached != parsed_grants_.end() && cached->second.log_index == log_index) return cached->second.value;
  }
  auto row = session.query_one(std::string(grant_columns) + " WHERE id = $1", {id});
  if (!row.ok()) return row.take_error();
  if (!row->has_value()) return Error(ErrorKind::internal, "catalog.grant_vanished", "grant " + id + " vanished in a transaction");
  auto parsed = std::make_shared<const Grant>(grant_from(nlohmann::json::parse((*row)->text(0))));
  std::lock_guard lock(parsed_mutex_);
  parsed_grants_[id] = {log_index, parsed};
  return parsed;
}

Result<nlohmann::json> Catalog::search(const SearchQuery& query) const {
  if (query.limit < 1 || query.limit > 200) return invalid("catalog.bad_field", "limit", "limit is 1 to 200");
  if (query.offset < 0) return invalid("catalog.bad_field", "offset", "offset is 0 or more");
  std::string where = "WHERE 1 = 1";
  store::Parameters parameters;
  auto add = [&](const std::string& condition, store::Value value) {
    parameters.push_back(std::move(value));
    std::string placeholder = "$" + std::to_string(parameters.size());
    std::string text = condition;
    for (auto at = text.find("?"); at != std::string::npos; at = text.find("?", at + placeholder.size())) {
      text.replace(at, 1, placeholder);
    }
    where += " AND " + text;
  };
  if (!query.text.empty()) add("(name LIKE ? ESCAPE '\\' OR summary LIKE ? ESCAPE '\\')", contains_pattern(query.text));
  if (!query.classification.empty()) {
    std::string prefix = classification_code(query.classification);
    if (prefix.empty() || prefix.size() > 6 || !digits(prefix, prefix.size())) {
      return invalid("catalog.unknown_classification", "classification", "classification is a code or its prefix: 1, 101, 101001");
    }
    add("classification LIKE ?", prefix + "%");
  }
  if (!query.provider.empty()) add("provider = ?", query.provider);
  if (query.share_type) add("share_type = ?", std::string(share_type_name(*query.share_type)));
  return database_.read_value<nlohmann::json>([&](store::Session& session) -> Result<nlohmann::json> {
    auto total = session.query_one("SELECT COUNT(*) FROM catalog_resource " + where, parameters);
    if (!total.ok()) return total.take_error();
    store::Parameters paged = parameters;
    paged.push_back(static_cast<std::int64_t>(query.limit));
    paged.push_back(static_cast<std::int64_t>(query.offset));
    auto found = resources_where(session,
                                 where + " ORDER BY published_on DESC, code LIMIT $" + std::to_string(paged.size() - 1) +
                                     " OFFSET $" + std::to_string(paged.size()),
                                 paged);
    if (!found.ok()) return found.take_error();
    nlohmann::json list = nlohmann::json::array();
    for (const Resource& resource : *found) list.push_back(resource.to_json());
    return nlohmann::json{{"resources", list}, {"total", (*total)->integer(0)}};
  });
}

// ---- Grants -----------------------------------------------------------------------------------

namespace {

Status store_grant(store::Session& session, audit::TransparencyLog& log, const Grant& grant, const std::string& actor,
                   const char* action, const std::string& now, bool created) {
  auto receipt = log.record(session, {actor, "", action, "catalog_grant", grant.id, grant.legal_basis,
                                      {{"resource", grant.resource_code},
                                       {"provider", grant.provider},
                                       {"consumer", grant.consumer},
                                       {"items", grant.items},
                                       {"purpose", grant.purpose},
                                       {"expires_on", grant.expires_on},
                                       {"status", grant.status},
                                       {"reason", grant.reason}}});
  if (!receipt.ok()) return receipt.take_error();
  if (created) {
    return session
        .execute("INSERT INTO catalog_grant (id, resource_id, provider, consumer, status, expires_on, description, updated_at, "
                 "log_index) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
                 {grant.id, grant.resource_id, grant.provider, grant.consumer, grant.status, grant.expires_on,
                  grant.to_json().dump(), now, receipt->index})
        .status();
  }
  return session
      .execute("UPDATE catalog_grant SET status = $1, description = $2, updated_at = $3, log_index = $4 WHERE id = $5",
               {grant.status, grant.to_json().dump(), now, receipt->index, grant.id})
      .status();
}

}  // namespace

Result<Grant> Catalog::request_grant(const GrantRequest& request, const Department& by) {
  auto found = resource(request.resource_id);
  if (!found.ok()) return found.take_error();
  if (request.items.empty()) return invalid("catalog.bad_field", "items", "name the data items asked for");
  std::set<std::string> seen;
  for (const std::string& item : request.items) {
    if (!found->item(item)) {
      return Error(ErrorKind::invalid_argument, "catalog.unknown_item", "the resource has no data item " + item,
                   {{"field", "items"}, {"item", item}});
    }
    if (!seen.insert(item).second) return invalid("catalog.bad_field", "items", "the data item " + item + " is named twice");
  }
  if (request.purpose.empty()) return invalid("catalog.bad_field", "purpose", "state the purpose of the use");
  if (request.legal_basis.empty()) return invalid("catalog.bad_field", "legal_basis", "state the legal basis of the use");
  auto expires = Date::parse(request.expires_on, "expires_on");
  if (!expires.ok()) return expires.take_error();
  Date today = local_date(clock_.now());
  if (*expires < today) return invalid("catalog.expiry_in_past", "expires_on", "the expiry date is in the past");
  Grant grant;
  grant.id = new_id("gnt");
  grant.resource_id = found->id;
  grant.resource_code = found->code;
  grant.provider = found->provider;
  grant.consumer = by.key;
  grant.items = request.items;
  grant.purpose = request.purpose;
  grant.legal_basis = request.legal_basis;
  grant.expires_on = expires->to_string();
  grant.requested_by = by.account_id;
  std::string now = format_timestamp(clock_.now());
  grant.requested_at = now;
  switch (found->share_type) {
    case ShareType::unconditional:
      grant.status = "granted";
      grant.decided_by = "system";
      grant.decided_at = now;
      break;
    case ShareType::conditional:
      grant.status = "pending";
      break;
    case ShareType::none:
      grant.status = "refused";
      grant.reason = "the resource is not shared (不予共享)";
      grant.decided_by = "system";
      grant.decided_at = now;
      break;
  }
  ONEWINDOW_TRY(database_.write([&](store::Session& session) {
    return store_grant(session, log_, grant, by.account_id, "catalog.grant_request", now, true);
  }));
  return grant;
}

Result<Grant> Catalog::change_grant(std::string_view grant_id, const Department& by, const char* action,
                                    const std::function<Status(Grant&)>& change) {
  std::string now = format_timestamp(clock_.now());
  return database_.write_value<Grant>([&](store::Session& session) -> Result<Grant> {
    auto row = session.query_one(std::string(grant_columns) + " WHERE id = $1", {std::string(grant_id)});
    if (!row.ok()) return row.take_error();
    if (!*row) {
      return Error(ErrorKind::not_found, "catalog.grant_not_found", "no grant " + std::string(grant_id), {{"field", "grant_id"}});
    }
    Grant grant = grant_from(nlohmann::json::parse((*row)->text(0)));
    ONEWINDOW_TRY(change(grant));
    grant.decided_by = by.account_id;
    grant.decided_at = now;
    ONEWINDOW_TRY(store_grant(session, log_, grant, by.account_id, action, now, false));
    return grant;
  });
}

Result<Grant> Catalog::decide(std::string_view grant_id, bool grant, std::string_view reason, const Department& by) {
  return change_grant(grant_id, by, "catalog.grant_decide", [&](Grant& stored) -> Status {
    if (stored.provider != by.key) return denied("catalog.not_provider", "only the provider " + stored.provider + " decides");
    if (stored.status != "pending") return Error(ErrorKind::conflict, "catalog.grant_not_pending", "the grant is " + stored.status);
    if (!grant && reason.empty()) return invalid("catalog.bad_field", "reason", "a refusal states its reason");
    stored.status = grant ? "granted" : "refused";
    stored.reason = std::string(reason);
    return ok_status();
  });
}

Result<Grant> Catalog::revoke(std::string_view grant_id, std::string_view reason, const Department& by) {
  return change_grant(grant_id, by, "catalog.grant_revoke", [&](Grant& stored) -> Status {
    if (stored.provider != by.key && stored.consumer != by.key) {
      return denied("catalog.not_party", "only the provider or the consumer revokes a grant");
    }
    if (stored.status != "pending" && stored.status != "granted") {
      return Error(ErrorKind::conflict, "catalog.grant_not_active", "the grant is " + stored.status);
    }
    if (reason.empty()) return invalid("catalog.bad_field", "reason", "a revocation states its reason");
    stored.status = "revoked";
    stored.reason = std::string(reason);
    return ok_status();
  });
}

Result<Grant> Catalog::grant(std::string_view id) const {
  return database_.read_value<Grant>([&](store::Session& session) -> Result<Grant> {
    auto row = session.query_one(std::string(grant_columns) + " WHERE id = $1", {std::string(id)});
    if (!row.ok()) return row.take_error();
    if (!*row) return Error(ErrorKind::not_found, "catalog.grant_not_found", "no grant " + std::string(id), {{"field", "grant_id"}});
    return grant_from(nlohmann::json::parse((*row)->text(0)));
  });
}

Result<nlohmann::json> Catalog::grant_counts() const {
  return database_.read_value<nlohmann::json>([&](store::Session& session) -> Result<nlohmann::json> {
    auto rows = session.query("SELECT status, COUNT(*) FROM catalog_grant GROUP BY status");
    if (!rows.ok()) return rows.take_error();
    nlohmann::json counts = {{"pending", 0}, {"granted", 0}, {"refused", 0}, {"revoked", 0}};
    for (const auto& row : *rows) counts[row.text(0)] = row.integer(1);
    return counts;
  });
}

Result<Grant> Catalog::grant_of_party(std::string_view id, std::string_view department_key) const {
  auto found = grant(id);
  if (!found.ok()) return found.take_error();
  if (found->provider != department_key && found->consumer != department_key) {
    return Error(ErrorKind::not_found, "catalog.grant_not_found", "no grant " + std::string(id), {{"field", "grant_id"}});
  }
  return found;
}

Result<std::vector<Grant>> Catalog::grants_of(std::string_view department_key) const {
  return database_.read_value<std::vector<Grant>>([&](store::Session& session) -> Result<std::vector<Grant>> {
    auto rows = session.query(std::string(grant_columns) + " WHERE provider = $1 OR consumer = $1 ORDER BY id DESC LIMIT 1000",
                              {std::string(department_key)});
    if (!rows.ok()) return rows.take_error();
    std::vector<Grant> grants;
    for (const auto& row : *rows) grants.push_back(grant_from(nlohmann::json::parse(row.text(0))));
    return grants;
  });
}

Result<Grant> Catalog::check_grant(std::string_view consumer, std::string_view resource_id,
                                   const std::vector<std::string>& items) const {
  return database_.read_value<Grant>([&](store::Session& session) { return check_grant(session, consumer, resource_id, items); });
}

Result<Grant> Catalog::check_grant(store::Session& session, std::string_view consumer, std::string_view resource_id,
                                   const std::vector<std::string>& items) const {
  // Newest first (ids are time-ordered), sorted here rather than by the query: the few rows of one
  // consumer and resource cost less to sort than SQLite's sorter costs to set up, every read.
  auto rows = session.query(
      "SELECT id, log_index FROM catalog_grant WHERE consumer = $1 AND resource_id = $2 AND status = 'granted'",
      {std::string(consumer), std::string(resource_id)});
  if (!rows.ok()) return rows.take_error();
  std::vector<std::shared_ptr<const Grant>> grants;
  for (const auto& row : *rows) {
    auto grant = parsed_grant(session, row.text(0), row.integer(1));
    if (!grant.ok()) return grant.take_error();
    grants.push_back(std::move(grant).value());
  }
  std::sort(grants.begin(), grants.end(), [](const auto& a, const auto& b) { return a->id > b->id; });
  if (grants.empty()) {
    return Error(ErrorKind::permission_denied, "catalog.no_grant",
                 std::string(consumer) + " holds no grant for resource " + std::string(resource_id), {{"field", "resource_id"}});
  }
  std::string today = today_text(clock_);
  std::set<std::string> granted;
  bool any_current = false;
  for (const auto& shared : grants) {
    const Grant& grant = *shared;
    if (grant.expires_on < today) continue;
    any_current = true;
    if (std::all_of(items.begin(), items.end(), [&](const std::string& item) {
          return std::find(grant.items.begin(), grant.items.end(), item) != grant.items.end();
        })) {
      return grant;
    }
    granted.insert(grant.items.begin(), grant.items.end());
  }
  if (!any_current) {
    return Error(ErrorKind::permission_denied, "catalog.grant_expired",
                 "the grant of " + std::string(consumer) + " for this resource has expired", {{"field", "resource_id"}});
  }
  for (const std::string& item : items) {
    if (!granted.contains(item)) {
      return Error(ErrorKind::permission_denied, "catalog.item_not_granted", "the data item " + item + " is not granted",
                   {{"field", "items"}, {"item", item}});
    }
  }
  // Every item is granted, but by different grants: a read stays within one grant's purpose.
  return Error(ErrorKind::permission_denied, "catalog.item_not_granted",
               "no single grant covers all the data items asked for: ask for them under one grant", {{"field", "items"}});
}

}  // namespace onewindow::catalog
