// SM2, SM3 and SM4 over OpenSSL 3.0's EVP interface.
//
// Speed: algorithms are fetched once per process, and each key is parsed once. An SM2 key also
// computes its Z value (GM/T 0003.2: SM3 of the ID, the curve and the public point) once, so
// that signing is SM3(Z || M) followed by EVP_PKEY_sign on that digest, with a signing context
// taken from a small per-key pool instead of being set up for every signature.
#include "crypto/crypto.h"
#include "crypto/openssl_support.h"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/obj_mac.h>
#include <openssl/params.h>
#include <openssl/pem.h>
#include <openssl/rand.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

namespace onewindow::crypto {
using namespace openssl_support;
namespace {

constexpr std::size_t sm2_coordinate_size = 32;
constexpr std::size_t sm2_point_size = 1 + 2 * sm2_coordinate_size;  // 04 || x || y
constexpr std::size_t sm2_max_signature_size = 72;                   // DER of two 256-bit ints
constexpr std::size_t max_pem_size = 64 * 1024;
constexpr std::size_t tag_size = 32;

// ---- OpenSSL plumbing -----------------------------------------------------------------------

using CipherContext = std::unique_ptr<EVP_CIPHER_CTX, Deleter<EVP_CIPHER_CTX_free>>;
using MacContext = std::unique_ptr<EVP_MAC_CTX, Deleter<EVP_MAC_CTX_free>>;
using KdfContext = std::unique_ptr<EVP_KDF_CTX, Deleter<EVP_KDF_CTX_free>>;
using GroupPointer = std::unique_ptr<EC_GROUP, Deleter<EC_GROUP_free>>;

Error authentication_failed() {
  return Error(ErrorKind::invalid_argument, "crypto.authentication_failed",
               "the envelope does not authenticate: it was altered, or the key or the "
               "associated data differ from those it was made with");
}

[[noreturn]] void die(const char* operation) {
  std::string reason = take_openssl_error_text();
  std::fprintf(stderr, "onewindow crypto: %s failed in OpenSSL: %s\n", operation, reason.c_str());
  std::abort();
}

// Algorithms fetched once from the default library context. Explicit fetching avoids the
// name lookup that EVP_sm3() and friends cost on every initialisation.
struct Algorithms {
  EVP_MD* sm3 = nullptr;
  EVP_MAC* hmac = nullptr;
  EVP_CIPHER* sm4_ctr = nullptr;
  EVP_KDF* hkdf = nullptr;

