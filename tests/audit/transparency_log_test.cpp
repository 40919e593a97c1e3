// Recording, signing and proving, against SQLite and PostgreSQL.
#include "log_fixture.h"

#include <gtest/gtest.h>

#include <atomic>
#include <set>
#include <thread>

namespace onewindow::audit {
namespace {

using testing::reference_root;

class TransparencyLogTest : public testing::LogFixture {
 protected:
  std::vector<Sm3Digest> stored_leaves() {
    std::vector<Sm3Digest> leaves;
    auto size = log_->size();
    EXPECT_TRUE(size.ok());
    for (std::int64_t index = 0; size.ok() && index < *size; ++index) {
      auto entry = log_->entry(index);
      EXPECT_TRUE(entry.ok()) << entry.error().message;
      if (entry.ok()) leaves.push_back(leaf_hash(entry->content));
    }
    return leaves;
  }
};

TEST_P(TransparencyLogTest, RecordsCanonicalEntriesWithConsecutiveIndexes) {
  clock_.set(std::chrono::sys_days(std::chrono::year(2026) / 11 / 23) + std::chrono::hours(1) +
             std::chrono::milliseconds(5));
  for (int i = 0; i < 3; ++i) {
    auto receipt = record(sample_act(i));
    ASSERT_TRUE(receipt.ok()) << receipt.error().message;
    EXPECT_EQ(receipt->index, i);
    EXPECT_EQ(receipt->time, "2026-11-23T01:00:00.005Z");
  }
  auto entry = log_->entry(1);
  ASSERT_TRUE(entry.ok()) << entry.error().message;
  EXPECT_EQ(entry->index, 1);
  EXPECT_EQ(entry->leaf_hash, leaf_hash(entry->content));
  auto parsed = nlohmann::json::parse(entry->content);
  EXPECT_EQ(parsed["index"], 1);
  EXPECT_EQ(parsed["actor"], "acc_1001");
  EXPECT_EQ(parsed["action"], "identity.login");
  EXPECT_EQ(parsed["object_type"], "person");
  EXPECT_EQ(parsed["object_id"], "per_1");
  EXPECT_EQ(parsed["on_behalf_of"], "");
  EXPECT_EQ(parsed["basis"], "");
  EXPECT_EQ(parsed["time"], "2026-11-23T01:00:00.005Z");
  EXPECT_EQ(parsed["details"]["value"], "山东省青岛市莱西市 1");
  EXPECT_EQ(parsed["salt"].get<std::string>().size(), 32u);
  // Stored exactly in canonical form: re-serialising the parsed entry gives the same bytes.
  EXPECT_EQ(canonical_json(parsed).value(), entry->content);
  EXPECT_EQ(log_->size().value(), 3);

  auto missing = log_->entry(3);
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().code, "audit.entry_not_found");
  EXPECT_EQ(missing.error().kind, ErrorKind::not_found);
}

// A reader of scattered entries (who read my data) gets them in one pass of a hundred at a time,
// in the order it asked, each as entry() gives it.
TEST_P(TransparencyLogTest, EntriesAtManyIndexesComeInTheOrderAsked) {
  append(250);
  std::vector<std::int64_t> indexes;
  for (std::int64_t index = 249; index >= 0; index -= 2) indexes.push_back(index);
  indexes.push_back(7);  // asked twice
  Status read = database_->read([&](store::Session& session) -> Status {
    auto entries = TransparencyLog::entries_at(session, indexes);
    EXPECT_TRUE(entries.ok()) << entries.error().message;
    if (!entries.ok()) return ok_status();
    EXPECT_EQ(entries->size(), indexes.size());
    for (std::size_t i = 0; i < entries->size() && i < indexes.size(); ++i) {
      auto one = TransparencyLog::entry(session, indexes[i]);
      EXPECT_TRUE(one.ok());
      EXPECT_EQ((*entries)[i].index, indexes[i]);
      EXPECT_EQ((*entries)[i].content, one->content);
      EXPECT_EQ((*entries)[i].leaf_hash, one->leaf_hash);
    }
    EXPECT_TRUE(TransparencyLog::entries_at(session, {})->empty());
    auto beyond = TransparencyLog::entries_at(session, {3, 250, 4});
    EXPECT_FALSE(beyond.ok());
    if (!beyond.ok()) {
      EXPECT_EQ(beyond.error().code, "audit.entry_not_found");
      EXPECT_NE(beyond.error().message.find("250"), std::string::npos);
    }
    return ok_status();
  });
  EXPECT_TRUE(read.ok());
}

TEST_P(TransparencyLogTest, DetailsWrittenByTheCallerMakeTheSameEntry) {
  Act built = sample_act(2);
  Act written = built;
  written.details = nlohmann::json::object();
  written.canonical_details = canonical_json(built.details).value();
  auto first = record(built);
  auto second = record(written);
  ASSERT_TRUE(first.ok() && second.ok()) << (first.ok() ? second.error().message : first.error().message);
  auto built_entry = nlohmann::json::parse(log_->entry(first->index)->content);
  auto written_entry = nlohmann::json::parse(log_->entry(second->index)->content);
  EXPECT_EQ(written_entry["details"], built_entry["details"]);
  EXPECT_EQ(canonical_json(written_entry).value(), log_->entry(second->index)->content);
  written.canonical_details = "[1]";
  auto refused = record(written);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().code, "audit.details_not_object");
}

