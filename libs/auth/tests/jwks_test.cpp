// `--auth external`: tokens of an identity provider verified against its JWKS — RS256 and ES256,
// issuer and audience pinned, dates with leeway — and the attacks on such verifiers refused
// (alg none, HS256 keyed with the public key, a key of another issuer, a kid we do not have).
// The provider is played by OpenSSL keys made here.
#include <gtest/gtest.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ecdsa.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <boost/json.hpp>
#include <memory>
#include <string>
#include <vector>

#include "libs/auth/access.h"
#include "libs/auth/jwks.h"

namespace oms::auth {
namespace {

constexpr std::int64_t kNow = 1'800'000'000;

struct Provider {
  EVP_PKEY* key = nullptr;
  std::string alg, kid;
  ~Provider() { EVP_PKEY_free(key); }

  static std::unique_ptr<Provider> rsa(std::string kid, unsigned bits = 2048) {
    auto p = std::make_unique<Provider>();
    p->key = EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", static_cast<size_t>(bits));
    p->alg = "RS256";
    p->kid = std::move(kid);
    return p;
  }
  static std::unique_ptr<Provider> ec(std::string kid) {
    auto p = std::make_unique<Provider>();
    p->key = EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256");
    p->alg = "ES256";
    p->kid = std::move(kid);
    return p;
  }

  static std::string bn_bytes(EVP_PKEY* k, const char* name) {
    BIGNUM* bn = nullptr;
    EVP_PKEY_get_bn_param(k, name, &bn);
    std::string out(static_cast<std::size_t>(BN_num_bytes(bn)), '\0');
    BN_bn2bin(bn, reinterpret_cast<unsigned char*>(out.data()));
    BN_free(bn);
    return out;
  }

  boost::json::object jwk() const {
    boost::json::object j{{"kid", kid}, {"alg", alg}, {"use", "sig"}};
    if (alg == "RS256") {
      j["kty"] = "RSA";
      j["n"] = base64url_encode(bn_bytes(key, OSSL_PKEY_PARAM_RSA_N));
      j["e"] = base64url_encode(bn_bytes(key, OSSL_PKEY_PARAM_RSA_E));
    } else {
      unsigned char pub[65];
      size_t len = 0;
      EVP_PKEY_get_octet_string_param(key, OSSL_PKEY_PARAM_PUB_KEY, pub, sizeof pub, &len);
      j["kty"] = "EC";
      j["crv"] = "P-256";
      j["x"] = base64url_encode(std::string(reinterpret_cast<char*>(pub + 1), 32));
      j["y"] = base64url_encode(std::string(reinterpret_cast<char*>(pub + 33), 32));
    }
    return j;
  }

