// The exchange: reads of registry records through grants, each recorded with the hashes of what
// was asked and answered; see catalog.h.
#include "catalog/catalog.h"
#include "catalog/internal.h"

#include "crypto/crypto.h"

#include <algorithm>
#include <map>
#include <set>
#include <tuple>

namespace onewindow::catalog {

namespace {

constexpr std::size_t most_keys_per_read = 100;

// One row per record read, append-only, found by the record it is about (who read my data): no
// key of its own and no other index, so that recording a read writes as few pages as it can.
// read_on is the read's date in China Standard Time, which the share statistics count by.
constexpr const char* schema_v1 = R"(
    CREATE TABLE exchange_read (
      log_index BIGINT NOT NULL,
      record_key TEXT NOT NULL,
      registry TEXT NOT NULL,
      read_at TEXT NOT NULL,
      read_on TEXT NOT NULL,
      consumer TEXT NOT NULL,
      account TEXT NOT NULL,
      resource_code TEXT NOT NULL,
      grant_id TEXT NOT NULL,
      items TEXT NOT NULL,
      purpose TEXT NOT NULL,
      legal_basis TEXT NOT NULL);
    CREATE INDEX exchange_read_record ON exchange_read (registry, record_key, read_at);
    CREATE TABLE exchange_bulk_read (
      log_index BIGINT PRIMARY KEY,
      registry TEXT NOT NULL,
      read_at TEXT NOT NULL,
      read_on TEXT NOT NULL,
      consumer TEXT NOT NULL,
      account TEXT NOT NULL,
      resource_code TEXT NOT NULL,
      grant_id TEXT NOT NULL,
      items TEXT NOT NULL,
      purpose TEXT NOT NULL,
      legal_basis TEXT NOT NULL,
      records BIGINT NOT NULL);
    CREATE INDEX exchange_bulk_read_registry ON exchange_bulk_read (registry, read_at);
)";

}  // namespace

Result<std::string> sm3_of_canonical(const nlohmann::json& value) {
  auto text = audit::canonical_json(value);
  if (!text.ok()) return text.take_error();
  return crypto::to_hex(crypto::sm3(*text));
}

Result<Allowed> allowed(store::Session& session, const Catalog& catalog, std::string_view resource_id,
                        const std::vector<std::string>& named_items, const Consumer& consumer) {
  auto shared = catalog.shared_resource(session, resource_id);
  if (!shared.ok()) return shared.take_error();
  const Resource* resource = shared->get();
  if (resource->registry.empty()) {
    return Error::invalid("catalog.not_a_registry", "resource_id",
                          "resource " + resource->code + " is not a registry: its records are not read through the exchange");
  }
  std::set<std::string> named;
  for (const std::string& item : named_items) {
    if (!resource->item(item)) {
      return Error(ErrorKind::invalid_argument, "catalog.unknown_item", "the resource has no data item " + item,
                   {{"field", "items"}, {"item", item}});
    }
    if (!named.insert(item).second) return Error::invalid("catalog.bad_field", "items", "the data item " + item + " is named twice");
  }
  // No items named: the newest current grant, and every item it covers.
  auto grant = catalog.check_grant(session, consumer.department_key, resource->id, named_items);
  if (!grant.ok()) return grant.take_error();
  std::vector<std::string> items = named_items.empty() ? grant->items : named_items;
  return Allowed{std::move(shared).value(), std::move(items), std::move(grant).value()};
}

Exchange::Exchange(store::Database& database, audit::TransparencyLog& log, const Catalog& catalog,
                   const registry::Registries& registries, const Clock& clock)
    : database_(database), log_(log), catalog_(catalog), registries_(registries), clock_(clock) {}

std::vector<store::Migration> Exchange::migrations() {
  return {{"exchange", 1, "reads of records, for the people they are about", schema_v1, ""}};
}

static nlohmann::json only(const nlohmann::json& fields, const std::vector<std::string>& items) {
  nlohmann::json kept = nlohmann::json::object();
  for (const std::string& item : items) {
    auto value = fields.find(item);
    if (value != fields.end()) kept[item] = *value;
  }
  return kept;
}

