// The exchange, on SQLite and PostgreSQL: reads through grants return the granted items only,
// clear under a conditional grant and masked under an unconditional one; no grant, an expired
// grant or an item not granted is refused naming what is missing; every read's request and answer
// hashes are proven by an inclusion proof under a signed tree head, whose signature the openssl
// command line checks; the person read sees exactly the reads made; and reads made at once from
// several threads are each recorded before they are answered, one that cannot be recorded failing
// alone.
#include "catalog_fixture.h"

#include <condition_variable>
#include <mutex>
#include <set>
#include <thread>

namespace onewindow::catalog {
namespace {

constexpr const char* person_id = "360426199101010071";
constexpr const char* enterprise_code = "91110000600037341L";

class ExchangeTest : public ::testing::TestWithParam<store::Backend> {
 protected:
  static std::vector<store::Migration> migrations() {
    std::vector<store::Migration> all = audit::TransparencyLog::migrations();
    for (auto* module : {&registry::Registries::migrations, &Catalog::migrations, &Exchange::migrations}) {
      for (auto& migration : (*module)()) all.push_back(migration);
    }
    return all;
  }

  void SetUp() override {
    data_.load();
    ASSERT_FALSE(HasFatalFailure());
    std::map<std::string, std::string>& codes = data_.department_codes;
    definitions_.emplace(*data_.registries);
    auto divisions = DivisionCodes::load(testing::config_dir() / "divisions.yaml");
    ASSERT_TRUE(divisions.ok());
    divisions_.emplace(std::move(divisions).value());
    configuration_.emplace(*data_.configuration);
    log_ = std::make_unique<audit::TransparencyLog>(*database_, *crypto::PrivateKey::generate(), clock_);
    registries_ = std::make_unique<registry::Registries>(*database_, *log_, *definitions_, *divisions_, clock_);
    ASSERT_TRUE(registries_->prepare().ok());
    catalog_ = std::make_unique<Catalog>(*database_, *log_, *configuration_, codes, clock_);
    ASSERT_TRUE(catalog_->publish_registries(*definitions_).ok());
    exchange_ = std::make_unique<Exchange>(*database_, *log_, *catalog_, *registries_, clock_);

    ASSERT_TRUE(registries_
                    ->write("person", person_id,
                            {{"name", "张三"}, {"sex", "1"}, {"birth_date", "1991-01-01"}, {"phone", "13812345678"}},
                            "出生登记", {"acc_police", "police"})
                    .ok());
    auto enterprise = registries_->write("legal_person", enterprise_code,
                                         {{"name", "青岛示范有限公司"},
                                          {"entity_type", "limited_liability_company"},
                                          {"legal_representative", "李四"},
                                          {"legal_representative_id", person_id},
                                          {"address", "山东省青岛市莱西市烟台路1号"},
                                          {"division", "370285"},
                                          {"establishment_date", "2020-05-01"},
                                          {"status", "active"}},
                                         "设立登记", {"acc_market", "market"});
    ASSERT_TRUE(enterprise.ok()) << enterprise.error().code << ": " << enterprise.error().message;
    auto listed = catalog_->search({"", "", "", std::nullopt, 50, 0});
    ASSERT_TRUE(listed.ok()) << listed.error().message;
    for (const auto& listing : (*listed)["resources"]) {
      resources_[listing.value("registry", "")] = listing["id"].get<std::string>();
    }
    ASSERT_EQ(resources_.size(), 2u) << listed->dump();
  }

  Grant grant(const std::string& registry, const std::string& consumer, std::vector<std::string> items,
              const std::string& expires_on = "2027-12-31") {
    auto requested = catalog_->request_grant(
        {resources_.at(registry), std::move(items), "核验身份 identity check", "《政务信息资源共享管理暂行办法》第十条", expires_on},
        {"acc_" + consumer, consumer, ""});
    EXPECT_TRUE(requested.ok()) << requested.error().message;
    if (requested->status == "pending") {
      auto provider = registry == "person" ? "police" : "market";
      auto decided = catalog_->decide(requested->id, true, "", {"acc_" + std::string(provider), provider, ""});
      EXPECT_TRUE(decided.ok());
      return *decided;
    }
    return *requested;
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
  std::unique_ptr<Exchange> exchange_;
  std::map<std::string, std::string> resources_;
  testing::TemporaryDirectory directory_;
};

TEST_P(ExchangeTest, AReadReturnsOnlyTheGrantedItemsClearOrMasked) {
  Consumer civil{"acc_civil", "civil"};
  auto refused = exchange_->read({resources_.at("person"), {person_id}, {"name"}}, civil);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().kind, ErrorKind::permission_denied);
  EXPECT_EQ(refused.error().code, "catalog.no_grant");

