// The same tests run against SQLite and against the PostgreSQL server that scripts/test starts.
#include "store/store.h"
#include "testing.h"

#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>
#include <thread>

namespace onewindow::store {
namespace {

using testing::PostgresSchema;
using testing::TemporaryDirectory;

const std::vector<Migration> note_migrations = {
    {"note", 1, "create note",
     "CREATE TABLE note (id INTEGER PRIMARY KEY, title TEXT NOT NULL UNIQUE, body BLOB, score REAL)",
     "CREATE TABLE note (id BIGINT PRIMARY KEY, title TEXT NOT NULL UNIQUE, body BYTEA, score DOUBLE PRECISION)"},
    {"note", 2, "create tag",
     "CREATE TABLE tag (note_id BIGINT NOT NULL REFERENCES note (id), name TEXT NOT NULL);"
     "CREATE INDEX tag_by_name ON tag (name)"},
};

class StoreTest : public ::testing::TestWithParam<Backend> {
 protected:
  void SetUp() override {
    Options options;
    if (GetParam() == Backend::sqlite) {
      options.data_directory = directory_.path().string();
    } else {
      schema_ = std::make_unique<PostgresSchema>();
      options.url = schema_->url();
    }
    options.pool_size = 3;
    options_ = options;
    auto opened = Database::open(options);
    ASSERT_TRUE(opened.ok()) << opened.error().message;
    database_ = std::move(opened).value();
    auto migrated = database_->migrate(note_migrations);
    ASSERT_TRUE(migrated.ok()) << migrated.error().message;
  }
  void TearDown() override {
    if (database_) database_->close();
  }

  Status insert_note(std::int64_t id, const std::string& title) {
    return database_->write([&](Session& session) -> Status {
      auto inserted = session.execute("INSERT INTO note (id, title) VALUES ($1, $2)", {id, title});
      if (!inserted.ok()) return inserted.take_error();
      return ok_status();
    });
  }

  std::int64_t count_notes() {
    auto count = database_->read_value<std::int64_t>([](Session& session) -> Result<std::int64_t> {
      auto row = session.query_one("SELECT COUNT(*) FROM note");
      if (!row.ok()) return row.take_error();
      return (*row)->integer(0);
    });
    EXPECT_TRUE(count.ok());
    return count.ok() ? *count : -1;
  }