  Algorithms()
      : sm3(EVP_MD_fetch(nullptr, "SM3", nullptr)),
        hmac(EVP_MAC_fetch(nullptr, "HMAC", nullptr)),
        sm4_ctr(EVP_CIPHER_fetch(nullptr, "SM4-CTR", nullptr)),
        hkdf(EVP_KDF_fetch(nullptr, "HKDF", nullptr)) {
    ERR_clear_error();
  }
  ~Algorithms() {
    EVP_MD_free(sm3);
    EVP_MAC_free(hmac);
    EVP_CIPHER_free(sm4_ctr);
    EVP_KDF_free(hkdf);
  }
  Algorithms(const Algorithms&) = delete;
  Algorithms& operator=(const Algorithms&) = delete;
};

const Algorithms& algorithms() {
  static const Algorithms instance;
  return instance;
}

const EVP_MD* sm3_algorithm() {
  const EVP_MD* md = algorithms().sm3;
  if (md == nullptr) die("fetching SM3");
  return md;
}

// OpenSSL takes int lengths in a few places; larger inputs go in pieces of this size.
constexpr std::size_t max_chunk = 1u << 30;

void digest_update(EVP_MD_CTX* context, std::span<const std::uint8_t> data) {
  while (!data.empty()) {
    std::size_t piece = std::min(data.size(), max_chunk);
    if (EVP_DigestUpdate(context, data.data(), piece) != 1) die("SM3 update");
    data = data.subspan(piece);
  }
}

Status fill_random(std::span<std::uint8_t> out) {
  while (!out.empty()) {
    std::size_t piece = std::min(out.size(), max_chunk);
    if (RAND_bytes(out.data(), static_cast<int>(piece)) != 1) {
      return openssl_error("generating random bytes");
    }
    out = out.subspan(piece);
  }
  return ok_status();
}

// Applies SM4-CTR to in, writing out (same size; may be the same memory).
Status sm4_ctr_into(const std::uint8_t* key, const std::uint8_t* iv,
                    std::span<const std::uint8_t> in, std::uint8_t* out) {
  const EVP_CIPHER* cipher = algorithms().sm4_ctr;
  if (cipher == nullptr) return openssl_error("fetching SM4-CTR");
  CipherContext context(EVP_CIPHER_CTX_new());
  if (!context || EVP_EncryptInit_ex2(context.get(), cipher, key, iv, nullptr) != 1) {
    return openssl_error("SM4-CTR initialisation");
  }
  std::size_t done = 0;
  while (done < in.size()) {
    std::size_t piece = std::min(in.size() - done, max_chunk);
    int written = 0;
    if (EVP_EncryptUpdate(context.get(), out + done, &written, in.data() + done,
                          static_cast<int>(piece)) != 1 ||
        static_cast<std::size_t>(written) != piece) {
      return openssl_error("SM4-CTR encryption");
    }
    done += piece;
  }
  return ok_status();
}

// A read-only memory BIO over text; nullptr when the text cannot be a key.
BioPointer read_bio(std::string_view text) {
  if (text.empty() || text.size() > max_pem_size) return nullptr;
  return BioPointer(BIO_new_mem_buf(text.data(), static_cast<int>(text.size())));
}

// Refuses to prompt for a passphrase: encrypted PEM is not supported.
int no_passphrase(char*, int, int, void*) { return -1; }

Result<std::string> bio_text(BIO* bio) {
  char* data = nullptr;
  long length = BIO_get_mem_data(bio, &data);
  if (length <= 0 || data == nullptr) return openssl_error("writing PEM");
  return std::string(data, static_cast<std::size_t>(length));
}

// ---- SM2 Z value ----------------------------------------------------------------------------

// ENTL || ID || a || b || xG || yG for the default ID: the part of Z that is the same for
// every key (GM/T 0003.2 section 5.5). Computed once from OpenSSL's own curve definition.
constexpr std::size_t z_prefix_size = 2 + sm2_default_id.size() + 4 * sm2_coordinate_size;

const std::array<std::uint8_t, z_prefix_size>& z_prefix() {
  static const std::array<std::uint8_t, z_prefix_size> prefix = [] {
    std::array<std::uint8_t, z_prefix_size> bytes{};
    std::size_t id_bits = sm2_default_id.size() * 8;
    bytes[0] = static_cast<std::uint8_t>(id_bits >> 8);
    bytes[1] = static_cast<std::uint8_t>(id_bits & 0xff);
    std::uint8_t* out = std::copy(sm2_default_id.begin(), sm2_default_id.end(), bytes.begin() + 2);

    GroupPointer group(EC_GROUP_new_by_curve_name_ex(nullptr, nullptr, NID_sm2));
    BignumPointer p(BN_new()), a(BN_new()), b(BN_new());
    if (!group || !p || !a || !b ||
        EC_GROUP_get_curve(group.get(), p.get(), a.get(), b.get(), nullptr) != 1) {
      die("reading the SM2 curve");
    }
    for (const BIGNUM* value : {a.get(), b.get()}) {
      if (BN_bn2binpad(value, out, sm2_coordinate_size) != static_cast<int>(sm2_coordinate_size)) {
        die("reading the SM2 curve");
      }
      out += sm2_coordinate_size;
    }
    std::uint8_t generator[sm2_point_size];
    if (EC_POINT_point2oct(group.get(), EC_GROUP_get0_generator(group.get()),
                           POINT_CONVERSION_UNCOMPRESSED, generator, sizeof generator,
                           nullptr) != sizeof generator) {
      die("reading the SM2 generator");
    }
    std::copy(generator + 1, generator + sizeof generator, out);  // xG || yG
    return bytes;
  }();
  return prefix;
}

Sm3Digest compute_z(std::span<const std::uint8_t, sm2_point_size> point) {
  Sm3Hasher hasher;
  hasher.update(z_prefix());
  hasher.update(point.subspan(1));  // x || y without the 04
  return hasher.finish();
}

// e = SM3(Z || M), the value SM2 signs.
Sm3Digest message_digest(const Sm3Digest& z, std::span<const std::uint8_t> message) {
  Sm3Hasher hasher;
  hasher.update(z);
  hasher.update(message);
  return hasher.finish();
}

// Ok when pkey is an SM2 key (OpenSSL 3.0 types every key on the SM2 curve as SM2).
Status check_sm2(EVP_PKEY* pkey) {
  char group[64] = {};
  std::size_t length = 0;
  if (!EVP_PKEY_is_a(pkey, "SM2") ||
      EVP_PKEY_get_utf8_string_param(pkey, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof group,
                                     &length) != 1 ||
      std::string_view(group, length) != "SM2") {
    return bad_key(std::string("expected a key on the SM2 curve, got a ") +
                   (EVP_PKEY_get0_type_name(pkey) ? EVP_PKEY_get0_type_name(pkey) : "unknown") +
                   " key");
  }
  return ok_status();
}

Result<std::array<std::uint8_t, sm2_point_size>> public_point(EVP_PKEY* pkey) {
  std::array<std::uint8_t, sm2_point_size> point{};
  std::size_t length = 0;
  if (EVP_PKEY_get_octet_string_param(pkey, OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY, point.data(),
                                      point.size(), &length) != 1 ||
      length != point.size() || point[0] != 0x04) {
    return bad_key("the SM2 key has no uncompressed public point");
  }
  return point;
}

// A public-only EVP_PKEY for the point; OpenSSL checks that the point is on the curve.
Result<PkeyPointer> public_pkey_from_point(std::span<const std::uint8_t> point) {
  if (point.size() != sm2_point_size || point[0] != 0x04) {
    return bad_key("an SM2 public key is 65 bytes, 04 || x || y");
  }
  PkeyContext context(EVP_PKEY_CTX_new_from_name(nullptr, "SM2", nullptr));
  if (!context || EVP_PKEY_fromdata_init(context.get()) != 1) {
    return openssl_error("preparing an SM2 public key");
  }
  char group[] = "SM2";
  OSSL_PARAM params[] = {
      OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, group, 0),
      OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PUB_KEY,
                                        const_cast<std::uint8_t*>(point.data()), point.size()),
      OSSL_PARAM_construct_end()};
  EVP_PKEY* pkey = nullptr;
  if (EVP_PKEY_fromdata(context.get(), &pkey, EVP_PKEY_PUBLIC_KEY, params) != 1) {
    return bad_key("the SM2 public key is not a point on the curve");
  }
  return PkeyPointer(pkey);
}

