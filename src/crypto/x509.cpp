// X.509 certificates and CRLs signed SM2-with-SM3, over OpenSSL 3.0's X509 and X509_CRL.
//
// Signing: an EVP_PKEY_CTX with the SM2 distinguishing ID set explicitly (EVP_PKEY_CTX_set1_id),
// EVP_DigestSignInit with SM3 on it, then X509_sign_ctx / X509_CRL_sign_ctx, which write the
// algorithm identifier the provider reports (SM2-with-SM3, 1.2.156.10197.1.501).
//
// Checking: the exact to-be-signed bytes of the DER as received are verified with the ID the
// caller gives, rather than through X509_verify, whose ID is a property of the X509 object.
//
// A Certificate or RevocationList keeps no OpenSSL object: everything is read out once at
// parse time, so sharing one between threads touches no OpenSSL state.
#include "crypto/crypto.h"
#include "crypto/openssl_support.h"

#include <openssl/asn1.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <algorithm>
#include <ctime>
#include <set>
#include <string>
#include <utility>
#include <vector>

namespace onewindow::crypto {
using namespace openssl_support;

// ---- Parsed forms ----------------------------------------------------------------------------

// The parts of a signed object (Certificate or CertificateList) that checking its signature needs.
struct SignedParts {
  Bytes to_be_signed;
  Bytes signature;
  int signature_nid = NID_undef;
  // The algorithm inside the signed part equals the one outside it (RFC 5280 4.1.1.2, 5.1.1.2).
  bool algorithms_match = false;
};

struct Certificate::State {
  explicit State(PublicKey key) : public_key(std::move(key)) {}

