// verify_log: the whole tree recomputed from the stored entries, in one read snapshot.
//
// The entries are read in chunks by the calling thread (which owns the database session) while a
// second thread checks the previous chunk, so that reading rows and hashing them overlap. The
// checks run strictly in index order, so the first problem reported is the first in the log.
#include "audit/internal.h"

#include <algorithm>
#include <charconv>
#include <future>
#include <limits>
#include <thread>

namespace onewindow::audit {

namespace {

constexpr std::int64_t chunk_rows = 16384;

// Keyset pagination: each chunk starts after the last index read, so rows are read once even
// though the statement runs many times.
constexpr std::string_view entries_from =
    "SELECT entry_index, content, leaf_hash, subtree_hashes FROM audit_entry "
    "WHERE entry_index >= $1 ORDER BY entry_index LIMIT $2";
constexpr std::string_view heads_between =
    "SELECT tree_size, signed_at, root_hash, signature FROM audit_tree_head "
    "WHERE tree_size > $1 AND tree_size <= $2 ORDER BY tree_size";
constexpr std::string_view first_head_after =
    "SELECT tree_size FROM audit_tree_head WHERE tree_size > $1 ORDER BY tree_size LIMIT 1";

std::string_view bytes_of(const store::Value& value) {
  if (const auto* text = std::get_if<std::string>(&value)) return *text;
  if (const auto* blob = std::get_if<store::Blob>(&value)) {
    return {reinterpret_cast<const char*>(blob->data()), blob->size()};
  }
  return {};
}

// Rows of one chunk, back to back in a few buffers that keep their capacity from chunk to chunk.
struct Chunk {
  std::vector<std::int64_t> indexes;
  std::string contents;
  std::vector<std::size_t> content_ends;
  std::string leaves;  // stored leaf hashes, as stored (normally 32 bytes each)
  std::vector<std::size_t> leaf_ends;
  std::string subtrees;
  std::vector<std::size_t> subtree_ends;
  struct Head {
    std::int64_t tree_size = 0;
    std::string timestamp;
    std::string root_hash;
    std::string signature;
  };
  std::vector<Head> heads;  // those whose size the chunk reaches, in size order

  void clear() {
    indexes.clear();
    contents.clear();
    content_ends.clear();
    leaves.clear();
    leaf_ends.clear();
    subtrees.clear();
    subtree_ends.clear();
    heads.clear();
  }
  std::size_t size() const { return indexes.size(); }
  static std::string_view slice(const std::string& buffer, const std::vector<std::size_t>& ends, std::size_t row) {
    std::size_t begin = row == 0 ? 0 : ends[row - 1];
    return std::string_view(buffer).substr(begin, ends[row] - begin);
  }
  std::string_view content(std::size_t row) const { return slice(contents, content_ends, row); }
  std::string_view leaf(std::size_t row) const { return slice(leaves, leaf_ends, row); }
  std::string_view subtree(std::size_t row) const { return slice(subtrees, subtree_ends, row); }
};

std::string_view digest_view(const Sm3Digest& digest) {
  return {reinterpret_cast<const char*>(digest.data()), digest.size()};
}

// The index an entry gives itself. Its canonical JSON ends with the keys after "index"
// (object_id, object_type, on_behalf_of, salt, time), whose values are strings; a string holds no bare
// '"', so the last `,"index":` in the text is the top-level key.
std::optional<std::int64_t> own_index(std::string_view content) {
  constexpr std::string_view key = ",\"index\":";
  std::size_t at = content.rfind(key);
  if (at == std::string_view::npos) return std::nullopt;
  const char* begin = content.data() + at + key.size();
  const char* end = content.data() + content.size();
  std::int64_t value = 0;
  auto [stop, error] = std::from_chars(begin, end, value);
  if (error != std::errc() || stop == end || (*stop != ',' && *stop != '}')) return std::nullopt;
  return value;
}

// The tree rebuilt leaf by leaf, checked against what is stored. Runs on one thread at a time.
class Checker {
 public:
  Checker(const std::vector<crypto::PublicKey>& keys, VerifyReport& report) : keys_(keys), report_(report) {}

