#include "libs/auth/jwks.h"

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ecdsa.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>

#include <boost/json.hpp>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <vector>

namespace oms::auth {
namespace {

constexpr std::int64_t kExpLeewaySeconds = 60;

struct PkeyFree {
  void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
};
using Pkey = std::unique_ptr<EVP_PKEY, PkeyFree>;

struct Key {
  std::string kid;
  std::string alg;  // RS256 | ES256
  Pkey pkey;
};

int b64_value(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '-') return 62;
  if (c == '_') return 63;
  return -1;
}

// An EVP_PKEY from OpenSSL parameters (a public key of `type`: "RSA" or "EC").
Pkey from_params(const char* type, OSSL_PARAM_BLD* bld) {
  OSSL_PARAM* params = OSSL_PARAM_BLD_to_param(bld);
  EVP_PKEY_CTX* ctx = EVP_PKEY_CTX_new_from_name(nullptr, type, nullptr);
  EVP_PKEY* pkey = nullptr;
  bool ok = params && ctx && EVP_PKEY_fromdata_init(ctx) == 1 &&
            EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_PUBLIC_KEY, params) == 1;
  EVP_PKEY_CTX_free(ctx);
  OSSL_PARAM_free(params);
  if (!ok) {
    EVP_PKEY_free(pkey);
    return nullptr;
  }
  return Pkey(pkey);
}

std::string member(const boost::json::object& o, const char* name) {
  const auto* v = o.if_contains(name);
  return v && v->is_string() ? std::string(v->get_string()) : std::string();
}

Pkey rsa_key(const boost::json::object& jwk) {
  auto n = base64url_decode(member(jwk, "n")), e = base64url_decode(member(jwk, "e"));
  if (!n || !e || n->size() < 256 || e->empty()) return nullptr;  // at least 2048 bits
  BIGNUM* bn = BN_bin2bn(reinterpret_cast<const unsigned char*>(n->data()), static_cast<int>(n->size()), nullptr);
  BIGNUM* be = BN_bin2bn(reinterpret_cast<const unsigned char*>(e->data()), static_cast<int>(e->size()), nullptr);
  OSSL_PARAM_BLD* bld = OSSL_PARAM_BLD_new();
  Pkey key;
  if (bn && be && bld && OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, bn) == 1 &&
      OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, be) == 1)
    key = from_params("RSA", bld);
  OSSL_PARAM_BLD_free(bld);
  BN_free(bn);
  BN_free(be);
  return key;
}

Pkey ec_key(const boost::json::object& jwk) {
  if (member(jwk, "crv") != "P-256") return nullptr;
  auto x = base64url_decode(member(jwk, "x")), y = base64url_decode(member(jwk, "y"));
  if (!x || !y || x->size() != 32 || y->size() != 32) return nullptr;
  std::string point = "\x04" + *x + *y;  // uncompressed
  OSSL_PARAM_BLD* bld = OSSL_PARAM_BLD_new();
  Pkey key;
  if (bld && OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, "prime256v1", 0) == 1 &&
      OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, point.data(), point.size()) == 1)
    key = from_params("EC", bld);
  OSSL_PARAM_BLD_free(bld);
  return key;
}

// JWS ES256 signatures are r || s (32 bytes each); OpenSSL verifies DER.
std::optional<std::string> es256_to_der(const std::string& raw) {
  if (raw.size() != 64) return std::nullopt;
  const auto* p = reinterpret_cast<const unsigned char*>(raw.data());
  ECDSA_SIG* sig = ECDSA_SIG_new();
  BIGNUM* r = BN_bin2bn(p, 32, nullptr);
  BIGNUM* s = BN_bin2bn(p + 32, 32, nullptr);
  if (!sig || !r || !s || ECDSA_SIG_set0(sig, r, s) != 1) {
    BN_free(r);
    BN_free(s);
    ECDSA_SIG_free(sig);
    return std::nullopt;
  }
  unsigned char* der = nullptr;
  int len = i2d_ECDSA_SIG(sig, &der);
  ECDSA_SIG_free(sig);
  if (len <= 0) return std::nullopt;
  std::string out(reinterpret_cast<char*>(der), static_cast<std::size_t>(len));
  OPENSSL_free(der);
  return out;
}

bool verify_sha256(EVP_PKEY* key, std::string_view data, const std::string& sig) {
  EVP_MD_CTX* md = EVP_MD_CTX_new();
  bool ok = md && EVP_DigestVerifyInit(md, nullptr, EVP_sha256(), nullptr, key) == 1 &&
            EVP_DigestVerify(md, reinterpret_cast<const unsigned char*>(sig.data()), sig.size(),
                             reinterpret_cast<const unsigned char*>(data.data()), data.size()) == 1;
  EVP_MD_CTX_free(md);
  return ok;
}

}  // namespace

std::optional<std::string> base64url_decode(std::string_view s) {
  std::string out;
  out.reserve(s.size() * 3 / 4);
  unsigned buf = 0;
  int bits = 0;
  for (char c : s) {
    int v = b64_value(c);
    if (v < 0) return std::nullopt;
    buf = (buf << 6) | static_cast<unsigned>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((buf >> bits) & 0xff));
    }
  }
  if (bits >= 6 || (buf & ((1u << bits) - 1)) != 0) return std::nullopt;  // a stray or non-canonical tail
  return out;
}

