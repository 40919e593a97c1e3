// Imports over HTTP: an official uploads a GB18030 CSV, the server imports it in the background,
// the official follows its percentage and downloads the rejected rows; another department sees
// no such import; a column the department does not own refuses the upload.
#include "cli/cli.h"
#include "testing.h"

#include <gtest/gtest.h>

#include <thread>

namespace onewindow::cli {
namespace {

using onewindow::testing::http_request;
using onewindow::testing::HttpResponse;
using onewindow::testing::TemporaryDirectory;

class ImportRoutes : public ::testing::Test {
 protected:
  void SetUp() override {
    Settings settings = *load_settings(std::nullopt, [](const char*) -> const char* { return nullptr; }, {});
    settings.data_dir = directory_.path().string();
    settings.config_dir = onewindow::testing::config_dir().string();
    settings.http.access_log = false;
    settings.listen = "127.0.0.1:" + std::to_string(onewindow::testing::free_port());
    auto platform = build_platform(settings);
    ASSERT_TRUE(platform.ok()) << platform.error().message;
    platform_ = std::move(platform).value();
    server_ = std::make_unique<api::Server>(platform_->router, platform_->metrics, *server_options(settings));
    ASSERT_TRUE(server_->start().ok());
    base_ = "http://" + settings.listen;
    police_ = bearer("import.police", "police");
    civil_ = bearer("import.civil", "civil");
  }
  void TearDown() override {
    if (server_) server_->drain_and_stop();
  }

  std::map<std::string, std::string> bearer(const std::string& username, const std::string& department_key) {
    identity::Directory& directory = *platform_->directory;
    auto created = directory.create_account({identity::AccountKind::official, username, "import password 1", "办事员",
                                             directory.department_by_key(department_key)->id, {}, "", "", ""},
                                            nullptr);
    EXPECT_TRUE(created.ok());
    std::string code = *identity::Directory::totp_code(created->totp_secret, std::chrono::system_clock::now());
    auto login = directory.login({username, "import password 1", code, "127.0.0.1", identity::SessionKind::bearer});
    EXPECT_TRUE(login.ok());
    return {{"Authorization", "Bearer " + login->token}, {"Content-Type", "text/csv"}};
  }

  static std::string citizen_id(const std::string& first_seventeen) {
    return first_seventeen + citizen_id_check_character(first_seventeen).value();
  }

  TemporaryDirectory directory_;
  std::unique_ptr<Platform> platform_;
  std::unique_ptr<api::Server> server_;
  std::string base_;
  std::map<std::string, std::string> police_, civil_;
};

TEST_F(ImportRoutes, AnUploadIsImportedInTheBackgroundAndItsRejectedRowsDownloaded) {
  std::string csv = "id_number,name,sex,birth_date\r\n" + citizen_id("37028519900307123") + ",张三,1,1990-03-07\r\n" +
                    citizen_id("37028519910408124") + ",李四,7,1991-04-08\r\n" + citizen_id("37028519920509125") +
                    ",王五,1,1992-05-09\r\n";
  auto encoded = from_utf8(csv, TextEncoding::gb18030);
  ASSERT_TRUE(encoded.ok());
  HttpResponse upload = http_request("POST", base_ + "/api/v1/registries/person/imports?encoding=gb18030&reason=%E5%AF%BC%E5%85%A5",
                                     *encoded, police_);
  ASSERT_EQ(upload.status, 202) << upload.body;
  std::string location = upload.headers["location"];
  ASSERT_TRUE(location.starts_with("/api/v1/imports/imp_")) << location;

  nlohmann::json status;
  for (int attempt = 0; attempt < 200; ++attempt) {
    status = nlohmann::json::parse(http_request("GET", base_ + location, "", police_).body);
    if (status["state"] != "running") break;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_EQ(status["state"], "finished") << status.dump();
  EXPECT_EQ(status["percentage"], 100);
  EXPECT_EQ(status["rows_created"], 2);
  EXPECT_EQ(status["rows_rejected"], 1);
  EXPECT_TRUE(platform_->registries->read("person", citizen_id("37028519900307123"), {"police"}).ok());

  HttpResponse report = http_request("GET", base_ + location + "/rejections", "", police_);
  ASSERT_EQ(report.status, 200);
  EXPECT_EQ(report.headers["content-type"], "text/csv; charset=utf-8");
  EXPECT_NE(report.headers["content-disposition"].find("attachment"), std::string::npos);
  EXPECT_NE(report.body.find("line,field,code,message\r\n3,sex,registry.value_enum,"), std::string::npos) << report.body;
  EXPECT_FALSE(std::filesystem::exists(directory_.path() / "imports") &&
               !std::filesystem::is_empty(directory_.path() / "imports"))
      << "the upload is removed once its import ends";

  // Imports are their department's business.
  EXPECT_EQ(http_request("GET", base_ + location, "", civil_).status, 404);
  EXPECT_EQ(http_request("GET", base_ + location + "/rejections", "", civil_).status, 404);
}

TEST_F(ImportRoutes, BadUploadsAreRefusedNamingTheField) {
  HttpResponse not_owned = http_request("POST", base_ + "/api/v1/registries/person/imports?reason=x",
                                        "id_number,marital_status\r\n", police_);
  EXPECT_EQ(not_owned.status, 403);
  EXPECT_EQ(nlohmann::json::parse(not_owned.body)["error"]["details"]["field"], "marital_status");
  HttpResponse no_reason = http_request("POST", base_ + "/api/v1/registries/person/imports", "id_number,name\r\n", police_);
  EXPECT_EQ(no_reason.status, 400);
  EXPECT_EQ(nlohmann::json::parse(no_reason.body)["error"]["details"]["field"], "reason");
  HttpResponse bad_encoding = http_request("POST", base_ + "/api/v1/registries/person/imports?reason=x&encoding=latin1",
                                           "id_number,name\r\n", police_);
  EXPECT_EQ(bad_encoding.status, 400);
  EXPECT_EQ(nlohmann::json::parse(bad_encoding.body)["error"]["details"]["field"], "encoding");
  HttpResponse unknown = http_request("POST", base_ + "/api/v1/registries/vehicles/imports?reason=x", "a\r\n", police_);
  EXPECT_EQ(unknown.status, 404);
  EXPECT_EQ(http_request("GET", base_ + "/api/v1/imports/imp_nothing", "", police_).status, 404);
}

}  // namespace
}  // namespace onewindow::cli
