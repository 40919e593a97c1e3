// Electronic licenses on SQLite and PostgreSQL: issuing in the caller's transaction makes a signed
// canonical document and its log entry, or nothing; verification says valid, revoked or expired
// and catches a tampered document; the openssl command line verifies a license offline from the
// public verify answer alone; the PDF renders with its Chinese name; a presentation lets one
// department fetch and verify what the holder showed it.
#include "license_fixture.h"

#include "base/identifiers.h"

#include <gmock/gmock.h>

namespace onewindow::license {
namespace {

using ::testing::HasSubstr;

using LicenseTest = LicenseFixture;

TEST_P(LicenseTest, IssuesASignedCanonicalDocumentWithItsMetadata) {
  auto issued = business_license();
  ASSERT_TRUE(issued.ok()) << issued.error().code << ": " << issued.error().message;
  const License& license = *issued;

  auto identifier = LicenseIdentifier::parse(license.identifier);
  ASSERT_TRUE(identifier.ok()) << identifier.error().message;
  EXPECT_EQ(identifier->type_code, "11370200MB0000035Y001");
  EXPECT_EQ(identifier->issuer_code, "11370200MB0000035Y");
  EXPECT_EQ(identifier->version, "001");
  EXPECT_EQ(identifier->serial.size(), 16u);
  EXPECT_EQ(identifier->serial.substr(0, 4), std::to_string(clock_.today().year()));
  EXPECT_EQ(identifier->check, *mod37_36_check_character(identifier->type_code + identifier->issuer_code +
                                                         identifier->serial + identifier->version));
  EXPECT_TRUE(license.identifier.starts_with("1.2.156.3005.2.11370200MB0000035Y001.11370200MB0000035Y."));

  nlohmann::json document = license.fields();
  EXPECT_EQ(*audit::canonical_json(document), license.document) << "stored as its canonical form";
  EXPECT_EQ(document["kind"], "onewindow.license.v1");
  EXPECT_EQ(document["license_name"], "营业执照");
  EXPECT_EQ(document["license_type_name"], "营业执照");
  EXPECT_EQ(document["license_type_code"], "11370200MB0000035Y001");
  EXPECT_EQ(document["license_number"], "91110000600037341L");
  EXPECT_EQ(document["identifier"], license.identifier);
  EXPECT_EQ(document["holder_name"], "青岛示范有限公司");
  EXPECT_EQ(document["holder_id"], enterprise_code);
  EXPECT_EQ(document["holder_id_type"], "001");
  EXPECT_EQ(document["issuer_name"], "青岛市市场监督管理局");
  EXPECT_EQ(document["issuer_code"], "11370200MB0000035Y");
  EXPECT_EQ(document["issue_date"], clock_.today().to_string());
  EXPECT_EQ(document["valid_from"], clock_.today().to_string());
  EXPECT_TRUE(document["valid_to"].is_null()) << "a business license does not expire";
  EXPECT_EQ(document["jurisdiction"], "370200");
  EXPECT_TRUE(document["related_license"].is_null());
  EXPECT_EQ(document["data"]["legal_representative"], "李四");

  // Signed by market's certificate, which the root certifies.
  auto chain = authority_->chain(license.certificate_serial);
  ASSERT_TRUE(chain.ok());
  EXPECT_EQ(chain->front().subject().serial_number, "11370200MB0000035Y");
  EXPECT_TRUE(chain->front().public_key().verify(license.document, license.signature).ok());

  // Recorded, with the hash of exactly what was signed.
  nlohmann::json entry = last_entry();
  EXPECT_EQ(entry["action"], "license.issue");
  EXPECT_EQ(entry["object_id"], license.identifier);
  EXPECT_EQ(entry["actor"], "acc_market_official");
  EXPECT_EQ(entry["details"]["document_sm3"], crypto::to_hex(crypto::sm3(license.document)));
  EXPECT_EQ(license.log_index, log_size() - 1);

  auto read = licenses_->license(license.identifier);
  ASSERT_TRUE(read.ok());
  EXPECT_EQ(read->document, license.document);
  EXPECT_EQ(read->signature, license.signature);
  auto held = licenses_->licenses_of(enterprise_);
  ASSERT_TRUE(held.ok());
  ASSERT_EQ(held->size(), 1u);
  EXPECT_EQ(held->front().identifier, license.identifier);
  EXPECT_TRUE(licenses_->licenses_of(citizen_)->empty());
  EXPECT_EQ(licenses_->licenses_of({}).error().code, "license.not_holder");
}

TEST_P(LicenseTest, IssuingRunsInTheCallersTransactionAndRollsBackWithIt) {
  IssueRequest request{"social_security_card", "张三", citizen_id};
  // Inside a transaction no certificate can be issued: without one the issue is refused.
  Status refused = database_->write([&](store::Session& session) { return licenses_->issue(session, request, hrss_).status(); });
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().code, "license.no_certificate");