// Prepared EVP_PKEY_CTX objects for one key and one operation (sign or verify), reused across
// calls: setting one up fetches the algorithm and copies key references, which is worth
// doing once rather than per signature. Thread-safe.
class ContextPool {
 public:
  enum class Operation { sign, verify };

  ContextPool(EVP_PKEY* pkey, Operation operation) : pkey_(pkey), operation_(operation) {
    EVP_PKEY_up_ref(pkey_);
  }
  ~ContextPool() {
    for (EVP_PKEY_CTX* context : idle_) EVP_PKEY_CTX_free(context);
    EVP_PKEY_free(pkey_);
  }
  ContextPool(const ContextPool&) = delete;
  ContextPool& operator=(const ContextPool&) = delete;

  Result<PkeyContext> take() const {
    {
      std::lock_guard lock(mutex_);
      if (!idle_.empty()) {
        PkeyContext context(idle_.back());
        idle_.pop_back();
        return context;
      }
    }
    PkeyContext context(EVP_PKEY_CTX_new_from_pkey(nullptr, pkey_, nullptr));
    int initialised = 0;
    if (context) {
      initialised = operation_ == Operation::sign ? EVP_PKEY_sign_init(context.get())
                                                  : EVP_PKEY_verify_init(context.get());
    }
    if (initialised != 1) {
      return openssl_error(operation_ == Operation::sign ? "SM2 signing setup"
                                                         : "SM2 verification setup");
    }
    return context;
  }

