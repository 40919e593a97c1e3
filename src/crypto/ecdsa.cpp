// ES256 (ECDSA on P-256 with SHA-256) for JSON Web Tokens, SHA-256, and base64url.
//
// OpenSSL signs and verifies ECDSA in DER (SEQUENCE { INTEGER r, INTEGER s }); JOSE writes the
// same two numbers as 64 fixed-width bytes r || s (RFC 7518 section 3.4). The conversion between
// the two lives here and nowhere else.
#include "crypto/crypto.h"
#include "crypto/openssl_support.h"

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <openssl/pem.h>

#include <cstdio>
#include <cstdlib>
#include <limits>

namespace onewindow::crypto {
using namespace openssl_support;
namespace {

constexpr std::size_t coordinate_size = 32;  // P-256 coordinates and scalars
constexpr std::size_t max_pem_size = 64 * 1024;
// OpenSSL's name for P-256 (secp256r1), as EVP_PKEY_get_utf8_string_param reports it.
constexpr std::string_view p256_group_name = "prime256v1";

using SignaturePointer = std::unique_ptr<ECDSA_SIG, Deleter<ECDSA_SIG_free>>;

Error bad_signature(std::string message) {
  ERR_clear_error();
  return Error(ErrorKind::invalid_argument, "crypto.bad_signature", std::move(message));
}

Error bad_base64url(std::string message) {
  return Error(ErrorKind::invalid_argument, "crypto.bad_base64url", std::move(message));
}

// Refuses encrypted PEM instead of letting OpenSSL ask for a pass phrase on the terminal.
int no_passphrase(char*, int, int, void*) { return -1; }

BioPointer read_bio(std::string_view text) {
  if (text.empty() || text.size() > max_pem_size) return nullptr;
  return BioPointer(BIO_new_mem_buf(text.data(), static_cast<int>(text.size())));
}

Result<std::string> bio_text(BIO* bio) {
  char* data = nullptr;
  long length = BIO_get_mem_data(bio, &data);
  if (length <= 0 || data == nullptr) return openssl_error("writing PEM");
  return std::string(data, static_cast<std::size_t>(length));
}

Status check_p256(EVP_PKEY* pkey) {
  char group[64] = {};
  std::size_t length = 0;
  if (!EVP_PKEY_is_a(pkey, "EC") ||
      EVP_PKEY_get_utf8_string_param(pkey, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof group, &length) != 1 ||
      std::string_view(group, length) != p256_group_name) {
    return bad_key("the key is not an elliptic-curve key on P-256");
  }
  return ok_status();
}

Result<std::array<std::uint8_t, coordinate_size>> coordinate(EVP_PKEY* pkey, const char* name) {
  BIGNUM* value = nullptr;
  if (EVP_PKEY_get_bn_param(pkey, name, &value) != 1) return openssl_error("reading a P-256 public key");
  BignumPointer owned(value);
  std::array<std::uint8_t, coordinate_size> bytes{};
  if (BN_bn2binpad(value, bytes.data(), static_cast<int>(bytes.size())) != static_cast<int>(bytes.size())) {
    return openssl_error("writing a P-256 coordinate");
  }
  return bytes;
}

// The r || s form from DER, each number left-padded to 32 bytes.
Result<Bytes> raw_from_der(std::span<const std::uint8_t> der) {
  if (der.empty() || der.size() > std::numeric_limits<long>::max()) {
    return bad_signature("the signature is not a DER ECDSA signature");
  }
  const unsigned char* cursor = der.data();
  SignaturePointer signature(d2i_ECDSA_SIG(nullptr, &cursor, static_cast<long>(der.size())));
  if (!signature || cursor != der.data() + der.size()) {
    return bad_signature("the signature is not one DER ECDSA signature");
  }
  const BIGNUM* r = nullptr;
  const BIGNUM* s = nullptr;
  ECDSA_SIG_get0(signature.get(), &r, &s);
  if (BN_is_negative(r) || BN_is_negative(s) || BN_num_bytes(r) > static_cast<int>(coordinate_size) ||
      BN_num_bytes(s) > static_cast<int>(coordinate_size)) {
    return bad_signature("the DER signature's numbers do not fit P-256");
  }
  Bytes raw(2 * coordinate_size);
  BN_bn2binpad(r, raw.data(), static_cast<int>(coordinate_size));
  BN_bn2binpad(s, raw.data() + coordinate_size, static_cast<int>(coordinate_size));
  return raw;
}

Result<Bytes> der_from_raw(std::span<const std::uint8_t> raw) {
  if (raw.size() != 2 * coordinate_size) {
    return bad_signature("an ES256 signature is 64 bytes (r || s), not " + std::to_string(raw.size()));
  }
  BignumPointer r(BN_bin2bn(raw.data(), static_cast<int>(coordinate_size), nullptr));
  BignumPointer s(BN_bin2bn(raw.data() + coordinate_size, static_cast<int>(coordinate_size), nullptr));
  SignaturePointer signature(ECDSA_SIG_new());
  if (!r || !s || !signature || ECDSA_SIG_set0(signature.get(), r.get(), s.get()) != 1) {
    return openssl_error("building an ECDSA signature");
  }
  r.release();  // owned by the signature now
  s.release();
  int length = i2d_ECDSA_SIG(signature.get(), nullptr);
  if (length <= 0) return openssl_error("encoding an ECDSA signature");
  Bytes der(static_cast<std::size_t>(length));
  unsigned char* cursor = der.data();
  if (i2d_ECDSA_SIG(signature.get(), &cursor) != length) return openssl_error("encoding an ECDSA signature");
  return der;
}

constexpr char base64url_alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

int base64url_value(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '-') return 62;
  if (c == '_') return 63;
  return -1;
}

}  // namespace

