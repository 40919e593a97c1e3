// Stored records: the current values of each record in one row, every change kept beside them
// with who, when, why and its transparency-log entry, and a lookup table for indexed fields.
// Fields are written only by their authority; each write is one transaction with its entry.
#include "registry/registry.h"

#include "registry/storage.h"

#include <algorithm>
#include <charconv>
#include <map>
#include <numeric>
#include <unordered_map>

namespace onewindow::registry {

namespace {

// Version 1 kept one row per field version (an entity-attribute-value table); reading a record
// took a row per field and writing one a MAX(version) per field. Version 2 keeps the current
// values as one JSON object per record and each change as one row, and copies what version 1
// held. The layout is for bulk imports, whose keys (ID numbers) come in no order:
// - records and changes are ordinary (rowid) tables, their rows appended in the order written;
//   only the small unique index on (registry, record_key) takes inserts all over its B-tree;
// - changes and lookups name the record by its id, which grows with each new record, so the
//   index of changes grows at its end;
// - a new record's first change is kept in the record's own row (created_at, created_by,
//   department, reason, log_index) while the record has not changed since: its values are the
//   record's current ones. The first later write copies it into registry_change before changing
//   the record. An import of new records so writes one row per record, not two.
// Imports of 50,000 generated persons ran at 9,200 rows/s with records and changes WITHOUT ROWID
// and keyed by (registry, record_key), 15,000 as rowid tables, 26,000 with record ids and the
// first change's values not written twice; docs/benchmarks.md has the figures of today's layout.
//
// Written once for both engines; schema_v2() fills in what differs.
constexpr const char* schema_v2_template = R"(
    ALTER TABLE registry_record RENAME TO registry_record_v1;{rename_key}
    CREATE TABLE registry_record (
      id {record_id},
      registry TEXT NOT NULL,
      record_key TEXT NOT NULL,
      fields TEXT NOT NULL,
      version BIGINT NOT NULL,
      created_at TEXT NOT NULL,
      updated_at TEXT NOT NULL,
      created_by TEXT NOT NULL,
      department TEXT NOT NULL,
      reason TEXT NOT NULL,
      log_index BIGINT NOT NULL,
      UNIQUE (registry, record_key));
    CREATE TABLE registry_change (
      record_id BIGINT NOT NULL REFERENCES registry_record (id),
      version BIGINT NOT NULL,
      changed_at TEXT NOT NULL,
      written_by TEXT NOT NULL,
      department TEXT NOT NULL,
      reason TEXT NOT NULL,
      log_index BIGINT NOT NULL,
      fields TEXT NOT NULL,
      PRIMARY KEY (record_id, version));
    CREATE TABLE registry_lookup (
      registry TEXT NOT NULL,
      field TEXT NOT NULL,
      value TEXT{bytewise} NOT NULL,
      record_id BIGINT NOT NULL,
      PRIMARY KEY (registry, field, value, record_id)){without_rowid};
    CREATE TABLE registry_lookup_field (
      registry TEXT NOT NULL,
      field TEXT NOT NULL,
      PRIMARY KEY (registry, field));
    INSERT INTO registry_record (registry, record_key, fields, version, created_at, updated_at, created_by, department,
                                 reason, log_index)
      SELECT r.registry, r.record_key,
             COALESCE((SELECT {fields_object} FROM registry_value v
                       WHERE v.registry = r.registry AND v.record_key = r.record_key AND v.valid_to IS NULL), '{}'),
             (SELECT COUNT(DISTINCT v.log_index) FROM registry_value v
              WHERE v.registry = r.registry AND v.record_key = r.record_key),
             r.created_at,
             COALESCE((SELECT MAX(v.valid_from) FROM registry_value v
                       WHERE v.registry = r.registry AND v.record_key = r.record_key), r.created_at),
             r.created_by,
             COALESCE((SELECT v.department FROM registry_value v WHERE v.registry = r.registry
                       AND v.record_key = r.record_key ORDER BY v.log_index LIMIT 1), ''),
             COALESCE((SELECT v.reason FROM registry_value v WHERE v.registry = r.registry
                       AND v.record_key = r.record_key ORDER BY v.log_index LIMIT 1), ''),
             COALESCE((SELECT v.log_index FROM registry_value v WHERE v.registry = r.registry
                       AND v.record_key = r.record_key ORDER BY v.log_index LIMIT 1), 0)
      FROM registry_record_v1 r;
    INSERT INTO registry_change
      SELECT n.id, ROW_NUMBER() OVER (PARTITION BY n.id ORDER BY v.log_index), MIN(v.valid_from), v.written_by,
             v.department, v.reason, v.log_index, {fields_object}
      FROM registry_value v JOIN registry_record n ON n.registry = v.registry AND n.record_key = v.record_key
      GROUP BY n.id, v.log_index, v.written_by, v.department, v.reason;
    DROP TABLE registry_value;
    DROP TABLE registry_record_v1)";

// The text of migration 2 for one engine. On PostgreSQL: an identity column for record ids,
// lookups compared byte by byte (COLLATE "C", as SQLite compares, so that a name prefix is a
// range of the index whatever the server's locale), no WITHOUT ROWID, json_object_agg, and the
// old primary key renamed so that the new table may take its name.
std::string schema_v2(store::Backend backend) {
  const bool postgresql = backend == store::Backend::postgresql;
  const std::vector<std::pair<std::string, std::string>> differences = {
      {"{record_id}", postgresql ? "BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY" : "INTEGER PRIMARY KEY"},
      {"{bytewise}", postgresql ? " COLLATE \"C\"" : ""},
      {"{without_rowid}", postgresql ? "" : " WITHOUT ROWID"},
      {"{fields_object}",
       postgresql ? "json_object_agg(v.field, v.value::json)::text" : "json_group_object(v.field, json(v.value))"},
      {"{rename_key}",
       postgresql ? "\n    ALTER TABLE registry_record_v1 RENAME CONSTRAINT registry_record_pkey TO registry_record_v1_pkey;"
                  : ""},
  };
  std::string text = schema_v2_template;
  for (const auto& [placeholder, value] : differences) {
    for (auto at = text.find(placeholder); at != std::string::npos; at = text.find(placeholder, at + value.size())) {
      text.replace(at, placeholder.size(), value);
    }
  }
  return text;
}

// Version 1, as it was applied; applied migrations never change.
constexpr const char* schema_v1 = R"(CREATE TABLE registry_record (
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

// Rows written by one INSERT. On PostgreSQL a statement is a round trip: a hundred rows to one
// took an import of 200,000 persons from 2,500 to 18,800 rows/s (well under its limit of 65,535
// parameters). SQLite runs in the process, and there one row to a statement is faster (about
// 29,000 rows/s against 21,000 with a hundred; again once parameters were bound by position:
// 76,000 against 44,000-55,000 with 2 to 50 lookups to a statement).
std::size_t rows_per_statement(store::Backend backend) { return backend == store::Backend::postgresql ? 100 : 1; }

bool is_personal(const FieldDefinition& field) {
  return field.sensitivity == Sensitivity::personal || field.sensitivity == Sensitivity::sensitive;
}

}  // namespace