  void give_back(PkeyContext context) const {
    std::lock_guard lock(mutex_);
    if (idle_.size() < max_idle) idle_.push_back(context.release());
  }

 private:
  static constexpr std::size_t max_idle = 64;
  EVP_PKEY* pkey_;
  Operation operation_;
  mutable std::mutex mutex_;
  mutable std::vector<EVP_PKEY_CTX*> idle_;
};

// ---- SM4 envelope keys ----------------------------------------------------------------------

constexpr std::string_view envelope_salt = "onewindow sm4 envelope v1";
constexpr std::string_view encryption_key_info = "sm4-ctr key";
constexpr std::string_view mac_key_info = "hmac-sm3 key";

Status hkdf_sm3(std::span<const std::uint8_t> key, std::string_view info,
                std::span<std::uint8_t> out) {
  const EVP_KDF* kdf = algorithms().hkdf;
  if (kdf == nullptr) return openssl_error("fetching HKDF");
  KdfContext context(EVP_KDF_CTX_new(const_cast<EVP_KDF*>(kdf)));
  if (!context) return openssl_error("HKDF setup");
  char digest[] = "SM3";
  OSSL_PARAM params[] = {
      OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, digest, 0),
      OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, const_cast<std::uint8_t*>(key.data()),
                                        key.size()),
      OSSL_PARAM_construct_octet_string(
          OSSL_KDF_PARAM_SALT, const_cast<char*>(envelope_salt.data()), envelope_salt.size()),
      OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, const_cast<char*>(info.data()),
                                        info.size()),
      OSSL_PARAM_construct_end()};
  if (EVP_KDF_derive(context.get(), out.data(), out.size(), params) != 1) {
    return openssl_error("HKDF-SM3 key derivation");
  }
  return ok_status();
}

// An HMAC-SM3 context keyed with key and not yet fed, ready to be duplicated.
Result<MacContext> hmac_sm3_context(std::span<const std::uint8_t> key) {
  const EVP_MAC* mac = algorithms().hmac;
  if (mac == nullptr) return openssl_error("fetching HMAC");
  MacContext context(EVP_MAC_CTX_new(const_cast<EVP_MAC*>(mac)));
  char digest[] = "SM3";
  OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0),
                         OSSL_PARAM_construct_end()};
  static const std::uint8_t no_key = 0;  // OpenSSL wants a pointer even for an empty key
  if (!context ||
      EVP_MAC_init(context.get(), key.empty() ? &no_key : key.data(), key.size(), params) != 1) {
    return openssl_error("HMAC-SM3 setup");
  }
  return context;
}

void mac_update(EVP_MAC_CTX* context, std::span<const std::uint8_t> data, bool& ok) {
  while (ok && !data.empty()) {
    std::size_t piece = std::min(data.size(), max_chunk);
    ok = EVP_MAC_update(context, data.data(), piece) == 1;
    data = data.subspan(piece);
  }
}

}  // namespace

// ---- Bytes and text -------------------------------------------------------------------------

std::string to_hex(std::span<const std::uint8_t> bytes) {
  static constexpr char digits[] = "0123456789abcdef";
  std::string text(bytes.size() * 2, '\0');
  for (std::size_t i = 0; i < bytes.size(); ++i) {
    text[2 * i] = digits[bytes[i] >> 4];
    text[2 * i + 1] = digits[bytes[i] & 0x0f];
  }
  return text;
}