TEST_P(TransparencyLogTest, SaltsMakeEqualActsHashDifferently) {
  auto first = record(sample_act(1));
  auto second = record(sample_act(1));
  ASSERT_TRUE(first.ok() && second.ok());
  EXPECT_NE(first->leaf_hash, second->leaf_hash);
}

TEST_P(TransparencyLogTest, RefusesActsThatCannotBeRecorded) {
  auto expect_refused = [&](Act act, const std::string& code, const std::string& field) {
    auto receipt = record(act);
    ASSERT_FALSE(receipt.ok()) << code;
    EXPECT_EQ(receipt.error().code, code);
    EXPECT_EQ(receipt.error().details.value("field", ""), field) << code;
  };
  Act act = sample_act(0);
  act.actor.clear();
  expect_refused(act, "audit.missing_actor", "actor");
  for (std::string action : {"", "login", "Identity.login", "identity.", "identity..login", "identity.log in", ".x.y"}) {
    act = sample_act(0);
    act.action = action;
    expect_refused(act, "audit.bad_action", "action");
  }
  act = sample_act(0);
  act.details = {{"score", 2.5}};
  expect_refused(act, "audit.non_integer_number", "details");
  act = sample_act(0);
  act.details = nlohmann::json::array();
  expect_refused(act, "audit.details_not_object", "details");
  act = sample_act(0);
  act.object_id = "\xff\xfe";
  expect_refused(act, "audit.invalid_utf8", "object_id");
  act = sample_act(0);
  act.details = {{"note", std::string("\xed\xa0\x80")}};  // a UTF-16 surrogate written as UTF-8
  expect_refused(act, "audit.invalid_utf8", "details");
  act = sample_act(0);
  act.details = {{"scan", std::string(70 * 1024, 'x')}};
  auto too_large = record(act);
  ASSERT_FALSE(too_large.ok());
  EXPECT_EQ(too_large.error().code, "audit.entry_too_large");
  EXPECT_EQ(too_large.error().kind, ErrorKind::too_large);
  EXPECT_EQ(log_->size().value(), 0);
}

TEST_P(TransparencyLogTest, AnActInAFailedWriteIsAbsentAndLeavesNoGap) {
  append(2);
  Status failed = database_->write([&](store::Session& session) -> Status {
    auto receipt = log_->record(session, sample_act(50));
    EXPECT_TRUE(receipt.ok());
    EXPECT_EQ(receipt->index, 2);
    return Error(ErrorKind::conflict, "test.refused", "the act itself failed after its entry was made");
  });
  ASSERT_FALSE(failed.ok());
  EXPECT_THROW(database_->write([&](store::Session& session) -> Status {
    EXPECT_TRUE(log_->record(session, sample_act(51)).ok());
    throw std::runtime_error("crash in the middle of the act");
  }),
               std::runtime_error);
  EXPECT_EQ(log_->size().value(), 2);
  EXPECT_FALSE(log_->entry(2).ok());

  auto next = record(sample_act(52));
  ASSERT_TRUE(next.ok());
  EXPECT_EQ(next->index, 2);
  EXPECT_TRUE(verify().ok());
}

