// audit: the transparency log. Every state-changing act on the platform (the login of a
// privileged user, account and role changes, and later every registry write, grant, data read,
// intake, decision, license and warning) is appended to one log whose entries cannot be changed,
// removed or reordered without it showing.
//
// Contract:
// - audit owns the tables audit_entry, audit_tree_head and audit_append_lock; nothing else reads
//   or writes them. TransparencyLog::record is the one way to append, and it runs inside the
//   caller's write transaction: the act and its entry commit together or not at all.
// - An entry is canonical JSON (docs/audit.md): the act, the entry's index, the time of
//   recording and a random salt (leaf hashes are public; the salt keeps them from confirming a
//   guessed entry). The log holds personal data (account ids, the persons acted for, whatever a caller
//   puts into details), so reading entries needs the permission "audit.read"; tree heads and
//   proofs carry only hashes and are public. Never put a secret (password, token, key, TOTP
//   secret) into an act; put a citizen ID number into details only where the act needs it.
// - Leaves and nodes are hashed with SM3 in the shape of RFC 9162 section 2.1: a leaf is
//   SM3(0x00 || entry), a node SM3(0x01 || left || right). Proofs follow RFC 9162 sections
//   2.1.3 and 2.1.4, and any RFC 9162 verifier that hashes with SM3 accepts them.
// - Tree heads are signed with the node's SM2 key by a background thread (start_signing), never
//   on the request path, and every one is kept. verify_log recomputes the whole tree from the
//   stored entries and names the first entry or tree head that does not match.
// - Threads: TransparencyLog may be used from any number of threads at once, except
//   start_signing and stop_signing, which belong to its owner. The signing thread is joined by
//   stop_signing and by the destructor; stop it before closing the database.
//
// Error codes: audit.missing_actor, audit.bad_action, audit.details_not_object,
// audit.non_integer_number, audit.invalid_utf8, audit.too_deep, audit.bad_details
// (invalid_argument) and audit.entry_too_large (too_large) for an act that cannot be recorded;
// audit.entry_not_found and audit.no_tree_head (not_found); audit.index_beyond_tree,
// audit.tree_size_beyond_log and audit.bad_tree_size (invalid_argument) for proofs asked of trees
// that do not exist; audit.bad_proof (invalid_argument) from the proof checks;
// audit.signer_running (conflict); audit.corrupt (internal) when stored hashes are missing or
// malformed; and the store's codes for database failures.
#pragma once

#include "base/clock.h"
#include "base/result.h"
#include "crypto/crypto.h"
#include "store/store.h"

