// HS256 JWT: roundtrip, expiry, tampering, foreign keys, `alg: none`, issuer; login user ids.
#include <gtest/gtest.h>

#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "libs/auth/access.h"
#include "libs/auth/jwt.h"

namespace oms::auth {
namespace {

constexpr std::string_view kSecret = "0123456789abcdef0123456789abcdef";
constexpr std::int64_t kNow = 1'800'000'000;  // seconds

std::string b64url(std::string_view in) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  std::string out;
  std::size_t i = 0;
  while (i + 3 <= in.size()) {
    unsigned v = (static_cast<unsigned char>(in[i]) << 16) |
                 (static_cast<unsigned char>(in[i + 1]) << 8) | static_cast<unsigned char>(in[i + 2]);
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += kAlphabet[(v >> 6) & 63];
    out += kAlphabet[v & 63];
    i += 3;
  }
  std::size_t rest = in.size() - i;
  if (rest == 1) {
    unsigned v = static_cast<unsigned char>(in[i]) << 16;
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
  } else if (rest == 2) {
    unsigned v = (static_cast<unsigned char>(in[i]) << 16) | (static_cast<unsigned char>(in[i + 1]) << 8);
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += kAlphabet[(v >> 6) & 63];
  }
  return out;
}

std::vector<std::string> split_token(const std::string& t) {
  std::vector<std::string> parts;
  std::size_t start = 0;
  for (;;) {
    auto dot = t.find('.', start);
    parts.push_back(t.substr(start, dot - start));
    if (dot == std::string::npos) break;
    start = dot + 1;
  }
  return parts;
}

std::string payload_json(std::string_view sub, std::string_view iss, std::int64_t exp) {
  return R"({"sub":")" + std::string(sub) + R"(","iss":")" + std::string(iss) +
         R"(","iat":)" + std::to_string(kNow) + R"(,"exp":)" + std::to_string(exp) + "}";
}

class JwtTest : public ::testing::Test {
 protected:
  JwtCodec codec{std::string(kSecret), "oms", 3600};
};

TEST_F(JwtTest, RoundtripGivesSubject) {
  std::string token = codec.issue("alice", Role::kCustomer, kNow);
  EXPECT_EQ(split_token(token).size(), 3u);
  auto r = codec.verify(token, kNow);
  ASSERT_TRUE(r.has_value()) << r.error().detail;
  EXPECT_EQ(r->user, "alice");
  EXPECT_EQ(r->role, Role::kCustomer);
  EXPECT_EQ(codec.ttl_seconds(), 3600);
}

TEST_F(JwtTest, RoleTravelsAsAClaim) {
  for (Role role : {Role::kCustomer, Role::kStaff, Role::kAdmin}) {
    auto r = codec.verify(codec.issue("bob", role, kNow), kNow);
    ASSERT_TRUE(r.has_value()) << r.error().detail;
    EXPECT_EQ(r->role, role);
  }
  // A token from before roles existed is a customer's; a role we do not know is no token.
  auto old = codec.verify(codec.sign(R"({"sub":"bob","iss":"oms","exp":1900000000})"), kNow);
  ASSERT_TRUE(old.has_value());
  EXPECT_EQ(old->role, Role::kCustomer);
  EXPECT_FALSE(codec.verify(codec.sign(R"({"sub":"bob","iss":"oms","exp":1900000000,"role":"root"})"), kNow));
  EXPECT_FALSE(codec.verify(codec.sign(R"({"sub":"bob","iss":"oms","exp":1900000000,"role":3})"), kNow));
}

TEST(JwtTtl, PrivilegedTokensLiveAnHourAtMost) {
  JwtCodec long_lived{std::string(kSecret), "oms", 36000};
  EXPECT_EQ(long_lived.ttl_seconds(Role::kCustomer), 36000);
  EXPECT_EQ(long_lived.ttl_seconds(Role::kStaff), kPrivilegedTtlSeconds);
  EXPECT_EQ(long_lived.ttl_seconds(Role::kAdmin), kPrivilegedTtlSeconds);
  auto admin = long_lived.verify(long_lived.issue("root", Role::kAdmin, kNow), kNow + kPrivilegedTtlSeconds);
  EXPECT_FALSE(admin.has_value()) << "an admin token must expire after an hour";
  JwtCodec short_lived{std::string(kSecret), "oms", 600};
  EXPECT_EQ(short_lived.ttl_seconds(Role::kAdmin), 600);
}

