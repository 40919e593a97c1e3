// Tests for the X.509 part of src/crypto: certificates and CRLs round trip through PEM and DER,
// profiles are checked, and the stock `openssl` command line reads, verifies and revokes what
// we issue (the SM2 distinguishing ID finding of docs/crypto.md).
#include "crypto/crypto.h"
#include "testing.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

namespace onewindow::crypto {
namespace {

using namespace std::chrono_literals;
using onewindow::testing::run_command;
using onewindow::testing::TemporaryDirectory;
using std::chrono::system_clock;

Bytes serial_of(std::initializer_list<std::uint8_t> bytes) { return Bytes(bytes); }

system_clock::time_point whole_seconds(system_clock::time_point time) {
  return std::chrono::floor<std::chrono::seconds>(time);
}

// A root CA, a department and a node, as the certificate authority makes them.
struct Hierarchy {
  PrivateKey root_key = PrivateKey::generate().value();
  PrivateKey department_key = PrivateKey::generate().value();
  PrivateKey node_key = PrivateKey::generate().value();
  system_clock::time_point now = whole_seconds(system_clock::now());
  Certificate root = make_root(x509_sm2_id);
  Certificate department = make_department(x509_sm2_id);
  Certificate node = make_node();

  CertificateProfile root_profile(std::string_view id) const {
    CertificateProfile profile;
    profile.subject = {"CN", "", "", "onewindow 青岛市", "", "onewindow Root CA 青岛市", ""};
    profile.serial = serial_of({0x41, 0x01});
    profile.not_before = now - 1h;
    profile.not_after = now + 24h * 365 * 20;
    profile.certificate_authority = true;
    profile.path_length = 0;
    profile.key_usage.certificate_sign = true;
    profile.key_usage.crl_sign = true;
    profile.distinguishing_id = std::string(id);
    return profile;
  }
  Certificate make_root(std::string_view id) const {
    return issue_self_signed_certificate(root_profile(id), root_key).value();
  }
  CertificateProfile department_profile(std::string_view id) const {
    CertificateProfile profile;
    profile.subject = {
        "CN", "", "", "onewindow 青岛市", "", "青岛市行政审批服务局", "11370200MB2856315B"};
    profile.serial = serial_of({0x52, 0x02, 0x03});
    profile.not_before = now - 1h;
    profile.not_after = now + 24h * 730;
    profile.key_usage.digital_signature = true;
    profile.key_usage.non_repudiation = true;
    profile.uris = {"urn:uscc:11370200MB2856315B"};
    profile.revocation_list_url = "https://onewindow.example.cn/api/v1/pki/crl";
    profile.distinguishing_id = std::string(id);
    return profile;
  }
  Certificate make_department(std::string_view id) const {
    return issue_certificate(department_profile(id), department_key.public_key(), root, root_key)
        .value();
  }
  Certificate make_node() const {
    CertificateProfile profile;
    profile.subject = {"CN", "", "", "onewindow 青岛市", "", "onewindow node 青岛市", "370200"};
    profile.serial = serial_of({0x63, 0x04});
    profile.not_before = now - 1h;
    profile.not_after = now + 24h * 730;
    profile.key_usage.digital_signature = true;
    profile.dns_names = {"node.onewindow.example.cn"};
    return issue_certificate(profile, node_key.public_key(), root, root_key).value();
  }
};

// ---- Certificates ------------------------------------------------------------------------------

TEST(Certificate, SelfSignedRootCarriesItsProfile) {
  Hierarchy h;
  const Certificate& root = h.root;
  EXPECT_EQ(root.subject().common_name, "onewindow Root CA 青岛市");
  EXPECT_EQ(root.subject().country, "CN");
  EXPECT_EQ(root.issuer(), root.subject());
  EXPECT_EQ(root.subject_text(), "CN=onewindow Root CA 青岛市,O=onewindow 青岛市,C=CN");
  EXPECT_EQ(root.serial_hex(), "4101");
  EXPECT_EQ(root.not_before(), h.now - 1h);
  EXPECT_EQ(root.not_after(), h.now + 24h * 365 * 20);
  EXPECT_TRUE(root.certificate_authority());
  EXPECT_EQ(root.path_length(), 0);
  ASSERT_TRUE(root.key_usage().has_value());
  KeyUsage expected;
  expected.certificate_sign = true;
  expected.crl_sign = true;
  EXPECT_EQ(*root.key_usage(), expected);
  EXPECT_EQ(root.subject_key_identifier().size(), 20u);
  EXPECT_EQ(root.authority_key_identifier(), root.subject_key_identifier());
  EXPECT_EQ(root.public_key().to_hex(), h.root_key.public_key().to_hex());
  EXPECT_TRUE(root.verify_signature(h.root_key.public_key()).ok());
  EXPECT_NE(root.pem().find("-----BEGIN CERTIFICATE-----"), std::string::npos);
}

TEST(Certificate, IssuedCertificateCarriesItsProfile) {
  Hierarchy h;
  const Certificate& department = h.department;
  EXPECT_EQ(department.subject().common_name, "青岛市行政审批服务局");
  EXPECT_EQ(department.subject().serial_number, "11370200MB2856315B");
  EXPECT_EQ(department.issuer(), h.root.subject());
  EXPECT_EQ(department.serial_hex(), "520203");
  EXPECT_FALSE(department.certificate_authority());
  EXPECT_EQ(department.path_length(), -1);
  KeyUsage expected;
  expected.digital_signature = true;
  expected.non_repudiation = true;
  EXPECT_EQ(department.key_usage(), expected);
  EXPECT_EQ(department.authority_key_identifier(), h.root.subject_key_identifier());
  EXPECT_NE(department.subject_key_identifier(), h.root.subject_key_identifier());
  EXPECT_EQ(department.uris(), std::vector<std::string>{"urn:uscc:11370200MB2856315B"});
  EXPECT_TRUE(department.dns_names().empty());
  EXPECT_EQ(department.revocation_list_url(), "https://onewindow.example.cn/api/v1/pki/crl");
  EXPECT_EQ(h.node.dns_names(), std::vector<std::string>{"node.onewindow.example.cn"});
  EXPECT_TRUE(department.verify_signature(h.root_key.public_key()).ok());
  EXPECT_EQ(department.verify_signature(h.department_key.public_key()).error().code,
            "crypto.bad_signature");
  // Made with the empty ID: the GM/T default ID does not verify it.
  EXPECT_EQ(department.verify_signature(h.root_key.public_key(), sm2_default_id).error().code,
            "crypto.bad_signature");
}

TEST(Certificate, RoundTripsThroughPemAndDer) {
  Hierarchy h;
  auto from_pem = Certificate::from_pem(h.department.pem());
  ASSERT_TRUE(from_pem.ok()) << from_pem.error().message;
  EXPECT_EQ(from_pem->der(), h.department.der());
  auto from_der = Certificate::from_der(h.department.der());
  ASSERT_TRUE(from_der.ok()) << from_der.error().message;
  EXPECT_EQ(from_der->pem(), h.department.pem());
  EXPECT_EQ(from_der->subject(), h.department.subject());
  EXPECT_EQ(from_der->fingerprint(), sm3(h.department.der()));
  EXPECT_TRUE(from_der->verify_signature(h.root_key.public_key()).ok());
}

TEST(Certificate, RefusesWhatIsNotOneSm2Certificate) {
  EXPECT_EQ(Certificate::from_pem("hello").error().code, "crypto.bad_certificate");
  EXPECT_EQ(Certificate::from_pem("").error().code, "crypto.bad_certificate");
  EXPECT_EQ(Certificate::from_der(Bytes{0x30, 0x03, 0x02, 0x01, 0x01}).error().code,
            "crypto.bad_certificate");
  Hierarchy h;
  Bytes longer = h.root.der();
  longer.push_back(0);
  EXPECT_EQ(Certificate::from_der(longer).error().code, "crypto.bad_certificate");

  TemporaryDirectory directory;
  std::string dir = directory.path().string();
  auto made = run_command("cd '" + dir +
                          "' && openssl req -x509 -newkey ec -pkeyopt "
                          "ec_paramgen_curve:P-256 -nodes -keyout k.pem -subj /CN=p256 -days 1 "
                          "-out p256.pem");
  ASSERT_EQ(made.exit_code, 0) << made.output;
  auto p256 = Certificate::from_pem(onewindow::testing::read_file(directory.path() / "p256.pem"));
  ASSERT_FALSE(p256.ok());
  EXPECT_EQ(p256.error().code, "crypto.bad_key");
}

TEST(Certificate, ProfileMistakesNameTheField) {
  Hierarchy h;
  auto field_of = [&](const CertificateProfile& profile) {
    auto issued = issue_certificate(profile, h.department_key.public_key(), h.root, h.root_key);
    EXPECT_FALSE(issued.ok());
    if (issued.ok()) return std::string("(issued)");
    EXPECT_EQ(issued.error().code, "crypto.bad_profile") << issued.error().message;
    return issued.error().details.value("field", std::string());
  };
  CertificateProfile profile = h.department_profile(x509_sm2_id);
  profile.subject.common_name.clear();
  EXPECT_EQ(field_of(profile), "subject.common_name");
  profile = h.department_profile(x509_sm2_id);
  profile.subject.common_name = std::string(65, 'a');
  EXPECT_EQ(field_of(profile), "subject.common_name");
  profile = h.department_profile(x509_sm2_id);
  profile.subject.common_name = "\xff\xfe";
  EXPECT_EQ(field_of(profile), "subject.common_name");
  profile = h.department_profile(x509_sm2_id);
  profile.subject.country = "China";
  EXPECT_EQ(field_of(profile), "subject.country");
  profile = h.department_profile(x509_sm2_id);
  profile.subject.serial_number = "统一代码";
  EXPECT_EQ(field_of(profile), "subject.serial_number");
  profile = h.department_profile(x509_sm2_id);
  profile.serial = {0, 0};
  EXPECT_EQ(field_of(profile), "serial");
  profile.serial = Bytes(20, 0xff);
  EXPECT_EQ(field_of(profile), "serial");
  profile.serial = Bytes(21, 0x01);
  EXPECT_EQ(field_of(profile), "serial");
  profile = h.department_profile(x509_sm2_id);
  profile.not_after = profile.not_before;
  EXPECT_EQ(field_of(profile), "not_after");
  profile = h.department_profile(x509_sm2_id);
  profile.path_length = 1;
  EXPECT_EQ(field_of(profile), "path_length");
  profile = h.department_profile(x509_sm2_id);
  profile.key_usage = {};
  EXPECT_EQ(field_of(profile), "key_usage");
  profile = h.department_profile(x509_sm2_id);
  profile.dns_names = {"has space.example"};
  EXPECT_EQ(field_of(profile), "dns_names[0]");

  // Twenty bytes with the top bit clear are the most a serial may be.
  profile = h.department_profile(x509_sm2_id);
  profile.serial = Bytes(20, 0x7f);
  auto largest = issue_certificate(profile, h.department_key.public_key(), h.root, h.root_key);
  ASSERT_TRUE(largest.ok()) << largest.error().message;
  EXPECT_EQ(largest->serial(), Bytes(20, 0x7f));
}

TEST(Certificate, IssuerMustHoldTheKeyAndBeACa) {
  Hierarchy h;
  CertificateProfile profile = h.department_profile(x509_sm2_id);
  auto wrong_key = issue_certificate(profile, h.department_key.public_key(), h.root, h.node_key);
  EXPECT_EQ(wrong_key.error().code, "crypto.bad_issuer");
  auto not_a_ca =
      issue_certificate(profile, h.department_key.public_key(), h.department, h.department_key);
  EXPECT_EQ(not_a_ca.error().code, "crypto.bad_issuer");
  RevocationListProfile list;
  list.this_update = h.now;
  list.next_update = h.now + 24h;
  EXPECT_EQ(issue_revocation_list(list, h.department, h.department_key).error().code,
            "crypto.bad_issuer");
}

TEST(Certificate, SharedBetweenThreads) {
  Hierarchy h;
  std::atomic<int> failures = 0;
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 20; ++i) {
        Certificate copy = h.department;
        if (!copy.verify_signature(h.root_key.public_key()).ok()) ++failures;
        if (copy.subject().common_name != "青岛市行政审批服务局") ++failures;
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(failures, 0);
}

// ---- Revocation lists ------------------------------------------------------------------------

TEST(RevocationReasonNames, RoundTrip) {
  for (RevocationReason reason :
       {RevocationReason::unspecified, RevocationReason::key_compromise,
        RevocationReason::ca_compromise, RevocationReason::affiliation_changed,
        RevocationReason::superseded, RevocationReason::cessation_of_operation,
        RevocationReason::certificate_hold, RevocationReason::privilege_withdrawn,
        RevocationReason::aa_compromise}) {
    auto parsed = parse_revocation_reason(revocation_reason_name(reason));
    ASSERT_TRUE(parsed.ok());
    EXPECT_EQ(*parsed, reason);
  }
  auto bad = parse_revocation_reason("keyCompromise", "body.reason");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().code, "crypto.bad_revocation_reason");
  EXPECT_EQ(bad.error().details["field"], "body.reason");
}

TEST(RevocationList, CarriesItsEntriesAndRoundTrips) {
  Hierarchy h;
  RevocationListProfile profile;
  profile.this_update = h.now;
  profile.next_update = h.now + 24h * 7;
  profile.number = 42;
  profile.revoked = {{h.department.serial(), h.now - 10min, RevocationReason::key_compromise},
                     {serial_of({0, 0x7a}), h.now - 20min, RevocationReason::unspecified}};
  auto list = issue_revocation_list(profile, h.root, h.root_key);
  ASSERT_TRUE(list.ok()) << list.error().message;
  EXPECT_EQ(list->issuer(), h.root.subject());
  EXPECT_EQ(list->this_update(), h.now);
  EXPECT_EQ(list->next_update(), h.now + 24h * 7);
  EXPECT_EQ(list->number(), 42u);
  EXPECT_EQ(list->authority_key_identifier(), h.root.subject_key_identifier());
  ASSERT_EQ(list->revoked().size(), 2u);
  const RevokedCertificate* department = list->find(h.department.serial());
  ASSERT_NE(department, nullptr);
  EXPECT_EQ(department->reason, RevocationReason::key_compromise);
  EXPECT_EQ(department->revoked_at, h.now - 10min);
  const RevokedCertificate* other = list->find(serial_of({0x7a}));
  ASSERT_NE(other, nullptr);
  EXPECT_EQ(other->reason, RevocationReason::unspecified);
  EXPECT_EQ(list->find(h.node.serial()), nullptr);
  EXPECT_TRUE(list->verify_signature(h.root_key.public_key()).ok());
  EXPECT_EQ(list->verify_signature(h.node_key.public_key()).error().code, "crypto.bad_signature");

  auto again = RevocationList::from_pem(list->pem());
  ASSERT_TRUE(again.ok()) << again.error().message;
  EXPECT_EQ(again->der(), list->der());
  EXPECT_EQ(again->revoked(), list->revoked());
  EXPECT_EQ(RevocationList::from_der(list->der())->pem(), list->pem());
  EXPECT_EQ(RevocationList::from_pem(h.root.pem()).error().code, "crypto.bad_revocation_list");
}

TEST(RevocationList, ProfileMistakesNameTheField) {
  Hierarchy h;
  RevocationListProfile profile;
  profile.this_update = h.now;
  profile.next_update = h.now;
  EXPECT_EQ(issue_revocation_list(profile, h.root, h.root_key).error().details["field"],
            "next_update");
  profile.next_update = h.now + 1h;
  profile.revoked = {{serial_of({1}), h.now, RevocationReason::superseded},
                     {serial_of({0, 1}), h.now, RevocationReason::superseded}};
  EXPECT_EQ(issue_revocation_list(profile, h.root, h.root_key).error().details["field"],
            "revoked[1].serial");
}

// ---- The openssl command line ------------------------------------------------------------------

class X509Openssl : public ::testing::Test {
 protected:
  void SetUp() override {
    // scripts/setup installs the openssl command; without it these checks must fail, not pass.
    ASSERT_EQ(run_command("openssl version").exit_code, 0)
        << "the openssl command is not installed";
  }