Result<nlohmann::json> Exchange::read(const ReadRequest& request, const Consumer& consumer) {
  if (request.keys.empty() || request.keys.size() > most_keys_per_read) {
    return Error::invalid("catalog.bad_field", "keys", "a read names 1 to 100 record keys");
  }
  std::string now = format_timestamp(clock_.now());
  std::string today = local_date(clock_.now()).to_string();
  // One transaction from the grant check to the record of the read: on SQLite the writer's own
  // connection, whose cache the read's writes do not invalidate.
  // Counted for /metrics once the read has committed.
  std::string counted_provider, counted_code;
  std::int64_t counted_records = 0;
  auto answer = database_.write_value<nlohmann::json>([&](store::Session& session) -> Result<nlohmann::json> {
    auto permitted = allowed(session, catalog_, request.resource_id, request.items, consumer);
    if (!permitted.ok()) return permitted.take_error();
    const Resource& resource = *permitted->resource;
    const std::vector<std::string>& items = permitted->items;
    const Grant& grant = permitted->grant;
    auto definition = registries_.definition(resource.registry);
    if (!definition.ok()) return definition.take_error();

    std::vector<std::string> keys;
    for (const std::string& key : request.keys) keys.push_back(registry::Registries::key_form(**definition, key));
    nlohmann::json request_body = {{"resource", resource.code}, {"consumer", consumer.department_key}, {"keys", keys}, {"items", items}};
    const registry::Reader reader{consumer.department_key, resource.share_type == ShareType::conditional};
    nlohmann::json records = nlohmann::json::array();
    std::vector<std::string> found_keys;
    for (const std::string& key : keys) {
      auto record = registries_.read(session, resource.registry, key, reader);
      if (!record.ok()) {
        if (record.error().code != "registry.record_not_found") return record.take_error();
        records.push_back({{"key", key}, {"error", "registry.record_not_found"}});
        continue;
      }
      records.push_back({{"key", key}, {"fields", only((*record)["fields"], items)}});
      found_keys.push_back(key);
    }

    auto request_hash = sm3_of_canonical(request_body);
    if (!request_hash.ok()) return request_hash.take_error();
    auto response_hash = sm3_of_canonical(records);
    if (!response_hash.ok()) return response_hash.take_error();
    nlohmann::json item_list = items;
    auto recorded = log_.record(session, {consumer.account_id, "", "exchange.read", "catalog_resource", resource.id,
                                          grant.legal_basis,
                                          {{"resource", resource.code},
                                           {"consumer", consumer.department_key},
                                           {"grant", grant.id},
                                           {"purpose", grant.purpose},
                                           {"keys", keys},
                                           {"items", item_list},
                                           {"request_hash", *request_hash},
                                           {"response_hash", *response_hash}}});
    if (!recorded.ok()) return recorded.take_error();
    for (const std::string& key : found_keys) {
      ONEWINDOW_TRY(session
                        .execute("INSERT INTO exchange_read (log_index, record_key, registry, read_at, read_on, consumer, "
                                 "account, resource_code, grant_id, items, purpose, legal_basis) "
                                 "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
                                 {recorded->index, key, resource.registry, now, today, consumer.department_key,
                                  consumer.account_id, resource.code, grant.id, item_list.dump(), grant.purpose,
                                  grant.legal_basis})
                        .status());
    }
    counted_provider = resource.provider;
    counted_code = resource.code;
    counted_records = static_cast<std::int64_t>(found_keys.size());
    return nlohmann::json{{"resource", resource.code},
                          {"grant", grant.id},
                          {"records", records},
                          {"receipt",
                           {{"log_index", recorded->index},
                            {"request_hash", *request_hash},
                            {"response_hash", *response_hash},
                            {"read_at", recorded->time}}}};
  });
  if (answer.ok()) count(counted_provider, counted_code, consumer, 1, 0, counted_records);
  return answer;
}

Result<BulkRead> Exchange::begin_bulk_read(std::string_view resource_id, const std::vector<std::string>& items,
                                           const Consumer& consumer) {
  auto permitted = database_.read_value<Allowed>(
      [&](store::Session& session) { return allowed(session, catalog_, resource_id, items, consumer); });
  if (!permitted.ok()) return permitted.take_error();
  BulkRead read{*permitted->resource, std::move(permitted->grant), std::move(permitted->items), consumer, "", 0};
  auto request_hash = sm3_of_canonical(
      {{"resource", read.resource.code}, {"consumer", consumer.department_key}, {"items", read.items}, {"bulk", true}});
  if (!request_hash.ok()) return request_hash.take_error();
  read.request_hash = *request_hash;
  auto receipt = database_.write_value<audit::Receipt>([&](store::Session& session) {
    return log_.record(session, {consumer.account_id, "", "exchange.bulk_read_begun", "catalog_resource", read.resource.id,
                                 read.grant.legal_basis,
                                 {{"resource", read.resource.code},
                                  {"consumer", consumer.department_key},
                                  {"grant", read.grant.id},
                                  {"purpose", read.grant.purpose},
                                  {"items", read.items},
                                  {"request_hash", read.request_hash}}});
  });
  if (!receipt.ok()) return receipt.take_error();
  read.begun_log_index = receipt->index;
  return read;
}

