// The Chinese national algorithms the platform signs and encrypts with, over OpenSSL 3.0:
//   - SM3 hashing (one-shot and incremental) and HMAC-SM3;
//   - SM2 signatures, always with SM3 and the default distinguishing ID "1234567812345678"
//     (GM/T 0009), so that they interoperate with `openssl pkeyutl -pkeyopt distid:...`,
//     sm-crypto and other implementations of the standard;
//   - an SM4 envelope for secrets at rest (SM4-CTR then HMAC-SM3, keys derived with HKDF-SM3;
//     the byte layout is in docs/crypto.md), plain SM4-CTR, and random bytes;
//   - X.509 certificates and revocation lists signed SM2-with-SM3 (the section at the end),
//     whose signatures use the empty SM2 ID that `openssl verify` checks with (x509_sm2_id).
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
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
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

// ==== X.509 certificates and revocation lists (x509.cpp) ====================================
//
// Version 3 certificates and version 2 certificate revocation lists (CRLs) for the platform's
// certificate authority (src/pki): SM2 keys only, signed "SM2-with-SM3" (OID 1.2.156.10197.1.501).
// DER is the form that is signed; PEM is the form that is stored and served.
//
// Certificate and RevocationList are parsed once and immutable afterwards; copies share the
// parsed form, and one object may be used from any number of threads at once. The issuing
// functions are thread-safe.
//
// Further error codes (all invalid_argument):
//   crypto.bad_certificate      text or bytes that are not one PEM or DER X.509 certificate
//                               (a certificate whose key is not SM2 is crypto.bad_key)
//   crypto.bad_revocation_list  text or bytes that are not one PEM or DER CRL
//   crypto.bad_profile          a profile field out of range; details name the field
//   crypto.bad_issuer           the issuer's key is not the issuer certificate's, or the issuer
//                               certificate may not sign certificates (or CRLs)
//   crypto.bad_revocation_reason a reason name that is not one of revocation_reason_name's
//   crypto.bad_signature        a certificate or CRL whose signature does not verify with the key
//                               given, or that is not signed SM2-with-SM3

// The SM2 distinguishing ID of the signatures on certificates and CRLs made here: EMPTY, unlike
// every other SM2 signature of the platform (sm2_default_id). OpenSSL 3.0 checks the signature
// of a certificate or CRL with an empty ID unless told otherwise, and `openssl verify -crl_check`
// and `openssl crl -verify` cannot be told otherwise (`-vfyopt distid:` reaches the end
// certificate only); so only an empty ID lets the stock `openssl verify` accept our chains and
// CRLs. Tools that follow GM/T 0015 (GmSSL, Tongsuo, Bouncy Castle) expect sm2_default_id
// instead: the profiles below take the ID, for a platform that must serve them. docs/crypto.md
// has the experiment.
inline constexpr std::string_view x509_sm2_id = "";

// The attributes of a subject or issuer name this platform writes and reads; empty means absent.
// Written in the order C, ST, L, O, OU, CN, serialNumber, UTF-8 strings (C and serialNumber are
// PrintableString, as X.520 requires).
struct DistinguishedName {
  std::string country;              // C: two letters, "CN"
  std::string province;             // ST
  std::string locality;             // L
  std::string organization;         // O
  std::string organizational_unit;  // OU
  std::string common_name;          // CN
  std::string serial_number;        // serialNumber (2.5.4.5): here a USCC or a division code

  friend bool operator==(const DistinguishedName&, const DistinguishedName&) = default;
};

// The keyUsage bits (RFC 5280 4.2.1.3).
struct KeyUsage {
  bool digital_signature = false;
  bool non_repudiation = false;  // "contentCommitment"
  bool key_encipherment = false;
  bool data_encipherment = false;
  bool key_agreement = false;
  bool certificate_sign = false;
  bool crl_sign = false;

  friend bool operator==(const KeyUsage&, const KeyUsage&) = default;
};

