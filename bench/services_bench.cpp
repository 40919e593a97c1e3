// Benchmarks for one-stop services (issue 7), beside their baseline in the same run:
// - BM_Services_Enterprise_Establishment_HTTP: the whole life of an enterprise-establishment
//   application over HTTP, one keep-alive connection per caller, one application after another:
//   the draft prefilled through the exchange, two materials uploaded, the submit, intake at the
//   window, and the four departments each reading their part and approving. items_per_second is
//   applications completed per second (target: at least 100 on SQLite); the counters p99_ms_<call>
//   are each call's 99th-percentile latency, and the table on standard error has p50 and p99.
// - BM_Services_Static_HTTP: the same number of calls (13) per item, each GET /healthz on the same
//   server: what the application's calls would cost if each were a static answer.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <chrono>
#include <map>

#include "bench_platform.h"

namespace {

using namespace onewindow;
using namespace onewindow::bench;

constexpr int calls_per_application = 13;
const std::string pdf = "%PDF-1.4\n1 0 obj << >> endobj\ntrailer << >>\n%%EOF\n";

// One keep-alive connection that sends any method with a body and keeps each call's latency.
class Caller {
 public:
  explicit Caller(std::string authorization) : authorization_(std::move(authorization)), curl_(curl_easy_init()) {
    curl_easy_setopt(curl_, CURLOPT_WRITEFUNCTION, +[](char* data, std::size_t size, std::size_t count, void* out) {
      static_cast<std::string*>(out)->append(data, size * count);
      return size * count;
    });
    curl_easy_setopt(curl_, CURLOPT_WRITEDATA, &answer_);
  }
  ~Caller() { curl_easy_cleanup(curl_); }
  Caller(const Caller&) = delete;
  Caller& operator=(const Caller&) = delete;

  // The answer's body as JSON; aborts the benchmark on anything but a 2xx.
  nlohmann::json call(const char* name, const std::string& method, const std::string& url, const std::string& body = "",
                      const std::string& content_type = "application/json", const std::string& extra_header = "") {
    answer_.clear();
    curl_slist* headers = curl_slist_append(nullptr, authorization_.c_str());
    headers = curl_slist_append(headers, ("Content-Type: " + content_type).c_str());
    if (!extra_header.empty()) headers = curl_slist_append(headers, extra_header.c_str());
    curl_easy_setopt(curl_, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(curl_, CURLOPT_URL, url.c_str());
    curl_easy_setopt(curl_, CURLOPT_CUSTOMREQUEST, method.c_str());
    if (method == "GET") {
      curl_easy_setopt(curl_, CURLOPT_HTTPGET, 1L);
    } else {
      curl_easy_setopt(curl_, CURLOPT_POSTFIELDS, body.data());
      curl_easy_setopt(curl_, CURLOPT_POSTFIELDSIZE, static_cast<long>(body.size()));
    }
    auto started = std::chrono::steady_clock::now();
    CURLcode done = curl_easy_perform(curl_);
    latencies_[name].push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - started).count());
    curl_slist_free_all(headers);
    long status = 0;
    curl_easy_getinfo(curl_, CURLINFO_RESPONSE_CODE, &status);
    if (done != CURLE_OK || status < 200 || status > 299) {
      std::fprintf(stderr, "onewindow_bench: %s %s: %ld %s\n", method.c_str(), url.c_str(), status, answer_.c_str());
      std::abort();
    }
    return nlohmann::json::parse(answer_, nullptr, false);
  }

  std::map<std::string, std::vector<double>>& latencies() { return latencies_; }

 private:
  std::string authorization_;
  CURL* curl_;
  std::string answer_;
  std::map<std::string, std::vector<double>> latencies_;
};

// A platform with a few persons, market granted the founder's name and phone, a citizen who
// applies and the officials who act.
struct ServiceDesk : ServedPersons {
  std::map<std::string, std::string> authorizations;

  ServiceDesk() : ServedPersons("services", 1000) {
    for (const std::string department : {"approval", "market", "police", "tax", "hrss"}) {
      authorizations[department] = logged_in_official(*platform, "bench." + department, department);
    }
    auto citizen = or_die(platform->directory->create_account(
        {identity::AccountKind::citizen, "bench.citizen", "bench password 1", "申请人", "", {}, keys[0], "", ""}, nullptr));
    auto login = or_die(platform->directory->login({"bench.citizen", "bench password 1", "", "127.0.0.1", identity::SessionKind::bearer}));
    authorizations["citizen"] = "Authorization: Bearer " + login.token;
    static_cast<void>(citizen);
    auto resource = or_die(platform->catalog->registry_resource("person"));
    auto requested = or_die(platform->catalog->request_grant(
        {resource.id, {"name", "phone"}, "企业开办 prefill", "《优化营商环境条例》第三十七条", "2099-12-31"}, {"bench", "market", ""}));
    or_die(platform->catalog->decide(requested.id, true, "", {"bench", "police", ""}));
  }
};

