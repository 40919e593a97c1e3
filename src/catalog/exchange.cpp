// The exchange: reads of registry records through grants, each recorded with the hashes of what
// was asked and answered; see catalog.h.
#include "catalog/catalog.h"
#include "catalog/internal.h"

#include "crypto/crypto.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <condition_variable>
#include <map>
#include <thread>
#include <tuple>

namespace onewindow::catalog {

namespace {

constexpr std::size_t most_keys_per_read = 100;
// One transaction records at most this many reads, or reads of this many keys in all (the first
// read of a group whatever its size), so that the first read of a group does not wait long for
// the last.
constexpr std::size_t most_reads_per_commit = 64;
constexpr std::size_t most_keys_per_commit = 1000;

// One row per record read, append-only, found by the record it is about (who read my data): no
// key of its own and no other index, so that recording a read writes as few pages as it can.
// read_on is the read's date in China Standard Time, which the share statistics count by.
constexpr const char* schema_v1 = R"(
    CREATE TABLE exchange_read (
      log_index BIGINT NOT NULL,
      record_key TEXT NOT NULL,
      registry TEXT NOT NULL,
      read_at TEXT NOT NULL,
      read_on TEXT NOT NULL,
      consumer TEXT NOT NULL,
      account TEXT NOT NULL,
      resource_code TEXT NOT NULL,
      grant_id TEXT NOT NULL,
      items TEXT NOT NULL,
      purpose TEXT NOT NULL,
      legal_basis TEXT NOT NULL);
    CREATE INDEX exchange_read_record ON exchange_read (registry, record_key, read_at);
    CREATE TABLE exchange_bulk_read (
      log_index BIGINT PRIMARY KEY,
      registry TEXT NOT NULL,
      read_at TEXT NOT NULL,
      read_on TEXT NOT NULL,
      consumer TEXT NOT NULL,
      account TEXT NOT NULL,
      resource_code TEXT NOT NULL,
      grant_id TEXT NOT NULL,
      items TEXT NOT NULL,
      purpose TEXT NOT NULL,
      legal_basis TEXT NOT NULL,
      records BIGINT NOT NULL);
    CREATE INDEX exchange_bulk_read_registry ON exchange_bulk_read (registry, read_at);
)";

// Reads are indexed from the log behind them (Exchange::index_reads) rather than with each read,
// which then writes its log entry alone: every entry before exchange_read_indexed.log_size has
// been looked at. The mark starts at the log's size when this runs, read from the log's own
// table once: the reads before it have their rows already, and a migration has no log to ask.
// What a read was (who, why, which items) stays in its log entry; the index holds only what
// finds it: the log index of each record read (who read my data), and counts by day, consumer
// and resource (share statistics). The rows of version 1 become those.
constexpr std::string_view read_index_v2 = R"(
    CREATE TABLE exchange_read_count (
      read_on TEXT NOT NULL,
      consumer TEXT NOT NULL,
      resource_code TEXT NOT NULL,
      reads BIGINT NOT NULL,
      records BIGINT NOT NULL,
      PRIMARY KEY (read_on, consumer, resource_code));
    INSERT INTO exchange_read_count (read_on, consumer, resource_code, reads, records)
      SELECT read_on, consumer, resource_code, COUNT(DISTINCT log_index), COUNT(*) FROM exchange_read
      GROUP BY read_on, consumer, resource_code;
    INSERT INTO exchange_read_record (registry, record_key, log_index)
      SELECT DISTINCT registry, record_key, log_index FROM exchange_read;
    DROP TABLE exchange_read;
    CREATE TABLE exchange_read_indexed (
      id INTEGER PRIMARY KEY CHECK (id = 1),
      log_size BIGINT NOT NULL);
    INSERT INTO exchange_read_indexed (id, log_size) SELECT 1, COALESCE(MAX(entry_index) + 1, 0) FROM audit_entry;
)";
// A row of the record index is a key and a number: on SQLite the table is its own index.
const std::string schema_v2 = std::string(R"(
    DROP INDEX exchange_read_record;
    CREATE TABLE exchange_read_record (
      registry TEXT NOT NULL,
      record_key TEXT NOT NULL,
      log_index BIGINT NOT NULL,
      PRIMARY KEY (registry, record_key, log_index)) WITHOUT ROWID;)") + std::string(read_index_v2);
const std::string postgresql_schema_v2 = std::string(R"(
    DROP INDEX exchange_read_record;
    CREATE TABLE exchange_read_record (
      registry TEXT NOT NULL,
      record_key TEXT NOT NULL,
      log_index BIGINT NOT NULL,
      PRIMARY KEY (registry, record_key, log_index));)") + std::string(read_index_v2);

// Log entries looked at per transaction of the indexer.
constexpr std::int64_t entries_per_index_batch = 2000;