  TemporaryDirectory directory_;
  std::unique_ptr<PostgresSchema> schema_;
  Options options_;
  std::unique_ptr<Database> database_;
};

TEST_P(StoreTest, ValuesRoundTripWithTheirTypes) {
  Blob bytes = {0, 1, 2, 255, 0, 'x'};
  std::string chinese = "青岛市行政审批服务局";
  Status written = database_->write([&](Session& session) -> Status {
    auto inserted = session.execute("INSERT INTO note (id, title, body, score) VALUES ($1, $2, $3, $4)",
                                    {std::int64_t{9007199254740993}, chinese, bytes, 2.5});
    if (!inserted.ok()) return inserted.take_error();
    EXPECT_EQ(*inserted, 1);
    auto with_null = session.execute("INSERT INTO note (id, title, body, score) VALUES ($1, $2, $3, $4)",
                                     {std::int64_t{2}, std::string("empty"), std::monostate{}, std::monostate{}});
    if (!with_null.ok()) return with_null.take_error();
    return ok_status();
  });
  ASSERT_TRUE(written.ok()) << written.error().message;

  Status read = database_->read([&](Session& session) -> Status {
    auto rows = session.query("SELECT id, title, body, score FROM note ORDER BY id DESC");
    if (!rows.ok()) return rows.take_error();
    EXPECT_EQ(rows->size(), 2u);
    const Row& first = (*rows)[0];
    EXPECT_EQ(first.integer(0), 9007199254740993);
    EXPECT_EQ(first.text(1), chinese);
    EXPECT_EQ(first.blob(2), bytes);
    EXPECT_DOUBLE_EQ(first.real(3), 2.5);
    const Row& second = (*rows)[1];
    EXPECT_TRUE(second.is_null(2));
    EXPECT_TRUE(second.is_null(3));
    EXPECT_EQ(second.optional_text(2), std::nullopt);
    return ok_status();
  });
  ASSERT_TRUE(read.ok()) << read.error().message;
}

TEST_P(StoreTest, ParameterIsUsedAsValueNeverAsSql) {
  std::string hostile = "x'); DROP TABLE note; --";
  ASSERT_TRUE(insert_note(1, hostile).ok());
  EXPECT_EQ(count_notes(), 1);
  auto title = database_->read_value<std::string>([&](Session& session) -> Result<std::string> {
    auto row = session.query_one("SELECT title FROM note WHERE title = $1", {hostile});
    if (!row.ok()) return row.take_error();
    if (!row->has_value()) return Error(ErrorKind::not_found, "test.missing", "no row");
    return (*row)->text(0);
  });
  ASSERT_TRUE(title.ok());
  EXPECT_EQ(*title, hostile);
}

TEST_P(StoreTest, FailedWorkRollsBackEverything) {
  Status failed = database_->write([&](Session& session) -> Status {
    auto first = session.execute("INSERT INTO note (id, title) VALUES ($1, $2)", {std::int64_t{1}, std::string("a")});
    EXPECT_TRUE(first.ok());
    return Error(ErrorKind::invalid_argument, "test.refused", "the second half was refused");
  });
  ASSERT_FALSE(failed.ok());
  EXPECT_EQ(failed.error().code, "test.refused");
  EXPECT_EQ(count_notes(), 0);

  EXPECT_THROW(database_->write([&](Session& session) -> Status {
    (void)session.execute("INSERT INTO note (id, title) VALUES ($1, $2)", {std::int64_t{2}, std::string("b")});
    throw std::runtime_error("crash in the middle");
  }),
               std::runtime_error);
  EXPECT_EQ(count_notes(), 0);
  // The connection is usable after both.
  EXPECT_TRUE(insert_note(3, "c").ok());
  EXPECT_EQ(count_notes(), 1);
}

TEST_P(StoreTest, ConstraintViolationsHaveStableCodes) {
  ASSERT_TRUE(insert_note(1, "same").ok());
  Status duplicate = insert_note(2, "same");
  ASSERT_FALSE(duplicate.ok());
  EXPECT_EQ(duplicate.error().code, "store.unique_violation");
  EXPECT_EQ(duplicate.error().kind, ErrorKind::conflict);

  Status orphan = database_->write([&](Session& session) -> Status {
    auto inserted = session.execute("INSERT INTO tag (note_id, name) VALUES ($1, $2)", {std::int64_t{99}, std::string("x")});
    if (!inserted.ok()) return inserted.take_error();
    return ok_status();
  });
  ASSERT_FALSE(orphan.ok());
  EXPECT_EQ(orphan.error().code, "store.foreign_key_violation");

  Status bad_sql = database_->write([&](Session& session) -> Status {
    auto result = session.execute("INSERT INTO no_such_table VALUES ($1)", {std::int64_t{1}});
    if (!result.ok()) return result.take_error();
    return ok_status();
  });
  ASSERT_FALSE(bad_sql.ok());
  EXPECT_EQ(bad_sql.error().code, "store.sql");
}

TEST_P(StoreTest, QueryEachStreamsAndStopsEarly) {
  Status written = database_->write([&](Session& session) -> Status {
    for (std::int64_t id = 1; id <= 500; ++id) {
      auto inserted = session.execute("INSERT INTO note (id, title) VALUES ($1, $2)", {id, "n" + std::to_string(id)});
      if (!inserted.ok()) return inserted.take_error();
    }
    return ok_status();
  });
  ASSERT_TRUE(written.ok()) << written.error().message;
  std::int64_t seen = 0, sum = 0;
  Status read = database_->read([&](Session& session) -> Status {
    ONEWINDOW_TRY(session.query_each("SELECT id FROM note ORDER BY id", {}, [&](const Row& row) {
      ++seen;
      sum += row.integer(0);
      return true;
    }));
    std::int64_t partial = 0;
    ONEWINDOW_TRY(session.query_each("SELECT id FROM note ORDER BY id", {}, [&](const Row&) { return ++partial < 10; }));
    EXPECT_EQ(partial, 10);
    // The session still works after an early stop.
    auto one = session.query_one("SELECT title FROM note WHERE id = $1", {std::int64_t{42}});
    if (!one.ok()) return one.take_error();
    EXPECT_EQ((*one)->text(0), "n42");
    return ok_status();
  });
  ASSERT_TRUE(read.ok()) << read.error().message;
  EXPECT_EQ(seen, 500);
  EXPECT_EQ(sum, 500 * 501 / 2);
}

TEST_P(StoreTest, MigrationsApplyOnceAndRefuseRewrites) {
  auto again = database_->migrate(note_migrations);
  ASSERT_TRUE(again.ok()) << again.error().message;
  EXPECT_TRUE(again->empty());
  auto applied = database_->applied_migrations();
  ASSERT_TRUE(applied.ok());
  ASSERT_EQ(applied->size(), 2u);
  EXPECT_EQ((*applied)[1].name, "create tag");

  std::vector<Migration> more = note_migrations;
  more.push_back({"note", 3, "add author", "ALTER TABLE note ADD COLUMN author TEXT"});
  auto added = database_->migrate(more);
  ASSERT_TRUE(added.ok()) << added.error().message;
  ASSERT_EQ(added->size(), 1u);
  EXPECT_EQ((*added)[0].version, 3);

  std::vector<Migration> rewritten = more;
  rewritten[0].name = "renamed after the fact";
  auto refused = database_->migrate(rewritten);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().code, "store.migration_mismatch");