Registries::Registries(store::Database& database, audit::TransparencyLog& log, const RegistryCatalog& catalog,
                       const DivisionCodes& divisions, const Clock& clock)
    : database_(database), log_(log), catalog_(catalog), divisions_(divisions), clock_(clock) {}

std::vector<store::Migration> Registries::migrations() {
  return {{"registry", 1, "records and versioned field values", schema_v1, ""},
          {"registry", 2, "current values per record, changes, lookups of indexed fields",
           schema_v2(store::Backend::sqlite), schema_v2(store::Backend::postgresql)},
          {"registry", 3, "imports from CSV with their progress and rejected rows", import_schema, ""}};
}

Status Registries::prepare() {
  return database_.write([&](store::Session& session) -> Status {
    auto rows = session.query("SELECT registry, field FROM registry_lookup_field");
    if (!rows.ok()) return rows.take_error();
    std::set<std::pair<std::string, std::string>> built;
    for (const store::Row& row : *rows) built.emplace(row.text(0), row.text(1));
    std::set<std::pair<std::string, std::string>> wanted;
    for (const RegistryDefinition& definition : catalog_.all()) {
      for (const FieldDefinition& field : definition.fields) {
        if (field.indexed && field.name != definition.key) wanted.emplace(definition.name, field.name);
      }
    }
    for (const auto& [registry, field] : built) {
      if (wanted.contains({registry, field})) continue;
      ONEWINDOW_TRY(session.execute("DELETE FROM registry_lookup WHERE registry = $1 AND field = $2", {registry, field}).status());
      ONEWINDOW_TRY(
          session.execute("DELETE FROM registry_lookup_field WHERE registry = $1 AND field = $2", {registry, field}).status());
    }
    // A field newly indexed is looked up in every record that has it, so that search finds
    // records written before the index was defined.
    for (const auto& [registry, field] : wanted) {
      if (built.contains({registry, field})) continue;
      std::vector<std::pair<std::string, std::int64_t>> entries;
      Status scanned = session.query_each(
          "SELECT id, fields FROM registry_record WHERE registry = $1", {registry},
          [&](const store::Row& row) -> bool {
            auto fields = nlohmann::json::parse(row.text(1));
            auto value = fields.find(field);
            if (value != fields.end() && !value->is_null()) entries.emplace_back(lookup_text(*value), row.integer(0));
            return true;
          });
      ONEWINDOW_TRY(scanned);
      for (const auto& [value, key] : entries) {
        ONEWINDOW_TRY(session
                          .execute("INSERT INTO registry_lookup (registry, field, value, record_id) VALUES ($1, $2, $3, $4)",
                                   {registry, field, value, key})
                          .status());
      }
      ONEWINDOW_TRY(
          session.execute("INSERT INTO registry_lookup_field (registry, field) VALUES ($1, $2)", {registry, field}).status());
    }
    return ok_status();
  });
}

Result<const RegistryDefinition*> Registries::definition(std::string_view registry) const {
  const RegistryDefinition* found = catalog_.find(registry);
  if (found == nullptr) {
    return Error(ErrorKind::not_found, "registry.unknown_registry", "no registry is called " + std::string(registry),
                 {{"field", "registry"}});
  }
  return found;
}

std::string Registries::key_form(const RegistryDefinition& definition, std::string_view key) {
  if (definition.key_kind == KeyKind::citizen_id) return normalise_citizen_id(key);
  if (definition.key_kind == KeyKind::unified_social_credit_code) return normalise_unified_social_credit_code(key);
  return std::string(key);
}

Result<std::string> Registries::normalised_key(const RegistryDefinition& definition, std::string_view key) const {
  std::string text = key_form(definition, key);
  Status valid = validate_value(definition.key_field(), nlohmann::json(text), clock_.today(), divisions_);
  if (!valid.ok()) return valid.take_error();
  return text;
}

nlohmann::json Registries::shown(const FieldDefinition& field, const nlohmann::json& value, const Reader& reader) const {
  if (!is_personal(field) || reader.cleared || reader.department_key == field.authority || value.is_null()) return value;
  return mask(field, value.is_string() ? value.get<std::string>() : value.dump());
}

