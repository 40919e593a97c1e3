// Stored records: every field value versioned with its validity interval, written only by the
// field's authority, each write one transaction with its transparency-log entry.
#include "registry/registry.h"

#include <charconv>

namespace onewindow::registry {

namespace {

// One text for both engines (BIGINT is PostgreSQL's name; SQLite keeps integers in it as they
// are). Values are JSON texts. The partial index serves lookups of current values by field,
// which search by indexed fields will use.
constexpr const char* schema = R"(CREATE TABLE registry_record (
      registry TEXT NOT NULL,
      record_key TEXT NOT NULL,
      created_at TEXT NOT NULL,
      created_by TEXT NOT NULL,
      PRIMARY KEY (registry, record_key));
    CREATE TABLE registry_value (
      registry TEXT NOT NULL,
      record_key TEXT NOT NULL,
      field TEXT NOT NULL,
      version BIGINT NOT NULL,
      value TEXT NOT NULL,
      valid_from TEXT NOT NULL,
      valid_to TEXT,
      written_by TEXT NOT NULL,
      department TEXT NOT NULL,
      reason TEXT NOT NULL,
      log_index BIGINT NOT NULL,
      PRIMARY KEY (registry, record_key, field, version),
      FOREIGN KEY (registry, record_key) REFERENCES registry_record (registry, record_key));
    CREATE INDEX registry_value_current ON registry_value (registry, field, value) WHERE valid_to IS NULL)";

bool is_personal(const FieldDefinition& field) {
  return field.sensitivity == Sensitivity::personal || field.sensitivity == Sensitivity::sensitive;
}

}  // namespace

Registries::Registries(store::Database& database, audit::TransparencyLog& log, const RegistryCatalog& catalog,
                       const DivisionCodes& divisions, const Clock& clock)
    : database_(database), log_(log), catalog_(catalog), divisions_(divisions), clock_(clock) {}

std::vector<store::Migration> Registries::migrations() {
  return {{"registry", 1, "records and versioned field values", schema, ""}};
}

Result<const RegistryDefinition*> Registries::definition(std::string_view registry) const {
  const RegistryDefinition* found = catalog_.find(registry);
  if (found == nullptr) {
    return Error(ErrorKind::not_found, "registry.unknown_registry", "no registry is called " + std::string(registry),
                 {{"field", "registry"}});
  }
  return found;
}

Result<std::string> Registries::normalised_key(const RegistryDefinition& definition, std::string_view key) const {
  std::string text(key);
  if (definition.key_kind == KeyKind::citizen_id) text = normalise_citizen_id(text);
  if (definition.key_kind == KeyKind::unified_social_credit_code) text = normalise_unified_social_credit_code(text);
  Status valid = validate_value(definition.key_field(), nlohmann::json(text), clock_.today(), divisions_);
  if (!valid.ok()) return valid.take_error();
  return text;
}

nlohmann::json Registries::shown(const FieldDefinition& field, const nlohmann::json& value, const Reader& reader) const {
  if (!is_personal(field) || reader.department_key == field.authority || value.is_null()) return value;
  return mask(field, value.is_string() ? value.get<std::string>() : value.dump());
}

