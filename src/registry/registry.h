// registry: the base registries of the platform (natural persons, legal persons, ...), defined as
// data in config/registries/*.yaml (format: docs/registries.md).
//
// Contract:
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
#include "base/csv.h"
#include "base/identifiers.h"
#include "base/result.h"
#include "store/store.h"

#include <nlohmann/json.hpp>

#include <atomic>
#include <bitset>
#include <condition_variable>
#include <deque>
#include <filesystem>
#include <functional>
#include <mutex>
#include <optional>
#include <regex>
#include <set>
#include <string>
#include <string_view>
#include <thread>
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
  // The bytes each position accepts, when the pattern is a fixed-length run of characters and
  // bracket classes ("1[3-9][0-9]{9}", see fixed_length_pattern()): such a value is checked
  // without std::regex, whose matching was a tenth of an import's time. Empty otherwise.
  std::vector<std::bitset<256>> fixed_pattern;
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

// The bytes each position of a value accepts, for a pattern made only of ASCII letters and
// digits, bracket classes of them and their ranges ("[0-9A-Z]"), each optionally repeated an
// exact number of times ("{9}"): matching it byte by byte is exactly what std::regex_match does
// with the ECMAScript pattern. Empty for any other pattern (alternatives, groups, open counts,
// escapes, negated classes, ...), which std::regex matches.
std::vector<std::bitset<256>> fixed_length_pattern(std::string_view pattern);

// validate_value() for a value given as text, as a CSV cell gives it (UTF-8; empty only where the
// field is a string): an integer field's text must be a whole number (registry.value_type
// otherwise), a decimal field's digits with an optional fraction, and any other field's text is
// checked as the JSON string of it would be. The same errors as validate_value().
Status validate_text(const FieldDefinition& field, std::string_view text, Date today, const DivisionCodes& divisions);

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
// field's authority, or the read is cleared (the exchange, under a grant its provider approved
// for a stated legal basis).
struct Reader {
  std::string department_key;
  bool cleared = false;
};

struct WriteReceipt {
  std::string written_at;   // "2026-11-23T08:05:09.123Z"
  std::int64_t log_index = 0;  // the transparency-log entry of this write
  bool created = false;     // the write made the record
};

// A record changed by a write, as change listeners are told of it.
struct Change {
  std::string key;
  std::vector<std::string> fields;  // the names of the fields written, the key not among them
  bool created = false;             // the write made the record
};

// Someone told of every write of records (the exchange's subscriptions), inside the writing
// transaction after its rows and before it commits: what the listener writes commits with the
// change or not at all, and a failed Status rolls the write back.
struct ChangeListener {
  // Whether the listener wants this registry's changes now; when no listener does, the changes
  // are not even listed (an import writes millions of rows).
  std::function<Result<bool>(store::Session& session, const RegistryDefinition& definition)> wants;
  std::function<Status(store::Session& session, const RegistryDefinition& definition, const std::vector<Change>& changes,
                       std::int64_t log_index, const std::string& written_at)>
      changed;
};

// One row of a bulk write: the line of the file it came from, the record's key, and a value for
// each of the batch's columns as text (UTF-8, as validate_text() takes it), empty where the row
// leaves the field as it is, as an empty CSV cell does.
struct BatchRow {
  std::int64_t line = 0;
  std::string key;
  std::vector<std::string> values;
};

// A row not written, and why; never the row's values, which may be personal.
struct Rejection {
  std::int64_t line = 0;
  std::string field;  // the field at fault, or "key", or "line" for the row as a whole
  std::string code;   // "registry.value_pattern", ...
  std::string message;
};

struct BatchReceipt {
  std::int64_t log_index = 0;  // the one transparency-log entry of the batch
  std::int64_t created = 0;
  std::int64_t updated = 0;
  std::vector<Rejection> rejected;
};

// The stored records of every registry of a catalog. The current values of a record are one row;
// every change is another, with who, when, why and its transparency-log entry, so a record can
// be read as of any past time and its history shown field by field. Indexed fields have lookup
// rows for search. Thread-safe.
class Registries {
 public:
  Registries(store::Database& database, audit::TransparencyLog& log, const RegistryCatalog& catalog,
             const DivisionCodes& divisions, const Clock& clock);

