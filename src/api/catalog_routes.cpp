#include "api/api.h"

#include "catalog/catalog.h"

#include <charconv>

namespace onewindow::api {

namespace {

// The caller's department as the catalog knows it: its key and USCC.
Result<catalog::Department> department_of(const Request& request, identity::Directory& directory) {
  const identity::Principal& principal = *request.principal;
  if (principal.department_id.empty()) {
    return Error(ErrorKind::permission_denied, "catalog.no_department", "only an official of a department acts in the catalog");
  }
  auto department = directory.department(principal.department_id);
  if (!department.ok()) return department.take_error();
  return catalog::Department{principal.account_id, department->key, department->unified_social_credit_code};
}

template <typename Number = int>
Result<Number> number_parameter(const Request& request, const char* name, Number fallback) {
  auto found = request.query.find(name);
  if (found == request.query.end()) return fallback;
  Number value = 0;
  auto [end, error] = std::from_chars(found->second.data(), found->second.data() + found->second.size(), value);
  if (error != std::errc() || end != found->second.data() + found->second.size()) {
    return Error::invalid("http.bad_parameter", name, std::string(name) + " must be a whole number");
  }
  return value;
}

Result<std::vector<catalog::DataItem>> items_field(const nlohmann::json& body) {
  auto found = body.find("items");
  if (found == body.end() || !found->is_array()) {
    return Error::invalid("http.bad_field", "items", "items is a list of {name, label, type}");
  }
  std::vector<catalog::DataItem> items;
  for (const auto& item : *found) {
    if (!item.is_object()) return Error::invalid("http.bad_field", "items", "items is a list of {name, label, type}");
    ONEWINDOW_TRY(only_known_fields(item, {"name", "label", "type"}));
    auto name = string_field(item, "name", true);
    if (!name.ok()) return name.take_error();
    auto label = string_field(item, "label", false);
    if (!label.ok()) return label.take_error();
    auto type = string_field(item, "type", false);
    if (!type.ok()) return type.take_error();
    items.push_back({*name, *label, type->empty() ? "string" : *type});
  }
  return items;
}

Response grant_response(int status, const catalog::Grant& grant) { return Response::json(status, grant.to_json()); }

}  // namespace

void add_catalog_routes(Router& router, catalog::Catalog& catalog, const catalog::CatalogConfiguration& configuration,
                        identity::Directory& directory) {
  router.add({"GET", "/api/v1/catalog/classification", "catalog.read",
              "The classification of information resources: categories, items and sub-items with their codes.",
              "catalog", [&configuration](const Request&) -> Result<Response> {
                nlohmann::json list = nlohmann::json::array();
                for (const auto& [code, entry] : configuration.classification) {
                  list.push_back({{"code", code}, {"name", entry.name}, {"name_en", entry.english_name}});
                }
                return Response::json(200, {{"classification", list}});
              }});

  router.add({"GET", "/api/v1/catalog/resources", "catalog.read",
              "Searches the catalog: q (in name and summary), classification (a code or its prefix), provider (a "
              "department key), share_type, limit (1-200) and offset.",
              "catalog",
              [&catalog](const Request& request) -> Result<Response> {
                catalog::SearchQuery query;
                auto text = request.query.find("q");
                if (text != request.query.end()) query.text = text->second;
                if (auto found = request.query.find("classification"); found != request.query.end()) {
                  query.classification = found->second;
                }
                if (auto found = request.query.find("provider"); found != request.query.end()) query.provider = found->second;
                if (auto found = request.query.find("share_type"); found != request.query.end()) {
                  auto type = catalog::parse_share_type(found->second);
                  if (!type.ok()) return type.take_error();
                  query.share_type = *type;
                }
                auto limit = number_parameter(request, "limit", 50);
                if (!limit.ok()) return limit.take_error();
                auto offset = number_parameter(request, "offset", 0);
                if (!offset.ok()) return offset.take_error();
                query.limit = *limit;
                query.offset = *offset;
                auto found = catalog.search(query);
                if (!found.ok()) return found.take_error();
                return Response::json(200, *found);
              }});

  router.add({"GET", "/api/v1/catalog/resources/{id}", "catalog.read", "A resource, by its id or its code.", "catalog",
              [&catalog](const Request& request) -> Result<Response> {
                auto found = catalog.resource(request.path_parameters.at("id"));
                if (!found.ok()) return found.take_error();
                return Response::json(200, found->to_json());
              }});

  router.add({"POST", "/api/v1/catalog/resources", "catalog.register",
              "Registers a resource of the caller's department, described with the catalog's core metadata.", "catalog",
              [&catalog, &directory](const Request& request) -> Result<Response> {
                auto body = request.json_body();
                if (!body.ok()) return body.take_error();
                ONEWINDOW_TRY(only_known_fields(*body, {"classification", "name", "summary", "format", "items", "share_type",
                                                        "share_condition", "share_method", "open_attribute", "update_cycle",
                                                        "related_codes"}));
                catalog::NewResource resource;
                for (auto [field, target, required] :
                     {std::tuple{"classification", &resource.classification, true}, std::tuple{"name", &resource.name, true},
                      std::tuple{"summary", &resource.summary, false}, std::tuple{"format", &resource.format, true},
                      std::tuple{"share_condition", &resource.share_condition, false},
                      std::tuple{"open_attribute", &resource.open_attribute, false},
                      std::tuple{"update_cycle", &resource.update_cycle, false}}) {
                  auto text = string_field(*body, field, required);
                  if (!text.ok()) return text.take_error();
                  if (!text->empty()) *target = *text;
                }
                auto method = string_field(*body, "share_method", false);
                if (!method.ok()) return method.take_error();
                if (!method->empty()) resource.share_method = *method;
                auto share = string_field(*body, "share_type", true);
                if (!share.ok()) return share.take_error();
                auto type = catalog::parse_share_type(*share);
                if (!type.ok()) return type.take_error();
                resource.share_type = *type;
                auto items = items_field(*body);
                if (!items.ok()) return items.take_error();
                resource.items = *items;
                auto related = string_list(*body, "related_codes");
                if (!related.ok()) return related.take_error();
                resource.related_codes = *related;
                auto by = department_of(request, directory);
                if (!by.ok()) return by.take_error();
                auto registered = catalog.register_resource(resource, *by);
                if (!registered.ok()) return registered.take_error();
                return Response::json(201, registered->to_json());
              },
              {{"type", "object"},
               {"required", {"classification", "name", "format", "items", "share_type"}},
               {"properties",
                {{"classification", {{"type", "string"}}},
                 {"name", {{"type", "string"}}},
                 {"summary", {{"type", "string"}}},
                 {"format", {{"enum", {"csv", "json", "api", "xlsx", "file"}}}},
                 {"items", {{"type", "array"}}},
                 {"share_type", {{"enum", {"unconditional", "conditional", "none"}}}},
                 {"share_condition", {{"type", "string"}}},
                 {"share_method", {{"enum", {"interface", "file", "database"}}}},
                 {"open_attribute", {{"type", "string"}}},
                 {"update_cycle", {{"type", "string"}}},
                 {"related_codes", {{"type", "array"}}}}}}});

  router.add({"POST", "/api/v1/catalog/grants", "catalog.grants",
              "The caller's department asks for data items of a resource, for a purpose and a legal basis, until an "
              "expiry date: unconditional resources are granted at once, conditional ones wait for the provider, "
              "others are refused.",
              "catalog",
              [&catalog, &directory](const Request& request) -> Result<Response> {
                auto body = request.json_body();
                if (!body.ok()) return body.take_error();
                ONEWINDOW_TRY(only_known_fields(*body, {"resource_id", "items", "purpose", "legal_basis", "expires_on"}));
                catalog::GrantRequest grant;
                for (auto [field, target] : {std::pair{"resource_id", &grant.resource_id}, std::pair{"purpose", &grant.purpose},
                                             std::pair{"legal_basis", &grant.legal_basis},
                                             std::pair{"expires_on", &grant.expires_on}}) {
                  auto text = string_field(*body, field, true);
                  if (!text.ok()) return text.take_error();
                  *target = *text;
                }
                auto items = string_list(*body, "items");
                if (!items.ok()) return items.take_error();
                grant.items = *items;
                auto by = department_of(request, directory);
                if (!by.ok()) return by.take_error();
                auto requested = catalog.request_grant(grant, *by);
                if (!requested.ok()) return requested.take_error();
                return grant_response(201, *requested);
              },
              {{"type", "object"},
               {"required", {"resource_id", "items", "purpose", "legal_basis", "expires_on"}},
               {"properties",
                {{"resource_id", {{"type", "string"}}},
                 {"items", {{"type", "array"}, {"items", {{"type", "string"}}}}},
                 {"purpose", {{"type", "string"}}},
                 {"legal_basis", {{"type", "string"}}},
                 {"expires_on", {{"type", "string"}, {"format", "date"}}}}}}});

  router.add({"GET", "/api/v1/catalog/grants", "catalog.grants",
              "The grants the caller's department gives as provider or holds as consumer, newest first.", "catalog",
              [&catalog, &directory](const Request& request) -> Result<Response> {
                auto by = department_of(request, directory);
                if (!by.ok()) return by.take_error();
                auto grants = catalog.grants_of(by->key);
                if (!grants.ok()) return grants.take_error();
                nlohmann::json list = nlohmann::json::array();
                for (const auto& grant : *grants) list.push_back(grant.to_json());
                return Response::json(200, {{"grants", list}});
              }});

  router.add({"GET", "/api/v1/catalog/grants/{id}", "catalog.grants", "A grant of the caller's department.", "catalog",
              [&catalog, &directory](const Request& request) -> Result<Response> {
                auto by = department_of(request, directory);
                if (!by.ok()) return by.take_error();
                auto grant = catalog.grant_of_party(request.path_parameters.at("id"), by->key);
                if (!grant.ok()) return grant.take_error();
                return grant_response(200, *grant);
              }});

  router.add({"POST", "/api/v1/catalog/grants/{id}/decision", "catalog.grants",
              "The provider decides a pending grant: {\"grant\": true} or {\"grant\": false, \"reason\": ...}.", "catalog",
              [&catalog, &directory](const Request& request) -> Result<Response> {
                auto body = request.json_body();
                if (!body.ok()) return body.take_error();
                ONEWINDOW_TRY(only_known_fields(*body, {"grant", "reason"}));
                auto decision = body->find("grant");
                if (decision == body->end() || !decision->is_boolean()) {
                  return Error::invalid("http.bad_field", "grant", "grant is true or false");
                }
                auto reason = string_field(*body, "reason", false);
                if (!reason.ok()) return reason.take_error();
                auto by = department_of(request, directory);
                if (!by.ok()) return by.take_error();
                auto decided = catalog.decide(request.path_parameters.at("id"), decision->get<bool>(), *reason, *by);
                if (!decided.ok()) return decided.take_error();
                return grant_response(200, *decided);
              },
              {{"type", "object"},
               {"required", {"grant"}},
               {"properties", {{"grant", {{"type", "boolean"}}}, {"reason", {{"type", "string"}}}}}}});

  router.add({"POST", "/api/v1/catalog/grants/{id}/revoke", "catalog.grants",
              "The provider or the consumer ends a grant, with a reason.", "catalog",
              [&catalog, &directory](const Request& request) -> Result<Response> {
                auto body = request.json_body();
                if (!body.ok()) return body.take_error();
                ONEWINDOW_TRY(only_known_fields(*body, {"reason"}));
                auto reason = string_field(*body, "reason", true);
                if (!reason.ok()) return reason.take_error();
                auto by = department_of(request, directory);
                if (!by.ok()) return by.take_error();
                auto revoked = catalog.revoke(request.path_parameters.at("id"), *reason, *by);
                if (!revoked.ok()) return revoked.take_error();
                return grant_response(200, *revoked);
              },
              {{"type", "object"}, {"required", {"reason"}}, {"properties", {{"reason", {{"type", "string"}}}}}}});
}

}  // namespace onewindow::api

