// Subscriptions to the changes of registry resources: the outbox, pulls by cursor and pushes to
// endpoints; see catalog.h.
#include "catalog/catalog.h"
#include "catalog/internal.h"

#include "base/http_client.h"
#include "base/identifiers.h"
#include "base/log.h"
#include "crypto/crypto.h"

#include <algorithm>

namespace onewindow::catalog {

namespace {

constexpr std::size_t events_per_delivery = 100;
constexpr int most_events_per_pull = 1000;
// Change rows written by one INSERT: a round trip each on PostgreSQL, and far below either
// engine's limit on parameters.
constexpr std::size_t changes_per_statement = 50;

// exchange_feed holds each subscribed registry's last change number. A writer takes the next
// numbers by updating its row, which it then holds until it commits, so that numbers are given in
// commit order and a reader that has seen number n never later finds a smaller one appear.
// exchange_change is the outbox; its rows name the fields written, never their values.
constexpr const char* schema_v1 = R"(
    CREATE TABLE exchange_feed (
      registry TEXT PRIMARY KEY,
      last_change BIGINT NOT NULL);
    CREATE TABLE exchange_change (
      registry TEXT NOT NULL,
      number BIGINT NOT NULL,
      record_key TEXT NOT NULL,
      items TEXT NOT NULL,
      created BIGINT NOT NULL,
      log_index BIGINT NOT NULL,
      changed_at TEXT NOT NULL,
      PRIMARY KEY (registry, number));
    CREATE TABLE exchange_subscription (
      id TEXT PRIMARY KEY,
      resource_id TEXT NOT NULL,
      resource_code TEXT NOT NULL,
      registry TEXT NOT NULL,
      consumer TEXT NOT NULL,
      items TEXT NOT NULL,
      endpoint TEXT NOT NULL,
      state TEXT NOT NULL,
      start_change BIGINT NOT NULL,
      cursor_change BIGINT NOT NULL,
      attempts BIGINT NOT NULL,
      last_error TEXT NOT NULL,
      next_attempt_at TEXT NOT NULL,
      last_delivered_at TEXT NOT NULL,
      created_by TEXT NOT NULL,
      created_at TEXT NOT NULL);
    CREATE INDEX exchange_subscription_registry ON exchange_subscription (registry, state);
    CREATE INDEX exchange_subscription_consumer ON exchange_subscription (consumer, created_at);
)";

constexpr const char* subscription_columns =
    "s.id, s.resource_id, s.resource_code, s.registry, s.consumer, s.items, s.endpoint, s.state, s.start_change, "
    "s.cursor_change, s.attempts, s.last_error, s.next_attempt_at, s.last_delivered_at, s.created_by, s.created_at, "
    "COALESCE(f.last_change, 0)";

Subscription subscription_from(const store::Row& row) {
  Subscription subscription;
  subscription.id = row.text(0);
  subscription.resource_id = row.text(1);
  subscription.resource_code = row.text(2);
  subscription.registry = row.text(3);
  subscription.consumer = row.text(4);
  subscription.items = nlohmann::json::parse(row.text(5)).get<std::vector<std::string>>();
  subscription.endpoint = row.text(6);
  subscription.state = row.text(7);
  subscription.start = row.integer(8);
  subscription.cursor = row.integer(9);
  subscription.attempts = row.integer(10);
  subscription.last_error = row.text(11);
  subscription.next_attempt_at = row.text(12);
  subscription.last_delivered_at = row.text(13);
  subscription.created_by = row.text(14);
  subscription.created_at = row.text(15);
  subscription.backlog = std::max<std::int64_t>(0, row.integer(16) - subscription.cursor);
  return subscription;
}

Result<std::optional<Subscription>> load(store::Session& session, std::string_view id) {
  auto row = session.query_one(std::string("SELECT ") + subscription_columns +
                                   " FROM exchange_subscription s LEFT JOIN exchange_feed f ON f.registry = s.registry "
                                   "WHERE s.id = $1",
                               {std::string(id)});
  if (!row.ok()) return row.take_error();
  if (!row->has_value()) return std::optional<Subscription>();
  return std::optional<Subscription>(subscription_from(**row));
}

// The subscription, when it is the consumer's: anyone else may not even learn that it exists.
Result<Subscription> load_of(store::Session& session, std::string_view id, std::string_view consumer) {
  auto found = load(session, id);
  if (!found.ok()) return found.take_error();
  if (!found->has_value() || (*found)->consumer != consumer) {
    return Error(ErrorKind::not_found, "catalog.subscription_not_found", "no subscription " + std::string(id),
                 {{"field", "id"}});
  }
  return std::move(**found);
}

// The events among the changes after `after`, at most `limit` changes looked at:
// the events, and the last change number looked at (`after` when there was none).
struct Page {
  nlohmann::json events = nlohmann::json::array();
  std::int64_t last = 0;
};

Result<Page> page_of(store::Session& session, const Subscription& subscription, std::int64_t after, std::size_t limit) {
  Page page;
  page.last = after;
  std::set<std::string> wanted(subscription.items.begin(), subscription.items.end());
  ONEWINDOW_TRY(session.query_each(
      "SELECT number, record_key, items, created, log_index, changed_at FROM exchange_change "
      "WHERE registry = $1 AND number > $2 ORDER BY number LIMIT $3",
      {subscription.registry, after, static_cast<std::int64_t>(limit)}, [&](const store::Row& row) {
        page.last = row.integer(0);
        nlohmann::json items = nlohmann::json::array();
        for (const auto& item : nlohmann::json::parse(row.text(2))) {
          if (wanted.contains(item.get<std::string>())) items.push_back(item);
        }
        if (items.empty()) return true;
        page.events.push_back({{"id", subscription.id + "." + std::to_string(row.integer(0))},
                               {"subscription", subscription.id},
                               {"resource", subscription.resource_code},
                               {"registry", subscription.registry},
                               {"key", row.text(1)},
                               {"items", items},
                               {"created", row.integer(3) != 0},
                               {"log_index", row.integer(4)},
                               {"changed_at", row.text(5)}});
        return true;
      }));
  return page;
}

}  // namespace