  // The tables (module "registry"), imports' included.
  static std::vector<store::Migration> migrations();

  // Brings the lookups in line with the catalog's indexes: a field newly indexed gets a lookup
  // for every record that has it; one no longer indexed loses its lookups. Call once at start,
  // after migrations.
  Status prepare();

  // Writes fields of one record in one transaction with its transparency-log entry. Errors name
  // the field: registry.unknown_registry (404), registry.unknown_field, the validate_value codes,
  // registry.field_not_owned (403: the writer's department is not the field's authority, named
  // in the message), registry.record_not_found (404: only the authority of the key field creates
  // records), registry.required_missing (a new record lacks a required field the writer owns),
  // registry.reason_required.
  Result<WriteReceipt> write(std::string_view registry, std::string_view key, const nlohmann::json& fields,
                             std::string_view reason, const Writer& writer);
  // Whether the registry holds a record of this key, in the caller's transaction (a key made for
  // a new record must be free): a lookup of the key alone, no record read or masked.
  Result<bool> exists(store::Session& session, std::string_view registry, std::string_view key) const;
  // Checks fields as write() would, without a key or a transaction: for a caller that writes
  // them later (an application's record, checked when it is submitted, written when approved).
  Status check(std::string_view registry, const nlohmann::json& fields, const Writer& writer) const;
  // write(), in the caller's transaction (a completed application writes the record it made with
  // its approval); on an error the caller's transaction should be rolled back.
  Result<WriteReceipt> write(store::Session& session, std::string_view registry, std::string_view key,
                             const nlohmann::json& fields, std::string_view reason, const Writer& writer);

  // Writes many records in the caller's transaction (so that an import's progress commits with
  // its rows) under one transparency-log entry, action "registry.import", whose details are
  // `log_details` plus the department and the number of rows that passed the checks. `columns`
  // are the fields the values of each row are for, in order (the key is not among them). Each
  // row is checked as write() checks it; a row that fails is not written and comes back as a
  // Rejection, and the others are written. Keys must be distinct within one batch
  // (registry.duplicate_key otherwise); every error other than a row's own is returned, and the
  // caller's transaction should then be rolled back. A new record's stored values are written
  // straight from the text, with no JSON objects built for them: that was a large share of an
  // import's time.
  Result<BatchReceipt> write_batch(store::Session& session, const RegistryDefinition& definition,
                                   const std::vector<const FieldDefinition*>& columns, const std::vector<BatchRow>& rows,
                                   std::string_view reason, const Writer& writer, const nlohmann::json& log_details);

  // The record as it is now, or as it was at `as_of`: {"registry", "key", "as_of", "fields": {name: value}},
  // masked for the reader. registry.record_not_found when it did not exist then.
  Result<nlohmann::json> read(std::string_view registry, std::string_view key, const Reader& reader,
                              std::optional<std::chrono::system_clock::time_point> as_of = std::nullopt) const;
  // read(), in the caller's transaction (the exchange reads and records a read in one).
  Result<nlohmann::json> read(store::Session& session, std::string_view registry, std::string_view key,
                              const Reader& reader,
                              std::optional<std::chrono::system_clock::time_point> as_of = std::nullopt) const;

  // Records whose current value of an indexed field equals `value`, or (for a string field)
  // starts with `prefix`; at most `limit` (1 to 100) after `cursor` (what the previous page gave
  // as next_cursor, empty for the first). {"records": [read()...], "next_cursor"} with
  // next_cursor empty on the last page. Exact matches come in the order records were made, prefix
  // matches by value then that order; the cursor is the internal id of the last record given, so
  // records written between two pages neither repeat nor push others out.
  // registry.field_not_indexed for fields without an index, registry.bad_cursor.
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

  // Every current record of the registry, in the order the records were made, from one read
  // snapshot, each handed to on_record with its key and its fields masked for the reader, never
  // all held at once; on_record returns false to stop. For the exchange's bulk reads.
  Status scan(std::string_view registry, const Reader& reader,
              const std::function<bool(const std::string& key, const nlohmann::json& fields)>& on_record) const;

