// Errors as values. Every fallible call across a module line returns Result<T> (or Status, which
// is Result<void>) instead of throwing. An Error carries:
//   - kind: the class of failure, which api/ maps to an HTTP status in one table;
//   - code: a stable, dotted, lower-case identifier ("store.constraint", "config.unknown_key")
//     that clients and tests may rely on; never reworded once published;
//   - message: one sentence for people, naming the field or value at fault; never a secret or a
//     personal ID number;
//   - details: optional structured data (the field, the line, the limit).
// Result is a plain value type: not synchronised, cheap to move.
#pragma once

#include <nlohmann/json.hpp>

#include <cassert>
#include <optional>
#include <string>
#include <utility>
#include <variant>

namespace onewindow {

enum class ErrorKind {
  invalid_argument,   // the caller's input is wrong (400)
  unauthenticated,    // who is calling is unknown (401)
  permission_denied,  // the caller may not do this (403)
  not_found,          // the thing does not exist (404)
  conflict,           // the thing's state does not allow it, or it exists already (409)
  too_large,          // the input is over a limit (413)
  unsupported,        // the input's form is not one we take (415)
  too_many_requests,  // the caller must slow down or wait (429)
  unavailable,        // a dependency is down or the server is shutting down (503)
  internal,           // a bug or a broken invariant (500)
};

struct Error {
  ErrorKind kind = ErrorKind::internal;
  std::string code;
  std::string message;
  nlohmann::json details = nlohmann::json::object();

  Error() = default;
  Error(ErrorKind kind, std::string code, std::string message,
        nlohmann::json details = nlohmann::json::object())
      : kind(kind), code(std::move(code)), message(std::move(message)), details(std::move(details)) {}

  // The field at fault, for the common case of invalid input.
  static Error invalid(std::string code, std::string field, std::string message) {
    return Error(ErrorKind::invalid_argument, std::move(code), std::move(message),
                 nlohmann::json{{"field", std::move(field)}});
  }
};

template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : state_(std::in_place_index<0>, std::move(value)) {}  // NOLINT: implicit by design
  Result(Error error) : state_(std::in_place_index<1>, std::move(error)) {}  // NOLINT

  bool ok() const { return state_.index() == 0; }
  explicit operator bool() const { return ok(); }

  T& value() & { assert(ok()); return std::get<0>(state_); }
  const T& value() const& { assert(ok()); return std::get<0>(state_); }
  T&& value() && { assert(ok()); return std::get<0>(std::move(state_)); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

  const Error& error() const { assert(!ok()); return std::get<1>(state_); }
  Error&& take_error() { assert(!ok()); return std::get<1>(std::move(state_)); }
  // Only whether it succeeded, for a caller that needs no value (an UPDATE's row count).
  Result<void> status() const;

 private:
  std::variant<T, Error> state_;
};

// A success costs nothing to make: the Error exists only on failure.
template <>
class [[nodiscard]] Result<void> {
 public:
  Result() = default;
  Result(Error error) : error_(std::move(error)) {}  // NOLINT

  bool ok() const { return !error_.has_value(); }
  explicit operator bool() const { return ok(); }
  const Error& error() const { assert(error_); return *error_; }
  Error&& take_error() { assert(error_); return std::move(*error_); }

 private:
  std::optional<Error> error_;
};

using Status = Result<void>;

template <typename T>
Status Result<T>::status() const {
  return ok() ? Status() : Status(error());
}

inline Status ok_status() { return Status(); }

}  // namespace onewindow

// Returns the error of a Status or Result expression from the enclosing function.
#define ONEWINDOW_TRY(expression)                         \
  do {                                                    \
    auto onewindow_try_result_ = (expression);            \
    if (!onewindow_try_result_.ok()) return onewindow_try_result_.take_error(); \
  } while (false)