// ---- SHA-256, base64url, comparison ---------------------------------------------------------

Sha256Digest sha256(std::span<const std::uint8_t> data) {
  Sha256Digest digest{};
  std::size_t length = 0;
  if (EVP_Q_digest(nullptr, "SHA256", nullptr, data.data(), data.size(), digest.data(), &length) != 1 ||
      length != digest.size()) {
    std::string reason = take_openssl_error_text();
    std::fprintf(stderr, "onewindow crypto: SHA-256 failed in OpenSSL: %s\n", reason.c_str());
    std::abort();
  }
  return digest;
}

Sha256Digest sha256(std::string_view data) { return sha256(as_bytes(data)); }

std::string base64url_encode(std::span<const std::uint8_t> bytes) {
  std::string text;
  text.reserve((bytes.size() * 4 + 2) / 3);
  std::uint32_t buffer = 0;
  int bits = 0;
  for (std::uint8_t byte : bytes) {
    buffer = (buffer << 8) | byte;
    bits += 8;
    while (bits >= 6) {
      bits -= 6;
      text += base64url_alphabet[(buffer >> bits) & 0x3f];
    }
  }
  if (bits > 0) text += base64url_alphabet[(buffer << (6 - bits)) & 0x3f];
  return text;
}

std::string base64url_encode(std::string_view text) { return base64url_encode(as_bytes(text)); }

Result<Bytes> base64url_decode(std::string_view text) {
  // A length of 1 modulo 4 cannot come from whole bytes.
  if (text.size() % 4 == 1) return bad_base64url("base64url text cannot be " + std::to_string(text.size()) + " characters long");
  Bytes bytes;
  bytes.reserve(text.size() * 3 / 4);
  std::uint32_t buffer = 0;
  int bits = 0;
  for (char c : text) {
    int value = base64url_value(c);
    if (value < 0) return bad_base64url("base64url text holds a character outside A-Z a-z 0-9 - _ (padding is not used)");
    buffer = (buffer << 6) | static_cast<std::uint32_t>(value);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      bytes.push_back(static_cast<std::uint8_t>((buffer >> bits) & 0xff));
    }
  }
  // Left-over bits must be zero, or two texts would decode to the same bytes.
  if (bits > 0 && (buffer & ((1u << bits) - 1)) != 0) return bad_base64url("base64url text has stray bits at its end");
  return bytes;
}

bool constant_time_equal(std::span<const std::uint8_t> first, std::span<const std::uint8_t> second) {
  if (first.size() != second.size()) return false;
  if (first.empty()) return true;
  return CRYPTO_memcmp(first.data(), second.data(), first.size()) == 0;
}

// ---- P-256 keys -----------------------------------------------------------------------------

struct P256PublicKey::Key {
  PkeyPointer pkey;
  std::string x;  // base64url of the 32-byte coordinates
  std::string y;
  std::string thumbprint;
};