Status Registries::check_fields(const RegistryDefinition& definition, const std::string& key, const nlohmann::json& fields,
                                const Writer& writer, Date today) const {
  for (const auto& [name, value] : fields.items()) {
    const FieldDefinition* field = definition.field(name);
    if (field == nullptr) {
      return Error::invalid("registry.unknown_field", name, "registry " + definition.name + " has no field " + name);
    }
    if (field->authority != writer.department_key) return not_owned(definition, *field);
    ONEWINDOW_TRY(validate_value(*field, value, today, divisions_));
    if (name == definition.key && value != nlohmann::json(key)) {
      return Error::invalid("registry.key_immutable", name, "the key of a record is its address and never changes");
    }
  }
  return ok_status();
}

Error Registries::not_owned(const RegistryDefinition& definition, const FieldDefinition& field) {
  return Error(ErrorKind::permission_denied, "registry.field_not_owned",
               "field " + field.name + " of " + definition.name + " is written only by its authority, department " +
                   field.authority,
               {{"field", field.name}, {"authority", field.authority}});
}

Result<bool> Registries::exists(store::Session& session, std::string_view registry, std::string_view key) const {
  auto found = definition(registry);
  if (!found.ok()) return found.take_error();
  auto record_key = normalised_key(**found, key);
  if (!record_key.ok()) return record_key.take_error();
  return holds(session, **found, *record_key);
}

Result<bool> Registries::holds(store::Session& session, const RegistryDefinition& definition, const std::string& key) {
  auto row = session.query_one("SELECT 1 FROM registry_record WHERE registry = $1 AND record_key = $2",
                               {definition.name, key});
  if (!row.ok()) return row.take_error();
  return row->has_value();
}

Status Registries::check(std::string_view registry, const nlohmann::json& fields, const Writer& writer) const {
  auto found = definition(registry);
  if (!found.ok()) return found.take_error();
  return check_fields(**found, "", fields, writer, clock_.today());
}

Result<WriteReceipt> Registries::write(std::string_view registry, std::string_view key, const nlohmann::json& fields,
                                       std::string_view reason, const Writer& writer) {
  Result<WriteReceipt> receipt = Error(ErrorKind::internal, "registry.write_failed", "the write did not run");
  Status written = database_.write([&](store::Session& session) -> Status {
    receipt = write(session, registry, key, fields, reason, writer);
    return receipt.status();
  });
  if (!written.ok()) return written.take_error();
  return receipt;
}

Result<WriteReceipt> Registries::write(store::Session& session, std::string_view registry, std::string_view key,
                                       const nlohmann::json& fields, std::string_view reason, const Writer& writer) {
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
  ONEWINDOW_TRY(check_fields(registry_definition, *record_key, fields, writer, clock_.today()));

  WriteReceipt receipt;
  receipt.written_at = format_timestamp(clock_.now());
  Status written = [&]() -> Status {
    std::vector<PendingRow> rows(1);
    PendingRow& row = rows[0];
    row.key = *record_key;
    row.not_creatable = creation_refusal(registry_definition, writer,
                                         [&](const FieldDefinition& field) { return fields.contains(field.name); });
    if (row.not_creatable.ok()) {
      nlohmann::json values = fields;
      values[registry_definition.key] = row.key;
      row.new_fields = values.dump();
      for (const auto& [name, value] : fields.items()) {
        const FieldDefinition* field = registry_definition.field(name);  // check_fields() found it
        if (field->indexed && name != registry_definition.key && !value.is_null()) {
          row.new_lookups.push_back({field, lookup_text(value)});
        }
      }
    }
    // A change never repeats the key, which does not change.
    row.fields = fields;
    row.fields.erase(registry_definition.key);
    auto existing = holds(session, registry_definition, *record_key);
    if (!existing.ok()) return existing.take_error();
    receipt.created = !*existing;
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
    ONEWINDOW_TRY(place_rows(session, registry_definition, rows, reason, writer, receipt.log_index, receipt.written_at));
    if (!rows[0].refusal.ok()) return rows[0].refusal;
    ONEWINDOW_TRY(store_rows(session, registry_definition, rows, reason, writer, receipt.log_index, receipt.written_at));
    return tell_listeners(
        session, registry_definition,
        [&] {
          std::vector<std::string> written;
          for (const auto& [name, value] : rows[0].fields.items()) written.push_back(name);
          return std::vector<Change>{{rows[0].key, std::move(written), receipt.created}};
        },
        receipt.log_index, receipt.written_at);
  }();
  if (!written.ok()) return written.take_error();
  return receipt;
}

