// The web UI's static files: types, caching, the single-page app's fallback, and that no path
// leaves the web root, through the router and over a real socket.
#include "api/api.h"
#include "testing.h"

#include <gtest/gtest.h>

#include <fstream>

namespace onewindow::api {
namespace {

using onewindow::testing::http_request;

std::string header_of(const Response& response, const std::string& name) {
  for (const auto& [key, value] : response.headers) {
    if (key == name) return value;
  }
  return "";
}

class WebRoutesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // The web root sits inside a directory that holds a file it must never serve.
    outside_.write("secret.txt", "not for the web");
    root_ = outside_.path() / "dist";
    std::filesystem::create_directories(root_ / "assets");
    write(root_ / "index.html", "<!doctype html><title>一网通办</title>");
    write(root_ / "assets" / "index-Ab12Cd34.js", "console.log('app')");
    write(root_ / "assets" / "index-Ab12Cd34.css", "body{}");
    write(root_ / "favicon.svg", "<svg xmlns=\"http://www.w3.org/2000/svg\"/>");
    std::filesystem::create_symlink(outside_.path() / "secret.txt", root_ / "assets" / "link.txt");
    router_.add({"GET", "/api/v1/thing", "public", "A route.", "test",
                 [](const Request&) -> Result<Response> { return Response::json(200, {{"thing", true}}); }});
    add_web_routes(router_, root_);
  }

  static void write(const std::filesystem::path& file, const std::string& text) {
    std::ofstream out(file, std::ios::binary);
    out << text;
  }

  Response get(const std::string& path, const std::string& method = "GET") {
    Request request;
    request.method = method;
    request.path = path;
    request.request_id = "req_test";
    std::string route;
    return router_.dispatch(request, route);
  }

  onewindow::testing::TemporaryDirectory outside_;
  std::filesystem::path root_;
  Router router_;
};

TEST_F(WebRoutesTest, ServesFilesWithTheirTypes) {
  Response index = get("/");
  ASSERT_EQ(index.status, 200) << index.body;
  EXPECT_EQ(index.content_type, "text/html; charset=utf-8");
  EXPECT_NE(index.body.find("一网通办"), std::string::npos);
  EXPECT_EQ(get("/assets/index-Ab12Cd34.js").content_type, "text/javascript; charset=utf-8");
  EXPECT_EQ(get("/assets/index-Ab12Cd34.css").content_type, "text/css; charset=utf-8");
  EXPECT_EQ(get("/favicon.svg").content_type, "image/svg+xml");
  EXPECT_EQ(get("/index.html").status, 200);
  EXPECT_EQ(get("/assets/index-Ab12Cd34.js", "HEAD").status, 200);
}

TEST_F(WebRoutesTest, HashedAssetsAreImmutableAndThePageIsRevalidated) {
  EXPECT_EQ(header_of(get("/assets/index-Ab12Cd34.js"), "Cache-Control"), "public, max-age=31536000, immutable");
  EXPECT_EQ(header_of(get("/"), "Cache-Control"), "no-cache");
  EXPECT_EQ(header_of(get("/favicon.svg"), "Cache-Control"), "no-cache");
  Response page = get("/");
  EXPECT_EQ(header_of(page, "X-Frame-Options"), "DENY");
  EXPECT_NE(header_of(page, "Content-Security-Policy").find("script-src 'self'"), std::string::npos);
}

TEST_F(WebRoutesTest, TheAppsOwnRoutesGetTheIndexButMissingFilesDoNot) {
  Response route = get("/applications/app_01/edit");
  ASSERT_EQ(route.status, 200);
  EXPECT_EQ(route.content_type, "text/html; charset=utf-8");
  EXPECT_EQ(header_of(route, "Cache-Control"), "no-cache");
  EXPECT_EQ(get("/assets/index-Old00000.js").status, 404);
  EXPECT_EQ(get("/missing.png").status, 404);
}