  ASSERT_TRUE(licenses_->ensure_certificates().ok());
  EXPECT_EQ(authority_->list({pki::SubjectKind::department, "", pki::CertificateStatus::active})->size(), 6u)
      << "market, police, tax, hrss, health and medins issue the configured types";
  std::int64_t before = log_size();
  std::string identifier;
  Status rolled_back = database_->write([&](store::Session& session) -> Status {
    auto issued = licenses_->issue(session, request, hrss_);
    if (!issued.ok()) return issued.take_error();
    identifier = issued->identifier;
    return Error(ErrorKind::conflict, "test.approval_failed", "the approval step failed after the license");
  });
  EXPECT_EQ(rolled_back.error().code, "test.approval_failed");
  ASSERT_FALSE(identifier.empty());
  EXPECT_EQ(licenses_->license(identifier).error().code, "license.not_found");
  EXPECT_EQ(log_size(), before) << "the log entry went with the license";

  // Two licenses in one approval commit together.
  std::vector<std::string> both;
  ASSERT_TRUE(database_
                  ->write([&](store::Session& session) -> Status {
                    for (const Actor* by : {&hrss_, &hrss_}) {
                      auto issued = licenses_->issue(session, request, *by);
                      if (!issued.ok()) return issued.take_error();
                      both.push_back(issued->identifier);
                    }
                    return ok_status();
                  })
                  .ok());
  EXPECT_NE(both[0], both[1]);
  EXPECT_EQ(licenses_->licenses_of(citizen_)->size(), 2u);
  EXPECT_EQ(log_size(), before + 2);
}

TEST_P(LicenseTest, RequestsAreCheckedNamingTheField) {
  auto with = [&](const std::function<void(IssueRequest&)>& change, const Actor& by) {
    IssueRequest request{"social_security_card", "张三", citizen_id};
    request.data = {{"card_number", "A12345678"}};
    change(request);
    return licenses_->issue(request, by);
  };
  auto expect = [](const Result<License>& result, const std::string& code, const std::string& field) {
    ASSERT_FALSE(result.ok());
    EXPECT_EQ(result.error().code, code);
    EXPECT_EQ(result.error().details.value("field", ""), field) << result.error().message;
  };
  expect(with([](IssueRequest& r) { r.type = "driving_license"; }, hrss_), "license.unknown_type", "type");
  expect(with([](IssueRequest&) {}, market_), "license.not_issuer", "type");
  expect(with([](IssueRequest& r) { r.holder_id = "360426199101010072"; }, hrss_), "identifiers.citizen_id_check",
         "holder_id");
  expect(with([](IssueRequest& r) { r.holder_id = enterprise_code; }, hrss_), "identifiers.citizen_id_characters",
         "holder_id");
  expect(with([](IssueRequest& r) { r.holder_name = ""; }, hrss_), "license.bad_field", "holder_name");
  expect(with([](IssueRequest& r) { r.holder_name = "张\x01三"; }, hrss_), "license.bad_field", "holder_name");
  expect(with([](IssueRequest& r) { r.data["colour"] = "blue"; }, hrss_), "license.unknown_item", "data.colour");
  expect(with([](IssueRequest& r) { r.data["bank"] = 95588; }, hrss_), "license.bad_field", "data.bank");
  expect(with([](IssueRequest& r) { r.data = nlohmann::json::array(); }, hrss_), "license.bad_field", "data");
  expect(with([](IssueRequest& r) { r.jurisdiction = "3702"; }, hrss_), "license.bad_field", "jurisdiction");
  expect(with([](IssueRequest& r) { r.related_license = "1.2.156.3005.2.x"; }, hrss_), "license.bad_identifier",
         "related_license");
  EXPECT_EQ(licenses_->licenses_of(citizen_)->size(), 0u);

  // The holder id is stored in its normal form, whatever case it came in.
  auto lower = with([](IssueRequest& r) { r.holder_id = "44011320141005001x"; }, hrss_);
  ASSERT_TRUE(lower.ok()) << lower.error().message;
  EXPECT_EQ(lower->holder_id, other_citizen_id);
  EXPECT_EQ(lower->fields()["holder_id_type"], "111");
}

TEST_P(LicenseTest, VerifySaysValidRevokedOrExpired) {
  auto card = social_security_card();
  ASSERT_TRUE(card.ok()) << card.error().message;
  auto valid = licenses_->verify(card->identifier);
  ASSERT_TRUE(valid.ok()) << valid.error().message;
  EXPECT_EQ(valid->outcome, Verification::Outcome::valid);
  EXPECT_TRUE(valid->signature_valid) << valid->problem;
  ASSERT_EQ(valid->chain.size(), 2u);
  EXPECT_EQ(valid->chain.back().fingerprint(), authority_->root_certificate().fingerprint());

  // Ten years from the issue date, less a day: valid on its last day, expired the next.
  Date issued_on = clock_.today();
  std::string last_day = card->valid_to;
  EXPECT_EQ(card->fields()["valid_to"], last_day);
  EXPECT_EQ(Date::parse(last_day)->plus_days(1).calendar(), issued_on.calendar() + std::chrono::years(10));
  clock_.set(local_day_start(*Date::parse(last_day)) + std::chrono::hours(23));
  EXPECT_EQ(licenses_->verify(card->identifier)->outcome, Verification::Outcome::valid);
  clock_.advance(std::chrono::hours(2));
  auto expired = licenses_->verify(card->identifier);
  EXPECT_EQ(expired->outcome, Verification::Outcome::expired);
  EXPECT_TRUE(expired->signature_valid) << "an expired license was still signed properly";
  EXPECT_EQ(expired->to_json()["status"], "expired");
  EXPECT_EQ(licenses_->present(card->identifier, citizen_, "acc_citizen", "tax", "报税").error().code, "license.not_valid");
}

TEST_P(LicenseTest, OnlyTheIssuingDepartmentRevokesWithAReason) {
  auto card = social_security_card();
  ASSERT_TRUE(card.ok()) << card.error().message;
  auto other = licenses_->revoke(card->identifier, "不应由本部门注销", police_);
  ASSERT_FALSE(other.ok());
  EXPECT_EQ(other.error().code, "license.not_issuer");
  EXPECT_EQ(other.error().kind, ErrorKind::permission_denied);
  EXPECT_EQ(licenses_->revoke(card->identifier, "", hrss_).error().details["field"], "reason");
  EXPECT_EQ(licenses_->verify(card->identifier)->outcome, Verification::Outcome::valid);

  auto revoked = licenses_->revoke(card->identifier, "卡片挂失 card reported lost", hrss_);
  ASSERT_TRUE(revoked.ok()) << revoked.error().message;
  EXPECT_TRUE(revoked->revoked);
  nlohmann::json entry = last_entry();
  EXPECT_EQ(entry["action"], "license.revoke");
  EXPECT_EQ(entry["basis"], "卡片挂失 card reported lost");
  EXPECT_EQ(licenses_->revoke(card->identifier, "again", hrss_).error().code, "license.already_revoked");

  auto verified = licenses_->verify(card->identifier);
  ASSERT_TRUE(verified.ok());
  EXPECT_EQ(verified->outcome, Verification::Outcome::revoked);
  EXPECT_TRUE(verified->signature_valid);
  nlohmann::json answer = verified->to_json();
  EXPECT_EQ(answer["status"], "revoked");
  EXPECT_EQ(answer["revocation_reason"], "卡片挂失 card reported lost");
  EXPECT_EQ(licenses_->license(card->identifier)->status_on(clock_.today()), LicenseStatus::revoked);
}

TEST_P(LicenseTest, ATamperedDocumentOrSignatureFailsVerification) {
  auto issued = business_license();
  ASSERT_TRUE(issued.ok()) << issued.error().message;
  auto tamper = [&](const std::string& sql, const store::Parameters& parameters) {
    ASSERT_TRUE(database_->write([&](store::Session& session) { return session.execute(sql, parameters).status(); }).ok());
  };
  // One character of the holder's name changed, the JSON still canonical.
  std::string changed = issued->document;
  changed.replace(changed.find("青岛示范"), std::string("青岛示范").size(), "青岛假冒");
  tamper("UPDATE license SET document = $1 WHERE identifier = $2", {changed, issued->identifier});
  auto verified = licenses_->verify(issued->identifier);
  ASSERT_TRUE(verified.ok());
  EXPECT_EQ(verified->outcome, Verification::Outcome::invalid);
  EXPECT_FALSE(verified->signature_valid);
  EXPECT_THAT(verified->problem, HasSubstr("signature does not verify"));
  EXPECT_EQ(verified->to_json()["status"], "invalid");

  // The document restored, the signature swapped for another license's.
  auto other = business_license("91370200MA3C8N2Q0X");
  ASSERT_TRUE(other.ok());
  tamper("UPDATE license SET document = $1, signature = $2 WHERE identifier = $3",
         {issued->document, store::Blob(other->signature), issued->identifier});
  EXPECT_EQ(licenses_->verify(issued->identifier)->outcome, Verification::Outcome::invalid);
  // Both restored: valid again.
  tamper("UPDATE license SET signature = $1 WHERE identifier = $2", {store::Blob(issued->signature), issued->identifier});
  EXPECT_EQ(licenses_->verify(issued->identifier)->outcome, Verification::Outcome::valid);
}

// What docs/license.md tells anyone to do, with nothing but the public verify answer, the root
// certificate and the openssl command line.
TEST_P(LicenseTest, TheOpensslCommandLineVerifiesALicenseOffline) {
  ASSERT_EQ(std::system("openssl version >/dev/null 2>&1"), 0) << "the openssl command is not installed";
  auto issued = business_license();
  ASSERT_TRUE(issued.ok()) << issued.error().message;
  auto verification = licenses_->verify(issued->identifier);
  ASSERT_TRUE(verification.ok());
  // As a client receives it: JSON text, parsed again.
  nlohmann::json answer = nlohmann::json::parse(verification->to_json().dump());
  files_.write("license.json", answer["document_canonical"].get<std::string>());
  auto signature = crypto::from_hex(answer["signature_hex"].get<std::string>());
  ASSERT_TRUE(signature.ok());
  files_.write("license.sig", std::string(signature->begin(), signature->end()));
  ASSERT_EQ(answer["certificate_chain_pem"].size(), 2u);
  files_.write("department.pem", answer["certificate_chain_pem"][0].get<std::string>());
  files_.write("root.pem", authority_->root_certificate().pem());
  auto in = [&](const std::string& command) {
    return testing::run_command("cd '" + files_.path().string() + "' && " + command);
  };

  auto key = in("openssl x509 -in department.pem -pubkey -noout > department.pub");
  ASSERT_EQ(key.exit_code, 0) << key.output;
  const std::string verify =
      "openssl pkeyutl -verify -pubin -inkey department.pub -sigfile license.sig -rawin -digest sm3 "
      "-in license.json -pkeyopt distid:1234567812345678";
  auto verified = in(verify);
  EXPECT_EQ(verified.exit_code, 0) << verified.output;
  EXPECT_THAT(verified.output, HasSubstr("Signature Verified Successfully"));
  auto chain = in("openssl verify -CAfile root.pem department.pem");
  EXPECT_EQ(chain.exit_code, 0) << chain.output;
  EXPECT_THAT(chain.output, HasSubstr("department.pem: OK"));
  auto subject = in("openssl x509 -in department.pem -noout -subject -nameopt utf8,sep_comma_plus");
  EXPECT_THAT(subject.output, HasSubstr("11370200MB0000035Y")) << "the certificate names the issuer";

  // One byte changed and openssl refuses it; the same ID left out and openssl refuses it too.
  std::string forged = answer["document_canonical"].get<std::string>();
  forged.replace(forged.find("李四"), std::string("李四").size(), "王五");
  files_.write("license.json", forged);
  EXPECT_NE(in(verify).exit_code, 0);
  files_.write("license.json", answer["document_canonical"].get<std::string>());
  EXPECT_NE(in("openssl pkeyutl -verify -pubin -inkey department.pub -sigfile license.sig -rawin -digest sm3 "
               "-in license.json")
                .exit_code,
            0)
      << "signed with the default distinguishing ID, not the empty one";
}

TEST_P(LicenseTest, ThePdfShowsTheLicenseAndRendersToAnImage) {
  ASSERT_EQ(std::system("pdftoppm -v >/dev/null 2>&1"), 0) << "poppler-utils is not installed";
  ASSERT_EQ(std::system("zbarimg --version >/dev/null 2>&1"), 0) << "zbar-tools is not installed";
  auto issued = business_license();
  ASSERT_TRUE(issued.ok()) << issued.error().message;
  auto pdf = licenses_->pdf(issued->identifier, enterprise_, "https://onewindow.qingdao.example/");
  ASSERT_TRUE(pdf.ok()) << pdf.error().message;
  EXPECT_TRUE(pdf->starts_with("%PDF-"));
  EXPECT_LT(pdf->size(), 200u * 1024) << "fonts are subset";
  files_.write("license.pdf", *pdf);
  auto in = [&](const std::string& command) {
    return testing::run_command("cd '" + files_.path().string() + "' && " + command);
  };
  auto rendered = in("pdftoppm -png -r 150 -singlefile license.pdf page");
  ASSERT_EQ(rendered.exit_code, 0) << rendered.output;
  std::string png = testing::read_file(files_.path() / "page.png");
  EXPECT_TRUE(png.starts_with("\x89PNG\r\n\x1a\n")) << "a PNG came out";
  EXPECT_GT(png.size(), 5000u);
  // The QR code on the page reads as the public verify URL.
  auto scanned = in("(zbarimg -q --raw page.png 2>/dev/null)");  // it may complain of no D-Bus
  EXPECT_EQ(scanned.exit_code, 0) << scanned.output;
  EXPECT_EQ(scanned.output, "https://onewindow.qingdao.example/api/v1/licenses/" + issued->identifier + "/verify\n");
  auto text = in("pdftotext -enc UTF-8 license.pdf -");
  ASSERT_EQ(text.exit_code, 0) << text.output;
  EXPECT_THAT(text.output, HasSubstr("营业执照"));
  EXPECT_THAT(text.output, HasSubstr("青岛示范有限公司"));
  EXPECT_THAT(text.output, HasSubstr("青岛市市场监督管理局"));
  EXPECT_THAT(text.output, HasSubstr("法定代表人"));
  EXPECT_THAT(text.output, HasSubstr("长期"));
  EXPECT_THAT(text.output, HasSubstr(issued->identifier));
  EXPECT_EQ(verify_url("https://onewindow.qingdao.example/", issued->identifier),
            "https://onewindow.qingdao.example/api/v1/licenses/" + issued->identifier + "/verify");

  // The issuing department may print it too; nobody else learns that it exists.
  EXPECT_TRUE(licenses_->pdf(issued->identifier, {"", "", "market"}, "http://x").ok());
  EXPECT_EQ(licenses_->pdf(issued->identifier, {"", "", "tax"}, "http://x").error().code, "license.not_found");
  EXPECT_EQ(licenses_->pdf(issued->identifier, citizen_, "http://x").error().code, "license.not_found");
  EXPECT_EQ(licenses_->license_for(issued->identifier, {"", "91370200MA3C8N2Q0X", ""}).error().code, "license.not_found");
  EXPECT_TRUE(licenses_->license_for(issued->identifier, enterprise_).ok());
}

TEST_P(LicenseTest, AHolderPresentsALicenseAndOnlyThatDepartmentFetchesIt) {
  auto card = social_security_card();
  ASSERT_TRUE(card.ok()) << card.error().message;
  EXPECT_EQ(licenses_->present(card->identifier, other_citizen_, "acc_other", "tax", "报税").error().code,
            "license.not_found")
      << "only the holder presents";
  EXPECT_EQ(licenses_->present(card->identifier, citizen_, "acc_citizen", "nowhere", "报税").error().details["field"],
            "department");
  EXPECT_EQ(licenses_->present(card->identifier, citizen_, "acc_citizen", "tax", "").error().details["field"], "purpose");

  auto presented = licenses_->present(card->identifier, citizen_, "acc_citizen", "medins", "医保参保登记 instead of a paper copy");
  ASSERT_TRUE(presented.ok()) << presented.error().message;
  EXPECT_TRUE(presented->id.starts_with("lpr_"));
  EXPECT_EQ(last_entry()["action"], "license.present");

  EXPECT_EQ(licenses_->presented(presented->id, {"acc_tax", "tax"}).error().code, "license.presentation_not_found");
  auto fetched = licenses_->presented(presented->id, {"acc_medins", "medins"});
  ASSERT_TRUE(fetched.ok()) << fetched.error().message;
  EXPECT_EQ(fetched->first.identifier, card->identifier);
  EXPECT_EQ(fetched->second.outcome, Verification::Outcome::valid);
  EXPECT_EQ(fetched->second.license->document, card->document);
  nlohmann::json entry = last_entry();
  EXPECT_EQ(entry["action"], "license.presentation_read");
  EXPECT_EQ(entry["actor"], "acc_medins");

  clock_.advance(std::chrono::hours(73));
  EXPECT_EQ(licenses_->presented(presented->id, {"acc_medins", "medins"}).error().code, "license.presentation_expired");
  EXPECT_EQ(licenses_->presented("lpr_nonsense", {"acc_medins", "medins"}).error().code, "license.presentation_not_found");
}

TEST_P(LicenseTest, EveryTypeIssuesAndVerifies) {
  ASSERT_EQ(configuration_->types.size(), 8u);
  for (const LicenseType& type : configuration_->types) {
    SCOPED_TRACE(type.key);
    IssueRequest request{type.key, type.holder == HolderKind::citizen ? "张三" : "青岛示范有限公司",
                         type.holder == HolderKind::citizen ? citizen_id : enterprise_code};
    for (const DataItem& item : type.items) request.data[item.name] = item.label + "（示例）";
    auto issued = licenses_->issue(request, {"acc_" + type.department, type.department});
    ASSERT_TRUE(issued.ok()) << issued.error().message;
    EXPECT_EQ(issued->fields()["license_type_code"], type.type_code());
    EXPECT_EQ(issued->fields()["valid_to"].is_null(), type.validity_years == 0);
    EXPECT_EQ(licenses_->verify(issued->identifier)->outcome, Verification::Outcome::valid);
    EXPECT_TRUE(licenses_->pdf(issued->identifier, {"", "", type.department}, "http://localhost:8080").ok());
  }
  EXPECT_EQ(licenses_->licenses_of(citizen_)->size(), 4u);
  EXPECT_EQ(licenses_->licenses_of(enterprise_)->size(), 4u);
}

TEST_P(LicenseTest, MalformedIdentifiersAreRefusedBeforeAnyLookUp) {
  EXPECT_EQ(licenses_->verify("nothing").error().code, "license.bad_identifier");
  auto issued = business_license();
  ASSERT_TRUE(issued.ok());
  std::string mistyped = issued->identifier;
  mistyped.back() = mistyped.back() == '0' ? '1' : '0';
  EXPECT_EQ(licenses_->verify(mistyped).error().code, "license.identifier_check");
  auto unknown = LicenseIdentifier::make("11370200MB0000035Y001", "11370200MB0000035Y", "2026AAAAAAAAAAAA", "001");
  ASSERT_TRUE(unknown.ok());
  auto missing = licenses_->verify(unknown->text());
  ASSERT_TRUE(missing.ok());
  EXPECT_EQ(missing->outcome, Verification::Outcome::not_found);
  EXPECT_EQ(licenses_->license(unknown->text()).error().code, "license.not_found");
}

INSTANTIATE_TEST_SUITE_P(Backends, LicenseTest, ::testing::Values(store::Backend::sqlite, store::Backend::postgresql),
                         [](const auto& info) { return std::string(store::backend_name(info.param)); });

}  // namespace
}  // namespace onewindow::license