  // Checks the rows of a chunk and the tree heads it reaches; false at the first problem.
  bool check(const Chunk& chunk) {
    hash_leaves(chunk);
    std::size_t next_head = 0;
    if (!check_heads(chunk, next_head)) return false;
    for (std::size_t row = 0; row < chunk.size(); ++row) {
      if (!check_entry(chunk, row)) return false;
      if (!check_heads(chunk, next_head)) return false;
    }
    return true;
  }

  std::int64_t size() const { return size_; }

  bool fail(ProblemKind kind, std::int64_t entry_index, std::string message, std::int64_t range_end = -1,
            std::int64_t tree_size = -1) {
    report_.problem = Problem{kind, entry_index, range_end, tree_size, std::move(message)};
    return false;
  }

 private:
  struct Subtree {
    int level;
    Sm3Digest hash;
  };

  bool check_entry(const Chunk& chunk, std::size_t row) {
    std::int64_t index = chunk.indexes[row];
    // Only a problem needs the entry's name; making it for every entry would cost more than the
    // checks.
    auto where = [index] { return "entry " + std::to_string(index); };
    if (index < 0) {
      return fail(ProblemKind::entry_unexpected, index, where() + " has an index no entry can have");
    }
    if (index != size_) {
      std::int64_t gap = index - size_;
      return fail(ProblemKind::entry_missing, size_,
                  "entry " + std::to_string(size_) + " is missing" +
                      (gap > 1 ? " (and " + std::to_string(gap - 1) + " after it)" : std::string()) + ": the next is " +
                      std::to_string(index));
    }
    std::string_view content = chunk.content(row);
    const Sm3Digest& leaf = leaves_[row];
    if (digest_view(leaf) != chunk.leaf(row)) {
      return fail(ProblemKind::entry_changed, index, where() + " was changed: its content does not hash to its leaf hash");
    }
    std::optional<std::int64_t> own = own_index(content);
    if (!own) return fail(ProblemKind::entry_changed, index, where() + " was changed: its content names no index");
    if (*own != index) {
      return fail(ProblemKind::entry_reordered, index,
                  where() + " was reordered: the entry stored there is entry " + std::to_string(*own));
    }
    report_.bytes_hashed += static_cast<std::int64_t>(content.size());

    // Append to the tree; every merge completes a subtree stored in this row.
    frontier_.push_back({0, leaf});
    std::string_view stored = chunk.subtree(row);
    std::size_t merged = 0;
    while (frontier_.size() >= 2 && frontier_[frontier_.size() - 2].level == frontier_.back().level) {
      Subtree right = frontier_.back();
      frontier_.pop_back();
      Subtree& left = frontier_.back();
      left.hash = node_hash(left.hash, right.hash);
      ++left.level;
      if (stored.size() < (merged + 1) * 32 || stored.substr(merged * 32, 32) != digest_view(left.hash)) {
        return fail(ProblemKind::entry_changed, index,
                    where() + " was changed: its stored subtree hash of level " + std::to_string(left.level) +
                        " differs from the recomputed one");
      }
      ++merged;
    }
    if (stored.size() != merged * 32) {
      return fail(ProblemKind::entry_changed, index, where() + " was changed: it stores subtree hashes it cannot have");
    }
    ++size_;
    report_.entries = size_;
    return true;
  }

  bool check_heads(const Chunk& chunk, std::size_t& next_head) {
    while (next_head < chunk.heads.size() && chunk.heads[next_head].tree_size == size_) {
      if (!check_head(chunk.heads[next_head])) return false;
      ++next_head;
    }
    return true;
  }