Status Exchange::run_bulk_read(const BulkRead& read, const std::function<bool(std::string_view)>& write) {
  const registry::Reader reader{read.consumer.department_key, read.resource.share_type == ShareType::conditional};
  crypto::Sm3Hasher hasher;
  std::int64_t records = 0;
  bool client_gone = false;
  std::string line;
  ONEWINDOW_TRY(registries_.scan(read.resource.registry, reader, [&](const std::string& key, const nlohmann::json& fields) {
    line = nlohmann::json{{"key", key}, {"fields", only(fields, read.items)}}.dump();
    line += '\n';
    hasher.update(line);
    ++records;
    if (!write(line)) {
      client_gone = true;
      return false;
    }
    return true;
  }));
  if (client_gone) return Error(ErrorKind::unavailable, "exchange.client_gone", "the client went away during the bulk read");
  std::string response_hash = crypto::to_hex(hasher.finish());
  std::string now = format_timestamp(clock_.now());
  nlohmann::json item_list = read.items;
  auto receipt = database_.write_value<audit::Receipt>([&](store::Session& session) -> Result<audit::Receipt> {
    auto recorded = log_.record(session, {read.consumer.account_id, "", "exchange.bulk_read", "catalog_resource",
                                          read.resource.id, read.grant.legal_basis,
                                          {{"resource", read.resource.code},
                                           {"consumer", read.consumer.department_key},
                                           {"grant", read.grant.id},
                                           {"items", item_list},
                                           {"begun", read.begun_log_index},
                                           {"records", records},
                                           {"request_hash", read.request_hash},
                                           {"response_hash", response_hash}}});
    if (!recorded.ok()) return recorded.take_error();
    ONEWINDOW_TRY(session
                      .execute("INSERT INTO exchange_bulk_read (log_index, registry, read_at, read_on, consumer, account, "
                               "resource_code, grant_id, items, purpose, legal_basis, records) "
                               "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
                               {recorded->index, read.resource.registry, now, local_date(clock_.now()).to_string(),
                                read.consumer.department_key,
                                read.consumer.account_id, read.resource.code, read.grant.id, item_list.dump(),
                                read.grant.purpose, read.grant.legal_basis, records})
                      .status());
    return *recorded;
  });
  if (!receipt.ok()) return receipt.take_error();
  count(read.resource.provider, read.resource.code, read.consumer, 0, 1, records);
  nlohmann::json trailer = {{"receipt",
                             {{"log_index", receipt->index},
                              {"begun_log_index", read.begun_log_index},
                              {"request_hash", read.request_hash},
                              {"response_hash", response_hash},
                              {"records", records},
                              {"read_at", receipt->time}}}};
  write(trailer.dump() + "\n");
  return ok_status();
}

void Exchange::count(const std::string& provider, const std::string& resource_code, const Consumer& consumer,
                     std::int64_t reads, std::int64_t bulk_reads, std::int64_t records) {
  std::lock_guard lock(counts_mutex_);
  ShareCount& counted = counts_[{provider, consumer.department_key, resource_code}];
  counted.reads += reads;
  counted.bulk_reads += bulk_reads;
  counted.records += records;
}

std::map<std::tuple<std::string, std::string, std::string>, Exchange::ShareCount> Exchange::share_counts() const {
  std::lock_guard lock(counts_mutex_);
  return counts_;
}

