// Tests for ES256 in src/crypto/ecdsa.cpp: RFC 4648 base64url vectors, SHA-256 vectors, the ES256
// example of RFC 7515 appendix A.3, RFC 7638 thumbprints checked against values computed by the
// `jose` npm package, and signatures checked by the real `openssl` command line both ways.
#include "crypto/crypto.h"
#include "testing.h"

#include <gtest/gtest.h>

#include <string>

namespace onewindow::crypto {
namespace {

using onewindow::testing::run_command;
using onewindow::testing::TemporaryDirectory;

Bytes bytes_of(std::string_view text) {
  auto span = as_bytes(text);
  return Bytes(span.begin(), span.end());
}

std::string text_of(const Bytes& bytes) { return std::string(bytes.begin(), bytes.end()); }

// RFC 7515 appendix A.3: the ES256 example key (public part) and its signed JWS.
const nlohmann::json rfc7515_key = {{"kty", "EC"},
                                    {"crv", "P-256"},
                                    {"x", "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU"},
                                    {"y", "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"}};
constexpr std::string_view rfc7515_signing_input =
    "eyJhbGciOiJFUzI1NiJ9."
    "eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ";
constexpr std::string_view rfc7515_signature =
    "DtEhU3ljbEg8L38VWAfUAqOyKAM6-Xx-F4GawxaepmXFCgfTjDxw5djxLa8ISlSApmWQxfKTUJqPP3-Kg6NU1Q";

// A key made with `openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256`; its JWK
// coordinates and thumbprint were computed by Node's crypto and jose's calculateJwkThumbprint.
constexpr std::string_view openssl_key_pem =
    "-----BEGIN PRIVATE KEY-----\n"
    "MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgYiCvT3WlZ9ysDTnb\n"
    "bnG3akjNTSV8JueIfBA+Ud6GaJ+hRANCAATlsMEgjTUokS+ebaF60Cjw9dLWcUhx\n"
    "gWzHQOp1hfL9reG4Ar6W51LopfubNWVcI3SfcIUsDfC+b4nS4JMYZ+1w\n"
    "-----END PRIVATE KEY-----\n";

// ---- base64url, SHA-256, comparison -----------------------------------------------------------

TEST(Base64url, EncodesTheRfc4648VectorsWithoutPadding) {
  const std::pair<std::string_view, std::string_view> vectors[] = {
      {"", ""}, {"f", "Zg"}, {"fo", "Zm8"}, {"foo", "Zm9v"}, {"foob", "Zm9vYg"}, {"fooba", "Zm9vYmE"}, {"foobar", "Zm9vYmFy"}};
  for (auto [plain, encoded] : vectors) {
    EXPECT_EQ(base64url_encode(plain), encoded);
    auto decoded = base64url_decode(encoded);
    ASSERT_TRUE(decoded.ok()) << encoded;
    EXPECT_EQ(text_of(*decoded), plain);
  }
  // The two characters that differ from base64: '-' for '+', '_' for '/'.
  Bytes high = {0xfb, 0xff, 0xbf};
  EXPECT_EQ(base64url_encode(high), "-_-_");
  EXPECT_EQ(*base64url_decode("-_-_"), high);
}

TEST(Base64url, RefusesEverythingItWouldNotWrite) {
  for (std::string_view bad : {"Zg==", "Zm9v YmFy", "Zm+v", "Zm/v", "Z", "Zm9vY", "Zh", "Zm9=", "Zm9v\n"}) {
    auto decoded = base64url_decode(bad);
    ASSERT_FALSE(decoded.ok()) << bad;
    EXPECT_EQ(decoded.error().code, "crypto.bad_base64url") << bad;
    EXPECT_EQ(decoded.error().kind, ErrorKind::invalid_argument);
  }
}

TEST(Sha256, MatchesPublishedDigests) {
  EXPECT_EQ(to_hex(sha256("abc")), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(to_hex(sha256("")), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  // RFC 7636 appendix B: the S256 code challenge of the example verifier.
  EXPECT_EQ(base64url_encode(sha256("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk")),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM");
}

TEST(ConstantTimeEqual, ComparesLengthAndBytes) {
  EXPECT_TRUE(constant_time_equal(bytes_of("same"), bytes_of("same")));
  EXPECT_FALSE(constant_time_equal(bytes_of("same"), bytes_of("sane")));
  EXPECT_FALSE(constant_time_equal(bytes_of("same"), bytes_of("samey")));
  EXPECT_TRUE(constant_time_equal({}, {}));
}

// ---- ES256 ------------------------------------------------------------------------------------

TEST(Es256, VerifiesTheRfc7515Example) {
  auto key = P256PublicKey::from_jwk(rfc7515_key);
  ASSERT_TRUE(key.ok()) << key.error().message;
  auto signature = base64url_decode(rfc7515_signature);
  ASSERT_TRUE(signature.ok());
  EXPECT_TRUE(key->verify(rfc7515_signing_input, *signature).ok());

  std::string altered(rfc7515_signing_input);
  altered.back() = 'R';
  Status refused = key->verify(altered, *signature);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().code, "crypto.bad_signature");

  Bytes flipped = *signature;
  flipped[10] ^= 0x01;
  EXPECT_EQ(key->verify(rfc7515_signing_input, flipped).error().code, "crypto.bad_signature");
  Bytes short_signature(signature->begin(), signature->end() - 1);
  EXPECT_EQ(key->verify(rfc7515_signing_input, short_signature).error().code, "crypto.bad_signature");
  // The DER form is not what JOSE verifies.
  auto der = es256_signature_to_der(*signature);
  ASSERT_TRUE(der.ok());
  EXPECT_EQ(key->verify(rfc7515_signing_input, *der).error().code, "crypto.bad_signature");
}

TEST(Es256, ThumbprintsMatchRfc7638AsJoseComputesIt) {
  EXPECT_EQ(P256PublicKey::from_jwk(rfc7515_key)->thumbprint(), "oKIywvGUpTVTyxMQ3bwIIeQUudfr_CkLMjCE19ECD-U");

  auto key = P256PrivateKey::from_pem(openssl_key_pem);
  ASSERT_TRUE(key.ok()) << key.error().message;
  nlohmann::json jwk = key->public_key().jwk();
  EXPECT_EQ(jwk, (nlohmann::json{{"kty", "EC"},
                                 {"crv", "P-256"},
                                 {"x", "5bDBII01KJEvnm2hetAo8PXS1nFIcYFsx0DqdYXy_a0"},
                                 {"y", "4bgCvpbnUuil-5s1ZVwjdJ9whSwN8L5vidLgkxhn7XA"},
                                 {"kid", "PspVE9yhu_bRuuHPUsMEXdsHsSOVZFhTk_9ljCsblTE"}}));
  // The JWK reads back as the same key.
  auto again = P256PublicKey::from_jwk(jwk);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->thumbprint(), key->public_key().thumbprint());
}

TEST(Es256, SignsAndVerifiesAndRoundTripsPem) {
  auto key = P256PrivateKey::generate();
  ASSERT_TRUE(key.ok()) << key.error().message;
  auto first = key->sign("header.payload");
  auto second = key->sign("header.payload");
  ASSERT_TRUE(first.ok() && second.ok());
  EXPECT_EQ(first->size(), 64u);
  EXPECT_NE(*first, *second);  // a fresh nonce each time
  EXPECT_TRUE(key->public_key().verify("header.payload", *first).ok());
  EXPECT_TRUE(key->public_key().verify("header.payload", *second).ok());
  EXPECT_FALSE(key->public_key().verify("header.payloaD", *first).ok());

  auto pem = key->to_pem();
  ASSERT_TRUE(pem.ok());
  EXPECT_TRUE(pem->starts_with("-----BEGIN PRIVATE KEY-----\n"));
  auto reread = P256PrivateKey::from_pem(*pem);
  ASSERT_TRUE(reread.ok()) << reread.error().message;
  EXPECT_EQ(reread->public_key().thumbprint(), key->public_key().thumbprint());
  EXPECT_TRUE(key->public_key().verify("m", *reread->sign("m")).ok());

  auto public_pem = key->public_key().to_pem();
  ASSERT_TRUE(public_pem.ok());
  EXPECT_TRUE(public_pem->starts_with("-----BEGIN PUBLIC KEY-----\n"));
  auto public_key = P256PublicKey::from_pem(*public_pem);
  ASSERT_TRUE(public_key.ok());
  EXPECT_TRUE(public_key->verify("header.payload", *first).ok());

  auto other = P256PrivateKey::generate();
  EXPECT_EQ(other->public_key().verify("header.payload", *first).error().code, "crypto.bad_signature");
}

TEST(Es256, RefusesKeysThatAreNotP256) {
  auto sm2 = PrivateKey::generate()->to_pem();
  ASSERT_TRUE(sm2.ok());
  EXPECT_EQ(P256PrivateKey::from_pem(*sm2).error().code, "crypto.bad_key");
  EXPECT_EQ(P256PublicKey::from_pem(*PrivateKey::generate()->public_key().to_pem()).error().code, "crypto.bad_key");
  EXPECT_EQ(P256PrivateKey::from_pem("not a key").error().code, "crypto.bad_pem");
  EXPECT_EQ(P256PrivateKey::from_pem("").error().code, "crypto.bad_pem");

  nlohmann::json wrong_curve = rfc7515_key;
  wrong_curve["crv"] = "P-384";
  EXPECT_EQ(P256PublicKey::from_jwk(wrong_curve).error().code, "crypto.bad_key");
  nlohmann::json off_curve = rfc7515_key;
  off_curve["y"] = "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a1";
  EXPECT_EQ(P256PublicKey::from_jwk(off_curve).error().code, "crypto.bad_key");
  nlohmann::json with_private = rfc7515_key;
  with_private["d"] = "jpsQnnGQmL-YBIffH1136cspYG6-0iY7X1fCE9-E9LI";
  EXPECT_EQ(P256PublicKey::from_jwk(with_private).error().code, "crypto.bad_key");
  nlohmann::json short_x = rfc7515_key;
  short_x["x"] = "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVE";
  EXPECT_EQ(P256PublicKey::from_jwk(short_x).error().code, "crypto.bad_key");
  EXPECT_EQ(P256PublicKey::from_jwk(nlohmann::json::array()).error().code, "crypto.bad_key");
}

TEST(Es256, ConvertsBetweenRawAndDer) {
  auto key = P256PrivateKey::generate();
  for (int i = 0; i < 20; ++i) {  // some r and s have leading zero bytes, which both forms handle
    auto raw = key->sign("message " + std::to_string(i));
    ASSERT_TRUE(raw.ok());
    auto der = es256_signature_to_der(*raw);
    ASSERT_TRUE(der.ok());
    EXPECT_EQ((*der)[0], 0x30);
    auto back = es256_signature_from_der(*der);
    ASSERT_TRUE(back.ok());
    EXPECT_EQ(*back, *raw);
  }
  Bytes raw = *key->sign("m");
  Bytes der = *es256_signature_to_der(raw);
  Bytes trailing = der;
  trailing.push_back(0);
  EXPECT_EQ(es256_signature_from_der(trailing).error().code, "crypto.bad_signature");
  EXPECT_EQ(es256_signature_from_der(bytes_of("not der")).error().code, "crypto.bad_signature");
  EXPECT_EQ(es256_signature_to_der(Bytes(63)).error().code, "crypto.bad_signature");
}

// ---- The openssl command line -----------------------------------------------------------------

class Es256Openssl : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_EQ(run_command("openssl version").exit_code, 0) << "the openssl command is not installed";
  }
  int run(const std::string& command) {
    auto result = run_command("cd '" + directory_.path().string() + "' && " + command);
    output_ = result.output;
    return result.exit_code;
  }
  std::string read(const std::string& name) { return onewindow::testing::read_file(directory_.path() / name); }

