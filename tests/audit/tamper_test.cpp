// Someone with write access to the database edits, deletes and reorders rows of the log;
// verify_log names what was done, on SQLite and on PostgreSQL.
#include "log_fixture.h"

#include <gtest/gtest.h>

#include <bit>

namespace onewindow::audit {
namespace {

using testing::reference_root;

class TamperTest : public testing::LogFixture {
 protected:
  // 50 entries with tree heads signed at 10, 20, 30, 40 and 50.
  void SetUp() override {
    LogFixture::SetUp();
    if (HasFatalFailure()) return;
    for (int round = 0; round < 5; ++round) {
      append(10);
      clock_.advance(std::chrono::seconds(1));
      sign();
    }
  }

  Problem expect_problem(ProblemKind kind, std::int64_t entry_index) {
    VerifyReport report = verify();
    EXPECT_FALSE(report.ok()) << "tampering went unnoticed";
    if (report.ok()) return {};
    EXPECT_EQ(problem_name(report.problem->kind), problem_name(kind)) << report.summary();
    EXPECT_EQ(report.problem->entry_index, entry_index) << report.summary();
    bool head = kind == ProblemKind::tree_head_mismatch || kind == ProblemKind::tree_head_signature;
    std::string named = head ? "tree head of size " + std::to_string(report.problem->tree_size)
                             : "entry " + std::to_string(entry_index);
    EXPECT_NE(report.summary().find(named), std::string::npos) << report.summary();
    return *report.problem;
  }