  // The definition of a registry: registry.unknown_registry (404) when there is none.
  Result<const RegistryDefinition*> definition(std::string_view registry) const;
  // The key in its stored form (a final x of a citizen ID upper-cased, a USCC in capitals),
  // unchecked: how two spellings of one key are told to be the same.
  static std::string key_form(const RegistryDefinition& definition, std::string_view key);
  // key_form(), checked as the key's field says.
  Result<std::string> normalised_key(const RegistryDefinition& definition, std::string_view key) const;
  // exists() for a key already in its stored form.
  static Result<bool> holds(store::Session& session, const RegistryDefinition& definition, const std::string& key);
  // The checks of write() for fields of one record, without storage: names, authority, values.
  Status check_fields(const RegistryDefinition& definition, const std::string& key, const nlohmann::json& fields,
                      const Writer& writer, Date today) const;
  static Error not_owned(const RegistryDefinition& definition, const FieldDefinition& field);

  // Adds a listener told of every write (write() and write_batch()) from now on. Call before the
  // first write: listeners are not guarded against writes running at the same time.
  void add_change_listener(ChangeListener listener) { listeners_.push_back(std::move(listener)); }

  const RegistryCatalog& catalog() const { return catalog_; }
  const DivisionCodes& divisions() const { return divisions_; }
  audit::TransparencyLog& transparency_log() const { return log_; }

 private:
  // A lookup row to be: the field, its value as lookup text, and (once known) the record.
  struct Lookup {
    const FieldDefinition* field = nullptr;
    std::string value;
    std::int64_t record_id = 0;
  };
  // A row on its way into storage.
  struct PendingRow {
    std::string key;
    // The values written, when the record exists (for write(), always): merged into its
    // current values, and kept as the change.
    nlohmann::json fields;
    // For a row that may make its record: the record's values as stored (JSON text, the key
    // among them) and its lookups.
    std::string new_fields;
    std::vector<Lookup> new_lookups;
    std::int64_t id = 0;                     // the record's, once it exists
    std::optional<nlohmann::json> existing;  // the current values, when the record exists
    std::int64_t version = 0;                // the record's number of changes so far
    bool created = false;                    // place_rows() made the record
    Status not_creatable;                    // why the writer may not make the record, when it may not
    Status refusal;                          // why the row is not written, when it is not
  };
  // Why the writer may not make a record (not the key's authority, a required field it owns not
  // `given`), or ok.
  static Status creation_refusal(const RegistryDefinition& definition, const Writer& writer,
                                 const std::function<bool(const FieldDefinition&)>& given);
  // Makes the records of rows that may make one (not_creatable ok) and do not exist; reads the
  // others' current values; refuses rows whose record neither exists nor may be made.
  Status place_rows(store::Session& session, const RegistryDefinition& definition, std::vector<PendingRow>& rows,
                    std::string_view reason, const Writer& writer, std::int64_t log_index,
                    const std::string& written_at) const;
  Status store_rows(store::Session& session, const RegistryDefinition& definition, std::vector<PendingRow>& rows,
                    std::string_view reason, const Writer& writer, std::int64_t log_index,
                    const std::string& written_at) const;
  nlohmann::json shown(const FieldDefinition& field, const nlohmann::json& value, const Reader& reader) const;
  nlohmann::json shown_fields(const RegistryDefinition& definition, const nlohmann::json& values, const Reader& reader) const;
  // Tells the listeners that want this registry's changes of them, listed by `list` only then.
  Status tell_listeners(store::Session& session, const RegistryDefinition& definition,
                        const std::function<std::vector<Change>()>& list, std::int64_t log_index,
                        const std::string& written_at) const;

  store::Database& database_;
  audit::TransparencyLog& log_;
  const RegistryCatalog& catalog_;
  const DivisionCodes& divisions_;
  const Clock& clock_;
  std::vector<ChangeListener> listeners_;
};

// ---- Imports -----------------------------------------------------------------------------------

// A bulk import of one CSV file into one registry: a header row naming fields of the registry
// (the key field among them), then a row per record. An empty cell leaves its field as it is.
struct ImportRequest {
  std::string registry;
  std::filesystem::path file;
  TextEncoding encoding = TextEncoding::utf8;
  std::string reason;
  Writer writer;
  // "command" for `onewindow import`, resumed by running the command again; "upload" for files
  // sent to the API, kept under the data directory and resumed by the server when it starts.
  std::string origin = "command";
  int batch_rows = 1000;
};

