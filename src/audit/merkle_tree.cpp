// RFC 9162's Merkle tree with SM3: hashing, the ranges that proofs are made of, reading stored
// subtree hashes, and checking proofs.
#include "audit/internal.h"

#include <algorithm>
#include <bit>
#include <cassert>
#include <set>

namespace onewindow::audit {

namespace {

constexpr std::uint8_t leaf_prefix = 0x00;
constexpr std::uint8_t node_prefix = 0x01;

// One hasher per thread, reused: setting up an OpenSSL digest context costs as much as hashing
// a short entry.
crypto::Sm3Hasher& thread_hasher() {
  thread_local crypto::Sm3Hasher hasher;
  return hasher;
}

// The largest power of two strictly below n (n > 1): RFC 9162's k.
std::int64_t split_point(std::int64_t n) {
  assert(n > 1);
  return static_cast<std::int64_t>(std::bit_floor(static_cast<std::uint64_t>(n - 1)));
}

Error bad_proof(std::string message) {
  return Error(ErrorKind::invalid_argument, "audit.bad_proof", std::move(message));
}

}  // namespace

Sm3Digest leaf_hash(std::string_view entry) {
  crypto::Sm3Hasher& hasher = thread_hasher();
  hasher.update(std::span<const std::uint8_t>(&leaf_prefix, 1));
  hasher.update(entry);
  return hasher.finish();
}

Sm3Digest node_hash(const Sm3Digest& left, const Sm3Digest& right) {
  std::array<std::uint8_t, 65> input;
  input[0] = node_prefix;
  std::copy(left.begin(), left.end(), input.begin() + 1);
  std::copy(right.begin(), right.end(), input.begin() + 33);
  crypto::Sm3Hasher& hasher = thread_hasher();
  hasher.update(input);
  return hasher.finish();
}

Sm3Digest empty_tree_hash() { return crypto::sm3(std::string_view()); }

// RFC 9162 section 2.1.3.2, step by step.
Status verify_inclusion(std::int64_t index, std::int64_t tree_size, const Sm3Digest& leaf,
                        std::span<const Sm3Digest> path, const Sm3Digest& root) {
  if (index < 0 || index >= tree_size) return bad_proof("the index is not in the tree");
  std::uint64_t fn = static_cast<std::uint64_t>(index);
  std::uint64_t sn = static_cast<std::uint64_t>(tree_size - 1);
  Sm3Digest r = leaf;
  for (const Sm3Digest& p : path) {
    if (sn == 0) return bad_proof("the inclusion proof is longer than the tree is deep");
    if ((fn & 1) != 0 || fn == sn) {
      r = node_hash(p, r);
      while ((fn & 1) == 0 && fn != 0) {
        fn >>= 1;
        sn >>= 1;
      }
    } else {
      r = node_hash(r, p);
    }
    fn >>= 1;
    sn >>= 1;
  }
  if (sn != 0) return bad_proof("the inclusion proof is shorter than the tree is deep");
  if (r != root) return bad_proof("the inclusion proof does not lead to the root");
  return ok_status();
}

// RFC 9162 section 2.1.4.2, step by step.
Status verify_consistency(std::int64_t first, std::int64_t second, const Sm3Digest& first_root,
                          const Sm3Digest& second_root, std::span<const Sm3Digest> path) {
  if (first < 1 || first > second) return bad_proof("consistency needs 0 < first <= second");
  if (first == second) {
    if (!path.empty()) return bad_proof("a consistency proof between equal sizes is empty");
    if (first_root != second_root) return bad_proof("trees of equal size have different roots");
    return ok_status();
  }
  if (path.empty()) return bad_proof("the consistency proof is empty");
  std::vector<Sm3Digest> nodes;
  if (std::has_single_bit(static_cast<std::uint64_t>(first))) nodes.push_back(first_root);
  nodes.insert(nodes.end(), path.begin(), path.end());
  std::uint64_t fn = static_cast<std::uint64_t>(first - 1);
  std::uint64_t sn = static_cast<std::uint64_t>(second - 1);
  while ((fn & 1) != 0) {
    fn >>= 1;
    sn >>= 1;
  }
  Sm3Digest fr = nodes.front();
  Sm3Digest sr = nodes.front();
  for (std::size_t i = 1; i < nodes.size(); ++i) {
    const Sm3Digest& c = nodes[i];
    if (sn == 0) return bad_proof("the consistency proof is longer than the tree is deep");
    if ((fn & 1) != 0 || fn == sn) {
      fr = node_hash(c, fr);
      sr = node_hash(c, sr);
      while ((fn & 1) == 0 && fn != 0) {
        fn >>= 1;
        sn >>= 1;
      }
    } else {
      sr = node_hash(sr, c);
    }
    fn >>= 1;
    sn >>= 1;
  }
  if (sn != 0) return bad_proof("the consistency proof is shorter than the tree is deep");
  if (fr != first_root) return bad_proof("the consistency proof does not lead to the first root");
  if (sr != second_root) return bad_proof("the consistency proof does not lead to the second root");
  return ok_status();
}

namespace internal {

Error corrupt(std::string message) {
  return Error(ErrorKind::internal, "audit.corrupt", std::move(message));
}

int completed_levels(std::int64_t index) { return std::countr_one(static_cast<std::uint64_t>(index)); }

std::vector<Node> range_nodes(Range range) {
  std::vector<Node> nodes;
  std::int64_t begin = range.begin;
  while (begin < range.end) {
    std::int64_t length = range.end - begin;
    // The left part of RFC 9162's split is perfect; the right part is split again, unless it
    // is perfect itself.
    std::int64_t part = std::has_single_bit(static_cast<std::uint64_t>(length)) ? length : split_point(length);
    int level = std::countr_zero(static_cast<std::uint64_t>(part));
    assert(begin % part == 0);
    nodes.push_back({level, begin >> level});
    begin += part;
  }
  return nodes;
}

// PATH(m, D[n]) of RFC 9162 section 2.1.3.1, with absolute leaf positions. The recursion goes
// down to the leaf, so the siblings are found root first and returned leaf first.
std::vector<Range> inclusion_ranges(std::int64_t index, std::int64_t tree_size) {
  std::vector<Range> ranges;
  std::int64_t begin = 0;
  std::int64_t end = tree_size;
  while (end - begin > 1) {
    std::int64_t k = split_point(end - begin);
    if (index < begin + k) {
      ranges.push_back({begin + k, end});
      end = begin + k;
    } else {
      ranges.push_back({begin, begin + k});
      begin += k;
    }
  }
  std::reverse(ranges.begin(), ranges.end());
  return ranges;
}

// PROOF(m, D[n]) = SUBPROOF(m, D[n], true) of RFC 9162 section 2.1.4.1, with absolute leaf
// positions; m counts leaves from `begin`.
std::vector<Range> consistency_ranges(std::int64_t first, std::int64_t second) {
  std::vector<Range> ranges;
  std::int64_t m = first;
  std::int64_t begin = 0;
  std::int64_t end = second;
  bool whole = true;  // RFC 9162's b: the subtree is the old tree itself
  while (true) {
    std::int64_t n = end - begin;
    if (m == n) {
      if (!whole) ranges.push_back({begin, end});
      break;
    }
    std::int64_t k = split_point(n);
    if (m <= k) {
      ranges.push_back({begin + k, end});
      end = begin + k;
    } else {
      ranges.push_back({begin, begin + k});
      m -= k;
      begin += k;
      whole = false;
    }
  }
  std::reverse(ranges.begin(), ranges.end());
  return ranges;
}

namespace {

constexpr std::string_view row_by_index =
    "SELECT entry_index, leaf_hash, subtree_hashes FROM audit_entry WHERE entry_index = $1";
// PostgreSQL: the rows in one statement, the list bound as one array parameter.
constexpr std::string_view rows_postgresql =
    "SELECT entry_index, leaf_hash, subtree_hashes FROM audit_entry WHERE entry_index = ANY($1::bigint[])";

}  // namespace

Status StoredNodes::fetch(const std::vector<Node>& nodes) {
  std::set<std::int64_t> wanted;
  for (const Node& node : nodes) {
    if (!rows_.contains(row_of(node))) wanted.insert(row_of(node));
  }
  if (wanted.empty()) return ok_status();
  auto keep = [&](const store::Row& row) {
    Hashes hashes;
    const store::Blob& leaf = row.blob(1);
    if (leaf.size() == hashes.leaf.size()) std::copy(leaf.begin(), leaf.end(), hashes.leaf.begin());
    if (!row.is_null(2)) hashes.subtrees = row.blob(2);
    rows_[row.integer(0)] = std::move(hashes);
    return true;
  };
  // SQLite answers in-process: a prepared statement per row beats parsing a list. PostgreSQL
  // answers over the network: one statement for the lot.
  bool postgresql = session_.backend() == store::Backend::postgresql;
  if (!postgresql || wanted.size() == 1) {
    for (std::int64_t row : wanted) ONEWINDOW_TRY(session_.query_each(row_by_index, {row}, keep));
    return ok_status();
  }
  std::string list = "{";
  for (std::int64_t row : wanted) {
    if (list.size() > 1) list.push_back(',');
    list += std::to_string(row);
  }
  list.push_back('}');
  return session_.query_each(rows_postgresql, {list}, keep);
}

Result<Sm3Digest> StoredNodes::node(Node node) const {
  std::int64_t row = row_of(node);
  auto found = rows_.find(row);
  if (found == rows_.end()) {
    return corrupt("entry " + std::to_string(row) + " is missing from the log: run onewindow audit verify");
  }
  if (node.level == 0) return found->second.leaf;
  std::size_t offset = static_cast<std::size_t>(node.level - 1) * 32;
  const auto& subtrees = found->second.subtrees;
  if (subtrees.size() < offset + 32) {
    return corrupt("entry " + std::to_string(row) + " lacks its subtree hash of level " +
                   std::to_string(node.level) + ": run onewindow audit verify");
  }
  Sm3Digest digest;
  std::copy(subtrees.begin() + static_cast<std::ptrdiff_t>(offset),
            subtrees.begin() + static_cast<std::ptrdiff_t>(offset + 32), digest.begin());
  return digest;
}

Result<Sm3Digest> StoredNodes::range_hash(Range range) const {
  if (range.begin == range.end) return empty_tree_hash();
  std::vector<Node> nodes = range_nodes(range);
  auto hash = node(nodes.back());
  if (!hash.ok()) return hash.take_error();
  Sm3Digest folded = *hash;
  for (auto at = nodes.rbegin() + 1; at != nodes.rend(); ++at) {
    auto left = node(*at);
    if (!left.ok()) return left.take_error();
    folded = node_hash(*left, folded);
  }
  return folded;
}

Result<std::vector<Sm3Digest>> range_hashes(store::Session& session, const std::vector<Range>& ranges) {
  std::vector<Node> nodes;
  for (const Range& range : ranges) {
    std::vector<Node> part = range_nodes(range);
    nodes.insert(nodes.end(), part.begin(), part.end());
  }
  StoredNodes stored(session);
  ONEWINDOW_TRY(stored.fetch(nodes));
  std::vector<Sm3Digest> hashes;
  hashes.reserve(ranges.size());
  for (const Range& range : ranges) {
    auto hash = stored.range_hash(range);
    if (!hash.ok()) return hash.take_error();
    hashes.push_back(*hash);
  }
  return hashes;
}

Result<std::int64_t> log_size(store::Session& session) {
  auto last = session.query_one("SELECT entry_index FROM audit_entry ORDER BY entry_index DESC LIMIT 1");
  if (!last.ok()) return last.take_error();
  if (!last->has_value()) return std::int64_t{0};
  return (*last)->integer(0) + 1;
}

}  // namespace internal
}  // namespace onewindow::audit