// SM3 in hex, by a hasher kept per thread: setting up OpenSSL's digest context costs as much as
// hashing a short text, and every read hashes two.
std::string sm3_hex(std::string_view text) {
  thread_local crypto::Sm3Hasher hasher;
  hasher.update(text);
  return crypto::to_hex(hasher.finish());
}

// For canonical JSON objects written member by member, names in sorted order and needing no
// escapes: the member's name, after a comma unless it is the first.
void append_name(std::string& out, std::string_view name) {
  out += out.back() == '{' ? "\"" : ",\"";
  out.append(name).append("\":");
}

// The canonical JSON of a list of strings.
Status append_list(const std::vector<std::string>& texts, std::string& out) {
  out += '[';
  for (const std::string& text : texts) {
    if (out.back() != '[') out += ',';
    ONEWINDOW_TRY(audit::append_canonical_string(text, out));
  }
  out += ']';
  return ok_status();
}

// Whether an error fails the transaction of a group of reads rather than refusing one of them: a
// failed statement (after which PostgreSQL refuses the rest of the transaction). The refusals
// (no grant, an unknown item, a malformed key, an act the log refuses) come before the read
// writes anything.
bool fails_transaction(const Error& error) { return error.code.starts_with("store."); }

Error bad_read_entry(std::int64_t log_index, const std::string& what) {
  return Error(ErrorKind::internal, "catalog.bad_read_entry",
               "log entry " + std::to_string(log_index) + " of a read cannot be indexed: " + what,
               {{"log_index", log_index}});
}

// The index's mark: the log entries before it have been looked at. On PostgreSQL, held to the
// commit when `held`, so that two nodes on one database do not write the same batch twice;
// SQLite has one writer anyway.
Result<std::int64_t> indexed_size(store::Session& session, bool held) {
  auto mark = session.query_one(held && session.backend() == store::Backend::postgresql
                                    ? "SELECT log_size FROM exchange_read_indexed WHERE id = 1 FOR UPDATE"
                                    : "SELECT log_size FROM exchange_read_indexed WHERE id = 1");
  if (!mark.ok()) return mark.take_error();
  if (!mark->has_value()) {
    return Error(ErrorKind::internal, "catalog.index_missing", "the row of exchange_read_indexed is missing");
  }
  return (*mark)->integer(0);
}

// A read by key as its log entry tells it.
struct LoggedRead {
  std::int64_t log_index = 0;
  std::string read_at;  // the entry's time
  std::chrono::system_clock::time_point read_at_time;
  std::string consumer;
  std::string resource_code;
  std::string registry;  // empty in entries from before it was logged
  nlohmann::json items;
  std::string purpose;
  std::string legal_basis;
  std::vector<std::string> keys_found;  // the keys named, but those missing
};

Result<LoggedRead> logged_read(std::int64_t log_index, const std::string& content) {
  nlohmann::json entry = nlohmann::json::parse(content, nullptr, false);
  if (entry.is_discarded() || !entry.is_object()) return bad_read_entry(log_index, "it is not a JSON object");
  try {
    const nlohmann::json& details = entry.at("details");
    auto text = [](const nlohmann::json& object, const char* name) { return object.at(name).get<std::string>(); };
    LoggedRead read{log_index, text(entry, "time")};
    auto time = parse_timestamp(read.read_at);
    if (!time.ok()) return bad_read_entry(log_index, "its time " + read.read_at + " is not a timestamp");
    read.read_at_time = *time;
    read.consumer = text(details, "consumer");
    read.resource_code = text(details, "resource");
    read.registry = details.value("registry", "");
    read.items = details.at("items");
    read.purpose = text(details, "purpose");
    read.legal_basis = text(entry, "basis");
    const nlohmann::json missing = details.value("missing", nlohmann::json::array());
    for (const nlohmann::json& key : details.at("keys")) {
      if (std::find(missing.begin(), missing.end(), key) == missing.end()) read.keys_found.push_back(key.get<std::string>());
    }
    return read;
  } catch (const nlohmann::json::exception& error) {
    return bad_read_entry(log_index, error.what());
  }
}

}  // namespace

Result<std::string> sm3_of_canonical(const nlohmann::json& value) {
  auto text = audit::canonical_json(value);
  if (!text.ok()) return text.take_error();
  return sm3_hex(*text);
}

