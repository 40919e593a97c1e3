// The Chinese national algorithms the platform signs and encrypts with, over OpenSSL 3.0:
//   - SM3 hashing (one-shot and incremental) and HMAC-SM3;
//   - SM2 signatures, always with SM3 and the default distinguishing ID "1234567812345678"
//     (GM/T 0009), so that they interoperate with `openssl pkeyutl -pkeyopt distid:...`,
//     sm-crypto and other implementations of the standard;
//   - an SM4 envelope for secrets at rest (SM4-CTR then HMAC-SM3, keys derived with HKDF-SM3;
//     the byte layout is in docs/crypto.md), plain SM4-CTR, and random bytes.
//
// Ownership and threads: PrivateKey, PublicKey and Sm4Envelope are immutable once created;
// copies share one parsed key, and one object may be used from any number of threads at once.
// Sm3Hasher is a plain value for one thread at a time. Free functions are thread-safe.
//
// Errors come back as Result values with these stable codes:
//   crypto.bad_pem                (invalid_argument) text that is not a PEM key of the kind asked
//   crypto.bad_key                (invalid_argument) a key of the wrong type, curve or length
//   crypto.bad_hex                (invalid_argument) text that is not an even run of hex digits
//   crypto.bad_signature          (invalid_argument) a signature that does not verify
//   crypto.authentication_failed  (invalid_argument) an envelope that was altered, or a wrong
//                                                    key or associated data
//   crypto.openssl                (internal)         OpenSSL failed; the message carries its
//                                                    error string, never key material
// Hashing cannot fail on a working OpenSSL and returns plain values; if OpenSSL cannot hash at
// all (out of memory, SM3 compiled out) the process aborts with a message on stderr.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/result.h"

namespace onewindow::crypto {

using Bytes = std::vector<std::uint8_t>;
using Sm3Digest = std::array<std::uint8_t, 32>;

// The distinguishing ID every SM2 signature made or checked here uses (GM/T 0009 default).
inline constexpr std::string_view sm2_default_id = "1234567812345678";
inline constexpr std::size_t sm4_key_size = 16;
inline constexpr std::size_t sm4_iv_size = 16;

// ---- Bytes and text -------------------------------------------------------------------------

// Lower-case hex, two digits a byte.
std::string to_hex(std::span<const std::uint8_t> bytes);
// Upper- or lower-case hex digits, an even number of them, nothing else; else crypto.bad_hex.
Result<Bytes> from_hex(std::string_view hex);

// The bytes of a string, for the functions below that take bytes.
std::span<const std::uint8_t> as_bytes(std::string_view text);

// Cryptographically strong random bytes (RAND_bytes).
Result<Bytes> random_bytes(std::size_t count);

// ---- SM3 ------------------------------------------------------------------------------------

Sm3Digest sm3(std::span<const std::uint8_t> data);
Sm3Digest sm3(std::string_view data);

// Hashes input that arrives in pieces; finish() returns the digest of everything given since
// construction or the previous finish(), and starts afresh.
class Sm3Hasher {
 public:
  Sm3Hasher();
  ~Sm3Hasher();
  Sm3Hasher(Sm3Hasher&& other) noexcept;
  Sm3Hasher& operator=(Sm3Hasher&& other) noexcept;
  Sm3Hasher(const Sm3Hasher&) = delete;
  Sm3Hasher& operator=(const Sm3Hasher&) = delete;

  void update(std::span<const std::uint8_t> data);
  void update(std::string_view data);
  Sm3Digest finish();

 private:
  struct State;
  std::unique_ptr<State> state_;
};

// HMAC (RFC 2104) over SM3; any key length, including none.
Sm3Digest hmac_sm3(std::span<const std::uint8_t> key, std::span<const std::uint8_t> data);

// ---- SM2 ------------------------------------------------------------------------------------

class PublicKey {
 public:
  // SubjectPublicKeyInfo PEM ("-----BEGIN PUBLIC KEY-----") of a key on the SM2 curve.
  static Result<PublicKey> from_pem(std::string_view pem);
  // The uncompressed point as hex, 04 || x || y (130 digits), as sm-crypto writes it.
  static Result<PublicKey> from_hex(std::string_view hex);

