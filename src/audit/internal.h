// Private to audit/: how the tree is laid out in the tables, and the arithmetic of RFC 9162's
// tree over stored subtree hashes. Not for other modules.
//
// Storage: every perfect subtree (2^level leaves starting at a multiple of 2^level) is stored
// once, in the row of its last leaf. Level 0 is that row's leaf_hash; levels 1..t are the row's
// subtree_hashes, 32 bytes each, where t is the number of trailing one bits of the row's index
// (the subtrees that leaf completes). Any root or proof then takes O(log n) stored hashes.
#pragma once

#include "audit/audit.h"

#include <map>
#include <optional>

namespace onewindow::audit::internal {

// A perfect subtree: leaves [position << level, (position + 1) << level).
struct Node {
  int level = 0;
  std::int64_t position = 0;
  friend bool operator==(const Node&, const Node&) = default;
};

// The entry row whose columns hold the node.
inline std::int64_t row_of(Node node) { return ((node.position + 1) << node.level) - 1; }

// The number of subtree hashes stored in the row of entry `index` (its trailing one bits).
int completed_levels(std::int64_t index);

// A range of leaves [begin, end) whose hash RFC 9162 calls MTH(D[begin:end]).
struct Range {
  std::int64_t begin = 0;
  std::int64_t end = 0;
};

// The perfect subtrees, left to right, whose right fold is MTH of the range. Only ranges that
// RFC 9162's recursion produces are valid: begin aligned to the largest power of two not above
// end - begin (always true of the ranges below).
std::vector<Node> range_nodes(Range range);

// The ranges whose hashes make up the proofs, in proof order (RFC 9162 PATH and PROOF).
// Preconditions as for TransparencyLog::inclusion_proof and consistency_proof.
std::vector<Range> inclusion_ranges(std::int64_t index, std::int64_t tree_size);
std::vector<Range> consistency_ranges(std::int64_t first, std::int64_t second);

// Stored hashes fetched from the entry table, for computing roots and proofs.
class StoredNodes {
 public:
  explicit StoredNodes(store::Session& session) : session_(session) {}
  // Reads the rows holding these nodes, in one query.
  Status fetch(const std::vector<Node>& nodes);
  // A fetched node; audit.corrupt when its row was missing or too short.
  Result<Sm3Digest> node(Node node) const;
  // MTH of the range, from fetched nodes.
  Result<Sm3Digest> range_hash(Range range) const;

 private:
  struct Hashes {
    Sm3Digest leaf{};
    std::vector<std::uint8_t> subtrees;
  };
  store::Session& session_;
  std::map<std::int64_t, Hashes> rows_;
};

// Hashes of proofs of the given ranges, fetched in one query.
Result<std::vector<Sm3Digest>> range_hashes(store::Session& session, const std::vector<Range>& ranges);

// The size of the log as the session sees it: the last entry's index plus one.
Result<std::int64_t> log_size(store::Session& session);

Error corrupt(std::string message);

// canonical_json, appending to out: a whole value, or one string (audit.invalid_utf8 naming
// `field` when it is not UTF-8). The error, if any (not a Status, which allocates even when ok).
std::optional<Error> append_canonical(const nlohmann::json& value, std::string& out);
std::optional<Error> append_canonical_string(std::string_view text, std::string_view field, std::string& out);

}  // namespace onewindow::audit::internal