Result<BatchReceipt> Registries::write_batch(store::Session& session, const RegistryDefinition& definition,
                                             const std::vector<const FieldDefinition*>& columns,
                                             const std::vector<BatchRow>& rows, std::string_view reason,
                                             const Writer& writer, const nlohmann::json& log_details) {
  BatchReceipt receipt;
  std::string written_at = format_timestamp(clock_.now());
  const Date today = clock_.today();
  const FieldDefinition& key_field = definition.key_field();
  // The columns in name order, the key among them (as columns.size()): the order in which
  // nlohmann::json writes an object's members, and in which write() checks fields.
  const std::size_t key_member = columns.size();
  auto member_field = [&](std::size_t member) -> const FieldDefinition& {
    return member == key_member ? key_field : *columns[member];
  };
  std::vector<std::size_t> members(columns.size() + 1);
  for (std::size_t member = 0; member < members.size(); ++member) members[member] = member;
  std::sort(members.begin(), members.end(),
            [&](std::size_t a, std::size_t b) { return member_field(a).name < member_field(b).name; });
  // What precedes each member's value in the stored text: its name, quoted, and a colon.
  std::vector<std::string> member_names(members.size());
  for (std::size_t member = 0; member < members.size(); ++member) {
    append_json_string(member_names[member], member_field(member).name);
    member_names[member] += ':';
  }
  // Where each field of the definition is among the columns, for creation_refusal().
  std::vector<std::size_t> column_of(definition.fields.size(), key_member);
  for (std::size_t column = 0; column < columns.size(); ++column) {
    if (columns[column] == &key_field) {
      return Error(ErrorKind::internal, "registry.batch_columns", "the key is given apart from the columns of a batch");
    }
    column_of[static_cast<std::size_t>(columns[column] - definition.fields.data())] = column;
  }

  std::vector<PendingRow> pending(rows.size());
  auto refuse = [](PendingRow& row, Status status) {
    if (row.refusal.ok()) row.refusal = std::move(status);
  };
  std::vector<std::string_view> keys;
  keys.reserve(rows.size());
  for (std::size_t i = 0; i < rows.size(); ++i) {
    const BatchRow& given = rows[i];
    PendingRow& row = pending[i];
    if (given.values.size() != columns.size()) {
      return Error(ErrorKind::internal, "registry.batch_columns", "a row of a batch needs a value for each column");
    }
    row.key = key_form(definition, given.key);
    if (Status valid = validate_text(key_field, row.key, today, divisions_); !valid.ok()) {
      Error error = valid.take_error();
      error.details["field"] = definition.key;
      refuse(row, std::move(error));
      continue;
    }
    keys.push_back(row.key);
    if (std::all_of(given.values.begin(), given.values.end(), [](const std::string& value) { return value.empty(); })) {
      refuse(row, Error::invalid("registry.no_fields", "line", "the row gives no field but its key"));
      continue;
    }
    for (std::size_t member : members) {
      if (member == key_member || given.values[member].empty()) continue;
      const FieldDefinition& field = *columns[member];
      if (field.authority != writer.department_key) {
        refuse(row, not_owned(definition, field));
        break;
      }
      if (Status valid = validate_text(field, given.values[member], today, divisions_); !valid.ok()) {
        refuse(row, std::move(valid));
        break;
      }
    }
    if (!row.refusal.ok()) continue;
    row.not_creatable = creation_refusal(definition, writer, [&](const FieldDefinition& field) {
      std::size_t column = column_of[static_cast<std::size_t>(&field - definition.fields.data())];
      return column != key_member && !given.values[column].empty();
    });
    if (!row.not_creatable.ok()) continue;
    // The new record's values as stored, and its lookups, straight from the text.
    row.new_fields.reserve(64 + 16 * columns.size() +
                           std::accumulate(given.values.begin(), given.values.end(), std::size_t{0},
                                           [](std::size_t sum, const std::string& value) { return sum + value.size(); }));
    row.new_fields += '{';
    for (std::size_t member : members) {
      const FieldDefinition& field = member_field(member);
      std::string_view value = member == key_member ? std::string_view(row.key) : std::string_view(given.values[member]);
      if (value.empty()) continue;
      if (row.new_fields.size() > 1) row.new_fields += ',';
      row.new_fields += member_names[member];
      append_stored_value(row.new_fields, field, value);
      if (field.indexed && member != key_member) row.new_lookups.push_back({&field, stored_text(field, value)});
    }
    row.new_fields += '}';
  }
  std::sort(keys.begin(), keys.end());
  if (std::adjacent_find(keys.begin(), keys.end()) != keys.end()) {
    return Error::invalid("registry.duplicate_key", "key", "a batch holds each record once");
  }
  // The entry comes first, for the rows to name it; it counts the rows the batch tried, and the
  // import keeps how many were written.
  std::int64_t valid = 0;
  for (const PendingRow& row : pending) valid += row.refusal.ok() ? 1 : 0;
  nlohmann::json details = log_details;
  details["department"] = writer.department_key;
  details["rows"] = valid;
  auto recorded = log_.record(session, {writer.account_id, "", "registry.import", definition.name, "", std::string(reason),
                                        details});
  if (!recorded.ok()) return recorded.take_error();
  receipt.log_index = recorded->index;
  ONEWINDOW_TRY(place_rows(session, definition, pending, reason, writer, receipt.log_index, written_at));
  for (std::size_t i = 0; i < pending.size(); ++i) {
    PendingRow& row = pending[i];
    if (!row.refusal.ok()) continue;
    ++(row.created ? receipt.created : receipt.updated);
    if (row.created) continue;
    // A change of a record that exists: its values as JSON, to merge with the stored ones.
    row.fields = nlohmann::json::object();
    for (std::size_t column = 0; column < columns.size(); ++column) {
      const std::string& value = rows[i].values[column];
      if (!value.empty()) row.fields[columns[column]->name] = stored_value(*columns[column], value);
    }
  }
  for (std::size_t i = 0; i < pending.size(); ++i) {
    if (pending[i].refusal.ok()) continue;
    const Error& error = pending[i].refusal.error();
    auto field = error.details.find("field");
    receipt.rejected.push_back({rows[i].line, field != error.details.end() && field->is_string() ? field->get<std::string>() : "line",
                                error.code, error.message});
  }
  ONEWINDOW_TRY(store_rows(session, definition, pending, reason, writer, receipt.log_index, written_at));
  ONEWINDOW_TRY(tell_listeners(
      session, definition,
      [&] {
        std::vector<Change> changes;
        for (std::size_t i = 0; i < pending.size(); ++i) {
          if (!pending[i].refusal.ok()) continue;
          Change& change = changes.emplace_back(Change{pending[i].key, {}, pending[i].created});
          for (std::size_t column = 0; column < columns.size(); ++column) {
            if (!rows[i].values[column].empty()) change.fields.push_back(columns[column]->name);
          }
        }
        return changes;
      },
      receipt.log_index, written_at));
  return receipt;
}

