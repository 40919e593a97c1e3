#include "notification/notification.h"

#include "base/identifiers.h"

namespace onewindow::notification {

namespace {

constexpr const char* schema_v1 = R"(
    CREATE TABLE notification (
      id TEXT PRIMARY KEY,
      account TEXT NOT NULL,
      kind TEXT NOT NULL,
      subject TEXT NOT NULL,
      body TEXT NOT NULL,
      link TEXT NOT NULL,
      created_at TEXT NOT NULL,
      read_at TEXT NOT NULL);
    CREATE INDEX notification_account ON notification (account, created_at);
)";

constexpr const char* columns = "SELECT id, account, kind, subject, body, link, created_at, read_at FROM notification";

Stored stored_from(const store::Row& row) {
  return {row.text(0), {row.text(1), row.text(2), row.text(3), row.text(4), row.text(5)}, row.text(6), row.text(7)};
}

}  // namespace

nlohmann::json Stored::to_json() const {
  return {{"id", id},
          {"kind", notice.kind},
          {"subject", notice.subject},
          {"body", notice.body},
          {"link", notice.link},
          {"created_at", created_at},
          {"read", !read_at.empty()},
          {"read_at", read_at}};
}

std::vector<store::Migration> Inbox::migrations() {
  return {{"notification", 1, "every account's inbox", schema_v1, ""}};
}

Status Inbox::deliver(store::Session& session, const Notice& notice) {
  if (notice.account_id.empty() || notice.kind.empty() || notice.subject.empty()) {
    return Error::invalid("notification.bad_field", "notice", "a notice has an account, a kind and a subject");
  }
  return session
      .execute("INSERT INTO notification (id, account, kind, subject, body, link, created_at, read_at) "
               "VALUES ($1, $2, $3, $4, $5, $6, $7, '')",
               {new_id("ntf"), notice.account_id, notice.kind, notice.subject, notice.body, notice.link,
                format_timestamp(clock_.now())})
      .status();
}

Result<std::vector<Stored>> Inbox::notices(std::string_view account_id, bool unread_only) const {
  return database_.read_value<std::vector<Stored>>([&](store::Session& session) -> Result<std::vector<Stored>> {
    auto rows = session.query(std::string(columns) + " WHERE account = $1" + (unread_only ? " AND read_at = ''" : "") +
                                  " ORDER BY created_at DESC, id DESC LIMIT 200",
                              {std::string(account_id)});
    if (!rows.ok()) return rows.take_error();
    std::vector<Stored> list;
    for (const auto& row : *rows) list.push_back(stored_from(row));
    return list;
  });
}

Result<Stored> Inbox::mark_read(std::string_view account_id, std::string_view id) {
  return database_.write_value<Stored>([&](store::Session& session) -> Result<Stored> {
    auto row = session.query_one(std::string(columns) + " WHERE id = $1 AND account = $2", {std::string(id), std::string(account_id)});
    if (!row.ok()) return row.take_error();
    if (!row->has_value()) {
      return Error(ErrorKind::not_found, "notification.not_found", "no notice " + std::string(id), {{"field", "id"}});
    }
    Stored stored = stored_from(**row);
    if (!stored.read_at.empty()) return stored;
    stored.read_at = format_timestamp(clock_.now());
    ONEWINDOW_TRY(session.execute("UPDATE notification SET read_at = $2 WHERE id = $1", {stored.id, stored.read_at}).status());
    return stored;
  });
}

}  // namespace onewindow::notification