TEST_P(TransparencyLogTest, ConcurrentWritersGetConsecutiveIndexes) {
  constexpr int threads = 6;
  constexpr int per_thread = 20;
  std::atomic<int> committed = 0;
  std::vector<std::thread> writers;
  std::mutex mutex;
  std::set<std::int64_t> indexes;
  for (int t = 0; t < threads; ++t) {
    writers.emplace_back([&, t] {
      for (int i = 0; i < per_thread; ++i) {
        Act act = sample_act(t * 100 + i);
        std::int64_t index = -1;
        // Every fifth act fails after its entry was made, and rolls the entry back with it.
        bool fail = i % 5 == 4;
        Status status = database_->write([&](store::Session& session) -> Status {
          auto receipt = log_->record(session, act);
          if (!receipt.ok()) return receipt.take_error();
          index = receipt->index;
          if (fail) return Error(ErrorKind::conflict, "test.refused", "refused");
          return ok_status();
        });
        if (fail) {
          EXPECT_EQ(status.error().code, "test.refused");
          continue;
        }
        ASSERT_TRUE(status.ok()) << status.error().message;
        ++committed;
        std::lock_guard lock(mutex);
        EXPECT_TRUE(indexes.insert(index).second) << "index " << index << " handed out twice";
      }
    });
  }
  // Tree heads are signed while the writers run, as in production.
  ASSERT_TRUE(log_->start_signing(std::chrono::milliseconds(5)).ok());
  for (auto& writer : writers) writer.join();
  log_->stop_signing();

  ASSERT_EQ(committed.load(), threads * per_thread * 4 / 5);
  ASSERT_EQ(log_->size().value(), committed.load());
  std::int64_t expected = 0;
  for (std::int64_t index : indexes) EXPECT_EQ(index, expected++);
  sign();
  VerifyReport report = verify();
  EXPECT_TRUE(report.ok()) << report.summary();
  EXPECT_EQ(report.entries, committed.load());
  EXPECT_GE(report.tree_heads, 1);
}

TEST_P(TransparencyLogTest, SignsTreeHeadsOnlyWhenTheTreeGrew) {
  auto none = log_->latest_tree_head();
  ASSERT_FALSE(none.ok());
  EXPECT_EQ(none.error().code, "audit.no_tree_head");

  SignedTreeHead empty = sign();
  EXPECT_EQ(empty.tree_size, 0);
  EXPECT_EQ(empty.root_hash, empty_tree_hash());

  append(5);
  clock_.advance(std::chrono::seconds(1));
  SignedTreeHead head = sign();
  EXPECT_EQ(head.tree_size, 5);
  EXPECT_EQ(head.timestamp, format_timestamp(clock_.now()));
  EXPECT_EQ(head.root_hash, reference_root(stored_leaves(), 0, 5));
  EXPECT_TRUE(log_->public_key().verify(head.signed_message(), head.signature).ok());
  EXPECT_EQ(head.signed_message(), "{\"kind\":\"onewindow.audit.tree_head.v1\",\"root_hash\":\"" +
                                       crypto::to_hex(head.root_hash) + "\",\"timestamp\":\"" + head.timestamp +
                                       "\",\"tree_size\":5}");

  clock_.advance(std::chrono::seconds(1));
  SignedTreeHead again = sign();
  EXPECT_EQ(again.tree_size, 5);
  EXPECT_EQ(again.timestamp, head.timestamp);
  EXPECT_EQ(again.signature, head.signature);

  append(1);
  SignedTreeHead grown = sign();
  EXPECT_EQ(grown.tree_size, 6);
  auto latest = log_->latest_tree_head();
  ASSERT_TRUE(latest.ok());
  EXPECT_EQ(latest->tree_size, 6);
  EXPECT_EQ(latest->signature, grown.signature);
  EXPECT_EQ(verify().tree_heads, 3);
}