Result<Allowed> allowed(store::Session& session, const Catalog& catalog, std::string_view resource_id,
                        const std::vector<std::string>& named_items, const Consumer& consumer) {
  auto shared = catalog.shared_resource(session, resource_id);
  if (!shared.ok()) return shared.take_error();
  const Resource* resource = shared->get();
  if (resource->registry.empty()) {
    return Error::invalid("catalog.not_a_registry", "resource_id",
                          "resource " + resource->code + " is not a registry: its records are not read through the exchange");
  }
  for (auto item = named_items.begin(); item != named_items.end(); ++item) {
    if (!resource->item(*item)) {
      return Error(ErrorKind::invalid_argument, "catalog.unknown_item", "the resource has no data item " + *item,
                   {{"field", "items"}, {"item", *item}});
    }
    // A resource has a few dozen items at most: looking back costs less than a set.
    if (std::find(named_items.begin(), item, *item) != item) {
      return Error::invalid("catalog.bad_field", "items", "the data item " + *item + " is named twice");
    }
  }
  // No items named: the newest current grant, and every item it covers.
  auto grant = catalog.check_grant(session, consumer.department_key, resource->id, named_items);
  if (!grant.ok()) return grant.take_error();
  std::vector<std::string> items = named_items.empty() ? grant->items : named_items;
  return Allowed{std::move(shared).value(), std::move(items), std::move(grant).value()};
}

Exchange::Exchange(store::Database& database, audit::TransparencyLog& log, const Catalog& catalog,
                   const registry::Registries& registries, const Clock& clock)
    : database_(database), log_(log), catalog_(catalog), registries_(registries), clock_(clock) {}

Exchange::~Exchange() { stop_indexing(); }

std::vector<store::Migration> Exchange::migrations() {
  return {{"exchange", 1, "reads of records, for the people they are about", schema_v1, ""},
          {"exchange", 2, "reads of records indexed from the log", schema_v2, postgresql_schema_v2}};
}

static nlohmann::json only(const nlohmann::json& fields, const std::vector<std::string>& items) {
  nlohmann::json kept = nlohmann::json::object();
  for (const std::string& item : items) {
    auto value = fields.find(item);
    if (value != fields.end()) kept[item] = *value;
  }
  return kept;
}

// A read by key waiting to be recorded. The first in line records itself and those behind it in
// one transaction and hands each its answer (a group commit, as LevelDB's writers do): the
// commit, its log writes and its locks are paid once for all the reads that waited for it.
struct Exchange::PendingRead {
  PendingRead(const ReadRequest& request, const Consumer& consumer) : request(request), consumer(consumer) {}
  const ReadRequest& request;
  const Consumer& consumer;
  std::optional<Result<nlohmann::json>> answer;  // set once committed, or refused
  std::shared_ptr<const Resource> resource;       // for share_counts(), once committed
  std::int64_t records_read = 0;
  bool done = false;             // the answer is final
  std::condition_variable turn;  // done, or first in line
};

// A read checked and its records read and hashed, not yet recorded.
struct Exchange::CheckedRead {
  Allowed allowed;
  std::vector<std::string> keys;  // in their stored form
  std::vector<std::size_t> found;  // the keys with a record, by position
  nlohmann::json records = nlohmann::json::array();
  std::string items_text;  // canonical JSON of the items, as they are logged and stored
  std::string keys_text;
  std::string request_hash;
  std::string response_hash;
};

Result<nlohmann::json> Exchange::read(const ReadRequest& request, const Consumer& consumer) {
  if (request.keys.empty() || request.keys.size() > most_keys_per_read) {
    return Error::invalid("catalog.bad_field", "keys", "a read names 1 to 100 record keys");
  }
  PendingRead mine(request, consumer);
  if (database_.backend() == store::Backend::postgresql) {
    // PostgreSQL runs transactions side by side, and flushes its log for commits made at once by
    // itself: a line there only kept reads waiting for each other's statements (eight threads on
    // the tests' throwaway cluster: 1,300-1,500 reads/s in line, 1,800-2,400 each on its own).
    PendingRead* alone = &mine;
    record_together({&alone, 1});
    return std::move(*mine.answer);
  }
  // SQLite has one writer: reads wait for each other anyway, and waiting in line lets one commit
  // serve all of them (BM_Exchange_Read_Synced, eight threads: 270 reads/s each committing on its
  // own, 6,400 in line).
  std::unique_lock lock(pending_mutex_);
  pending_.push_back(&mine);
  mine.turn.wait(lock, [&] { return mine.done || pending_.front() == &mine; });
  if (mine.done) return std::move(*mine.answer);

  // First in line: this read and those waiting behind it, within bounds that keep the first of
  // them from waiting long for the last.
  std::vector<PendingRead*> group;
  std::size_t keys = 0;
  for (PendingRead* read : pending_) {
    keys += read->request.keys.size();
    if (!group.empty() && (group.size() == most_reads_per_commit || keys > most_keys_per_commit)) break;
    group.push_back(read);
  }
  lock.unlock();
  // Whatever happens, the group leaves the line with an answer each, and the next in line goes on.
  struct Release {
    Exchange& exchange;
    const std::vector<PendingRead*>& group;
    ~Release() {
      std::lock_guard lock(exchange.pending_mutex_);
      for (PendingRead* read : group) {
        if (!read->answer) {
          read->answer.emplace(Error(ErrorKind::internal, "catalog.read_failed",
                                     "the read was not recorded: recording its group failed"));
        }
        read->done = true;
        exchange.pending_.pop_front();
        read->turn.notify_one();
      }
      if (!exchange.pending_.empty()) exchange.pending_.front()->turn.notify_one();
    }
  };
  {
    Release release{*this, group};
    record_together(group);
  }
  return std::move(*mine.answer);
}