Result<Bytes> from_hex(std::string_view hex) {
  auto value = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  if (hex.size() % 2 != 0) {
    return Error(ErrorKind::invalid_argument, "crypto.bad_hex",
                 "hex text has an odd number of digits (" + std::to_string(hex.size()) + ")");
  }
  Bytes bytes(hex.size() / 2);
  for (std::size_t i = 0; i < bytes.size(); ++i) {
    int high = value(hex[2 * i]);
    int low = value(hex[2 * i + 1]);
    if (high < 0 || low < 0) {
      std::size_t position = high < 0 ? 2 * i : 2 * i + 1;
      return Error(ErrorKind::invalid_argument, "crypto.bad_hex",
                   "hex text has a character that is not a hex digit at position " +
                       std::to_string(position),
                   nlohmann::json{{"position", position}});
    }
    bytes[i] = static_cast<std::uint8_t>(high << 4 | low);
  }
  return bytes;
}

std::span<const std::uint8_t> as_bytes(std::string_view text) {
  return {reinterpret_cast<const std::uint8_t*>(text.data()), text.size()};
}

Result<Bytes> random_bytes(std::size_t count) {
  Bytes bytes(count);
  ONEWINDOW_TRY(fill_random(bytes));
  return bytes;
}

// ---- SM3 ------------------------------------------------------------------------------------

struct Sm3Hasher::State {
  MdContext context;
};

Sm3Hasher::Sm3Hasher() : state_(std::make_unique<State>()) {
  state_->context.reset(EVP_MD_CTX_new());
  if (!state_->context ||
      EVP_DigestInit_ex2(state_->context.get(), sm3_algorithm(), nullptr) != 1) {
    die("SM3 initialisation");
  }
}

Sm3Hasher::~Sm3Hasher() = default;
Sm3Hasher::Sm3Hasher(Sm3Hasher&& other) noexcept = default;
Sm3Hasher& Sm3Hasher::operator=(Sm3Hasher&& other) noexcept = default;

void Sm3Hasher::update(std::span<const std::uint8_t> data) {
  if (!state_) *this = Sm3Hasher();  // a moved-from hasher starts afresh
  digest_update(state_->context.get(), data);
}

void Sm3Hasher::update(std::string_view data) { update(as_bytes(data)); }

Sm3Digest Sm3Hasher::finish() {
  if (!state_) *this = Sm3Hasher();
  Sm3Digest digest;
  unsigned int length = 0;
  if (EVP_DigestFinal_ex(state_->context.get(), digest.data(), &length) != 1 ||
      length != digest.size() ||
      EVP_DigestInit_ex2(state_->context.get(), sm3_algorithm(), nullptr) != 1) {
    die("SM3 finish");
  }
  return digest;
}

Sm3Digest sm3(std::span<const std::uint8_t> data) {
  Sm3Digest digest;
  unsigned int length = 0;
  if (data.size() <= max_chunk) {
    if (EVP_Digest(data.data(), data.size(), digest.data(), &length, sm3_algorithm(), nullptr) !=
            1 ||
        length != digest.size()) {
      die("SM3");
    }
    return digest;
  }
  Sm3Hasher hasher;
  hasher.update(data);
  return hasher.finish();
}

Sm3Digest sm3(std::string_view data) { return sm3(as_bytes(data)); }

Sm3Digest hmac_sm3(std::span<const std::uint8_t> key, std::span<const std::uint8_t> data) {
  Result<MacContext> context = hmac_sm3_context(key);
  if (!context.ok()) {
    std::fprintf(stderr, "onewindow crypto: %s\n", context.error().message.c_str());
    std::abort();
  }
  bool ok = true;
  mac_update(context->get(), data, ok);
  Sm3Digest tag;
  std::size_t length = 0;
  if (!ok || EVP_MAC_final(context->get(), tag.data(), &length, tag.size()) != 1 ||
      length != tag.size()) {
    die("HMAC-SM3");
  }
  return tag;
}