  Result<std::string> to_pem() const;
  std::string to_hex() const;

  // Ok when signature is a DER SM2 signature of message by this key with the default ID;
  // crypto.bad_signature when it is not (including when it is not DER at all).
  Status verify(std::span<const std::uint8_t> message,
                std::span<const std::uint8_t> signature) const;
  Status verify(std::string_view message, std::span<const std::uint8_t> signature) const;

  // Implementation detail (defined in crypto.cpp): the parsed key and what is derived from
  // it once.
  struct Key;

 private:
  explicit PublicKey(std::shared_ptr<const Key> key) : key_(std::move(key)) {}
  std::shared_ptr<const Key> key_;
  friend class PrivateKey;
};

class PrivateKey {
 public:
  // A fresh key from OpenSSL's random generator.
  static Result<PrivateKey> generate();
  // PKCS#8 PEM ("-----BEGIN PRIVATE KEY-----"; the SEC1 form, which OpenSSL labels
  // "SM2 PRIVATE KEY", is accepted too) of a key on the SM2 curve. Encrypted PEM is refused with crypto.bad_pem.
  static Result<PrivateKey> from_pem(std::string_view pem);

  // Unencrypted PKCS#8 PEM: a secret; store it encrypted (Sm4Envelope) or in a key store.
  Result<std::string> to_pem() const;
  const PublicKey& public_key() const { return public_key_; }

  // The DER SEQUENCE{r, s} SM2 signature (SM3, default ID) of message: at most 72 bytes,
  // usually 70 to 72. Randomised: signing the same message twice gives different bytes.
  Result<Bytes> sign(std::span<const std::uint8_t> message) const;
  Result<Bytes> sign(std::string_view message) const;

  struct Key;  // implementation detail, defined in crypto.cpp

 private:
  PrivateKey(std::shared_ptr<const Key> key, PublicKey public_key)
      : key_(std::move(key)), public_key_(std::move(public_key)) {}
  static Result<PrivateKey> from_parsed(std::shared_ptr<const Key> key);
  std::shared_ptr<const Key> key_;
  PublicKey public_key_;
};

// ---- SM4 ------------------------------------------------------------------------------------

// SM4 in counter mode (big-endian 128-bit counter starting at iv), as `openssl enc -sm4-ctr`.
// Encrypts and decrypts alike; crypto.bad_key unless key and iv are 16 bytes each. Provides
// no integrity: use Sm4Envelope for data at rest.
Result<Bytes> sm4_ctr(std::span<const std::uint8_t> key, std::span<const std::uint8_t> iv,
                      std::span<const std::uint8_t> data);

// Authenticated encryption under one 16-byte key-encryption key: SM4-CTR with a fresh random
// IV, then HMAC-SM3 over the version, IV, associated data and ciphertext (encrypt-then-MAC).
// The envelope is version (0x01) || iv (16) || ciphertext (as long as the plaintext) ||
// tag (32). Associated data is bound to the envelope but not stored in it: give the same
// bytes (say, the record's table and id) to decrypt.
class Sm4Envelope {
 public:
  static constexpr std::uint8_t version = 0x01;
  static constexpr std::size_t overhead = 1 + sm4_iv_size + 32;

  // crypto.bad_key unless key is 16 bytes. Derives the SM4 and HMAC keys once.
  static Result<Sm4Envelope> create(std::span<const std::uint8_t> key);

  Result<Bytes> encrypt(std::span<const std::uint8_t> plaintext,
                        std::span<const std::uint8_t> associated_data = {}) const;
  // crypto.authentication_failed for any envelope this key did not make with these
  // associated data; nothing is decrypted before the tag is checked.
  Result<Bytes> decrypt(std::span<const std::uint8_t> envelope,
                        std::span<const std::uint8_t> associated_data = {}) const;

  struct Keys;  // implementation detail, defined in crypto.cpp

 private:
  explicit Sm4Envelope(std::shared_ptr<const Keys> keys) : keys_(std::move(keys)) {}
  std::shared_ptr<const Keys> keys_;
};

}  // namespace onewindow::crypto