  std::string sign(const boost::json::object& claims, std::string header_alg = {}, bool with_kid = true) const {
    boost::json::object h{{"alg", header_alg.empty() ? alg : header_alg}, {"typ", "JWT"}};
    if (with_kid) h["kid"] = kid;
    std::string input = base64url_encode(boost::json::serialize(h)) + "." + base64url_encode(boost::json::serialize(claims));
    EVP_MD_CTX* md = EVP_MD_CTX_new();
    size_t len = 0;
    EVP_DigestSignInit(md, nullptr, EVP_sha256(), nullptr, key);
    EVP_DigestSign(md, nullptr, &len, reinterpret_cast<const unsigned char*>(input.data()), input.size());
    std::string sig(len, '\0');
    EVP_DigestSign(md, reinterpret_cast<unsigned char*>(sig.data()), &len,
                   reinterpret_cast<const unsigned char*>(input.data()), input.size());
    EVP_MD_CTX_free(md);
    sig.resize(len);
    if (alg == "ES256") {  // DER → r || s, as JWS wants it
      const auto* p = reinterpret_cast<const unsigned char*>(sig.data());
      ECDSA_SIG* s = d2i_ECDSA_SIG(nullptr, &p, static_cast<long>(sig.size()));
      std::string raw(64, '\0');
      BN_bn2binpad(ECDSA_SIG_get0_r(s), reinterpret_cast<unsigned char*>(raw.data()), 32);
      BN_bn2binpad(ECDSA_SIG_get0_s(s), reinterpret_cast<unsigned char*>(raw.data()) + 32, 32);
      ECDSA_SIG_free(s);
      sig = raw;
    }
    return input + "." + base64url_encode(sig);
  }
};

boost::json::object claims(std::string sub = "alice", std::string role = "") {
  boost::json::object c{{"sub", sub}, {"iss", "https://id.example"}, {"aud", "oms"}, {"iat", kNow}, {"exp", kNow + 600}};
  if (!role.empty()) c["role"] = role;
  return c;
}

std::string jwks(const std::vector<const Provider*>& ps) {
  boost::json::array keys;
  for (const auto* p : ps) keys.push_back(p->jwk());
  return boost::json::serialize(boost::json::object{{"keys", keys}});
}

class JwksTest : public ::testing::Test {
 protected:
  std::unique_ptr<Provider> rsa = Provider::rsa("r1"), ec = Provider::ec("e1");
  JwksVerifier verifier{jwks({rsa.get(), ec.get()}), "https://id.example", "oms"};
};

TEST_F(JwksTest, Rs256AndEs256AreVerified) {
  EXPECT_EQ(verifier.keys(), 2u);
  for (const Provider* p : {rsa.get(), ec.get()}) {
    auto r = verifier.verify(p->sign(claims("alice", "staff")), kNow);
    ASSERT_TRUE(r.has_value()) << p->alg << ": " << r.error().detail;
    EXPECT_EQ(r->user, "alice");
    EXPECT_EQ(r->role, Role::kStaff);
  }
  auto plain = verifier.verify(rsa->sign(claims("bob")), kNow);
  ASSERT_TRUE(plain.has_value());
  EXPECT_EQ(plain->role, Role::kCustomer);
}

TEST_F(JwksTest, IssuerAudienceAndDatesArePinned) {
  auto c = claims();
  c["iss"] = "https://evil.example";
  EXPECT_FALSE(verifier.verify(rsa->sign(c), kNow));
  c = claims();
  c["aud"] = "someone-else";
  EXPECT_FALSE(verifier.verify(rsa->sign(c), kNow));
  c["aud"] = boost::json::array{"other", "oms"};
  EXPECT_TRUE(verifier.verify(rsa->sign(c), kNow)) << "an audience array holding ours is fine";
  c = claims();
  c.erase("aud");
  EXPECT_FALSE(verifier.verify(rsa->sign(c), kNow));
  c = claims();
  EXPECT_TRUE(verifier.verify(rsa->sign(c), kNow + 600 + 30)) << "a small leeway past exp";
  EXPECT_FALSE(verifier.verify(rsa->sign(c), kNow + 600 + 61));
  c["nbf"] = kNow + 3600;
  EXPECT_FALSE(verifier.verify(rsa->sign(c), kNow));
  c = claims();
  c["role"] = "root";
  EXPECT_FALSE(verifier.verify(rsa->sign(c), kNow));
}

TEST_F(JwksTest, ForgeriesAreRefused) {
  std::string good = rsa->sign(claims());
  // the payload changed after signing
  auto dot1 = good.find('.'), dot2 = good.rfind('.');
  std::string forged = good.substr(0, dot1 + 1) + base64url_encode(boost::json::serialize(claims("mallory", "admin"))) +
                       good.substr(dot2);
  EXPECT_FALSE(verifier.verify(forged, kNow));
  // alg none, signature stripped
  std::string none = base64url_encode(R"({"alg":"none","kid":"r1"})") + "." +
                     base64url_encode(boost::json::serialize(claims("mallory", "admin"))) + ".";
  EXPECT_FALSE(verifier.verify(none, kNow));
  // HS256 keyed with the RSA public key's bytes (the classic confusion attack)
  std::string input = base64url_encode(R"({"alg":"HS256","kid":"r1"})") + "." +
                      base64url_encode(boost::json::serialize(claims("mallory", "admin")));
  std::string pub = boost::json::serialize(rsa->jwk());
  unsigned char mac[32];
  unsigned len = 0;
  HMAC(EVP_sha256(), pub.data(), static_cast<int>(pub.size()), reinterpret_cast<const unsigned char*>(input.data()),
       input.size(), mac, &len);
  EXPECT_FALSE(verifier.verify(input + "." + base64url_encode(std::string(reinterpret_cast<char*>(mac), len)), kNow));
  // an RSA token that claims ES256, a key the JWKS does not have, another provider's key
  EXPECT_FALSE(verifier.verify(rsa->sign(claims(), "ES256"), kNow));
  auto stranger = Provider::rsa("r1");
  EXPECT_FALSE(verifier.verify(stranger->sign(claims()), kNow)) << "same kid, other key";
  auto unknown = Provider::ec("e9");
  EXPECT_FALSE(verifier.verify(unknown->sign(claims()), kNow));
  // without kid, a JWKS of two keys does not guess
  EXPECT_FALSE(verifier.verify(rsa->sign(claims(), "", /*with_kid=*/false), kNow));
  JwksVerifier one{jwks({rsa.get()}), "https://id.example", "oms"};
  EXPECT_TRUE(one.verify(rsa->sign(claims(), "", /*with_kid=*/false), kNow));
  for (const char* junk : {"", "a.b", "a.b.c.d", "!!.??.##", "e30.e30.e30"}) EXPECT_FALSE(verifier.verify(junk, kNow)) << junk;
}

TEST_F(JwksTest, ExternalRolesAreTheIssuers) {
  // the lists do not cap an external token's role: the issuer owns the roles
  Access access(verifier, "", "", /*lists_bound_roles=*/false);
  std::string header = "Bearer " + ec->sign(claims("carol", "admin"));
  auto who = access.authenticate(std::string_view(header), kNow);
  ASSERT_TRUE(who.has_value()) << who.error().detail;
  EXPECT_EQ(who->role, Role::kAdmin);
}

TEST(JwksFile, UnusableKeySetsAreRefusedAtStart) {
  auto small = Provider::rsa("small", 1024);
  EXPECT_THROW(JwksVerifier(jwks({small.get()}), "https://id.example", "oms"), std::invalid_argument);
  EXPECT_THROW(JwksVerifier("{}", "https://id.example", "oms"), std::invalid_argument);
  EXPECT_THROW(JwksVerifier("not json", "https://id.example", "oms"), std::invalid_argument);
  auto ok = Provider::ec("e1");
  EXPECT_THROW(JwksVerifier(jwks({ok.get()}), "", "oms"), std::invalid_argument);
  EXPECT_THROW(JwksVerifier(jwks({ok.get()}), "https://id.example", ""), std::invalid_argument);
  EXPECT_THROW(JwksVerifier::from_file("/nonexistent/jwks.json", "i", "a"), std::invalid_argument);
}

TEST(Base64Url, RoundTripsAndRefusesWhatIsNot) {
  for (const std::string& s : std::vector<std::string>{"", "f", "fo", "foo", "foob", "fooba", "foobar", std::string("\0\xff\x10", 3)})
    EXPECT_EQ(base64url_decode(base64url_encode(s)), s);
  EXPECT_EQ(base64url_encode("\xfb\xff"), "-_8");
  EXPECT_FALSE(base64url_decode("ab=="));
  EXPECT_FALSE(base64url_decode("a+b/"));
  EXPECT_FALSE(base64url_decode("a"));
}

}  // namespace
}  // namespace oms::auth