TEST(Access, TheSmallerOfTokenAndListsCounts) {
  JwtCodec codec{std::string(kSecret), "oms", 3600};
  Access access(codec, "sam, ann", "ann,root");
  EXPECT_EQ(access.listed("sam"), Role::kStaff);
  EXPECT_EQ(access.listed("ann"), Role::kAdmin);
  EXPECT_EQ(access.listed("root"), Role::kAdmin);
  EXPECT_EQ(access.listed("alice"), Role::kCustomer);
  auto who = [&](const std::string& user, Role role) {
    std::string header = "Bearer " + codec.issue(user, role, kNow);
    auto r = access.authenticate(std::string_view(header), kNow);
    EXPECT_TRUE(r.has_value());
    return r ? r->role : Role::kNone;
  };
  EXPECT_EQ(who("root", Role::kAdmin), Role::kAdmin);
  EXPECT_EQ(who("root", Role::kCustomer), Role::kCustomer);  // the token never grows
  EXPECT_EQ(who("sam", Role::kAdmin), Role::kStaff);         // listed as staff only now
  EXPECT_EQ(who("alice", Role::kAdmin), Role::kCustomer);    // taken off the lists
  EXPECT_FALSE(access.authenticate(std::nullopt, kNow).has_value());
  EXPECT_FALSE(access.authenticate(std::string_view("Bearer nonsense"), kNow).has_value());
}

TEST_F(JwtTest, ValidUntilJustBeforeExpiry) {
  std::string token = codec.issue("bob", Role::kCustomer, kNow);
  EXPECT_TRUE(codec.verify(token, kNow + 3599).has_value());
}

TEST_F(JwtTest, ExpiredRejected) {
  std::string token = codec.issue("bob", Role::kCustomer, kNow);
  auto at_exp = codec.verify(token, kNow + 3600);
  ASSERT_FALSE(at_exp.has_value());
  EXPECT_EQ(at_exp.error().code, Errc::kUnauthorized);
  auto later = codec.verify(token, kNow + 100000);
  ASSERT_FALSE(later.has_value());
  EXPECT_EQ(later.error().code, Errc::kUnauthorized);
  EXPECT_NE(later.error().detail.find("expired"), std::string::npos) << later.error().detail;
}

TEST_F(JwtTest, TamperedPayloadRejected) {
  std::string token = codec.issue("alice", Role::kCustomer, kNow);
  auto parts = split_token(token);
  ASSERT_EQ(parts.size(), 3u);
  std::string forged = parts[0] + "." + b64url(payload_json("mallory", "oms", kNow + 3600)) + "." + parts[2];
  auto r = codec.verify(forged, kNow);
  ASSERT_FALSE(r.has_value()) << "forged token accepted for " << r->user;
  EXPECT_EQ(r.error().code, Errc::kUnauthorized);
}

TEST_F(JwtTest, TamperedSignatureRejected) {
  std::string token = codec.issue("alice", Role::kCustomer, kNow);
  char& last = token.back();
  last = last == 'A' ? 'B' : 'A';
  EXPECT_FALSE(codec.verify(token, kNow).has_value());
}

TEST_F(JwtTest, OtherSecretRejected) {
  JwtCodec other{"another-secret-of-32-bytes-length", "oms", 3600};
  std::string token = other.issue("alice", Role::kCustomer, kNow);
  auto r = codec.verify(token, kNow);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, Errc::kUnauthorized);
}

TEST_F(JwtTest, AlgNoneRejected) {
  std::string header = b64url(R"({"alg":"none","typ":"JWT"})");
  std::string payload = b64url(payload_json("alice", "oms", kNow + 3600));
  auto r = codec.verify(header + "." + payload + ".", kNow);
  ASSERT_FALSE(r.has_value()) << "unsigned token accepted for " << r->user;
  EXPECT_EQ(r.error().code, Errc::kUnauthorized);
  // Same with a signature part copied from a genuine token.
  auto genuine = split_token(codec.issue("alice", Role::kCustomer, kNow));
  EXPECT_FALSE(codec.verify(header + "." + payload + "." + genuine[2], kNow).has_value());
}