nlohmann::json Subscription::to_json() const {
  return {{"id", id},
          {"resource_id", resource_id},
          {"resource", resource_code},
          {"registry", registry},
          {"consumer", consumer},
          {"items", items},
          {"endpoint", endpoint},
          {"delivery", endpoint.empty() ? "pull" : "push"},
          {"state", state},
          {"start", start},
          {"cursor", cursor},
          {"backlog", backlog},
          {"attempts", attempts},
          {"last_error", last_error},
          {"next_attempt_at", next_attempt_at},
          {"last_delivered_at", last_delivered_at},
          {"created_by", created_by},
          {"created_at", created_at}};
}

Subscriptions::Subscriptions(store::Database& database, audit::TransparencyLog& log, const Catalog& catalog,
                             const Clock& clock, DeliveryOptions options)
    : database_(database), log_(log), catalog_(catalog), clock_(clock), options_(options) {}

Subscriptions::~Subscriptions() { stop_delivery(); }

std::vector<store::Migration> Subscriptions::migrations() {
  return {{"subscription", 1, "subscriptions to registry changes and their outbox", schema_v1, ""}};
}

registry::ChangeListener Subscriptions::change_listener() {
  registry::ChangeListener listener;
  listener.wants = [](store::Session& session, const registry::RegistryDefinition& definition) -> Result<bool> {
    auto found = session.query_one("SELECT 1 FROM exchange_subscription WHERE registry = $1 AND state = 'active' LIMIT 1",
                                   {definition.name});
    if (!found.ok()) return found.take_error();
    return found->has_value();
  };
  listener.changed = [](store::Session& session, const registry::RegistryDefinition& definition,
                        const std::vector<registry::Change>& changes, std::int64_t log_index,
                        const std::string& written_at) -> Status {
    if (changes.empty()) return ok_status();
    auto taken = session.query("UPDATE exchange_feed SET last_change = last_change + $2 WHERE registry = $1 RETURNING last_change",
                               {definition.name, static_cast<std::int64_t>(changes.size())});
    if (!taken.ok()) return taken.take_error();
    // A subscription makes its registry's row first, in its own transaction.
    if (taken->empty()) return Error(ErrorKind::internal, "catalog.no_feed", "registry " + definition.name + " has no feed row");
    std::int64_t number = (*taken)[0].integer(0) - static_cast<std::int64_t>(changes.size());
    for (std::size_t first = 0; first < changes.size(); first += changes_per_statement) {
      std::size_t end = std::min(changes.size(), first + changes_per_statement);
      std::string sql = "INSERT INTO exchange_change (registry, number, record_key, items, created, log_index, changed_at) VALUES ";
      store::Parameters parameters;
      for (std::size_t i = first; i < end; ++i) {
        std::size_t base = parameters.size();
        if (i > first) sql += ", ";
        sql += "($" + std::to_string(base + 1);
        for (int column = 2; column <= 7; ++column) sql += ", $" + std::to_string(base + column);
        sql += ")";
        nlohmann::json items = changes[i].fields;
        parameters.insert(parameters.end(), {definition.name, ++number, changes[i].key, items.dump(),
                                             std::int64_t{changes[i].created ? 1 : 0}, log_index, written_at});
      }
      ONEWINDOW_TRY(session.execute(sql, parameters).status());
    }
    return ok_status();
  };
  return listener;
}

