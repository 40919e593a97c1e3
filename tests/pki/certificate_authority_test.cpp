// The certificate authority against SQLite and against the PostgreSQL server that
// scripts/test starts: first use, reopening, the key-encryption key, keys at rest, issuing,
// rotation, revocation and CRLs, and the openssl command line over what it issues.
#include "pki/pki.h"

#include "base/identifiers.h"
#include "testing.h"

#include <gtest/gtest.h>

#include <mutex>
#include <set>
#include <thread>

namespace onewindow::pki {
namespace {

using namespace std::chrono_literals;
using onewindow::testing::run_command;
using onewindow::testing::TemporaryDirectory;

const crypto::Bytes key_encryption_key =
    crypto::from_hex("00112233445566778899aabbccddeeff").value();
const crypto::Bytes other_key_encryption_key =
    crypto::from_hex("ffeeddccbbaa99887766554433221100").value();
const NodeIdentity qingdao{"370200", "青岛市"};

// A valid USCC (a state organ in Qingdao) whose organization code starts with `body`.
std::string uscc(std::string_view body) {
  std::string eight = std::string(body) + std::string(8 - body.size(), '0');
  std::string seventeen = "11370200" + eight + organization_code_check_character(eight).value();
  return seventeen + unified_social_credit_code_check_character(seventeen).value();
}

class CertificateAuthorityTest : public ::testing::TestWithParam<store::Backend> {
 protected:
  Result<CertificateAuthority> open(const crypto::Bytes& key = key_encryption_key,
                                    NodeIdentity node = qingdao) {
    return CertificateAuthority::open(*database_, key, clock_, std::move(node));
  }
  CertificateAuthority open_or_fail() {
    auto authority = open();
    EXPECT_TRUE(authority.ok()) << authority.error().code << ": " << authority.error().message;
    return std::move(authority).value();
  }

  std::vector<store::Row> rows(const std::string& sql, const store::Parameters& parameters = {}) {
    auto result = database_->read_value<std::vector<store::Row>>(
        [&](store::Session& session) { return session.query(sql, parameters); });
    EXPECT_TRUE(result.ok()) << result.error().message;
    return result.ok() ? std::move(result).value() : std::vector<store::Row>{};
  }