TEST_F(JwtTest, WrongIssuerRejected) {
  JwtCodec other_issuer{std::string(kSecret), "someone-else", 3600};
  std::string token = other_issuer.issue("alice", Role::kCustomer, kNow);
  auto r = codec.verify(token, kNow);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, Errc::kUnauthorized);
  EXPECT_NE(r.error().detail.find("issuer"), std::string::npos) << r.error().detail;
}

TEST_F(JwtTest, GarbageRejected) {
  for (const char* t : {"", "abc", "a.b.c", "....", "eyJhbGciOiJIUzI1NiJ9"}) {
    auto r = codec.verify(t, kNow);
    ASSERT_FALSE(r.has_value()) << t;
    EXPECT_EQ(r.error().code, Errc::kUnauthorized) << t;
  }
  EXPECT_FALSE(codec.verify(std::string(5000, 'a'), kNow).has_value());
}

TEST_F(JwtTest, InvalidSubjectRejected) {
  std::string blank = codec.issue("   ", Role::kCustomer, kNow);
  EXPECT_FALSE(codec.verify(blank, kNow).has_value());
}

TEST_F(JwtTest, DatesMayBeFractional) {
  auto r = codec.verify(codec.sign(R"({"sub":"alice","iss":"oms","iat":1800000000.25,"exp":1800003600.5})"), kNow);
  ASSERT_TRUE(r.has_value()) << r.error().detail;
  EXPECT_EQ(r->user, "alice");
  auto late = codec.verify(codec.sign(R"({"sub":"alice","iss":"oms","exp":1800000000.5})"), kNow + 1);
  ASSERT_FALSE(late.has_value());
  EXPECT_NE(late.error().detail.find("expired"), std::string::npos) << late.error().detail;
}

TEST_F(JwtTest, NotBeforeIsEnforcedWithClockSkew) {
  auto claims = [](std::int64_t nbf) {
    return R"({"sub":"alice","iss":"oms","exp":)" + std::to_string(kNow + 3600) + R"(,"nbf":)" + std::to_string(nbf) + "}";
  };
  EXPECT_TRUE(codec.verify(codec.sign(claims(kNow)), kNow).has_value());
  EXPECT_TRUE(codec.verify(codec.sign(claims(kNow + kClockSkewSeconds)), kNow).has_value());
  auto early = codec.verify(codec.sign(claims(kNow + kClockSkewSeconds + 1)), kNow);
  ASSERT_FALSE(early.has_value());
  EXPECT_NE(early.error().detail.find("not valid yet"), std::string::npos) << early.error().detail;
}

TEST_F(JwtTest, IssuedInTheFutureIsRefused) {
  auto claims = [](std::int64_t iat) {
    return R"({"sub":"alice","iss":"oms","exp":)" + std::to_string(kNow + 86400) + R"(,"iat":)" + std::to_string(iat) + "}";
  };
  EXPECT_TRUE(codec.verify(codec.sign(claims(kNow + 30)), kNow).has_value());
  auto future = codec.verify(codec.sign(claims(kNow + 3600)), kNow);
  ASSERT_FALSE(future.has_value());
  EXPECT_NE(future.error().detail.find("future"), std::string::npos) << future.error().detail;
  EXPECT_FALSE(codec.verify(codec.sign(R"({"sub":"alice","iss":"oms","exp":1900000000,"iat":"yesterday"})"), kNow));
  EXPECT_FALSE(codec.verify(codec.sign(R"({"sub":"alice","iss":"oms","exp":"1900000000"})"), kNow));
}

TEST(JwtCodecCtor, ShortSecretRefused) {
  EXPECT_THROW(JwtCodec("short", "oms", 60), std::invalid_argument);
}

TEST(ValidUserId, Rules) {
  EXPECT_TRUE(valid_user_id("alice"));
  EXPECT_TRUE(valid_user_id("alice smith"));
  EXPECT_TRUE(valid_user_id("j\xc3\xbcrgen"));
  EXPECT_TRUE(valid_user_id(std::string(128, 'u')));
  EXPECT_FALSE(valid_user_id(std::string(129, 'u')));
  EXPECT_FALSE(valid_user_id(""));
  EXPECT_FALSE(valid_user_id("   "));
  EXPECT_FALSE(valid_user_id("a\nb"));
  EXPECT_FALSE(valid_user_id("a\tb"));
  EXPECT_FALSE(valid_user_id(std::string("a\0b", 3)));
  EXPECT_FALSE(valid_user_id("a\x7f"));
}

}  // namespace
}  // namespace oms::auth
