// registry: the base registries of the platform (natural persons, legal persons, ...), defined as
// data in config/registries/*.yaml (format: docs/registries.md).
//
// Contract (definitions, storage, writes by authority, reads with masking and history; search,
// import and the generator come next):
// - A RegistryDefinition says what a registry holds: its key field, its fields with their types
//   and validators, the one department (by key, "police") that is the authority for each field,
//   each field's sensitivity and masking rule, and the indexes. Every mistake in a definition is
//   a load error whose message starts "file:line: field: " and whose details hold
//   {"file", "line", "field"} (base/config.h); nothing is half-loaded.
// - A RegistryCatalog holds every definition of a directory, checked against each other
//   (references name a registry that exists) and against the node's departments.
// - validate_value() and mask() are pure: they read a definition and a value, nothing else.
//   Their messages name the field and never contain the value, which may be personal.
//
// Thread safety: definitions and catalogs are immutable once loaded; their const methods and the
// free functions may be called from several threads at once.
#pragma once

#include "audit/audit.h"
#include "base/clock.h"
#include "base/identifiers.h"
#include "base/result.h"
#include "store/store.h"

#include <nlohmann/json.hpp>

#include <filesystem>
#include <optional>
#include <regex>
#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace onewindow::registry {

// What a field holds, and so how its JSON value is checked (validate_value).
enum class FieldType {
  string,                      // JSON string
  integer,                     // JSON integer
  decimal,                     // JSON number, or a string of digits with an optional fraction
  date,                        // "YYYY-MM-DD"
  enumeration,                 // one of the listed codes, as a JSON string
  division,                    // a GB/T 2260 code of config/divisions.yaml
  reference,                   // the key of a record of another registry
  citizen_id,                  // GB 11643 citizen ID number, check character verified
  unified_social_credit_code,  // GB 32100 USCC, both check characters verified
};
// The names used in definitions: "string", ..., "enum", "division", "reference", "citizen_id",
// "uscc".
std::string_view type_name(FieldType type);

// How a registry's records are keyed; follows from the type of its key field.
enum class KeyKind {
  citizen_id,                  // natural persons
  unified_social_credit_code,  // legal persons
  own_id,                      // a string the registry itself assigns
};

// Who may see a field unmasked; the reading rules come with the read path. Ordered from least
// to most protected.
enum class Sensitivity { public_data, internal, personal, sensitive };
// "public", "internal", "personal", "sensitive".
std::string_view sensitivity_name(Sensitivity sensitivity);

enum class MaskRule {
  none,     // shown as it is
  keep,     // keep the first keep_first and last keep_last characters, a * for each other one
  surname,  // keep the first character, a * for each other one: 张三 -> 张*
  full,     // "***", whatever the length, so that not even the length shows
};

struct Masking {
  MaskRule rule = MaskRule::none;
  int keep_first = 0;  // MaskRule::keep only
  int keep_last = 0;
};

struct EnumValue {
  std::string code;  // what is stored: "1", "20", "01"
  std::string label;
  std::string english_label;
};

struct FieldDefinition {
  std::string name;  // lower-case letters, digits and _, starting with a letter: "birth_date"
  std::string label;          // Chinese: 出生日期
  std::string english_label;  // Birth date
  FieldType type = FieldType::string;
  bool required = false;

  // Validators; each applies to the types named, and a definition that puts one on another type
  // fails to load.
  std::string pattern_text;           // string: ECMAScript regex the whole value must match
  std::optional<std::regex> pattern;  // compiled from pattern_text at load
  std::optional<int> minimum_length;  // string: in characters (code points), not bytes
  std::optional<int> maximum_length;
  std::optional<double> minimum;      // integer, decimal: inclusive bounds
  std::optional<double> maximum;
  std::optional<Date> earliest;       // date: inclusive bounds
  std::optional<Date> latest;
  bool not_in_future = false;         // date: not after the `today` given to validate_value
  std::vector<EnumValue> values;      // enumeration: at least one
  std::string target;                 // reference: the name of the registry referred to
  KeyKind target_key_kind = KeyKind::own_id;  // reference: set by RegistryCatalog

  std::string authority;  // the key of the one department that may write this field
  Sensitivity sensitivity = Sensitivity::internal;
  Masking masking;
  bool indexed = false;  // the key field, or the first field of an index: records can be found by it

  int line = 0;  // where the field is defined, for later messages

  const EnumValue* value(std::string_view code) const;
};

struct IndexDefinition {
  std::string name;                 // "<registry>_<field>_<field>", for the storage to use
  std::vector<std::string> fields;  // in order
};

struct RegistryDefinition {
  std::string name;           // "person"; the file is <name>.yaml
  std::string title;          // Chinese: 自然人
  std::string english_title;  // Natural persons
  std::string key;            // the name of the key field
  KeyKind key_kind = KeyKind::own_id;
  std::vector<FieldDefinition> fields;  // in the order of the file
  std::vector<IndexDefinition> indexes;
  std::string file;  // where it was loaded from

  const FieldDefinition* field(std::string_view name) const;
  const FieldDefinition& key_field() const;  // precondition: a loaded definition
};

// Reads one definition. Everything is checked that can be checked in one file, with the
// authorities against `department_keys`; references to other registries are checked by
// RegistryCatalog. Errors (all with file, line and field):
//   config.missing_file, config.syntax, config.unknown_key, config.missing_field,
//   config.bad_value          a value of the wrong form (a number, a flag, a name)
//   registry.name_mismatch    `registry` is not the file's name without .yaml
//   registry.unknown_type     a type not in FieldType
//   registry.duplicate_field  two fields of one name
//   registry.bad_pattern      a pattern std::regex cannot compile
//   registry.validator_not_applicable  e.g. a pattern on a date
//   registry.enum_without_values
//   registry.missing_target   a reference without `target`
//   registry.unknown_authority  not one of department_keys
//   registry.bad_mask         an unknown rule, or keep without counts
//   registry.unmasked_personal_field  a personal or sensitive field with mask none
//   registry.missing_key_field  `key` names no field
//   registry.bad_key_type     the key is not a citizen_id, uscc or string field
//   registry.unknown_index_field, registry.duplicate_index
Result<RegistryDefinition> load_definition(const std::filesystem::path& file,
                                           const std::set<std::string>& department_keys);