  bool check_head(const Chunk::Head& stored) {
    std::string range = size_ > last_good_head_
                            ? "entries " + std::to_string(last_good_head_) + " to " + std::to_string(size_ - 1)
                            : std::string("the entries");
    std::string name = "tree head of size " + std::to_string(stored.tree_size) + " (signed " + stored.timestamp + ")";
    Sm3Digest root = root_now();
    if (stored.root_hash != digest_view(root)) {
      return fail(ProblemKind::tree_head_mismatch, last_good_head_,
                  name + " does not match the entries: one of " + range +
                      " was changed, removed or reordered after it was signed and its stored hashes rewritten, "
                      "or the tree head itself was altered",
                  stored.tree_size, stored.tree_size);
    }
    SignedTreeHead head;
    head.tree_size = stored.tree_size;
    head.timestamp = stored.timestamp;
    head.root_hash = root;
    std::string message = head.signed_message();
    bool verified = std::any_of(keys_.begin(), keys_.end(), [&](const crypto::PublicKey& key) {
      return key.verify(message, crypto::as_bytes(stored.signature)).ok();
    });
    if (!verified) {
      return fail(ProblemKind::tree_head_signature, last_good_head_,
                  name + ", which covers " + range + ", has a signature that does not verify with the node's key",
                  stored.tree_size,
                  stored.tree_size);
    }
    last_good_head_ = stored.tree_size;
    ++report_.tree_heads;
    report_.signed_size = stored.tree_size;
    return true;
  }

  // MTH of the leaves so far: the perfect subtrees folded from the right (RFC 9162 section 2.1.1).
  Sm3Digest root_now() const {
    if (frontier_.empty()) return empty_tree_hash();
    Sm3Digest root = frontier_.back().hash;
    for (auto at = frontier_.rbegin() + 1; at != frontier_.rend(); ++at) root = node_hash(at->hash, root);
    return root;
  }

  // Leaf hashes are most of the work and independent of each other: they are computed on every
  // core, the tree itself on one.
  void hash_leaves(const Chunk& chunk) {
    leaves_.resize(chunk.size());
    auto hash_part = [&](std::size_t begin, std::size_t end) {
      for (std::size_t row = begin; row < end; ++row) leaves_[row] = leaf_hash(chunk.content(row));
    };
    std::size_t parts = std::clamp<std::size_t>(std::thread::hardware_concurrency(), 1, 8);
    std::size_t step = (chunk.size() + parts - 1) / parts;
    std::vector<std::future<void>> helpers;
    for (std::size_t part = 1; part < parts && part * step < chunk.size(); ++part) {
      helpers.push_back(std::async(std::launch::async, hash_part, part * step, std::min(chunk.size(), (part + 1) * step)));
    }
    hash_part(0, std::min(chunk.size(), step));
    for (auto& helper : helpers) helper.get();
  }

