#pragma once
// HS256 JSON Web Tokens (libjwt). Verification insists on HS256 with our key, a matching issuer
// and an unexpired `exp`: libjwt alone would accept `alg: none` and does not check `exp`. `nbf`
// and `iat`, when present, may not lie in the future beyond kClockSkewSeconds; every date may be
// fractional (a NumericDate).
#include <cstdint>
#include <string>
#include <string_view>

#include "libs/core/error.h"

namespace oms::auth {

inline constexpr std::int64_t kClockSkewSeconds = 60;

class JwtCodec {
 public:
  JwtCodec(std::string secret, std::string issuer, std::int64_t ttl_seconds);

  std::string issue(std::string_view subject, std::int64_t now_s) const;
  // Signs exactly these claims (a JSON object), for tools and tests that need odd tokens.
  std::string sign(const std::string& claims_json) const;
  // The token's subject, or kUnauthorized with a reason.
  Result<std::string> verify(std::string_view token, std::int64_t now_s) const;
  std::int64_t ttl_seconds() const { return ttl_; }

 private:
  std::string secret_;
  std::string issuer_;
  std::int64_t ttl_;
};

// A login user id: 1..128 characters, no control characters, not blank.
bool valid_user_id(std::string_view user);

}  // namespace oms::auth
