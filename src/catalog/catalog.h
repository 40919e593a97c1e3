// catalog: the government information resource catalog (政务信息资源目录), the grants under
// which departments share its resources, and the exchange that reads through them (issue 5).
//
// Contract:
// - A Resource is described with the core metadata of the 2017 catalog guide: classification
//   (category / item / sub-item, config/catalog/classification.yaml), name, code, provider and its
//   USCC, summary, format, data items with types, share type (unconditional / conditional /
//   none), share condition, share method, open attribute, update cycle, publication date and
//   related resource codes. Its code is its classification code and a six-digit sequence:
//   "101001-000001".
// - Every base registry is published in the catalog (publish_registries, at start), described by
//   config/catalog/registries.yaml; its provider is the authority of its key field and its data
//   items are its fields. Departments register their own resources (data sets, services).
// - Grants: a consumer department asks for named data items of a resource, for a purpose and a
//   legal basis, until an expiry date. Unconditional resources are granted at once, conditional
//   ones wait for the provider's decision (granted or refused with a reason), resources not
//   shared are refused at once. The provider or the consumer revokes a grant. Every registration,
//   request, decision and revocation is one transaction with its transparency-log entry.
// - check_grant() says whether a consumer may read items of a resource today: the one question
//   the exchange asks before every read.
//
// Errors: catalog.unknown_classification, catalog.bad_share_type, catalog.bad_field (with the
// field), catalog.unknown_item (an item the resource does not have), catalog.expiry_in_past
// (invalid_argument); catalog.resource_not_found, catalog.grant_not_found (not_found);
// catalog.not_provider, catalog.not_party (a revocation by a third department), catalog.no_grant,
// catalog.grant_expired,
// catalog.item_not_granted (permission_denied); catalog.grant_not_pending,
// catalog.grant_not_active (conflict); config.* and catalog.unknown_registry for the
// configuration files.
//
// Thread safety: Catalog may be used from many threads at once.
#pragma once

#include "audit/audit.h"
#include "base/clock.h"
#include "base/result.h"
#include "registry/registry.h"
#include "store/store.h"

#include <nlohmann/json.hpp>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <filesystem>
#include <limits>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <span>
#include <thread>
#include <tuple>
#include <optional>
#include <string>
#include <vector>

namespace onewindow::catalog {

enum class ShareType { unconditional, conditional, none };
std::string_view share_type_name(ShareType type);  // "unconditional", "conditional", "none"
Result<ShareType> parse_share_type(std::string_view text, std::string_view field = "share_type");

struct ClassificationEntry {
  std::string code;  // "1", "101", "101001"
  std::string name;
  std::string english_name;
};

// How a base registry appears in the catalog (config/catalog/registries.yaml).
struct RegistryListing {
  std::string registry;
  std::string classification;  // "101001"
  std::string summary;
  ShareType share_type = ShareType::conditional;
  std::string share_condition;
  std::string share_method = "interface";
  std::string open_attribute = "not_open";
  std::string update_cycle;
};

struct CatalogConfiguration {
  std::map<std::string, ClassificationEntry> classification;  // by code, every level
  std::map<std::string, RegistryListing> registries;          // by registry name

  // config/catalog/classification.yaml and registries.yaml of `directory`; errors name file,
  // line and field. A listed registry must exist in `registries`, and its classification must be
  // a sub-item of classification.yaml.
  static Result<CatalogConfiguration> load(const std::filesystem::path& directory,
                                           const registry::RegistryCatalog& registries);
};

struct DataItem {
  std::string name;
  std::string label;
  std::string type;  // "string", "date", "citizen_id", ...
};

struct Resource {
  std::string id;    // "res_..."
  std::string code;  // "101001-000001"
  std::string classification;  // "101001"
  std::string name;
  std::string provider;       // the provider department's key
  std::string provider_code;  // its USCC
  std::string summary;
  std::string format;  // "registry", "csv", "json", "api"
  std::vector<DataItem> items;
  ShareType share_type = ShareType::conditional;
  std::string share_condition;
  std::string share_method;
  std::string open_attribute;
  std::string update_cycle;
  std::string published_on;  // YYYY-MM-DD
  std::vector<std::string> related_codes;
  std::string registry;  // the registry it publishes, when it is one
  nlohmann::json to_json() const;