TEST_F(WebRoutesTest, TheApiKeepsItsOwnAnswers) {
  EXPECT_EQ(get("/api/v1/thing").status, 200);
  Response unknown = get("/api/v1/nothing");
  EXPECT_EQ(unknown.status, 404);
  EXPECT_EQ(unknown.content_type, "application/json");
  EXPECT_NE(unknown.body.find("http.not_found"), std::string::npos);
  EXPECT_EQ(get("/api").status, 404);
  // Changes never reach the files.
  Request post;
  post.method = "POST";
  post.path = "/index.html";
  post.request_id = "req_test";
  std::string route;
  EXPECT_EQ(router_.dispatch(post, route).status, 404);
}

TEST_F(WebRoutesTest, NoPathLeavesTheRoot) {
  // Paths arrive decoded, so these are also what %2e%2e, %2E%2E and %5c become.
  for (const std::string& path : std::vector<std::string>{"/../secret.txt", "/assets/../../secret.txt", "/..", "/./index.html", "/assets/..",
                                 "/..\\secret.txt", "/assets\\..\\..\\secret.txt", "/.hidden", "/assets/link.txt",
                                 std::string("/index.html\0.js", 15)}) {
    SCOPED_TRACE(path);
    Response response = get(path);
    EXPECT_EQ(response.status, 404) << response.body;
    EXPECT_EQ(response.body.find("not for the web"), std::string::npos);
  }
}

TEST_F(WebRoutesTest, OverTheSocketEncodedClimbsAreRefusedAndCachingIsNotDoubled) {
  Metrics metrics;
  ServerOptions options;
  options.port = onewindow::testing::free_port();
  options.access_log = false;
  Server server(router_, metrics, options);
  ASSERT_TRUE(server.start().ok());
  std::string base = "http://127.0.0.1:" + std::to_string(options.port);
  auto asset = http_request("GET", base + "/assets/index-Ab12Cd34.js");
  EXPECT_EQ(asset.status, 200);
  EXPECT_EQ(asset.headers["cache-control"], "public, max-age=31536000, immutable");
  EXPECT_EQ(asset.headers["x-content-type-options"], "nosniff");
  EXPECT_EQ(http_request("GET", base + "/api/v1/thing").headers["cache-control"], "no-store");
  for (const char* path : {"/%2e%2e/secret.txt", "/assets/%2E%2E/%2e%2e/secret.txt", "/%2e%2e%5csecret.txt",
                           "/assets/..%5c..%5csecret.txt", "/%252e%252e/secret.txt"}) {
    SCOPED_TRACE(path);
    auto response = http_request("GET", base + path);
    EXPECT_EQ(response.status, 404) << response.body;
    EXPECT_EQ(response.body.find("not for the web"), std::string::npos);
  }
  // An encoded slash is refused before any route (it would change which one matches).
  auto slash = http_request("GET", base + "/assets/..%2f..%2fsecret.txt");
  EXPECT_EQ(slash.status, 400);
  EXPECT_EQ(slash.body.find("not for the web"), std::string::npos);
  server.drain_and_stop();
}

TEST(WebRoutes, AnUnbuiltUiSaysSo) {
  Router router;
  add_web_routes(router, "/nonexistent/web/dist");
  Request request;
  request.method = "GET";
  request.path = "/";
  request.request_id = "req_test";
  std::string route;
  Response response = router.dispatch(request, route);
  EXPECT_EQ(response.status, 404);
  EXPECT_NE(response.body.find("not built"), std::string::npos);
}

TEST(WebRoutes, AnEmptyRootServesNothing) {
  Router router;
  add_web_routes(router, "");
  Request request;
  request.method = "GET";
  request.path = "/";
  request.request_id = "req_test";
  std::string route;
  EXPECT_EQ(router.dispatch(request, route).status, 404);
}

}  // namespace
}  // namespace onewindow::api