void Exchange::record_together(std::span<PendingRead* const> reads) {
  std::vector<std::optional<Result<nlohmann::json>>> answers(reads.size());
  Status committed = database_.write([&](store::Session& session) -> Status {
    // Every read checked and its records read first, then all recorded: on PostgreSQL the log's
    // appenders wait for each other from the first entry to the commit.
    std::vector<std::optional<CheckedRead>> checked(reads.size());
    for (std::size_t i = 0; i < reads.size(); ++i) {
      auto read = check_read(session, *reads[i]);
      if (read.ok()) {
        checked[i].emplace(std::move(read).value());
      } else if (fails_transaction(read.error())) {
        return read.take_error();
      } else {
        answers[i].emplace(read.take_error());
      }
    }
    for (std::size_t i = 0; i < reads.size(); ++i) {
      if (checked[i]) ONEWINDOW_TRY(record_read(session, *reads[i], *checked[i], answers[i]));
    }
    return ok_status();
  });
  if (committed.ok()) {
    for (std::size_t i = 0; i < reads.size(); ++i) {
      PendingRead& read = *reads[i];
      read.answer = std::move(answers[i]);
      if (read.answer->ok()) {
        count(read.resource->provider, read.resource->code, read.consumer, 1, 0, read.records_read);
        unindexed_reads_.fetch_add(1, std::memory_order_relaxed);
      }
    }
    return;
  }
  if (reads.size() == 1) {
    reads[0]->answer.emplace(committed.take_error());
    return;
  }
  // Nothing of the group stands. Each read again in a transaction of its own, so that what failed
  // is only its own read's answer.
  for (PendingRead* read : reads) record_together({&read, 1});
}

Result<Exchange::CheckedRead> Exchange::check_read(store::Session& session, const PendingRead& pending) const {
  const ReadRequest& request = pending.request;
  const Consumer& consumer = pending.consumer;
  auto permitted = allowed(session, catalog_, request.resource_id, request.items, consumer);
  if (!permitted.ok()) return permitted.take_error();
  CheckedRead read{std::move(permitted).value()};
  const Resource& resource = *read.allowed.resource;
  const std::vector<std::string>& items = read.allowed.items;
  auto definition = registries_.definition(resource.registry);
  if (!definition.ok()) return definition.take_error();

  read.keys.reserve(request.keys.size());
  for (const std::string& key : request.keys) read.keys.push_back(registry::Registries::key_form(**definition, key));
  const registry::Reader reader{consumer.department_key, resource.share_type == ShareType::conditional};
  for (std::size_t i = 0; i < read.keys.size(); ++i) {
    const std::string& key = read.keys[i];
    auto record = registries_.read(session, resource.registry, key, reader);
    nlohmann::json answered = nlohmann::json::object();
    answered["key"] = key;
    if (record.ok()) {
      answered["fields"] = only((*record)["fields"], items);
      read.found.push_back(i);
    } else if (record.error().code == "registry.record_not_found") {
      answered["error"] = "registry.record_not_found";
    } else {
      return record.take_error();
    }
    read.records.push_back(std::move(answered));
  }

  // The request's canonical JSON written as it is, rather than built as an object first.
  ONEWINDOW_TRY(append_list(items, read.items_text));
  ONEWINDOW_TRY(append_list(read.keys, read.keys_text));
  std::string asked = "{";
  append_name(asked, "consumer");
  ONEWINDOW_TRY(audit::append_canonical_string(consumer.department_key, asked));
  append_name(asked, "items");
  asked += read.items_text;
  append_name(asked, "keys");
  asked += read.keys_text;
  append_name(asked, "resource");
  ONEWINDOW_TRY(audit::append_canonical_string(resource.code, asked));
  asked += '}';
  read.request_hash = sm3_hex(asked);
  std::string answered;
  ONEWINDOW_TRY(audit::append_canonical_json(read.records, answered));
  read.response_hash = sm3_hex(answered);
  return read;
}