  // Conditional, approved by public security: the items as stored.
  grant("person", "civil", {"name", "birth_date"});
  auto read = exchange_->read({resources_.at("person"), {person_id, "44011320141005001X"}, {}}, civil);
  ASSERT_TRUE(read.ok()) << read.error().message;
  EXPECT_EQ((*read)["records"][0]["fields"], (nlohmann::json{{"name", "张三"}, {"birth_date", "1991-01-01"}}));
  EXPECT_EQ((*read)["records"][1]["error"], "registry.record_not_found");
  auto phone = exchange_->read({resources_.at("person"), {person_id}, {"name", "phone"}}, civil);
  ASSERT_FALSE(phone.ok());
  EXPECT_EQ(phone.error().code, "catalog.item_not_granted");
  EXPECT_EQ(phone.error().details["item"], "phone");

  // Unconditional: personal and sensitive items masked as the registry masks them.
  Consumer tax{"acc_tax", "tax"};
  grant("legal_person", "tax", {"name", "legal_representative_id"});
  auto enterprise = exchange_->read({resources_.at("legal_person"), {enterprise_code}, {}}, tax);
  ASSERT_TRUE(enterprise.ok()) << enterprise.error().message;
  EXPECT_EQ((*enterprise)["records"][0]["fields"]["name"], "青岛示范有限公司");
  EXPECT_EQ((*enterprise)["records"][0]["fields"]["legal_representative_id"], "360426********0071");
  EXPECT_FALSE((*enterprise)["records"][0]["fields"].contains("legal_representative"));