  const DataItem* item(std::string_view name) const;
};

// What a department registers; the platform sets the id, code, provider code and publication date.
struct NewResource {
  std::string classification;
  std::string name;
  std::string summary;
  std::string format;
  std::vector<DataItem> items;
  ShareType share_type = ShareType::conditional;
  std::string share_condition;
  std::string share_method = "interface";
  std::string open_attribute = "not_open";
  std::string update_cycle;
  std::vector<std::string> related_codes;
};

// Who acts: an official (or a department's system) of a department.
struct Department {
  std::string account_id;
  std::string key;   // "market"
  std::string code;  // its USCC
};

struct Grant {
  std::string id;  // "gnt_..."
  std::string resource_id;
  std::string resource_code;
  std::string provider;
  std::string consumer;  // the consumer department's key
  std::vector<std::string> items;
  std::string purpose;
  std::string legal_basis;
  std::string expires_on;  // YYYY-MM-DD, the last day it holds
  std::string status;      // "pending", "granted", "refused", "revoked"
  std::string reason;      // of a refusal or revocation
  std::string requested_by;
  std::string requested_at;
  std::string decided_by;
  std::string decided_at;
  nlohmann::json to_json() const;
};

struct GrantRequest {
  std::string resource_id;
  std::vector<std::string> items;
  std::string purpose;
  std::string legal_basis;
  std::string expires_on;
};

struct SearchQuery {
  std::string text;            // in name or summary
  std::string classification;  // a code prefix: "1", "101", "101001"
  std::string provider;        // a department key
  std::optional<ShareType> share_type;
  int limit = 50;  // 1 to 200
  int offset = 0;
};

class Catalog {
 public:
  // References to everything; all must outlive the catalog. departments maps department keys to
  // their USCCs (provider codes).
  Catalog(store::Database& database, audit::TransparencyLog& log, const CatalogConfiguration& configuration,
          std::map<std::string, std::string> department_codes, const Clock& clock);

  static std::vector<store::Migration> migrations();

  // Publishes (or brings up to date) the entry of every listed registry; an entry that changed is
  // logged ("catalog.publish").
  Status publish_registries(const registry::RegistryCatalog& registries);

  Result<Resource> register_resource(const NewResource& resource, const Department& by);
  Result<Resource> resource(std::string_view id_or_code) const;
  Result<Resource> resource(store::Session& session, std::string_view id_or_code) const;
  // The resource that publishes a registry: catalog.resource_not_found when none does.
  Result<Resource> registry_resource(std::string_view registry) const;
  // resource(), shared rather than copied: what the exchange asks before every read.
  Result<std::shared_ptr<const Resource>> shared_resource(store::Session& session, std::string_view id_or_code) const;
  // {"resources": [...], "total"}; newest publication first, then by code.
  Result<nlohmann::json> search(const SearchQuery& query) const;

  Result<Grant> request_grant(const GrantRequest& request, const Department& by);
  // The provider decides a pending grant: granted, or refused with a reason.
  Result<Grant> decide(std::string_view grant_id, bool grant, std::string_view reason, const Department& by);
  // The provider or the consumer ends a grant that is pending or granted.
  Result<Grant> revoke(std::string_view grant_id, std::string_view reason, const Department& by);
  Result<Grant> grant(std::string_view id) const;
  // The grant, when the department is its provider or its consumer; catalog.grant_not_found for
  // anyone else, who may not even learn that it exists.
  Result<Grant> grant_of_party(std::string_view id, std::string_view department_key) const;
  // How many grants are in each status: {"pending": n, "granted": n, ...}.
  Result<nlohmann::json> grant_counts() const;
  // Grants a department gives (as provider) or holds (as consumer), newest first.
  Result<std::vector<Grant>> grants_of(std::string_view department_key) const;