Status Exchange::record_read(store::Session& session, PendingRead& pending, CheckedRead& read,
                             std::optional<Result<nlohmann::json>>& answer) {
  const Consumer& consumer = pending.consumer;
  const Resource& resource = *read.allowed.resource;
  const Grant& grant = read.allowed.grant;
  audit::Act act{consumer.account_id, "", "exchange.read", "catalog_resource", resource.id, grant.legal_basis};
  // The details' canonical text written as it is, members in sorted order (the tests compare it
  // with audit::canonical_json of the entry).
  std::string& details = act.canonical_details;
  details.reserve(read.keys_text.size() + grant.purpose.size() + 256);
  details = "{";
  append_name(details, "consumer");
  ONEWINDOW_TRY(audit::append_canonical_string(consumer.department_key, details));
  append_name(details, "grant");
  ONEWINDOW_TRY(audit::append_canonical_string(grant.id, details));
  append_name(details, "items");
  details += read.items_text;
  append_name(details, "keys");
  details += read.keys_text;
  if (read.found.size() < read.keys.size()) {
    append_name(details, "missing");
    details += '[';
    for (std::size_t i = 0, next_found = 0; i < read.keys.size(); ++i) {
      if (next_found < read.found.size() && read.found[next_found] == i) {
        ++next_found;
        continue;
      }
      if (details.back() != '[') details += ',';
      ONEWINDOW_TRY(audit::append_canonical_string(read.keys[i], details));
    }
    details += ']';
  }
  append_name(details, "purpose");
  ONEWINDOW_TRY(audit::append_canonical_string(grant.purpose, details));
  append_name(details, "registry");
  ONEWINDOW_TRY(audit::append_canonical_string(resource.registry, details));
  append_name(details, "request_hash");
  details.append("\"").append(read.request_hash).append("\"");
  append_name(details, "resource");
  ONEWINDOW_TRY(audit::append_canonical_string(resource.code, details));
  append_name(details, "response_hash");
  details.append("\"").append(read.response_hash).append("\"");
  details += '}';
  auto recorded = log_.record(session, act);
  if (!recorded.ok()) {
    if (fails_transaction(recorded.error())) return recorded.take_error();
    answer.emplace(recorded.take_error());
    return ok_status();
  }

  // The entry is written, and with it the read: the rows for reads_of follow from the log
  // (index_reads), off the read's path.
  pending.resource = read.allowed.resource;
  pending.records_read = static_cast<std::int64_t>(read.found.size());

  nlohmann::json receipt = nlohmann::json::object();
  receipt["log_index"] = recorded->index;
  receipt["request_hash"] = std::move(read.request_hash);
  receipt["response_hash"] = std::move(read.response_hash);
  receipt["read_at"] = recorded->time;
  nlohmann::json answered = nlohmann::json::object();
  answered["resource"] = resource.code;
  answered["grant"] = grant.id;
  answered["records"] = std::move(read.records);
  answered["receipt"] = std::move(receipt);
  answer.emplace(std::move(answered));
  return ok_status();
}

Result<BulkRead> Exchange::begin_bulk_read(std::string_view resource_id, const std::vector<std::string>& items,
                                           const Consumer& consumer) {
  auto permitted = database_.read_value<Allowed>(
      [&](store::Session& session) { return allowed(session, catalog_, resource_id, items, consumer); });
  if (!permitted.ok()) return permitted.take_error();
  BulkRead read{*permitted->resource, std::move(permitted->grant), std::move(permitted->items), consumer, "", 0};
  auto request_hash = sm3_of_canonical(
      {{"resource", read.resource.code}, {"consumer", consumer.department_key}, {"items", read.items}, {"bulk", true}});
  if (!request_hash.ok()) return request_hash.take_error();
  read.request_hash = *request_hash;
  auto receipt = database_.write_value<audit::Receipt>([&](store::Session& session) {
    return log_.record(session, {consumer.account_id, "", "exchange.bulk_read_begun", "catalog_resource", read.resource.id,
                                 read.grant.legal_basis,
                                 {{"resource", read.resource.code},
                                  {"consumer", consumer.department_key},
                                  {"grant", read.grant.id},
                                  {"purpose", read.grant.purpose},
                                  {"items", read.items},
                                  {"request_hash", read.request_hash}}});
  });
  if (!receipt.ok()) return receipt.take_error();
  read.begun_log_index = receipt->index;
  return read;
}