struct P256PrivateKey::Key {
  PkeyPointer pkey;
};

namespace {

Result<std::shared_ptr<const P256PublicKey::Key>> public_key_of(PkeyPointer pkey) {
  auto x = coordinate(pkey.get(), OSSL_PKEY_PARAM_EC_PUB_X);
  if (!x.ok()) return x.take_error();
  auto y = coordinate(pkey.get(), OSSL_PKEY_PARAM_EC_PUB_Y);
  if (!y.ok()) return y.take_error();
  auto key = std::make_shared<P256PublicKey::Key>();
  key->pkey = std::move(pkey);
  key->x = base64url_encode(*x);
  key->y = base64url_encode(*y);
  // RFC 7638 section 3.2: the required members only, in lexicographic order, no whitespace.
  std::string members = R"({"crv":"P-256","kty":"EC","x":")" + key->x + R"(","y":")" + key->y + R"("})";
  key->thumbprint = base64url_encode(sha256(members));
  return std::shared_ptr<const P256PublicKey::Key>(std::move(key));
}

}  // namespace

Result<P256PublicKey> P256PublicKey::from_pem(std::string_view pem) {
  BioPointer bio = read_bio(pem);
  if (!bio) return bad_pem("the public key PEM is empty or too long");
  PkeyPointer pkey(PEM_read_bio_PUBKEY(bio.get(), nullptr, no_passphrase, nullptr));
  if (!pkey) return bad_pem("the text is not a \"PUBLIC KEY\" PEM (SubjectPublicKeyInfo)");
  ONEWINDOW_TRY(check_p256(pkey.get()));
  auto key = public_key_of(std::move(pkey));
  if (!key.ok()) return key.take_error();
  return P256PublicKey(std::move(key).value());
}

Result<P256PublicKey> P256PublicKey::from_jwk(const nlohmann::json& jwk) {
  auto member = [&](const char* name) -> std::string {
    auto found = jwk.is_object() ? jwk.find(name) : jwk.end();
    return jwk.is_object() && found != jwk.end() && found->is_string() ? found->get<std::string>() : std::string();
  };
  if (member("kty") != "EC" || member("crv") != "P-256") {
    return bad_key("the JWK is not an elliptic-curve key on P-256 (kty EC, crv P-256)");
  }
  if (jwk.contains("d")) return bad_key("the JWK holds a private key (d); give the public key only");
  auto x = base64url_decode(member("x"));
  auto y = base64url_decode(member("y"));
  if (!x.ok() || !y.ok() || x->size() != coordinate_size || y->size() != coordinate_size) {
    return bad_key("the JWK's x and y must each be 32 bytes in base64url");
  }
  Bytes point;
  point.reserve(1 + 2 * coordinate_size);
  point.push_back(0x04);
  point.insert(point.end(), x->begin(), x->end());
  point.insert(point.end(), y->begin(), y->end());
  PkeyContext context(EVP_PKEY_CTX_new_from_name(nullptr, "EC", nullptr));
  if (!context || EVP_PKEY_fromdata_init(context.get()) != 1) return openssl_error("preparing a P-256 public key");
  char group[] = "prime256v1";
  OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, group, 0),
                         OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PUB_KEY, point.data(), point.size()),
                         OSSL_PARAM_construct_end()};
  EVP_PKEY* made = nullptr;
  if (EVP_PKEY_fromdata(context.get(), &made, EVP_PKEY_PUBLIC_KEY, params) != 1) {
    return bad_key("the JWK's point is not on P-256");
  }
  PkeyPointer pkey(made);
  // fromdata checks the point is on the curve; this also refuses the point at infinity.
  PkeyContext check(EVP_PKEY_CTX_new_from_pkey(nullptr, pkey.get(), nullptr));
  if (!check || EVP_PKEY_public_check(check.get()) != 1) return bad_key("the JWK's point is not a valid P-256 public key");
  auto key = public_key_of(std::move(pkey));
  if (!key.ok()) return key.take_error();
  return P256PublicKey(std::move(key).value());
}

Result<std::string> P256PublicKey::to_pem() const {
  BioPointer bio(BIO_new(BIO_s_mem()));
  if (!bio || PEM_write_bio_PUBKEY(bio.get(), key_->pkey.get()) != 1) return openssl_error("writing a public key PEM");
  return bio_text(bio.get());
}