  // The consumer's granted items of the resource today, when every item asked for is among them:
  // the grant that allows the read. catalog.no_grant, catalog.grant_expired,
  // catalog.item_not_granted (naming the item) otherwise.
  Result<Grant> check_grant(std::string_view consumer, std::string_view resource_id, const std::vector<std::string>& items) const;
  // check_grant() in the caller's transaction.
  Result<Grant> check_grant(store::Session& session, std::string_view consumer, std::string_view resource_id,
                            const std::vector<std::string>& items) const;

 private:
  Result<Grant> change_grant(std::string_view grant_id, const Department& by, const char* action,
                             const std::function<Status(Grant&)>& change);

  // A grant's description parsed, kept while its row's log index stays the same.
  Result<std::shared_ptr<const Grant>> parsed_grant(store::Session& session, const std::string& id,
                                                    std::int64_t log_index) const;

  store::Database& database_;
  audit::TransparencyLog& log_;
  const CatalogConfiguration& configuration_;
  std::map<std::string, std::string> department_codes_;
  const Clock& clock_;

  // Descriptions parsed, by id, with the log index of the change that wrote them: a row whose
  // log index is the same is not parsed again (parsing was most of an exchange read's work).
  // Every change of a row logs it and sets its log index, so another process's change is seen.
  template <typename T>
  struct Parsed {
    std::int64_t log_index = 0;
    std::shared_ptr<const T> value;
  };
  mutable std::mutex parsed_mutex_;
  mutable std::map<std::string, Parsed<Resource>, std::less<>> parsed_resources_;
  mutable std::map<std::string, Parsed<Grant>, std::less<>> parsed_grants_;
};

// ---- The exchange ------------------------------------------------------------------------------
//
// Contract:
// - A consumer department reads records of a registry resource by key, through a grant it holds
//   today (Catalog::check_grant): only the granted data items come back. Under a conditional grant
//   (the provider approved it for its stated legal basis) they come back as stored; under an
//   unconditional one, personal and sensitive items come back masked as the registry masks them.
//   No grant, an expired one or an item not granted is 403 naming what is missing.
// - Every read is recorded before anything is answered: a transparency-log entry "exchange.read"
//   holding the consumer, the official or client, the purpose and legal basis, the resource and
//   its registry, the record keys (and, as "missing", those with no record), the items, and the
//   SM3 hashes of the request and of the answer. The answer carries that entry's index and the
//   two hashes, so that a consumer can later fetch an inclusion proof under a signed tree head
//   and prove what was asked and answered. Nothing is signed per read: tree heads are signed in
//   the background.
// - The log is the record of reads; the rows by record that reads_of and statistics look up are
//   written from it behind the reads (index_reads: a batch of entries per transaction, from a
//   mark kept in the same transaction), by a thread of its own (start_indexing) and by reads_of
//   and statistics themselves before they look, so that they show every read committed before
//   them. A crash loses no read: the entries after the mark are indexed at the next look.
// - On SQLite, reads made at once from several threads share their transaction: the first of
//   them records the reads waiting behind it too, at most 64 reads or 1,000 keys, and each is
//   answered once that transaction has committed (a group commit). A read refused (no grant, ...)
//   writes nothing and does not hold up the others; when the shared transaction fails, each read
//   is tried again alone, so that a failure is only its own read's. On PostgreSQL each read has a
//   transaction of its own, side by side with the others.
// - The request hash is SM3 of the canonical JSON (audit::canonical_json) of
//   {"consumer", "items", "keys", "resource"}; the answer hash SM3 of the canonical JSON of the
//   answer's "records" list.
//
// Errors: catalog.bad_field (keys: 1 to 100; items), catalog.not_a_registry (a resource that is
// not a registry cannot be read by key or in bulk), and those of check_grant and the registry;
// catalog.read_failed (internal) for a read whose group's recording thread failed unexpectedly.

struct Consumer {
  std::string account_id;      // the official, or "oidc_client:<id>" for a department's system
  std::string department_key;
};

struct ReadRequest {
  std::string resource_id;  // its id or code
  std::vector<std::string> keys;
  std::vector<std::string> items;  // empty: every item the grant covers
};

// A bulk read under way: checked and its beginning recorded.
struct BulkRead {
  Resource resource;
  Grant grant;
  std::vector<std::string> items;
  Consumer consumer;
  std::string request_hash;
  std::int64_t begun_log_index = 0;
};

class Exchange {
 public:
  Exchange(store::Database& database, audit::TransparencyLog& log, const Catalog& catalog,
           const registry::Registries& registries, const Clock& clock);
  ~Exchange();