TEST_P(TransparencyLogTest, SignerThreadSignsWhileEntriesArrive) {
  ASSERT_TRUE(log_->start_signing(std::chrono::milliseconds(20)).ok());
  auto again = log_->start_signing();
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.error().code, "audit.signer_running");
  for (int round = 1; round <= 3; ++round) {
    append(4);
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    std::int64_t signed_size = -1;
    while (std::chrono::steady_clock::now() < deadline) {
      auto head = log_->latest_tree_head();
      if (head.ok() && head->tree_size == round * 4) {
        signed_size = head->tree_size;
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    EXPECT_EQ(signed_size, round * 4);
  }
  log_->stop_signing();
  log_->stop_signing();  // a second stop does nothing
  VerifyReport report = verify();
  EXPECT_TRUE(report.ok()) << report.summary();
  EXPECT_EQ(report.signed_size, 12);
}

// Every inclusion and consistency proof of a 40-entry log, against the root computed from the
// RFC's definition and checked with the RFC's verification algorithms.
TEST_P(TransparencyLogTest, EveryProofVerifies) {
  constexpr int count = 40;
  append(count);
  std::vector<Sm3Digest> leaves = stored_leaves();
  ASSERT_EQ(leaves.size(), static_cast<std::size_t>(count));
  std::vector<Sm3Digest> roots;
  for (int size = 0; size <= count; ++size) {
    roots.push_back(reference_root(leaves, 0, size));
    auto root = log_->root_hash(size);
    ASSERT_TRUE(root.ok()) << root.error().message;
    EXPECT_EQ(*root, roots.back()) << "size " << size;
  }
  for (int size = 1; size <= count; ++size) {
    for (int index = 0; index < size; ++index) {
      auto path = log_->inclusion_proof(index, size);
      ASSERT_TRUE(path.ok()) << path.error().message;
      Status verified = verify_inclusion(index, size, leaves[index], *path, roots[size]);
      EXPECT_TRUE(verified.ok()) << "index " << index << " size " << size << ": " << verified.error().message;
      // The same proof does not prove a neighbour.
      if (size > 1) {
        int other = (index + 1) % size;
        EXPECT_FALSE(verify_inclusion(other, size, leaves[index], *path, roots[size]).ok());
      }
    }
    for (int first = 1; first <= size; ++first) {
      auto path = log_->consistency_proof(first, size);
      ASSERT_TRUE(path.ok()) << path.error().message;
      Status verified = verify_consistency(first, size, roots[first], roots[size], *path);
      EXPECT_TRUE(verified.ok()) << first << " -> " << size << ": " << verified.error().message;
      if (first < size) {
        EXPECT_FALSE(verify_consistency(first, size, roots[first - 1], roots[size], *path).ok());
      }
    }
  }
}

TEST_P(TransparencyLogTest, RefusesProofsOfTreesThatDoNotExist) {
  append(5);
  auto expect_error = [](const auto& result, const std::string& code, const std::string& field) {
    ASSERT_FALSE(result.ok()) << code;
    EXPECT_EQ(result.error().code, code);
    EXPECT_EQ(result.error().kind, ErrorKind::invalid_argument);
    EXPECT_EQ(result.error().details.value("field", ""), field);
  };
  expect_error(log_->inclusion_proof(0, 6), "audit.tree_size_beyond_log", "tree_size");
  expect_error(log_->inclusion_proof(5, 5), "audit.index_beyond_tree", "index");
  expect_error(log_->inclusion_proof(-1, 5), "audit.index_beyond_tree", "index");
  expect_error(log_->inclusion_proof(0, 0), "audit.bad_tree_size", "tree_size");
  expect_error(log_->consistency_proof(0, 5), "audit.bad_tree_size", "first");
  expect_error(log_->consistency_proof(4, 3), "audit.bad_tree_size", "first");
  expect_error(log_->consistency_proof(3, 6), "audit.tree_size_beyond_log", "second");
  expect_error(log_->root_hash(6), "audit.tree_size_beyond_log", "tree_size");
  EXPECT_TRUE(log_->consistency_proof(5, 5)->empty());
}

TEST_P(TransparencyLogTest, VerifiesAnEmptyLogAndReportsProgress) {
  VerifyReport empty = verify();
  EXPECT_TRUE(empty.ok());
  EXPECT_EQ(empty.entries, 0);
  sign();
  EXPECT_EQ(verify().tree_heads, 1);

  append(30);
  sign();
  std::vector<std::pair<std::int64_t, std::int64_t>> calls;
  auto report = verify_log(*database_, log_->public_key(),
                           [&](std::int64_t done, std::int64_t total) { calls.emplace_back(done, total); });
  ASSERT_TRUE(report.ok());
  EXPECT_TRUE(report->ok()) << report->summary();
  EXPECT_EQ(report->entries, 30);
  EXPECT_EQ(report->tree_heads, 2);
  EXPECT_EQ(report->signed_size, 30);
  EXPECT_GT(report->bytes_hashed, 30 * 200);
  ASSERT_FALSE(calls.empty());
  EXPECT_EQ(calls.front(), std::make_pair(std::int64_t{0}, std::int64_t{30}));
  EXPECT_EQ(calls.back(), std::make_pair(std::int64_t{30}, std::int64_t{30}));
  EXPECT_EQ(report->summary(), "ok: 30 entries (" + std::to_string(report->bytes_hashed) +
                                   " bytes) and 2 signed tree heads verify");

  append(2);
  EXPECT_EQ(verify().summary().substr(verify().summary().find(';')),
            "; the last 2 entries are not yet under a signed tree head");
}

INSTANTIATE_TEST_SUITE_P(Backends, TransparencyLogTest,
                         ::testing::Values(store::Backend::sqlite, store::Backend::postgresql),
                         testing::backend_test_name);

}  // namespace
}  // namespace onewindow::audit
