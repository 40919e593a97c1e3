// Private to identity/: passwords (argon2id) and TOTP (RFC 6238 through liboath).
#pragma once

#include "base/result.h"
#include "crypto/crypto.h"

#include <chrono>
#include <cstdint>
#include <string>

namespace onewindow::identity {

// An argon2id hash in the PHC string form ($argon2id$v=19$m=...,t=...,p=1$salt$hash), which
// carries its own parameters so that the cost can be raised later without breaking old hashes.
Result<std::string> hash_password(std::string_view password, std::uint32_t memory_kib, std::uint32_t iterations);
bool verify_password(std::string_view encoded_hash, std::string_view password);
// Spends the time of one verification, so that a login for an unknown name takes as long as one
// with a wrong password.
void spend_verification_time(std::uint32_t memory_kib, std::uint32_t iterations);

struct TotpSecret {
  crypto::Bytes raw;   // 20 bytes, as RFC 6238 suggests for HMAC-SHA1
  std::string base32;  // what authenticator apps take
};
Result<TotpSecret> new_totp_secret();
// The time step (30 s since the epoch) at which `code` is valid, trying the step of `now` and one
// on either side for clock drift; nullopt if none matches.
std::optional<std::int64_t> matching_totp_step(const crypto::Bytes& secret, std::string_view code,
                                               std::chrono::system_clock::time_point now);
Result<std::string> totp_code_at(const crypto::Bytes& secret, std::chrono::system_clock::time_point at);
Result<crypto::Bytes> decode_base32(std::string_view base32);

}  // namespace onewindow::identity
