#include "libs/auth/jwt.h"

#include <jwt.h>

#include <cerrno>
#include <cstdlib>
#include <memory>
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

std::string JwtCodec::issue(std::string_view subject, std::int64_t now_s) const {
  jwt_t* raw = nullptr;
  if (jwt_new(&raw) != 0) throw std::runtime_error("jwt_new failed");
  JwtPtr j(raw);
  std::string sub(subject);
  if (jwt_add_grant(j.get(), "sub", sub.c_str()) || jwt_add_grant(j.get(), "iss", issuer_.c_str()) ||
      jwt_add_grant_int(j.get(), "iat", now_s) || jwt_add_grant_int(j.get(), "exp", now_s + ttl_) ||
      jwt_set_alg(j.get(), JWT_ALG_HS256, key_bytes(secret_), static_cast<int>(secret_.size())))
    throw std::runtime_error("jwt encode setup failed");
  char* out = jwt_encode_str(j.get());
  if (!out) throw std::runtime_error("jwt_encode_str failed");
  std::string token(out);
  free(out);  // libjwt 1.10 allocates with malloc
  return token;
}

Result<std::string> JwtCodec::verify(std::string_view token, std::int64_t now_s) const {
  if (token.empty() || token.size() > 4096) return fail(Errc::kUnauthorized, "malformed token");
  std::string t(token);
  jwt_t* raw = nullptr;
  // Always pass the key: with a NULL key libjwt would accept unsigned tokens.
  if (jwt_decode(&raw, t.c_str(), key_bytes(secret_), static_cast<int>(secret_.size())) != 0 || !raw)
    return fail(Errc::kUnauthorized, "invalid token");
  JwtPtr j(raw);
  if (jwt_get_alg(j.get()) != JWT_ALG_HS256) return fail(Errc::kUnauthorized, "unsupported alg");
  const char* iss = jwt_get_grant(j.get(), "iss");
  if (!iss || issuer_ != iss) return fail(Errc::kUnauthorized, "wrong issuer");
  errno = 0;
  long exp = jwt_get_grant_int(j.get(), "exp");
  if (errno != 0) return fail(Errc::kUnauthorized, "token has no exp");
  if (exp <= now_s) return fail(Errc::kUnauthorized, "token expired");
  const char* sub = jwt_get_grant(j.get(), "sub");
  if (!sub || !valid_user_id(sub)) return fail(Errc::kUnauthorized, "token has no valid sub");
  return std::string(sub);
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
