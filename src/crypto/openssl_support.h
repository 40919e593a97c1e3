// Private to crypto/: what the files over OpenSSL share. Not for other modules.
#pragma once

#include "base/result.h"

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>

#include <memory>
#include <string>
#include <string_view>

namespace onewindow::crypto::openssl_support {

// unique_ptr deleters for OpenSSL's free functions.
template <auto free_function>
struct Deleter {
  template <typename T>
  void operator()(T* pointer) const {
    free_function(pointer);
  }
};
using MdContext = std::unique_ptr<EVP_MD_CTX, Deleter<EVP_MD_CTX_free>>;
using PkeyPointer = std::unique_ptr<EVP_PKEY, Deleter<EVP_PKEY_free>>;
using PkeyContext = std::unique_ptr<EVP_PKEY_CTX, Deleter<EVP_PKEY_CTX_free>>;
using BioPointer = std::unique_ptr<BIO, Deleter<BIO_free>>;
using BignumPointer = std::unique_ptr<BIGNUM, Deleter<BN_free>>;

// The oldest error on this thread's OpenSSL queue, as text; empties the queue so that it does
// not surface in a later, unrelated call.
inline std::string take_openssl_error_text() {
  unsigned long code = ERR_get_error();
  std::string text = "no OpenSSL error recorded";
  if (code != 0) {
    char buffer[256];
    ERR_error_string_n(code, buffer, sizeof buffer);
    text = buffer;
  }
  ERR_clear_error();
  return text;
}

// crypto.openssl (internal): an OpenSSL call failed where it should not.
inline Error openssl_error(std::string_view operation) {
  std::string reason = take_openssl_error_text();
  return Error(ErrorKind::internal, "crypto.openssl", std::string(operation) + " failed in OpenSSL: " + reason,
               nlohmann::json{{"operation", operation}, {"openssl_error", reason}});
}

inline Error bad_key(std::string message) {
  ERR_clear_error();
  return Error(ErrorKind::invalid_argument, "crypto.bad_key", std::move(message));
}

inline Error bad_pem(std::string message) {
  ERR_clear_error();
  return Error(ErrorKind::invalid_argument, "crypto.bad_pem", std::move(message));
}

}  // namespace onewindow::crypto::openssl_support