// What a new certificate says, apart from its subject key and its issuer. Every certificate
// gets subjectKeyIdentifier (the leftmost 160 bits of SM3 over the subject's public key bits,
// after RFC 7093's method 1 with SM3 for SHA-256) and authorityKeyIdentifier (the issuer's
// subjectKeyIdentifier; a self-signed certificate names its own).
struct CertificateProfile {
  DistinguishedName subject;  // common_name is required
  // Positive, big-endian, at most 20 bytes once leading zero bytes are dropped, not zero
  // (RFC 5280 4.1.2.2). The issuer must never use a serial twice.
  Bytes serial;
  std::chrono::system_clock::time_point not_before;  // whole seconds; later ones are dropped
  std::chrono::system_clock::time_point not_after;   // after not_before
  // basicConstraints, always present and critical: cA, and for a CA the number of CA
  // certificates that may follow it in a chain (-1: no limit).
  bool certificate_authority = false;
  int path_length = -1;
  KeyUsage key_usage;  // critical; at least one bit
  // subjectAltName (not critical), left out when both are empty.
  std::vector<std::string> dns_names;
  std::vector<std::string> uris;
  // cRLDistributionPoints with this one URI; left out when empty.
  std::string revocation_list_url;
  // The SM2 ID the issuer signs with (see x509_sm2_id).
  std::string distinguishing_id = std::string(x509_sm2_id);
};

class Certificate {
 public:
  // One "-----BEGIN CERTIFICATE-----" block (anything after its end line is ignored).
  static Result<Certificate> from_pem(std::string_view pem);
  // Exactly one DER certificate, nothing after it.
  static Result<Certificate> from_der(std::span<const std::uint8_t> der);

  const std::string& pem() const;
  const Bytes& der() const;
  // SM3 of the DER: a name for the certificate that nobody chose.
  Sm3Digest fingerprint() const;

  const DistinguishedName& subject() const;
  const DistinguishedName& issuer() const;
  // The whole name as one line, RFC 2253 order with UTF-8 as is ("CN=...,O=...,C=CN").
  const std::string& subject_text() const;
  const std::string& issuer_text() const;
  // The serial without leading zero bytes, and as lower-case hex.
  const Bytes& serial() const;
  std::string serial_hex() const;
  std::chrono::system_clock::time_point not_before() const;
  std::chrono::system_clock::time_point not_after() const;
  const PublicKey& public_key() const;

  bool certificate_authority() const;
  int path_length() const;  // -1 when there is no limit or the certificate is not a CA
  // Empty when the certificate has no keyUsage extension (which allows every use).
  const std::optional<KeyUsage>& key_usage() const;
  const Bytes& subject_key_identifier() const;    // empty when absent
  const Bytes& authority_key_identifier() const;  // keyIdentifier only; empty when absent
  const std::vector<std::string>& dns_names() const;
  const std::vector<std::string>& uris() const;
  const std::string& revocation_list_url() const;  // the first URI, empty when absent

  // Ok when the certificate is signed SM2-with-SM3 by issuer_key with this ID;
  // crypto.bad_signature otherwise.
  Status verify_signature(const PublicKey& issuer_key,
                          std::string_view distinguishing_id = x509_sm2_id) const;

  struct State;  // implementation detail, defined in x509.cpp

 private:
  explicit Certificate(std::shared_ptr<const State> state) : state_(std::move(state)) {}
  std::shared_ptr<const State> state_;
  friend struct X509Access;
};

// A certificate for subject_key signed by issuer_key, whose certificate issuer is: issuer
// names the issuer and gives the authority key identifier. crypto.bad_issuer when issuer_key
// is not the key of issuer, or issuer is not a CA allowed to sign certificates.
Result<Certificate> issue_certificate(const CertificateProfile& profile,
                                      const PublicKey& subject_key, const Certificate& issuer,
                                      const PrivateKey& issuer_key);
// A self-signed certificate: key is the subject's key and signs it; issuer is the subject.
Result<Certificate> issue_self_signed_certificate(const CertificateProfile& profile,
                                                  const PrivateKey& key);

