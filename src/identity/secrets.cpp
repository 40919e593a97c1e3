#include "identity/secrets.h"

#include <argon2.h>
#include <liboath/oath.h>

#include <cstdlib>
#include <mutex>

namespace onewindow::identity {

namespace {
constexpr std::size_t salt_bytes = 16;
constexpr std::size_t hash_bytes = 32;
constexpr unsigned totp_step_seconds = 30;
constexpr unsigned totp_digits = 6;

void initialise_oath() {
  static std::once_flag once;
  std::call_once(once, [] { oath_init(); });
}
}  // namespace

Result<std::string> hash_password(std::string_view password, std::uint32_t memory_kib, std::uint32_t iterations) {
  auto salt = crypto::random_bytes(salt_bytes);
  if (!salt.ok()) return salt.take_error();
  std::size_t length = argon2_encodedlen(iterations, memory_kib, 1, salt_bytes, hash_bytes, Argon2_id);
  std::string encoded(length, '\0');
  int result = argon2id_hash_encoded(iterations, memory_kib, 1, password.data(), password.size(), salt->data(),
                                     salt->size(), hash_bytes, encoded.data(), encoded.size());
  if (result != ARGON2_OK) {
    return Error(ErrorKind::internal, "identity.password_hash", std::string("argon2id failed: ") + argon2_error_message(result));
  }
  encoded.resize(std::strlen(encoded.c_str()));
  return encoded;
}

bool verify_password(std::string_view encoded_hash, std::string_view password) {
  std::string encoded(encoded_hash);
  return argon2id_verify(encoded.c_str(), password.data(), password.size()) == ARGON2_OK;
}

void spend_verification_time(std::uint32_t memory_kib, std::uint32_t iterations) {
  static const std::string decoy = [&] {
    auto hash = hash_password("decoy password for unknown names", memory_kib, iterations);
    return hash.ok() ? *hash : std::string();
  }();
  (void)verify_password(decoy, "not the decoy password");
}

Result<TotpSecret> new_totp_secret() {
  initialise_oath();
  auto raw = crypto::random_bytes(20);
  if (!raw.ok()) return raw.take_error();
  char* encoded = nullptr;
  std::size_t length = 0;
  if (oath_base32_encode(reinterpret_cast<const char*>(raw->data()), raw->size(), &encoded, &length) != OATH_OK) {
    return Error(ErrorKind::internal, "identity.totp", "cannot encode a TOTP secret");
  }
  std::string base32(encoded, length);
  std::free(encoded);
  while (!base32.empty() && base32.back() == '=') base32.pop_back();
  return TotpSecret{std::move(raw).value(), base32};
}

Result<crypto::Bytes> decode_base32(std::string_view base32) {
  initialise_oath();
  std::string padded(base32);
  while (padded.size() % 8 != 0) padded += '=';
  char* decoded = nullptr;
  std::size_t length = 0;
  if (oath_base32_decode(padded.data(), padded.size(), &decoded, &length) != OATH_OK) {
    return Error::invalid("identity.bad_totp_secret", "totp_secret", "the TOTP secret is not base32");
  }
  crypto::Bytes bytes(decoded, decoded + length);
  std::free(decoded);
  return bytes;
}

Result<std::string> totp_code_at(const crypto::Bytes& secret, std::chrono::system_clock::time_point at) {
  initialise_oath();
  char code[totp_digits + 1] = {};
  time_t seconds = std::chrono::system_clock::to_time_t(at);
  if (oath_totp_generate(reinterpret_cast<const char*>(secret.data()), secret.size(), seconds, totp_step_seconds, 0,
                         totp_digits, code) != OATH_OK) {
    return Error(ErrorKind::internal, "identity.totp", "cannot compute a TOTP code");
  }
  return std::string(code);
}

std::optional<std::int64_t> matching_totp_step(const crypto::Bytes& secret, std::string_view code,
                                               std::chrono::system_clock::time_point now) {
  if (code.size() != totp_digits) return std::nullopt;
  initialise_oath();
  std::string wanted(code);
  time_t seconds = std::chrono::system_clock::to_time_t(now);
  int position = 0;
  int result = oath_totp_validate2(reinterpret_cast<const char*>(secret.data()), secret.size(), seconds,
                                   totp_step_seconds, 0, 1, &position, wanted.c_str());
  if (result < 0) return std::nullopt;
  return static_cast<std::int64_t>(seconds / totp_step_seconds) + position;
}

}  // namespace onewindow::identity
