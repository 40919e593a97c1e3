// Subscriptions to registry changes, on SQLite and PostgreSQL: events only for changes after
// subscribing that wrote a subscribed item, with ids that stay the same; pulls by cursor; pushes
// retried with backoff until the endpoint answers, then recorded with the hash of what was sent;
// a hanging endpoint not holding up another; a grant that ends stopping the events; and the
// outbox left alone while nobody subscribes.
#include "catalog_fixture.h"
#include "crypto/crypto.h"
#include "http_receiver.h"

#include <thread>

namespace onewindow::catalog {
namespace {

using onewindow::testing::HttpReceiver;

constexpr const char* person_id = "360426199101010071";

class SubscriptionsTest : public ::testing::TestWithParam<store::Backend> {
 protected:
  static std::vector<store::Migration> migrations() {
    std::vector<store::Migration> all = audit::TransparencyLog::migrations();
    for (auto* module : {&registry::Registries::migrations, &Catalog::migrations, &Exchange::migrations,
                         &Subscriptions::migrations}) {
      for (auto& migration : (*module)()) all.push_back(migration);
    }
    return all;
  }

  void SetUp() override {
    data_.load();
    ASSERT_FALSE(HasFatalFailure());
    definitions_.emplace(*data_.registries);
    auto divisions = DivisionCodes::load(testing::config_dir() / "divisions.yaml");
    ASSERT_TRUE(divisions.ok());
    divisions_.emplace(std::move(divisions).value());
    configuration_.emplace(*data_.configuration);
    log_ = std::make_unique<audit::TransparencyLog>(*database_, *crypto::PrivateKey::generate(), clock_);
    registries_ = std::make_unique<registry::Registries>(*database_, *log_, *definitions_, *divisions_, clock_);
    ASSERT_TRUE(registries_->prepare().ok());
    catalog_ = std::make_unique<Catalog>(*database_, *log_, *configuration_, data_.department_codes, clock_);
    ASSERT_TRUE(catalog_->publish_registries(*definitions_).ok());
    DeliveryOptions options;
    options.threads = 2;
    options.timeout = std::chrono::milliseconds(20000);
    options.idle_poll = std::chrono::milliseconds(20);
    subscriptions_ = std::make_unique<Subscriptions>(*database_, *log_, *catalog_, clock_, options);
    registries_->add_change_listener(subscriptions_->change_listener());

    write({{"name", "张三"}, {"sex", "1"}, {"birth_date", "1991-01-01"}, {"phone", "13812345678"}});
    auto listed = catalog_->search({"", "", "", std::nullopt, 50, 0});
    ASSERT_TRUE(listed.ok());
    for (const auto& listing : (*listed)["resources"]) {
      if (listing.value("registry", "") == "person") person_resource_ = listing["id"];
    }
    auto requested = catalog_->request_grant({person_resource_, {"name", "phone", "birth_date"}, "社保登记 enrolment",
                                              "《社会保险法》第五十八条", "2027-12-31"},
                                             tax_);
    ASSERT_TRUE(requested.ok()) << requested.error().message;
    auto decided = catalog_->decide(requested->id, true, "", {"acc_police", "police", ""});
    ASSERT_TRUE(decided.ok()) << decided.error().message;
    grant_ = decided->id;
  }

  void write(const nlohmann::json& fields, const std::string& key = person_id) {
    auto written = registries_->write("person", key, fields, "登记", {"acc_police", "police"});
    ASSERT_TRUE(written.ok()) << written.error().code << ": " << written.error().message;
  }

  Subscription subscribe(std::vector<std::string> items, std::string endpoint = "") {
    auto made = subscriptions_->subscribe({person_resource_, std::move(items), std::move(endpoint)}, consumer_);
    EXPECT_TRUE(made.ok()) << made.error().code << ": " << made.error().message;
    return made.ok() ? *made : Subscription{};
  }

  std::int64_t outbox_rows() {
    std::int64_t rows = -1;
    EXPECT_TRUE(database_
                    ->read([&](store::Session& session) -> Status {
                      auto row = session.query_one("SELECT COUNT(*) FROM exchange_change");
                      if (!row.ok()) return row.take_error();
                      rows = (**row).integer(0);
                      return ok_status();
                    })
                    .ok());
    return rows;
  }

  // Every entry of the log, as its JSON.
  std::vector<nlohmann::json> entries() {
    std::vector<nlohmann::json> all;
    for (std::int64_t index = 0; index < *log_->size(); ++index) all.push_back(nlohmann::json::parse(log_->entry(index)->content));
    return all;
  }