Result<Subscription> Subscriptions::subscribe(const SubscriptionRequest& request, const Consumer& consumer) {
  if (!request.endpoint.empty()) ONEWINDOW_TRY(check_http_url(request.endpoint, "endpoint"));
  std::string now = format_timestamp(clock_.now());
  return database_.write_value<Subscription>([&](store::Session& session) -> Result<Subscription> {
    auto permitted = allowed(session, catalog_, request.resource_id, request.items, consumer);
    if (!permitted.ok()) return permitted.take_error();
    const Resource& resource = *permitted->resource;
    ONEWINDOW_TRY(session
                      .execute("INSERT INTO exchange_feed (registry, last_change) VALUES ($1, 0) "
                               "ON CONFLICT (registry) DO NOTHING",
                               {resource.registry})
                      .status());
    auto last = session.query_one("SELECT last_change FROM exchange_feed WHERE registry = $1", {resource.registry});
    if (!last.ok()) return last.take_error();
    Subscription subscription;
    subscription.id = new_id("sub");
    subscription.resource_id = resource.id;
    subscription.resource_code = resource.code;
    subscription.registry = resource.registry;
    subscription.consumer = consumer.department_key;
    subscription.items = permitted->items;
    subscription.endpoint = request.endpoint;
    subscription.state = "active";
    subscription.start = (**last).integer(0);
    subscription.cursor = subscription.start;
    subscription.next_attempt_at = now;
    subscription.created_by = consumer.account_id;
    subscription.created_at = now;
    nlohmann::json items = subscription.items;
    auto recorded = log_.record(session, {consumer.account_id, "", "exchange.subscribed", "exchange_subscription",
                                          subscription.id, permitted->grant.legal_basis,
                                          {{"resource", resource.code},
                                           {"consumer", consumer.department_key},
                                           {"grant", permitted->grant.id},
                                           {"items", items},
                                           {"delivery", request.endpoint.empty() ? "pull" : "push"}}});
    if (!recorded.ok()) return recorded.take_error();
    ONEWINDOW_TRY(session
                      .execute("INSERT INTO exchange_subscription (id, resource_id, resource_code, registry, consumer, items, "
                               "endpoint, state, start_change, cursor_change, attempts, last_error, next_attempt_at, "
                               "last_delivered_at, created_by, created_at) "
                               "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, 0, '', $11, '', $12, $13)",
                               {subscription.id, subscription.resource_id, subscription.resource_code, subscription.registry,
                                subscription.consumer, items.dump(), subscription.endpoint, subscription.state,
                                subscription.start, subscription.cursor, now, subscription.created_by, now})
                      .status());
    return subscription;
  });
}