  static std::vector<store::Migration> migrations();

  // {"resource", "grant", "records": [{"key", "fields"} or {"key", "error"}],
  //  "receipt": {"log_index", "request_hash", "response_hash", "read_at"}}
  Result<nlohmann::json> read(const ReadRequest& request, const Consumer& consumer);

  // A bulk read of every record of a registry resource, in two steps so that a refusal is an
  // ordinary error before anything is sent. begin_bulk_read checks the grant as read() does and
  // records "exchange.bulk_read_begun" (the consumer, purpose, resource, items and request hash);
  // run_bulk_read then writes NDJSON through `write`, one line per record ({"key", "fields"}),
  // from one snapshot and never holding the records, and ends with a receipt line
  // {"receipt": {"log_index", "begun_log_index", "request_hash", "response_hash", "records",
  // "read_at"}} for the entry "exchange.bulk_read" it records after the last record. The response
  // hash is SM3 of the record lines exactly as written, newlines included. A client that goes
  // away stops the read; its beginning stays recorded.
  Result<BulkRead> begin_bulk_read(std::string_view resource_id, const std::vector<std::string>& items,
                                   const Consumer& consumer);
  Status run_bulk_read(const BulkRead& read, const std::function<bool(std::string_view)>& write);

  // Share statistics from `from` to `to` (dates in China Standard Time, at most 367 days):
  // {"from", "to", "reads": [{"day", "provider", "consumer", "resource", "reads", "bulk_reads",
  // "records"}], "grants": {status: count}}, by day, consumer and resource.
  Result<nlohmann::json> statistics(Date from, Date to);

  // Who read my data: the reads of one record, newest first (bulk reads of its registry made
  // while it existed among them), a page at a time: those logged before log index `before`, at
  // most `limit` (1 to 1,000, else catalog.bad_field naming it):
  // {"reads": [{"read_at", "department", "items", "purpose", "legal_basis", "resource", "log_index",
  //   "bulk"}], "next_before": the `before` of the next page, or null after the last}
  struct ReadsPage {
    std::int64_t before = std::numeric_limits<std::int64_t>::max();
    std::int64_t limit = 1000;
  };
  Result<nlohmann::json> reads_of(std::string_view registry, std::string_view key, ReadsPage page);
  Result<nlohmann::json> reads_of(std::string_view registry, std::string_view key) { return reads_of(registry, key, {}); }

  // Writes the rows of the reads logged since the last call, and returns how many log entries it
  // looked at. catalog.bad_read_entry for a read's entry it cannot make sense of: the entries
  // before it are indexed, nothing from it on until it is mended. And the store's errors.
  Result<std::int64_t> index_reads();
  // Indexes the reads every interval while reads are made, on a thread of its own; a failure is
  // logged and tried again a minute later. stop_indexing joins it (the destructor too).
  void start_indexing(std::chrono::milliseconds interval = std::chrono::milliseconds(200));
  void stop_indexing();
  // How many log entries the index has not looked at yet, for /metrics.
  Result<std::int64_t> index_backlog() const;