  const std::vector<crypto::PublicKey>& keys_;
  VerifyReport& report_;
  std::vector<Sm3Digest> leaves_;  // of the chunk being checked
  std::vector<Subtree> frontier_;
  std::int64_t size_ = 0;
  std::int64_t last_good_head_ = 0;
};

Status read_chunk(store::Session& session, std::int64_t from, Chunk& chunk) {
  chunk.clear();
  return session.query_each(entries_from, {from, chunk_rows}, [&](const store::Row& row) {
    chunk.indexes.push_back(row.integer(0));
    chunk.contents.append(bytes_of(row.value(1)));
    chunk.content_ends.push_back(chunk.contents.size());
    chunk.leaves.append(bytes_of(row.value(2)));
    chunk.leaf_ends.push_back(chunk.leaves.size());
    chunk.subtrees.append(bytes_of(row.value(3)));
    chunk.subtree_ends.push_back(chunk.subtrees.size());
    return true;
  });
}

Status read_heads(store::Session& session, std::int64_t after, std::int64_t up_to, Chunk& chunk) {
  return session.query_each(heads_between, {after, up_to}, [&](const store::Row& row) {
    chunk.heads.push_back({row.integer(0), std::string(bytes_of(row.value(1))), std::string(bytes_of(row.value(2))),
                           std::string(bytes_of(row.value(3)))});
    return true;
  });
}

}  // namespace

std::string_view problem_name(ProblemKind kind) {
  switch (kind) {
    case ProblemKind::entry_changed: return "changed";
    case ProblemKind::entry_missing: return "missing";
    case ProblemKind::entry_reordered: return "reordered";
    case ProblemKind::entry_unexpected: return "unexpected";
    case ProblemKind::tree_head_mismatch: return "tree_head_mismatch";
    case ProblemKind::tree_head_signature: return "tree_head_signature";
  }
  return "unknown";
}

std::string VerifyReport::summary() const {
  if (problem) return "FAILED: " + problem->message;
  std::string line = "ok: " + std::to_string(entries) + " entries (" + std::to_string(bytes_hashed) +
                     " bytes) and " + std::to_string(tree_heads) + " signed tree heads verify";
  if (entries > signed_size) {
    line += "; the last " + std::to_string(entries - signed_size) + " entries are not yet under a signed tree head";
  }
  return line;
}

Result<VerifyReport> verify_log(store::Database& database, const crypto::PublicKey& node_key,
                                const std::function<void(std::int64_t done, std::int64_t total)>& progress) {
  return verify_log(database, std::vector<crypto::PublicKey>{node_key}, progress);
}

Result<VerifyReport> verify_log(store::Database& database, std::vector<crypto::PublicKey> node_keys,
                                const std::function<void(std::int64_t done, std::int64_t total)>& progress) {
  VerifyReport report;
  Status read = database.read([&](store::Session& session) -> Status {
    report = VerifyReport();
    auto total = internal::log_size(session);
    if (!total.ok()) return total.take_error();
    if (progress) progress(0, *total);

    Checker checker(node_keys, report);
    Chunk chunks[2];
    int filling = 0;
    std::int64_t from = std::numeric_limits<std::int64_t>::min();  // rows below zero are reported too
    std::int64_t heads_read_to = -1;
    bool failed = false;
    // Declared after the chunks, so that it is destroyed (and waited for) before them.
    std::future<bool> checking;
    while (true) {
      Chunk& chunk = chunks[filling];
      ONEWINDOW_TRY(read_chunk(session, from, chunk));
      if (chunk.size() > 0) {
        std::int64_t reach = chunk.indexes.back() + 1;
        ONEWINDOW_TRY(read_heads(session, heads_read_to, reach, chunk));
        heads_read_to = reach;
        from = reach;
      }
      if (checking.valid()) {
        failed = !checking.get();
        if (progress) progress(checker.size(), *total);
        if (failed) break;
      }
      if (chunk.size() == 0) break;
      checking = std::async(std::launch::async, [&checker, &chunk] { return checker.check(chunk); });
      filling ^= 1;
    }
    if (failed) return ok_status();
    if (heads_read_to < 0) {
      // An empty log: only a tree head of size 0 can be checked.
      Chunk& empty = chunks[0];
      empty.clear();
      ONEWINDOW_TRY(read_heads(session, -1, 0, empty));
      if (!checker.check(empty)) return ok_status();
    }

    // A tree head beyond the last entry: the log was cut short.
    auto beyond = session.query_one(first_head_after, {checker.size()});
    if (!beyond.ok()) return beyond.take_error();
    if (beyond->has_value()) {
      std::int64_t head_size = (**beyond).integer(0);
      checker.fail(ProblemKind::entry_missing, checker.size(),
                   "entry " + std::to_string(checker.size()) + " is missing: the log ends there, but a tree head of size " +
                       std::to_string(head_size) + " was signed",
                   head_size, head_size);
    }
    return ok_status();
  });
  if (!read.ok()) return read.take_error();
  return report;
}

}  // namespace onewindow::audit