struct ImportStatus {
  std::string id;  // "imp_..."
  std::string registry;
  std::string department;
  std::string origin;
  std::string state;  // "running", "finished", "failed"
  std::string error;  // why it failed
  std::string file;
  std::string encoding;
  std::int64_t bytes_total = 0;
  std::int64_t bytes_done = 0;
  std::int64_t rows_read = 0;
  std::int64_t rows_created = 0;
  std::int64_t rows_updated = 0;
  std::int64_t rows_rejected = 0;
  std::string started_at;
  std::string updated_at;
  std::string finished_at;
  bool resumed = false;  // begin() found this import unfinished and continues it

  int percentage() const;  // of the file's bytes read and committed, 0 to 100
  nlohmann::json to_json() const;
};

// Imports run batch by batch: each batch's rows, its rejected rows, its transparency-log entry
// and the import's position in the file commit in one transaction (and an import's beginning,
// end or failure with an entry of its own: registry.import_begun, _finished, _failed), so an import stopped at any
// moment (a crash, a kill) resumes after its last committed batch, writing no row twice and
// losing none. Thread-safe; one import is run by one caller at a time (a second runner of the
// same import stops with registry.import_moved).
class Imports {
 public:
  Imports(store::Database& database, Registries& registries, const Clock& clock);

  // Checks the file's header and starts an import, or returns the unfinished import of the same
  // registry, department and file contents (same size and SM3 digest) so that it resumes. Errors:
  // registry.unknown_registry, registry.import_unreadable (the file), csv.*, registry.import_header
  // (an empty header, a column twice, no key column), registry.unknown_field (a column that is no
  // field), registry.field_not_owned (a column the department may not write), registry.reason_required.
  Result<ImportStatus> begin(const ImportRequest& request);

  // begin() for a file sent over the API: its contents are kept under `directory` (made if
  // missing) until the import ends, so that an import interrupted by a restart resumes from
  // them; origin "upload". The kept file is removed again when begin() refuses it or finds the
  // same contents being imported already. registry.upload_not_kept (unavailable) when it cannot
  // be written.
  Result<ImportStatus> begin_upload(ImportRequest request, std::string_view contents,
                                    const std::filesystem::path& directory);

  // Runs an import to its end: finished, or failed with the error also returned. `progress` is
  // called after each batch. `stop` (optional) ends the run early after a batch, leaving the
  // import running, to be resumed.
  Result<ImportStatus> run(const std::string& id, const std::function<void(const ImportStatus&)>& progress = {},
                           const std::atomic<bool>* stop = nullptr);

  // registry.import_not_found (404) for an unknown id, and for an import of another department
  // when `department` is given: an import's counts and rejected lines are its department's
  // business.
  Result<ImportStatus> status(const std::string& id, std::optional<std::string_view> department = std::nullopt) const;
  // The rejected rows as CSV (UTF-8 with a byte order mark, for spreadsheets): line,field,code,
  // message; not found as status() says.
  Result<std::string> rejections_csv(const std::string& id,
                                     std::optional<std::string_view> department = std::nullopt) const;
  // Imports of this origin still running (interrupted), oldest first.
  Result<std::vector<ImportStatus>> unfinished(std::string_view origin) const;

 private:
  // Marks the import failed, with the error, which it returns.
  Error fail(const std::string& id, Error error);

  store::Database& database_;
  Registries& registries_;
  const Clock& clock_;
};

// Runs imports one after another on a thread of its own, for the API: an upload is answered at
// once and its progress read with Imports::status(). The destructor stops after the running
// batch and leaves that import running, to be resumed at the next start.
class ImportQueue {
 public:
  explicit ImportQueue(Imports& imports);
  ~ImportQueue();
  ImportQueue(const ImportQueue&) = delete;
  ImportQueue& operator=(const ImportQueue&) = delete;

  void submit(const std::string& id);

 private:
  void work();

  Imports& imports_;
  std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<std::string> waiting_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

}  // namespace onewindow::registry
