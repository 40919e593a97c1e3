// Tests for src/crypto: published SM3 and SM4 vectors, the SM4 envelope's tamper detection,
// and SM2 signatures checked against the real `openssl` command line in both directions.
#include "crypto/crypto.h"

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <thread>
#include <vector>

namespace onewindow::crypto {
namespace {

namespace fs = std::filesystem;

Bytes hex(std::string_view text) {
  Result<Bytes> bytes = from_hex(text);
  EXPECT_TRUE(bytes.ok()) << text;
  return bytes.ok() ? *bytes : Bytes{};
}

Bytes bytes_of(std::string_view text) {
  auto span = as_bytes(text);
  return Bytes(span.begin(), span.end());
}

// ---- Bytes and text -------------------------------------------------------------------------

TEST(Hex, RoundTripsAndAcceptsUpperCase) {
  Bytes bytes = {0x00, 0x01, 0xab, 0xff};
  EXPECT_EQ(to_hex(bytes), "0001abff");
  EXPECT_EQ(hex("0001ABff"), bytes);
  EXPECT_EQ(hex(""), Bytes{});
}

TEST(Hex, RejectsOddLengthAndNonDigits) {
  for (std::string_view bad : {"abc", "zz", "0x00", "00 11", "g0"}) {
    Result<Bytes> result = from_hex(bad);
    ASSERT_FALSE(result.ok()) << bad;
    EXPECT_EQ(result.error().code, "crypto.bad_hex");
    EXPECT_EQ(result.error().kind, ErrorKind::invalid_argument);
  }
}

TEST(Random, GivesTheCountAskedAndDiffers) {
  Result<Bytes> first = random_bytes(32);
  Result<Bytes> second = random_bytes(32);
  ASSERT_TRUE(first.ok() && second.ok());
  EXPECT_EQ(first->size(), 32u);
  EXPECT_NE(*first, *second);
  EXPECT_TRUE(random_bytes(0)->empty());
}

// ---- SM3 ------------------------------------------------------------------------------------

// GM/T 0004-2012, appendix A.
TEST(Sm3, PublishedVectors) {
  EXPECT_EQ(to_hex(sm3("abc")), "66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0");
  std::string sixty_four;
  for (int i = 0; i < 16; ++i) sixty_four += "abcd";
  EXPECT_EQ(to_hex(sm3(sixty_four)),
            "debe9ff92275b8a138604889c18e5a4d6fdb70e5387e5765293dcba39c0c5732");
  EXPECT_EQ(sm3(as_bytes("abc")), sm3("abc"));
}

TEST(Sm3, IncrementalEqualsOneShot) {
  Bytes data(1'000'003);
  for (std::size_t i = 0; i < data.size(); ++i) data[i] = static_cast<std::uint8_t>(i * 31 + 7);
  Sm3Hasher hasher;
  std::size_t offset = 0;
  for (std::size_t piece : {0u, 1u, 63u, 64u, 65u, 4096u}) {
    hasher.update(std::span(data).subspan(offset, piece));
    offset += piece;
  }
  hasher.update(std::span(data).subspan(offset));
  EXPECT_EQ(hasher.finish(), sm3(data));

  // finish() starts afresh.
  hasher.update("ab");
  hasher.update("c");
  EXPECT_EQ(to_hex(hasher.finish()),
            "66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0");
  EXPECT_EQ(hasher.finish(), sm3(""));
}

TEST(HmacSm3, MatchesTheRfc2104Construction) {
  // Expected values computed with Python's hashlib SM3 and the HMAC construction written out
  // by hand (H((K ^ opad) || H((K ^ ipad) || m))), independently of OpenSSL's HMAC.
  EXPECT_EQ(
      to_hex(hmac_sm3(as_bytes("key"), as_bytes("The quick brown fox jumps over the lazy dog"))),
      "bd4a34077888162b210645b8ebf74b9af357303789357a27c7fc457244ebd398");
  EXPECT_EQ(to_hex(hmac_sm3({}, {})),
            "0d23f72ba15e9c189a879aefc70996b06091de6e64d31b7a84004356dd915261");
}

// ---- SM4 ------------------------------------------------------------------------------------

// GB/T 32907-2016, example 1: key = plaintext = 0123456789abcdeffedcba9876543210.
// CTR mode encrypts the counter block, so with iv = that plaintext the first keystream block
// is the ECB ciphertext, and XOR with zero bytes shows it.
TEST(Sm4, StandardExampleThroughCtr) {
  Bytes key = hex("0123456789abcdeffedcba9876543210");
  Result<Bytes> block = sm4_ctr(key, key, Bytes(16, 0));
  ASSERT_TRUE(block.ok()) << block.error().message;
  EXPECT_EQ(to_hex(*block), "681edf34d206965e86b3e94f536e4246");
}

TEST(Sm4, CtrIsItsOwnInverseAndChecksSizes) {
  Bytes key = hex("00112233445566778899aabbccddeeff");
  Bytes iv = hex("ffffffffffffffffffffffffffffffff");  // the counter wraps
  Bytes text = bytes_of("a secret that spans more than one block, and then some");
  Result<Bytes> encrypted = sm4_ctr(key, iv, text);
  ASSERT_TRUE(encrypted.ok());
  EXPECT_NE(*encrypted, text);
  EXPECT_EQ(*sm4_ctr(key, iv, *encrypted), text);
  EXPECT_TRUE(sm4_ctr(key, iv, {})->empty());

  EXPECT_EQ(sm4_ctr(Bytes(15), iv, text).error().code, "crypto.bad_key");
  EXPECT_EQ(sm4_ctr(key, Bytes(8), text).error().code, "crypto.bad_key");
}

class Sm4EnvelopeTest : public ::testing::Test {
 protected:
  Bytes key = hex("000102030405060708090a0b0c0d0e0f");
  Sm4Envelope envelope = Sm4Envelope::create(key).value();
  Bytes plaintext = bytes_of("ID 110101199003074477, bank card 6222020200112233445");
  Bytes associated = bytes_of("applicants/42/id_number");
};

TEST_F(Sm4EnvelopeTest, RoundTripsAndHasTheDocumentedLayout) {
  Result<Bytes> sealed = envelope.encrypt(plaintext, associated);
  ASSERT_TRUE(sealed.ok()) << sealed.error().message;
  ASSERT_EQ(sealed->size(), 1 + 16 + plaintext.size() + 32);
  EXPECT_EQ((*sealed)[0], 0x01);
  Result<Bytes> opened = envelope.decrypt(*sealed, associated);
  ASSERT_TRUE(opened.ok()) << opened.error().message;
  EXPECT_EQ(*opened, plaintext);

  // Empty plaintext and empty associated data are fine too.
  Result<Bytes> empty = envelope.encrypt({});
  ASSERT_TRUE(empty.ok());
  EXPECT_EQ(empty->size(), Sm4Envelope::overhead);
  EXPECT_TRUE(envelope.decrypt(*empty)->empty());
}

TEST_F(Sm4EnvelopeTest, TwoEncryptionsOfTheSameTextDiffer) {
  Bytes first = envelope.encrypt(plaintext, associated).value();
  Bytes second = envelope.encrypt(plaintext, associated).value();
  EXPECT_NE(first, second);
  EXPECT_NE(Bytes(first.begin() + 1, first.begin() + 17),
            Bytes(second.begin() + 1, second.begin() + 17));
}

TEST_F(Sm4EnvelopeTest, FlippingAnyByteFailsAuthentication) {
  Bytes sealed = envelope.encrypt(plaintext, associated).value();
  // Every byte: version (0), iv (1..16), ciphertext, tag (last 32).
  for (std::size_t i = 0; i < sealed.size(); ++i) {
    Bytes tampered = sealed;
    tampered[i] ^= 0x01;
    Result<Bytes> opened = envelope.decrypt(tampered, associated);
    ASSERT_FALSE(opened.ok()) << "byte " << i;
    EXPECT_EQ(opened.error().code, "crypto.authentication_failed") << "byte " << i;
    EXPECT_EQ(opened.error().kind, ErrorKind::invalid_argument);
  }
}

TEST_F(Sm4EnvelopeTest, WrongKeyOrAssociatedDataOrTruncationFails) {
  Bytes sealed = envelope.encrypt(plaintext, associated).value();
  Bytes other_key = key;
  other_key[15] ^= 0x80;
  Sm4Envelope other = Sm4Envelope::create(other_key).value();
  EXPECT_EQ(other.decrypt(sealed, associated).error().code, "crypto.authentication_failed");
  EXPECT_EQ(envelope.decrypt(sealed, bytes_of("applicants/43/id_number")).error().code,
            "crypto.authentication_failed");
  EXPECT_EQ(envelope.decrypt(sealed).error().code, "crypto.authentication_failed");
  for (std::size_t length :
       {std::size_t{0}, std::size_t{1}, Sm4Envelope::overhead - 1, sealed.size() - 1}) {
    EXPECT_EQ(envelope.decrypt(std::span(sealed).first(length), associated).error().code,
              "crypto.authentication_failed")
        << length;
  }
  Bytes extended = sealed;
  extended.push_back(0);
  EXPECT_EQ(envelope.decrypt(extended, associated).error().code, "crypto.authentication_failed");
}

TEST_F(Sm4EnvelopeTest, RejectsKeysThatAreNotSixteenBytes) {
  for (std::size_t size : {0, 15, 17, 32}) {
    Result<Sm4Envelope> created = Sm4Envelope::create(Bytes(size, 1));
    ASSERT_FALSE(created.ok()) << size;
    EXPECT_EQ(created.error().code, "crypto.bad_key");
    EXPECT_EQ(created.error().kind, ErrorKind::invalid_argument);
  }
}

TEST_F(Sm4EnvelopeTest, CiphertextIsSm4CtrUnderTheDerivedKeyNotTheKeyItself) {
  // The envelope's key is derived with HKDF: decrypting with the raw key gives garbage.
  Bytes sealed = envelope.encrypt(plaintext, associated).value();
  Bytes iv(sealed.begin() + 1, sealed.begin() + 17);
  Bytes ciphertext(sealed.begin() + 17, sealed.end() - 32);
  EXPECT_NE(*sm4_ctr(key, iv, ciphertext), plaintext);
}

TEST_F(Sm4EnvelopeTest, OneEnvelopeServesManyThreads) {
  std::atomic<int> failures = 0;
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 200; ++i) {
        Result<Bytes> sealed = envelope.encrypt(plaintext, associated);
        if (!sealed.ok() || envelope.decrypt(*sealed, associated).value() != plaintext) ++failures;
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(failures, 0);
}

// ---- SM2 ------------------------------------------------------------------------------------

TEST(Sm2, SignAndVerifyRoundTrip) {
  PrivateKey key = PrivateKey::generate().value();
  Result<Bytes> signature = key.sign("an electronic license, serial 0042");
  ASSERT_TRUE(signature.ok()) << signature.error().message;
  EXPECT_GE(signature->size(), 8u);
  EXPECT_LE(signature->size(), 72u);
  EXPECT_EQ((*signature)[0], 0x30);  // DER SEQUENCE
  Status verified = key.public_key().verify("an electronic license, serial 0042", *signature);
  EXPECT_TRUE(verified.ok()) << verified.error().message;
  // Byte and string overloads agree; SM2 signatures are randomised.
  EXPECT_TRUE(key.public_key()
                  .verify(as_bytes("an electronic license, serial 0042"),
                          *key.sign(as_bytes("an electronic license, serial 0042")))
                  .ok());
  EXPECT_NE(*signature, *key.sign("an electronic license, serial 0042"));
  // The empty message is a message.
  EXPECT_TRUE(key.public_key().verify("", *key.sign("")).ok());
}

TEST(Sm2, ChangedMessageOrSignatureOrKeyFails) {
  PrivateKey key = PrivateKey::generate().value();
  Bytes signature = key.sign("pay 100 yuan").value();
  auto expect_bad = [](const Status& status, const char* what) {
    ASSERT_FALSE(status.ok()) << what;
    EXPECT_EQ(status.error().code, "crypto.bad_signature") << what;
    EXPECT_EQ(status.error().kind, ErrorKind::invalid_argument) << what;
  };
  expect_bad(key.public_key().verify("pay 900 yuan", signature), "changed message");
  for (std::size_t i = 0; i < signature.size(); ++i) {
    Bytes changed = signature;
    changed[i] ^= 0x04;
    ASSERT_FALSE(key.public_key().verify("pay 100 yuan", changed).ok()) << "byte " << i;
  }
  expect_bad(key.public_key().verify("pay 100 yuan", {}), "empty signature");
  expect_bad(key.public_key().verify("pay 100 yuan", Bytes(signature.begin(), signature.end() - 1)),
             "truncated signature");
  Bytes trailing = signature;
  trailing.push_back(0);
  expect_bad(key.public_key().verify("pay 100 yuan", trailing), "trailing byte");
  PrivateKey other = PrivateKey::generate().value();
  expect_bad(other.public_key().verify("pay 100 yuan", signature), "other key");
}

TEST(Sm2, PemRoundTrip) {
  PrivateKey key = PrivateKey::generate().value();
  std::string private_pem = key.to_pem().value();
  std::string public_pem = key.public_key().to_pem().value();
  EXPECT_EQ(private_pem.rfind("-----BEGIN PRIVATE KEY-----\n", 0), 0u) << private_pem;
  EXPECT_EQ(public_pem.rfind("-----BEGIN PUBLIC KEY-----\n", 0), 0u) << public_pem;

  PrivateKey reloaded = PrivateKey::from_pem(private_pem).value();
  EXPECT_EQ(reloaded.public_key().to_hex(), key.public_key().to_hex());
  EXPECT_EQ(reloaded.to_pem().value(), private_pem);
  PublicKey public_key = PublicKey::from_pem(public_pem).value();
  EXPECT_EQ(public_key.to_hex(), key.public_key().to_hex());
  EXPECT_EQ(public_key.to_pem().value(), public_pem);

  EXPECT_TRUE(public_key.verify("m", *reloaded.sign("m")).ok());
  EXPECT_TRUE(reloaded.public_key().verify("m", *key.sign("m")).ok());
}

TEST(Sm2, PublicKeyHexIsUncompressedPoint) {
  PrivateKey key = PrivateKey::generate().value();
  std::string text = key.public_key().to_hex();
  ASSERT_EQ(text.size(), 130u);
  EXPECT_EQ(text.substr(0, 2), "04");
  Result<PublicKey> parsed = PublicKey::from_hex(text);
  ASSERT_TRUE(parsed.ok()) << parsed.error().message;
  EXPECT_TRUE(parsed->verify("m", *key.sign("m")).ok());

  EXPECT_EQ(PublicKey::from_hex("04zz").error().code, "crypto.bad_hex");
  EXPECT_EQ(PublicKey::from_hex(text.substr(0, 128)).error().code, "crypto.bad_key");
  std::string compressed = "02" + text.substr(2, 64);
  EXPECT_EQ(PublicKey::from_hex(compressed).error().code, "crypto.bad_key");
  std::string off_curve = text;
  off_curve.back() = off_curve.back() == '0' ? '1' : '0';
  EXPECT_EQ(PublicKey::from_hex(off_curve).error().code, "crypto.bad_key");
}

TEST(Sm2, BadPemIsRefusedWithStableCodes) {
  PrivateKey key = PrivateKey::generate().value();
  std::string private_pem = key.to_pem().value();
  std::string public_pem = key.public_key().to_pem().value();

  for (std::string_view bad :
       {std::string_view(""), std::string_view("not a key"),
        std::string_view("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n")}) {
    EXPECT_EQ(PrivateKey::from_pem(bad).error().code, "crypto.bad_pem") << bad;
    EXPECT_EQ(PublicKey::from_pem(bad).error().code, "crypto.bad_pem") << bad;
  }
  // Each parser takes its own kind of PEM only.
  EXPECT_EQ(PrivateKey::from_pem(public_pem).error().code, "crypto.bad_pem");
  EXPECT_EQ(PublicKey::from_pem(private_pem).error().code, "crypto.bad_pem");
  // A damaged body.
  std::string damaged = private_pem;
  damaged[40] = damaged[40] == 'A' ? 'B' : 'A';
  damaged[41] = '*';
  Result<PrivateKey> result = PrivateKey::from_pem(damaged);
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.error().code, "crypto.bad_pem");
  EXPECT_EQ(result.error().kind, ErrorKind::invalid_argument);
  EXPECT_EQ(result.error().message.find(private_pem.substr(28, 20)), std::string::npos);
}

TEST(Sm2, OneKeyServesManyThreads) {
  PrivateKey key = PrivateKey::generate().value();
  PublicKey public_key = key.public_key();
  std::atomic<int> failures = 0;
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 25; ++i) {
        std::string message = "thread " + std::to_string(t) + " message " + std::to_string(i);
        Result<Bytes> signature = key.sign(message);
        if (!signature.ok() || !public_key.verify(message, *signature).ok()) ++failures;
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(failures, 0);
}

// ---- Interoperability with the openssl command line -----------------------------------------

class OpensslCli : public ::testing::Test {
 protected:
  void SetUp() override {
    // scripts/setup installs the openssl command; without it these checks must fail, not pass.
    ASSERT_EQ(std::system("openssl version >/dev/null 2>&1"), 0) << "the openssl command is not installed";
    auto stamp = std::chrono::steady_clock::now().time_since_epoch().count();
    directory_ =
        fs::temp_directory_path() /
        ("onewindow-crypto-test-" + std::to_string(::getpid()) + "-" + std::to_string(stamp));
    fs::create_directories(directory_);
  }
  void TearDown() override {
    std::error_code ignored;
    if (!directory_.empty()) fs::remove_all(directory_, ignored);
  }