#include <nlohmann/json.hpp>

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace onewindow::audit {

using crypto::Sm3Digest;

// What happened: one state-changing act.
struct Act {
  std::string actor;         // the account id of who acted, or "system"
  std::string on_behalf_of;  // the person or legal person acted for; empty when none
  std::string action;        // "<module>.<verb>": "identity.login", "registry.write"
  std::string object_type;   // what kind of thing was acted on: "account", "department"
  std::string object_id;     // which one
  std::string basis;         // the legal basis or the purpose; empty when none applies
  // Anything else worth keeping: a JSON object of strings, integers, booleans, null, arrays and
  // objects. Numbers must be integers, so that the entry has one canonical form.
  nlohmann::json details = nlohmann::json::object();
  // Or the details already in canonical form, taken instead of `details` when not empty: for a
  // caller that records an act on every request and writes its details' text member by member
  // (append_canonical_string, append_canonical_json) rather than build an object only to write
  // it, as an exchange read does. record() checks only that it is an object's text; the caller's
  // tests check it against canonical_json.
  std::string canonical_details;
};

// Proof that an act was recorded; callers may hand it to whoever asked for the act.
struct Receipt {
  std::int64_t index = 0;
  Sm3Digest leaf_hash{};
  std::string time;  // when it was recorded, "2026-11-23T08:05:09.123Z"
};

struct Entry {
  std::int64_t index = 0;
  std::string content;  // the canonical JSON, exactly the bytes hashed into the leaf
  Sm3Digest leaf_hash{};
};

struct SignedTreeHead {
  std::int64_t tree_size = 0;
  std::string timestamp;  // when it was signed, "2026-11-23T08:05:09.123Z"
  Sm3Digest root_hash{};
  crypto::Bytes signature;  // DER SM2 signature (SM3, default ID) of signed_message()

  // The exact bytes signed (see tree_head_message).
  std::string signed_message() const;
};

// The canonical JSON that a tree head's signature covers, e.g.
// {"kind":"onewindow.audit.tree_head.v1","root_hash":"<64 hex digits>",
//  "timestamp":"2026-11-23T08:05:09.123Z","tree_size":50}
std::string tree_head_message(std::int64_t tree_size, std::string_view timestamp, const Sm3Digest& root_hash);

// ---- Canonical JSON and hashing -------------------------------------------------------------

// The canonical form of a JSON value: object keys sorted by their UTF-8 bytes, no whitespace,
// strings in UTF-8 with only '"', '\' and control characters escaped (\b \f \n \r \t, else
// \u00xx), integers in decimal. Fails for numbers that are not integers (audit.non_integer_number),
// strings or keys that are not UTF-8 (audit.invalid_utf8), binary values (audit.bad_details) and
// nesting deeper than 64 (audit.too_deep). It equals Python's json.dumps(value, ensure_ascii=False,
// separators=(",", ":"), sort_keys=True) for such values.
Result<std::string> canonical_json(const nlohmann::json& value);
// canonical_json() of a value, and the canonical form of one string, appended to `out`: for
// callers that write the canonical text of an object of their own key by key, in sorted order,
// instead of building the object only to write it (an exchange read's hashes and details). The
// errors are canonical_json's; after one, `out` holds a partial text.
Status append_canonical_json(const nlohmann::json& value, std::string& out);
Status append_canonical_string(std::string_view text, std::string& out);

Sm3Digest leaf_hash(std::string_view entry);                        // SM3(0x00 || entry)
Sm3Digest node_hash(const Sm3Digest& left, const Sm3Digest& right);  // SM3(0x01 || left || right)
Sm3Digest empty_tree_hash();                                         // SM3 of nothing

// RFC 9162 section 2.1.3.2: ok when `path` proves that the leaf with hash `leaf` is at `index` in
// the tree of `tree_size` leaves whose root is `root`; audit.bad_proof otherwise.
Status verify_inclusion(std::int64_t index, std::int64_t tree_size, const Sm3Digest& leaf,
                        std::span<const Sm3Digest> path, const Sm3Digest& root);
// RFC 9162 section 2.1.4.2: ok when `path` proves that the tree of `first` leaves with root
// `first_root` is a prefix of the tree of `second` leaves with root `second_root`; for equal sizes
// the path must be empty and the roots equal. audit.bad_proof otherwise.
Status verify_consistency(std::int64_t first, std::int64_t second, const Sm3Digest& first_root,
                          const Sm3Digest& second_root, std::span<const Sm3Digest> path);

// ---- The log --------------------------------------------------------------------------------

class TransparencyLog {
 public:
  // The log keeps references to database and clock; both must outlive it. node_key signs tree
  // heads.
  TransparencyLog(store::Database& database, crypto::PrivateKey node_key, const Clock& clock);
  ~TransparencyLog();  // stops signing
  TransparencyLog(const TransparencyLog&) = delete;
  TransparencyLog& operator=(const TransparencyLog&) = delete;

  // The tables, for Database::migrate.
  static std::vector<store::Migration> migrations();

  // Appends the act as the next entry, inside the caller's write transaction (session comes from
  // Database::write). The entry commits with the act or not at all, and indexes stay consecutive
  // whatever rolls back. On PostgreSQL, appenders wait for each other from here until their
  // transaction ends: record the act as the last statement of the work.
  Result<Receipt> record(store::Session& session, const Act& act);

  // Signs a tree head every interval while the log grows, on a thread of its own, each in its
  // own transaction; failures are logged and retried at the next interval. audit.signer_running
  // if it runs already.
  Status start_signing(std::chrono::milliseconds interval = std::chrono::milliseconds(1000));
  // Stops and joins the signing thread; does nothing when it is not running.
  void stop_signing();

  // Signs the current tree now if it grew since the latest tree head (or none exists yet, even
  // for an empty log); otherwise returns the latest. Used by the signing thread and by tests.
  Result<SignedTreeHead> sign_tree_head();
  // The signed tree head of the largest tree; audit.no_tree_head before the first.
  Result<SignedTreeHead> latest_tree_head() const;

  // The number of entries committed.
  Result<std::int64_t> size() const;
  // The same three reads in the caller's transaction: for a module that keeps an index of its
  // own acts from the log (the exchange's reads), reading them in one snapshot with its own rows.
  static Result<std::int64_t> size(store::Session& session);
  static Result<Entry> entry(store::Session& session, std::int64_t index);
  // The entries at these indexes, in the order asked, read a hundred at a time rather than one by
  // one; audit.entry_not_found names the first index the log does not have.
  static Result<std::vector<Entry>> entries_at(store::Session& session, const std::vector<std::int64_t>& indexes);
  // The entries of [from, to) whose action is `action`, in index order; their leaf hashes unset.
  static Result<std::vector<Entry>> entries_of(store::Session& session, std::string_view action, std::int64_t from,
                                               std::int64_t to);
  // The root of the tree of the first tree_size entries, computed from stored subtree hashes.
  Result<Sm3Digest> root_hash(std::int64_t tree_size) const;
  // audit.entry_not_found unless 0 <= index < size().
  Result<Entry> entry(std::int64_t index) const;
  // RFC 9162 inclusion proof (audit path) of entry `index` in the tree of `tree_size` entries,
  // nearest the leaf first. Requires 0 <= index < tree_size <= size().
  Result<std::vector<Sm3Digest>> inclusion_proof(std::int64_t index, std::int64_t tree_size) const;
  // RFC 9162 consistency proof between the trees of `first` and `second` entries. Requires
  // 0 < first <= second <= size(); empty when first == second.
  Result<std::vector<Sm3Digest>> consistency_proof(std::int64_t first, std::int64_t second) const;

  const crypto::PublicKey& public_key() const { return node_key_.public_key(); }

 private:
  void signing_loop(std::chrono::milliseconds interval);

  store::Database& database_;
  crypto::PrivateKey node_key_;
  const Clock& clock_;

  std::mutex signing_mutex_;  // one signature at a time from this process

  std::mutex signer_mutex_;  // guards the fields below
  std::condition_variable signer_wake_;
  std::thread signer_;
  bool stopping_ = false;
};

// ---- Verification ---------------------------------------------------------------------------

enum class ProblemKind {
  entry_changed,        // its content does not hash to its stored leaf or subtree hashes
  entry_missing,        // an index with no entry: deleted, or the log cut short
  entry_reordered,      // an entry stored at an index other than its own
  entry_unexpected,     // a row at an index no entry can have (below zero)
  tree_head_mismatch,   // a signed root differs from the root recomputed from the entries
  tree_head_signature,  // a tree head whose signature does not verify with the node's key
};
std::string_view problem_name(ProblemKind kind);  // "changed", "missing", "reordered", ...

struct Problem {
  ProblemKind kind = ProblemKind::entry_changed;
  // The first entry affected. For a tree head mismatch, the changed entry lies somewhere in
  // [entry_index, range_end): from the size of the last tree head that verified to this one's.
  std::int64_t entry_index = -1;
  std::int64_t range_end = -1;
  std::int64_t tree_size = -1;  // the tree head at fault; -1 for entry problems
  std::string message;          // one sentence naming the entry or tree head
};

struct VerifyReport {
  bool ok() const { return !problem.has_value(); }
  std::optional<Problem> problem;  // the first one found, in index order
  std::int64_t entries = 0;        // entries checked before the end or the first problem
  std::int64_t bytes_hashed = 0;   // the size of those entries
  std::int64_t tree_heads = 0;     // tree heads whose root and signature verified
  std::int64_t signed_size = 0;    // the size of the largest tree head that verified
  // One line for people: "ok: 1000 entries, 12 tree heads ..." or "entry 17 changed: ...".
  std::string summary() const;
};

// Recomputes every leaf from the stored entry content, checks the indexes run 0..n-1 with each
// entry at its own index, rebuilds the tree and checks every stored tree head's root and SM2
// signature against `node_key`, all in one read snapshot. Stops at the first problem. progress,
// when set, is called now and then from the calling thread with the entries done and the total.
// Errors are for failures to read; a log that fails verification is an ok Result whose report
// names the problem.
Result<VerifyReport> verify_log(store::Database& database, const crypto::PublicKey& node_key,
                                const std::function<void(std::int64_t done, std::int64_t total)>& progress = {});
// The same, for a node whose key changed over time (its certificate rotated): a tree head
// verifies when any of `node_keys` signed it.
Result<VerifyReport> verify_log(store::Database& database, std::vector<crypto::PublicKey> node_keys,
                                const std::function<void(std::int64_t done, std::int64_t total)>& progress = {});

}  // namespace onewindow::audit