Status Exchange::run_bulk_read(const BulkRead& read, const std::function<bool(std::string_view)>& write) {
  const registry::Reader reader{read.consumer.department_key, read.resource.share_type == ShareType::conditional};
  crypto::Sm3Hasher hasher;
  std::int64_t records = 0;
  bool client_gone = false;
  std::string line;
  ONEWINDOW_TRY(registries_.scan(read.resource.registry, reader, [&](const std::string& key, const nlohmann::json& fields) {
    line = nlohmann::json{{"key", key}, {"fields", only(fields, read.items)}}.dump();
    line += '\n';
    hasher.update(line);
    ++records;
    if (!write(line)) {
      client_gone = true;
      return false;
    }
    return true;
  }));
  if (client_gone) return Error(ErrorKind::unavailable, "exchange.client_gone", "the client went away during the bulk read");
  std::string response_hash = crypto::to_hex(hasher.finish());
  std::string now = format_timestamp(clock_.now());
  nlohmann::json item_list = read.items;
  auto receipt = database_.write_value<audit::Receipt>([&](store::Session& session) -> Result<audit::Receipt> {
    auto recorded = log_.record(session, {read.consumer.account_id, "", "exchange.bulk_read", "catalog_resource",
                                          read.resource.id, read.grant.legal_basis,
                                          {{"resource", read.resource.code},
                                           {"consumer", read.consumer.department_key},
                                           {"grant", read.grant.id},
                                           {"items", item_list},
                                           {"begun", read.begun_log_index},
                                           {"records", records},
                                           {"request_hash", read.request_hash},
                                           {"response_hash", response_hash}}});
    if (!recorded.ok()) return recorded.take_error();
    ONEWINDOW_TRY(session
                      .execute("INSERT INTO exchange_bulk_read (log_index, registry, read_at, read_on, consumer, account, "
                               "resource_code, grant_id, items, purpose, legal_basis, records) "
                               "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
                               {recorded->index, read.resource.registry, now, local_date(clock_.now()).to_string(),
                                read.consumer.department_key,
                                read.consumer.account_id, read.resource.code, read.grant.id, item_list.dump(),
                                read.grant.purpose, read.grant.legal_basis, records})
                      .status());
    return *recorded;
  });
  if (!receipt.ok()) return receipt.take_error();
  count(read.resource.provider, read.resource.code, read.consumer, 0, 1, records);
  nlohmann::json trailer = {{"receipt",
                             {{"log_index", receipt->index},
                              {"begun_log_index", read.begun_log_index},
                              {"request_hash", read.request_hash},
                              {"response_hash", response_hash},
                              {"records", records},
                              {"read_at", receipt->time}}}};
  write(trailer.dump() + "\n");
  return ok_status();
}

Result<std::int64_t> Exchange::index_reads() {
  std::lock_guard lock(index_mutex_);
  std::int64_t looked_at = 0;
  while (true) {
    // The entries are read and made sense of in a read transaction, beside the reads being made;
    // the writer is held only to write their rows.
    struct Batch {
      std::int64_t from = 0;
      std::int64_t end = 0;  // the entries before it are indexed once the batch is written
      std::vector<LoggedRead> reads;
      std::optional<Error> stopped;  // at an entry that cannot be indexed, once those before it are
    };
    auto batch = database_.read_value<Batch>([&](store::Session& session) -> Result<Batch> {
      auto mark = indexed_size(session, false);
      if (!mark.ok()) return mark.take_error();
      auto size = audit::TransparencyLog::size(session);
      if (!size.ok()) return size.take_error();
      Batch read{*mark, std::max(*mark, std::min(*mark + entries_per_index_batch, *size))};
      auto entries = audit::TransparencyLog::entries_of(session, "exchange.read", read.from, read.end);
      if (!entries.ok()) return entries.take_error();
      for (const audit::Entry& entry : *entries) {
        auto logged = logged_read(entry.index, entry.content);
        if (logged.ok() && logged->registry.empty()) logged = bad_read_entry(entry.index, "it names no registry");
        if (!logged.ok()) {
          read.stopped.emplace(logged.take_error());
          read.end = entry.index;
          break;
        }
        read.reads.push_back(std::move(logged).value());
      }
      return read;
    });
    if (!batch.ok()) return batch.take_error();
    if (batch->end == batch->from) {
      if (batch->stopped) return std::move(*batch->stopped);
      return looked_at;
    }
    std::map<std::tuple<std::string, std::string, std::string>, std::pair<std::int64_t, std::int64_t>> counts;
    for (const LoggedRead& read : batch->reads) {
      auto& [reads, records] = counts[{local_date(read.read_at_time).to_string(), read.consumer, read.resource_code}];
      reads += 1;
      records += static_cast<std::int64_t>(read.keys_found.size());
    }
    auto written = database_.write_value<bool>([&](store::Session& session) -> Result<bool> {
      // Written only from where the batch was read.
      auto mark = indexed_size(session, true);
      if (!mark.ok()) return mark.take_error();
      if (*mark != batch->from) return false;
      for (const LoggedRead& read : batch->reads) {
        for (const std::string& key : read.keys_found) {
          ONEWINDOW_TRY(session
                            .execute("INSERT INTO exchange_read_record (registry, record_key, log_index) VALUES ($1, $2, $3)",
                                     {read.registry, key, read.log_index})
                            .status());
        }
      }
      for (const auto& [key, counted] : counts) {
        const auto& [day, consumer, resource_code] = key;
        ONEWINDOW_TRY(session
                          .execute("INSERT INTO exchange_read_count (read_on, consumer, resource_code, reads, records) "
                                   "VALUES ($1, $2, $3, $4, $5) ON CONFLICT (read_on, consumer, resource_code) DO UPDATE "
                                   "SET reads = exchange_read_count.reads + excluded.reads, "
                                   "records = exchange_read_count.records + excluded.records",
                                   {day, consumer, resource_code, counted.first, counted.second})
                          .status());
      }
      ONEWINDOW_TRY(session.execute("UPDATE exchange_read_indexed SET log_size = $1 WHERE id = 1", {batch->end}).status());
      return true;
    });
    if (!written.ok()) return written.take_error();
    // Not written: another node indexed from there first, and the next batch starts after it.
    if (*written) looked_at += batch->end - batch->from;
    if (batch->stopped && *written) return std::move(*batch->stopped);
  }
}