  std::vector<Migration> broken = more;
  broken.push_back({"note", 4, "broken", "CREATE TABLE note_archive (id INTEGER); THIS IS NOT SQL"});
  auto failed = database_->migrate(broken);
  ASSERT_FALSE(failed.ok());
  // Nothing of the failed migration stays behind: its first statement was rolled back too.
  auto after = database_->applied_migrations();
  ASSERT_TRUE(after.ok());
  EXPECT_EQ(after->size(), 3u);
  Status archive_absent = database_->read([](Session& session) -> Status {
    auto rows = session.query("SELECT COUNT(*) FROM note_archive");
    EXPECT_FALSE(rows.ok());
    return ok_status();
  });
  EXPECT_TRUE(archive_absent.ok());
}

TEST_P(StoreTest, ConcurrentWritersLoseNothing) {
  constexpr int threads = 4, per_thread = 50;
  std::atomic<int> failures{0};
  std::vector<std::thread> workers;
  for (int t = 0; t < threads; ++t) {
    workers.emplace_back([&, t] {
      for (int i = 0; i < per_thread; ++i) {
        std::int64_t id = t * 1000 + i;
        if (!insert_note(id, "t" + std::to_string(id)).ok()) ++failures;
        if (count_notes() < 1) ++failures;
      }
    });
  }
  for (auto& worker : workers) worker.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(count_notes(), threads * per_thread);
}

TEST_P(StoreTest, ReadSeesACommittedSnapshot) {
  ASSERT_TRUE(insert_note(1, "before").ok());
  Status read = database_->read([&](Session& session) -> Status {
    auto first = session.query_one("SELECT COUNT(*) FROM note");
    if (!first.ok()) return first.take_error();
    // A write committed by another connection while this snapshot is open is not seen.
    std::thread writer([&] { EXPECT_TRUE(insert_note(2, "during").ok()); });
    writer.join();
    auto second = session.query_one("SELECT COUNT(*) FROM note");
    if (!second.ok()) return second.take_error();
    EXPECT_EQ((*first)->integer(0), (*second)->integer(0));
    return ok_status();
  });
  ASSERT_TRUE(read.ok()) << read.error().message;
  EXPECT_EQ(count_notes(), 2);
}

TEST_P(StoreTest, DataSurvivesReopening) {
  ASSERT_TRUE(insert_note(7, "kept").ok());
  database_->close();
  Status after_close = insert_note(8, "refused");
  ASSERT_FALSE(after_close.ok());
  EXPECT_EQ(after_close.error().code, "store.closed");
  auto reopened = Database::open(options_);
  ASSERT_TRUE(reopened.ok()) << reopened.error().message;
  database_ = std::move(reopened).value();
  EXPECT_EQ(count_notes(), 1);
}

TEST_P(StoreTest, WrongParameterCountIsAnError) {
  Status status = database_->read([](Session& session) -> Status {
    auto rows = session.query("SELECT title FROM note WHERE id = $1", {});
    EXPECT_FALSE(rows.ok());
    return ok_status();
  });
  EXPECT_TRUE(status.ok());
}

INSTANTIATE_TEST_SUITE_P(Backends, StoreTest, ::testing::Values(Backend::sqlite, Backend::postgresql),
                         [](const auto& info) { return std::string(backend_name(info.param)); });

// SQLite's write-ahead log is copied back into the database file by a thread of its own once it
// passes 4 MiB, not by the COMMIT that crosses the mark (whose fsyncs held up every write behind
// it): 40 MiB written in 1 MiB transactions reach the database file with nobody asking, while the
// writer's own fallback would wait for 256 MiB.
TEST(SqliteStore, TheLogIsCopiedBackWithoutTheWriter) {
  TemporaryDirectory directory;
  Options options;
  options.data_directory = directory.path().string();
  auto opened = Database::open(options);
  ASSERT_TRUE(opened.ok()) << opened.error().message;
  std::unique_ptr<Database> database = std::move(opened).value();
  ASSERT_TRUE(database->migrate(note_migrations).ok());
  const std::filesystem::path file = directory.path() / "onewindow.db";
  const auto before = std::filesystem::file_size(file);
  const std::string megabyte(1024 * 1024, 'x');
  for (int i = 0; i < 40; ++i) {
    Status written = database->write([&](Session& session) -> Status {
      auto inserted = session.execute("INSERT INTO note (id, title, body) VALUES ($1, $2, $3)",
                                      {std::int64_t{i}, "note " + std::to_string(i), Blob(megabyte.begin(), megabyte.end())});
      if (!inserted.ok()) return inserted.take_error();
      return ok_status();
    });
    ASSERT_TRUE(written.ok()) << written.error().message;
  }
  // The checkpointer works beside the writer: give it up to 60 s on a busy machine.
  for (int wait = 0; wait < 600 && std::filesystem::file_size(file) < before + 32 * 1024 * 1024; ++wait) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_GE(std::filesystem::file_size(file), before + 32 * 1024 * 1024) << "the log was never copied back";
  auto count = database->read_value<std::int64_t>([](Session& session) -> Result<std::int64_t> {
    auto row = session.query_one("SELECT COUNT(*) FROM note");
    if (!row.ok()) return row.take_error();
    return (*row)->integer(0);
  });
  ASSERT_TRUE(count.ok());
  EXPECT_EQ(*count, 40);
  database->close();
}

TEST(StoreOptions, RejectsUnknownUrlNamingTheField) {
  Options options;
  options.url = "mysql://somewhere";
  auto opened = Database::open(options);
  ASSERT_FALSE(opened.ok());
  EXPECT_EQ(opened.error().code, "store.bad_url");
  EXPECT_EQ(opened.error().details["field"], "database.url");
}

TEST(StoreOptions, UnreachablePostgresIsUnavailable) {
  Options options;
  options.url = "postgresql://127.0.0.1:1/nothing?connect_timeout=2";
  auto opened = Database::open(options);
  ASSERT_FALSE(opened.ok());
  EXPECT_EQ(opened.error().code, "store.connect");
  EXPECT_EQ(opened.error().kind, ErrorKind::unavailable);
}

}  // namespace
}  // namespace onewindow::store