Result<WriteReceipt> Registries::write(std::string_view registry, std::string_view key, const nlohmann::json& fields,
                                       std::string_view reason, const Writer& writer) {
  auto found = definition(registry);
  if (!found.ok()) return found.take_error();
  const RegistryDefinition& registry_definition = **found;
  auto record_key = normalised_key(registry_definition, key);
  if (!record_key.ok()) return record_key.take_error();
  if (!fields.is_object() || fields.empty()) {
    return Error::invalid("registry.no_fields", "fields", "fields must be an object naming at least one field");
  }
  if (reason.empty() || reason.size() > 1000) {
    return Error::invalid("registry.reason_required", "reason", "every change needs a reason of 1 to 1000 bytes");
  }
  const Date today = clock_.today();
  for (const auto& [name, value] : fields.items()) {
    const FieldDefinition* field = registry_definition.field(name);
    if (field == nullptr) {
      return Error::invalid("registry.unknown_field", name, "registry " + registry_definition.name + " has no field " + name);
    }
    if (field->authority != writer.department_key) {
      return Error(ErrorKind::permission_denied, "registry.field_not_owned",
                   "field " + name + " of " + registry_definition.name + " is written only by its authority, department " +
                       field->authority,
                   {{"field", name}, {"authority", field->authority}});
    }
    ONEWINDOW_TRY(validate_value(*field, value, today, divisions_));
    if (name == registry_definition.key && value != nlohmann::json(*record_key)) {
      return Error::invalid("registry.key_immutable", name, "the key of a record is its address and never changes");
    }
  }

  WriteReceipt receipt;
  receipt.written_at = format_timestamp(clock_.now());
  Status written = database_.write([&](store::Session& session) -> Status {
    auto existing = session.query_one("SELECT 1 FROM registry_record WHERE registry = $1 AND record_key = $2",
                                      {registry_definition.name, *record_key});
    if (!existing.ok()) return existing.take_error();
    if (!existing->has_value()) {
      if (registry_definition.key_field().authority != writer.department_key) {
        return Error(ErrorKind::not_found, "registry.record_not_found",
                     "no such record; only department " + registry_definition.key_field().authority + " creates records of " +
                         registry_definition.name,
                     {{"field", "key"}});
      }
      for (const FieldDefinition& field : registry_definition.fields) {
        bool owned = field.authority == writer.department_key;
        bool given = fields.contains(field.name) || field.name == registry_definition.key;
        if (field.required && owned && !given) {
          return Error::invalid("registry.required_missing", field.name, "a new record needs field " + field.name);
        }
      }
      auto created = session.execute(
          "INSERT INTO registry_record (registry, record_key, created_at, created_by) VALUES ($1, $2, $3, $4)",
          {registry_definition.name, *record_key, receipt.written_at, writer.account_id});
      if (!created.ok()) return created.take_error();
      receipt.created = true;
    }
    std::vector<std::string> names;
    for (const auto& [name, value] : fields.items()) names.push_back(name);
    // The log entry names the fields, never their values: they may be personal, and proofs make
    // entries' hashes public.
    auto recorded = log_.record(session, {writer.account_id, "", "registry.write", registry_definition.name, *record_key,
                                          std::string(reason),
                                          {{"fields", names}, {"department", writer.department_key},
                                           {"created", receipt.created}}});
    if (!recorded.ok()) return recorded.take_error();
    receipt.log_index = recorded->index;
    nlohmann::json values = fields;
    if (receipt.created) values[registry_definition.key] = *record_key;
    for (const auto& [name, value] : values.items()) {
      auto last = session.query_one(
          "SELECT COALESCE(MAX(version), 0) FROM registry_value WHERE registry = $1 AND record_key = $2 AND field = $3",
          {registry_definition.name, *record_key, name});
      if (!last.ok()) return last.take_error();
      std::int64_t version = (*last)->integer(0) + 1;
      auto closed = session.execute(
          "UPDATE registry_value SET valid_to = $4 WHERE registry = $1 AND record_key = $2 AND field = $3 AND valid_to IS NULL",
          {registry_definition.name, *record_key, name, receipt.written_at});
      if (!closed.ok()) return closed.take_error();
      auto inserted = session.execute(
          "INSERT INTO registry_value (registry, record_key, field, version, value, valid_from, written_by, department, "
          "reason, log_index) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
          {registry_definition.name, *record_key, name, version, value.dump(), receipt.written_at, writer.account_id,
           writer.department_key, std::string(reason), receipt.log_index});
      if (!inserted.ok()) return inserted.take_error();
    }
    return ok_status();
  });
  if (!written.ok()) return written.take_error();
  return receipt;
}

Result<nlohmann::json> Registries::read(std::string_view registry, std::string_view key, const Reader& reader,
                                        std::optional<std::chrono::system_clock::time_point> as_of) const {
  auto found = definition(registry);
  if (!found.ok()) return found.take_error();
  const RegistryDefinition& registry_definition = **found;
  auto record_key = normalised_key(registry_definition, key);
  if (!record_key.ok()) return record_key.take_error();
  std::string moment = format_timestamp(as_of.value_or(clock_.now()));
  return database_.read_value<nlohmann::json>([&](store::Session& session) -> Result<nlohmann::json> {
    auto rows = session.query(
        "SELECT field, value FROM registry_value WHERE registry = $1 AND record_key = $2 AND valid_from <= $3 "
        "AND (valid_to IS NULL OR valid_to > $3) ORDER BY field",
        {registry_definition.name, *record_key, moment});
    if (!rows.ok()) return rows.take_error();
    if (rows->empty()) {
      return Error(ErrorKind::not_found, "registry.record_not_found",
                   "no such record" + std::string(as_of ? " at that time" : ""), {{"field", "key"}});
    }
    nlohmann::json values = nlohmann::json::object();
    for (const store::Row& row : *rows) {
      const FieldDefinition* field = registry_definition.field(row.text(0));
      if (field == nullptr) continue;  // a field since removed from the definition
      values[field->name] = shown(*field, nlohmann::json::parse(row.text(1)), reader);
    }
    return nlohmann::json{{"registry", registry_definition.name},
                          {"key", shown(registry_definition.key_field(), *record_key, reader)},
                          {"as_of", moment},
                          {"fields", values}};
  });
}

