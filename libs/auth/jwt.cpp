#include "libs/auth/jwt.h"

#include <jwt.h>

#include <boost/json.hpp>
#include <cerrno>
#include <cstdlib>
#include <memory>
#include <optional>
#include <stdexcept>

namespace oms::auth {
namespace {

struct JwtDeleter {
  void operator()(jwt_t* j) const { jwt_free(j); }
};
using JwtPtr = std::unique_ptr<jwt_t, JwtDeleter>;

const unsigned char* key_bytes(const std::string& s) {
  return reinterpret_cast<const unsigned char*>(s.data());
}

}  // namespace

JwtCodec::JwtCodec(std::string secret, std::string issuer, std::int64_t ttl_seconds)
    : secret_(std::move(secret)), issuer_(std::move(issuer)), ttl_(ttl_seconds) {
  if (secret_.size() < 16) throw std::invalid_argument("JWT secret must be at least 16 bytes");
}

std::string JwtCodec::issue(std::string_view subject, Role role, std::int64_t now_s) const {
  boost::json::object claims{{"sub", subject},
                             {"iss", issuer_},
                             {"iat", now_s},
                             {"exp", now_s + ttl_seconds(role)},
                             {"role", to_string(role)}};
  return sign(boost::json::serialize(claims));
}

std::string JwtCodec::sign(const std::string& claims_json) const {
  jwt_t* raw = nullptr;
  if (jwt_new(&raw) != 0) throw std::runtime_error("jwt_new failed");
  JwtPtr j(raw);
  if (jwt_add_grants_json(j.get(), claims_json.c_str()) ||
      jwt_set_alg(j.get(), JWT_ALG_HS256, key_bytes(secret_), static_cast<int>(secret_.size())))
    throw std::invalid_argument("claims must be a JSON object");
  char* out = jwt_encode_str(j.get());
  if (!out) throw std::runtime_error("jwt_encode_str failed");
  std::string token(out);
  free(out);
  return token;
}

Result<Claims> JwtCodec::verify(std::string_view token, std::int64_t now_s) const {
  if (token.empty() || token.size() > 4096) return fail(Errc::kUnauthorized, "malformed token");
  std::string t(token);
  jwt_t* raw = nullptr;
  // Always pass the key: with a NULL key libjwt would accept unsigned tokens.
  if (jwt_decode(&raw, t.c_str(), key_bytes(secret_), static_cast<int>(secret_.size())) != 0 || !raw)
    return fail(Errc::kUnauthorized, "invalid token");
  JwtPtr j(raw);
  if (jwt_get_alg(j.get()) != JWT_ALG_HS256) return fail(Errc::kUnauthorized, "unsupported alg");
  // The claims as JSON: libjwt's integer getter refuses a NumericDate with a fraction, which
  // RFC 7519 (section 2) allows.
  std::unique_ptr<char, decltype(&free)> text(jwt_get_grants_json(j.get(), nullptr), &free);
  boost::system::error_code ec;
  boost::json::value claims = text ? boost::json::parse(text.get(), ec) : boost::json::value();
  if (ec || !claims.is_object()) return fail(Errc::kUnauthorized, "invalid token");
  return check_claims(claims.get_object(), issuer_, std::nullopt, now_s, 0);
}

Result<Claims> check_claims(const boost::json::object& c, std::string_view issuer,
                            std::optional<std::string_view> audience, std::int64_t now_s, std::int64_t exp_leeway_s) {
  const auto* iss = c.if_contains("iss");
  if (!iss || !iss->is_string() || issuer != iss->get_string()) return fail(Errc::kUnauthorized, "wrong issuer");
  if (audience) {  // a string, or an array that holds it (RFC 7519 4.1.3)
    const auto* aud = c.if_contains("aud");
    bool ok = aud && aud->is_string() && aud->get_string() == *audience;
    if (aud && aud->is_array())
      for (const auto& a : aud->get_array()) ok = ok || (a.is_string() && a.get_string() == *audience);
    if (!ok) return fail(Errc::kUnauthorized, "wrong audience");
  }
  auto date = [&c](const char* name) -> std::optional<double> {
    const auto* v = c.if_contains(name);
    if (!v || !v->is_number()) return std::nullopt;
    return v->to_number<double>();
  };
  auto exp = date("exp");
  if (!exp) return fail(Errc::kUnauthorized, "token has no exp");
  if (*exp + static_cast<double>(exp_leeway_s) <= static_cast<double>(now_s)) return fail(Errc::kUnauthorized, "token expired");
  for (const char* name : {"nbf", "iat"}) {
    if (!c.contains(name)) continue;
    auto at = date(name);
    if (!at) return fail(Errc::kUnauthorized, std::string("token's ") + name + " is not a NumericDate");
    // A token that is not valid yet, or says it was issued later than now (beyond clock skew).
    if (*at > static_cast<double>(now_s + kClockSkewSeconds))
      return fail(Errc::kUnauthorized, std::string(name[0] == 'n' ? "token not valid yet" : "token issued in the future"));
  }
  const auto* sub = c.if_contains("sub");
  if (!sub || !sub->is_string() || !valid_user_id(sub->get_string())) return fail(Errc::kUnauthorized, "token has no valid sub");
  Claims out{std::string(sub->get_string())};
  if (const auto* role = c.if_contains("role")) {
    auto r = role->is_string() ? parse_role(role->get_string()) : std::nullopt;
    if (!r) return fail(Errc::kUnauthorized, "token has an unknown role");
    out.role = *r;
  }
  return out;
}

bool valid_user_id(std::string_view user) {
  if (user.empty() || user.size() > 128) return false;
  bool blank = true;
  for (unsigned char c : user) {
    if (c < 0x20 || c == 0x7f) return false;
    if (c != ' ' && c != '\t') blank = false;
  }
  return !blank;
}

}  // namespace oms::auth