// CRLReason (RFC 5280 5.3.1). removeFromCRL is left out: it belongs to delta CRLs.
enum class RevocationReason {
  unspecified = 0,
  key_compromise = 1,
  ca_compromise = 2,
  affiliation_changed = 3,
  superseded = 4,
  cessation_of_operation = 5,
  certificate_hold = 6,
  privilege_withdrawn = 9,
  aa_compromise = 10,
};
// "unspecified", "key_compromise", "ca_compromise", "affiliation_changed", "superseded",
// "cessation_of_operation", "certificate_hold", "privilege_withdrawn", "aa_compromise".
std::string_view revocation_reason_name(RevocationReason reason);
// The reason of that name; crypto.bad_revocation_reason naming `field` otherwise.
Result<RevocationReason> parse_revocation_reason(std::string_view name,
                                                 std::string_view field = "reason");

struct RevokedCertificate {
  Bytes serial;  // as Certificate::serial(), without leading zero bytes
  std::chrono::system_clock::time_point revoked_at;
  // unspecified is written as no reasonCode at all, as RFC 5280 asks.
  RevocationReason reason = RevocationReason::unspecified;

  friend bool operator==(const RevokedCertificate&, const RevokedCertificate&) = default;
};

// What a new CRL says. It also gets authorityKeyIdentifier (the issuer's subjectKeyIdentifier).
struct RevocationListProfile {
  std::chrono::system_clock::time_point this_update;
  std::chrono::system_clock::time_point next_update;  // after this_update
  // cRLNumber: larger for every CRL the issuer makes (RFC 5280 5.2.3).
  std::uint64_t number = 0;
  std::vector<RevokedCertificate> revoked;
  std::string distinguishing_id = std::string(x509_sm2_id);
};

class RevocationList {
 public:
  static Result<RevocationList> from_pem(std::string_view pem);  // one "X509 CRL" block
  static Result<RevocationList> from_der(std::span<const std::uint8_t> der);

  const std::string& pem() const;
  const Bytes& der() const;

  const DistinguishedName& issuer() const;
  const std::string& issuer_text() const;
  std::chrono::system_clock::time_point this_update() const;
  // The time point's epoch when the CRL has no nextUpdate.
  std::chrono::system_clock::time_point next_update() const;
  std::uint64_t number() const;  // 0 when the CRL has no cRLNumber
  const Bytes& authority_key_identifier() const;
  const std::vector<RevokedCertificate>& revoked() const;
  // The entry for this serial (leading zero bytes ignored), or nullptr.
  const RevokedCertificate* find(std::span<const std::uint8_t> serial) const;

  // Ok when the CRL is signed SM2-with-SM3 by issuer_key with this ID; crypto.bad_signature
  // otherwise.
  Status verify_signature(const PublicKey& issuer_key,
                          std::string_view distinguishing_id = x509_sm2_id) const;

  struct State;  // implementation detail, defined in x509.cpp

 private:
  explicit RevocationList(std::shared_ptr<const State> state) : state_(std::move(state)) {}
  std::shared_ptr<const State> state_;
  friend struct X509Access;
};

// A CRL signed by issuer_key, whose certificate issuer is. crypto.bad_issuer when issuer_key
// is not the key of issuer, or issuer may not sign CRLs.
Result<RevocationList> issue_revocation_list(const RevocationListProfile& profile,
                                             const Certificate& issuer,
                                             const PrivateKey& issuer_key);

// ==== ES256: ECDSA on P-256 with SHA-256, for JSON Web Tokens (ecdsa.cpp) ===================
//
// The one international signature algorithm here, for single sign-on (src/oidc): relying parties
// check ID tokens with standard JOSE libraries, which know ES256 (RFC 7518 section 3.4) and not
// SM2. Signatures are in the JOSE form, the 64 bytes r || s (each big-endian, left-padded to 32
// bytes), not DER; es256_signature_to_der and es256_signature_from_der convert for tools that
// want DER (`openssl dgst -sha256 -verify`). docs/oidc.md shows the command.
//
// P256PrivateKey and P256PublicKey are immutable once created; copies share one parsed key, and
// one object may be used from any number of threads at once. The free functions are thread-safe.
//
// Further error codes (all invalid_argument): crypto.bad_base64url for text that is not unpadded
// base64url; crypto.bad_key for a key or JWK that is not on P-256; crypto.bad_signature for a
// signature that does not verify, is not 64 bytes, or (converting) is not a P-256 DER signature.