// ---- SM2 ------------------------------------------------------------------------------------

struct PublicKey::Key {
  PkeyPointer pkey;  // public part only
  std::array<std::uint8_t, sm2_point_size> point{};
  Sm3Digest z{};
  ContextPool verifiers;

  Key(PkeyPointer pkey_in, const std::array<std::uint8_t, sm2_point_size>& point_in)
      : pkey(std::move(pkey_in)),
        point(point_in),
        z(compute_z(point)),
        verifiers(pkey.get(), ContextPool::Operation::verify) {}
};

struct PrivateKey::Key {
  PkeyPointer pkey;
  ContextPool signers;

  explicit Key(PkeyPointer pkey_in)
      : pkey(std::move(pkey_in)), signers(pkey.get(), ContextPool::Operation::sign) {}
};

namespace {

Result<std::shared_ptr<const PublicKey::Key>> make_public_key(
    std::span<const std::uint8_t> point_bytes) {
  Result<PkeyPointer> pkey = public_pkey_from_point(point_bytes);
  if (!pkey.ok()) return pkey.take_error();
  std::array<std::uint8_t, sm2_point_size> point;
  std::copy(point_bytes.begin(), point_bytes.end(), point.begin());
  return std::shared_ptr<const PublicKey::Key>(
      std::make_shared<const PublicKey::Key>(std::move(pkey).value(), point));
}

}  // namespace

Result<PublicKey> PublicKey::from_pem(std::string_view pem) {
  BioPointer bio = read_bio(pem);
  if (!bio) return bad_pem("the public key PEM is empty or too long");
  PkeyPointer pkey(PEM_read_bio_PUBKEY(bio.get(), nullptr, no_passphrase, nullptr));
  if (!pkey) return bad_pem("the text is not a \"PUBLIC KEY\" PEM (SubjectPublicKeyInfo)");
  ONEWINDOW_TRY(check_sm2(pkey.get()));
  auto point = public_point(pkey.get());
  if (!point.ok()) return point.take_error();
  auto key = make_public_key(*point);
  if (!key.ok()) return key.take_error();
  return PublicKey(std::move(key).value());
}

Result<PublicKey> PublicKey::from_hex(std::string_view hex) {
  Result<Bytes> bytes = crypto::from_hex(hex);
  if (!bytes.ok()) return bytes.take_error();
  auto key = make_public_key(*bytes);
  if (!key.ok()) return key.take_error();
  return PublicKey(std::move(key).value());
}

Result<std::string> PublicKey::to_pem() const {
  BioPointer bio(BIO_new(BIO_s_mem()));
  if (!bio || PEM_write_bio_PUBKEY(bio.get(), key_->pkey.get()) != 1) {
    return openssl_error("writing a public key PEM");
  }
  return bio_text(bio.get());
}

std::string PublicKey::to_hex() const { return crypto::to_hex(key_->point); }

Status PublicKey::verify(std::span<const std::uint8_t> message,
                         std::span<const std::uint8_t> signature) const {
  Sm3Digest digest = message_digest(key_->z, message);
  Result<PkeyContext> context = key_->verifiers.take();
  if (!context.ok()) return context.take_error();
  int verified = EVP_PKEY_verify(context->get(), signature.data(), signature.size(), digest.data(),
                                 digest.size());
  // 0 is a signature that does not match; below 0, one that is not DER. Neither leaves the
  // context in a state that matters for the next call.
  key_->verifiers.give_back(std::move(context).value());
  if (verified != 1) {
    ERR_clear_error();
    return Error(ErrorKind::invalid_argument, "crypto.bad_signature",
                 "the SM2 signature does not verify with this public key");
  }
  return ok_status();
}

Status PublicKey::verify(std::string_view message, std::span<const std::uint8_t> signature) const {
  return verify(as_bytes(message), signature);
}