Result<std::int64_t> Exchange::index_backlog() const {
  return database_.read_value<std::int64_t>([](store::Session& session) -> Result<std::int64_t> {
    auto mark = indexed_size(session, false);
    if (!mark.ok()) return mark.take_error();
    auto size = audit::TransparencyLog::size(session);
    if (!size.ok()) return size.take_error();
    return std::max<std::int64_t>(0, *size - *mark);
  });
}

void Exchange::start_indexing(std::chrono::milliseconds interval) {
  std::lock_guard lock(indexer_mutex_);
  if (indexer_.joinable()) return;
  stopping_ = false;
  // A first look at start: the reads logged before a crash, after the last batch, are indexed
  // without waiting for the next read.
  unindexed_reads_.fetch_add(1, std::memory_order_relaxed);
  indexer_ = std::thread([this, interval] {
    // After a failure, a minute before the next try: an entry that cannot be indexed stays so
    // until it is mended, and says so once a minute rather than five times a second.
    constexpr std::chrono::minutes after_failure{1};
    std::chrono::milliseconds wait = interval;
    std::unique_lock lock(indexer_mutex_);
    while (!indexer_woken_.wait_for(lock, wait, [this] { return stopping_; })) {
      wait = interval;
      if (unindexed_reads_.exchange(0, std::memory_order_relaxed) == 0) continue;
      lock.unlock();
      auto indexed = index_reads();
      if (!indexed.ok()) {
        unindexed_reads_.fetch_add(1, std::memory_order_relaxed);
        wait = after_failure;
        spdlog::warn("indexing the exchange's reads: {} ({}); trying again in a minute", indexed.error().message,
                     indexed.error().code);
      }
      lock.lock();
    }
  });
}

void Exchange::stop_indexing() {
  {
    std::lock_guard lock(indexer_mutex_);
    stopping_ = true;
  }
  indexer_woken_.notify_all();
  if (indexer_.joinable()) indexer_.join();
}

void Exchange::count(const std::string& provider, const std::string& resource_code, const Consumer& consumer,
                     std::int64_t reads, std::int64_t bulk_reads, std::int64_t records) {
  std::lock_guard lock(counts_mutex_);
  ShareCount& counted = counts_[{provider, consumer.department_key, resource_code}];
  counted.reads += reads;
  counted.bulk_reads += bulk_reads;
  counted.records += records;
}

std::map<std::tuple<std::string, std::string, std::string>, Exchange::ShareCount> Exchange::share_counts() const {
  std::lock_guard lock(counts_mutex_);
  return counts_;
}

