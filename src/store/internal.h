// Private to store/: what the SQLite and PostgreSQL implementations share. Not for other modules.
#pragma once

#include "store/store.h"

#include <condition_variable>
#include <functional>
#include <string_view>
#include <deque>
#include <mutex>

namespace onewindow::store::internal {

Result<std::unique_ptr<Database>> open_sqlite(const Options& options);
Result<std::unique_ptr<Database>> open_postgresql(const Options& options);

Error closed_error();

// Hashes std::string and std::string_view alike, so that a statement cache keyed by SQL text is
// searched with the caller's string_view, without copying the text on every statement.
struct TextHash {
  using is_transparent = void;
  std::size_t operator()(std::string_view text) const { return std::hash<std::string_view>{}(text); }
};

// A fixed set of connections handed out one at a time; acquire() waits for a free one.
template <typename Connection>
class Pool {
 public:
  void add(std::unique_ptr<Connection> connection) {
    std::lock_guard lock(mutex_);
    free_.push_back(std::move(connection));
    ++size_;
    available_.notify_one();
  }
  // Waits for a connection; nullptr once the pool is closed.
  std::unique_ptr<Connection> acquire() {
    std::unique_lock lock(mutex_);
    available_.wait(lock, [&] { return closed_ || !free_.empty(); });
    if (closed_) return nullptr;
    auto connection = std::move(free_.front());
    free_.pop_front();
    return connection;
  }
  void release(std::unique_ptr<Connection> connection) {
    std::lock_guard lock(mutex_);
    free_.push_back(std::move(connection));
    available_.notify_all();
    returned_.notify_all();
  }
  // Refuses new acquisitions, waits until every connection is back, and destroys them.
  void close() {
    std::unique_lock lock(mutex_);
    closed_ = true;
    available_.notify_all();
    returned_.wait(lock, [&] { return free_.size() == size_; });
    free_.clear();
    size_ = 0;
  }
  bool closed() const {
    std::lock_guard lock(mutex_);
    return closed_;
  }

 private:
  mutable std::mutex mutex_;
  std::condition_variable available_;
  std::condition_variable returned_;
  std::deque<std::unique_ptr<Connection>> free_;
  std::size_t size_ = 0;
  bool closed_ = false;
};

// Borrows a connection from a pool for one scope.
template <typename Connection>
class Borrowed {
 public:
  explicit Borrowed(Pool<Connection>& pool) : pool_(pool), connection_(pool.acquire()) {}
  ~Borrowed() {
    if (connection_) pool_.release(std::move(connection_));
  }
  Borrowed(const Borrowed&) = delete;
  Borrowed& operator=(const Borrowed&) = delete;
  Connection* get() { return connection_.get(); }
  explicit operator bool() const { return connection_ != nullptr; }

 private:
  Pool<Connection>& pool_;
  std::unique_ptr<Connection> connection_;
};

}  // namespace onewindow::store::internal