Status Registries::tell_listeners(store::Session& session, const RegistryDefinition& definition,
                                  const std::function<std::vector<Change>()>& list, std::int64_t log_index,
                                  const std::string& written_at) const {
  std::optional<std::vector<Change>> changes;
  for (const ChangeListener& listener : listeners_) {
    auto wanted = listener.wants(session, definition);
    if (!wanted.ok()) return wanted.take_error();
    if (!*wanted) continue;
    if (!changes) changes = list();
    ONEWINDOW_TRY(listener.changed(session, definition, *changes, log_index, written_at));
  }
  return ok_status();
}

Status Registries::creation_refusal(const RegistryDefinition& definition, const Writer& writer,
                                    const std::function<bool(const FieldDefinition&)>& given) {
  const FieldDefinition& key_field = definition.key_field();
  if (key_field.authority != writer.department_key) {
    return Error(ErrorKind::not_found, "registry.record_not_found",
                 "no such record; only department " + key_field.authority + " creates records of " + definition.name,
                 {{"field", "key"}});
  }
  for (const FieldDefinition& field : definition.fields) {
    bool owned = field.authority == writer.department_key;
    if (field.required && owned && field.name != definition.key && !given(field)) {
      return Error::invalid("registry.required_missing", field.name, "a new record needs field " + field.name);
    }
  }
  return ok_status();
}

namespace {

// "INSERT INTO ... VALUES " (head), `rows` groups of values, then `tail`. A group is `parts` with
// a parameter between each two; the first group's are numbered after the `shared` parameters that
// every group uses, the next group's after those. Built once per batch, not per statement.
std::string insert_sql(std::string_view head, std::size_t rows, std::size_t shared,
                       const std::vector<std::string_view>& row_parts, std::string_view tail) {
  std::string sql(head);
  std::size_t per_row = row_parts.size() - 1;
  for (std::size_t row = 0; row < rows; ++row) {
    if (row > 0) sql += ", ";
    for (std::size_t part = 0; part < row_parts.size(); ++part) {
      sql += row_parts[part];
      if (part < per_row) sql += "$" + std::to_string(shared + row * per_row + part + 1);
    }
  }
  sql += tail;
  return sql;
}

}  // namespace

Status Registries::place_rows(store::Session& session, const RegistryDefinition& definition, std::vector<PendingRow>& rows,
                              std::string_view reason, const Writer& writer, std::int64_t log_index,
                              const std::string& written_at) const {
  // Rows that may make their record try to, many to a statement (on PostgreSQL each statement is
  // a round trip); only those whose record exists already are then read.
  std::vector<PendingRow*> creating;
  for (PendingRow& row : rows) {
    if (row.refusal.ok() && row.not_creatable.ok()) creating.push_back(&row);
  }
  // The parameters every row shares come first; the statement and its parameters are kept from
  // one statement to the next, and only each row's own are replaced.
  store::Parameters parameters = {definition.name, written_at, writer.account_id, writer.department_key,
                                  std::string(reason), log_index};
  const std::size_t shared = parameters.size();
  if (database_.backend() == store::Backend::sqlite) {
    // One record to a statement, and its id counted rather than returned: SQLite gathers the
    // rows of RETURNING in a temporary table, made and dropped for every statement, which cost
    // more instructions than the insert itself. The writer holds SQLite's write lock for the
    // whole transaction, so the ids are the ones SQLite would give (the largest plus one).
    auto largest = session.query_one("SELECT COALESCE(MAX(id), 0) FROM registry_record");
    if (!largest.ok()) return largest.take_error();
    std::int64_t next_id = (*largest)->integer(0) + 1;
    parameters.resize(shared + 3);
    for (PendingRow* row : creating) {
      parameters[shared] = next_id;
      parameters[shared + 1] = row->key;
      parameters[shared + 2] = std::move(row->new_fields);
      auto inserted = session.execute(
          "INSERT INTO registry_record (id, registry, record_key, fields, version, created_at, updated_at, created_by, "
          "department, reason, log_index) VALUES ($7, $1, $8, $9, 1, $2, $2, $3, $4, $5, $6) "
          "ON CONFLICT (registry, record_key) DO NOTHING",
          parameters);
      if (!inserted.ok()) return inserted.take_error();
      if (*inserted == 1) {
        row->created = true;
        row->id = next_id++;
      }
    }
  } else {
    // Many records to a statement, each a round trip to PostgreSQL; their ids come back with
    // their keys.
    const std::size_t per_statement = rows_per_statement(database_.backend());
    std::string sql;
    std::size_t sql_rows = 0;
    std::unordered_map<std::string_view, PendingRow*> by_key;
    for (std::size_t first = 0; first < creating.size(); first += per_statement) {
      std::size_t count = std::min(per_statement, creating.size() - first);
      if (count != sql_rows) {
        sql = insert_sql("INSERT INTO registry_record (registry, record_key, fields, version, created_at, updated_at, "
                         "created_by, department, reason, log_index) VALUES ",
                         count, shared, {"($1, ", ", ", ", 1, $2, $2, $3, $4, $5, $6)"},
                         " ON CONFLICT (registry, record_key) DO NOTHING RETURNING id, record_key");
        sql_rows = count;
      }
      parameters.resize(shared + 2 * count);
      by_key.clear();
      for (std::size_t i = 0; i < count; ++i) {
        PendingRow& row = *creating[first + i];
        parameters[shared + 2 * i] = row.key;
        parameters[shared + 2 * i + 1] = std::move(row.new_fields);
        by_key.emplace(row.key, &row);
      }
      auto inserted = session.query(sql, parameters);
      if (!inserted.ok()) return inserted.take_error();
      for (const store::Row& made : *inserted) {
        PendingRow* row = by_key.at(made.text(1));
        row->created = true;
        row->id = made.integer(0);
      }
    }
  }
  for (PendingRow& row : rows) {
    if (!row.refusal.ok() || row.created) continue;
    auto existing = session.query_one(
        "SELECT id, fields, version FROM registry_record WHERE registry = $1 AND record_key = $2", {definition.name, row.key});
    if (!existing.ok()) return existing.take_error();
    if (!existing->has_value()) {
      row.refusal = std::move(row.not_creatable);
      continue;
    }
    row.id = (*existing)->integer(0);
    row.existing = nlohmann::json::parse((*existing)->text(1));
    row.version = (*existing)->integer(2);
  }
  return ok_status();
}