Result<PrivateKey> PrivateKey::generate() {
  PkeyContext context(EVP_PKEY_CTX_new_from_name(nullptr, "SM2", nullptr));
  EVP_PKEY* pkey = nullptr;
  if (!context || EVP_PKEY_keygen_init(context.get()) != 1 ||
      EVP_PKEY_generate(context.get(), &pkey) != 1) {
    return openssl_error("SM2 key generation");
  }
  return from_parsed(std::make_shared<const Key>(PkeyPointer(pkey)));
}

Result<PrivateKey> PrivateKey::from_pem(std::string_view pem) {
  BioPointer bio = read_bio(pem);
  if (!bio) return bad_pem("the private key PEM is empty or too long");
  PkeyPointer pkey(PEM_read_bio_PrivateKey(bio.get(), nullptr, no_passphrase, nullptr));
  if (!pkey) {
    return bad_pem("the text is not an unencrypted \"PRIVATE KEY\" PEM (PKCS#8)");
  }
  ONEWINDOW_TRY(check_sm2(pkey.get()));
  return from_parsed(std::make_shared<const Key>(std::move(pkey)));
}

Result<PrivateKey> PrivateKey::from_parsed(std::shared_ptr<const Key> key) {
  auto point = public_point(key->pkey.get());
  if (!point.ok()) return point.take_error();
  auto public_key = make_public_key(*point);
  if (!public_key.ok()) return public_key.take_error();
  return PrivateKey(std::move(key), PublicKey(std::move(public_key).value()));
}

Result<std::string> PrivateKey::to_pem() const {
  // Secure memory is wiped when the BIO is freed.
  BioPointer bio(BIO_new(BIO_s_secmem()));
  if (!bio || PEM_write_bio_PKCS8PrivateKey(bio.get(), key_->pkey.get(), nullptr, nullptr, 0,
                                            nullptr, nullptr) != 1) {
    return openssl_error("writing a private key PEM");
  }
  return bio_text(bio.get());
}

Result<Bytes> PrivateKey::sign(std::span<const std::uint8_t> message) const {
  Sm3Digest digest = message_digest(public_key_.key_->z, message);
  Result<PkeyContext> context = key_->signers.take();
  if (!context.ok()) return context.take_error();
  Bytes signature(sm2_max_signature_size);
  std::size_t length = signature.size();
  if (EVP_PKEY_sign(context->get(), signature.data(), &length, digest.data(), digest.size()) != 1) {
    return openssl_error("SM2 signing");  // the context is dropped, not pooled
  }
  key_->signers.give_back(std::move(context).value());
  signature.resize(length);
  return signature;
}

Result<Bytes> PrivateKey::sign(std::string_view message) const { return sign(as_bytes(message)); }

// ---- SM4 ------------------------------------------------------------------------------------

Result<Bytes> sm4_ctr(std::span<const std::uint8_t> key, std::span<const std::uint8_t> iv,
                      std::span<const std::uint8_t> data) {
  if (key.size() != sm4_key_size) {
    return bad_key("an SM4 key is 16 bytes, not " + std::to_string(key.size()));
  }
  if (iv.size() != sm4_iv_size) {
    return Error::invalid("crypto.bad_key", "iv",
                          "an SM4-CTR iv is 16 bytes, not " + std::to_string(iv.size()));
  }
  Bytes out(data.size());
  ONEWINDOW_TRY(sm4_ctr_into(key.data(), iv.data(), data, out.data()));
  return out;
}

struct Sm4Envelope::Keys {
  std::array<std::uint8_t, sm4_key_size> encryption_key{};
  MacContext mac;  // keyed, never fed: duplicated for each envelope

  ~Keys() { OPENSSL_cleanse(encryption_key.data(), encryption_key.size()); }
};

