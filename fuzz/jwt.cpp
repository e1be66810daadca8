// Token parsing and verification (libs/auth): dev mode's HS256 tokens, an identity provider's
// RS256/ES256 tokens against a JWKS, and JWKS documents themselves. The first byte picks which;
// the rest is the token (or the document). Time stands still at kNow so the seeds stay valid.
#include <cstdint>
#include <exception>
#include <memory>
#include <string>
#include <string_view>

#include "libs/auth/jwks.h"
#include "libs/auth/jwt.h"

namespace {
constexpr std::int64_t kNow = 1900000000;
// Public keys only (the private ones that signed the seeds were thrown away).
constexpr const char* kJwks = R"({"keys":[{"kty":"RSA","kid":"fuzz-rsa","alg":"RS256","use":"sig","n":"3dlsxfrnOmSo4zHQ2o1q6nzkdad3uDbJNAmrQ8s0GB-sH4y_fiol6CEVHzj28KvTUgwZJFSJL95hnHd-XvSqISCmcY99iitelu86Ddk_rbcgjYtj07tcqUB8jNPp1u_sjKjhOefT4O2tRl9zqPgBgSWa8Qn0u74BRUdZgXaFAHxDxOdv_tpsBQkjx5nVmaYphGqBlf-d1R5giZyEqslWBZK0A2OFil9hEoeNu6QH2rWUxlcNi5lzc2LU8G_g0zqbR_qseQUhBMFhOhRG6CJXej_KhH_ahb0bQcV7NAXTyo2NWsFoy_ZCqfmVl4nlXlvTa2IkQ74bL6phw1nxcYOPFQ","e":"AQAB"},{"kty":"EC","kid":"fuzz-ec","alg":"ES256","crv":"P-256","x":"37WPCKoC73A2PpXqQ2l8v5DwsxISyDKEPYQn_i4Jveg","y":"I03Ih-HZ1Zz2AEFIWRlnwfUm9vzbd5-7yqyJRdxX_uM"}]})";
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const oms::auth::JwtCodec dev("fuzz-secret-0123456789abcdef", "oms", 36000);
  static const oms::auth::JwksVerifier external(kJwks, "fuzz-issuer", "fuzz-audience");
  if (size == 0) return 0;
  std::string_view rest(reinterpret_cast<const char*>(data) + 1, size - 1);
  switch (data[0] % 3) {
    case 0: (void)dev.verify(rest, kNow); break;
    case 1: (void)external.verify(rest, kNow); break;
    default:
      try {
        oms::auth::JwksVerifier other{std::string(rest), "fuzz-issuer", "fuzz-audience"};
        (void)other.verify("e30.e30.", kNow);
      } catch (const std::exception&) {  // a document that is not a usable JWKS is refused
      }
  }
  return 0;
}