Status Registries::store_rows(store::Session& session, const RegistryDefinition& definition, std::vector<PendingRow>& rows,
                              std::string_view reason, const Writer& writer, std::int64_t log_index,
                              const std::string& written_at) const {
  std::vector<Lookup> lookups;
  lookups.reserve(std::accumulate(rows.begin(), rows.end(), std::size_t{0}, [](std::size_t sum, const PendingRow& row) {
    return sum + row.new_lookups.size();
  }));
  for (PendingRow& row : rows) {
    if (!row.refusal.ok()) continue;
    if (row.created) {
      // place_rows() inserted the new record already, with its values.
      for (Lookup& lookup : row.new_lookups) {
        lookup.record_id = row.id;
        lookups.push_back(std::move(lookup));
      }
      continue;
    }
    const nlohmann::json& written = row.fields;
    nlohmann::json current = std::move(*row.existing);
    std::int64_t version = row.version + 1;
    if (row.version == 1) {
      // The first change is kept in the record's row while it is the only one (see the
      // schema); the record is about to change, so it moves to the changes now.
      ONEWINDOW_TRY(session
                        .execute("INSERT INTO registry_change (record_id, version, changed_at, written_by, department, "
                                 "reason, log_index, fields) SELECT id, 1, created_at, created_by, department, reason, "
                                 "log_index, fields FROM registry_record r WHERE id = $1 AND NOT EXISTS "
                                 "(SELECT 1 FROM registry_change c WHERE c.record_id = r.id)",
                                 {row.id})
                        .status());
    }
    nlohmann::json next = current;
    for (const auto& [name, value] : written.items()) next[name] = value;
    ONEWINDOW_TRY(session
                      .execute("UPDATE registry_record SET fields = $2, version = $3, updated_at = $4 WHERE id = $1",
                               {row.id, next.dump(), version, written_at})
                      .status());
    ONEWINDOW_TRY(session
                      .execute("INSERT INTO registry_change (record_id, version, changed_at, written_by, department, "
                               "reason, log_index, fields) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                               {row.id, version, written_at, writer.account_id, writer.department_key,
                                std::string(reason), log_index, written.dump()})
                      .status());
    // Lookups follow the indexed fields whose value changes.
    for (const auto& [name, value] : written.items()) {
      const FieldDefinition* field = definition.field(name);
      if (!field->indexed || name == definition.key) continue;
      auto before = current.find(name);
      if (before != current.end()) {
        if (*before == value) continue;
        if (!before->is_null()) {
          ONEWINDOW_TRY(session
                            .execute("DELETE FROM registry_lookup WHERE registry = $1 AND field = $2 AND value = $3 AND "
                                     "record_id = $4",
                                     {definition.name, name, lookup_text(*before), row.id})
                            .status());
        }
      }
      if (!value.is_null()) lookups.push_back({field, lookup_text(value), row.id});
    }
  }
  // New lookups, many to a statement, the statement and the shared parameter kept from one to
  // the next.
  const std::size_t per_statement = rows_per_statement(database_.backend());
  store::Parameters parameters = {definition.name};
  std::string sql;
  std::size_t sql_rows = 0;
  for (std::size_t first = 0; first < lookups.size(); first += per_statement) {
    std::size_t count = std::min(per_statement, lookups.size() - first);
    if (count != sql_rows) {
      sql = insert_sql("INSERT INTO registry_lookup (registry, field, value, record_id) VALUES ", count, 1,
                       {"($1, ", ", ", ", ", ")"}, "");
      sql_rows = count;
    }
    parameters.resize(1 + 3 * count);
    for (std::size_t i = 0; i < count; ++i) {
      Lookup& lookup = lookups[first + i];
      parameters[1 + 3 * i] = lookup.field->name;
      parameters[2 + 3 * i] = std::move(lookup.value);
      parameters[3 + 3 * i] = lookup.record_id;
    }
    ONEWINDOW_TRY(session.execute(sql, parameters).status());
  }
  return ok_status();
}

Result<nlohmann::json> Registries::read(std::string_view registry, std::string_view key, const Reader& reader,
                                        std::optional<std::chrono::system_clock::time_point> as_of) const {
  return database_.read_value<nlohmann::json>(
      [&](store::Session& session) { return read(session, registry, key, reader, as_of); });
}