Result<Subscription> Subscriptions::cancel(std::string_view id, const Consumer& consumer) {
  return database_.write_value<Subscription>([&](store::Session& session) -> Result<Subscription> {
    auto subscription = load_of(session, id, consumer.department_key);
    if (!subscription.ok()) return subscription.take_error();
    if (subscription->state != "active") {
      return Error(ErrorKind::conflict, "catalog.subscription_cancelled", "subscription " + subscription->id + " is cancelled already");
    }
    auto recorded = log_.record(session, {consumer.account_id, "", "exchange.unsubscribed", "exchange_subscription",
                                          subscription->id, "",
                                          {{"resource", subscription->resource_code},
                                           {"consumer", consumer.department_key},
                                           {"backlog", subscription->backlog}}});
    if (!recorded.ok()) return recorded.take_error();
    ONEWINDOW_TRY(session.execute("UPDATE exchange_subscription SET state = 'cancelled' WHERE id = $1", {subscription->id})
                      .status());
    subscription->state = "cancelled";
    return subscription;
  });
}

Result<Subscription> Subscriptions::subscription(std::string_view id, std::string_view consumer) const {
  return database_.read_value<Subscription>(
      [&](store::Session& session) { return load_of(session, id, consumer); });
}

Result<std::vector<Subscription>> Subscriptions::subscriptions_of(std::string_view consumer) const {
  return database_.read_value<std::vector<Subscription>>([&](store::Session& session) -> Result<std::vector<Subscription>> {
    std::string sql = std::string("SELECT ") + subscription_columns +
                      " FROM exchange_subscription s LEFT JOIN exchange_feed f ON f.registry = s.registry ";
    store::Parameters parameters;
    if (consumer.empty()) {
      sql += "WHERE s.state = 'active' ";
    } else {
      sql += "WHERE s.consumer = $1 ";
      parameters.push_back(std::string(consumer));
    }
    sql += "ORDER BY s.created_at DESC, s.id DESC LIMIT 1000";
    auto rows = session.query(sql, parameters);
    if (!rows.ok()) return rows.take_error();
    std::vector<Subscription> subscriptions;
    for (const auto& row : *rows) subscriptions.push_back(subscription_from(row));
    return subscriptions;
  });
}

