// A transparency log on a fresh database, for the tests that run against SQLite and PostgreSQL.
#pragma once

#include "audit/audit.h"
#include "testing.h"

#include <gtest/gtest.h>

#include <functional>
#include <memory>
#include <string>

namespace onewindow::audit::testing {

class LogFixture : public ::testing::TestWithParam<store::Backend> {
 protected:
  void SetUp() override {
    auto key = crypto::PrivateKey::generate();
    ASSERT_TRUE(key.ok());
    key_ = std::make_unique<crypto::PrivateKey>(*key);
    log_ = std::make_unique<TransparencyLog>(*database_, *key_, clock_);
  }

  void TearDown() override {
    log_.reset();
  }

  // An act that differs from entry to entry, with Chinese text, as the platform's will.
  static Act sample_act(int number) {
    return Act{"acc_" + std::to_string(1000 + number % 7),
               number % 3 == 0 ? "370285199001011234" : "",
               number % 2 == 0 ? "registry.write" : "identity.login",
               "person",
               "per_" + std::to_string(number),
               number % 2 == 0 ? "《中华人民共和国行政许可法》第三十条" : "",
               {{"field", "address"}, {"value", "山东省青岛市莱西市 " + std::to_string(number)}, {"sequence", number}}};
  }

  Result<Receipt> record(const Act& act) {
    return database_->write_value<Receipt>([&](store::Session& session) { return log_->record(session, act); });
  }

  // Appends count entries, each in its own transaction, advancing the clock 1 ms each.
  void append(int count) {
    for (int i = 0; i < count; ++i) {
      clock_.advance(std::chrono::milliseconds(1));
      auto receipt = record(sample_act(next_number_++));
      ASSERT_TRUE(receipt.ok()) << receipt.error().message;
    }
  }

  SignedTreeHead sign() {
    auto head = log_->sign_tree_head();
    EXPECT_TRUE(head.ok()) << head.error().message;
    return head.ok() ? *head : SignedTreeHead{};
  }

  // Runs SQL in a write transaction the way someone with access to the database could.
  void tamper(const std::string& sql, const store::Parameters& parameters = {}) {
    Status done = database_->write([&](store::Session& session) -> Status {
      auto changed = session.execute(sql, parameters);
      if (!changed.ok()) return changed.take_error();
      EXPECT_GE(*changed, 1) << sql;
      return ok_status();
    });
    ASSERT_TRUE(done.ok()) << done.error().message;
  }

  VerifyReport verify() {
    auto report = verify_log(*database_, key_->public_key());
    EXPECT_TRUE(report.ok()) << report.error().message;
    return report.ok() ? *report : VerifyReport{};
  }

  onewindow::testing::TemporaryDirectory directory_;  // for files a test writes
  onewindow::testing::TestDatabase database_{GetParam(), TransparencyLog::migrations()};
  std::unique_ptr<crypto::PrivateKey> key_;
  ManualClock clock_{Date(2026, 11, 23)};
  std::unique_ptr<TransparencyLog> log_;
  int next_number_ = 0;
};

inline std::string backend_test_name(const ::testing::TestParamInfo<store::Backend>& info) {
  return std::string(store::backend_name(info.param));
}

// MTH(D[begin:end]) straight from RFC 9162 section 2.1.1, over leaf hashes held in memory.
inline Sm3Digest reference_root(const std::vector<Sm3Digest>& leaves, std::size_t begin, std::size_t end) {
  std::size_t n = end - begin;
  if (n == 0) return empty_tree_hash();
  if (n == 1) return leaves[begin];
  std::size_t k = 1;
  while (k * 2 < n) k *= 2;
  return node_hash(reference_root(leaves, begin, begin + k), reference_root(leaves, begin + k, end));
}

}  // namespace onewindow::audit::testing