  std::string path(const std::string& name) const { return (directory_ / name).string(); }

  void write(const std::string& name, std::span<const std::uint8_t> bytes) const {
    std::ofstream out(path(name), std::ios::binary);
    out.write(reinterpret_cast<const char*>(bytes.data()),
              static_cast<std::streamsize>(bytes.size()));
    ASSERT_TRUE(out.good()) << name;
  }
  void write(const std::string& name, std::string_view text) const { write(name, as_bytes(text)); }

  Bytes read(const std::string& name) const {
    std::ifstream in(path(name), std::ios::binary);
    return Bytes(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }

  // Runs a command in the directory; returns its exit status, keeping what it printed in
  // output_ for failure messages.
  int run(const std::string& command) {
    std::string full = "cd '" + directory_.string() + "' && " + command + " >output.txt 2>&1";
    int status = std::system(full.c_str());
    Bytes printed = read("output.txt");
    output_.assign(printed.begin(), printed.end());
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  }

  fs::path directory_;
  std::string output_;
};

constexpr const char* distid = " -pkeyopt distid:1234567812345678";

TEST_F(OpensslCli, OpensslVerifiesOurSignature) {
  PrivateKey key = PrivateKey::generate().value();
  std::string message = "certificate of business registration, 91110000XXXXXXXXXX";
  write("pub.pem", key.public_key().to_pem().value());
  write("m", message);
  write("sig", key.sign(message).value());
  ASSERT_EQ(run(std::string("openssl pkeyutl -verify -pubin -inkey pub.pem -sigfile sig -rawin "
                            "-digest sm3 -in m") +
                distid),
            0)
      << output_;
  // And openssl reads our private key PEM: the public key it derives is ours.
  write("k.pem", key.to_pem().value());
  ASSERT_EQ(run("openssl pkey -in k.pem -pubout -out derived.pem"), 0) << output_;
  Bytes derived = read("derived.pem");
  EXPECT_EQ(PublicKey::from_pem(std::string(derived.begin(), derived.end()))->to_hex(),
            key.public_key().to_hex());
  // A different message does not verify, so the check above means something.
  write("m2", message + ".");
  EXPECT_NE(run(std::string("openssl pkeyutl -verify -pubin -inkey pub.pem -sigfile sig -rawin "
                            "-digest sm3 -in m2") +
                distid),
            0);
}

TEST_F(OpensslCli, WeVerifyOpensslSignatureAndNeedTheDistinguishingId) {
  ASSERT_EQ(run("openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:SM2 -out k.pem"), 0)
      << output_;
  ASSERT_EQ(run("openssl pkey -in k.pem -pubout -out pub.pem"), 0) << output_;
  write("m", std::string_view("a message signed by the openssl command line"));
  ASSERT_EQ(run(std::string("openssl pkeyutl -sign -rawin -digest sm3 -inkey k.pem -in m "
                            "-out sig") +
                distid),
            0)
      << output_;
  ASSERT_EQ(run("openssl pkeyutl -sign -rawin -digest sm3 -inkey k.pem -in m -out sig-no-id"), 0)
      << output_;

  Bytes private_pem = read("k.pem");
  Bytes public_pem = read("pub.pem");
  Result<PrivateKey> key =
      PrivateKey::from_pem(std::string(private_pem.begin(), private_pem.end()));
  ASSERT_TRUE(key.ok()) << key.error().message;
  Result<PublicKey> public_key =
      PublicKey::from_pem(std::string(public_pem.begin(), public_pem.end()));
  ASSERT_TRUE(public_key.ok()) << public_key.error().message;
  EXPECT_EQ(key->public_key().to_hex(), public_key->to_hex());

  Bytes message = read("m");
  Status verified = public_key->verify(message, read("sig"));
  EXPECT_TRUE(verified.ok()) << verified.error().message;
  // openssl 3.0 signs with an empty ID unless told otherwise: we must not accept that.
  Status without_id = public_key->verify(message, read("sig-no-id"));
  ASSERT_FALSE(without_id.ok());
  EXPECT_EQ(without_id.error().code, "crypto.bad_signature");
  // And what we sign with openssl's key verifies with openssl.
  write("our-sig", key->sign(message).value());
  EXPECT_EQ(run(std::string("openssl pkeyutl -verify -pubin -inkey pub.pem -sigfile our-sig "
                            "-rawin -digest sm3 -in m") +
                distid),
            0)
      << output_;
}

TEST_F(OpensslCli, SecOneAndOtherCurvesAndEncryptedPem) {
  ASSERT_EQ(run("openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:SM2 -out k.pem"), 0);
  // The SEC1 form ("SM2 PRIVATE KEY" / "EC PRIVATE KEY") loads too.
  ASSERT_EQ(run("openssl ec -in k.pem -out sec1.pem"), 0) << output_;
  Bytes sec1 = read("sec1.pem");
  EXPECT_TRUE(PrivateKey::from_pem(std::string(sec1.begin(), sec1.end())).ok());

  ASSERT_EQ(run("openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out p256.pem"), 0);
  ASSERT_EQ(run("openssl pkey -in p256.pem -pubout -out p256-pub.pem"), 0);
  Bytes p256 = read("p256.pem");
  Bytes p256_public = read("p256-pub.pem");
  Result<PrivateKey> wrong_curve = PrivateKey::from_pem(std::string(p256.begin(), p256.end()));
  ASSERT_FALSE(wrong_curve.ok());
  EXPECT_EQ(wrong_curve.error().code, "crypto.bad_key");
  EXPECT_EQ(PublicKey::from_pem(std::string(p256_public.begin(), p256_public.end())).error().code,
            "crypto.bad_key");

  ASSERT_EQ(run("openssl pkey -in k.pem -aes-128-cbc -passout pass:secret -out encrypted.pem"), 0)
      << output_;
  Bytes encrypted = read("encrypted.pem");
  EXPECT_EQ(PrivateKey::from_pem(std::string(encrypted.begin(), encrypted.end())).error().code,
            "crypto.bad_pem");
}

TEST_F(OpensslCli, OpensslDecryptsOurSm4Ctr) {
  Bytes key = random_bytes(16).value();
  Bytes iv = random_bytes(16).value();
  std::string plaintext = "a resident's address, 100 bytes or so, crossing several SM4 blocks...!";
  write("ciphertext", sm4_ctr(key, iv, as_bytes(plaintext)).value());
  ASSERT_EQ(run("openssl enc -d -sm4-ctr -K " + to_hex(key) + " -iv " + to_hex(iv) +
                " -in ciphertext -out plaintext"),
            0)
      << output_;
  Bytes decrypted = read("plaintext");
  EXPECT_EQ(std::string(decrypted.begin(), decrypted.end()), plaintext);
}

TEST_F(OpensslCli, OpensslComputesTheSameHmacSm3) {
  Bytes key = random_bytes(20).value();
  Bytes data = random_bytes(1000).value();
  write("data", data);
  ASSERT_EQ(run("openssl mac -digest SM3 -macopt hexkey:" + to_hex(key) + " -in data HMAC"), 0)
      << output_;
  std::string printed = output_;
  while (!printed.empty() && (printed.back() == '\n' || printed.back() == '\r')) printed.pop_back();
  EXPECT_EQ(printed.size(), 64u) << printed;
  Bytes expected = hex(printed);
  EXPECT_EQ(to_hex(expected), to_hex(hmac_sm3(key, data)));
}

}  // namespace
}  // namespace onewindow::crypto