  std::string pem;
  Bytes der;
  Sm3Digest fingerprint{};
  DistinguishedName subject;
  DistinguishedName issuer;
  std::string subject_text;
  std::string issuer_text;
  Bytes serial;
  std::chrono::system_clock::time_point not_before;
  std::chrono::system_clock::time_point not_after;
  PublicKey public_key;
  bool certificate_authority = false;
  int path_length = -1;
  std::optional<KeyUsage> key_usage;
  Bytes subject_key_identifier;
  Bytes authority_key_identifier;
  std::vector<std::string> dns_names;
  std::vector<std::string> uris;
  std::string revocation_list_url;
  SignedParts signed_parts;
};

struct RevocationList::State {
  std::string pem;
  Bytes der;
  DistinguishedName issuer;
  std::string issuer_text;
  std::chrono::system_clock::time_point this_update;
  std::chrono::system_clock::time_point next_update;
  std::uint64_t number = 0;
  Bytes authority_key_identifier;
  std::vector<RevokedCertificate> revoked;
  SignedParts signed_parts;
};

// Lets this file build the values whose constructors are private.
struct X509Access {
  static Certificate certificate(std::shared_ptr<const Certificate::State> state) {
    return Certificate(std::move(state));
  }
  static RevocationList revocation_list(std::shared_ptr<const RevocationList::State> state) {
    return RevocationList(std::move(state));
  }
};

namespace {

constexpr std::size_t max_certificate_size = 1 << 20;
constexpr std::size_t max_revocation_list_size = 16 << 20;
constexpr std::size_t max_serial_size = 20;
constexpr std::size_t key_identifier_size = 20;

// ---- OpenSSL plumbing -----------------------------------------------------------------------

using X509Pointer = std::unique_ptr<X509, Deleter<X509_free>>;
using CrlPointer = std::unique_ptr<X509_CRL, Deleter<X509_CRL_free>>;
using NamePointer = std::unique_ptr<X509_NAME, Deleter<X509_NAME_free>>;
using IntegerPointer = std::unique_ptr<ASN1_INTEGER, Deleter<ASN1_INTEGER_free>>;
using TimePointer = std::unique_ptr<ASN1_TIME, Deleter<ASN1_TIME_free>>;
using OctetsPointer = std::unique_ptr<ASN1_OCTET_STRING, Deleter<ASN1_OCTET_STRING_free>>;
using BitsPointer = std::unique_ptr<ASN1_BIT_STRING, Deleter<ASN1_BIT_STRING_free>>;
using EnumeratedPointer = std::unique_ptr<ASN1_ENUMERATED, Deleter<ASN1_ENUMERATED_free>>;
using BasicConstraintsPointer = std::unique_ptr<BASIC_CONSTRAINTS, Deleter<BASIC_CONSTRAINTS_free>>;
using AuthorityKeyIdPointer = std::unique_ptr<AUTHORITY_KEYID, Deleter<AUTHORITY_KEYID_free>>;
using GeneralNamesPointer = std::unique_ptr<GENERAL_NAMES, Deleter<GENERAL_NAMES_free>>;
using DistributionPointsPointer = std::unique_ptr<CRL_DIST_POINTS, Deleter<CRL_DIST_POINTS_free>>;
using RevokedPointer = std::unique_ptr<X509_REVOKED, Deleter<X509_REVOKED_free>>;

Error bad_certificate(std::string message) {
  ERR_clear_error();
  return Error(ErrorKind::invalid_argument, "crypto.bad_certificate", std::move(message));
}

Error bad_revocation_list(std::string message) {
  ERR_clear_error();
  return Error(ErrorKind::invalid_argument, "crypto.bad_revocation_list", std::move(message));
}

Error bad_profile(std::string field, std::string message) {
  ERR_clear_error();
  return Error::invalid("crypto.bad_profile", std::move(field), std::move(message));
}

Error bad_issuer(std::string message) {
  return Error(ErrorKind::invalid_argument, "crypto.bad_issuer", std::move(message));
}

Error bad_signature(std::string message) {
  ERR_clear_error();
  return Error(ErrorKind::invalid_argument, "crypto.bad_signature", std::move(message));
}

int no_passphrase(char*, int, int, void*) { return -1; }

BioPointer read_bio(std::string_view text) {
  return BioPointer(BIO_new_mem_buf(text.data(), static_cast<int>(text.size())));
}

Result<std::string> bio_text(BIO* bio) {
  char* data = nullptr;
  long length = BIO_get_mem_data(bio, &data);
  if (length < 0 || (length > 0 && data == nullptr)) return openssl_error("reading a memory BIO");
  return std::string(data, static_cast<std::size_t>(length));
}

// EVP_PKEY objects for our keys, through their PEM: PublicKey and PrivateKey keep theirs to
// themselves, and issuing is rare enough that the round trip does not matter.
Result<PkeyPointer> public_pkey(const PublicKey& key) {
  Result<std::string> pem = key.to_pem();
  if (!pem.ok()) return pem.take_error();
  BioPointer bio = read_bio(*pem);
  PkeyPointer pkey(bio ? PEM_read_bio_PUBKEY(bio.get(), nullptr, no_passphrase, nullptr) : nullptr);
  if (!pkey) return openssl_error("reading an SM2 public key");
  return pkey;
}

Result<PkeyPointer> private_pkey(const PrivateKey& key) {
  Result<std::string> pem = key.to_pem();
  if (!pem.ok()) return pem.take_error();
  BioPointer bio = read_bio(*pem);
  PkeyPointer pkey(bio ? PEM_read_bio_PrivateKey(bio.get(), nullptr, no_passphrase, nullptr)
                       : nullptr);
  OPENSSL_cleanse(pem->data(), pem->size());
  if (!pkey) return openssl_error("reading an SM2 private key");
  return pkey;
}

Bytes point_bytes(const PublicKey& key) {
  Result<Bytes> point = from_hex(key.to_hex());
  return point.ok() ? std::move(point).value() : Bytes{};
}

// An SM3 digest context for SM2 signing or verifying over pkey with the SM2 ID set: the one
// way certificates and CRLs are signed and checked here. The ID is set on the key context
// before initialisation (EVP_PKEY_CTX_set1_id); OpenSSL 3.0's SM2 refuses the "distid"
// parameter when it is passed to EVP_DigestSignInit_ex itself.
struct SignatureContext {
  std::unique_ptr<EVP_PKEY_CTX, Deleter<EVP_PKEY_CTX_free>> key_context;
  MdContext digest_context;  // declared last: freed first, it borrows key_context
};

Result<SignatureContext> signature_context(EVP_PKEY* pkey, std::string_view distinguishing_id,
                                           bool sign) {
  SignatureContext context;
  context.key_context.reset(EVP_PKEY_CTX_new_from_pkey(nullptr, pkey, nullptr));
  context.digest_context.reset(EVP_MD_CTX_new());
  static const char nothing = 0;  // OpenSSL wants a pointer even for an empty ID
  if (!context.key_context || !context.digest_context ||
      EVP_PKEY_CTX_set1_id(context.key_context.get(),
                           distinguishing_id.empty() ? &nothing : distinguishing_id.data(),
                           distinguishing_id.size()) != 1) {
    return openssl_error("setting the SM2 distinguishing ID");
  }
  EVP_MD_CTX_set_pkey_ctx(context.digest_context.get(), context.key_context.get());
  int initialised =
      sign ? EVP_DigestSignInit(context.digest_context.get(), nullptr, EVP_sm3(), nullptr, pkey)
           : EVP_DigestVerifyInit(context.digest_context.get(), nullptr, EVP_sm3(), nullptr, pkey);
  if (initialised != 1) return openssl_error("preparing an SM2-with-SM3 signature");
  return context;
}

// ---- DER walking -----------------------------------------------------------------------------

struct DerElement {
  std::span<const std::uint8_t> whole;  // header and content
  std::span<const std::uint8_t> content;
  int tag = 0;
  int tag_class = 0;
};

// The element at the start of cursor, which moves past it; nullopt for malformed DER.
std::optional<DerElement> next_element(std::span<const std::uint8_t>& cursor) {
  if (cursor.empty()) return std::nullopt;
  const unsigned char* start = cursor.data();
  const unsigned char* content = start;
  long length = 0;
  int tag = 0;
  int tag_class = 0;
  int flags =
      ASN1_get_object(&content, &length, &tag, &tag_class, static_cast<long>(cursor.size()));
  // 0x80: an error; 0x21: indefinite length, which DER does not allow.
  if ((flags & 0x80) != 0 || flags == 0x21 || length < 0) {
    ERR_clear_error();
    return std::nullopt;
  }
  std::size_t header = static_cast<std::size_t>(content - start);
  std::size_t total = header + static_cast<std::size_t>(length);
  if (total > cursor.size()) return std::nullopt;
  DerElement element{cursor.first(total), cursor.subspan(header, static_cast<std::size_t>(length)),
                     tag, tag_class};
  cursor = cursor.subspan(total);
  return element;
}

// Splits Certificate or CertificateList DER: SEQUENCE { tbs, signatureAlgorithm, signature }.
// The algorithm inside tbs follows a version ([0] EXPLICIT for a certificate, a bare INTEGER
// for a CRL) and, for a certificate, the serial number.
std::optional<SignedParts> split_signed(std::span<const std::uint8_t> der, bool certificate,
                                        int signature_nid) {
  std::span<const std::uint8_t> cursor = der;
  auto outer = next_element(cursor);
  if (!outer || !cursor.empty() || outer->tag != V_ASN1_SEQUENCE) return std::nullopt;
  std::span<const std::uint8_t> inside = outer->content;
  auto tbs = next_element(inside);
  auto algorithm = next_element(inside);
  auto signature = next_element(inside);
  if (!tbs || !algorithm || !signature || !inside.empty() || signature->tag != V_ASN1_BIT_STRING ||
      signature->content.empty() || signature->content[0] != 0) {
    return std::nullopt;
  }
  std::span<const std::uint8_t> fields = tbs->content;
  auto field = next_element(fields);
  if (certificate) {
    if (field && field->tag_class == V_ASN1_CONTEXT_SPECIFIC && field->tag == 0) {
      field = next_element(fields);
    }
    if (field) field = next_element(fields);  // the serial number
  } else if (field && field->tag_class == V_ASN1_UNIVERSAL && field->tag == V_ASN1_INTEGER) {
    field = next_element(fields);
  }
  SignedParts parts;
  parts.to_be_signed.assign(tbs->whole.begin(), tbs->whole.end());
  parts.signature.assign(signature->content.begin() + 1, signature->content.end());
  parts.signature_nid = signature_nid;
  parts.algorithms_match = field && std::equal(field->whole.begin(), field->whole.end(),
                                               algorithm->whole.begin(), algorithm->whole.end());
  return parts;
}

Status verify_signed(const SignedParts& parts, const PublicKey& key,
                     std::string_view distinguishing_id, std::string_view what) {
  if (parts.signature_nid != NID_SM2_with_SM3 || !parts.algorithms_match) {
    return bad_signature(std::string("the ") + std::string(what) + " is not signed SM2-with-SM3");
  }
  Result<PkeyPointer> pkey = public_pkey(key);
  if (!pkey.ok()) return pkey.take_error();
  auto context = signature_context(pkey->get(), distinguishing_id, false);
  if (!context.ok()) return context.take_error();
  if (EVP_DigestVerify(context->digest_context.get(), parts.signature.data(),
                       parts.signature.size(), parts.to_be_signed.data(),
                       parts.to_be_signed.size()) != 1) {
    return bad_signature(std::string("the signature of the ") + std::string(what) +
                         " does not verify with this public key");
  }
  return ok_status();
}

// ---- Values in and out -------------------------------------------------------------------

Result<std::chrono::system_clock::time_point> read_time(const ASN1_TIME* time) {
  std::tm parts{};
  if (time == nullptr || ASN1_TIME_to_tm(time, &parts) != 1) {
    ERR_clear_error();
    return Error(ErrorKind::invalid_argument, "crypto.bad_time", "a time that does not parse");
  }
  using namespace std::chrono;
  year_month_day date{year(parts.tm_year + 1900), month(static_cast<unsigned>(parts.tm_mon + 1)),
                      day(static_cast<unsigned>(parts.tm_mday))};
  return system_clock::time_point(sys_days(date) + hours(parts.tm_hour) + minutes(parts.tm_min) +
                                  seconds(parts.tm_sec));
}

Result<TimePointer> make_time(std::chrono::system_clock::time_point time, std::string field) {
  std::time_t seconds = std::chrono::floor<std::chrono::seconds>(time.time_since_epoch()).count();
  TimePointer asn1(ASN1_TIME_set(nullptr, seconds));
  if (!asn1) {
    std::string message = field + " is not a time X.509 can hold";
    return bad_profile(std::move(field), std::move(message));
  }
  return asn1;
}

// The magnitude without leading zero bytes.
Bytes trimmed(std::span<const std::uint8_t> serial) {
  auto first =
      std::find_if(serial.begin(), serial.end(), [](std::uint8_t byte) { return byte != 0; });
  return Bytes(first, serial.end());
}

Result<IntegerPointer> make_serial(std::span<const std::uint8_t> serial, const std::string& field) {
  Bytes magnitude = trimmed(serial);
  if (magnitude.empty()) return bad_profile(field, field + " must not be zero");
  // DER adds a zero byte before a magnitude whose top bit is set, and RFC 5280 allows 20
  // octets in all.
  if (magnitude.size() > max_serial_size ||
      (magnitude.size() == max_serial_size && (magnitude[0] & 0x80) != 0)) {
    return bad_profile(field, field + " must fit in 20 octets of DER");
  }
  BignumPointer number(BN_bin2bn(magnitude.data(), static_cast<int>(magnitude.size()), nullptr));
  IntegerPointer integer(number ? BN_to_ASN1_INTEGER(number.get(), nullptr) : nullptr);
  if (!integer) return openssl_error("encoding a serial number");
  return integer;
}

Bytes read_serial(const ASN1_INTEGER* integer) {
  BignumPointer number(integer ? ASN1_INTEGER_to_BN(integer, nullptr) : nullptr);
  if (!number) {
    ERR_clear_error();
    return {};
  }
  Bytes bytes(static_cast<std::size_t>(BN_num_bytes(number.get())));
  BN_bn2bin(number.get(), bytes.data());
  return bytes;
}

std::string string_of(const ASN1_STRING* text) {
  if (text == nullptr) return {};
  unsigned char* utf8 = nullptr;
  int length = ASN1_STRING_to_UTF8(&utf8, text);
  if (length < 0) {
    ERR_clear_error();
    return {};
  }
  std::string value(reinterpret_cast<const char*>(utf8), static_cast<std::size_t>(length));
  OPENSSL_free(utf8);
  return value;
}

Bytes bytes_of(const ASN1_STRING* octets) {
  if (octets == nullptr) return {};
  const unsigned char* data = ASN1_STRING_get0_data(octets);
  return Bytes(data, data + ASN1_STRING_length(octets));
}

struct NamePart {
  int nid;
  std::string DistinguishedName::*member;
  const char* field;
};

// The order names are written in.
constexpr NamePart name_parts[] = {
    {NID_countryName, &DistinguishedName::country, "country"},
    {NID_stateOrProvinceName, &DistinguishedName::province, "province"},
    {NID_localityName, &DistinguishedName::locality, "locality"},
    {NID_organizationName, &DistinguishedName::organization, "organization"},
    {NID_organizationalUnitName, &DistinguishedName::organizational_unit, "organizational_unit"},
    {NID_commonName, &DistinguishedName::common_name, "common_name"},
    {NID_serialNumber, &DistinguishedName::serial_number, "serial_number"},
};

Result<NamePointer> make_name(const DistinguishedName& name, const std::string& field) {
  if (!name.country.empty() &&
      (name.country.size() != 2 || !std::all_of(name.country.begin(), name.country.end(),
                                                [](char c) { return c >= 'A' && c <= 'Z'; }))) {
    return bad_profile(field + ".country", "the country is two capital letters, like CN");
  }
  NamePointer built(X509_NAME_new());
  if (!built) return openssl_error("making a name");
  for (const NamePart& part : name_parts) {
    const std::string& value = name.*part.member;
    if (value.empty()) continue;
    // OpenSSL's string table picks the ASN.1 type (PrintableString for C and serialNumber,
    // UTF8String for the rest), checks the UTF-8 and the X.520 length limits.
    if (X509_NAME_add_entry_by_NID(built.get(), part.nid, MBSTRING_UTF8,
                                   reinterpret_cast<const unsigned char*>(value.data()),
                                   static_cast<int>(value.size()), -1, 0) != 1) {
      std::string reason = take_openssl_error_text();
      return bad_profile(field + "." + part.field,
                         field + "." + part.field +
                             " is not valid UTF-8, has characters its type does not allow, or is "
                             "too long (" +
                             reason + ")");
    }
  }
  return built;
}

DistinguishedName read_name(const X509_NAME* name) {
  DistinguishedName read;
  if (name == nullptr) return read;
  for (const NamePart& part : name_parts) {
    int index = X509_NAME_get_index_by_NID(name, part.nid, -1);
    if (index < 0) continue;
    X509_NAME_ENTRY* entry = X509_NAME_get_entry(name, index);
    read.*part.member = string_of(X509_NAME_ENTRY_get_data(entry));
  }
  return read;
}

std::string name_text(const X509_NAME* name) {
  BioPointer bio(BIO_new(BIO_s_mem()));
  if (!bio || name == nullptr ||
      X509_NAME_print_ex(bio.get(), name, 0, XN_FLAG_RFC2253 & ~ASN1_STRFLGS_ESC_MSB) < 0) {
    ERR_clear_error();
    return {};
  }
  Result<std::string> text = bio_text(bio.get());
  return text.ok() ? std::move(text).value() : std::string();
}

// RFC 7093 method 1 with SM3 in place of SHA-256: the leftmost 160 bits of the hash of the
// subjectPublicKey bits (04 || x || y).
Bytes key_identifier(const PublicKey& key) {
  Sm3Digest digest = sm3(point_bytes(key));
  return Bytes(digest.begin(), digest.begin() + key_identifier_size);
}

// An extension decoded by OpenSSL. `found` tells absent (false) from present; a malformed or
// repeated extension is an error.
template <typename T, typename Getter>
Result<T*> read_extension(Getter get, int nid, bool& found, std::string_view name) {
  int critical = -1;
  void* value = get(nid, &critical);
  if (value == nullptr && critical == -1) {
    ERR_clear_error();
    found = false;
    return static_cast<T*>(nullptr);
  }
  if (value == nullptr) {
    ERR_clear_error();
    return Error(ErrorKind::invalid_argument, "crypto.bad_extension",
                 std::string("the ") + std::string(name) + " extension is repeated or malformed");
  }
  found = true;
  return static_cast<T*>(value);
}

Status add_extension(X509* certificate, int nid, void* value, bool critical) {
  if (X509_add1_ext_i2d(certificate, nid, value, critical ? 1 : 0, X509V3_ADD_DEFAULT) != 1) {
    return openssl_error("adding a certificate extension");
  }
  return ok_status();
}

Result<GeneralNamesPointer> make_general_names(const std::vector<std::string>& values, int type,
                                               const std::string& field) {
  GeneralNamesPointer names(GENERAL_NAMES_new());
  if (!names) return openssl_error("making general names");
  for (std::size_t i = 0; i < values.size(); ++i) {
    const std::string& value = values[i];
    std::string where = field + "[" + std::to_string(i) + "]";
    // IA5String: ASCII; no spaces or controls in a host name or a URI.
    if (value.empty() ||
        !std::all_of(value.begin(), value.end(), [](char c) { return c > 0x20 && c < 0x7f; })) {
      return bad_profile(where, where + " must be non-empty printable ASCII without spaces");
    }
    ASN1_IA5STRING* text = ASN1_IA5STRING_new();
    GENERAL_NAME* name = GENERAL_NAME_new();
    if (text == nullptr || name == nullptr ||
        ASN1_STRING_set(text, value.data(), static_cast<int>(value.size())) != 1) {
      ASN1_IA5STRING_free(text);
      GENERAL_NAME_free(name);
      return openssl_error("making a general name");
    }
    GENERAL_NAME_set0_value(name, type, text);
    if (sk_GENERAL_NAME_push(names.get(), name) <= 0) {
      GENERAL_NAME_free(name);
      return openssl_error("making general names");
    }
  }
  return names;
}

std::vector<std::string> read_general_names(const GENERAL_NAMES* names, int type) {
  std::vector<std::string> values;
  for (int i = 0; names != nullptr && i < sk_GENERAL_NAME_num(names); ++i) {
    const GENERAL_NAME* name = sk_GENERAL_NAME_value(names, i);
    int name_type = 0;
    auto* value = static_cast<ASN1_STRING*>(GENERAL_NAME_get0_value(name, &name_type));
    if (name_type == type && value != nullptr) {
      const unsigned char* data = ASN1_STRING_get0_data(value);
      values.emplace_back(reinterpret_cast<const char*>(data),
                          static_cast<std::size_t>(ASN1_STRING_length(value)));
    }
  }
  return values;
}

// ---- Reading a certificate -------------------------------------------------------------------

Result<Certificate> load_certificate(X509* x509) {
  // The key first: the state cannot exist without it.
  EVP_PKEY* pkey = X509_get0_pubkey(x509);
  if (pkey == nullptr) return bad_certificate("the certificate's public key does not parse");
  char group[64] = {};
  std::size_t group_length = 0;
  if (!EVP_PKEY_is_a(pkey, "SM2") ||
      EVP_PKEY_get_utf8_string_param(pkey, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof group,
                                     &group_length) != 1 ||
      std::string_view(group, group_length) != "SM2") {
    ERR_clear_error();
    return Error(ErrorKind::invalid_argument, "crypto.bad_key",
                 "the certificate's public key is not an SM2 key");
  }
  std::uint8_t point[65];
  std::size_t point_length = 0;
  if (EVP_PKEY_get_octet_string_param(pkey, OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY, point, sizeof point,
                                      &point_length) != 1) {
    ERR_clear_error();
    return Error(ErrorKind::invalid_argument, "crypto.bad_key",
                 "the certificate's SM2 public key has no uncompressed point");
  }
  Result<PublicKey> key = PublicKey::from_hex(to_hex(std::span(point, point_length)));
  if (!key.ok()) return key.take_error();
  auto state = std::make_shared<Certificate::State>(std::move(key).value());

  unsigned char* der = nullptr;
  int der_length = i2d_X509(x509, &der);
  if (der_length <= 0) return openssl_error("encoding a certificate");
  state->der.assign(der, der + der_length);
  OPENSSL_free(der);
  state->fingerprint = sm3(state->der);
  BioPointer bio(BIO_new(BIO_s_mem()));
  if (!bio || PEM_write_bio_X509(bio.get(), x509) != 1)
    return openssl_error("writing a certificate PEM");
  Result<std::string> pem = bio_text(bio.get());
  if (!pem.ok()) return pem.take_error();
  state->pem = std::move(pem).value();

  state->subject = read_name(X509_get_subject_name(x509));
  state->issuer = read_name(X509_get_issuer_name(x509));
  state->subject_text = name_text(X509_get_subject_name(x509));
  state->issuer_text = name_text(X509_get_issuer_name(x509));
  state->serial = read_serial(X509_get0_serialNumber(x509));
  auto not_before = read_time(X509_get0_notBefore(x509));
  auto not_after = read_time(X509_get0_notAfter(x509));
  if (!not_before.ok() || !not_after.ok())
    return bad_certificate("the certificate's validity does not parse");
  state->not_before = *not_before;
  state->not_after = *not_after;

  auto get = [x509](int nid, int* critical) {
    return X509_get_ext_d2i(x509, nid, critical, nullptr);
  };
  bool found = false;
  auto constraints =
      read_extension<BASIC_CONSTRAINTS>(get, NID_basic_constraints, found, "basicConstraints");
  if (!constraints.ok()) return bad_certificate(constraints.error().message);
  BasicConstraintsPointer constraints_owner(*constraints);
  if (found) {
    state->certificate_authority = (*constraints)->ca != 0;
    if (state->certificate_authority && (*constraints)->pathlen != nullptr) {
      long length = ASN1_INTEGER_get((*constraints)->pathlen);
      state->path_length = length >= 0 && length <= 1000 ? static_cast<int>(length) : -1;
    }
  }
  auto usage = read_extension<ASN1_BIT_STRING>(get, NID_key_usage, found, "keyUsage");
  if (!usage.ok()) return bad_certificate(usage.error().message);
  BitsPointer usage_owner(*usage);
  if (found) {
    auto bit = [&](int n) { return ASN1_BIT_STRING_get_bit(*usage, n) == 1; };
    state->key_usage = KeyUsage{bit(0), bit(1), bit(2), bit(3), bit(4), bit(5), bit(6)};
  }
  auto subject_key = read_extension<ASN1_OCTET_STRING>(get, NID_subject_key_identifier, found,
                                                       "subjectKeyIdentifier");
  if (!subject_key.ok()) return bad_certificate(subject_key.error().message);
  OctetsPointer subject_key_owner(*subject_key);
  state->subject_key_identifier = bytes_of(*subject_key);
  auto authority_key = read_extension<AUTHORITY_KEYID>(get, NID_authority_key_identifier, found,
                                                       "authorityKeyIdentifier");
  if (!authority_key.ok()) return bad_certificate(authority_key.error().message);
  AuthorityKeyIdPointer authority_key_owner(*authority_key);
  if (found) state->authority_key_identifier = bytes_of((*authority_key)->keyid);
  auto alternative =
      read_extension<GENERAL_NAMES>(get, NID_subject_alt_name, found, "subjectAltName");
  if (!alternative.ok()) return bad_certificate(alternative.error().message);
  GeneralNamesPointer alternative_owner(*alternative);
  state->dns_names = read_general_names(*alternative, GEN_DNS);
  state->uris = read_general_names(*alternative, GEN_URI);
  auto points = read_extension<CRL_DIST_POINTS>(get, NID_crl_distribution_points, found,
                                                "cRLDistributionPoints");
  if (!points.ok()) return bad_certificate(points.error().message);
  DistributionPointsPointer points_owner(*points);
  for (int i = 0; found && i < sk_DIST_POINT_num(*points) && state->revocation_list_url.empty();
       ++i) {
    const DIST_POINT* point = sk_DIST_POINT_value(*points, i);
    if (point->distpoint != nullptr && point->distpoint->type == 0) {
      auto uris = read_general_names(point->distpoint->name.fullname, GEN_URI);
      if (!uris.empty()) state->revocation_list_url = uris.front();
    }
  }

  auto parts = split_signed(state->der, true, X509_get_signature_nid(x509));
  if (!parts)
    return bad_certificate("the certificate's DER does not have the shape of a certificate");
  state->signed_parts = std::move(*parts);
  ERR_clear_error();
  return X509Access::certificate(std::move(state));
}

// ---- Reading a CRL ---------------------------------------------------------------------------

Result<RevocationReason> reason_from_code(long code) {
  switch (code) {
    case 0:
      return RevocationReason::unspecified;
    case 1:
      return RevocationReason::key_compromise;
    case 2:
      return RevocationReason::ca_compromise;
    case 3:
      return RevocationReason::affiliation_changed;
    case 4:
      return RevocationReason::superseded;
    case 5:
      return RevocationReason::cessation_of_operation;
    case 6:
      return RevocationReason::certificate_hold;
    case 9:
      return RevocationReason::privilege_withdrawn;
    case 10:
      return RevocationReason::aa_compromise;
    default:
      return bad_revocation_list("a revoked entry has the reason code " + std::to_string(code) +
                                 ", which this platform does not take");
  }
}

Result<RevocationList> load_revocation_list(X509_CRL* crl) {
  auto state = std::make_shared<RevocationList::State>();
  unsigned char* der = nullptr;
  int der_length = i2d_X509_CRL(crl, &der);
  if (der_length <= 0) return openssl_error("encoding a CRL");
  state->der.assign(der, der + der_length);
  OPENSSL_free(der);
  BioPointer bio(BIO_new(BIO_s_mem()));
  if (!bio || PEM_write_bio_X509_CRL(bio.get(), crl) != 1)
    return openssl_error("writing a CRL PEM");
  Result<std::string> pem = bio_text(bio.get());
  if (!pem.ok()) return pem.take_error();
  state->pem = std::move(pem).value();

  state->issuer = read_name(X509_CRL_get_issuer(crl));
  state->issuer_text = name_text(X509_CRL_get_issuer(crl));
  auto this_update = read_time(X509_CRL_get0_lastUpdate(crl));
  if (!this_update.ok()) return bad_revocation_list("the CRL's thisUpdate does not parse");
  state->this_update = *this_update;
  if (const ASN1_TIME* next = X509_CRL_get0_nextUpdate(crl); next != nullptr) {
    auto next_update = read_time(next);
    if (!next_update.ok()) return bad_revocation_list("the CRL's nextUpdate does not parse");
    state->next_update = *next_update;
  }

  auto get = [crl](int nid, int* critical) {
    return X509_CRL_get_ext_d2i(crl, nid, critical, nullptr);
  };
  bool found = false;
  auto number = read_extension<ASN1_INTEGER>(get, NID_crl_number, found, "cRLNumber");
  if (!number.ok()) return bad_revocation_list(number.error().message);
  IntegerPointer number_owner(*number);
  if (found && ASN1_INTEGER_get_uint64(&state->number, *number) != 1) {
    return bad_revocation_list("the CRL number is negative or larger than 64 bits");
  }
  auto authority_key = read_extension<AUTHORITY_KEYID>(get, NID_authority_key_identifier, found,
                                                       "authorityKeyIdentifier");
  if (!authority_key.ok()) return bad_revocation_list(authority_key.error().message);
  AuthorityKeyIdPointer authority_key_owner(*authority_key);
  if (found) state->authority_key_identifier = bytes_of((*authority_key)->keyid);

  STACK_OF(X509_REVOKED)* revoked = X509_CRL_get_REVOKED(crl);
  for (int i = 0; revoked != nullptr && i < sk_X509_REVOKED_num(revoked); ++i) {
    const X509_REVOKED* entry = sk_X509_REVOKED_value(revoked, i);
    RevokedCertificate item;
    item.serial = read_serial(X509_REVOKED_get0_serialNumber(entry));
    auto date = read_time(X509_REVOKED_get0_revocationDate(entry));
    if (!date.ok()) return bad_revocation_list("a revocation date does not parse");
    item.revoked_at = *date;
    auto get_entry = [entry](int nid, int* critical) {
      return X509_REVOKED_get_ext_d2i(entry, nid, critical, nullptr);
    };
    auto code = read_extension<ASN1_ENUMERATED>(get_entry, NID_crl_reason, found, "reasonCode");
    if (!code.ok()) return bad_revocation_list(code.error().message);
    EnumeratedPointer code_owner(*code);
    if (found) {
      auto reason = reason_from_code(ASN1_ENUMERATED_get(*code));
      if (!reason.ok()) return reason.take_error();
      item.reason = *reason;
    }
    state->revoked.push_back(std::move(item));
  }

  auto parts = split_signed(state->der, false, X509_CRL_get_signature_nid(crl));
  if (!parts) return bad_revocation_list("the CRL's DER does not have the shape of a CRL");
  state->signed_parts = std::move(*parts);
  ERR_clear_error();
  return X509Access::revocation_list(std::move(state));
}

// ---- Issuing ---------------------------------------------------------------------------------

// The issuer's key must be the issuer certificate's, and the certificate must allow `use`.
Status check_issuer(const Certificate& issuer, const PrivateKey& issuer_key, bool for_crl) {
  if (issuer_key.public_key().to_hex() != issuer.public_key().to_hex()) {
    return bad_issuer("the issuer's private key does not belong to the issuer certificate");
  }
  if (!issuer.certificate_authority()) {
    return bad_issuer("the issuer certificate is not a CA certificate (basicConstraints cA)");
  }
  const std::optional<KeyUsage>& usage = issuer.key_usage();
  if (usage && !(for_crl ? usage->crl_sign : usage->certificate_sign)) {
    return bad_issuer(std::string("the issuer certificate's keyUsage does not allow ") +
                      (for_crl ? "cRLSign" : "keyCertSign"));
  }
  return ok_status();
}

Result<Certificate> issue(const CertificateProfile& profile, const PublicKey& subject_key,
                          const Certificate* issuer, const PrivateKey& signer) {
  if (profile.subject.common_name.empty()) {
    return bad_profile("subject.common_name", "the subject needs a common name");
  }
  if (profile.not_after <= profile.not_before) {
    return bad_profile("not_after", "not_after must be later than not_before");
  }
  if (profile.path_length < -1 || (!profile.certificate_authority && profile.path_length != -1)) {
    return bad_profile("path_length",
                       "path_length is -1 (no limit, and for every end certificate) "
                       "or a CA's count of CAs that may follow");
  }
  const KeyUsage& usage = profile.key_usage;
  if (usage == KeyUsage{}) return bad_profile("key_usage", "give at least one key usage");

  X509Pointer x509(X509_new());
  if (!x509 || X509_set_version(x509.get(), X509_VERSION_3) != 1) {
    return openssl_error("making a certificate");
  }
  auto serial = make_serial(profile.serial, "serial");
  if (!serial.ok()) return serial.take_error();
  auto subject = make_name(profile.subject, "subject");
  if (!subject.ok()) return subject.take_error();
  auto not_before = make_time(profile.not_before, "not_before");
  if (!not_before.ok()) return not_before.take_error();
  auto not_after = make_time(profile.not_after, "not_after");
  if (!not_after.ok()) return not_after.take_error();
  auto subject_pkey = public_pkey(subject_key);
  if (!subject_pkey.ok()) return subject_pkey.take_error();

  // The issuer's name exactly as its certificate encodes it, so that chains match byte for byte.
  X509Pointer issuer_x509;
  if (issuer != nullptr) {
    const Bytes& der = issuer->der();
    const unsigned char* cursor = der.data();
    issuer_x509.reset(d2i_X509(nullptr, &cursor, static_cast<long>(der.size())));
    if (!issuer_x509) return openssl_error("reading the issuer certificate");
  }
  const X509_NAME* issuer_name =
      issuer_x509 ? X509_get_subject_name(issuer_x509.get()) : subject->get();

  if (X509_set_serialNumber(x509.get(), serial->get()) != 1 ||
      X509_set_subject_name(x509.get(), subject->get()) != 1 ||
      X509_set_issuer_name(x509.get(), issuer_name) != 1 ||
      X509_set1_notBefore(x509.get(), not_before->get()) != 1 ||
      X509_set1_notAfter(x509.get(), not_after->get()) != 1 ||
      X509_set_pubkey(x509.get(), subject_pkey->get()) != 1) {
    return openssl_error("filling in a certificate");
  }

  BasicConstraintsPointer constraints(BASIC_CONSTRAINTS_new());
  if (!constraints) return openssl_error("making basicConstraints");
  constraints->ca = profile.certificate_authority ? 0xff : 0;
  if (profile.certificate_authority && profile.path_length >= 0) {
    constraints->pathlen = ASN1_INTEGER_new();
    if (constraints->pathlen == nullptr ||
        ASN1_INTEGER_set(constraints->pathlen, profile.path_length) != 1) {
      return openssl_error("making basicConstraints");
    }
  }
  ONEWINDOW_TRY(add_extension(x509.get(), NID_basic_constraints, constraints.get(), true));

  BitsPointer bits(ASN1_BIT_STRING_new());
  if (!bits) return openssl_error("making keyUsage");
  const bool flags[] = {usage.digital_signature, usage.non_repudiation, usage.key_encipherment,
                        usage.data_encipherment, usage.key_agreement,   usage.certificate_sign,
                        usage.crl_sign};
  for (int bit = 0; bit < 7; ++bit) {
    if (flags[bit] && ASN1_BIT_STRING_set_bit(bits.get(), bit, 1) != 1) {
      return openssl_error("making keyUsage");
    }
  }
  ONEWINDOW_TRY(add_extension(x509.get(), NID_key_usage, bits.get(), true));

  Bytes subject_identifier = key_identifier(subject_key);
  OctetsPointer subject_octets(ASN1_OCTET_STRING_new());
  if (!subject_octets || ASN1_OCTET_STRING_set(subject_octets.get(), subject_identifier.data(),
                                               static_cast<int>(subject_identifier.size())) != 1) {
    return openssl_error("making subjectKeyIdentifier");
  }
  ONEWINDOW_TRY(add_extension(x509.get(), NID_subject_key_identifier, subject_octets.get(), false));

  Bytes authority_identifier = subject_identifier;
  if (issuer != nullptr) {
    authority_identifier = issuer->subject_key_identifier().empty()
                               ? key_identifier(issuer->public_key())
                               : issuer->subject_key_identifier();
  }
  AuthorityKeyIdPointer authority(AUTHORITY_KEYID_new());
  if (!authority || (authority->keyid = ASN1_OCTET_STRING_new()) == nullptr ||
      ASN1_OCTET_STRING_set(authority->keyid, authority_identifier.data(),
                            static_cast<int>(authority_identifier.size())) != 1) {
    return openssl_error("making authorityKeyIdentifier");
  }
  ONEWINDOW_TRY(add_extension(x509.get(), NID_authority_key_identifier, authority.get(), false));

  if (!profile.dns_names.empty() || !profile.uris.empty()) {
    auto names = make_general_names(profile.dns_names, GEN_DNS, "dns_names");
    if (!names.ok()) return names.take_error();
    auto uris = make_general_names(profile.uris, GEN_URI, "uris");
    if (!uris.ok()) return uris.take_error();
    while (sk_GENERAL_NAME_num(uris->get()) > 0) {
      GENERAL_NAME* name = sk_GENERAL_NAME_shift(uris->get());
      if (sk_GENERAL_NAME_push(names->get(), name) <= 0) {
        GENERAL_NAME_free(name);
        return openssl_error("making subjectAltName");
      }
    }
    ONEWINDOW_TRY(add_extension(x509.get(), NID_subject_alt_name, names->get(), false));
  }

  if (!profile.revocation_list_url.empty()) {
    auto location =
        make_general_names({profile.revocation_list_url}, GEN_URI, "revocation_list_url");
    if (!location.ok()) return location.take_error();
    DistributionPointsPointer points(CRL_DIST_POINTS_new());
    DIST_POINT* point = DIST_POINT_new();
    if (!points || point == nullptr || (point->distpoint = DIST_POINT_NAME_new()) == nullptr) {
      DIST_POINT_free(point);
      return openssl_error("making cRLDistributionPoints");
    }
    point->distpoint->type = 0;  // fullName
    point->distpoint->name.fullname = location->release();
    if (sk_DIST_POINT_push(points.get(), point) <= 0) {
      DIST_POINT_free(point);
      return openssl_error("making cRLDistributionPoints");
    }
    ONEWINDOW_TRY(add_extension(x509.get(), NID_crl_distribution_points, points.get(), false));
  }

  auto signing_key = private_pkey(signer);
  if (!signing_key.ok()) return signing_key.take_error();
  auto context = signature_context(signing_key->get(), profile.distinguishing_id, true);
  if (!context.ok()) return context.take_error();
  if (X509_sign_ctx(x509.get(), context->digest_context.get()) <= 0)
    return openssl_error("signing a certificate");

  // Read back through the DER, as any certificate is, so that what is returned is what was signed.
  unsigned char* der = nullptr;
  int length = i2d_X509(x509.get(), &der);
  if (length <= 0) return openssl_error("encoding a certificate");
  Bytes encoded(der, der + length);
  OPENSSL_free(der);
  return Certificate::from_der(encoded);
}

}  // namespace

// ---- Certificate -------------------------------------------------------------------------------

Result<Certificate> Certificate::from_pem(std::string_view pem) {
  if (pem.empty() || pem.size() > max_certificate_size) {
    return bad_certificate("the certificate PEM is empty or too long");
  }
  BioPointer bio = read_bio(pem);
  X509Pointer x509(bio ? PEM_read_bio_X509(bio.get(), nullptr, no_passphrase, nullptr) : nullptr);
  if (!x509) return bad_certificate("the text is not a \"CERTIFICATE\" PEM");
  return load_certificate(x509.get());
}

Result<Certificate> Certificate::from_der(std::span<const std::uint8_t> der) {
  if (der.empty() || der.size() > max_certificate_size) {
    return bad_certificate("the certificate DER is empty or too long");
  }
  const unsigned char* cursor = der.data();
  X509Pointer x509(d2i_X509(nullptr, &cursor, static_cast<long>(der.size())));
  if (!x509) return bad_certificate("the bytes are not a DER X.509 certificate");
  if (cursor != der.data() + der.size()) {
    return bad_certificate("the DER certificate is followed by other bytes");
  }
  return load_certificate(x509.get());
}

const std::string& Certificate::pem() const { return state_->pem; }
const Bytes& Certificate::der() const { return state_->der; }
Sm3Digest Certificate::fingerprint() const { return state_->fingerprint; }
const DistinguishedName& Certificate::subject() const { return state_->subject; }
const DistinguishedName& Certificate::issuer() const { return state_->issuer; }
const std::string& Certificate::subject_text() const { return state_->subject_text; }
const std::string& Certificate::issuer_text() const { return state_->issuer_text; }
const Bytes& Certificate::serial() const { return state_->serial; }
std::string Certificate::serial_hex() const { return to_hex(state_->serial); }
std::chrono::system_clock::time_point Certificate::not_before() const { return state_->not_before; }
std::chrono::system_clock::time_point Certificate::not_after() const { return state_->not_after; }
const PublicKey& Certificate::public_key() const { return state_->public_key; }
bool Certificate::certificate_authority() const { return state_->certificate_authority; }
int Certificate::path_length() const { return state_->path_length; }
const std::optional<KeyUsage>& Certificate::key_usage() const { return state_->key_usage; }
const Bytes& Certificate::subject_key_identifier() const { return state_->subject_key_identifier; }
const Bytes& Certificate::authority_key_identifier() const {
  return state_->authority_key_identifier;
}
const std::vector<std::string>& Certificate::dns_names() const { return state_->dns_names; }
const std::vector<std::string>& Certificate::uris() const { return state_->uris; }
const std::string& Certificate::revocation_list_url() const { return state_->revocation_list_url; }

Status Certificate::verify_signature(const PublicKey& issuer_key,
                                     std::string_view distinguishing_id) const {
  return verify_signed(state_->signed_parts, issuer_key, distinguishing_id, "certificate");
}

Result<Certificate> issue_certificate(const CertificateProfile& profile,
                                      const PublicKey& subject_key, const Certificate& issuer,
                                      const PrivateKey& issuer_key) {
  ONEWINDOW_TRY(check_issuer(issuer, issuer_key, false));
  return issue(profile, subject_key, &issuer, issuer_key);
}

Result<Certificate> issue_self_signed_certificate(const CertificateProfile& profile,
                                                  const PrivateKey& key) {
  return issue(profile, key.public_key(), nullptr, key);
}

// ---- Revocation lists --------------------------------------------------------------------------

std::string_view revocation_reason_name(RevocationReason reason) {
  switch (reason) {
    case RevocationReason::unspecified:
      return "unspecified";
    case RevocationReason::key_compromise:
      return "key_compromise";
    case RevocationReason::ca_compromise:
      return "ca_compromise";
    case RevocationReason::affiliation_changed:
      return "affiliation_changed";
    case RevocationReason::superseded:
      return "superseded";
    case RevocationReason::cessation_of_operation:
      return "cessation_of_operation";
    case RevocationReason::certificate_hold:
      return "certificate_hold";
    case RevocationReason::privilege_withdrawn:
      return "privilege_withdrawn";
    case RevocationReason::aa_compromise:
      return "aa_compromise";
  }
  return "unspecified";
}

Result<RevocationReason> parse_revocation_reason(std::string_view name, std::string_view field) {
  for (RevocationReason reason :
       {RevocationReason::unspecified, RevocationReason::key_compromise,
        RevocationReason::ca_compromise, RevocationReason::affiliation_changed,
        RevocationReason::superseded, RevocationReason::cessation_of_operation,
        RevocationReason::certificate_hold, RevocationReason::privilege_withdrawn,
        RevocationReason::aa_compromise}) {
    if (revocation_reason_name(reason) == name) return reason;
  }
  return Error::invalid("crypto.bad_revocation_reason", std::string(field),
                        std::string(field) +
                            " must be one of unspecified, key_compromise, ca_compromise, "
                            "affiliation_changed, superseded, cessation_of_operation, "
                            "certificate_hold, privilege_withdrawn, aa_compromise");
}

Result<RevocationList> RevocationList::from_pem(std::string_view pem) {
  if (pem.empty() || pem.size() > max_revocation_list_size) {
    return bad_revocation_list("the CRL PEM is empty or too long");
  }
  BioPointer bio = read_bio(pem);
  CrlPointer crl(bio ? PEM_read_bio_X509_CRL(bio.get(), nullptr, no_passphrase, nullptr) : nullptr);
  if (!crl) return bad_revocation_list("the text is not an \"X509 CRL\" PEM");
  return load_revocation_list(crl.get());
}

Result<RevocationList> RevocationList::from_der(std::span<const std::uint8_t> der) {
  if (der.empty() || der.size() > max_revocation_list_size) {
    return bad_revocation_list("the CRL DER is empty or too long");
  }
  const unsigned char* cursor = der.data();
  CrlPointer crl(d2i_X509_CRL(nullptr, &cursor, static_cast<long>(der.size())));
  if (!crl) return bad_revocation_list("the bytes are not a DER CRL");
  if (cursor != der.data() + der.size()) {
    return bad_revocation_list("the DER CRL is followed by other bytes");
  }
  return load_revocation_list(crl.get());
}

const std::string& RevocationList::pem() const { return state_->pem; }
const Bytes& RevocationList::der() const { return state_->der; }
const DistinguishedName& RevocationList::issuer() const { return state_->issuer; }
const std::string& RevocationList::issuer_text() const { return state_->issuer_text; }
std::chrono::system_clock::time_point RevocationList::this_update() const {
  return state_->this_update;
}
std::chrono::system_clock::time_point RevocationList::next_update() const {
  return state_->next_update;
}
std::uint64_t RevocationList::number() const { return state_->number; }
const Bytes& RevocationList::authority_key_identifier() const {
  return state_->authority_key_identifier;
}
const std::vector<RevokedCertificate>& RevocationList::revoked() const { return state_->revoked; }

const RevokedCertificate* RevocationList::find(std::span<const std::uint8_t> serial) const {
  Bytes wanted = trimmed(serial);
  for (const RevokedCertificate& entry : state_->revoked) {
    if (entry.serial == wanted) return &entry;
  }
  return nullptr;
}

Status RevocationList::verify_signature(const PublicKey& issuer_key,
                                        std::string_view distinguishing_id) const {
  return verify_signed(state_->signed_parts, issuer_key, distinguishing_id, "CRL");
}

Result<RevocationList> issue_revocation_list(const RevocationListProfile& profile,
                                             const Certificate& issuer,
                                             const PrivateKey& issuer_key) {
  ONEWINDOW_TRY(check_issuer(issuer, issuer_key, true));
  if (profile.next_update <= profile.this_update) {
    return bad_profile("next_update", "next_update must be later than this_update");
  }
  CrlPointer crl(X509_CRL_new());
  if (!crl || X509_CRL_set_version(crl.get(), X509_CRL_VERSION_2) != 1) {
    return openssl_error("making a CRL");
  }
  const Bytes& issuer_der = issuer.der();
  const unsigned char* cursor = issuer_der.data();
  X509Pointer issuer_x509(d2i_X509(nullptr, &cursor, static_cast<long>(issuer_der.size())));
  if (!issuer_x509) return openssl_error("reading the issuer certificate");
  auto this_update = make_time(profile.this_update, "this_update");
  if (!this_update.ok()) return this_update.take_error();
  auto next_update = make_time(profile.next_update, "next_update");
  if (!next_update.ok()) return next_update.take_error();
  if (X509_CRL_set_issuer_name(crl.get(), X509_get_subject_name(issuer_x509.get())) != 1 ||
      X509_CRL_set1_lastUpdate(crl.get(), this_update->get()) != 1 ||
      X509_CRL_set1_nextUpdate(crl.get(), next_update->get()) != 1) {
    return openssl_error("filling in a CRL");
  }

  std::set<Bytes> seen;
  for (std::size_t i = 0; i < profile.revoked.size(); ++i) {
    const RevokedCertificate& entry = profile.revoked[i];
    std::string field = "revoked[" + std::to_string(i) + "]";
    auto serial = make_serial(entry.serial, field + ".serial");
    if (!serial.ok()) return serial.take_error();
    if (!seen.insert(trimmed(entry.serial)).second) {
      return bad_profile(field + ".serial",
                         "the serial " + to_hex(trimmed(entry.serial)) + " is listed twice");
    }
    auto date = make_time(entry.revoked_at, field + ".revoked_at");
    if (!date.ok()) return date.take_error();
    RevokedPointer revoked(X509_REVOKED_new());
    if (!revoked || X509_REVOKED_set_serialNumber(revoked.get(), serial->get()) != 1 ||
        X509_REVOKED_set_revocationDate(revoked.get(), date->get()) != 1) {
      return openssl_error("making a revoked entry");
    }
    if (entry.reason != RevocationReason::unspecified) {
      EnumeratedPointer code(ASN1_ENUMERATED_new());
      if (!code || ASN1_ENUMERATED_set(code.get(), static_cast<long>(entry.reason)) != 1 ||
          X509_REVOKED_add1_ext_i2d(revoked.get(), NID_crl_reason, code.get(), 0,
                                    X509V3_ADD_DEFAULT) != 1) {
        return openssl_error("adding a revocation reason");
      }
    }
    if (X509_CRL_add0_revoked(crl.get(), revoked.get()) != 1) {
      return openssl_error("adding a revoked entry");
    }
    revoked.release();  // the CRL owns it now
  }
  if (X509_CRL_sort(crl.get()) != 1) return openssl_error("sorting a CRL");

  Bytes authority_identifier = issuer.subject_key_identifier().empty()
                                   ? key_identifier(issuer.public_key())
                                   : issuer.subject_key_identifier();
  AuthorityKeyIdPointer authority(AUTHORITY_KEYID_new());
  if (!authority || (authority->keyid = ASN1_OCTET_STRING_new()) == nullptr ||
      ASN1_OCTET_STRING_set(authority->keyid, authority_identifier.data(),
                            static_cast<int>(authority_identifier.size())) != 1 ||
      X509_CRL_add1_ext_i2d(crl.get(), NID_authority_key_identifier, authority.get(), 0,
                            X509V3_ADD_DEFAULT) != 1) {
    return openssl_error("adding authorityKeyIdentifier to a CRL");
  }
  IntegerPointer number(ASN1_INTEGER_new());
  if (!number || ASN1_INTEGER_set_uint64(number.get(), profile.number) != 1 ||
      X509_CRL_add1_ext_i2d(crl.get(), NID_crl_number, number.get(), 0, X509V3_ADD_DEFAULT) != 1) {
    return openssl_error("adding cRLNumber to a CRL");
  }

  auto signing_key = private_pkey(issuer_key);
  if (!signing_key.ok()) return signing_key.take_error();
  auto context = signature_context(signing_key->get(), profile.distinguishing_id, true);
  if (!context.ok()) return context.take_error();
  if (X509_CRL_sign_ctx(crl.get(), context->digest_context.get()) <= 0)
    return openssl_error("signing a CRL");

  unsigned char* der = nullptr;
  int length = i2d_X509_CRL(crl.get(), &der);
  if (length <= 0) return openssl_error("encoding a CRL");
  Bytes encoded(der, der + length);
  OPENSSL_free(der);
  return RevocationList::from_der(encoded);
}

}  // namespace onewindow::crypto