Result<nlohmann::json> Registries::read(store::Session& session, std::string_view registry, std::string_view key,
                                        const Reader& reader,
                                        std::optional<std::chrono::system_clock::time_point> as_of) const {
  auto found = definition(registry);
  if (!found.ok()) return found.take_error();
  const RegistryDefinition& registry_definition = **found;
  auto record_key = normalised_key(registry_definition, key);
  if (!record_key.ok()) return record_key.take_error();
  std::string moment = format_timestamp(as_of.value_or(clock_.now()));
  {
    nlohmann::json values = nlohmann::json::object();
    bool exists = false;
    if (!as_of) {
      auto row = session.query_one("SELECT fields FROM registry_record WHERE registry = $1 AND record_key = $2",
                                   {registry_definition.name, *record_key});
      if (!row.ok()) return row.take_error();
      if (row->has_value()) {
        exists = true;
        values = nlohmann::json::parse((*row)->text(0));
      }
    } else {
      // The record as it was: its changes up to that moment, applied in order.
      // A record never changed keeps its first change in its own row (see the schema).
      Status folded = session.query_each(
          "SELECT c.version, c.fields FROM registry_change c JOIN registry_record r ON r.id = c.record_id "
          "WHERE r.registry = $1 AND r.record_key = $2 AND c.changed_at <= $3 "
          "UNION ALL SELECT 1, r.fields FROM registry_record r WHERE r.registry = $1 AND r.record_key = $2 "
          "AND r.created_at <= $3 AND NOT EXISTS (SELECT 1 FROM registry_change c WHERE c.record_id = r.id) "
          "ORDER BY 1",
          {registry_definition.name, *record_key, moment}, [&](const store::Row& row) -> bool {
            exists = true;
            // Named: items() refers to the object, which must outlive the loop.
            nlohmann::json change = nlohmann::json::parse(row.text(1));
            for (auto& [name, value] : change.items()) values[name] = std::move(value);
            return true;
          });
      ONEWINDOW_TRY(folded);
    }
    if (!exists) {
      return Error(ErrorKind::not_found, "registry.record_not_found",
                   "no such record" + std::string(as_of ? " at that time" : ""), {{"field", "key"}});
    }
    return nlohmann::json{{"registry", registry_definition.name},
                          {"key", shown(registry_definition.key_field(), *record_key, reader)},
                          {"as_of", moment},
                          {"fields", shown_fields(registry_definition, values, reader)}};
  }
}

nlohmann::json Registries::shown_fields(const RegistryDefinition& definition, const nlohmann::json& values,
                                        const Reader& reader) const {
  // In the order of the definition, so that every reader sees the same layout.
  nlohmann::json shown_values = nlohmann::json::object();
  for (const FieldDefinition& field : definition.fields) {
    auto value = values.find(field.name);
    if (value != values.end() && !value->is_null()) shown_values[field.name] = shown(field, *value, reader);
  }
  return shown_values;
}

Result<nlohmann::json> Registries::search(std::string_view registry, const Search& search, const Reader& reader) const {
  auto found = definition(registry);
  if (!found.ok()) return found.take_error();
  const RegistryDefinition& registry_definition = **found;
  const FieldDefinition* field = registry_definition.field(search.field);
  if (field == nullptr) {
    return Error::invalid("registry.unknown_field", "field", "registry " + registry_definition.name + " has no field " + search.field);
  }
  if (!field->indexed || field->name == registry_definition.key) {
    return Error::invalid("registry.field_not_indexed", "field",
                          "records are found only by indexed fields (and read by key); " + search.field + " is not one");
  }
  if (search.limit < 1 || search.limit > 100) return Error::invalid("registry.bad_limit", "limit", "limit must be 1 to 100");
  if (search.value.has_value() == search.prefix.has_value()) {
    return Error::invalid("registry.bad_search", "value", "give exactly one of value and prefix");
  }
  std::string low;
  std::string high;
  if (search.prefix) {
    if (field->type != FieldType::string || search.prefix->empty()) {
      return Error::invalid("registry.bad_search", "prefix", "prefix search needs a non-empty prefix and a string field");
    }
    // Lookups compare bytes, so every value that starts with the prefix lies between it and the
    // prefix followed by the last code point of Unicode.
    low = *search.prefix;
    high = low + "\xF4\x8F\xBF\xBF";
  } else {
    low = lookup_text(*search.value);
  }
  // The cursor is the internal id of the last record given: it names no person (keys such as ID
  // numbers must not reach readers who see them masked), and the next page starts after that
  // record in the search's order, so records written meanwhile neither repeat nor push others
  // out of the page.
  std::int64_t after_id = 0;
  if (!search.cursor.empty()) {
    auto [end, error] = std::from_chars(search.cursor.data(), search.cursor.data() + search.cursor.size(), after_id);
    if (error != std::errc() || end != search.cursor.data() + search.cursor.size() || after_id < 1) {
      return Error::invalid("registry.bad_cursor", "cursor", "cursor must be one a previous page gave");
    }
  }
  std::int64_t wanted = search.limit + 1;  // one more than a page tells whether another page follows
  std::string moment = format_timestamp(clock_.now());
  return database_.read_value<nlohmann::json>([&](store::Session& session) -> Result<nlohmann::json> {
    Result<std::vector<store::Row>> rows = std::vector<store::Row>();
    if (search.value) {
      rows = session.query(
          "SELECT r.record_key, r.fields, r.id FROM registry_lookup l JOIN registry_record r ON r.id = l.record_id "
          "WHERE l.registry = $1 AND l.field = $2 AND l.value = $3 AND l.record_id > $4 ORDER BY l.record_id LIMIT $5",
          {registry_definition.name, field->name, low, after_id, wanted});
    } else {
      // In (value, id) order: the page after the cursor's record starts at that record's value
      // as it is now.
      std::string after_value = low;
      if (after_id > 0) {
        auto last = session.query_one("SELECT fields FROM registry_record WHERE id = $1 AND registry = $2",
                                      {after_id, registry_definition.name});
        if (!last.ok()) return last.take_error();
        if (!last->has_value()) return Error::invalid("registry.bad_cursor", "cursor", "cursor must be one a previous page gave");
        auto fields = nlohmann::json::parse((*last)->text(0));
        auto value = fields.find(field->name);
        if (value != fields.end() && value->is_string()) after_value = std::max(low, value->get<std::string>());
      }
      rows = session.query(
          "SELECT r.record_key, r.fields, r.id FROM registry_lookup l JOIN registry_record r ON r.id = l.record_id "
          "WHERE l.registry = $1 AND l.field = $2 AND l.value >= $3 AND l.value < $4 "
          "AND (l.value > $5 OR (l.value = $5 AND l.record_id > $6)) ORDER BY l.value, l.record_id LIMIT $7",
          {registry_definition.name, field->name, low, high, after_value, after_id, wanted});
    }
    if (!rows.ok()) return rows.take_error();
    nlohmann::json records = nlohmann::json::array();
    for (std::size_t i = 0; i < rows->size() && static_cast<std::int64_t>(i) < search.limit; ++i) {
      const store::Row& row = (*rows)[i];
      records.push_back({{"registry", registry_definition.name},
                         {"key", shown(registry_definition.key_field(), row.text(0), reader)},
                         {"as_of", moment},
                         {"fields", shown_fields(registry_definition, nlohmann::json::parse(row.text(1)), reader)}});
    }
    std::string next_cursor;
    if (static_cast<std::int64_t>(rows->size()) > search.limit) {
      next_cursor = std::to_string((*rows)[static_cast<std::size_t>(search.limit) - 1].integer(2));
    }
    return nlohmann::json{{"records", records}, {"next_cursor", next_cursor}};
  });
}