  // Reads since this process started, by provider, consumer and resource code, for /metrics
  // (the statistics above are the lasting record).
  struct ShareCount {
    std::int64_t reads = 0;
    std::int64_t bulk_reads = 0;
    std::int64_t records = 0;
  };
  std::map<std::tuple<std::string, std::string, std::string>, ShareCount> share_counts() const;

  const Catalog& catalog() const { return catalog_; }

 private:
  struct PendingRead;
  struct CheckedRead;

  // Records reads in one transaction, each with its answer; when the transaction fails, each
  // again in a transaction of its own.
  void record_together(std::span<PendingRead* const> reads);
  // A read's grant check, its records and its hashes; errors are its refusals, except a failed
  // statement, which fails the transaction.
  Result<CheckedRead> check_read(store::Session& session, const PendingRead& read) const;
  // A checked read's log entry and its answer; or its refusal (nothing written) in `answer`. A
  // failure fails the transaction.
  Status record_read(store::Session& session, PendingRead& pending, CheckedRead& read,
                     std::optional<Result<nlohmann::json>>& answer);
  void count(const std::string& provider, const std::string& resource_code, const Consumer& consumer, std::int64_t reads,
             std::int64_t bulk_reads, std::int64_t records);

  // Reads by key waiting to be recorded on SQLite, oldest first: the first records those behind
  // it too.
  std::mutex pending_mutex_;
  std::deque<PendingRead*> pending_;

  std::mutex index_mutex_;  // one index_reads at a time in this process
  // Reads committed since the indexing thread last looked: whether it has anything to do.
  std::atomic<std::int64_t> unindexed_reads_{0};
  std::mutex indexer_mutex_;
  std::condition_variable indexer_woken_;
  bool stopping_ = false;
  std::thread indexer_;

  mutable std::mutex counts_mutex_;
  std::map<std::tuple<std::string, std::string, std::string>, ShareCount> counts_;
  store::Database& database_;
  audit::TransparencyLog& log_;
  const Catalog& catalog_;
  const registry::Registries& registries_;
  const Clock& clock_;
};

// ---- Subscriptions -----------------------------------------------------------------------------
//
// Contract:
// - A consumer department subscribes to a registry resource it holds a grant for, for some of the
//   granted items (all of them when none are named). Its events are the changes of the registry's
//   records committed after it subscribed that wrote at least one of those items:
//   {"id", "subscription", "resource", "registry", "key", "items", "created", "log_index",
//   "changed_at"}. An event names the record and the items written, never their values: the
//   consumer reads those through the exchange, so that every read of a value stays a recorded read.
// - The changes are the outbox: rows written in the registry write's own transaction (a
//   registry::ChangeListener), only for registries with an active subscription, numbered per
//   registry in commit order (a counter row held until commit). An event's id is
//   "<subscription>.<number>", the same every time the event is given.
// - Pull: events() gives the events after a cursor, at most `limit` (1 to 1,000); the cursor given
//   is taken as acknowledged, so that the subscription's backlog shows what is left.
// - Push: a subscription with an endpoint (http:// or https://) is delivered by a pool of threads
//   (start_delivery): batches of at most 100 events POSTed as {"subscription", "events": [...]}
//   with the header X-Onewindow-Subscription. A 2xx answer moves the subscription's cursor past
//   the batch, in one transaction with a transparency-log entry "exchange.delivered" holding the
//   SM3 hash of the body sent. Anything else (no answer in the timeout, another status) leaves
//   the cursor where it was, and the batch is sent again after a backoff that doubles from 1 s to
//   at most 5 minutes: at least once, and a receiver drops duplicates by event id. A crash
//   between the answer and the cursor's move sends the batch again. A dead endpoint holds one
//   thread for at most the timeout and then waits out its backoff; the others go on.
// - Every delivery and every pull checks the grant again: a grant that ended stops the events
//   (catalog.no_grant, ...; for a push, its last error) until a new one is granted.
// - The backlog of a subscription (changes after its cursor), its attempts, last error and next
//   attempt are shown to its consumer and in /metrics.
// - Subscribing and cancelling are logged (exchange.subscribed, exchange.unsubscribed).
//
// Errors: catalog.bad_field (endpoint, items, limit, after), catalog.not_a_registry, those of
// check_grant; catalog.subscription_not_found (not_found, also for another department's);
// catalog.subscription_cancelled (conflict).

struct SubscriptionRequest {
  std::string resource_id;  // its id or code
  std::vector<std::string> items;  // empty: every item the grant covers
  std::string endpoint;     // empty: the consumer pulls
};

struct Subscription {
  std::string id;  // "sub_..."
  std::string resource_id;
  std::string resource_code;
  std::string registry;
  std::string consumer;
  std::vector<std::string> items;
  std::string endpoint;
  std::string state;  // "active", "cancelled"
  // The registry's change number when it subscribed: its events are the changes after it.
  std::int64_t start = 0;
  // The last change delivered (push) or acknowledged (pull).
  std::int64_t cursor = 0;
  std::int64_t backlog = 0;  // changes of the registry after the cursor
  std::int64_t attempts = 0;  // failed deliveries in a row
  std::string last_error;
  std::string next_attempt_at;
  std::string last_delivered_at;
  std::string created_by;
  std::string created_at;
  nlohmann::json to_json() const;
};

struct DeliveryOptions {
  int threads = 4;
  std::chrono::milliseconds timeout{10000};         // per POST, connecting included
  std::chrono::milliseconds idle_poll{500};         // how often an idle thread looks for work
  std::chrono::milliseconds first_backoff{1000};
  std::chrono::milliseconds longest_backoff{300000};
};

class Subscriptions {
 public:
  Subscriptions(store::Database& database, audit::TransparencyLog& log, const Catalog& catalog, const Clock& clock,
                DeliveryOptions options = {});
  ~Subscriptions();  // stops delivering, after the POSTs in flight
  Subscriptions(const Subscriptions&) = delete;
  Subscriptions& operator=(const Subscriptions&) = delete;