nlohmann::json P256PublicKey::jwk() const {
  return {{"kty", "EC"}, {"crv", "P-256"}, {"x", key_->x}, {"y", key_->y}, {"kid", key_->thumbprint}};
}

const std::string& P256PublicKey::thumbprint() const { return key_->thumbprint; }

Status P256PublicKey::verify(std::span<const std::uint8_t> message, std::span<const std::uint8_t> signature) const {
  if (signature.size() != 2 * coordinate_size) {
    return bad_signature("an ES256 signature is 64 bytes (r || s), not " + std::to_string(signature.size()));
  }
  auto der = der_from_raw(signature);
  if (!der.ok()) return der.take_error();
  MdContext context(EVP_MD_CTX_new());
  if (!context || EVP_DigestVerifyInit_ex(context.get(), nullptr, "SHA256", nullptr, nullptr, key_->pkey.get(),
                                          nullptr) != 1) {
    return openssl_error("preparing ES256 verification");
  }
  if (EVP_DigestVerify(context.get(), der->data(), der->size(), message.data(), message.size()) != 1) {
    return bad_signature("the ES256 signature does not verify with this public key");
  }
  return ok_status();
}

Status P256PublicKey::verify(std::string_view message, std::span<const std::uint8_t> signature) const {
  return verify(as_bytes(message), signature);
}

Result<P256PrivateKey> P256PrivateKey::generate() {
  auto key = std::make_shared<Key>();
  key->pkey.reset(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256"));
  if (!key->pkey) return openssl_error("P-256 key generation");
  return from_parsed(std::move(key));
}

Result<P256PrivateKey> P256PrivateKey::from_pem(std::string_view pem) {
  BioPointer bio = read_bio(pem);
  if (!bio) return bad_pem("the private key PEM is empty or too long");
  auto key = std::make_shared<Key>();
  key->pkey.reset(PEM_read_bio_PrivateKey(bio.get(), nullptr, no_passphrase, nullptr));
  if (!key->pkey) return bad_pem("the text is not an unencrypted \"PRIVATE KEY\" PEM (PKCS#8)");
  ONEWINDOW_TRY(check_p256(key->pkey.get()));
  return from_parsed(std::move(key));
}

Result<P256PrivateKey> P256PrivateKey::from_parsed(std::shared_ptr<const Key> key) {
  // The public half shares the parsed key; EVP_PKEY is reference-counted.
  if (EVP_PKEY_up_ref(key->pkey.get()) != 1) return openssl_error("sharing a P-256 key");
  auto public_key = public_key_of(PkeyPointer(key->pkey.get()));
  if (!public_key.ok()) return public_key.take_error();
  return P256PrivateKey(std::move(key), P256PublicKey(std::move(public_key).value()));
}

Result<std::string> P256PrivateKey::to_pem() const {
  // Secure memory is wiped when the BIO is freed.
  BioPointer bio(BIO_new(BIO_s_secmem()));
  if (!bio || PEM_write_bio_PKCS8PrivateKey(bio.get(), key_->pkey.get(), nullptr, nullptr, 0, nullptr, nullptr) != 1) {
    return openssl_error("writing a private key PEM");
  }
  return bio_text(bio.get());
}

Result<Bytes> P256PrivateKey::sign(std::span<const std::uint8_t> message) const {
  MdContext context(EVP_MD_CTX_new());
  if (!context || EVP_DigestSignInit_ex(context.get(), nullptr, "SHA256", nullptr, nullptr, key_->pkey.get(),
                                        nullptr) != 1) {
    return openssl_error("preparing ES256 signing");
  }
  std::size_t length = 0;
  if (EVP_DigestSign(context.get(), nullptr, &length, message.data(), message.size()) != 1) {
    return openssl_error("ES256 signing");
  }
  Bytes der(length);
  if (EVP_DigestSign(context.get(), der.data(), &length, message.data(), message.size()) != 1) {
    return openssl_error("ES256 signing");
  }
  der.resize(length);
  return raw_from_der(der);
}

Result<Bytes> P256PrivateKey::sign(std::string_view message) const { return sign(as_bytes(message)); }

Result<Bytes> es256_signature_to_der(std::span<const std::uint8_t> raw) { return der_from_raw(raw); }

Result<Bytes> es256_signature_from_der(std::span<const std::uint8_t> der) { return raw_from_der(der); }

}  // namespace onewindow::crypto