std::string base64url_encode(std::string_view bytes) {
  static constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  std::string out;
  unsigned buf = 0;
  int bits = 0;
  for (unsigned char c : bytes) {
    buf = (buf << 8) | c;
    bits += 8;
    while (bits >= 6) {
      bits -= 6;
      out.push_back(kAlphabet[(buf >> bits) & 63]);
    }
  }
  if (bits > 0) out.push_back(kAlphabet[(buf << (6 - bits)) & 63]);
  return out;
}

struct JwksVerifier::Impl {
  std::vector<Key> keys;
  std::string issuer, audience;
};

JwksVerifier::JwksVerifier(const std::string& jwks_json, std::string issuer, std::string audience)
    : impl_(std::make_unique<Impl>()) {
  if (issuer.empty() || audience.empty())
    throw std::invalid_argument("external tokens need a pinned issuer and audience (--token-issuer, --token-audience)");
  impl_->issuer = std::move(issuer);
  impl_->audience = std::move(audience);
  boost::system::error_code ec;
  auto doc = boost::json::parse(jwks_json, ec);
  if (ec || !doc.is_object() || !doc.as_object().contains("keys") || !doc.at("keys").is_array())
    throw std::invalid_argument("the JWKS must be a JSON object with a \"keys\" array");
  for (const auto& v : doc.at("keys").as_array()) {
    if (!v.is_object()) continue;
    const auto& jwk = v.as_object();
    std::string kty = member(jwk, "kty"), alg = member(jwk, "alg"), use = member(jwk, "use");
    if (!use.empty() && use != "sig") continue;  // an encryption key verifies nothing
    Key k{member(jwk, "kid"), {}, nullptr};
    if (kty == "RSA" && (alg.empty() || alg == "RS256")) k = Key{k.kid, "RS256", rsa_key(jwk)};
    else if (kty == "EC" && (alg.empty() || alg == "ES256")) k = Key{k.kid, "ES256", ec_key(jwk)};
    if (k.pkey) impl_->keys.push_back(std::move(k));
  }
  if (impl_->keys.empty()) throw std::invalid_argument("the JWKS holds no RS256 (RSA >= 2048 bits) or ES256 (P-256) key");
}

JwksVerifier::~JwksVerifier() = default;

std::unique_ptr<JwksVerifier> JwksVerifier::from_file(const std::string& path, std::string issuer, std::string audience) {
  std::ifstream in(path);
  if (!in) throw std::invalid_argument("cannot read the JWKS file " + path);
  std::stringstream text;
  text << in.rdbuf();
  return std::make_unique<JwksVerifier>(text.str(), std::move(issuer), std::move(audience));
}

std::size_t JwksVerifier::keys() const { return impl_->keys.size(); }

Result<Claims> JwksVerifier::verify(std::string_view token, std::int64_t now_s) const {
  if (token.empty() || token.size() > 8192) return fail(Errc::kUnauthorized, "malformed token");
  auto dot1 = token.find('.');
  auto dot2 = dot1 == std::string_view::npos ? dot1 : token.find('.', dot1 + 1);
  if (dot2 == std::string_view::npos || token.find('.', dot2 + 1) != std::string_view::npos)
    return fail(Errc::kUnauthorized, "malformed token");
  auto header_text = base64url_decode(token.substr(0, dot1));
  auto payload_text = base64url_decode(token.substr(dot1 + 1, dot2 - dot1 - 1));
  auto sig = base64url_decode(token.substr(dot2 + 1));
  if (!header_text || !payload_text || !sig || sig->empty()) return fail(Errc::kUnauthorized, "malformed token");
  boost::system::error_code ec;
  auto header = boost::json::parse(*header_text, ec);
  if (ec || !header.is_object()) return fail(Errc::kUnauthorized, "malformed token");
  std::string alg = member(header.as_object(), "alg"), kid = member(header.as_object(), "kid");
  const Key* key = nullptr;
  for (const auto& k : impl_->keys)
    if (k.alg == alg && (kid.empty() ? impl_->keys.size() == 1 : k.kid == kid)) key = &k;
  if (!key) return fail(Errc::kUnauthorized, "no key of the issuer for this token (alg " + alg + ")");
  std::string signature = *sig;
  if (alg == "ES256") {
    auto der = es256_to_der(*sig);
    if (!der) return fail(Errc::kUnauthorized, "invalid signature");
    signature = *der;
  }
  if (!verify_sha256(key->pkey.get(), token.substr(0, dot2), signature))
    return fail(Errc::kUnauthorized, "invalid signature");
  auto claims = boost::json::parse(*payload_text, ec);
  if (ec || !claims.is_object()) return fail(Errc::kUnauthorized, "invalid token");
  return check_claims(claims.as_object(), impl_->issuer, impl_->audience, now_s, kExpLeewaySeconds);
}

}  // namespace oms::auth
