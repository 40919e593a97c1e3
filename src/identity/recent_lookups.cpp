#include "identity/recent_lookups.h"

namespace onewindow::identity {

std::uint64_t RecentLookups::generation() const {
  std::lock_guard lock(mutex_);
  return generation_;
}

std::optional<Principal> RecentLookups::principal(const std::string& key, std::chrono::system_clock::time_point now) const {
  if (lifetime_.count() <= 0) return std::nullopt;
  std::lock_guard lock(mutex_);
  auto found = principals_.find(key);
  if (found == principals_.end()) return std::nullopt;
  if (found->second.until <= std::chrono::steady_clock::now() || found->second.ends_at <= now) return std::nullopt;
  return found->second.principal;
}

void RecentLookups::keep_principal(const std::string& key, const Principal& principal,
                                   std::chrono::system_clock::time_point ends_at, std::uint64_t generation) {
  if (lifetime_.count() <= 0) return;
  auto now = std::chrono::steady_clock::now();
  std::lock_guard lock(mutex_);
  if (generation != generation_) return;
  if (!principals_.contains(key)) make_room(principals_, now);
  principals_.insert_or_assign(key, KeptPrincipal{principal, ends_at, now + lifetime_});
}

std::optional<Department> RecentLookups::department(const std::string& id) const {
  if (lifetime_.count() <= 0) return std::nullopt;
  std::lock_guard lock(mutex_);
  auto found = departments_.find(id);
  if (found == departments_.end() || found->second.until <= std::chrono::steady_clock::now()) return std::nullopt;
  return found->second.department;
}

void RecentLookups::keep_department(const Department& department, std::uint64_t generation) {
  if (lifetime_.count() <= 0) return;
  auto now = std::chrono::steady_clock::now();
  std::lock_guard lock(mutex_);
  if (generation != generation_) return;
  if (!departments_.contains(department.id)) make_room(departments_, now);
  departments_.insert_or_assign(department.id, KeptDepartment{department, now + lifetime_});
}

void RecentLookups::forget_all() {
  std::lock_guard lock(mutex_);
  ++generation_;
  principals_.clear();
  departments_.clear();
}

template <typename Map>
void RecentLookups::make_room(Map& map, std::chrono::steady_clock::time_point now) {
  if (map.size() < most_entries) return;
  std::erase_if(map, [&](const auto& entry) { return entry.second.until <= now; });
  if (map.size() >= most_entries) map.clear();
}

}  // namespace onewindow::identity
