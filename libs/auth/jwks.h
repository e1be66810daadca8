#pragma once
// Production identity (`--auth external`, docs/adr/0010): tokens issued by an outside identity
// provider, verified against the public keys of its JWKS (RFC 7517) read from a file — RS256
// (RSA, at least 2048 bits) and ES256 (P-256) — with the issuer and the audience pinned, and the
// dates checked with a small leeway. Only public keys are held: no process can mint a token.
// The header's `alg` must be the key's (no `none`, no HS256 with a public key as its secret);
// `kid` picks the key (a JWKS of one key may do without).
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "libs/auth/jwt.h"

namespace oms::auth {

class JwksVerifier : public TokenVerifier {
 public:
  // Throws std::invalid_argument when the JWKS holds no usable key.
  JwksVerifier(const std::string& jwks_json, std::string issuer, std::string audience);
  ~JwksVerifier() override;
  static std::unique_ptr<JwksVerifier> from_file(const std::string& path, std::string issuer, std::string audience);

  Result<Claims> verify(std::string_view token, std::int64_t now_s) const override;
  std::size_t keys() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Base64url without padding (RFC 7515 2), as JWS uses it; nullopt when `s` is not.
std::optional<std::string> base64url_decode(std::string_view s);
std::string base64url_encode(std::string_view bytes);

}  // namespace oms::auth