  TemporaryDirectory directory_;
  std::string output_;
};

TEST_F(Es256Openssl, OpensslVerifiesOurSignaturesInDer) {
  auto key = P256PrivateKey::generate();
  ASSERT_TRUE(key.ok());
  std::string message = "eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJhY2NfMSJ9";
  Bytes raw = *key->sign(message);
  Bytes der = *es256_signature_to_der(raw);
  directory_.write("public.pem", *key->public_key().to_pem());
  directory_.write("message", message);
  directory_.write("signature.der", text_of(der));
  ASSERT_EQ(run("openssl dgst -sha256 -verify public.pem -signature signature.der message"), 0) << output_;
  EXPECT_EQ(output_, "Verified OK\n");
  // And refuses it for another message.
  directory_.write("other", message + "x");
  EXPECT_NE(run("openssl dgst -sha256 -verify public.pem -signature signature.der other"), 0) << output_;
  // openssl reads the private key we write.
  directory_.write("private.pem", *key->to_pem());
  ASSERT_EQ(run("openssl pkey -in private.pem -pubout -out from_private.pem"), 0) << output_;
  EXPECT_EQ(read("from_private.pem"), *key->public_key().to_pem());
}

TEST_F(Es256Openssl, WeVerifyOpensslSignaturesAfterConversion) {
  ASSERT_EQ(run("openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out key.pem && "
                "openssl ec -in key.pem -out sec1.pem 2>&1 && openssl pkey -in key.pem -pubout -out public.pem && "
                "printf 'signed by openssl' > message && "
                "openssl dgst -sha256 -sign key.pem -out signature.der message"),
            0)
      << output_;
  auto key = P256PrivateKey::from_pem(read("key.pem"));
  ASSERT_TRUE(key.ok()) << key.error().message;
  EXPECT_TRUE(read("sec1.pem").starts_with("-----BEGIN EC PRIVATE KEY-----"));
  auto sec1 = P256PrivateKey::from_pem(read("sec1.pem"));
  ASSERT_TRUE(sec1.ok()) << sec1.error().message;
  EXPECT_EQ(sec1->public_key().thumbprint(), key->public_key().thumbprint());
  auto public_key = P256PublicKey::from_pem(read("public.pem"));
  ASSERT_TRUE(public_key.ok());
  EXPECT_EQ(public_key->thumbprint(), key->public_key().thumbprint());

  auto raw = es256_signature_from_der(bytes_of(read("signature.der")));
  ASSERT_TRUE(raw.ok()) << raw.error().message;
  EXPECT_EQ(raw->size(), 64u);
  EXPECT_TRUE(public_key->verify("signed by openssl", *raw).ok());
  EXPECT_FALSE(public_key->verify("signed by someone else", *raw).ok());
}

TEST_F(Es256Openssl, RefusesOtherCurvesAndEncryptedKeys) {
  ASSERT_EQ(run("openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-384 -out p384.pem && "
                "openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -aes-128-cbc -pass pass:secret "
                "-out encrypted.pem"),
            0)
      << output_;
  EXPECT_EQ(P256PrivateKey::from_pem(read("p384.pem")).error().code, "crypto.bad_key");
  EXPECT_EQ(P256PrivateKey::from_pem(read("encrypted.pem")).error().code, "crypto.bad_pem");
}

}  // namespace
}  // namespace onewindow::crypto