  // Every event id of the bodies, in order.
  static std::vector<std::string> event_ids(const std::vector<std::string>& bodies) {
    std::vector<std::string> ids;
    for (const auto& body : bodies) {
      nlohmann::json batch = nlohmann::json::parse(body);
      for (const auto& event : batch["events"]) ids.push_back(event["id"]);
    }
    return ids;
  }

  testing::TestDatabase database_{GetParam(), migrations()};
  ManualClock clock_{Date(2026, 11, 23)};
  CatalogData data_;
  std::optional<registry::RegistryCatalog> definitions_;
  std::optional<DivisionCodes> divisions_;
  std::optional<CatalogConfiguration> configuration_;
  std::unique_ptr<audit::TransparencyLog> log_;
  std::unique_ptr<registry::Registries> registries_;
  std::unique_ptr<Catalog> catalog_;
  std::unique_ptr<Subscriptions> subscriptions_;
  std::string person_resource_;
  std::string grant_;
  const Department tax_{"acc_tax", "tax", ""};
  const Consumer consumer_{"acc_tax", "tax"};
};

TEST_P(SubscriptionsTest, PullGivesTheChangesAfterSubscribingOfSubscribedItemsWithIdsThatStay) {
  EXPECT_EQ(outbox_rows(), 0) << "nobody subscribed: the writes so far left the outbox alone";
  Subscription subscription = subscribe({"name", "phone"});
  EXPECT_EQ(subscription.items, (std::vector<std::string>{"name", "phone"}));
  EXPECT_EQ(subscription.backlog, 0);

  write({{"phone", "13900000000"}});
  write({{"sex", "2"}});  // not subscribed: no event, though the change is in the outbox
  write({{"name", "张三丰"}, {"birth_date", "1991-01-02"}});
  auto shown = subscriptions_->subscription(subscription.id, "tax");
  ASSERT_TRUE(shown.ok());
  EXPECT_EQ(shown->backlog, 3);

  auto page = subscriptions_->events(subscription.id, 0, 100, consumer_);
  ASSERT_TRUE(page.ok()) << page.error().message;
  const auto& events = (*page)["events"];
  ASSERT_EQ(events.size(), 2u) << page->dump();
  EXPECT_EQ(events[0]["key"], person_id);
  EXPECT_EQ(events[0]["items"], nlohmann::json::array({"phone"}));
  EXPECT_EQ(events[1]["items"], nlohmann::json::array({"name"})) << "birth_date is granted but not subscribed";
  EXPECT_EQ(events[0]["id"], subscription.id + "." + std::to_string(subscription.start + 1));
  EXPECT_EQ(events[1]["id"], subscription.id + "." + std::to_string(subscription.start + 3));
  EXPECT_FALSE(events[0].contains("fields")) << "events name items, never values";
  EXPECT_EQ((*page)["next_cursor"], subscription.start + 3);
  EXPECT_TRUE(page->contains("receipt"));

  // The same cursor again gives the same events, ids and all; the next cursor gives none.
  auto again = subscriptions_->events(subscription.id, 0, 100, consumer_);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ((*again)["events"], events);
  auto next = subscriptions_->events(subscription.id, (*page)["next_cursor"], 100, consumer_);
  ASSERT_TRUE(next.ok());
  EXPECT_TRUE((*next)["events"].empty());
  EXPECT_FALSE(next->contains("receipt")) << "an empty page records nothing";
  EXPECT_EQ(subscriptions_->subscription(subscription.id, "tax")->backlog, 0) << "the cursor given was acknowledged";

  // A page of one change at a time walks the same events.
  auto first = subscriptions_->events(subscription.id, 0, 1, consumer_);
  ASSERT_TRUE(first.ok());
  EXPECT_EQ((*first)["events"].size(), 1u);
  EXPECT_EQ((*first)["next_cursor"], subscription.start + 1);

  int reads = 0;
  for (const auto& entry : entries()) reads += entry["action"] == "exchange.events_read" ? 1 : 0;
  EXPECT_EQ(reads, 3) << "each page with events is recorded";
}

TEST_P(SubscriptionsTest, APushIsRetriedWithBackoffUntilTheEndpointAnswersThenRecorded) {
  int port = testing::free_port();
  Subscription subscription = subscribe({}, "http://127.0.0.1:" + std::to_string(port) + "/events");
  EXPECT_EQ(subscription.items, (std::vector<std::string>{"name", "phone", "birth_date"})) << "all the grant covers";
  for (int i = 0; i < 3; ++i) write({{"phone", "1390000000" + std::to_string(i)}});

  // Nobody listens: the attempt fails, the events wait, and the next try is a backoff away.
  auto delivered = subscriptions_->deliver_due();
  ASSERT_TRUE(delivered.ok()) << delivered.error().message;
  EXPECT_EQ(*delivered, 0);
  auto failed = subscriptions_->subscription(subscription.id, "tax");
  ASSERT_TRUE(failed.ok());
  EXPECT_EQ(failed->attempts, 1);
  EXPECT_EQ(failed->backlog, 3);
  EXPECT_NE(failed->last_error, "");
  EXPECT_GT(failed->next_attempt_at, format_timestamp(clock_.now()));

  HttpReceiver receiver(port);
  EXPECT_EQ(*subscriptions_->deliver_due(), 0) << "not due before its backoff ends";
  EXPECT_EQ(receiver.requests(), 0);
  clock_.advance(std::chrono::seconds(1));
  receiver.set_mode(HttpReceiver::Mode::refuse);
  EXPECT_EQ(*subscriptions_->deliver_due(), 0);
  auto refused = subscriptions_->subscription(subscription.id, "tax");
  EXPECT_EQ(refused->attempts, 2);
  EXPECT_EQ(refused->last_error, "the endpoint answered HTTP 503");
  EXPECT_GE(refused->next_attempt_at, format_timestamp(clock_.now() + std::chrono::seconds(2))) << "the backoff doubles";

  receiver.set_mode(HttpReceiver::Mode::accept);
  clock_.advance(std::chrono::seconds(2));
  EXPECT_EQ(*subscriptions_->deliver_due(), 1);
  auto done = subscriptions_->subscription(subscription.id, "tax");
  EXPECT_EQ(done->backlog, 0);
  EXPECT_EQ(done->attempts, 0);
  EXPECT_EQ(done->last_error, "");
  ASSERT_EQ(receiver.accepted().size(), 1u);
  EXPECT_EQ(event_ids(receiver.accepted()),
            (std::vector<std::string>{subscription.id + "." + std::to_string(subscription.start + 1),
                                      subscription.id + "." + std::to_string(subscription.start + 2),
                                      subscription.id + "." + std::to_string(subscription.start + 3)}));
  EXPECT_EQ(event_ids(receiver.bodies()).size(), 6u) << "the refused batch was the same three events";
  EXPECT_EQ(receiver.bodies()[0], receiver.bodies()[1]) << "a batch sent again is the same batch";

  // The delivery is recorded with the SM3 of exactly what was sent.
  nlohmann::json last = entries().back();
  EXPECT_EQ(last["action"], "exchange.delivered");
  EXPECT_EQ(last["details"]["body_hash"], crypto::to_hex(crypto::sm3(receiver.accepted()[0])));
  EXPECT_EQ(last["details"]["events"], 3);
  EXPECT_EQ(*subscriptions_->deliver_due(), 0) << "nothing left";
}

TEST_P(SubscriptionsTest, AHangingEndpointDoesNotHoldUpAnother) {
  int hanging_port = testing::free_port();
  HttpReceiver hanging(hanging_port, HttpReceiver::Mode::hang);
  int good_port = testing::free_port();
  HttpReceiver good(good_port);
  subscribe({"phone"}, "http://127.0.0.1:" + std::to_string(hanging_port) + "/");
  Subscription live = subscribe({"phone"}, "http://127.0.0.1:" + std::to_string(good_port) + "/");
  subscriptions_->start_delivery();
  for (int i = 0; i < 5; ++i) {
    write({{"phone", "1370000000" + std::to_string(i)}});
    // The hanging endpoint holds a thread for its whole timeout (20 s); the other one's events
    // still arrive, each write's soon after it.
    for (int waited = 0; waited < 500 && event_ids(good.accepted()).size() < static_cast<std::size_t>(i + 1); ++waited) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
  }
  EXPECT_EQ(event_ids(good.accepted()).size(), 5u);
  EXPECT_EQ(hanging.requests(), 1) << "one POST, still waiting for its answer";
  auto stopping = std::chrono::steady_clock::now();
  subscriptions_->stop_delivery();
  EXPECT_LT(std::chrono::steady_clock::now() - stopping, std::chrono::seconds(10))
      << "stopping gives up the hanging POST instead of waiting out its timeout";
  EXPECT_EQ(subscriptions_->subscription(live.id, "tax")->backlog, 0);
}

TEST_P(SubscriptionsTest, AGrantThatEndsStopsTheEvents) {
  int port = testing::free_port();
  HttpReceiver receiver(port);
  Subscription pulled = subscribe({"phone"});
  Subscription pushed = subscribe({"phone"}, "http://127.0.0.1:" + std::to_string(port) + "/");
  ASSERT_TRUE(catalog_->revoke(grant_, "no longer needed", {"acc_police", "police", ""}).ok());
  write({{"phone", "13600000000"}});
  auto page = subscriptions_->events(pulled.id, 0, 100, consumer_);
  ASSERT_FALSE(page.ok());
  EXPECT_EQ(page.error().code, "catalog.no_grant");
  EXPECT_EQ(*subscriptions_->deliver_due(), 0);
  EXPECT_EQ(receiver.requests(), 0);
  auto waiting = subscriptions_->subscription(pushed.id, "tax");
  EXPECT_EQ(waiting->backlog, 1);
  EXPECT_EQ(waiting->last_error.rfind("catalog.no_grant", 0), 0u) << waiting->last_error;
}

TEST_P(SubscriptionsTest, BulkWritesAreEventsTooAndCancellingStopsTheOutbox) {
  Subscription subscription = subscribe({"phone"});
  const registry::RegistryDefinition& person = **registries_->definition("person");
  Status written = database_->write([&](store::Session& session) -> Status {
    auto receipt = registries_->write_batch(session, person, {person.field("phone")},
                                            {{2, person_id, {"13500000000"}}, {3, "110101199003070012", {"13500000001"}}},
                                            "批量", {"acc_police", "police"}, nlohmann::json::object());
    if (!receipt.ok()) return receipt.take_error();
    EXPECT_EQ(receipt->rejected.size(), 1u) << "the second record does not exist and lacks its required fields";
    return ok_status();
  });
  ASSERT_TRUE(written.ok()) << written.error().message;
  auto page = subscriptions_->events(subscription.id, 0, 100, consumer_);
  ASSERT_TRUE(page.ok());
  ASSERT_EQ((*page)["events"].size(), 1u) << "the row written, not the one refused";
  EXPECT_EQ((*page)["events"][0]["created"], false);

  std::int64_t rows = outbox_rows();
  ASSERT_TRUE(subscriptions_->cancel(subscription.id, consumer_).ok());
  write({{"phone", "13400000000"}});
  EXPECT_EQ(outbox_rows(), rows) << "no active subscription: nothing more in the outbox";
  auto cancelled = subscriptions_->events(subscription.id, 0, 100, consumer_);
  ASSERT_FALSE(cancelled.ok());
  EXPECT_EQ(cancelled.error().code, "catalog.subscription_cancelled");
  EXPECT_EQ(subscriptions_->cancel(subscription.id, consumer_).error().code, "catalog.subscription_cancelled");
}

TEST_P(SubscriptionsTest, BadSubscriptionsNameTheField) {
  struct Case {
    std::string what;
    SubscriptionRequest request;
    Consumer consumer;
    std::string code;
    std::string field;
  };
  const Consumer market{"acc_market", "market"};
  std::vector<Case> cases = {
      {"an endpoint of another scheme", {person_resource_, {}, "ftp://example.org/"}, consumer_, "http_client.bad_url", "endpoint"},
      {"an endpoint with no host", {person_resource_, {}, "http:///x"}, consumer_, "http_client.bad_url", "endpoint"},
      {"an item not granted", {person_resource_, {"sex"}, ""}, consumer_, "catalog.item_not_granted", "items"},
      {"an item the resource lacks", {person_resource_, {"shoe_size"}, ""}, consumer_, "catalog.unknown_item", "items"},
      {"a department without a grant", {person_resource_, {}, ""}, market, "catalog.no_grant", ""},
      {"no such resource", {"res_nothing", {}, ""}, consumer_, "catalog.resource_not_found", ""},
  };
  for (const auto& test : cases) {
    auto made = subscriptions_->subscribe(test.request, test.consumer);
    ASSERT_FALSE(made.ok()) << test.what;
    EXPECT_EQ(made.error().code, test.code) << test.what;
    if (!test.field.empty()) EXPECT_EQ(made.error().details.value("field", ""), test.field) << test.what;
  }
  Subscription subscription = subscribe({});
  EXPECT_EQ(subscriptions_->events(subscription.id, 0, 0, consumer_).error().code, "catalog.bad_field");
  EXPECT_EQ(subscriptions_->events(subscription.id, -1, 10, consumer_).error().code, "catalog.bad_field");
  EXPECT_EQ(subscriptions_->subscription(subscription.id, "market").error().code, "catalog.subscription_not_found")
      << "another department may not learn that it exists";
}

INSTANTIATE_TEST_SUITE_P(Backends, SubscriptionsTest, ::testing::Values(store::Backend::sqlite, store::Backend::postgresql),
                         [](const auto& info) { return std::string(store::backend_name(info.param)); });

}  // namespace
}  // namespace onewindow::catalog
