// The HTTP layer over a real socket: envelope, limits, request ids, metrics, shutdown.
#include "api/api.h"
#include "store/store.h"
#include "testing.h"

#include <gtest/gtest.h>

#include <future>
#include <thread>

namespace onewindow::api {
namespace {

using onewindow::testing::http_request;
using onewindow::testing::HttpResponse;

class HttpTest : public ::testing::Test {
 protected:
  void SetUp() override {
    store::Options store_options;
    store_options.data_directory = directory_.path().string();
    auto database = store::Database::open(store_options);
    ASSERT_TRUE(database.ok());
    database_ = std::move(database).value();
    system_.database = database_.get();
    system_.metrics = &metrics_;
    system_.version = "test";
    add_system_routes(router_, system_);
    router_.add({"POST", "/echo", "public", "Echoes a JSON object.", "test",
                 [](const Request& request) -> Result<Response> {
                   auto body = request.json_body();
                   if (!body.ok()) return body.take_error();
                   return Response::json(200, {{"echo", *body}});
                 }});
    router_.add({"GET", "/things/{id}", "public", "A parameter.", "test",
                 [](const Request& request) -> Result<Response> {
                   return Response::json(200, {{"id", request.path_parameters.at("id")}});
                 }});
    router_.add({"GET", "/things/special", "public", "A literal beside a parameter.", "test",
                 [](const Request&) -> Result<Response> { return Response::json(200, {{"special", true}}); }});
    router_.add({"GET", "/explode", "public", "A handler with a bug.", "test",
                 [](const Request&) -> Result<Response> { throw std::logic_error("bug"); }});
    router_.add({"GET", "/slow", "public", "Takes a while.", "test", [](const Request&) -> Result<Response> {
                   std::this_thread::sleep_for(std::chrono::milliseconds(700));
                   return Response::json(200, {{"slow", true}});
                 }});
    options_.port = onewindow::testing::free_port();
    options_.max_body_bytes = 4096;
    options_.access_log = false;
    server_ = std::make_unique<Server>(router_, metrics_, options_);
    system_.server = server_.get();
    Status started = server_->start();
    ASSERT_TRUE(started.ok()) << started.error().message;
    base_ = "http://127.0.0.1:" + std::to_string(options_.port);
  }
  void TearDown() override {
    if (server_) server_->drain_and_stop();
  }

  static void expect_envelope(const HttpResponse& response, long status, const std::string& code) {
    EXPECT_EQ(response.status, status) << response.body;
    auto body = nlohmann::json::parse(response.body, nullptr, false);
    ASSERT_TRUE(body.is_object()) << response.body;
    ASSERT_TRUE(body.contains("error")) << response.body;
    EXPECT_EQ(body["error"]["code"], code);
    EXPECT_TRUE(body["error"]["message"].is_string());
    EXPECT_TRUE(body["error"]["details"].is_object());
    EXPECT_EQ(body["error"]["request_id"], response.headers.at("x-request-id"));
  }