namespace onewindow::api {

void add_exchange_routes(Router& router, catalog::Exchange& exchange, catalog::Subscriptions& subscriptions,
                         identity::Directory& directory, Metrics& metrics) {
  // The consumer: the caller and its department.
  auto consumer_of = [&directory](const Request& request) -> Result<catalog::Consumer> {
    auto department = department_of(request, directory);
    if (!department.ok()) return department.take_error();
    return catalog::Consumer{department->account_id, department->key};
  };

  router.add({"POST", "/api/v1/exchange/resources/{id}/read", "exchange.read",
              "Reads records of a registry resource by key (1 to 100) through the caller's department's grant: only the "
              "granted items (all of them when items is empty). Every read is recorded first; the answer's receipt "
              "names its transparency-log entry and the SM3 hashes of the request and of the records.",
              "exchange",
              [&exchange, consumer_of](const Request& request) -> Result<Response> {
                auto body = request.json_body();
                if (!body.ok()) return body.take_error();
                ONEWINDOW_TRY(only_known_fields(*body, {"keys", "items"}));
                catalog::ReadRequest read;
                read.resource_id = request.path_parameters.at("id");
                auto keys = string_list(*body, "keys");
                if (!keys.ok()) return keys.take_error();
                read.keys = *keys;
                auto items = string_list(*body, "items");
                if (!items.ok()) return items.take_error();
                read.items = *items;
                auto consumer = consumer_of(request);
                if (!consumer.ok()) return consumer.take_error();
                auto answer = exchange.read(read, *consumer);
                if (!answer.ok()) return answer.take_error();
                return Response::json(200, *answer);
              },
              {{"type", "object"},
               {"required", {"keys"}},
               {"properties",
                {{"keys", {{"type", "array"}, {"items", {{"type", "string"}}}}},
                 {"items", {{"type", "array"}, {"items", {{"type", "string"}}}}}}}}});

  router.add({"GET", "/api/v1/exchange/resources/{id}/records/{key}", "exchange.read",
              "Reads one record of a registry resource through the caller's department's grant; ?items=a,b names "
              "the items (all granted ones when left out). The same receipt as a batch read.",
              "exchange",
              [&exchange, consumer_of](const Request& request) -> Result<Response> {
                catalog::ReadRequest read;
                read.resource_id = request.path_parameters.at("id");
                read.keys = {request.path_parameters.at("key")};
                if (auto items = request.query.find("items"); items != request.query.end()) {
                  std::string_view rest = items->second;
                  while (!rest.empty()) {
                    auto comma = rest.find(',');
                    read.items.emplace_back(rest.substr(0, comma));
                    rest = comma == std::string_view::npos ? std::string_view() : rest.substr(comma + 1);
                  }
                }
                auto consumer = consumer_of(request);
                if (!consumer.ok()) return consumer.take_error();
                auto answer = exchange.read(read, *consumer);
                if (!answer.ok()) return answer.take_error();
                return Response::json(200, *answer);
              }});

  router.add({"POST", "/api/v1/exchange/resources/{id}/bulk-read", "exchange.read",
              "Reads every record of a registry resource through the caller's department's grant, streamed as NDJSON "
              "(application/x-ndjson): a line {\"key\", \"fields\"} per record, then a receipt line naming the "
              "transparency-log entries of the read's beginning and end and the SM3 hashes of the request and of the "
              "record lines. A refusal is an ordinary error before anything is sent.",
              "exchange",
              [&exchange, consumer_of](const Request& request) -> Result<Response> {
                std::vector<std::string> items;
                if (!request.body.empty()) {
                  auto body = request.json_body();
                  if (!body.ok()) return body.take_error();
                  ONEWINDOW_TRY(only_known_fields(*body, {"items"}));
                  auto named = string_list(*body, "items");
                  if (!named.ok()) return named.take_error();
                  items = *named;
                }
                auto consumer = consumer_of(request);
                if (!consumer.ok()) return consumer.take_error();
                auto begun = exchange.begin_bulk_read(request.path_parameters.at("id"), items, *consumer);
                if (!begun.ok()) return begun.take_error();
                return Response::streamed("application/x-ndjson", [&exchange, read = *begun,
                                                                   request_id = request.request_id](const StreamWriter& write) {
                  Status done = exchange.run_bulk_read(read, write);
                  // Too late for a status code: the error is the last line, in the one envelope's shape.
                  if (!done.ok() && done.error().code != "exchange.client_gone") {
                    write(nlohmann::json{{"error", {{"code", done.error().code}, {"message", done.error().message},
                                                    {"request_id", request_id}}}}
                              .dump() +
                          "\n");
                  }
                });
              },
              {{"type", "object"}, {"properties", {{"items", {{"type", "array"}, {"items", {{"type", "string"}}}}}}}}});

  router.add({"POST", "/api/v1/exchange/subscriptions", "exchange.read",
              "Subscribes the caller's department to the changes of a registry resource it holds a grant for: "
              "resource (id or code), items (some of the granted ones; all when left out) and endpoint (an http:// "
              "or https:// URL to push to; left out, the department pulls). Events name the record and the items "
              "written, never their values.",
              "exchange",
              [&subscriptions, consumer_of](const Request& request) -> Result<Response> {
                auto body = request.json_body();
                if (!body.ok()) return body.take_error();
                ONEWINDOW_TRY(only_known_fields(*body, {"resource", "items", "endpoint"}));
                catalog::SubscriptionRequest subscription;
                auto resource = string_field(*body, "resource", true);
                if (!resource.ok()) return resource.take_error();
                subscription.resource_id = *resource;
                auto items = string_list(*body, "items");
                if (!items.ok()) return items.take_error();
                subscription.items = *items;
                auto endpoint = string_field(*body, "endpoint", false);
                if (!endpoint.ok()) return endpoint.take_error();
                subscription.endpoint = *endpoint;
                auto consumer = consumer_of(request);
                if (!consumer.ok()) return consumer.take_error();
                auto made = subscriptions.subscribe(subscription, *consumer);
                if (!made.ok()) return made.take_error();
                return Response::json(201, made->to_json());
              },
              {{"type", "object"},
               {"required", {"resource"}},
               {"properties",
                {{"resource", {{"type", "string"}}},
                 {"items", {{"type", "array"}, {"items", {{"type", "string"}}}}},
                 {"endpoint", {{"type", "string"}}}}}}});

  router.add({"GET", "/api/v1/exchange/subscriptions", "exchange.read",
              "The caller's department's subscriptions, newest first, each with its backlog (changes not yet "
              "delivered or acknowledged), failed attempts, last error and next attempt.",
              "exchange",
              [&subscriptions, consumer_of](const Request& request) -> Result<Response> {
                auto consumer = consumer_of(request);
                if (!consumer.ok()) return consumer.take_error();
                auto found = subscriptions.subscriptions_of(consumer->department_key);
                if (!found.ok()) return found.take_error();
                nlohmann::json list = nlohmann::json::array();
                for (const auto& subscription : *found) list.push_back(subscription.to_json());
                return Response::json(200, {{"subscriptions", list}});
              }});

  router.add({"GET", "/api/v1/exchange/subscriptions/{id}", "exchange.read",
              "A subscription of the caller's department, with its backlog.", "exchange",
              [&subscriptions, consumer_of](const Request& request) -> Result<Response> {
                auto consumer = consumer_of(request);
                if (!consumer.ok()) return consumer.take_error();
                auto found = subscriptions.subscription(request.path_parameters.at("id"), consumer->department_key);
                if (!found.ok()) return found.take_error();
                return Response::json(200, found->to_json());
              }});

  router.add({"DELETE", "/api/v1/exchange/subscriptions/{id}", "exchange.read",
              "Cancels a subscription of the caller's department: no more events are given or pushed.", "exchange",
              [&subscriptions, consumer_of](const Request& request) -> Result<Response> {
                auto consumer = consumer_of(request);
                if (!consumer.ok()) return consumer.take_error();
                auto cancelled = subscriptions.cancel(request.path_parameters.at("id"), *consumer);
                if (!cancelled.ok()) return cancelled.take_error();
                return Response::json(200, cancelled->to_json());
              }});

  router.add({"GET", "/api/v1/exchange/subscriptions/{id}/events", "exchange.read",
              "Pulls a subscription's events after ?after= (a change number: 0, or the next_cursor of the last "
              "page), at most ?limit= (1-1000, 100 by default). The cursor given counts as acknowledged. A page with "
              "events carries the receipt of the transparency-log entry recording what was handed over.",
              "exchange",
              [&subscriptions, consumer_of](const Request& request) -> Result<Response> {
                std::int64_t after = 0;
                if (auto given = request.query.find("after"); given != request.query.end()) {
                  const std::string& text = given->second;
                  auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), after);
                  if (error != std::errc() || end != text.data() + text.size()) {
                    return Error::invalid("http.bad_parameter", "after", "after must be a whole number");
                  }
                }
                auto limit = number_parameter(request, "limit", 100);
                if (!limit.ok()) return limit.take_error();
                auto consumer = consumer_of(request);
                if (!consumer.ok()) return consumer.take_error();
                auto page = subscriptions.events(request.path_parameters.at("id"), after, *limit, *consumer);
                if (!page.ok()) return page.take_error();
                return Response::json(200, *page);
              }});

  metrics.add_collector([&exchange, &subscriptions] {
    std::string out;
    auto counts = exchange.share_counts();
    const std::pair<const char*, std::int64_t catalog::Exchange::ShareCount::*> series[] = {
        {"reads", &catalog::Exchange::ShareCount::reads},
        {"bulk_reads", &catalog::Exchange::ShareCount::bulk_reads},
        {"records", &catalog::Exchange::ShareCount::records}};
    for (const auto& [name, member] : series) {
      std::string metric = std::string("onewindow_exchange_") + name + "_total";
      out += "# HELP " + metric + " Exchange " + name + " since the server started, by provider, consumer and resource.\n";
      out += "# TYPE " + metric + " counter\n";
      for (const auto& [key, count] : counts) {
        const auto& [provider, consumer, resource] = key;
        out += metric + "{provider=\"" + prometheus_label(provider) + "\",consumer=\"" + prometheus_label(consumer) +
               "\",resource=\"" + prometheus_label(resource) + "\"} " + std::to_string(count.*member) + "\n";
      }
    }
    if (auto grants = exchange.catalog().grant_counts(); grants.ok()) {
      out += "# HELP onewindow_catalog_grants Grants between departments, by status.\n";
      out += "# TYPE onewindow_catalog_grants gauge\n";
      for (const auto& [status, count] : grants->items()) {
        out += "onewindow_catalog_grants{status=\"" + prometheus_label(status) + "\"} " + count.dump() + "\n";
      }
    }
    if (auto backlog = exchange.index_backlog(); backlog.ok()) {
      out += "# HELP onewindow_exchange_read_index_backlog Log entries the index of reads by key (who read my data, "
             "share statistics) has not looked at yet.\n";
      out += "# TYPE onewindow_exchange_read_index_backlog gauge\n";
      out += "onewindow_exchange_read_index_backlog " + std::to_string(*backlog) + "\n";
    }
    if (auto active = subscriptions.subscriptions_of(""); active.ok()) {
      out += "# HELP onewindow_exchange_subscription_backlog Changes not yet delivered or acknowledged, by subscription.\n";
      out += "# TYPE onewindow_exchange_subscription_backlog gauge\n";
      for (const auto& subscription : *active) {
        out += "onewindow_exchange_subscription_backlog{subscription=\"" + prometheus_label(subscription.id) +
               "\",consumer=\"" + prometheus_label(subscription.consumer) + "\",resource=\"" +
               prometheus_label(subscription.resource_code) + "\",delivery=\"" +
               (subscription.endpoint.empty() ? "pull" : "push") + "\"} " + std::to_string(subscription.backlog) + "\n";
      }
    }
    return out;
  });

  router.add({"GET", "/api/v1/exchange/statistics", "exchange.statistics",
              "Share statistics: reads, bulk reads and records read per day (China Standard Time), provider, consumer "
              "and resource from ?from= to ?to= (YYYY-MM-DD, at most 367 days; the last 30 days by default), and the "
              "grants in each status.",
              "exchange",
              [&exchange](const Request& request) -> Result<Response> {
                Date to = local_date(std::chrono::system_clock::now());
                Date from = to.plus_days(-29);
                if (auto given = request.query.find("to"); given != request.query.end()) {
                  auto parsed = Date::parse(given->second, "to");
                  if (!parsed.ok()) return parsed.take_error();
                  to = *parsed;
                  from = to.plus_days(-29);
                }
                if (auto given = request.query.find("from"); given != request.query.end()) {
                  auto parsed = Date::parse(given->second, "from");
                  if (!parsed.ok()) return parsed.take_error();
                  from = *parsed;
                }
                auto statistics = exchange.statistics(from, to);
                if (!statistics.ok()) return statistics.take_error();
                return Response::json(200, *statistics);
              }});

  router.add({"GET", "/api/v1/me/data-reads", "exchange.own_reads",
              "Who read my data: every read of the caller's own record (a citizen's person record, an enterprise "
              "user's legal person) through the exchange: which department, when, which items, for what purpose "
              "and legal basis. Newest first, limit (1-1000, default 1000) a page; next_before, when not null, is "
              "the before of the next page.",
              "exchange",
              [&exchange](const Request& request) -> Result<Response> {
                const identity::Principal& principal = *request.principal;
                catalog::Exchange::ReadsPage page;
                auto limit = number_parameter<std::int64_t>(request, "limit", page.limit);
                if (!limit.ok()) return limit.take_error();
                auto before = number_parameter<std::int64_t>(request, "before", page.before);
                if (!before.ok()) return before.take_error();
                page = {*before, *limit};
                if (!principal.citizen_id.empty()) {
                  auto reads = exchange.reads_of("person", principal.citizen_id, page);
                  if (!reads.ok()) return reads.take_error();
                  return Response::json(200, *reads);
                }
                if (!principal.legal_person.empty()) {
                  auto reads = exchange.reads_of("legal_person", principal.legal_person, page);
                  if (!reads.ok()) return reads.take_error();
                  return Response::json(200, *reads);
                }
                return Error(ErrorKind::permission_denied, "exchange.no_own_record",
                             "only a citizen or an enterprise user has records of their own");
              }});
}

}  // namespace onewindow::api