  void write(const std::string& name, std::string_view text) {
    directory_.write(name, std::string(text));
  }
  void write(const std::string& name, const Bytes& bytes) {
    directory_.write(name, std::string(bytes.begin(), bytes.end()));
  }
  // Runs a command in the directory; returns its exit status and keeps what it printed.
  int run(const std::string& command) {
    auto result = run_command("cd '" + directory_.path().string() + "' && " + command);
    output_ = result.output;
    return result.exit_code;
  }

  TemporaryDirectory directory_;
  std::string output_;
};

TEST_F(X509Openssl, ReadsOurCertificates) {
  Hierarchy h;
  write("root.pem", h.root.pem());
  write("department.pem", h.department.pem());
  ASSERT_EQ(run("openssl x509 -in root.pem -noout -text"), 0) << output_;
  EXPECT_NE(output_.find("Signature Algorithm: SM2-with-SM3"), std::string::npos) << output_;
  EXPECT_NE(output_.find("CA:TRUE, pathlen:0"), std::string::npos) << output_;
  EXPECT_NE(output_.find("Certificate Sign, CRL Sign"), std::string::npos) << output_;
  EXPECT_NE(output_.find("ASN1 OID: SM2"), std::string::npos) << output_;

  ASSERT_EQ(run("openssl x509 -in department.pem -noout -text -nameopt utf8,sep_comma_plus"), 0)
      << output_;
  EXPECT_NE(output_.find("Version: 3 (0x2)"), std::string::npos) << output_;
  EXPECT_NE(output_.find("CN=青岛市行政审批服务局"), std::string::npos) << output_;
  EXPECT_NE(output_.find("serialNumber=11370200MB2856315B"), std::string::npos) << output_;
  EXPECT_NE(output_.find("critical"), std::string::npos) << output_;
  EXPECT_NE(output_.find("Digital Signature, Non Repudiation"), std::string::npos) << output_;
  EXPECT_NE(output_.find("URI:urn:uscc:11370200MB2856315B"), std::string::npos) << output_;
  EXPECT_NE(output_.find("URI:https://onewindow.example.cn/api/v1/pki/crl"), std::string::npos)
      << output_;

  // The key identifiers openssl prints are ours.
  std::string identifier = to_hex(h.department.authority_key_identifier());
  std::string colon_separated;
  for (std::size_t i = 0; i < identifier.size(); i += 2) {
    if (i > 0) colon_separated += ':';
    colon_separated += static_cast<char>(std::toupper(identifier[i]));
    colon_separated += static_cast<char>(std::toupper(identifier[i + 1]));
  }
  EXPECT_NE(output_.find(colon_separated), std::string::npos) << colon_separated << "\n" << output_;

  // DER too.
  write("department.der", h.department.der());
  ASSERT_EQ(run("openssl x509 -inform DER -in department.der -noout -serial"), 0) << output_;
  EXPECT_EQ(output_, "serial=520203\n");
}

TEST_F(X509Openssl, VerifyAcceptsRootToDepartmentAndRootToNode) {
  Hierarchy h;
  write("root.pem", h.root.pem());
  write("department.pem", h.department.pem());
  write("node.pem", h.node.pem());
  EXPECT_EQ(run("openssl verify -CAfile root.pem department.pem"), 0) << output_;
  EXPECT_EQ(output_, "department.pem: OK\n");
  EXPECT_EQ(run("openssl verify -CAfile root.pem node.pem"), 0) << output_;
  // The root's own signature too.
  EXPECT_EQ(run("openssl verify -check_ss_sig -CAfile root.pem root.pem"), 0) << output_;
  // Not against another root.
  Hierarchy other;
  write("other.pem", other.root.pem());
  EXPECT_NE(run("openssl verify -CAfile other.pem department.pem"), 0) << output_;
}

TEST_F(X509Openssl, VerifyRefusesATamperedCertificate) {
  Hierarchy h;
  Bytes der = h.department.der();
  std::string name = "11370200MB2856315B";  // the subject's serialNumber, inside the signed part
  auto at = std::search(der.begin(), der.end(), name.begin(), name.end());
  ASSERT_NE(at, der.end());
  *(at + 17) = 'C';  // a different check character: still a well-formed certificate
  auto tampered = Certificate::from_der(der);
  ASSERT_TRUE(tampered.ok()) << tampered.error().message;
  EXPECT_EQ(tampered->verify_signature(h.root_key.public_key()).error().code,
            "crypto.bad_signature");
  write("root.pem", h.root.pem());
  write("tampered.pem", tampered->pem());
  EXPECT_NE(run("openssl verify -CAfile root.pem tampered.pem"), 0) << output_;
  EXPECT_NE(output_.find("certificate signature failure"), std::string::npos) << output_;
}

TEST_F(X509Openssl, CrlVerifiesAndRevokes) {
  Hierarchy h;
  RevocationListProfile profile;
  profile.this_update = h.now - 1min;
  profile.next_update = h.now + 24h * 7;
  profile.number = 7;
  profile.revoked = {{h.department.serial(), h.now - 1min, RevocationReason::key_compromise}};
  auto list = issue_revocation_list(profile, h.root, h.root_key);
  ASSERT_TRUE(list.ok()) << list.error().message;
  write("root.pem", h.root.pem());
  write("department.pem", h.department.pem());
  write("node.pem", h.node.pem());
  write("crl.pem", list->pem());
  ASSERT_EQ(run("openssl crl -in crl.pem -noout -verify -CAfile root.pem"), 0) << output_;
  EXPECT_NE(output_.find("verify OK"), std::string::npos) << output_;
  ASSERT_EQ(run("openssl crl -in crl.pem -noout -text"), 0) << output_;
  EXPECT_NE(output_.find("Serial Number: 520203"), std::string::npos) << output_;
  EXPECT_NE(output_.find("Key Compromise"), std::string::npos) << output_;
  ASSERT_EQ(run("openssl crl -in crl.pem -noout -crlnumber"), 0) << output_;
  EXPECT_EQ(output_, "crlNumber=0x07\n");

  EXPECT_NE(run("openssl verify -crl_check -CRLfile crl.pem -CAfile root.pem department.pem"), 0)
      << output_;
  EXPECT_NE(output_.find("certificate revoked"), std::string::npos) << output_;
  EXPECT_EQ(run("openssl verify -crl_check -CRLfile crl.pem -CAfile root.pem node.pem"), 0)
      << output_;

  // A CRL signed by another key is refused.
  Hierarchy other;
  auto foreign = issue_revocation_list(profile, other.root, other.root_key);
  ASSERT_TRUE(foreign.ok());
  write("foreign.pem", foreign->pem());
  // `openssl crl -verify` exits 0 either way in OpenSSL 3.0: only what it prints tells.
  run("openssl crl -in foreign.pem -noout -verify -CAfile root.pem");
  EXPECT_NE(output_.find("verify failure"), std::string::npos) << output_;
  EXPECT_EQ(output_.find("verify OK"), std::string::npos) << output_;
}

// The finding behind x509_sm2_id: stock OpenSSL 3.0 checks certificate signatures with an empty
// SM2 ID. A certificate signed with the GM/T 0009 default ID fails plain `openssl verify` and
// passes only when the ID is given with -vfyopt.
TEST_F(X509Openssl, OpensslVerifiesCertificatesWithAnEmptyId) {
  Hierarchy h;
  Certificate standard = h.make_department(sm2_default_id);
  EXPECT_TRUE(standard.verify_signature(h.root_key.public_key(), sm2_default_id).ok());
  EXPECT_FALSE(standard.verify_signature(h.root_key.public_key()).ok());
  write("root.pem", h.root.pem());
  write("standard.pem", standard.pem());
  EXPECT_NE(run("openssl verify -CAfile root.pem standard.pem"), 0) << output_;
  EXPECT_EQ(run("openssl verify -vfyopt distid:1234567812345678 -CAfile root.pem standard.pem"), 0)
      << output_;
  // And a CRL signed with the default ID does not pass `openssl crl -verify`, which has no way
  // to be given the ID.
  RevocationListProfile profile;
  profile.this_update = h.now - 1min;
  profile.next_update = h.now + 24h;
  profile.distinguishing_id = std::string(sm2_default_id);
  auto list = issue_revocation_list(profile, h.root, h.root_key);
  ASSERT_TRUE(list.ok());
  EXPECT_TRUE(list->verify_signature(h.root_key.public_key(), sm2_default_id).ok());
  write("standard-crl.pem", list->pem());
  run("openssl crl -in standard-crl.pem -noout -verify -CAfile root.pem");
  EXPECT_NE(output_.find("verify failure"), std::string::npos) << output_;
  EXPECT_EQ(output_.find("verify OK"), std::string::npos) << output_;
  // Nor `openssl verify -crl_check`, which reports the CRL's signature as bad.
  write("department.pem", h.department.pem());
  EXPECT_NE(run("openssl verify -crl_check -CRLfile standard-crl.pem -CAfile root.pem "
                "department.pem"),
            0)
      << output_;
  EXPECT_NE(output_.find("CRL signature failure"), std::string::npos) << output_;
}

}  // namespace
}  // namespace onewindow::crypto