  onewindow::testing::TemporaryDirectory directory_;
  std::unique_ptr<store::Database> database_;
  Metrics metrics_;
  SystemContext system_;
  Router router_;
  ServerOptions options_;
  std::unique_ptr<Server> server_;
  std::string base_;
};

TEST_F(HttpTest, HealthzAnswersWithARequestId) {
  HttpResponse response = http_request("GET", base_ + "/healthz");
  EXPECT_EQ(response.status, 200);
  EXPECT_EQ(nlohmann::json::parse(response.body)["status"], "ok");
  ASSERT_TRUE(response.headers.count("x-request-id"));
  EXPECT_TRUE(response.headers["x-request-id"].starts_with("req_"));
  EXPECT_EQ(response.headers["content-type"], "application/json");
}

TEST_F(HttpTest, PlainIncomingRequestIdIsKeptOthersReplaced) {
  HttpResponse kept = http_request("GET", base_ + "/healthz", "", {{"X-Request-Id", "trace-42.a_b"}});
  EXPECT_EQ(kept.headers["x-request-id"], "trace-42.a_b");
  HttpResponse replaced = http_request("GET", base_ + "/healthz", "", {{"X-Request-Id", "bad id<script>"}});
  EXPECT_TRUE(replaced.headers["x-request-id"].starts_with("req_"));
}

TEST_F(HttpTest, ReadyzChecksTheDatabase) {
  HttpResponse response = http_request("GET", base_ + "/readyz");
  EXPECT_EQ(response.status, 200);
  EXPECT_EQ(nlohmann::json::parse(response.body)["database"], "sqlite");
  database_->close();
  expect_envelope(http_request("GET", base_ + "/readyz"), 503, "server.database_unavailable");
}

TEST_F(HttpTest, UnknownRouteIs404InTheEnvelope) {
  expect_envelope(http_request("GET", base_ + "/no/such/thing"), 404, "http.not_found");
}

TEST_F(HttpTest, WrongMethodIs405WithAllow) {
  HttpResponse response = http_request("DELETE", base_ + "/healthz");
  expect_envelope(response, 405, "http.method_not_allowed");
  EXPECT_EQ(response.headers["allow"], "GET");
  HttpResponse post_only = http_request("GET", base_ + "/echo");
  expect_envelope(post_only, 405, "http.method_not_allowed");
  EXPECT_EQ(post_only.headers["allow"], "POST");
}

TEST_F(HttpTest, MalformedJsonIs400NamingTheBody) {
  HttpResponse response = http_request("POST", base_ + "/echo", "{\"a\": 1,,}", {{"Content-Type", "application/json"}});
  expect_envelope(response, 400, "http.malformed_json");
  EXPECT_EQ(nlohmann::json::parse(response.body)["error"]["details"]["field"], "body");
  expect_envelope(http_request("POST", base_ + "/echo", "[1, 2]", {{"Content-Type", "application/json"}}), 400,
                  "http.body_not_object");
  expect_envelope(http_request("POST", base_ + "/echo", "", {{"Content-Type", "application/json"}}), 400,
                  "http.malformed_json");
}

// Found by fuzz/api_request_fuzz (fuzz/corpus/api_request_fuzz/regression_number_overflow): a
// number too large for a double made json_body throw, and the client got a 500.
TEST_F(HttpTest, NumberTooLargeIs400NotA500) {
  HttpResponse response = http_request("POST", base_ + "/echo", "{\"service\": null, \"extra\": [1, {\"a\": 1e400}]}",
                                       {{"Content-Type", "application/json"}});
  expect_envelope(response, 400, "http.malformed_json");
  EXPECT_EQ(nlohmann::json::parse(response.body)["error"]["details"]["field"], "body");
  expect_envelope(http_request("POST", base_ + "/echo", "{\"a\": -1e400}", {{"Content-Type", "application/json"}}), 400,
                  "http.malformed_json");
}

TEST_F(HttpTest, WrongContentTypeIs415) {
  expect_envelope(http_request("POST", base_ + "/echo", "{}", {{"Content-Type", "text/plain"}}), 415,
                  "http.unsupported_media_type");
  HttpResponse fine = http_request("POST", base_ + "/echo", "{\"名\":\"青岛\"}",
                                   {{"Content-Type", "application/json; charset=utf-8"}});
  EXPECT_EQ(fine.status, 200);
  EXPECT_EQ(nlohmann::json::parse(fine.body)["echo"]["名"], "青岛");
}

TEST_F(HttpTest, OversizedBodyIs413AndTheServerGoesOn) {
  std::string big = "{\"x\": \"" + std::string(5000, 'a') + "\"}";
  HttpResponse response = http_request("POST", base_ + "/echo", big, {{"Content-Type", "application/json"}});
  expect_envelope(response, 413, "http.body_too_large");
  EXPECT_EQ(nlohmann::json::parse(response.body)["error"]["details"]["limit"], 4096);
  EXPECT_EQ(http_request("GET", base_ + "/healthz").status, 200);
}

TEST_F(HttpTest, OversizedHeaderIsRefusedAndTheServerGoesOn) {
  HttpResponse response = http_request("GET", base_ + "/healthz", "", {{"X-Huge", std::string(64 * 1024, 'h')}});
  EXPECT_NE(response.status, 200);
  EXPECT_EQ(http_request("GET", base_ + "/healthz").status, 200);
}

TEST_F(HttpTest, PathParametersAndLiteralsAreRouted) {
  EXPECT_EQ(nlohmann::json::parse(http_request("GET", base_ + "/things/%E9%9D%92%E5%B2%9B").body)["id"], "青岛");
  EXPECT_EQ(nlohmann::json::parse(http_request("GET", base_ + "/things/special").body)["special"], true);
  expect_envelope(http_request("GET", base_ + "/things/%zz"), 400, "http.bad_path");
}

TEST_F(HttpTest, AThrowingHandlerGives500InTheEnvelopeAndTheServerGoesOn) {
  expect_envelope(http_request("GET", base_ + "/explode"), 500, "server.internal");
  EXPECT_EQ(http_request("GET", base_ + "/healthz").status, 200);
}

TEST_F(HttpTest, MetricsCountRequestsPerRoute) {
  http_request("GET", base_ + "/healthz");
  http_request("GET", base_ + "/healthz");
  http_request("GET", base_ + "/nowhere");
  HttpResponse metrics = http_request("GET", base_ + "/metrics");
  EXPECT_EQ(metrics.status, 200);
  EXPECT_THAT(metrics.headers["content-type"], ::testing::StartsWith("text/plain; version=0.0.4"));
  EXPECT_THAT(metrics.body, ::testing::HasSubstr(
                                "onewindow_http_requests_total{method=\"GET\",route=\"/healthz\",status=\"200\"} 2"));
  EXPECT_THAT(metrics.body, ::testing::HasSubstr(
                                "onewindow_http_requests_total{method=\"GET\",route=\"unmatched\",status=\"404\"} 1"));
  EXPECT_THAT(metrics.body, ::testing::HasSubstr(
                                "onewindow_http_request_duration_seconds_count{method=\"GET\",route=\"/healthz\"} 2"));
  EXPECT_THAT(metrics.body, ::testing::HasSubstr("le=\"+Inf\""));
}

TEST_F(HttpTest, ShutdownLetsRequestsInFlightFinish) {
  auto slow = std::async(std::launch::async, [&] { return http_request("GET", base_ + "/slow"); });
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  auto started = std::chrono::steady_clock::now();
  server_->drain_and_stop();
  HttpResponse answered = slow.get();
  EXPECT_EQ(answered.status, 200);
  EXPECT_EQ(nlohmann::json::parse(answered.body)["slow"], true);
  EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(10));
  // Stopped: nothing listens any more.
  EXPECT_EQ(http_request("GET", base_ + "/healthz").status, 0);
  server_.reset();
}

}  // namespace
}  // namespace onewindow::api