using Sha256Digest = std::array<std::uint8_t, 32>;

// SHA-256 (for ES256, RFC 7636 code challenges and JWK thumbprints). Aborts like sm3() if
// OpenSSL cannot hash at all.
Sha256Digest sha256(std::span<const std::uint8_t> data);
Sha256Digest sha256(std::string_view data);

// Base64url (RFC 4648 section 5) without padding, as JOSE writes every binary value.
std::string base64url_encode(std::span<const std::uint8_t> bytes);
std::string base64url_encode(std::string_view text);
// Only what base64url_encode writes: the URL-safe alphabet, no padding, no whitespace, unused
// trailing bits zero (so that one value has exactly one text); crypto.bad_base64url otherwise.
Result<Bytes> base64url_decode(std::string_view text);

// Equal length and equal bytes, in time that depends on the length only (CRYPTO_memcmp): for
// comparing digests of secrets.
bool constant_time_equal(std::span<const std::uint8_t> first, std::span<const std::uint8_t> second);

class P256PublicKey {
 public:
  // SubjectPublicKeyInfo PEM ("-----BEGIN PUBLIC KEY-----") of a key on P-256.
  static Result<P256PublicKey> from_pem(std::string_view pem);
  // A public JWK (RFC 7518 section 6.2): kty "EC", crv "P-256", x and y of 32 bytes each in
  // base64url, a point on the curve. Other members (kid, use, alg) are ignored; a JWK with a
  // private part (d) is refused.
  static Result<P256PublicKey> from_jwk(const nlohmann::json& jwk);

  Result<std::string> to_pem() const;
  // {"kty": "EC", "crv": "P-256", "x", "y", "kid": thumbprint()}.
  nlohmann::json jwk() const;
  // RFC 7638: base64url(SHA-256({"crv":"P-256","kty":"EC","x":"...","y":"..."})), the key id.
  const std::string& thumbprint() const;

  // Ok when signature is the 64-byte r || s ES256 signature of message by this key;
  // crypto.bad_signature otherwise.
  Status verify(std::span<const std::uint8_t> message, std::span<const std::uint8_t> signature) const;
  Status verify(std::string_view message, std::span<const std::uint8_t> signature) const;

  struct Key;  // implementation detail, defined in ecdsa.cpp

 private:
  explicit P256PublicKey(std::shared_ptr<const Key> key) : key_(std::move(key)) {}
  std::shared_ptr<const Key> key_;
  friend class P256PrivateKey;
};

class P256PrivateKey {
 public:
  // A fresh key from OpenSSL's random generator.
  static Result<P256PrivateKey> generate();
  // PKCS#8 PEM ("-----BEGIN PRIVATE KEY-----"; the SEC1 "EC PRIVATE KEY" form is read too) of a
  // key on P-256. Encrypted PEM is refused with crypto.bad_pem.
  static Result<P256PrivateKey> from_pem(std::string_view pem);

  // Unencrypted PKCS#8 PEM: a secret; store it encrypted (Sm4Envelope).
  Result<std::string> to_pem() const;
  const P256PublicKey& public_key() const { return public_key_; }

  // The ES256 signature of message (SHA-256, then ECDSA with a random nonce): 64 bytes r || s.
  Result<Bytes> sign(std::span<const std::uint8_t> message) const;
  Result<Bytes> sign(std::string_view message) const;

  struct Key;  // implementation detail, defined in ecdsa.cpp

 private:
  P256PrivateKey(std::shared_ptr<const Key> key, P256PublicKey public_key)
      : key_(std::move(key)), public_key_(std::move(public_key)) {}
  static Result<P256PrivateKey> from_parsed(std::shared_ptr<const Key> key);
  std::shared_ptr<const Key> key_;
  P256PublicKey public_key_;
};

// The JOSE form r || s (64 bytes) as DER SEQUENCE { INTEGER r, INTEGER s }, and back.
Result<Bytes> es256_signature_to_der(std::span<const std::uint8_t> raw);
Result<Bytes> es256_signature_from_der(std::span<const std::uint8_t> der);

}  // namespace onewindow::crypto