  // Expired: refused the day after its last day.
  grant("person", "health", {"name"}, "2026-11-30");
  clock_.set(local_day_start(Date(2026, 12, 1)) + std::chrono::hours(9));
  EXPECT_EQ(exchange_->read({resources_.at("person"), {person_id}, {"name"}}, {"acc_health", "health"}).error().code,
            "catalog.grant_expired");
}

TEST_P(ExchangeTest, AReadIsProvenByItsLogEntryUnderASignedTreeHead) {
  grant("person", "civil", {"name", "sex"});
  auto read = exchange_->read({resources_.at("person"), {person_id}, {"name"}}, {"acc_civil", "civil"});
  ASSERT_TRUE(read.ok()) << read.error().message;
  const nlohmann::json& receipt = (*read)["receipt"];
  // The consumer recomputes both hashes from what it asked and what it got.
  nlohmann::json asked = {{"resource", (*read)["resource"]}, {"consumer", "civil"}, {"keys", {person_id}}, {"items", {"name"}}};
  EXPECT_EQ(receipt["request_hash"], crypto::to_hex(crypto::sm3(*audit::canonical_json(asked))));
  EXPECT_EQ(receipt["response_hash"], crypto::to_hex(crypto::sm3(*audit::canonical_json((*read)["records"]))));

  std::int64_t index = receipt["log_index"];
  auto entry = log_->entry(index);
  ASSERT_TRUE(entry.ok());
  auto content = nlohmann::json::parse(entry->content);
  EXPECT_EQ(content["action"], "exchange.read");
  EXPECT_EQ(content["details"]["request_hash"], receipt["request_hash"]);
  EXPECT_EQ(content["details"]["response_hash"], receipt["response_hash"]);
  EXPECT_EQ(content["basis"], "《政务信息资源共享管理暂行办法》第十条");
  // The details are written as text rather than built as an object: still the canonical form.
  EXPECT_EQ(audit::canonical_json(content).value(), entry->content);
  EXPECT_EQ(content["details"]["consumer"], "civil");
  EXPECT_EQ(content["details"]["grant"], (*read)["grant"]);
  EXPECT_EQ(content["details"]["items"], nlohmann::json({"name"}));
  EXPECT_EQ(content["details"]["keys"], nlohmann::json({person_id}));
  EXPECT_EQ(content["details"]["purpose"], "核验身份 identity check");
  EXPECT_EQ(content["details"]["resource"], (*read)["resource"]);
  EXPECT_EQ(content["details"]["registry"], "person");
  EXPECT_FALSE(content["details"].contains("missing")) << "every key named has its record";
  EXPECT_EQ(content["actor"], "acc_civil");

  // A key with no record is named as missing, in the entry's canonical form still.
  auto partly = exchange_->read({resources_.at("person"), {"44011320141005001X", person_id, "34052419800101001X"}, {"name"}},
                                {"acc_civil", "civil"});
  ASSERT_TRUE(partly.ok()) << partly.error().message;
  auto partly_entry = log_->entry((*partly)["receipt"]["log_index"].get<std::int64_t>());
  ASSERT_TRUE(partly_entry.ok());
  auto partly_content = nlohmann::json::parse(partly_entry->content);
  EXPECT_EQ(partly_content["details"]["missing"], nlohmann::json({"44011320141005001X", "34052419800101001X"}));
  EXPECT_EQ(audit::canonical_json(partly_content).value(), partly_entry->content);

  auto head = log_->sign_tree_head();
  ASSERT_TRUE(head.ok());
  auto proof = log_->inclusion_proof(index, head->tree_size);
  ASSERT_TRUE(proof.ok());
  EXPECT_TRUE(audit::verify_inclusion(index, head->tree_size, audit::leaf_hash(entry->content), *proof, head->root_hash).ok());
  directory_.write("message", head->signed_message());
  directory_.write("signature", std::string(head->signature.begin(), head->signature.end()));
  directory_.write("public.pem", log_->public_key().to_pem().value());
  auto verified = testing::run_command("cd " + directory_.path().string() +
                                       " && openssl pkeyutl -verify -pubin -inkey public.pem -sigfile signature -rawin "
                                       "-digest sm3 -pkeyopt distid:1234567812345678 -in message");
  EXPECT_EQ(verified.exit_code, 0) << verified.output;
  EXPECT_NE(verified.output.find("Signature Verified Successfully"), std::string::npos) << verified.output;
}

TEST_P(ExchangeTest, ThePersonReadSeesExactlyTheReadsMade) {
  EXPECT_TRUE((*exchange_->reads_of("person", person_id))["reads"].empty());
  grant("person", "civil", {"name", "birth_date"});
  grant("person", "hrss", {"name"});
  ASSERT_TRUE(exchange_->read({resources_.at("person"), {person_id}, {"name"}}, {"acc_civil", "civil"}).ok());
  clock_.advance(std::chrono::minutes(5));
  ASSERT_TRUE(exchange_->read({resources_.at("person"), {person_id}, {"name"}}, {"acc_hrss", "hrss"}).ok());
  // A refused read is no read, and a read of another record is not this person's.
  EXPECT_FALSE(exchange_->read({resources_.at("person"), {person_id}, {"phone"}}, {"acc_hrss", "hrss"}).ok());
  ASSERT_TRUE(exchange_->read({resources_.at("person"), {"44011320141005001X"}, {"name"}}, {"acc_civil", "civil"}).ok());

  auto reads = exchange_->reads_of("person", person_id);
  ASSERT_TRUE(reads.ok());
  ASSERT_EQ((*reads)["reads"].size(), 2u) << reads->dump();
  EXPECT_EQ((*reads)["reads"][0]["department"], "hrss");
  EXPECT_EQ((*reads)["reads"][1]["department"], "civil");
  EXPECT_EQ((*reads)["reads"][1]["items"], nlohmann::json({"name"}));
  EXPECT_EQ((*reads)["reads"][1]["purpose"], "核验身份 identity check");
  EXPECT_EQ((*reads)["reads"][1]["legal_basis"], "《政务信息资源共享管理暂行办法》第十条");
  EXPECT_EQ((*exchange_->reads_of("person", "360426199101010071"))["reads"].size(), 2u);
}

// Pages of who-read-my-data, a bulk read among the reads, together are the whole list, in order,
// each read once.
TEST_P(ExchangeTest, WhoReadMyDataComesAPageAtATime) {
  grant("person", "civil", {"name"});
  grant("person", "hrss", {"name"});
  for (int i = 0; i < 7; ++i) {
    clock_.advance(std::chrono::minutes(1));
    ASSERT_TRUE(exchange_->read({resources_.at("person"), {person_id}, {"name"}}, {"acc_civil", "civil"}).ok());
    if (i == 3) {
      auto begun = exchange_->begin_bulk_read(resources_.at("person"), {"name"}, {"acc_hrss", "hrss"});
      ASSERT_TRUE(begun.ok()) << begun.error().message;
      ASSERT_TRUE(exchange_->run_bulk_read(*begun, [](std::string_view) { return true; }).ok());
    }
  }
  auto whole = exchange_->reads_of("person", person_id);
  ASSERT_TRUE(whole.ok());
  ASSERT_EQ((*whole)["reads"].size(), 8u) << whole->dump();
  EXPECT_TRUE((*whole)["next_before"].is_null());
  for (std::int64_t limit : {1, 2, 3, 8}) {
    nlohmann::json seen = nlohmann::json::array();
    Exchange::ReadsPage page{std::numeric_limits<std::int64_t>::max(), limit};
    for (int pages = 0; pages < 20; ++pages) {
      auto part = exchange_->reads_of("person", person_id, page);
      ASSERT_TRUE(part.ok()) << part.error().message;
      EXPECT_LE((*part)["reads"].size(), static_cast<std::size_t>(limit));
      for (const auto& read : (*part)["reads"]) seen.push_back(read);
      if ((*part)["next_before"].is_null()) break;
      page.before = (*part)["next_before"].get<std::int64_t>();
    }
    EXPECT_EQ(seen, (*whole)["reads"]) << "limit " << limit;
  }
  EXPECT_EQ(std::count_if((*whole)["reads"].begin(), (*whole)["reads"].end(),
                          [](const nlohmann::json& read) { return read["bulk"] == true; }),
            1);
  for (auto [page, field] : {std::pair{Exchange::ReadsPage{10, 0}, "limit"}, {Exchange::ReadsPage{10, 1001}, "limit"},
                             {Exchange::ReadsPage{-1, 10}, "before"}}) {
    auto refused = exchange_->reads_of("person", person_id, page);
    ASSERT_FALSE(refused.ok());
    EXPECT_EQ(refused.error().code, "catalog.bad_field");
    EXPECT_EQ(refused.error().details.value("field", ""), field);
  }
}

TEST_P(ExchangeTest, ShareStatisticsCountReadsAndRecordsByDayConsumerAndResource) {
  grant("person", "civil", {"name"});
  grant("person", "hrss", {"name"});
  Consumer civil{"acc_civil", "civil"};
  ASSERT_TRUE(exchange_->read({resources_.at("person"), {person_id, "44011320141005001X"}, {"name"}}, civil).ok());
  ASSERT_TRUE(exchange_->read({resources_.at("person"), {person_id}, {"name"}}, civil).ok());
  // 01:00 China Standard Time on the 24th, still the 23rd in UTC: the day counted is the 24th.
  clock_.set(local_day_start(Date(2026, 11, 24)) + std::chrono::hours(1));
  ASSERT_TRUE(exchange_->read({resources_.at("person"), {person_id}, {"name"}}, {"acc_hrss", "hrss"}).ok());
  auto begun = exchange_->begin_bulk_read(resources_.at("person"), {"name"}, {"acc_hrss", "hrss"});
  ASSERT_TRUE(begun.ok());
  ASSERT_TRUE(exchange_->run_bulk_read(*begun, [](std::string_view) { return true; }).ok());

  auto statistics = exchange_->statistics(Date(2026, 11, 23), Date(2026, 11, 24));
  ASSERT_TRUE(statistics.ok()) << statistics.error().message;
  auto rows = (*statistics)["reads"];
  ASSERT_EQ(rows.size(), 2u) << statistics->dump();
  EXPECT_EQ(rows[0]["day"], "2026-11-23");
  EXPECT_EQ(rows[0]["consumer"], "civil");
  EXPECT_EQ(rows[0]["provider"], "police");
  EXPECT_EQ(rows[0]["reads"], 2);
  EXPECT_EQ(rows[0]["records"], 2) << "the key with no record is not a record read";
  EXPECT_EQ(rows[1]["day"], "2026-11-24");
  EXPECT_EQ(rows[1]["reads"], 1);
  EXPECT_EQ(rows[1]["bulk_reads"], 1);
  EXPECT_EQ(rows[1]["records"], 2) << "one by key and one in bulk";
  EXPECT_EQ((*statistics)["grants"]["granted"], 2);
  EXPECT_EQ((*statistics)["grants"]["pending"], 0);
  EXPECT_TRUE((*exchange_->statistics(Date(2026, 11, 25), Date(2026, 11, 30)))["reads"].empty());
  EXPECT_EQ(exchange_->statistics(Date(2026, 11, 25), Date(2026, 11, 24)).error().details["field"], "to");
  EXPECT_EQ(exchange_->statistics(Date(2025, 1, 1), Date(2026, 11, 24)).error().details["field"], "to");
}

TEST_P(ExchangeTest, BadReadsNameTheField) {
  Consumer civil{"acc_civil", "civil"};
  grant("person", "civil", {"name"});
  EXPECT_EQ(exchange_->read({resources_.at("person"), {}, {"name"}}, civil).error().details["field"], "keys");
  EXPECT_EQ(exchange_->read({resources_.at("person"), std::vector<std::string>(101, person_id), {"name"}}, civil).error().details["field"],
            "keys");
  EXPECT_EQ(exchange_->read({resources_.at("person"), {person_id}, {"shoe_size"}}, civil).error().code, "catalog.unknown_item");
  EXPECT_EQ(exchange_->read({"res_nothing", {person_id}, {"name"}}, civil).error().code, "catalog.resource_not_found");
  std::int64_t logged = *log_->size();
  EXPECT_FALSE(exchange_->read({resources_.at("person"), {person_id}, {"birth_date"}}, civil).ok());
  EXPECT_EQ(*log_->size(), logged) << "a refused read answers nothing and records nothing";
}

// Holds the database's writer (on SQLite; PostgreSQL writers do not wait for each other) until
// release(), so that reads begun meanwhile queue up and are recorded together.
class HeldWriter {
 public:
  explicit HeldWriter(store::Database& database)
      : holder_([&database, this] {
          static_cast<void>(database.write([this](store::Session&) -> Status {
            std::unique_lock lock(mutex_);
            held_ = true;
            changed_.notify_all();
            changed_.wait(lock, [this] { return released_; });
            return ok_status();
          }));
        }) {
    std::unique_lock lock(mutex_);
    changed_.wait(lock, [this] { return held_; });
  }
  ~HeldWriter() { release(); }
  void release() {
    {
      std::lock_guard lock(mutex_);
      released_ = true;
    }
    changed_.notify_all();
    if (holder_.joinable()) holder_.join();
  }

