// Private to identity/: what was read lately of sessions and departments, kept in memory for a
// moment so that a request does not read its session, account, roles and department again.
//
// Why: on SQLite a connection forgets every page it read whenever another connection commits, so
// after each write the next request's session lookup reads about ten pages again (over HTTP an
// exchange read, which writes, was a quarter faster without them: docs/benchmarks.md). Every
// request authenticates; few change accounts.
//
// Contract:
// - An entry is kept for at most `lifetime` of steady time, and a session's never past the
//   session's own end.
// - forget_all() is called by every change this process makes to sessions, accounts, roles and
//   departments, once its transaction has committed; a lookup that began before it cannot store
//   what it read afterwards (the generation taken before reading says so). So within a process
//   a logout or a change of roles holds from the next request on. A change made by another
//   process on the same database (another node on PostgreSQL) is seen after `lifetime` at most.
// - Safe to use from many threads at once; at most `most_entries` of each kind are kept.
#pragma once

#include "identity/identity.h"

#include <chrono>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>

namespace onewindow::identity {

class RecentLookups {
 public:
  static constexpr std::size_t most_entries = 10'000;

  explicit RecentLookups(std::chrono::milliseconds lifetime) : lifetime_(lifetime) {}

  // Taken before reading from the database; store only if nothing was forgotten since.
  std::uint64_t generation() const;

  // The principal of a session by its key (token digest and kind), unless it ended by `now`.
  std::optional<Principal> principal(const std::string& key, std::chrono::system_clock::time_point now) const;
  void keep_principal(const std::string& key, const Principal& principal, std::chrono::system_clock::time_point ends_at,
                      std::uint64_t generation);

  std::optional<Department> department(const std::string& id) const;
  void keep_department(const Department& department, std::uint64_t generation);

  void forget_all();

 private:
  struct KeptPrincipal {
    Principal principal;
    std::chrono::system_clock::time_point ends_at;  // the session's end, on the platform's clock
    std::chrono::steady_clock::time_point until;
  };
  struct KeptDepartment {
    Department department;
    std::chrono::steady_clock::time_point until;
  };

  // Makes room for one more: drops what has outlived its time, or everything if that is not enough.
  template <typename Map>
  static void make_room(Map& map, std::chrono::steady_clock::time_point now);

  const std::chrono::milliseconds lifetime_;
  mutable std::mutex mutex_;
  std::uint64_t generation_ = 0;
  std::unordered_map<std::string, KeptPrincipal> principals_;
  std::unordered_map<std::string, KeptDepartment> departments_;
};

// Forgets everything when it goes out of scope: declared before a write, so that what the write
// changed is forgotten once its transaction has ended (committed or not: forgetting is harmless).
struct ForgetWhenDone {
  RecentLookups& recent;
  ~ForgetWhenDone() { recent.forget_all(); }
};

}  // namespace onewindow::identity