Result<nlohmann::json> Exchange::reads_of(std::string_view registry_name, std::string_view key) const {
  auto definition = registries_.definition(registry_name);
  if (!definition.ok()) return definition.take_error();
  std::string stored = registry::Registries::key_form(**definition, key);
  return database_.read_value<nlohmann::json>([&](store::Session& session) -> Result<nlohmann::json> {
    auto rows = session.query(
        "SELECT read_at, consumer, items, purpose, legal_basis, resource_code, log_index FROM exchange_read "
        "WHERE registry = $1 AND record_key = $2 ORDER BY read_at DESC, log_index DESC LIMIT 1000",
        {std::string(registry_name), stored});
    if (!rows.ok()) return rows.take_error();
    auto bulk = session.query(
        "SELECT read_at, consumer, items, purpose, legal_basis, resource_code, log_index FROM exchange_bulk_read "
        "WHERE registry = $1 ORDER BY read_at DESC LIMIT 1000",
        {std::string(registry_name)});
    if (!bulk.ok()) return bulk.take_error();
    std::vector<nlohmann::json> reads;
    auto add = [&](const store::Row& row, bool in_bulk) {
      reads.push_back({{"read_at", row.text(0)},
                       {"department", row.text(1)},
                       {"items", nlohmann::json::parse(row.text(2))},
                       {"purpose", row.text(3)},
                       {"legal_basis", row.text(4)},
                       {"resource", row.text(5)},
                       {"log_index", row.integer(6)},
                       {"bulk", in_bulk}});
    };
    for (const auto& row : *rows) add(row, false);
    for (const auto& row : *bulk) {
      // A bulk read read this record when the record existed then.
      auto then = parse_timestamp(row.text(0));
      if (!then.ok()) continue;
      if (registries_.read(registry_name, stored, {row.text(1)}, *then).ok()) add(row, true);
    }
    std::sort(reads.begin(), reads.end(), [](const nlohmann::json& a, const nlohmann::json& b) {
      return std::tie(a["read_at"].get_ref<const std::string&>(), a["log_index"].get_ref<const std::int64_t&>()) >
             std::tie(b["read_at"].get_ref<const std::string&>(), b["log_index"].get_ref<const std::int64_t&>());
    });
    if (reads.size() > 1000) reads.resize(1000);
    return nlohmann::json{{"reads", reads}};
  });
}

Result<nlohmann::json> Exchange::statistics(Date from, Date to) const {
  if (to < from) return Error::invalid("catalog.bad_field", "to", "to is on or after from");
  if ((to.days() - from.days()).count() > 366) return Error::invalid("catalog.bad_field", "to", "at most 367 days at once");
  struct Counts {
    std::int64_t reads = 0;
    std::int64_t records = 0;
    std::int64_t bulk_reads = 0;
  };
  std::map<std::tuple<std::string, std::string, std::string>, Counts> counts;  // day, consumer, resource
  std::map<std::string, std::int64_t> grants;
  ONEWINDOW_TRY(database_.read([&](store::Session& session) -> Status {
    store::Parameters range = {from.to_string(), to.to_string()};
    auto single = session.query(
        "SELECT read_on, consumer, resource_code, COUNT(DISTINCT log_index), COUNT(*) FROM exchange_read "
        "WHERE read_on >= $1 AND read_on <= $2 GROUP BY read_on, consumer, resource_code",
        range);
    if (!single.ok()) return single.take_error();
    for (const auto& row : *single) {
      Counts& entry = counts[{row.text(0), row.text(1), row.text(2)}];
      entry.reads += row.integer(3);
      entry.records += row.integer(4);
    }
    auto bulk = session.query(
        "SELECT read_on, consumer, resource_code, COUNT(*), SUM(records) FROM exchange_bulk_read "
        "WHERE read_on >= $1 AND read_on <= $2 GROUP BY read_on, consumer, resource_code",
        range);
    if (!bulk.ok()) return bulk.take_error();
    for (const auto& row : *bulk) {
      Counts& entry = counts[{row.text(0), row.text(1), row.text(2)}];
      entry.bulk_reads += row.integer(3);
      entry.records += row.integer(4);
    }
    return ok_status();
  }));
  auto by_status = catalog_.grant_counts();
  if (!by_status.ok()) return by_status.take_error();
  std::map<std::string, std::string> providers;  // by resource code
  nlohmann::json rows = nlohmann::json::array();
  for (const auto& [key, entry] : counts) {
    const auto& [day, consumer, code] = key;
    if (!providers.contains(code)) {
      auto resource = catalog_.resource(code);
      providers[code] = resource.ok() ? resource->provider : "";
    }
    rows.push_back({{"day", day},
                    {"provider", providers[code]},
                    {"consumer", consumer},
                    {"resource", code},
                    {"reads", entry.reads},
                    {"bulk_reads", entry.bulk_reads},
                    {"records", entry.records}});
  }
  return nlohmann::json{{"from", from.to_string()}, {"to", to.to_string()}, {"reads", rows}, {"grants", *by_status}};
}

}  // namespace onewindow::catalog