 private:
  std::mutex mutex_;
  std::condition_variable changed_;
  bool held_ = false;
  bool released_ = false;
  std::thread holder_;
};

TEST_P(ExchangeTest, ReadsMadeAtOnceAreEachRecordedBeforeTheyAreAnswered) {
  grant("person", "civil", {"name", "birth_date"});
  std::int64_t logged = *log_->size();
  constexpr int threads = 6;
  constexpr int reads_each = 5;
  std::vector<std::vector<Result<nlohmann::json>>> answers(threads);
  std::vector<Result<nlohmann::json>> refused;
  {
    HeldWriter held(*database_);
    std::vector<std::thread> readers;
    for (int thread = 0; thread < threads; ++thread) {
      readers.emplace_back([&, thread] {
        for (int i = 0; i < reads_each; ++i) {
          answers[thread].push_back(exchange_->read({resources_.at("person"), {person_id}, {"name"}}, {"acc_civil", "civil"}));
        }
      });
    }
    // Among them a read with no grant: refused, and no trouble for the others.
    readers.emplace_back([&] { refused.push_back(exchange_->read({resources_.at("person"), {person_id}, {"name"}}, {"acc_tax", "tax"})); });
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    held.release();
    for (auto& reader : readers) reader.join();
  }
  ASSERT_EQ(refused.size(), 1u);
  ASSERT_FALSE(refused[0].ok());
  EXPECT_EQ(refused[0].error().code, "catalog.no_grant");
  std::set<std::int64_t> indexes;
  for (const auto& of_thread : answers) {
    for (const auto& answer : of_thread) {
      ASSERT_TRUE(answer.ok()) << answer.error().code << ": " << answer.error().message;
      const nlohmann::json& receipt = (*answer)["receipt"];
      EXPECT_EQ((*answer)["records"][0]["fields"]["name"], "张三");
      indexes.insert(receipt["log_index"].get<std::int64_t>());
      auto entry = log_->entry(receipt["log_index"].get<std::int64_t>());
      ASSERT_TRUE(entry.ok());
      EXPECT_EQ(nlohmann::json::parse(entry->content)["details"]["response_hash"], receipt["response_hash"]);
    }
  }
  EXPECT_EQ(indexes.size(), static_cast<std::size_t>(threads * reads_each)) << "one entry per read";
  EXPECT_EQ(*log_->size(), logged + threads * reads_each);
  EXPECT_EQ((*exchange_->reads_of("person", person_id))["reads"].size(), static_cast<std::size_t>(threads * reads_each));
  EXPECT_EQ(exchange_->share_counts().at({"police", "civil", (*answers[0][0])["resource"].get<std::string>()}).reads, threads * reads_each);
  auto verified = audit::verify_log(*database_, log_->public_key());
  ASSERT_TRUE(verified.ok());
  EXPECT_TRUE(verified->ok()) << verified->summary();
}

TEST_P(ExchangeTest, AReadThatCannotBeRecordedFailsAloneAndTheOthersStand) {
  constexpr const char* unrecordable = "44011320141005001X";
  ASSERT_TRUE(registries_
                  ->write("person", unrecordable, {{"name", "李小明"}, {"sex", "1"}, {"birth_date", "2014-10-05"}},
                          "出生登记", {"acc_police", "police"})
                  .ok());
  // The log entry of a read of that record cannot be written: its transaction fails.
  Status installed = database_->write([&](store::Session& session) -> Status {
    if (session.backend() == store::Backend::sqlite) {
      return session.execute_script(std::string("CREATE TRIGGER refuse_read BEFORE INSERT ON audit_entry WHEN NEW.content LIKE '%") +
                                    unrecordable + "%' BEGIN SELECT RAISE(ABORT, 'refused by the test'); END");
    }
    return session.execute_script(std::string("CREATE FUNCTION refuse_read() RETURNS trigger AS $$ BEGIN IF NEW.content LIKE '%") +
                                  unrecordable +
                                  "%' THEN RAISE EXCEPTION 'refused by the test'; END IF; RETURN NEW; END $$ LANGUAGE plpgsql; "
                                  "CREATE TRIGGER refuse_read BEFORE INSERT ON audit_entry FOR EACH ROW EXECUTE FUNCTION refuse_read()");
  });
  ASSERT_TRUE(installed.ok()) << installed.error().message;
  grant("person", "civil", {"name"});
  std::int64_t logged = *log_->size();
  std::vector<std::optional<Result<nlohmann::json>>> answers(5);
  {
    HeldWriter held(*database_);
    std::vector<std::thread> readers;
    for (std::size_t i = 0; i < answers.size(); ++i) {
      readers.emplace_back([&, i] {
        std::string key = i == 2 ? unrecordable : person_id;
        answers[i].emplace(exchange_->read({resources_.at("person"), {key}, {"name"}}, {"acc_civil", "civil"}));
      });
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    held.release();
    for (auto& reader : readers) reader.join();
  }
  for (std::size_t i = 0; i < answers.size(); ++i) {
    if (i == 2) {
      ASSERT_FALSE(answers[i]->ok()) << "a read that is not recorded is not answered";
      EXPECT_TRUE(answers[i]->error().code.starts_with("store.")) << answers[i]->error().code;
    } else {
      EXPECT_TRUE(answers[i]->ok()) << answers[i]->error().message;
    }
  }
  EXPECT_EQ(*log_->size(), logged + 4) << "no entry stays for the read that failed, and no gap";
  EXPECT_EQ((*exchange_->reads_of("person", person_id))["reads"].size(), 4u);
  EXPECT_TRUE((*exchange_->reads_of("person", unrecordable))["reads"].empty());
  auto verified = audit::verify_log(*database_, log_->public_key());
  ASSERT_TRUE(verified.ok());
  EXPECT_TRUE(verified->ok()) << verified->summary();
}

TEST_P(ExchangeTest, ABulkReadStreamsEveryRecordAndEndsWithItsReceipt) {
  ASSERT_TRUE(registries_
                  ->write("person", "44011320141005001X", {{"name", "李小明"}, {"sex", "1"}, {"birth_date", "2014-10-05"}},
                          "出生登记", {"acc_police", "police"})
                  .ok());
  Consumer civil{"acc_civil", "civil"};
  EXPECT_EQ(exchange_->begin_bulk_read(resources_.at("person"), {"name"}, civil).error().code, "catalog.no_grant");
  grant("person", "civil", {"name", "birth_date"});
  auto begun = exchange_->begin_bulk_read(resources_.at("person"), {"name"}, civil);
  ASSERT_TRUE(begun.ok()) << begun.error().message;
  std::vector<std::string> lines;
  std::string records_text;
  ASSERT_TRUE(exchange_
                  ->run_bulk_read(*begun,
                                  [&](std::string_view piece) {
                                    lines.emplace_back(piece);
                                    return true;
                                  })
                  .ok());
  ASSERT_EQ(lines.size(), 3u);
  for (std::size_t i = 0; i + 1 < lines.size(); ++i) records_text += lines[i];
  auto first = nlohmann::json::parse(lines[0]);
  EXPECT_EQ(first, (nlohmann::json{{"key", person_id}, {"fields", {{"name", "张三"}}}}));
  EXPECT_EQ(nlohmann::json::parse(lines[1])["fields"]["name"], "李小明");
  auto receipt = nlohmann::json::parse(lines[2])["receipt"];
  EXPECT_EQ(receipt["records"], 2);
  EXPECT_EQ(receipt["response_hash"], crypto::to_hex(crypto::sm3(records_text)));
  auto entry = log_->entry(receipt["log_index"].get<std::int64_t>());
  ASSERT_TRUE(entry.ok());
  EXPECT_NE(entry->content.find("exchange.bulk_read"), std::string::npos);
  EXPECT_NE(entry->content.find(receipt["response_hash"].get<std::string>()), std::string::npos);
  auto begun_entry = log_->entry(receipt["begun_log_index"].get<std::int64_t>());
  ASSERT_TRUE(begun_entry.ok());
  EXPECT_NE(begun_entry->content.find("exchange.bulk_read_begun"), std::string::npos);

  // Both persons see the bulk read; one registered after it does not.
  clock_.advance(std::chrono::minutes(1));
  ASSERT_TRUE(registries_
                  ->write("person", "34052419800101001X", {{"name", "王五"}, {"sex", "1"}, {"birth_date", "1980-01-01"}},
                          "迁入登记", {"acc_police", "police"})
                  .ok());
  auto mine = exchange_->reads_of("person", person_id);
  ASSERT_TRUE(mine.ok());
  ASSERT_EQ((*mine)["reads"].size(), 1u) << mine->dump();
  EXPECT_EQ((*mine)["reads"][0]["bulk"], true);
  EXPECT_EQ((*mine)["reads"][0]["department"], "civil");
  EXPECT_TRUE((*exchange_->reads_of("person", "34052419800101001X"))["reads"].empty());

  // A client that goes away stops the read: no receipt, its beginning recorded.
  auto again = exchange_->begin_bulk_read(resources_.at("person"), {}, civil);
  ASSERT_TRUE(again.ok());
  std::int64_t logged = *log_->size();
  auto cut = exchange_->run_bulk_read(*again, [](std::string_view) { return false; });
  ASSERT_FALSE(cut.ok());
  EXPECT_EQ(cut.error().code, "exchange.client_gone");
  EXPECT_EQ(*log_->size(), logged);
}

// The rows by record are written from the log behind the reads: by the indexing thread, by
// whoever looks, and again after a restart, each read once.
TEST_P(ExchangeTest, ReadsAreIndexedFromTheLogOnceEach) {
  grant("person", "civil", {"name"});
  auto rows = [&] {
    auto counted = database_->read_value<std::int64_t>([](store::Session& session) -> Result<std::int64_t> {
      auto row = session.query_one("SELECT COUNT(*) FROM exchange_read_record");
      if (!row.ok()) return row.take_error();
      return (*row)->integer(0);
    });
    EXPECT_TRUE(counted.ok());
    return counted.ok() ? *counted : -1;
  };
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(exchange_->read({resources_.at("person"), {person_id}, {"name"}}, {"acc_civil", "civil"}).ok());
  }
  EXPECT_EQ(rows(), 0) << "nothing is indexed on the read's path";
  EXPECT_GE(*exchange_->index_backlog(), 3);

  // The thread indexes them without anyone looking.
  exchange_->start_indexing(std::chrono::milliseconds(10));
  for (int waited = 0; waited < 500 && rows() < 3; ++waited) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  EXPECT_EQ(rows(), 3);
  exchange_->stop_indexing();
  EXPECT_EQ(*exchange_->index_backlog(), 0);

  // Reads made before a restart are indexed after it, by the first look; two exchanges on one
  // database (two nodes) index each entry once between them.
  ASSERT_TRUE(exchange_->read({resources_.at("person"), {person_id, "44011320141005001X"}, {"name"}}, {"acc_civil", "civil"}).ok());
  exchange_.reset();
  Exchange first(*database_, *log_, *catalog_, *registries_, clock_);
  Exchange second(*database_, *log_, *catalog_, *registries_, clock_);
  std::vector<std::thread> indexers;
  std::vector<Result<std::int64_t>> looked(2, std::int64_t{0});
  indexers.emplace_back([&] { looked[0] = first.index_reads(); });
  indexers.emplace_back([&] { looked[1] = second.index_reads(); });
  for (auto& indexer : indexers) indexer.join();
  ASSERT_TRUE(looked[0].ok() && looked[1].ok());
  EXPECT_EQ(rows(), 4) << "the key with no record is no row";
  EXPECT_EQ((*second.reads_of("person", person_id))["reads"].size(), 4u);
  EXPECT_EQ(*first.index_reads(), 0) << "nothing is left to look at";
  EXPECT_EQ(rows(), 4);
}

TEST_P(ExchangeTest, AReadEntryThatCannotBeIndexedStopsTheIndexAtIt) {
  grant("person", "civil", {"name"});
  ASSERT_TRUE(exchange_->read({resources_.at("person"), {person_id}, {"name"}}, {"acc_civil", "civil"}).ok());
  std::int64_t broken = *log_->size();
  // An entry no appender would write: a read's beginning, then nonsense.
  ASSERT_TRUE(database_
                  ->write([&](store::Session& session) {
                    return session
                        .execute("INSERT INTO audit_entry (entry_index, content, leaf_hash) VALUES ($1, $2, $3)",
                                 {broken, std::string(R"({"action":"exchange.read",no)"), store::Blob(32, 0)})
                        .status();
                  })
                  .ok());
  auto indexed = exchange_->index_reads();
  ASSERT_FALSE(indexed.ok());
  EXPECT_EQ(indexed.error().code, "catalog.bad_read_entry");
  EXPECT_EQ(indexed.error().details["log_index"], broken);
  EXPECT_EQ((*database_->read_value<std::int64_t>([](store::Session& session) -> Result<std::int64_t> {
              auto row = session.query_one("SELECT COUNT(*) FROM exchange_read_record");
              if (!row.ok()) return row.take_error();
              return (*row)->integer(0);
            })),
            1)
      << "the read before it is indexed";
  EXPECT_EQ(exchange_->reads_of("person", person_id).error().code, "catalog.bad_read_entry")
      << "who read my data is not shown short";
}

// A database from before reads were indexed from the log: its rows become the index, and the
// reads they were are shown as before.
TEST_P(ExchangeTest, ReadsRecordedBeforeTheLogIndexAreStillShown) {
  std::vector<store::Migration> before = audit::TransparencyLog::migrations();
  for (auto* module : {&registry::Registries::migrations, &Catalog::migrations, &Exchange::migrations}) {
    for (auto& migration : (*module)()) {
      if (migration.module != "exchange" || migration.version == 1) before.push_back(migration);
    }
  }
  testing::TestDatabase old(GetParam(), before);
  audit::TransparencyLog log(*old, *crypto::PrivateKey::generate(), clock_);
  // A read as version 1 recorded it: its entry, with no registry named, and its row.
  auto receipt = old->write_value<audit::Receipt>([&](store::Session& session) -> Result<audit::Receipt> {
    auto recorded = log.record(session, {"acc_civil", "", "exchange.read", "catalog_resource", "resource-1", "《条例》第十条",
                                         {{"consumer", "civil"},
                                          {"grant", "grant-1"},
                                          {"items", {"name"}},
                                          {"keys", {person_id}},
                                          {"purpose", "核验身份"},
                                          {"request_hash", "00"},
                                          {"resource", "101001"},
                                          {"response_hash", "00"}}});
    if (!recorded.ok()) return recorded.take_error();
    ONEWINDOW_TRY(session
                      .execute("INSERT INTO exchange_read (log_index, record_key, registry, read_at, read_on, consumer, account, "
                               "resource_code, grant_id, items, purpose, legal_basis) VALUES ($1, $2, 'person', $3, "
                               "'2026-11-23', 'civil', 'acc_civil', '101001', 'grant-1', '[\"name\"]', '核验身份', '《条例》第十条')",
                               {recorded->index, std::string(person_id), recorded->time})
                      .status());
    return recorded;
  });
  ASSERT_TRUE(receipt.ok()) << receipt.error().message;
  auto migrated = old->migrate(migrations());
  ASSERT_TRUE(migrated.ok()) << migrated.error().message;

  Exchange exchange(*old, log, *catalog_, *registries_, clock_);
  EXPECT_EQ(*exchange.index_reads(), 0) << "the rows of version 1 were its index";
  auto reads = exchange.reads_of("person", person_id);
  ASSERT_TRUE(reads.ok()) << reads.error().message;
  ASSERT_EQ((*reads)["reads"].size(), 1u);
  EXPECT_EQ((*reads)["reads"][0]["log_index"], receipt->index);
  EXPECT_EQ((*reads)["reads"][0]["department"], "civil");
  EXPECT_EQ((*reads)["reads"][0]["purpose"], "核验身份");
  EXPECT_EQ((*reads)["reads"][0]["legal_basis"], "《条例》第十条");
  EXPECT_EQ((*reads)["reads"][0]["items"], nlohmann::json({"name"}));
  auto statistics = exchange.statistics(Date(2026, 11, 23), Date(2026, 11, 23));
  ASSERT_TRUE(statistics.ok()) << statistics.error().message;
  ASSERT_EQ((*statistics)["reads"].size(), 1u) << statistics->dump();
  EXPECT_EQ((*statistics)["reads"][0]["reads"], 1);
  EXPECT_EQ((*statistics)["reads"][0]["records"], 1);
}

INSTANTIATE_TEST_SUITE_P(Backends, ExchangeTest, ::testing::Values(store::Backend::sqlite, store::Backend::postgresql),
                         [](const auto& info) { return std::string(store::backend_name(info.param)); });

}  // namespace
}  // namespace onewindow::catalog
