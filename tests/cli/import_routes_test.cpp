// Imports over HTTP: an official uploads a GB18030 CSV, the server imports it in the background,
// the official follows its percentage and downloads the rejected rows; another department sees
// no such import; a column the department does not own refuses the upload.
#include "served_platform.h"

#include <gtest/gtest.h>

#include <thread>

namespace onewindow::cli {
namespace {

using onewindow::testing::http_request;
using onewindow::testing::HttpResponse;

class ImportRoutes : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(served_.platform);
    police_ = served_.official("import.police", "police");
    police_["Content-Type"] = "text/csv";
    civil_ = served_.official("import.civil", "civil");
    base_ = served_.base;
  }

  static std::string citizen_id(const std::string& first_seventeen) {
    return first_seventeen + citizen_id_check_character(first_seventeen).value();
  }

  ServedPlatform served_;
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
  EXPECT_TRUE(served_.platform->registries->read("person", citizen_id("37028519900307123"), {"police"}).ok());

  HttpResponse report = http_request("GET", base_ + location + "/rejections", "", police_);
  ASSERT_EQ(report.status, 200);
  EXPECT_EQ(report.headers["content-type"], "text/csv; charset=utf-8");
  EXPECT_NE(report.headers["content-disposition"].find("attachment"), std::string::npos);
  EXPECT_NE(report.body.find("line,field,code,message\r\n3,sex,registry.value_enum,"), std::string::npos) << report.body;
  // The worker removes the upload just after the import's end is committed (an import that may
  // still resume keeps it), so the status can say finished a moment before the file is gone.
  auto upload_kept = [&] {
    return std::filesystem::exists(served_.directory.path() / "imports") &&
           !std::filesystem::is_empty(served_.directory.path() / "imports");
  };
  for (int attempt = 0; attempt < 100 && upload_kept(); ++attempt) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_FALSE(upload_kept()) << "the upload is removed once its import ends";

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