Result<nlohmann::json> Subscriptions::events(std::string_view id, std::int64_t after, int limit, const Consumer& consumer) {
  if (limit < 1 || limit > most_events_per_pull) {
    return Error::invalid("catalog.bad_field", "limit", "limit is 1 to 1000");
  }
  if (after < 0) return Error::invalid("catalog.bad_field", "after", "after is a change number, 0 or more");
  return database_.write_value<nlohmann::json>([&](store::Session& session) -> Result<nlohmann::json> {
    auto subscription = load_of(session, id, consumer.department_key);
    if (!subscription.ok()) return subscription.take_error();
    if (subscription->state != "active") {
      return Error(ErrorKind::conflict, "catalog.subscription_cancelled", "subscription " + subscription->id + " is cancelled");
    }
    // The grant is asked again at every pull: one that ended stops the events.
    auto permitted = allowed(session, catalog_, subscription->resource_id, subscription->items, consumer);
    if (!permitted.ok()) return permitted.take_error();
    std::int64_t from = std::max(after, subscription->start);
    auto page = page_of(session, *subscription, from, static_cast<std::size_t>(limit));
    if (!page.ok()) return page.take_error();
    if (from > subscription->cursor) {
      ONEWINDOW_TRY(session
                        .execute("UPDATE exchange_subscription SET cursor_change = $2, last_delivered_at = $3 WHERE id = $1",
                                 {subscription->id, from, format_timestamp(clock_.now())})
                        .status());
    }
    nlohmann::json answer = {{"subscription", subscription->id}, {"events", page->events},
                             {"next_cursor", page->last}};
    if (page->events.empty()) return answer;
    // Change notices name records, so what was handed to whom is recorded as a read is.
    auto events_hash = sm3_of_canonical(page->events);
    if (!events_hash.ok()) return events_hash.take_error();
    auto recorded = log_.record(session, {consumer.account_id, "", "exchange.events_read", "exchange_subscription",
                                          subscription->id, permitted->grant.legal_basis,
                                          {{"resource", subscription->resource_code},
                                           {"consumer", consumer.department_key},
                                           {"after", from},
                                           {"through", page->last},
                                           {"events", page->events.size()},
                                           {"events_hash", *events_hash}}});
    if (!recorded.ok()) return recorded.take_error();
    answer["receipt"] = {{"log_index", recorded->index}, {"events_hash", *events_hash}};
    return answer;
  });
}

Result<std::vector<std::string>> Subscriptions::due() const {
  std::string now = format_timestamp(clock_.now());
  return database_.read_value<std::vector<std::string>>([&](store::Session& session) -> Result<std::vector<std::string>> {
    auto rows = session.query(
        "SELECT s.id FROM exchange_subscription s JOIN exchange_feed f ON f.registry = s.registry "
        "WHERE s.state = 'active' AND s.endpoint <> '' AND s.next_attempt_at <= $1 AND f.last_change > s.cursor_change "
        "ORDER BY s.next_attempt_at, s.id LIMIT 100",
        {now});
    if (!rows.ok()) return rows.take_error();
    std::vector<std::string> ids;
    for (const auto& row : *rows) ids.push_back(row.text(0));
    return ids;
  });
}

