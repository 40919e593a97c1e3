// Bulk imports from CSV, batch by batch, resumable: see Imports in registry.h.
#include "registry/registry.h"

#include "base/log.h"
#include "crypto/crypto.h"
#include "registry/storage.h"

#include <algorithm>
#include <fstream>
#include <unordered_set>

namespace onewindow::registry {

namespace {

constexpr const char* status_columns =
    "id, registry, department, origin, state, error, file, encoding, file_size, next_offset, rows_read, rows_created, "
    "rows_updated, rows_rejected, started_at, updated_at, finished_at";

ImportStatus status_from(const store::Row& row) {
  ImportStatus status;
  status.id = row.text(0);
  status.registry = row.text(1);
  status.department = row.text(2);
  status.origin = row.text(3);
  status.state = row.text(4);
  status.error = row.text(5);
  status.file = row.text(6);
  status.encoding = row.text(7);
  status.bytes_total = row.integer(8);
  status.bytes_done = row.integer(9);
  status.rows_read = row.integer(10);
  status.rows_created = row.integer(11);
  status.rows_updated = row.integer(12);
  status.rows_rejected = row.integer(13);
  status.started_at = row.text(14);
  status.updated_at = row.text(15);
  status.finished_at = row.text(16);
  return status;
}

Error unreadable(const std::filesystem::path& file) {
  return Error::invalid("registry.import_unreadable", "file", "cannot read " + file.string());
}

// The file's size and SM3 digest, which name its contents for resuming.
Result<std::pair<std::int64_t, std::string>> fingerprint(const std::filesystem::path& file) {
  std::ifstream input(file, std::ios::binary);
  if (!input) return unreadable(file);
  crypto::Sm3Hasher hasher;
  std::string buffer(1 << 20, '\0');
  std::int64_t size = 0;
  while (input) {
    input.read(buffer.data(), static_cast<std::streamsize>(buffer.size()));
    std::streamsize got = input.gcount();
    if (got <= 0) break;
    hasher.update(std::string_view(buffer.data(), static_cast<std::size_t>(got)));
    size += got;
  }
  if (input.bad()) return unreadable(file);
  return std::make_pair(size, crypto::to_hex(hasher.finish()));
}

}  // namespace

int ImportStatus::percentage() const {
  if (state == "finished" || bytes_total <= 0) return state == "finished" ? 100 : 0;
  return static_cast<int>(bytes_done * 100 / bytes_total);
}

nlohmann::json ImportStatus::to_json() const {
  return {{"id", id},
          {"registry", registry},
          {"department", department},
          {"origin", origin},
          {"state", state},
          {"error", error},
          {"encoding", encoding},
          {"percentage", percentage()},
          {"bytes_total", bytes_total},
          {"bytes_done", bytes_done},
          {"rows_read", rows_read},
          {"rows_created", rows_created},
          {"rows_updated", rows_updated},
          {"rows_rejected", rows_rejected},
          {"started_at", started_at},
          {"updated_at", updated_at},
          {"finished_at", finished_at}};
}

Imports::Imports(store::Database& database, Registries& registries, const Clock& clock)
    : database_(database), registries_(registries), clock_(clock) {}

Result<ImportStatus> Imports::begin(const ImportRequest& request) {
  auto found = registries_.definition(request.registry);
  if (!found.ok()) return found.take_error();
  const RegistryDefinition& definition = **found;
  if (request.reason.empty() || request.reason.size() > 1000) {
    return Error::invalid("registry.reason_required", "reason", "every change needs a reason of 1 to 1000 bytes");
  }
  if (request.batch_rows < 1 || request.batch_rows > 100000) {
    return Error::invalid("registry.bad_batch", "batch_rows", "batch_rows must be 1 to 100000");
  }

  // The header: every column a field of the registry that the department writes, the key among
  // them. Checked before anything is stored, so that a wrong file is refused whole.
  std::ifstream input(request.file, std::ios::binary);
  if (!input) return unreadable(request.file);
  CsvReader reader(input);
  std::vector<std::string> header;
  auto read = reader.next(header);
  if (!read.ok()) return read.take_error();
  if (!*read || (header.size() == 1 && header[0].empty())) {
    return Error::invalid("registry.import_header", "file", "the file is empty; its first line names the fields");
  }
  std::int64_t data_offset = reader.offset();
  std::int64_t data_line = reader.next_line();
  nlohmann::json columns = nlohmann::json::array();
  std::set<std::string> seen;
  bool has_key = false;
  for (const std::string& raw : header) {
    auto name = to_utf8(raw, request.encoding);
    if (!name.ok()) return name.take_error();
    const FieldDefinition* field = definition.field(*name);
    if (field == nullptr) {
      return Error::invalid("registry.unknown_field", *name, "column " + *name + " is no field of registry " + definition.name);
    }
    if (!seen.insert(*name).second) {
      return Error::invalid("registry.import_header", *name, "column " + *name + " appears twice");
    }
    if (field->name == definition.key) {
      has_key = true;
    } else if (field->authority != request.writer.department_key) {
      return Registries::not_owned(definition, *field);
    }
    columns.push_back(*name);
  }
  if (!has_key) {
    return Error::invalid("registry.import_header", definition.key,
                          "the header must name the key field " + definition.key);
  }
  input.close();

  auto print = fingerprint(request.file);
  if (!print.ok()) return print.take_error();
  const auto& [size, digest] = *print;
  std::string file = std::filesystem::absolute(request.file).string();
  std::string now = format_timestamp(clock_.now());
  std::string id = new_id("imp");
  std::string encoding(text_encoding_name(request.encoding));
  auto started = database_.write_value<std::string>([&](store::Session& session) -> Result<std::string> {
    auto existing = session.query_one(
        "SELECT id FROM registry_import WHERE state = 'running' AND registry = $1 AND department = $2 AND file_size = $3 "
        "AND file_digest = $4 AND encoding = $5 ORDER BY started_at LIMIT 1",
        {definition.name, request.writer.department_key, size, digest, encoding});
    if (!existing.ok()) return existing.take_error();
    if (existing->has_value()) return (*existing)->text(0);
    auto inserted = session.execute(
        "INSERT INTO registry_import (id, registry, department, account, reason, origin, file, file_size, file_digest, "
        "encoding, columns, batch_rows, state, error, next_offset, next_line, rows_read, rows_created, rows_updated, "
        "rows_rejected, started_at, updated_at, finished_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, "
        "'running', '', $13, $14, 0, 0, 0, 0, $15, $15, '')",
        {id, definition.name, request.writer.department_key, request.writer.account_id, request.reason, request.origin,
         file, size, digest, encoding, columns.dump(), std::int64_t{request.batch_rows}, data_offset, data_line, now});
    if (!inserted.ok()) return inserted.take_error();
    // The file is named by its size and digest, never its contents, which may be personal.
    auto recorded = registries_.transparency_log().record(
        session, {request.writer.account_id, "", "registry.import_begun", definition.name, id, request.reason,
                  {{"department", request.writer.department_key}, {"origin", request.origin}, {"encoding", encoding},
                   {"file_size", size}, {"file_sm3", digest}, {"columns", columns}}});
    if (!recorded.ok()) return recorded.take_error();
    return id;
  });
  if (!started.ok()) return started.take_error();
  auto result = status(*started);
  if (result.ok()) result->resumed = *started != id;
  return result;
}

Result<ImportStatus> Imports::begin_upload(ImportRequest request, std::string_view contents,
                                           const std::filesystem::path& directory) {
  std::error_code ignored;
  std::filesystem::create_directories(directory, ignored);
  request.file = directory / (new_id("upload") + ".csv");
  request.origin = "upload";
  {
    std::ofstream out(request.file, std::ios::binary);
    out.write(contents.data(), static_cast<std::streamsize>(contents.size()));
    out.close();
    if (!out) {
      std::filesystem::remove(request.file, ignored);
      return Error(ErrorKind::unavailable, "registry.upload_not_kept", "the upload could not be stored");
    }
  }
  auto begun = begin(request);
  // A refused file is not kept; nor a second copy of contents already being imported.
  if (!begun.ok() || begun->resumed) std::filesystem::remove(request.file, ignored);
  return begun;
}

Result<ImportStatus> Imports::run(const std::string& id, const std::function<void(const ImportStatus&)>& progress,
                                  const std::atomic<bool>* stop) {
  struct Plan {
    std::string registry, department, account, reason, file, digest, encoding;
    std::int64_t size = 0, batch_rows = 0, offset = 0, line = 0;
    nlohmann::json columns;
  };
  auto loaded = database_.read_value<std::optional<Plan>>([&](store::Session& session) -> Result<std::optional<Plan>> {
    auto row = session.query_one(
        "SELECT registry, department, account, reason, file, file_digest, encoding, file_size, batch_rows, next_offset, "
        "next_line, columns, state FROM registry_import WHERE id = $1",
        {id});
    if (!row.ok()) return row.take_error();
    if (!row->has_value()) return std::optional<Plan>();
    const store::Row& r = **row;
    if (r.text(12) != "running") return std::optional<Plan>(Plan{});
    return std::optional<Plan>(Plan{r.text(0), r.text(1), r.text(2), r.text(3), r.text(4), r.text(5), r.text(6),
                                    r.integer(7), r.integer(8), r.integer(9), r.integer(10),
                                    nlohmann::json::parse(r.text(11))});
  });
  if (!loaded.ok()) return loaded.take_error();
  if (!loaded->has_value()) {
    return Error(ErrorKind::not_found, "registry.import_not_found", "no import " + id, {{"field", "id"}});
  }
  Plan plan = **loaded;
  if (plan.registry.empty()) return status(id);  // finished or failed already

  auto found = registries_.definition(plan.registry);
  if (!found.ok()) return found.take_error();
  const RegistryDefinition& definition = **found;
  auto encoding = parse_text_encoding(plan.encoding);
  if (!encoding.ok()) return encoding.take_error();
  std::vector<const FieldDefinition*> fields;
  for (const auto& column : plan.columns) fields.push_back(definition.field(column.get<std::string>()));
  for (const FieldDefinition* field : fields) {
    if (field == nullptr) return fail(id, Error::invalid("registry.unknown_field", "columns", "a column is no longer a field"));
  }
  // Each cell's place in a BatchRow: the key, or the value of a column other than the key.
  const std::size_t key_cell = static_cast<std::size_t>(
      std::find(fields.begin(), fields.end(), &definition.key_field()) - fields.begin());
  std::vector<const FieldDefinition*> value_columns;
  std::vector<std::size_t> value_of_cell(fields.size(), 0);
  for (std::size_t cell = 0; cell < fields.size(); ++cell) {
    if (cell == key_cell) continue;
    value_of_cell[cell] = value_columns.size();
    value_columns.push_back(fields[cell]);
  }

  // The file must still be the one begun with; a changed file would shift every offset.
  auto print = fingerprint(plan.file);
  if (!print.ok()) return fail(id, print.error());
  if (print->first != plan.size || print->second != plan.digest) {
    return fail(id, Error(ErrorKind::conflict, "registry.import_file_changed",
                          "the file " + plan.file + " changed since the import began", {{"field", "file"}}));
  }
  std::ifstream input(plan.file, std::ios::binary);
  if (!input) return fail(id, unreadable(plan.file));
  input.seekg(plan.offset);
  std::optional<CsvReader> reader(std::in_place, input, plan.line, plan.offset);
  const Writer writer{plan.account, plan.department};

  std::vector<std::string> cells;
  bool at_end = false;
  while (!at_end) {
    if (stop != nullptr && stop->load()) return status(id);
    std::vector<BatchRow> rows;
    rows.reserve(static_cast<std::size_t>(plan.batch_rows));
    std::vector<Rejection> rejected;  // rows refused before storage: the shape of the line
    // The keys of the batch in stored form, as views of the rows' own keys: `rows` has room for
    // the whole batch, so they never move.
    std::unordered_set<std::string_view> keys;
    keys.reserve(static_cast<std::size_t>(plan.batch_rows));
    const std::int64_t batch_offset = reader->offset();
    const std::int64_t first_line = reader->next_line();
    std::int64_t end_offset = batch_offset;  // the position after the last row of the batch
    std::int64_t end_line = first_line;
    std::int64_t read_count = 0;
    bool repeated_key = false;
    while (static_cast<std::int64_t>(rows.size() + rejected.size()) < plan.batch_rows) {
      auto more = reader->next(cells);
      if (!more.ok()) return fail(id, more.error());
      if (!*more) {
        at_end = true;
        break;
      }
      std::int64_t line = reader->line();
      if (cells.size() == 1 && cells[0].empty()) {  // a blank line, as at the end of many files
        end_offset = reader->offset();
        end_line = reader->next_line();
        continue;
      }
      if (cells.size() != fields.size()) {
        rejected.push_back({line, "line", "registry.import_columns",
                            "the row has " + std::to_string(cells.size()) + " cells; the header names " +
                                std::to_string(fields.size())});
      } else {
        BatchRow row;
        row.line = line;
        row.values.resize(value_columns.size());
        std::optional<Rejection> refusal;
        for (std::size_t i = 0; i < cells.size() && !refusal; ++i) {
          if (cells[i].empty()) continue;
          if (Status text = convert_to_utf8(cells[i], *encoding); !text.ok()) {
            refusal = Rejection{line, fields[i]->name, text.error().code, text.error().message};
          } else if (i == key_cell) {
            row.key = std::move(cells[i]);
          } else {
            row.values[value_of_cell[i]] = std::move(cells[i]);
          }
        }
        if (!refusal && row.key.empty()) {
          refusal = Rejection{line, definition.key, "registry.value_required", "the key " + definition.key + " is empty"};
        }
        if (refusal) {
          rejected.push_back(*refusal);
        } else {
          // Compared in stored form; write_batch() checks the key itself.
          row.key = Registries::key_form(definition, row.key);
          if (keys.contains(row.key)) {
            // A key again in one batch ends the batch before it: the row is read again by the
            // next batch and written as a change of the record the first row made.
            repeated_key = true;
            break;
          }
          rows.push_back(std::move(row));
          keys.insert(rows.back().key);
        }
      }
      read_count += 1;
      end_offset = reader->offset();
      end_line = reader->next_line();
    }
    if (rows.empty() && rejected.empty() && end_offset == batch_offset) break;

    std::string now = format_timestamp(clock_.now());
    Status committed = database_.write([&](store::Session& session) -> Status {
      // The position moves only from where this run found it: a second runner of the same
      // import finds it moved and stops, instead of writing rows twice.
      auto moved = session.execute(
          "UPDATE registry_import SET next_offset = $3, next_line = $4, updated_at = $5, rows_read = rows_read + $6 "
          "WHERE id = $1 AND next_offset = $2 AND state = 'running'",
          {id, batch_offset, end_offset, end_line, now, read_count});
      if (!moved.ok()) return moved.take_error();
      if (*moved != 1) {
        return Error(ErrorKind::conflict, "registry.import_moved", "another run of import " + id + " is writing it",
                     {{"field", "id"}});
      }
      BatchReceipt receipt;
      if (!rows.empty()) {
        auto written = registries_.write_batch(session, definition, value_columns, rows, plan.reason, writer,
                                               {{"import", id}, {"first_line", first_line}, {"last_line", end_line - 1}});
        if (!written.ok()) return written.take_error();
        receipt = std::move(written).value();
      }
      for (const Rejection& rejection : rejected) receipt.rejected.push_back(rejection);
      for (const Rejection& rejection : receipt.rejected) {
        auto inserted = session.execute(
            "INSERT INTO registry_import_rejection (import_id, line, field, code, message) VALUES ($1, $2, $3, $4, $5)",
            {id, rejection.line, rejection.field, rejection.code, rejection.message});
        if (!inserted.ok()) return inserted.take_error();
      }
      auto counted = session.execute(
          "UPDATE registry_import SET rows_created = rows_created + $2, rows_updated = rows_updated + $3, "
          "rows_rejected = rows_rejected + $4 WHERE id = $1",
          {id, receipt.created, receipt.updated, static_cast<std::int64_t>(receipt.rejected.size())});
      return counted.status();
    });
    if (!committed.ok()) {
      if (committed.error().code == "registry.import_moved") return committed.take_error();
      return fail(id, committed.error());
    }
    if (repeated_key) {
      input.clear();
      input.seekg(end_offset);
      reader.emplace(input, end_line, end_offset);
    }
    if (progress) {
      auto now_status = status(id);
      if (now_status.ok()) progress(*now_status);
    }
  }
  std::string now = format_timestamp(clock_.now());
  Status finished = database_.write([&](store::Session& session) -> Status {
    auto ended = session.execute(
        "UPDATE registry_import SET state = 'finished', finished_at = $2, updated_at = $2, next_offset = "
        "file_size WHERE id = $1 AND state = 'running'",
        {id, now});
    if (!ended.ok()) return ended.take_error();
    if (*ended == 0) return ok_status();  // another run finished it
    auto counts = session.query_one(
        "SELECT rows_read, rows_created, rows_updated, rows_rejected FROM registry_import WHERE id = $1", {id});
    if (!counts.ok()) return counts.take_error();
    return registries_.transparency_log()
        .record(session, {plan.account, "", "registry.import_finished", plan.registry, id, plan.reason,
                          {{"department", plan.department},
                           {"rows_read", (*counts)->integer(0)},
                           {"rows_created", (*counts)->integer(1)},
                           {"rows_updated", (*counts)->integer(2)},
                           {"rows_rejected", (*counts)->integer(3)}}})
        .status();
  });
  if (!finished.ok()) return finished.take_error();
  return status(id);
}

Error Imports::fail(const std::string& id, Error error) {
  std::string now = format_timestamp(clock_.now());
  Status recorded = database_.write([&](store::Session& session) -> Status {
    auto failed = session.query_one(
        "UPDATE registry_import SET state = 'failed', error = $2, finished_at = $3, updated_at = $3 WHERE id = $1 "
        "AND state = 'running' RETURNING account, registry, reason, department",
        {id, error.code + ": " + error.message, now});
    if (!failed.ok()) return failed.take_error();
    if (!failed->has_value()) return ok_status();
    return registries_.transparency_log()
        .record(session, {(*failed)->text(0), "", "registry.import_failed", (*failed)->text(1), id, (*failed)->text(2),
                          {{"department", (*failed)->text(3)}, {"error", error.code}}})
        .status();
  });
  // The import's own error matters more than one in recording it; a failed import still
  // shows as running then, and a later run fails it again.
  (void)recorded;
  return error;
}

Result<ImportStatus> Imports::status(const std::string& id, std::optional<std::string_view> department) const {
  return database_.read_value<ImportStatus>([&](store::Session& session) -> Result<ImportStatus> {
    auto row = session.query_one(std::string("SELECT ") + status_columns + " FROM registry_import WHERE id = $1", {id});
    if (!row.ok()) return row.take_error();
    if (!row->has_value() || (department && (*row)->text(2) != *department)) {
      return Error(ErrorKind::not_found, "registry.import_not_found", "no import " + id, {{"field", "id"}});
    }
    return status_from(**row);
  });
}

Result<std::string> Imports::rejections_csv(const std::string& id, std::optional<std::string_view> department) const {
  ONEWINDOW_TRY(status(id, department).status());
  return database_.read_value<std::string>([&](store::Session& session) -> Result<std::string> {
    std::string out = "\xEF\xBB\xBF";
    write_csv_record(out, {"line", "field", "code", "message"});
    Status listed = session.query_each(
        "SELECT line, field, code, message FROM registry_import_rejection WHERE import_id = $1 ORDER BY line", {id},
        [&](const store::Row& row) -> bool {
          write_csv_record(out, {std::to_string(row.integer(0)), row.text(1), row.text(2), row.text(3)});
          return true;
        });
    if (!listed.ok()) return listed.take_error();
    return out;
  });
}

Result<std::vector<ImportStatus>> Imports::unfinished(std::string_view origin) const {
  return database_.read_value<std::vector<ImportStatus>>([&](store::Session& session) -> Result<std::vector<ImportStatus>> {
    auto rows = session.query(std::string("SELECT ") + status_columns +
                                  " FROM registry_import WHERE state = 'running' AND origin = $1 ORDER BY started_at",
                              {std::string(origin)});
    if (!rows.ok()) return rows.take_error();
    std::vector<ImportStatus> list;
    for (const store::Row& row : *rows) list.push_back(status_from(row));
    return list;
  });
}

ImportQueue::ImportQueue(Imports& imports) : imports_(imports), thread_([this] { work(); }) {}

ImportQueue::~ImportQueue() {
  {
    std::lock_guard lock(mutex_);
    stop_ = true;
  }
  wake_.notify_all();
  thread_.join();
}

void ImportQueue::submit(const std::string& id) {
  {
    std::lock_guard lock(mutex_);
    waiting_.push_back(id);
  }
  wake_.notify_all();
}

void ImportQueue::work() {
  while (true) {
    std::string id;
    {
      std::unique_lock lock(mutex_);
      wake_.wait(lock, [&] { return stop_ || !waiting_.empty(); });
      if (stop_) return;
      id = std::move(waiting_.front());
      waiting_.pop_front();
    }
    // The outcome is kept with the import (state and error), where its owner reads it.
    auto ran = imports_.run(id, {}, &stop_);
    if (!ran.ok()) log::warn("import " + id + " stopped: " + ran.error().code);
    // An upload is kept only while its import may still resume.
    auto ended = imports_.status(id);
    if (ended.ok() && ended->origin == "upload" && ended->state != "running") {
      std::error_code ignored;
      std::filesystem::remove(ended->file, ignored);
    }
  }
}

}  // namespace onewindow::registry
