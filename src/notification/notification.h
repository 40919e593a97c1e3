// notification: what the platform tells people (application accepted, correction needed,
// approved, license issued, a warning), through channels. Today one channel: the inbox every
// account has on the platform; an SMS or e-mail channel implements Channel the same way.
//
// Contract:
// - A Channel delivers a Notice inside the caller's transaction: a notice commits with the act it
//   tells of, or not at all. A channel that sends outside the platform (SMS) keeps an outbox row
//   in that transaction and sends after commit.
// - The Inbox keeps every notice for its account, newest first; the account alone reads it and
//   marks notices read. A notice's text names the application and what to do, never a citizen ID
//   number or a secret.
//
// Errors: notification.not_found (not_found, also for another account's notice),
// notification.bad_field (invalid_argument).
//
// Thread safety: Inbox may be used from many threads at once.
#pragma once

#include "base/clock.h"
#include "base/result.h"
#include "store/store.h"

#include <nlohmann/json.hpp>

#include <string>
#include <vector>

namespace onewindow::notification {

struct Notice {
  std::string account_id;  // to whom
  std::string kind;        // "application.accepted", "application.correction", "license.issued", ...
  std::string subject;     // one line
  std::string body;
  std::string link;        // the API path of what it is about: "/api/v1/applications/app_..."
};

class Channel {
 public:
  virtual ~Channel() = default;
  virtual Status deliver(store::Session& session, const Notice& notice) = 0;
};

struct Stored {
  std::string id;  // "ntf_..."
  Notice notice;
  std::string created_at;
  std::string read_at;  // empty while unread
  nlohmann::json to_json() const;
};

class Inbox final : public Channel {
 public:
  Inbox(store::Database& database, const Clock& clock) : database_(database), clock_(clock) {}

  static std::vector<store::Migration> migrations();

  Status deliver(store::Session& session, const Notice& notice) override;
  // The account's notices, newest first, at most 200; only the unread ones when asked.
  Result<std::vector<Stored>> notices(std::string_view account_id, bool unread_only) const;
  Result<Stored> mark_read(std::string_view account_id, std::string_view id);

 private:
  store::Database& database_;
  const Clock& clock_;
};

}  // namespace onewindow::notification
