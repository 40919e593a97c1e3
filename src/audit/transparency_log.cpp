// The transparency log: appending entries inside the caller's transaction, signing tree heads on
// a thread of its own, and answering for entries, roots and proofs.
#include "audit/internal.h"

#include "base/log.h"

#include <unordered_map>

namespace onewindow::audit {

using internal::Node;
using internal::Range;

namespace {

constexpr std::size_t max_entry_bytes = 64 * 1024;

// The tables (docs/audit.md). audit_append_lock has one row, which appenders lock on
// PostgreSQL so that indexes are handed out one transaction at a time; SQLite has one writer
// anyway.
const std::vector<store::Migration> log_migrations = {
    {"audit", 1, "create the transparency log",
     "CREATE TABLE audit_entry (\n"
     "  entry_index INTEGER PRIMARY KEY,\n"
     "  content TEXT NOT NULL,\n"
     "  leaf_hash BLOB NOT NULL,\n"
     "  subtree_hashes BLOB\n"
     ");\n"
     "CREATE TABLE audit_tree_head (\n"
     "  tree_size INTEGER PRIMARY KEY,\n"
     "  signed_at TEXT NOT NULL,\n"
     "  root_hash BLOB NOT NULL,\n"
     "  signature BLOB NOT NULL\n"
     ");\n"
     "CREATE TABLE audit_append_lock (id INTEGER PRIMARY KEY CHECK (id = 1));\n"
     "INSERT INTO audit_append_lock (id) VALUES (1)",
     "CREATE TABLE audit_entry (\n"
     "  entry_index BIGINT PRIMARY KEY,\n"
     "  content TEXT NOT NULL,\n"
     "  leaf_hash BYTEA NOT NULL,\n"
     "  subtree_hashes BYTEA\n"
     ");\n"
     "CREATE TABLE audit_tree_head (\n"
     "  tree_size BIGINT PRIMARY KEY,\n"
     "  signed_at TEXT NOT NULL,\n"
     "  root_hash BYTEA NOT NULL,\n"
     "  signature BYTEA NOT NULL\n"
     ");\n"
     "CREATE TABLE audit_append_lock (id INTEGER PRIMARY KEY CHECK (id = 1));\n"
     "INSERT INTO audit_append_lock (id) VALUES (1)"},
};

constexpr std::string_view lock_appenders = "SELECT id FROM audit_append_lock WHERE id = 1 FOR UPDATE";
constexpr std::string_view last_entry =
    "SELECT entry_index, leaf_hash FROM audit_entry ORDER BY entry_index DESC LIMIT 1";
constexpr std::string_view insert_entry =
    "INSERT INTO audit_entry (entry_index, content, leaf_hash, subtree_hashes) VALUES ($1, $2, $3, $4)";
constexpr std::string_view select_entry = "SELECT content, leaf_hash FROM audit_entry WHERE entry_index = $1";
constexpr std::string_view latest_head =
    "SELECT tree_size, signed_at, root_hash, signature FROM audit_tree_head ORDER BY tree_size DESC LIMIT 1";
constexpr std::string_view head_of_size =
    "SELECT tree_size, signed_at, root_hash, signature FROM audit_tree_head WHERE tree_size = $1";
// Two signers (two processes) may sign the same size; the first one stays.
constexpr std::string_view insert_head =
    "INSERT INTO audit_tree_head (tree_size, signed_at, root_hash, signature) VALUES ($1, $2, $3, $4) "
    "ON CONFLICT (tree_size) DO NOTHING";

store::Blob blob_of(const Sm3Digest& digest) { return store::Blob(digest.begin(), digest.end()); }

Result<Sm3Digest> digest_of(const store::Blob& blob, std::string_view what) {
  Sm3Digest digest;
  if (blob.size() != digest.size()) return internal::corrupt(std::string(what) + " is not 32 bytes");
  std::copy(blob.begin(), blob.end(), digest.begin());
  return digest;
}

Result<SignedTreeHead> head_from_row(const store::Row& row) {
  SignedTreeHead head;
  head.tree_size = row.integer(0);
  head.timestamp = row.text(1);
  auto root = digest_of(row.blob(2), "the root hash of tree head " + std::to_string(head.tree_size));
  if (!root.ok()) return root.take_error();
  head.root_hash = *root;
  head.signature = row.blob(3);
  return head;
}

// "<module>.<verb>": two or more dot-separated words of lower-case letters, digits and
// underscores, each starting with a letter.
bool action_well_formed(std::string_view action) {
  int words = 0;
  bool at_word_start = true;
  for (char character : action) {
    bool letter = character >= 'a' && character <= 'z';
    bool digit_or_underscore = (character >= '0' && character <= '9') || character == '_';
    if (at_word_start) {
      if (!letter) return false;
      ++words;
      at_word_start = false;
    } else if (character == '.') {
      at_word_start = true;
    } else if (!letter && !digit_or_underscore) {
      return false;
    }
  }
  return words >= 2 && !at_word_start;
}

Status check_act(const Act& act) {
  if (act.actor.empty()) {
    return Error::invalid("audit.missing_actor", "actor", "an act needs an actor: an account id or \"system\"");
  }
  if (!action_well_formed(act.action)) {
    return Error::invalid("audit.bad_action", "action",
                          "action must be <module>.<verb> in lower case, like identity.login");
  }
  bool is_object = act.canonical_details.empty()
                       ? act.details.is_object()
                       : act.canonical_details.front() == '{' && act.canonical_details.back() == '}';
  if (!is_object) return Error::invalid("audit.details_not_object", "details", "details must be a JSON object");
  return ok_status();
}

// 32 hex digits of fresh randomness. Salts come from a pool per thread, refilled 256 at a time:
// asking OpenSSL for 16 random bytes costs as much as hashing the entry. (A process that forked
// would repeat its parent's pool; onewindow does not fork.)
Result<std::string> next_salt() {
  constexpr std::size_t salt_bytes = 16;
  thread_local crypto::Bytes pool;
  thread_local std::size_t used = 0;
  if (used + salt_bytes > pool.size()) {
    auto fresh = crypto::random_bytes(256 * salt_bytes);
    if (!fresh.ok()) return fresh.take_error();
    pool = std::move(fresh).value();
    used = 0;
  }
  std::string salt = crypto::to_hex(std::span<const std::uint8_t>(pool).subspan(used, salt_bytes));
  used += salt_bytes;
  return salt;
}

Error tree_size_beyond_log(std::string_view field, std::int64_t asked, std::int64_t size) {
  return Error(ErrorKind::invalid_argument, "audit.tree_size_beyond_log",
               std::string(field) + " " + std::to_string(asked) + " is beyond the log, which has " +
                   std::to_string(size) + " entries",
               {{"field", std::string(field)}, {"tree_size", size}});
}

Error bad_tree_size(std::string_view field, std::string message) {
  return Error::invalid("audit.bad_tree_size", std::string(field), std::move(message));
}

}  // namespace

std::string tree_head_message(std::int64_t tree_size, std::string_view timestamp, const Sm3Digest& root_hash) {
  auto message = canonical_json({{"kind", "onewindow.audit.tree_head.v1"},
                                 {"root_hash", crypto::to_hex(root_hash)},
                                 {"timestamp", std::string(timestamp)},
                                 {"tree_size", tree_size}});
  // Only a timestamp that is not UTF-8 (a tampered row) fails: the empty message it gives
  // matches no signature.
  return message.ok() ? *message : std::string();
}

std::string SignedTreeHead::signed_message() const { return tree_head_message(tree_size, timestamp, root_hash); }

TransparencyLog::TransparencyLog(store::Database& database, crypto::PrivateKey node_key, const Clock& clock)
    : database_(database), node_key_(std::move(node_key)), clock_(clock) {}

TransparencyLog::~TransparencyLog() { stop_signing(); }

std::vector<store::Migration> TransparencyLog::migrations() { return log_migrations; }

Result<Receipt> TransparencyLog::record(store::Session& session, const Act& act) {
  ONEWINDOW_TRY(check_act(act));
  // The entry is written field by field in canonical order (keys sorted) rather than built as a
  // JSON object first: building the object cost more than everything else in an append. The
  // tests check that the result is what canonical_json makes of it.
  std::optional<Error> failure;
  auto add_text = [&](std::string& out, std::string_view key, std::string_view text) {
    if (failure) return;
    out.append(",\"").append(key).append("\":");
    failure = internal::append_canonical_string(text, key, out);
  };
  std::string before_index;
  // Room for the whole entry, so that it is not copied as it grows.
  before_index.reserve(act.canonical_details.size() + act.basis.size() + act.object_id.size() + 384);
  before_index = "{\"action\":";
  failure = internal::append_canonical_string(act.action, "action", before_index);
  add_text(before_index, "actor", act.actor);
  add_text(before_index, "basis", act.basis);
  if (!failure) {
    before_index += ",\"details\":";
    if (act.canonical_details.empty()) {
      failure = internal::append_canonical(act.details, before_index);
    } else {
      before_index += act.canonical_details;
    }
  }
  before_index += ",\"index\":";
  std::string after_index;
  add_text(after_index, "object_id", act.object_id);
  add_text(after_index, "object_type", act.object_type);
  add_text(after_index, "on_behalf_of", act.on_behalf_of);
  if (failure) return std::move(*failure);
  // Proofs make leaf hashes public; the salt keeps anyone from confirming a guessed entry by its
  // hash (who logged in when).
  auto salt = next_salt();
  if (!salt.ok()) return salt.take_error();
  after_index += ",\"salt\":\"" + *salt + "\",\"time\":\"";

  if (session.backend() == store::Backend::postgresql) {
    // Held until the caller's transaction ends: the next appender reads the index this one took.
    auto locked = session.query(lock_appenders);
    if (!locked.ok()) return locked.take_error();
    if (locked->empty()) return internal::corrupt("the row of audit_append_lock is missing; appends are not serialised");
  }
  auto last = session.query_one(last_entry);
  if (!last.ok()) return last.take_error();
  std::int64_t index = 0;
  Sm3Digest previous_leaf{};
  if (last->has_value()) {
    index = (*last)->integer(0) + 1;
    auto leaf = digest_of((*last)->blob(1), "the leaf hash of entry " + std::to_string(index - 1));
    if (!leaf.ok()) return leaf.take_error();
    previous_leaf = *leaf;
  }

  Receipt receipt;
  receipt.index = index;
  // Taken once the index is ours, so that times follow indexes within one node.
  receipt.time = format_timestamp(clock_.now());
  std::string content = std::move(before_index);
  content += std::to_string(index);
  content += after_index;
  content += receipt.time;
  content += "\"}";
  if (content.size() > max_entry_bytes) {
    return Error(ErrorKind::too_large, "audit.entry_too_large",
                 "the act makes an entry of " + std::to_string(content.size()) + " bytes; the limit is " +
                     std::to_string(max_entry_bytes),
                 {{"field", "details"}, {"limit", max_entry_bytes}});
  }
  receipt.leaf_hash = leaf_hash(content);

  // The subtrees this leaf completes, each the node of its left sibling and what grew beside it.
  int levels = internal::completed_levels(index);
  store::Blob subtrees;
  if (levels > 0) {
    internal::StoredNodes stored(session);
    std::vector<Node> siblings;
    for (int level = 1; level < levels; ++level) siblings.push_back({level, (index >> level) - 1});
    ONEWINDOW_TRY(stored.fetch(siblings));
    Sm3Digest hash = node_hash(previous_leaf, receipt.leaf_hash);
    subtrees.insert(subtrees.end(), hash.begin(), hash.end());
    for (int level = 2; level <= levels; ++level) {
      auto left = stored.node({level - 1, (index >> (level - 1)) - 1});
      if (!left.ok()) return left.take_error();
      hash = node_hash(*left, hash);
      subtrees.insert(subtrees.end(), hash.begin(), hash.end());
    }
  }
  auto inserted = session.execute(insert_entry, {index, std::move(content), blob_of(receipt.leaf_hash),
                                                 subtrees.empty() ? store::Value{} : store::Value{std::move(subtrees)}});
  if (!inserted.ok()) return inserted.take_error();
  return receipt;
}

Result<SignedTreeHead> TransparencyLog::sign_tree_head() {
  std::lock_guard lock(signing_mutex_);
  struct Current {
    std::int64_t size = 0;
    Sm3Digest root{};
    std::optional<SignedTreeHead> latest;
  };
  auto current = database_.read_value<Current>([](store::Session& session) -> Result<Current> {
    Current current;
    auto latest = session.query_one(latest_head);
    if (!latest.ok()) return latest.take_error();
    if (latest->has_value()) {
      auto head = head_from_row(**latest);
      if (!head.ok()) return head.take_error();
      current.latest = std::move(head).value();
    }
    auto size = internal::log_size(session);
    if (!size.ok()) return size.take_error();
    current.size = *size;
    if (current.latest && current.latest->tree_size >= current.size) return current;
    auto root = internal::range_hashes(session, {Range{0, current.size}});
    if (!root.ok()) return root.take_error();
    current.root = root->front();
    return current;
  });
  if (!current.ok()) return current.take_error();
  if (current->latest && current->latest->tree_size >= current->size) return *current->latest;

  SignedTreeHead head;
  head.tree_size = current->size;
  head.timestamp = format_timestamp(clock_.now());
  head.root_hash = current->root;
  auto signature = node_key_.sign(head.signed_message());
  if (!signature.ok()) return signature.take_error();
  head.signature = std::move(signature).value();
  return database_.write_value<SignedTreeHead>([&](store::Session& session) -> Result<SignedTreeHead> {
    auto inserted = session.execute(insert_head, {head.tree_size, head.timestamp, blob_of(head.root_hash), head.signature});
    if (!inserted.ok()) return inserted.take_error();
    if (*inserted == 1) return head;
    auto stored = session.query_one(head_of_size, {head.tree_size});
    if (!stored.ok()) return stored.take_error();
    if (!stored->has_value()) return internal::corrupt("a tree head vanished while it was being stored");
    return head_from_row(**stored);
  });
}

Result<SignedTreeHead> TransparencyLog::latest_tree_head() const {
  return database_.read_value<SignedTreeHead>([](store::Session& session) -> Result<SignedTreeHead> {
    auto latest = session.query_one(latest_head);
    if (!latest.ok()) return latest.take_error();
    if (!latest->has_value()) {
      return Error(ErrorKind::not_found, "audit.no_tree_head", "no tree head has been signed yet");
    }
    return head_from_row(**latest);
  });
}

Status TransparencyLog::start_signing(std::chrono::milliseconds interval) {
  std::lock_guard lock(signer_mutex_);
  if (signer_.joinable()) {
    return Error(ErrorKind::conflict, "audit.signer_running", "the tree-head signer runs already");
  }
  stopping_ = false;
  signer_ = std::thread([this, interval] { signing_loop(interval); });
  return ok_status();
}

void TransparencyLog::stop_signing() {
  std::thread signer;
  {
    std::lock_guard lock(signer_mutex_);
    stopping_ = true;
    signer = std::move(signer_);
  }
  signer_wake_.notify_all();
  if (signer.joinable()) signer.join();
}

// Wakes on a fixed beat, so that a tree head is signed within `interval` of every append,
// however long signing took.
void TransparencyLog::signing_loop(std::chrono::milliseconds interval) {
  auto next = std::chrono::steady_clock::now();
  std::string last_failure;
  std::unique_lock lock(signer_mutex_);
  while (!stopping_) {
    lock.unlock();
    auto signed_head = sign_tree_head();
    if (!signed_head.ok()) {
      // Once per kind of failure, not once a second.
      if (signed_head.error().code != last_failure) {
        log::error("audit: cannot sign a tree head (" + signed_head.error().code + "): " + signed_head.error().message);
      }
      last_failure = signed_head.error().code;
    } else if (!last_failure.empty()) {
      log::info("audit: signing tree heads again");
      last_failure.clear();
    }
    lock.lock();
    next += interval;
    auto now = std::chrono::steady_clock::now();
    if (next < now) next = now;
    signer_wake_.wait_until(lock, next, [this] { return stopping_; });
  }
}

Result<std::int64_t> TransparencyLog::size() const {
  return database_.read_value<std::int64_t>([](store::Session& session) { return internal::log_size(session); });
}

Result<std::int64_t> TransparencyLog::size(store::Session& session) { return internal::log_size(session); }

Result<std::vector<Entry>> TransparencyLog::entries_of(store::Session& session, std::string_view action,
                                                       std::int64_t from, std::int64_t to) {
  // An entry's canonical text begins with its action, the first of its members in sorted order:
  // the others are skipped by their first bytes.
  std::string start = "{\"action\":";
  ONEWINDOW_TRY(append_canonical_string(action, start));
  start += ',';
  auto rows = session.query(
      "SELECT entry_index, content FROM audit_entry WHERE entry_index >= $1 AND entry_index < $2 "
      "AND substr(content, 1, $3) = $4 ORDER BY entry_index",
      {from, to, static_cast<std::int64_t>(start.size()), start});
  if (!rows.ok()) return rows.take_error();
  std::vector<Entry> entries;
  entries.reserve(rows->size());
  for (const store::Row& row : *rows) entries.push_back({row.integer(0), row.text(1), {}});
  return entries;
}

Result<Sm3Digest> TransparencyLog::root_hash(std::int64_t tree_size) const {
  return database_.read_value<Sm3Digest>([&](store::Session& session) -> Result<Sm3Digest> {
    if (tree_size < 0) return bad_tree_size("tree_size", "tree_size must not be negative");
    auto size = internal::log_size(session);
    if (!size.ok()) return size.take_error();
    if (tree_size > *size) return tree_size_beyond_log("tree_size", tree_size, *size);
    auto root = internal::range_hashes(session, {Range{0, tree_size}});
    if (!root.ok()) return root.take_error();
    return root->front();
  });
}

Result<Entry> TransparencyLog::entry(std::int64_t index) const {
  return database_.read_value<Entry>([&](store::Session& session) { return entry(session, index); });
}

Result<Entry> TransparencyLog::entry(store::Session& session, std::int64_t index) {
  auto row = session.query_one(select_entry, {index});
  if (!row.ok()) return row.take_error();
  if (!row->has_value()) {
    return Error(ErrorKind::not_found, "audit.entry_not_found", "the log has no entry " + std::to_string(index),
                 {{"field", "index"}});
  }
  Entry entry;
  entry.index = index;
  entry.content = (*row)->text(0);
  auto leaf = digest_of((*row)->blob(1), "the leaf hash of entry " + std::to_string(index));
  if (!leaf.ok()) return leaf.take_error();
  entry.leaf_hash = *leaf;
  return entry;
}

Result<std::vector<Entry>> TransparencyLog::entries_at(store::Session& session,
                                                       const std::vector<std::int64_t>& indexes) {
  constexpr std::size_t per_query = 100;
  std::unordered_map<std::int64_t, Entry> found;
  found.reserve(indexes.size());
  for (std::size_t first = 0; first < indexes.size(); first += per_query) {
    std::size_t count = std::min(per_query, indexes.size() - first);
    std::string sql = "SELECT entry_index, content, leaf_hash FROM audit_entry WHERE entry_index IN (";
    store::Parameters parameters;
    parameters.reserve(count);
    for (std::size_t i = 0; i < count; ++i) {
      sql += (i == 0 ? "$" : ", $") + std::to_string(i + 1);
      parameters.emplace_back(indexes[first + i]);
    }
    sql += ")";
    auto rows = session.query(sql, parameters);
    if (!rows.ok()) return rows.take_error();
    for (const store::Row& row : *rows) {
      std::int64_t index = row.integer(0);
      auto leaf = digest_of(row.blob(2), "the leaf hash of entry " + std::to_string(index));
      if (!leaf.ok()) return leaf.take_error();
      found.insert_or_assign(index, Entry{index, row.text(1), *leaf});
    }
  }
  std::vector<Entry> entries;
  entries.reserve(indexes.size());
  for (std::int64_t index : indexes) {
    auto entry = found.find(index);
    if (entry == found.end()) {
      return Error(ErrorKind::not_found, "audit.entry_not_found", "the log has no entry " + std::to_string(index),
                   {{"field", "index"}});
    }
    entries.push_back(entry->second);
  }
  return entries;
}

Result<std::vector<Sm3Digest>> TransparencyLog::inclusion_proof(std::int64_t index, std::int64_t tree_size) const {
  return database_.read_value<std::vector<Sm3Digest>>([&](store::Session& session) -> Result<std::vector<Sm3Digest>> {
    if (tree_size < 1) return bad_tree_size("tree_size", "tree_size must be at least 1");
    auto size = internal::log_size(session);
    if (!size.ok()) return size.take_error();
    if (tree_size > *size) return tree_size_beyond_log("tree_size", tree_size, *size);
    if (index < 0 || index >= tree_size) {
      return Error(ErrorKind::invalid_argument, "audit.index_beyond_tree",
                   "index must be from 0 to tree_size - 1 (" + std::to_string(tree_size - 1) + ")",
                   {{"field", "index"}});
    }
    return internal::range_hashes(session, internal::inclusion_ranges(index, tree_size));
  });
}

Result<std::vector<Sm3Digest>> TransparencyLog::consistency_proof(std::int64_t first, std::int64_t second) const {
  return database_.read_value<std::vector<Sm3Digest>>([&](store::Session& session) -> Result<std::vector<Sm3Digest>> {
    if (first < 1) return bad_tree_size("first", "first must be at least 1");
    if (first > second) return bad_tree_size("first", "first must not be greater than second");
    auto size = internal::log_size(session);
    if (!size.ok()) return size.take_error();
    if (second > *size) return tree_size_beyond_log("second", second, *size);
    return internal::range_hashes(session, internal::consistency_ranges(first, second));
  });
}

}  // namespace onewindow::audit