Result<nlohmann::json> Registries::search(std::string_view registry, const Search& search, const Reader& reader) const {
  auto found = definition(registry);
  if (!found.ok()) return found.take_error();
  const RegistryDefinition& registry_definition = **found;
  const FieldDefinition* field = registry_definition.field(search.field);
  if (field == nullptr) {
    return Error::invalid("registry.unknown_field", "field", "registry " + registry_definition.name + " has no field " + search.field);
  }
  if (!field->indexed) {
    return Error::invalid("registry.field_not_indexed", "field",
                          "records are found only by indexed fields; " + search.field + " is not one");
  }
  if (search.limit < 1 || search.limit > 100) return Error::invalid("registry.bad_limit", "limit", "limit must be 1 to 100");
  if (search.value.has_value() == search.prefix.has_value()) {
    return Error::invalid("registry.bad_search", "value", "give exactly one of value and prefix");
  }
  std::string pattern;
  if (search.prefix) {
    if (field->type != FieldType::string || search.prefix->empty()) {
      return Error::invalid("registry.bad_search", "prefix", "prefix search needs a non-empty prefix and a string field");
    }
    // Values are stored as JSON text: a string starts with its quote. LIKE's own wildcards in
    // the prefix are escaped so that they match themselves.
    std::string quoted = nlohmann::json(*search.prefix).dump();
    quoted.pop_back();
    for (char c : quoted) {
      if (c == '%' || c == '_' || c == '!') pattern += '!';
      pattern += c;
    }
    pattern += '%';
  }
  // The cursor counts the records already given. (A record key would do better under concurrent
  // writes, but keys such as citizen ID numbers must not reach readers who see them masked.)
  std::int64_t offset = 0;
  if (!search.cursor.empty()) {
    auto [end, error] = std::from_chars(search.cursor.data(), search.cursor.data() + search.cursor.size(), offset);
    if (error != std::errc() || end != search.cursor.data() + search.cursor.size() || offset < 0) {
      return Error::invalid("registry.bad_cursor", "cursor", "cursor must be one a previous page gave");
    }
  }
  int wanted = search.limit + 1;  // one more than a page tells whether another page follows
  auto keys = database_.read_value<std::vector<std::string>>([&](store::Session& session) -> Result<std::vector<std::string>> {
    auto rows = search.prefix
                    ? session.query("SELECT record_key FROM registry_value WHERE registry = $1 AND field = $2 AND "
                                    "valid_to IS NULL AND value LIKE $3 ESCAPE '!' ORDER BY record_key LIMIT $5 OFFSET $4",
                                    {registry_definition.name, field->name, pattern, offset, std::int64_t{wanted}})
                    : session.query("SELECT record_key FROM registry_value WHERE registry = $1 AND field = $2 AND "
                                    "valid_to IS NULL AND value = $3 ORDER BY record_key LIMIT $5 OFFSET $4",
                                    {registry_definition.name, field->name, search.value->dump(), offset,
                                     std::int64_t{wanted}});
    if (!rows.ok()) return rows.take_error();
    std::vector<std::string> found_keys;
    for (const store::Row& row : *rows) found_keys.push_back(row.text(0));
    return found_keys;
  });
  if (!keys.ok()) return keys.take_error();
  nlohmann::json records = nlohmann::json::array();
  std::string next_cursor;
  for (std::size_t i = 0; i < keys->size() && static_cast<int>(i) < search.limit; ++i) {
    auto record = read(registry_definition.name, (*keys)[i], reader);
    if (!record.ok()) return record.take_error();
    records.push_back(std::move(record).value());
  }
  if (static_cast<int>(keys->size()) > search.limit) next_cursor = std::to_string(offset + search.limit);
  return nlohmann::json{{"records", records}, {"next_cursor", next_cursor}};
}

Result<nlohmann::json> Registries::history(std::string_view registry, std::string_view key, const Reader& reader) const {
  auto found = definition(registry);
  if (!found.ok()) return found.take_error();
  const RegistryDefinition& registry_definition = **found;
  auto record_key = normalised_key(registry_definition, key);
  if (!record_key.ok()) return record_key.take_error();
  return database_.read_value<nlohmann::json>([&](store::Session& session) -> Result<nlohmann::json> {
    auto rows = session.query(
        "SELECT field, version, value, valid_from, COALESCE(valid_to, ''), written_by, department, reason, log_index "
        "FROM registry_value WHERE registry = $1 AND record_key = $2 ORDER BY valid_from, field, version",
        {registry_definition.name, *record_key});
    if (!rows.ok()) return rows.take_error();
    if (rows->empty()) return Error(ErrorKind::not_found, "registry.record_not_found", "no such record", {{"field", "key"}});
    nlohmann::json versions = nlohmann::json::array();
    for (const store::Row& row : *rows) {
      const FieldDefinition* field = registry_definition.field(row.text(0));
      if (field == nullptr) continue;
      versions.push_back({{"field", field->name},
                          {"version", row.integer(1)},
                          {"value", shown(*field, nlohmann::json::parse(row.text(2)), reader)},
                          {"valid_from", row.text(3)},
                          {"valid_to", row.text(4).empty() ? nlohmann::json(nullptr) : nlohmann::json(row.text(4))},
                          {"written_by", row.text(5)},
                          {"department", row.text(6)},
                          {"reason", row.text(7)},
                          {"log_index", row.integer(8)}});
    }
    return nlohmann::json{{"registry", registry_definition.name},
                          {"key", shown(registry_definition.key_field(), *record_key, reader)},
                          {"versions", versions}};
  });
}

}  // namespace onewindow::registry