  // What an attacker who knows the scheme but not the node's key does after changing entries:
  // recompute every leaf hash and stored subtree hash so that the rows agree with each other.
  void rebuild_stored_hashes() {
    std::vector<std::pair<std::int64_t, std::string>> rows;
    Status read = database_->read([&](store::Session& session) -> Status {
      return session.query_each("SELECT entry_index, content FROM audit_entry ORDER BY entry_index", {},
                                [&](const store::Row& row) {
                                  rows.emplace_back(row.integer(0), row.text(1));
                                  return true;
                                });
    });
    ASSERT_TRUE(read.ok()) << read.error().message;
    std::vector<Sm3Digest> leaves;
    for (const auto& [index, content] : rows) leaves.push_back(leaf_hash(content));
    Status written = database_->write([&](store::Session& session) -> Status {
      for (std::size_t i = 0; i < rows.size(); ++i) {
        store::Blob subtrees;
        int levels = std::countr_one(static_cast<std::uint64_t>(i));
        for (int level = 1; level <= levels; ++level) {
          Sm3Digest node = reference_root(leaves, i + 1 - (std::size_t{1} << level), i + 1);
          subtrees.insert(subtrees.end(), node.begin(), node.end());
        }
        auto updated = session.execute(
            "UPDATE audit_entry SET leaf_hash = $1, subtree_hashes = $2 WHERE entry_index = $3",
            {store::Blob(leaves[i].begin(), leaves[i].end()), subtrees.empty() ? store::Value{} : store::Value{subtrees},
             rows[i].first});
        if (!updated.ok()) return updated.take_error();
      }
      return ok_status();
    });
    ASSERT_TRUE(written.ok()) << written.error().message;
  }
};

TEST_P(TamperTest, AnUntouchedLogVerifies) {
  VerifyReport report = verify();
  EXPECT_TRUE(report.ok()) << report.summary();
  EXPECT_EQ(report.entries, 50);
  EXPECT_EQ(report.tree_heads, 5);
  EXPECT_EQ(report.signed_size, 50);
  EXPECT_EQ(report.summary().rfind("ok: 50 entries", 0), 0u) << report.summary();
}

TEST_P(TamperTest, NamesAnEditedEntry) {
  tamper("UPDATE audit_entry SET content = replace(content, 'acc_', 'acx_') WHERE entry_index = 17");
  Problem problem = expect_problem(ProblemKind::entry_changed, 17);
  EXPECT_NE(problem.message.find("changed"), std::string::npos);
}

TEST_P(TamperTest, NamesADeletedEntry) {
  tamper("DELETE FROM audit_entry WHERE entry_index = 23");
  Problem problem = expect_problem(ProblemKind::entry_missing, 23);
  EXPECT_NE(problem.message.find("missing"), std::string::npos);
}

TEST_P(TamperTest, NamesTheLowerOfTwoSwappedEntries) {
  tamper("UPDATE audit_entry SET entry_index = -1 WHERE entry_index = 31");
  tamper("UPDATE audit_entry SET entry_index = 31 WHERE entry_index = 30");
  tamper("UPDATE audit_entry SET entry_index = 30 WHERE entry_index = -1");
  Problem problem = expect_problem(ProblemKind::entry_reordered, 30);
  EXPECT_NE(problem.message.find("entry 31"), std::string::npos) << problem.message;
}

TEST_P(TamperTest, NamesTheFirstTreeHeadWhenStoredHashesWereRecomputed) {
  tamper("UPDATE audit_entry SET content = replace(content, 'acc_', 'acx_') WHERE entry_index = 24");
  rebuild_stored_hashes();
  // The rows agree with each other now: only the signatures stand in the way.
  Problem problem = expect_problem(ProblemKind::tree_head_mismatch, 20);
  EXPECT_EQ(problem.tree_size, 30);
  EXPECT_EQ(problem.range_end, 30);
  EXPECT_NE(problem.message.find("tree head of size 30"), std::string::npos) << problem.message;
  EXPECT_NE(problem.message.find("entries 20 to 29"), std::string::npos) << problem.message;

  // A client holding the tree head of size 30 sees it too: the proofs the log now serves lead to
  // another root.
  auto signed_root = database_->read_value<Sm3Digest>([](store::Session& session) -> Result<Sm3Digest> {
    auto row = session.query_one("SELECT root_hash FROM audit_tree_head WHERE tree_size = 30");
    if (!row.ok()) return row.take_error();
    Sm3Digest root;
    const store::Blob& blob = (*row)->blob(0);
    std::copy(blob.begin(), blob.end(), root.begin());
    return root;
  });
  ASSERT_TRUE(signed_root.ok());
  auto entry = log_->entry(24);
  auto path = log_->inclusion_proof(24, 30);
  ASSERT_TRUE(entry.ok() && path.ok());
  EXPECT_FALSE(verify_inclusion(24, 30, leaf_hash(entry->content), *path, *signed_root).ok());
}

TEST_P(TamperTest, NamesAReorderHiddenByRecomputedHashes) {
  // Swap the whole rows' places, index text included, and rebuild the hashes: entry by entry all
  // agrees, so the tree heads must catch it.
  tamper("UPDATE audit_entry SET entry_index = -1 WHERE entry_index = 12");
  tamper("UPDATE audit_entry SET entry_index = 12, content = replace(content, '\"index\":13,', '\"index\":12,') "
         "WHERE entry_index = 13");
  tamper("UPDATE audit_entry SET entry_index = 13, content = replace(content, '\"index\":12,', '\"index\":13,') "
         "WHERE entry_index = -1");
  rebuild_stored_hashes();
  Problem problem = expect_problem(ProblemKind::tree_head_mismatch, 10);
  EXPECT_EQ(problem.tree_size, 20);
}

TEST_P(TamperTest, NamesAChangedLeafHashOrSubtreeHash) {
  tamper("UPDATE audit_entry SET leaf_hash = $1 WHERE entry_index = 8", {store::Blob(32, 0x42)});
  expect_problem(ProblemKind::entry_changed, 8);
}

TEST_P(TamperTest, NamesAChangedSubtreeHash) {
  tamper("UPDATE audit_entry SET subtree_hashes = $1 WHERE entry_index = 15", {store::Blob(4 * 32, 0x42)});
  Problem problem = expect_problem(ProblemKind::entry_changed, 15);
  EXPECT_NE(problem.message.find("subtree hash of level 1"), std::string::npos) << problem.message;
}

TEST_P(TamperTest, NamesALogCutShort) {
  tamper("DELETE FROM audit_entry WHERE entry_index >= 45");
  Problem problem = expect_problem(ProblemKind::entry_missing, 45);
  EXPECT_EQ(problem.tree_size, 50);
}

TEST_P(TamperTest, NamesAnEntryAtAnImpossibleIndex) {
  tamper("UPDATE audit_entry SET entry_index = -7 WHERE entry_index = 0");
  expect_problem(ProblemKind::entry_unexpected, -7);
}

TEST_P(TamperTest, NamesAForgedTreeHead) {
  tamper("UPDATE audit_tree_head SET root_hash = $1 WHERE tree_size = 40", {store::Blob(32, 0x42)});
  Problem problem = expect_problem(ProblemKind::tree_head_mismatch, 30);
  EXPECT_EQ(problem.tree_size, 40);
}

TEST_P(TamperTest, NamesATreeHeadWhoseSignatureFails) {
  tamper("UPDATE audit_tree_head SET signed_at = '2020-01-01T00:00:00.000Z' WHERE tree_size = 20");
  Problem problem = expect_problem(ProblemKind::tree_head_signature, 10);
  EXPECT_EQ(problem.tree_size, 20);

  // And a tree head signed by another key is no better.
  auto other = crypto::PrivateKey::generate();
  ASSERT_TRUE(other.ok());
  auto report = verify_log(*database_, other->public_key());
  ASSERT_TRUE(report.ok());
  ASSERT_FALSE(report->ok());
  EXPECT_EQ(report->problem->kind, ProblemKind::tree_head_signature);
  EXPECT_EQ(report->problem->tree_size, 10);
}

TEST_P(TamperTest, TreeHeadsSignedBeforeAKeyChangeNeedTheOldKey) {
  // The node's certificate rotated: a new log object signs with the new key from now on.
  auto new_key = crypto::PrivateKey::generate();
  ASSERT_TRUE(new_key.ok());
  log_ = std::make_unique<TransparencyLog>(*database_, *new_key, clock_);
  append(5);
  sign();
  auto only_new = verify_log(*database_, std::vector<crypto::PublicKey>{new_key->public_key()});
  ASSERT_TRUE(only_new.ok());
  ASSERT_FALSE(only_new->ok());
  EXPECT_EQ(only_new->problem->kind, ProblemKind::tree_head_signature);
  auto both = verify_log(*database_, std::vector<crypto::PublicKey>{new_key->public_key(), key_->public_key()});
  ASSERT_TRUE(both.ok());
  EXPECT_TRUE(both->ok()) << both->summary();
}

INSTANTIATE_TEST_SUITE_P(Backends, TamperTest, ::testing::Values(store::Backend::sqlite, store::Backend::postgresql),
                         testing::backend_test_name);

}  // namespace
}  // namespace onewindow::audit