  // The certificates must be valid now for the openssl command line, so the clock starts at
  // the real time.
  ManualClock clock_{std::chrono::system_clock::now()};
  onewindow::testing::TestDatabase database_{GetParam(), CertificateAuthority::migrations()};
};

TEST_P(CertificateAuthorityTest, FirstOpenCreatesTheRootAndTheNodeCertificate) {
  CertificateAuthority authority = open_or_fail();
  const crypto::Certificate& root = authority.root_certificate();
  EXPECT_EQ(root.subject().common_name, "onewindow Root CA 青岛市");
  EXPECT_EQ(root.subject().serial_number, "370200");
  EXPECT_EQ(root.issuer(), root.subject());
  EXPECT_TRUE(root.certificate_authority());
  EXPECT_EQ(root.path_length(), 0);
  EXPECT_TRUE(root.verify_signature(root.public_key()).ok());
  EXPECT_GE(root.not_after() - root.not_before(), std::chrono::days(7305));
  EXPECT_EQ(root.serial_hex().size(), 32u);

  auto node = authority.node_certificate();
  ASSERT_TRUE(node.ok()) << node.error().message;
  EXPECT_EQ(node->subject_kind, SubjectKind::node);
  EXPECT_EQ(node->subject_key, "370200");
  EXPECT_EQ(node->subject_name, "青岛市");
  EXPECT_EQ(node->status, CertificateStatus::active);
  EXPECT_EQ(node->issuer_serial, root.serial_hex());
  auto certificate = crypto::Certificate::from_pem(node->certificate_pem);
  ASSERT_TRUE(certificate.ok());
  EXPECT_EQ(certificate->serial_hex(), node->serial);
  EXPECT_EQ(certificate->subject().common_name, "onewindow node 青岛市");
  EXPECT_FALSE(certificate->certificate_authority());
  EXPECT_TRUE(certificate->verify_signature(root.public_key()).ok());
  auto key = authority.node_key();
  ASSERT_TRUE(key.ok()) << key.error().message;
  EXPECT_EQ(key->public_key().to_hex(), certificate->public_key().to_hex());

  auto all = authority.list();
  ASSERT_TRUE(all.ok());
  EXPECT_EQ(all->size(), 2u);
  auto roots = authority.list({SubjectKind::root, "", std::nullopt});
  ASSERT_TRUE(roots.ok());
  ASSERT_EQ(roots->size(), 1u);
  EXPECT_EQ(roots->front().serial, root.serial_hex());
  EXPECT_EQ(roots->front().issuer_serial, "");
}

TEST_P(CertificateAuthorityTest, NodePublicKeyNeedsNoKeyEncryptionKey) {
  EXPECT_EQ(node_public_key(*database_).error().code, "pki.certificate_not_found");
  CertificateAuthority authority = open_or_fail();
  auto public_key = node_public_key(*database_);
  ASSERT_TRUE(public_key.ok()) << public_key.error().message;
  EXPECT_EQ(public_key->to_hex(), authority.node_key()->public_key().to_hex());
  ASSERT_TRUE(authority.rotate(SubjectKind::node, "370200").ok());
  EXPECT_EQ(node_public_key(*database_)->to_hex(), authority.node_key()->public_key().to_hex());
}

TEST_P(CertificateAuthorityTest, ReopeningLoadsTheSameRootAndNode) {
  std::string root_pem;
  std::string node_serial;
  {
    CertificateAuthority first = open_or_fail();
    root_pem = first.root_certificate().pem();
    node_serial = first.node_certificate()->serial;
  }
  CertificateAuthority second = open_or_fail();
  EXPECT_EQ(second.root_certificate().pem(), root_pem);
  EXPECT_EQ(second.node_certificate()->serial, node_serial);
  EXPECT_EQ(second.list()->size(), 2u);
  // The node's key still decrypts under the same key-encryption key.
  EXPECT_TRUE(second.node_key().ok());
}

TEST_P(CertificateAuthorityTest, WrongKeyEncryptionKeyIsRefused) {
  ASSERT_TRUE(open().ok());
  auto wrong = open(other_key_encryption_key);
  ASSERT_FALSE(wrong.ok());
  EXPECT_EQ(wrong.error().code, "pki.wrong_key_encryption_key");
  auto short_key = open(crypto::Bytes(15, 1));
  ASSERT_FALSE(short_key.ok());
  EXPECT_EQ(short_key.error().code, "pki.bad_key_encryption_key");
  // Nothing was written by the refused attempts.
  EXPECT_EQ(open()->list()->size(), 2u);
}

TEST_P(CertificateAuthorityTest, NodeIdentityIsCheckedAndFollowed) {
  auto bad_code = open(key_encryption_key, {"3702", "青岛市"});
  ASSERT_FALSE(bad_code.ok());
  EXPECT_EQ(bad_code.error().code, "pki.bad_node_identity");
  EXPECT_EQ(bad_code.error().details["field"], "node.division_code");
  auto bad_name = open(key_encryption_key, {"370200", ""});
  ASSERT_FALSE(bad_name.ok());
  EXPECT_EQ(bad_name.error().details["field"], "node.name");

  std::string first_node = open_or_fail().node_certificate()->serial;
  auto other = open(key_encryption_key, {"370100", "济南市"});
  ASSERT_FALSE(other.ok());
  EXPECT_EQ(other.error().code, "pki.node_identity_changed");

  // A new name for the same division: the node gets a new certificate, the old is superseded.
  auto renamed = open(key_encryption_key, {"370200", "青岛市人民政府"});
  ASSERT_TRUE(renamed.ok()) << renamed.error().message;
  auto node = renamed->node_certificate();
  ASSERT_TRUE(node.ok());
  EXPECT_NE(node->serial, first_node);
  EXPECT_EQ(node->subject_name, "青岛市人民政府");
  EXPECT_EQ(node->supersedes, first_node);
  EXPECT_EQ(renamed->certificate(first_node)->status, CertificateStatus::superseded);
}

TEST_P(CertificateAuthorityTest, NodeCertificateIsRenewedNearItsEnd) {
  std::string first_node = open_or_fail().node_certificate()->serial;
  clock_.advance(std::chrono::days(701));  // 29 days before the end of two years
  CertificateAuthority authority = open_or_fail();
  auto node = authority.node_certificate();
  ASSERT_TRUE(node.ok());
  EXPECT_NE(node->serial, first_node);
  EXPECT_EQ(node->supersedes, first_node);
}

TEST_P(CertificateAuthorityTest, PrivateKeysAreEncryptedAndBoundToTheirCertificate) {
  CertificateAuthority authority = open_or_fail();
  std::string first = uscc("A1");
  std::string second = uscc("B2");
  auto a = authority.issue_department_certificate(first, "青岛市行政审批服务局");
  auto b = authority.issue_department_certificate(second, "青岛市市场监督管理局");
  ASSERT_TRUE(a.ok() && b.ok());

  auto stored = rows("SELECT serial, envelope FROM pki_private_key");
  ASSERT_EQ(stored.size(), 4u);  // root, node, two departments
  for (const store::Row& row : stored) {
    const store::Blob& envelope = row.blob(1);
    std::string text(envelope.begin(), envelope.end());
    EXPECT_EQ(text.find("PRIVATE KEY"), std::string::npos);
    EXPECT_EQ(text.find("BEGIN"), std::string::npos);
    EXPECT_FALSE(crypto::PrivateKey::from_pem(text).ok());
    EXPECT_EQ(envelope[0], crypto::Sm4Envelope::version);
  }

  // The envelope is SM4 under the key-encryption key with the serial as associated data
  // (docs/pki.md): decrypting it by hand gives the department's key.
  auto envelope = crypto::Sm4Envelope::create(key_encryption_key).value();
  auto a_rows = rows("SELECT envelope FROM pki_private_key WHERE serial = $1", {a->serial});
  ASSERT_EQ(a_rows.size(), 1u);
  std::string data = "onewindow pki private key " + a->serial;
  auto plaintext = envelope.decrypt(a_rows[0].blob(0), crypto::as_bytes(data));
  ASSERT_TRUE(plaintext.ok());
  auto key = crypto::PrivateKey::from_pem(std::string(plaintext->begin(), plaintext->end()));
  ASSERT_TRUE(key.ok());
  EXPECT_EQ(key->public_key().to_hex(), authority.department_key(first)->public_key().to_hex());

  // Moving A's envelope onto B's row does not give B A's key: it does not decrypt at all.
  Status moved = database_->write([&](store::Session& session) -> Status {
    auto changed = session.execute("UPDATE pki_private_key SET envelope = $1 WHERE serial = $2",
                                   {a_rows[0].blob(0), b->serial});
    if (!changed.ok()) return changed.take_error();
    return ok_status();
  });
  ASSERT_TRUE(moved.ok()) << moved.error().message;
  auto swapped = authority.department_key(second);
  ASSERT_FALSE(swapped.ok());
  EXPECT_EQ(swapped.error().code, "pki.wrong_key_encryption_key");
  EXPECT_TRUE(authority.department_key(first).ok());
}

TEST_P(CertificateAuthorityTest, IssuesDepartmentCertificates) {
  CertificateAuthority authority = open_or_fail();
  std::string code = uscc("C3");
  std::string lower = code;
  for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  auto issued = authority.issue_department_certificate(lower, "青岛市行政审批服务局");
  ASSERT_TRUE(issued.ok()) << issued.error().message;
  EXPECT_EQ(issued->subject_kind, SubjectKind::department);
  EXPECT_EQ(issued->subject_key, code);
  EXPECT_EQ(issued->subject_name, "青岛市行政审批服务局");
  EXPECT_EQ(issued->issuer_serial, authority.root_certificate().serial_hex());
  EXPECT_EQ(issued->supersedes, "");
  EXPECT_EQ(issued->issued_at, std::chrono::floor<std::chrono::milliseconds>(clock_.now()));
  EXPECT_EQ(issued->not_before, std::chrono::floor<std::chrono::seconds>(clock_.now() - 10min));
  EXPECT_EQ(issued->not_after,
            std::chrono::floor<std::chrono::seconds>(clock_.now() + std::chrono::days(730)));

  auto certificate = crypto::Certificate::from_pem(issued->certificate_pem);
  ASSERT_TRUE(certificate.ok());
  EXPECT_EQ(certificate->subject().common_name, "青岛市行政审批服务局");
  EXPECT_EQ(certificate->subject().serial_number, code);
  EXPECT_EQ(certificate->subject().locality, "青岛市");
  ASSERT_TRUE(certificate->key_usage().has_value());
  EXPECT_TRUE(certificate->key_usage()->digital_signature);
  EXPECT_TRUE(certificate->key_usage()->non_repudiation);
  EXPECT_FALSE(certificate->key_usage()->certificate_sign);
  EXPECT_TRUE(certificate->verify_signature(authority.root_certificate().public_key()).ok());

  auto key = authority.department_key(code);
  ASSERT_TRUE(key.ok()) << key.error().message;
  EXPECT_EQ(key->public_key().to_hex(), certificate->public_key().to_hex());
  // The key signs on the department's behalf, and the certificate's key checks it.
  auto signature = key->sign("电子证照 license 0001");
  ASSERT_TRUE(signature.ok());
  EXPECT_TRUE(certificate->public_key().verify("电子证照 license 0001", *signature).ok());

  auto chain = authority.chain(issued->serial);
  ASSERT_TRUE(chain.ok()) << chain.error().message;
  ASSERT_EQ(chain->size(), 2u);
  EXPECT_EQ((*chain)[0].serial_hex(), issued->serial);
  EXPECT_EQ((*chain)[1].pem(), authority.root_certificate().pem());
  auto root_chain = authority.chain(authority.root_certificate().serial_hex());
  ASSERT_TRUE(root_chain.ok());
  EXPECT_EQ(root_chain->size(), 1u);

  auto fetched = authority.certificate(issued->serial);
  ASSERT_TRUE(fetched.ok());
  EXPECT_EQ(fetched->certificate_pem, issued->certificate_pem);
  EXPECT_EQ(fetched->issued_at, issued->issued_at);
}

TEST_P(CertificateAuthorityTest, BadInputNamesTheField) {
  CertificateAuthority authority = open_or_fail();
  auto bad_uscc = authority.issue_department_certificate("91370200MA3C4XYZ9", "某局");
  ASSERT_FALSE(bad_uscc.ok());
  EXPECT_EQ(bad_uscc.error().kind, ErrorKind::invalid_argument);
  EXPECT_EQ(bad_uscc.error().details["field"], "uscc");
  std::string checked = uscc("D4");
  checked.back() = checked.back() == '0' ? '1' : '0';
  EXPECT_EQ(authority.issue_department_certificate(checked, "某局").error().code,
            "identifiers.unified_social_credit_code_check");
  for (std::string name : {std::string(), std::string(65, 'x'), std::string("bad\nname"),
                           std::string(" padded"), std::string("\xe9\x9d")}) {
    auto issued = authority.issue_department_certificate(uscc("D4"), name);
    ASSERT_FALSE(issued.ok()) << name;
    EXPECT_EQ(issued.error().code, "pki.bad_name") << name;
    EXPECT_EQ(issued.error().details["field"], "name");
  }
  // 64 Chinese characters are allowed: the limit counts characters, not bytes.
  std::string long_name;
  for (int i = 0; i < 64; ++i) long_name += "局";
  EXPECT_TRUE(authority.issue_department_certificate(uscc("D4"), long_name).ok());

  EXPECT_EQ(authority.certificate("xyz").error().code, "pki.bad_serial");
  EXPECT_EQ(authority.certificate("xyz").error().details["field"], "serial");
  EXPECT_EQ(authority.certificate(std::string(32, 'a')).error().code, "pki.certificate_not_found");
  EXPECT_EQ(authority.certificate(std::string(32, 'a')).error().kind, ErrorKind::not_found);
  EXPECT_EQ(authority.department_key(uscc("E5")).error().code, "pki.certificate_not_found");
  EXPECT_EQ(parse_revocation_reason("certificate_hold").error().code, "pki.bad_revocation_reason");
  EXPECT_EQ(parse_revocation_reason("ca_compromise").error().code, "pki.bad_revocation_reason");
}

TEST_P(CertificateAuthorityTest, RotationSupersedesTheOldCertificateAndDropsItsKey) {
  CertificateAuthority authority = open_or_fail();
  std::string code = uscc("F6");
  auto first = authority.issue_department_certificate(code, "青岛市行政审批服务局");
  ASSERT_TRUE(first.ok());
  std::string first_key = authority.department_key(code)->public_key().to_hex();
  clock_.advance(1h);

  auto second = authority.rotate(SubjectKind::department, code);
  ASSERT_TRUE(second.ok()) << second.error().message;
  EXPECT_NE(second->serial, first->serial);
  EXPECT_EQ(second->supersedes, first->serial);
  EXPECT_EQ(second->subject_name, "青岛市行政审批服务局");
  auto old = authority.certificate(first->serial);
  ASSERT_TRUE(old.ok());
  EXPECT_EQ(old->status, CertificateStatus::superseded);
  EXPECT_EQ(old->superseded_at, std::chrono::floor<std::chrono::milliseconds>(clock_.now()));
  std::string second_key = authority.department_key(code)->public_key().to_hex();
  EXPECT_NE(second_key, first_key);
  EXPECT_TRUE(
      rows("SELECT serial FROM pki_private_key WHERE serial = $1", {first->serial}).empty());

  // Issuing again rotates too, with a new name.
  auto third = authority.issue_department_certificate(code, "青岛市数据局");
  ASSERT_TRUE(third.ok());
  EXPECT_EQ(third->supersedes, second->serial);
  auto active = authority.list({SubjectKind::department, code, CertificateStatus::active});
  ASSERT_TRUE(active.ok());
  ASSERT_EQ(active->size(), 1u);
  EXPECT_EQ(active->front().serial, third->serial);
  EXPECT_EQ(active->front().subject_name, "青岛市数据局");
  EXPECT_EQ(authority.list({SubjectKind::department, code, std::nullopt})->size(), 3u);

  // The node rotates the same way; the root does not.
  std::string node = authority.node_certificate()->serial;
  auto rotated = authority.rotate(SubjectKind::node, "370200");
  ASSERT_TRUE(rotated.ok()) << rotated.error().message;
  EXPECT_EQ(rotated->supersedes, node);
  EXPECT_EQ(authority.node_certificate()->serial, rotated->serial);
  EXPECT_EQ(authority.rotate(SubjectKind::root, "370200").error().code,
            "pki.root_rotation_unsupported");
  EXPECT_EQ(authority.rotate(SubjectKind::department, uscc("G7")).error().code,
            "pki.certificate_not_found");
}

TEST_P(CertificateAuthorityTest, RevocationPutsTheSerialOnTheRevocationList) {
  CertificateAuthority authority = open_or_fail();
  std::string code = uscc("H8");
  auto issued = authority.issue_department_certificate(code, "青岛市行政审批服务局");
  auto kept = authority.issue_department_certificate(uscc("J9"), "青岛市公安局");
  ASSERT_TRUE(issued.ok() && kept.ok());
  auto before = authority.revocation_list();
  ASSERT_TRUE(before.ok()) << before.error().message;
  EXPECT_TRUE(before->revoked().empty());

  clock_.advance(5min);
  auto revoked = authority.revoke(issued->serial, crypto::RevocationReason::key_compromise);
  ASSERT_TRUE(revoked.ok()) << revoked.error().message;
  EXPECT_EQ(revoked->status, CertificateStatus::revoked);
  EXPECT_EQ(revoked->revoked_at, std::chrono::floor<std::chrono::seconds>(clock_.now()));
  EXPECT_EQ(revoked->revocation_reason, crypto::RevocationReason::key_compromise);
  EXPECT_EQ(authority.certificate(issued->serial)->status, CertificateStatus::revoked);
  EXPECT_EQ(authority.department_key(code).error().code, "pki.certificate_not_found");
  EXPECT_TRUE(
      rows("SELECT serial FROM pki_private_key WHERE serial = $1", {issued->serial}).empty());

  auto list = authority.revocation_list();
  ASSERT_TRUE(list.ok());
  EXPECT_GT(list->number(), before->number());
  ASSERT_EQ(list->revoked().size(), 1u);
  const crypto::RevokedCertificate* entry = list->find(crypto::from_hex(issued->serial).value());
  ASSERT_NE(entry, nullptr);
  EXPECT_EQ(entry->reason, crypto::RevocationReason::key_compromise);
  EXPECT_EQ(entry->revoked_at, revoked->revoked_at);
  EXPECT_EQ(list->find(crypto::from_hex(kept->serial).value()), nullptr);
  EXPECT_TRUE(list->verify_signature(authority.root_certificate().public_key()).ok());
  EXPECT_EQ(list->issuer(), authority.root_certificate().subject());

  EXPECT_EQ(authority.revoke(issued->serial, crypto::RevocationReason::unspecified).error().code,
            "pki.already_revoked");
  EXPECT_EQ(
      authority
          .revoke(authority.root_certificate().serial_hex(), crypto::RevocationReason::unspecified)
          .error()
          .code,
      "pki.root_not_revocable");
  std::string node = authority.node_certificate()->serial;
  EXPECT_EQ(authority.revoke(node, crypto::RevocationReason::key_compromise).error().code,
            "pki.node_certificate_active");
  EXPECT_EQ(
      authority.revoke(std::string(32, 'b'), crypto::RevocationReason::unspecified).error().kind,
      ErrorKind::not_found);
  // A superseded certificate can be revoked, and the department may be issued anew.
  ASSERT_TRUE(authority.rotate(SubjectKind::node, "370200").ok());
  ASSERT_TRUE(authority.revoke(node, crypto::RevocationReason::superseded).ok());
  auto reissued = authority.issue_department_certificate(code, "青岛市行政审批服务局");
  ASSERT_TRUE(reissued.ok());
  EXPECT_EQ(reissued->supersedes, "");  // nothing active was replaced
  auto newest = authority.revocation_list();
  ASSERT_TRUE(newest.ok());
  EXPECT_EQ(newest->revoked().size(), 2u);
}

TEST_P(CertificateAuthorityTest, RevocationListIsKeptThenRenewed) {
  CertificateAuthority authority = open_or_fail();
  auto first = authority.revocation_list();
  ASSERT_TRUE(first.ok()) << first.error().message;
  EXPECT_EQ(first->next_update() - first->this_update(), std::chrono::days(7));
  clock_.advance(std::chrono::days(3));
  auto same = authority.revocation_list();
  ASSERT_TRUE(same.ok());
  EXPECT_EQ(same->number(), first->number());
  EXPECT_EQ(same->der(), first->der());
  clock_.advance(std::chrono::days(1));  // past half of the seven days
  auto renewed = authority.revocation_list();
  ASSERT_TRUE(renewed.ok());
  EXPECT_EQ(renewed->number(), first->number() + 1);
  EXPECT_GT(renewed->this_update(), first->this_update());
  // Another CertificateAuthority on the same database serves the same list.
  CertificateAuthority again = open_or_fail();
  EXPECT_EQ(again.revocation_list()->number(), renewed->number());
}

TEST_P(CertificateAuthorityTest, ConcurrentIssuingLeavesOneActiveCertificatePerDepartment) {
  CertificateAuthority authority = open_or_fail();
  std::string shared = uscc("K1");
  std::mutex mutex;
  std::vector<std::string> failures;
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      auto check = [&](const Result<CertificateRecord>& issued) {
        if (issued.ok()) return;
        std::lock_guard lock(mutex);
        failures.push_back(issued.error().code + ": " + issued.error().message);
      };
      for (int i = 0; i < 3; ++i) {
        check(authority.issue_department_certificate(shared, "青岛市行政审批服务局"));
        check(authority.issue_department_certificate(
            uscc("L" + std::to_string(t) + std::to_string(i)), "部门" + std::to_string(t)));
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_TRUE(failures.empty()) << failures.size() << " failed, the first: " << failures.front();
  EXPECT_EQ(authority.list({SubjectKind::department, shared, CertificateStatus::active})->size(),
            1u);
  EXPECT_EQ(authority.list({SubjectKind::department, shared, std::nullopt})->size(), 12u);
  EXPECT_EQ(authority.list({SubjectKind::department, "", CertificateStatus::active})->size(), 13u);
  auto all = authority.list();
  ASSERT_TRUE(all.ok());
  std::set<std::string> serials;
  for (const CertificateRecord& record : *all) serials.insert(record.serial);
  EXPECT_EQ(serials.size(), all->size());
}

// The openssl command line accepts the CA's certificates and CRLs straight from the CA (the
// same over HTTP is tests/api/pki_routes_test.cpp).
TEST_P(CertificateAuthorityTest, OpensslVerifiesTheChainAndTheRevocationList) {
  CertificateAuthority authority = open_or_fail();
  auto department = authority.issue_department_certificate(uscc("M2"), "青岛市行政审批服务局");
  auto revoked = authority.issue_department_certificate(uscc("N3"), "青岛市公安局");
  ASSERT_TRUE(department.ok() && revoked.ok());
  ASSERT_TRUE(
      authority.revoke(revoked->serial, crypto::RevocationReason::affiliation_changed).ok());
  TemporaryDirectory files;
  files.write("root.pem", authority.root_certificate().pem());
  files.write("node.pem", authority.node_certificate()->certificate_pem);
  files.write("department.pem", department->certificate_pem);
  files.write("revoked.pem", revoked->certificate_pem);
  files.write("crl.pem", authority.revocation_list()->pem());
  auto in = [&](const std::string& command) {
    return run_command("cd '" + files.path().string() + "' && " + command);
  };
  auto verified = in("openssl verify -CAfile root.pem node.pem department.pem revoked.pem");
  EXPECT_EQ(verified.exit_code, 0) << verified.output;
  auto checked =
      in("openssl verify -crl_check -CRLfile crl.pem -CAfile root.pem node.pem department.pem");
  EXPECT_EQ(checked.exit_code, 0) << checked.output;
  auto refused = in("openssl verify -crl_check -CRLfile crl.pem -CAfile root.pem revoked.pem");
  EXPECT_NE(refused.exit_code, 0) << refused.output;
  EXPECT_NE(refused.output.find("certificate revoked"), std::string::npos) << refused.output;
  auto crl = in("openssl crl -in crl.pem -noout -verify -CAfile root.pem");
  EXPECT_NE(crl.output.find("verify OK"), std::string::npos) << crl.output;
}

INSTANTIATE_TEST_SUITE_P(Backends, CertificateAuthorityTest,
                         ::testing::Values(store::Backend::sqlite, store::Backend::postgresql),
                         [](const auto& info) {
                           return std::string(store::backend_name(info.param));
                         });

TEST(Names, RoundTrip) {
  for (SubjectKind kind : {SubjectKind::root, SubjectKind::node, SubjectKind::department}) {
    EXPECT_EQ(*parse_subject_kind(subject_kind_name(kind)), kind);
  }
  for (CertificateStatus status :
       {CertificateStatus::active, CertificateStatus::superseded, CertificateStatus::revoked}) {
    EXPECT_EQ(*parse_certificate_status(certificate_status_name(status)), status);
  }
  EXPECT_EQ(parse_subject_kind("person").error().code, "pki.bad_subject_kind");
  EXPECT_EQ(parse_certificate_status("expired").error().code, "pki.bad_status");
  EXPECT_EQ(*CertificateAuthority::normalise_serial("4ABCDEF0123456789ABCDEF012345678"),
            "4abcdef0123456789abcdef012345678");
}

TEST(CertificateAuthorityActs, IssuingRotatingAndRevokingAreInTheTransparencyLog) {
  std::vector<store::Migration> migrations = audit::TransparencyLog::migrations();
  for (auto& migration : CertificateAuthority::migrations()) migrations.push_back(migration);
  onewindow::testing::TestDatabase database(store::Backend::sqlite, migrations);
  ManualClock clock(std::chrono::system_clock::now());
  auto authority = CertificateAuthority::open(*database, key_encryption_key, clock, qingdao);
  ASSERT_TRUE(authority.ok()) << authority.error().message;
  audit::TransparencyLog log(*database, *authority->node_key(), clock);
  authority->record_acts_in(log);
  auto issued = authority->issue_department_certificate(uscc("MB1"), "青岛市市场监督管理局", "acc_operator");
  ASSERT_TRUE(issued.ok()) << issued.error().message;
  auto rotated = authority->rotate(SubjectKind::department, uscc("MB1"), "acc_operator");
  ASSERT_TRUE(rotated.ok());
  ASSERT_TRUE(authority->revoke(issued->serial, crypto::RevocationReason::superseded, "acc_supervisor").ok());
  std::vector<std::string> actions;
  for (std::int64_t index = 0; index < 3; ++index) {
    auto entry = log.entry(index);
    ASSERT_TRUE(entry.ok()) << index;
    auto content = nlohmann::json::parse(entry->content);
    actions.push_back(content["action"].get<std::string>() + " by " + content["actor"].get<std::string>());
  }
  EXPECT_EQ(actions, (std::vector<std::string>{"pki.certificate_issued by acc_operator", "pki.certificate_rotated by acc_operator",
                                               "pki.certificate_revoked by acc_supervisor"}));
  EXPECT_FALSE(log.entry(3).ok());
}

TEST(NodePublicKeys, EveryUnrevokedNodeKeyNewestFirst) {
  onewindow::testing::TestDatabase database(store::Backend::sqlite, CertificateAuthority::migrations());
  ManualClock clock(std::chrono::system_clock::now());
  auto authority = CertificateAuthority::open(*database, key_encryption_key, clock, qingdao);
  ASSERT_TRUE(authority.ok()) << authority.error().message;
  std::string first = authority->node_key()->public_key().to_hex();
  clock.advance(std::chrono::minutes(1));
  ASSERT_TRUE(authority->rotate(SubjectKind::node, qingdao.division_code).ok());
  std::string second = authority->node_key()->public_key().to_hex();
  auto keys = node_public_keys(*database);
  ASSERT_TRUE(keys.ok()) << keys.error().message;
  ASSERT_EQ(keys->size(), 2u);
  EXPECT_EQ((*keys)[0].to_hex(), second);
  EXPECT_EQ((*keys)[1].to_hex(), first);
}

}  // namespace
}  // namespace onewindow::pki
