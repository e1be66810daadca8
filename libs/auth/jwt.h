#pragma once
// HS256 JSON Web Tokens (libjwt). Verification insists on HS256 with our key, a matching issuer
// and an unexpired `exp`: libjwt alone would accept `alg: none` and does not check `exp`. `nbf`
// and `iat`, when present, may not lie in the future beyond kClockSkewSeconds; every date may be
// fractional (a NumericDate). The `role` claim says what the holder may do (absent: customer, as
// in tokens issued before roles existed).
#include <algorithm>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include <boost/json/object.hpp>

#include "libs/core/error.h"
#include "libs/core/role.h"

namespace oms::auth {

inline constexpr std::int64_t kClockSkewSeconds = 60;
// A staff or admin token lives at most this long (API.md, "Authentication").
inline constexpr std::int64_t kPrivilegedTtlSeconds = 3600;

struct Claims {
  std::string user;  // sub
  Role role = Role::kCustomer;
};

// Verifies a token: its signature, then its claims (check_claims).
class TokenVerifier {
 public:
  virtual ~TokenVerifier() = default;
  // The token's subject and role, or kUnauthorized with a reason.
  virtual Result<Claims> verify(std::string_view token, std::int64_t now_s) const = 0;
};

// The claims of a token whose signature has been verified: `iss` equal to `issuer`; `aud` (a
// string, or an array holding it) equal to `audience` when one is pinned; `exp` in the future
// (with `exp_leeway_s`); `nbf` and `iat` not in the future beyond kClockSkewSeconds; a valid
// `sub`; `role`, when present, one we know.
Result<Claims> check_claims(const boost::json::object& claims, std::string_view issuer,
                            std::optional<std::string_view> audience, std::int64_t now_s, std::int64_t exp_leeway_s);

// Dev mode: the gateway issues HS256 tokens and every process verifies them with the shared key.
class JwtCodec : public TokenVerifier {
 public:
  JwtCodec(std::string secret, std::string issuer, std::int64_t ttl_seconds);

  std::string issue(std::string_view subject, Role role, std::int64_t now_s) const;
  // Signs exactly these claims (a JSON object), for tools and tests that need odd tokens.
  std::string sign(const std::string& claims_json) const;
  Result<Claims> verify(std::string_view token, std::int64_t now_s) const override;
  // How long a token of this role lives.
  std::int64_t ttl_seconds(Role role = Role::kCustomer) const {
    return role > Role::kCustomer ? std::min(ttl_, kPrivilegedTtlSeconds) : ttl_;
  }

 private:
  std::string secret_;
  std::string issuer_;
  std::int64_t ttl_;
};

// A login user id: 1..128 characters, no control characters, not blank.
bool valid_user_id(std::string_view user);

}  // namespace oms::auth