class RegistryCatalog {
 public:
  // Every *.yaml file of `directory`, in name order, each as load_definition, then:
  //   registry.unknown_reference  a reference's target is no registry of the directory
  // A directory that cannot be read is config.missing_file.
  static Result<RegistryCatalog> load(const std::filesystem::path& directory,
                                      const std::set<std::string>& department_keys);

  // The registry of this name, or nullptr. The pointer lives as long as the catalog.
  const RegistryDefinition* find(std::string_view name) const;
  const std::vector<RegistryDefinition>& all() const { return registries_; }

 private:
  std::vector<RegistryDefinition> registries_;
};

// Checks one value (JSON null for an absent one) against its field. `today` is the date in China
// Standard Time, for citizen IDs and not_in_future. Errors are Error::invalid with details
// {"field": field.name}:
//   registry.value_required   null for a required field
//   registry.value_type       the wrong JSON type, or a decimal string that is not a number
//   registry.value_length, registry.value_pattern, registry.value_range,
//   registry.value_enum       not one of the codes
//   registry.value_future     a date after today where not_in_future
//   identifiers.* and clock.date_* from the base checks (citizen ID, USCC, division, date)
// A reference is checked for the form of its target's key; whether the record exists is for the
// storage to say.
Status validate_value(const FieldDefinition& field, const nlohmann::json& value, Date today,
                      const DivisionCodes& divisions);

// The value as a reader without clearance sees it, by the field's masking rule, counting UTF-8
// characters, not bytes: 370202********1234 (keep 6 and 4), 张* and 欧阳娜 -> 欧** (surname),
// 138****5678 (keep 3 and 4). A value too short to hide anything under its rule (a one-character
// name; "12345" under keep 3 and 4) is masked whole, a * per character. An empty value stays
// empty.
std::string mask(const FieldDefinition& field, std::string_view value);

// ---- Records -----------------------------------------------------------------------------------

// Who writes: the account, and the key of its department ("police"), which must be the
// authority of every field written.
struct Writer {
  std::string account_id;
  std::string department_key;
};

// Who reads: personal and sensitive fields are masked unless the reader's department is the
// field's authority.
struct Reader {
  std::string department_key;
};

struct WriteReceipt {
  std::string written_at;   // "2026-11-23T08:05:09.123Z"
  std::int64_t log_index = 0;  // the transparency-log entry of this write
  bool created = false;     // the write made the record
};

// The stored records of every registry of a catalog. Every field value is kept with its version,
// the time it became valid and the time it stopped (valid_from, valid_to), who wrote it, why, and
// the transparency-log entry, so a record can be read as of any past time. Thread-safe.
class Registries {
 public:
  Registries(store::Database& database, audit::TransparencyLog& log, const RegistryCatalog& catalog,
             const DivisionCodes& divisions, const Clock& clock);

  // The tables (module "registry").
  static std::vector<store::Migration> migrations();

  // Writes fields of one record in one transaction with its transparency-log entry. Errors name
  // the field: registry.unknown_registry (404), registry.unknown_field, the validate_value codes,
  // registry.field_not_owned (403: the writer's department is not the field's authority, named
  // in the message), registry.record_not_found (404: only the authority of the key field creates
  // records), registry.required_missing (a new record lacks a required field the writer owns),
  // registry.reason_required.
  Result<WriteReceipt> write(std::string_view registry, std::string_view key, const nlohmann::json& fields,
                             std::string_view reason, const Writer& writer);

  // The record as it is now, or as it was at `as_of`: {"registry", "key", "as_of", "fields": {name: value}},
  // masked for the reader. registry.record_not_found when it did not exist then.
  Result<nlohmann::json> read(std::string_view registry, std::string_view key, const Reader& reader,
                              std::optional<std::chrono::system_clock::time_point> as_of = std::nullopt) const;

  // Records whose current value of an indexed field equals `value`, or (for a string field)
  // starts with `prefix`; ordered by key, at most `limit` (1 to 100) from `cursor` (what the
  // previous page gave as next_cursor, empty for the first). {"records": [read()...],
  // "next_cursor"} with next_cursor empty on the last page. registry.field_not_indexed for
  // fields without an index.
  struct Search {
    std::string field;
    std::optional<nlohmann::json> value;
    std::optional<std::string> prefix;
    std::string cursor;
    int limit = 20;
  };
  Result<nlohmann::json> search(std::string_view registry, const Search& search, const Reader& reader) const;

  // Every version of every field of the record, oldest first, masked for the reader, with who,
  // when, why and the transparency-log entry.
  Result<nlohmann::json> history(std::string_view registry, std::string_view key, const Reader& reader) const;

  const RegistryCatalog& catalog() const { return catalog_; }

 private:
  Result<const RegistryDefinition*> definition(std::string_view registry) const;
  Result<std::string> normalised_key(const RegistryDefinition& definition, std::string_view key) const;
  nlohmann::json shown(const FieldDefinition& field, const nlohmann::json& value, const Reader& reader) const;

  store::Database& database_;
  audit::TransparencyLog& log_;
  const RegistryCatalog& catalog_;
  const DivisionCodes& divisions_;
  const Clock& clock_;
};

}  // namespace onewindow::registry