Result<bool> Subscriptions::deliver(const std::string& id) {
  struct Batch {
    Subscription subscription;
    Page page;
    std::string legal_basis;
    std::optional<Error> refused;  // the grant's
  };
  auto batch = database_.read_value<Batch>([&](store::Session& session) -> Result<Batch> {
    auto found = load(session, id);
    if (!found.ok()) return found.take_error();
    if (!found->has_value()) return Error(ErrorKind::not_found, "catalog.subscription_not_found", "no subscription " + id);
    Batch batch{std::move(**found), {}, "", std::nullopt};
    auto permitted = allowed(session, catalog_, batch.subscription.resource_id, batch.subscription.items,
                             {batch.subscription.created_by, batch.subscription.consumer});
    if (!permitted.ok()) {
      batch.refused = permitted.take_error();
      return batch;
    }
    batch.legal_basis = permitted->grant.legal_basis;
    auto page = page_of(session, batch.subscription, batch.subscription.cursor, events_per_delivery);
    if (!page.ok()) return page.take_error();
    batch.page = std::move(page).value();
    return batch;
  });
  if (!batch.ok()) return batch.take_error();
  const Subscription& subscription = batch->subscription;
  if (subscription.state != "active" || subscription.endpoint.empty()) return false;

  auto failed = [&](const std::string& why) -> Result<bool> {
    std::int64_t attempts = subscription.attempts + 1;
    auto wait = options_.first_backoff * (std::int64_t{1} << std::min<std::int64_t>(attempts - 1, 30));
    wait = std::min(wait, options_.longest_backoff);
    std::string next = format_timestamp(clock_.now() + wait);
    ONEWINDOW_TRY(database_.write([&](store::Session& session) {
      return session
          .execute("UPDATE exchange_subscription SET attempts = $2, last_error = $3, next_attempt_at = $4 "
                   "WHERE id = $1 AND cursor_change = $5",
                   {subscription.id, attempts, why, next, subscription.cursor})
          .status();
    }));
    return false;
  };
  if (batch->refused) return failed(batch->refused->code + ": " + batch->refused->message);

  const std::string now = format_timestamp(clock_.now());
  std::int64_t through = batch->page.last;
  std::int64_t log_index = 0;
  std::string body;
  if (!batch->page.events.empty()) {
    body = nlohmann::json{{"subscription", subscription.id}, {"events", batch->page.events}}.dump();
    HttpPost post;
    post.url = subscription.endpoint;
    post.body = body;
    post.headers = {"X-Onewindow-Subscription: " + subscription.id};
    post.timeout = options_.timeout;
    post.connect_timeout = std::min(options_.timeout, std::chrono::milliseconds(3000));
    post.cancel = &stopping_;
    auto answer = http_post(post);
    if (!answer.ok()) return failed(answer.error().message);
    if (answer->status < 200 || answer->status > 299) {
      return failed("the endpoint answered HTTP " + std::to_string(answer->status));
    }
  }
  // Accepted (or nothing among the changes was for this subscription): the cursor moves past
  // the batch, with the entry that records what was handed over.
  ONEWINDOW_TRY(database_.write([&](store::Session& session) -> Status {
    if (!batch->page.events.empty()) {
      auto recorded = log_.record(session, {"system", "", "exchange.delivered", "exchange_subscription", subscription.id,
                                            batch->legal_basis,
                                            {{"resource", subscription.resource_code},
                                             {"consumer", subscription.consumer},
                                             {"after", subscription.cursor},
                                             {"through", through},
                                             {"events", batch->page.events.size()},
                                             {"body_hash", crypto::to_hex(crypto::sm3(body))}}});
      if (!recorded.ok()) return recorded.take_error();
      log_index = recorded->index;
    }
    return session
        .execute("UPDATE exchange_subscription SET cursor_change = $2, attempts = 0, last_error = '', "
                 "next_attempt_at = $3, last_delivered_at = $3 WHERE id = $1 AND cursor_change = $4",
                 {subscription.id, through, now, subscription.cursor})
        .status();
  }));
  return !batch->page.events.empty();
}

Result<int> Subscriptions::deliver_due() {
  auto ids = due();
  if (!ids.ok()) return ids.take_error();
  int delivered = 0;
  for (const std::string& id : *ids) {
    auto done = deliver(id);
    if (!done.ok()) return done.take_error();
    delivered += *done ? 1 : 0;
  }
  return delivered;
}

void Subscriptions::start_delivery() {
  std::lock_guard lock(mutex_);
  if (!threads_.empty()) return;
  stopping_ = false;
  for (int i = 0; i < std::max(1, options_.threads); ++i) threads_.emplace_back([this] { work(); });
}

void Subscriptions::stop_delivery() {
  std::vector<std::thread> threads;
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
    threads.swap(threads_);
  }
  wake_.notify_all();
  for (auto& thread : threads) thread.join();
}

void Subscriptions::work() {
  std::unique_lock lock(mutex_);
  while (!stopping_) {
    lock.unlock();
    auto ids = due();
    lock.lock();
    if (stopping_) break;
    std::string chosen;
    if (ids.ok()) {
      for (const std::string& id : *ids) {
        if (in_flight_.insert(id).second) {
          chosen = id;
          break;
        }
      }
    } else {
      log::warn("subscriptions: looking for due deliveries failed: " + ids.error().code);
    }
    if (chosen.empty()) {
      wake_.wait_for(lock, options_.idle_poll, [this] { return stopping_.load(); });
      continue;
    }
    lock.unlock();
    auto done = deliver(chosen);
    if (!done.ok()) log::warn("subscription " + chosen + ": delivery failed: " + done.error().code);
    lock.lock();
    in_flight_.erase(chosen);
  }
}

}  // namespace onewindow::catalog