Result<Sm4Envelope> Sm4Envelope::create(std::span<const std::uint8_t> key) {
  if (key.size() != sm4_key_size) {
    return bad_key("an SM4 key-encryption key is 16 bytes, not " + std::to_string(key.size()));
  }
  auto keys = std::make_shared<Keys>();
  ONEWINDOW_TRY(hkdf_sm3(key, encryption_key_info, keys->encryption_key));
  std::array<std::uint8_t, 32> mac_key{};
  Status derived = hkdf_sm3(key, mac_key_info, mac_key);
  Result<MacContext> mac =
      derived.ok() ? hmac_sm3_context(mac_key) : Result<MacContext>(derived.take_error());
  OPENSSL_cleanse(mac_key.data(), mac_key.size());
  if (!mac.ok()) return mac.take_error();
  keys->mac = std::move(mac).value();
  return Sm4Envelope(std::move(keys));
}

namespace {

// HMAC-SM3 over version || iv || u64be(length of associated data) || associated data ||
// ciphertext, where header is version || iv.
Result<Sm3Digest> envelope_tag(const EVP_MAC_CTX* keyed, std::span<const std::uint8_t> header,
                               std::span<const std::uint8_t> associated_data,
                               std::span<const std::uint8_t> ciphertext) {
  MacContext context(EVP_MAC_CTX_dup(keyed));
  if (!context) return openssl_error("HMAC-SM3 setup");
  std::uint8_t length[8];
  std::uint64_t size = associated_data.size();
  for (int i = 7; i >= 0; --i) {
    length[i] = static_cast<std::uint8_t>(size & 0xff);
    size >>= 8;
  }
  bool ok = true;
  mac_update(context.get(), header, ok);
  mac_update(context.get(), length, ok);
  mac_update(context.get(), associated_data, ok);
  mac_update(context.get(), ciphertext, ok);
  Sm3Digest tag;
  std::size_t written = 0;
  if (!ok || EVP_MAC_final(context.get(), tag.data(), &written, tag.size()) != 1 ||
      written != tag.size()) {
    return openssl_error("HMAC-SM3");
  }
  return tag;
}

}  // namespace

Result<Bytes> Sm4Envelope::encrypt(std::span<const std::uint8_t> plaintext,
                                   std::span<const std::uint8_t> associated_data) const {
  constexpr std::size_t header_size = 1 + sm4_iv_size;
  Bytes envelope(overhead + plaintext.size());
  envelope[0] = version;
  std::span<std::uint8_t> iv(envelope.data() + 1, sm4_iv_size);
  ONEWINDOW_TRY(fill_random(iv));
  std::uint8_t* ciphertext = envelope.data() + header_size;
  ONEWINDOW_TRY(sm4_ctr_into(keys_->encryption_key.data(), iv.data(), plaintext, ciphertext));
  Result<Sm3Digest> tag =
      envelope_tag(keys_->mac.get(), std::span(envelope.data(), header_size), associated_data,
                   std::span<const std::uint8_t>(ciphertext, plaintext.size()));
  if (!tag.ok()) return tag.take_error();
  std::copy(tag->begin(), tag->end(), ciphertext + plaintext.size());
  return envelope;
}

Result<Bytes> Sm4Envelope::decrypt(std::span<const std::uint8_t> envelope,
                                   std::span<const std::uint8_t> associated_data) const {
  constexpr std::size_t header_size = 1 + sm4_iv_size;
  if (envelope.size() < overhead || envelope[0] != version) return authentication_failed();
  std::span<const std::uint8_t> header = envelope.first(header_size);
  std::span<const std::uint8_t> ciphertext =
      envelope.subspan(header_size, envelope.size() - overhead);
  std::span<const std::uint8_t> tag = envelope.last(tag_size);
  Result<Sm3Digest> expected = envelope_tag(keys_->mac.get(), header, associated_data, ciphertext);
  if (!expected.ok()) return expected.take_error();
  if (CRYPTO_memcmp(expected->data(), tag.data(), tag_size) != 0) return authentication_failed();
  Bytes plaintext(ciphertext.size());
  ONEWINDOW_TRY(
      sm4_ctr_into(keys_->encryption_key.data(), header.data() + 1, ciphertext, plaintext.data()));
  return plaintext;
}

}  // namespace onewindow::crypto