Result<nlohmann::json> Exchange::reads_of(std::string_view registry_name, std::string_view key, ReadsPage page) {
  if (page.limit < 1 || page.limit > 1000) return Error::invalid("catalog.bad_field", "limit", "limit is 1 to 1000");
  if (page.before < 0) return Error::invalid("catalog.bad_field", "before", "before is a log index, 0 or more");
  ONEWINDOW_TRY(index_reads().status());
  auto definition = registries_.definition(registry_name);
  if (!definition.ok()) return definition.take_error();
  std::string stored = registry::Registries::key_form(**definition, key);
  return database_.read_value<nlohmann::json>([&](store::Session& session) -> Result<nlohmann::json> {
    // One more than a page from each of the two sources: a source that has more than a page may
    // hold reads older than the last one it gave, so the page stops above that one.
    const std::int64_t fetched = page.limit + 1;
    auto found = session.query(
        "SELECT log_index FROM exchange_read_record WHERE registry = $1 AND record_key = $2 AND log_index < $3 "
        "ORDER BY log_index DESC LIMIT $4",
        {std::string(registry_name), stored, page.before, fetched});
    if (!found.ok()) return found.take_error();
    auto bulk = session.query(
        "SELECT read_at, consumer, items, purpose, legal_basis, resource_code, log_index FROM exchange_bulk_read "
        "WHERE registry = $1 AND log_index < $2 ORDER BY log_index DESC LIMIT $3",
        {std::string(registry_name), page.before, fetched});
    if (!bulk.ok()) return bulk.take_error();
    std::int64_t cutoff = -1;  // only reads above it belong to this page
    if (static_cast<std::int64_t>(found->size()) == fetched) cutoff = std::max(cutoff, found->back().integer(0));
    if (static_cast<std::int64_t>(bulk->size()) == fetched) cutoff = std::max(cutoff, bulk->back().integer(6));

    std::vector<std::int64_t> indexes;
    indexes.reserve(found->size());
    for (const auto& row : *found) {
      if (row.integer(0) > cutoff) indexes.push_back(row.integer(0));
    }
    // Each read as its log entry tells it: the index only finds the entries.
    auto entries = audit::TransparencyLog::entries_at(session, indexes);
    if (!entries.ok()) return entries.take_error();
    std::vector<nlohmann::json> reads;
    for (const audit::Entry& entry : *entries) {
      auto read = logged_read(entry.index, entry.content);
      if (!read.ok()) return read.take_error();
      reads.push_back({{"read_at", read->read_at},
                       {"department", read->consumer},
                       {"items", read->items},
                       {"purpose", read->purpose},
                       {"legal_basis", read->legal_basis},
                       {"resource", read->resource_code},
                       {"log_index", read->log_index},
                       {"bulk", false}});
    }
    for (const auto& row : *bulk) {
      if (row.integer(6) <= cutoff) continue;
      // A bulk read read this record when the record existed then.
      auto then = parse_timestamp(row.text(0));
      if (!then.ok()) continue;
      if (!registries_.read(session, registry_name, stored, {row.text(1)}, *then).ok()) continue;
      reads.push_back({{"read_at", row.text(0)},
                       {"department", row.text(1)},
                       {"items", nlohmann::json::parse(row.text(2))},
                       {"purpose", row.text(3)},
                       {"legal_basis", row.text(4)},
                       {"resource", row.text(5)},
                       {"log_index", row.integer(6)},
                       {"bulk", true}});
    }
    // Newest first: log indexes follow the order in which reads were recorded.
    std::sort(reads.begin(), reads.end(), [](const nlohmann::json& a, const nlohmann::json& b) {
      return a["log_index"].get<std::int64_t>() > b["log_index"].get<std::int64_t>();
    });
    nlohmann::json next_before = nullptr;
    if (static_cast<std::int64_t>(reads.size()) > page.limit) {
      reads.resize(static_cast<std::size_t>(page.limit));
      next_before = reads.back()["log_index"];
    } else if (cutoff >= 0) {
      next_before = cutoff + 1;
    }
    return nlohmann::json{{"reads", reads}, {"next_before", next_before}};
  });
}

Result<nlohmann::json> Exchange::statistics(Date from, Date to) {
  if (to < from) return Error::invalid("catalog.bad_field", "to", "to is on or after from");
  if ((to.days() - from.days()).count() > 366) return Error::invalid("catalog.bad_field", "to", "at most 367 days at once");
  ONEWINDOW_TRY(index_reads().status());
  struct Counts {
    std::int64_t reads = 0;
    std::int64_t records = 0;
    std::int64_t bulk_reads = 0;
  };
  std::map<std::tuple<std::string, std::string, std::string>, Counts> counts;  // day, consumer, resource
  std::map<std::string, std::int64_t> grants;
  ONEWINDOW_TRY(database_.read([&](store::Session& session) -> Status {
    store::Parameters range = {from.to_string(), to.to_string()};
    auto single = session.query(
        "SELECT read_on, consumer, resource_code, reads, records FROM exchange_read_count "
        "WHERE read_on >= $1 AND read_on <= $2",
        range);
    if (!single.ok()) return single.take_error();
    for (const auto& row : *single) {
      Counts& entry = counts[{row.text(0), row.text(1), row.text(2)}];
      entry.reads += row.integer(3);
      entry.records += row.integer(4);
    }
    auto bulk = session.query(
        "SELECT read_on, consumer, resource_code, COUNT(*), SUM(records) FROM exchange_bulk_read "
        "WHERE read_on >= $1 AND read_on <= $2 GROUP BY read_on, consumer, resource_code",
        range);
    if (!bulk.ok()) return bulk.take_error();
    for (const auto& row : *bulk) {
      Counts& entry = counts[{row.text(0), row.text(1), row.text(2)}];
      entry.bulk_reads += row.integer(3);
      entry.records += row.integer(4);
    }
    return ok_status();
  }));
  auto by_status = catalog_.grant_counts();
  if (!by_status.ok()) return by_status.take_error();
  std::map<std::string, std::string> providers;  // by resource code
  nlohmann::json rows = nlohmann::json::array();
  for (const auto& [key, entry] : counts) {
    const auto& [day, consumer, code] = key;
    if (!providers.contains(code)) {
      auto resource = catalog_.resource(code);
      providers[code] = resource.ok() ? resource->provider : "";
    }
    rows.push_back({{"day", day},
                    {"provider", providers[code]},
                    {"consumer", consumer},
                    {"resource", code},
                    {"reads", entry.reads},
                    {"bulk_reads", entry.bulk_reads},
                    {"records", entry.records}});
  }
  return nlohmann::json{{"from", from.to_string()}, {"to", to.to_string()}, {"reads", rows}, {"grants", *by_status}};
}

}  // namespace onewindow::catalog