  static std::vector<store::Migration> migrations();

  // The listener that writes the outbox; for Registries::add_change_listener.
  registry::ChangeListener change_listener();

  Result<Subscription> subscribe(const SubscriptionRequest& request, const Consumer& consumer);
  Result<Subscription> cancel(std::string_view id, const Consumer& consumer);
  // A subscription of the consumer's department, with its backlog.
  Result<Subscription> subscription(std::string_view id, std::string_view consumer) const;
  // The department's subscriptions, or (empty consumer) every active one; newest first.
  Result<std::vector<Subscription>> subscriptions_of(std::string_view consumer) const;

  // {"events": [...], "next_cursor"}: the events after `after` (0 for the first page), at most
  // `limit`. next_cursor is the last change looked at, to be given as `after` next time; it
  // moves past changes that wrote none of the subscribed items.
  Result<nlohmann::json> events(std::string_view id, std::int64_t after, int limit, const Consumer& consumer);

  // Sends one batch to every push subscription that is due and has a backlog, one after another
  // on the caller's thread; how many batches were accepted. What the delivery threads do.
  Result<int> deliver_due();

  // Starts the delivery threads; stop_delivery() (or the destructor) ends them after the POSTs
  // in flight.
  void start_delivery();
  void stop_delivery();

 private:
  // Delivers one batch of one subscription: true when the endpoint accepted it.
  Result<bool> deliver(const std::string& id);
  // Due push subscriptions with a backlog, oldest attempt first.
  Result<std::vector<std::string>> due() const;
  void work();

  store::Database& database_;
  audit::TransparencyLog& log_;
  const Catalog& catalog_;
  const Clock& clock_;
  DeliveryOptions options_;

  std::mutex mutex_;
  std::condition_variable wake_;
  std::set<std::string> in_flight_;
  std::atomic<bool> stopping_{false};
  std::vector<std::thread> threads_;
};

}  // namespace onewindow::catalog
