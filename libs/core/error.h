#pragma once
// Expected failures are values: every module reports them as an Error with a kind that maps to
// exactly one HTTP status in libs/http/problem.cpp. Exceptions are for bugs and start-up only.
#include <expected>
#include <stdexcept>
#include <string>
#include <utility>

namespace oms {

enum class Errc {
  kInvalid,        // 400: the request is malformed or fails validation
  kUnauthorized,   // 401
  kForbidden,      // 403
  kNotFound,       // 404
  kConflict,       // 409: the resource's state does not allow this
  kUnprocessable,  // 422: idempotency key reused with another request
  kUnsupportedMedia,  // 415: a JSON body was required
  kTooLarge,       // 413: body over the limit
  kRateLimited,    // 429
  kUnavailable,    // 503: a dependency is down
};

struct Error {
  Errc code;
  std::string detail;
};

// Thrown when a dependency (the database, the broker) cannot be reached at all: the request
// cannot be served now, but may succeed in a moment. The HTTP server answers 503 + Retry-After.
struct Unavailable : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// Thrown when the database refuses a value the validation let through (PostgreSQL rejects, e.g.,
// a NUL character in text). The HTTP server answers 400: the request, not the system, is wrong.
struct InvalidInput : std::runtime_error {
  using std::runtime_error::runtime_error;
};

template <class T>
using Result = std::expected<T, Error>;

inline std::unexpected<Error> fail(Errc code, std::string detail) {
  return std::unexpected<Error>(Error{code, std::move(detail)});
}

}  // namespace oms