Result<nlohmann::json> Registries::history(std::string_view registry, std::string_view key, const Reader& reader) const {
  auto found = definition(registry);
  if (!found.ok()) return found.take_error();
  const RegistryDefinition& registry_definition = **found;
  auto record_key = normalised_key(registry_definition, key);
  if (!record_key.ok()) return record_key.take_error();
  return database_.read_value<nlohmann::json>([&](store::Session& session) -> Result<nlohmann::json> {
    auto rows = session.query(
        "SELECT c.version, c.changed_at, c.written_by, c.department, c.reason, c.log_index, c.fields "
        "FROM registry_change c JOIN registry_record r ON r.id = c.record_id WHERE r.registry = $1 AND r.record_key = $2 "
        "UNION ALL SELECT 1, created_at, created_by, department, reason, log_index, fields FROM registry_record r "
        "WHERE r.registry = $1 AND r.record_key = $2 AND NOT EXISTS "
        "(SELECT 1 FROM registry_change c WHERE c.record_id = r.id) ORDER BY 1",
        {registry_definition.name, *record_key});
    if (!rows.ok()) return rows.take_error();
    if (rows->empty()) return Error(ErrorKind::not_found, "registry.record_not_found", "no such record", {{"field", "key"}});
    // Each change becomes a version of every field it wrote, valid until the field's next change.
    nlohmann::json versions = nlohmann::json::array();
    std::map<std::string, std::size_t> latest;  // field -> its latest entry in versions
    for (const store::Row& row : *rows) {
      nlohmann::json change = nlohmann::json::parse(row.text(6));
      for (const auto& [name, value] : change.items()) {
        const FieldDefinition* field = registry_definition.field(name);
        if (field == nullptr) continue;  // a field since removed from the definition
        std::int64_t field_version = 1;
        if (auto previous = latest.find(name); previous != latest.end()) {
          versions[previous->second]["valid_to"] = row.text(1);
          field_version = versions[previous->second]["version"].get<std::int64_t>() + 1;
        }
        latest[name] = versions.size();
        versions.push_back({{"field", name},
                            {"version", field_version},
                            {"value", shown(*field, value, reader)},
                            {"valid_from", row.text(1)},
                            {"valid_to", nullptr},
                            {"change", row.integer(0)},
                            {"written_by", row.text(2)},
                            {"department", row.text(3)},
                            {"reason", row.text(4)},
                            {"log_index", row.integer(5)}});
      }
    }
    return nlohmann::json{{"registry", registry_definition.name},
                          {"key", shown(registry_definition.key_field(), *record_key, reader)},
                          {"versions", versions}};
  });
}

Status Registries::scan(std::string_view registry, const Reader& reader,
                        const std::function<bool(const std::string& key, const nlohmann::json& fields)>& on_record) const {
  auto found = definition(registry);
  if (!found.ok()) return found.take_error();
  const RegistryDefinition& registry_definition = **found;
  return database_.read([&](store::Session& session) -> Status {
    Status failed;
    Status scanned = session.query_each(
        "SELECT record_key, fields FROM registry_record WHERE registry = $1 ORDER BY id", {std::string(registry)},
        [&](const store::Row& row) {
          auto values = nlohmann::json::parse(row.text(1), nullptr, false);
          if (values.is_discarded()) {
            failed = Error(ErrorKind::internal, "registry.corrupt_record", "a stored record of " + std::string(registry) + " is damaged");
            return false;
          }
          return on_record(row.text(0), shown_fields(registry_definition, values, reader));
        });
    if (!failed.ok()) return failed;
    return scanned;
  });
}

}  // namespace onewindow::registry
