// The requirement's proof: openid-client, a relying-party library nobody here wrote, logs a person
// in through the running server with the code flow and PKCE, validates the ID token (also with
// jose, against the JWKS), calls userinfo, and sees a replayed code refused
// (tests/oidc/client/code_flow.mjs). Three clients: confidential with client_secret_basic and
// client_secret_post, and a public client (token_endpoint_auth_method none).
#include "fixture.h"

#include <filesystem>

namespace onewindow::oidc {
namespace {

namespace fs = std::filesystem;
using onewindow::testing::run_command;

TEST_F(OidcPlatform, OpenidClientLogsInWithPkce) {
  const fs::path client_directory = onewindow::testing::source_dir() / "tests" / "oidc" / "client";
  ASSERT_TRUE(fs::exists(client_directory / "node_modules" / "openid-client" / "package.json"))
      << "tests/oidc/client/node_modules is missing: run `npm ci --prefix tests/oidc/client`";
  auto node = run_command("node --version");
  ASSERT_EQ(node.exit_code, 0) << "node (20 or later) is needed for this test: " << node.output;

  NewClient application;
  application.client_id = "demo-app";
  application.name = "示范应用 Demo app (public client)";
  application.kind = ClientKind::public_client;
  application.redirect_uris = {"http://127.0.0.1:8091/callback"};
  ASSERT_TRUE(provider_->register_client(application, operator_).ok());

  nlohmann::json plan = {
      {"issuer", issuer_},
      {"cookie", browser_login()},
      {"expected", {{"sub", citizen_.id}, {"name", "张三"}, {"preferred_username", "zhang.san"}}},
      {"runs",
       {{{"client_id", "demo-portal"}, {"client_secret", portal_secret_}, {"authentication", "client_secret_basic"},
         {"redirect_uri", redirect_uri}, {"scope", "openid profile"}},
        {{"client_id", "demo-portal"}, {"client_secret", portal_secret_}, {"authentication", "client_secret_post"},
         {"redirect_uri", redirect_uri}, {"scope", "openid profile"}},
        {{"client_id", "demo-app"}, {"authentication", "none"}, {"redirect_uri", "http://127.0.0.1:8091/callback"},
         {"scope", "openid profile"}}}}};
  onewindow::testing::TemporaryDirectory files;
  fs::path plan_file = files.write("plan.json", plan.dump());

  auto result = run_command("node '" + (client_directory / "code_flow.mjs").string() + "' '" + plan_file.string() + "'");
  ASSERT_EQ(result.exit_code, 0) << result.output;
  EXPECT_NE(result.output.find("code flow: all checks passed"), std::string::npos) << result.output;

  // Every run saw the key the provider publishes.
  auto keys = provider_->jwks();
  ASSERT_TRUE(keys.ok());
  std::string kid = (*keys)["keys"][0]["kid"];
  int runs = 0;
  std::istringstream lines(result.output);
  for (std::string line; std::getline(lines, line);) {
    auto run = nlohmann::json::parse(line, nullptr, false);
    if (!run.is_object()) continue;
    ++runs;
    EXPECT_EQ(run["kid"], kid) << line;
    EXPECT_EQ(run["sub"], citizen_.id) << line;
  }
  EXPECT_EQ(runs, 3) << result.output;
  // Each replayed code was noticed and recorded.
  EXPECT_EQ(recorded("oidc.code_reused"), 3);
}

}  // namespace
}  // namespace onewindow::oidc