ServiceDesk& desk() {
  static ServiceDesk served;
  return served;
}

void report(benchmark::State& state, std::map<std::string, std::vector<double>> latencies) {
  std::fprintf(stderr, "%-24s %8s %8s %8s\n", "call", "count", "p50 ms", "p99 ms");
  for (auto& [name, values] : latencies) {
    std::sort(values.begin(), values.end());
    double p50 = values[values.size() / 2];
    double p99 = values[std::min(values.size() - 1, values.size() * 99 / 100)];
    std::fprintf(stderr, "%-24s %8zu %8.2f %8.2f\n", name.c_str(), values.size(), p50, p99);
    state.counters["p99_ms_" + name] = p99;
  }
}

void BM_Services_Enterprise_Establishment_HTTP(benchmark::State& state) {
  ServiceDesk& served = desk();
  const std::string base = served.base_url + "/api/v1";
  std::map<std::string, std::unique_ptr<Caller>> callers;
  for (const auto& [who, authorization] : served.authorizations) callers[who] = std::make_unique<Caller>(authorization);
  const nlohmann::json form = {{"company_name", "青岛示范科技有限公司"}, {"entity_type", "limited_liability_company"},
                               {"registered_capital", 100}, {"business_scope", "软件开发"},
                               {"address", "山东省青岛市莱西市烟台路2号"}, {"division", "370285"},
                               {"employees", 5}, {"seal_count", 2}};
  const std::string draft_body = nlohmann::json{{"form", form}}.dump();
  static std::int64_t number = 0;  // across the runs Google Benchmark makes: each key once
  for (auto _ : state) {
    Caller& citizen = *callers.at("citizen");
    nlohmann::json application =
        citizen.call("draft", "POST", base + "/services/QD-QYKB-001/applications", draft_body, "application/json",
                     "Idempotency-Key: bench-" + std::to_string(::getpid()) + "-" + std::to_string(number++));
    std::string id = application["id"];
    citizen.call("upload", "PUT", base + "/applications/" + id + "/materials/articles?file_name=articles.pdf", pdf,
                 "application/pdf");
    citizen.call("upload", "PUT", base + "/applications/" + id + "/materials/premises?file_name=premises.pdf", pdf,
                 "application/pdf");
    citizen.call("submit", "POST", base + "/applications/" + id + "/submit");
    callers.at("approval")->call("intake", "POST", base + "/applications/" + id + "/intake", R"({"decision":"accept"})");
    for (const std::string department : {"market", "police", "tax", "hrss"}) {
      Caller& official = *callers.at(department);
      nlohmann::json seen = official.call("department_view", "GET", base + "/applications/" + id);
      std::string task;
      for (const auto& open : seen["tasks"]) {
        if (open["status"] == "open") task = open["id"];
      }
      official.call("decision", "POST", base + "/applications/" + id + "/decision",
                    nlohmann::json{{"task_id", task}, {"outcome", "approve"}}.dump());
    }
  }
  state.SetItemsProcessed(state.iterations());
  std::map<std::string, std::vector<double>> latencies;
  for (auto& [who, caller] : callers) {
    for (auto& [name, values] : caller->latencies()) latencies[name].insert(latencies[name].end(), values.begin(), values.end());
  }
  report(state, std::move(latencies));
}
BENCHMARK(BM_Services_Enterprise_Establishment_HTTP)->MinTime(5)->UseRealTime();

void BM_Services_Static_HTTP(benchmark::State& state) {
  ServiceDesk& served = desk();
  Caller caller(served.authorizations.at("citizen"));
  for (auto _ : state) {
    for (int i = 0; i < calls_per_application; ++i) caller.call("healthz", "GET", served.base_url + "/healthz");
  }
  state.SetItemsProcessed(state.iterations());
  report(state, caller.latencies());
}
BENCHMARK(BM_Services_Static_HTTP)->MinTime(3)->UseRealTime();

}  // namespace
