#include <chrono>
#include <thread>
// Money formatting, exact parsing and overflow checks; UUID and token id rules.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <unordered_set>

#include "libs/core/ids.h"
#include "libs/core/money.h"

namespace oms {
namespace {

constexpr std::int64_t kMax = std::numeric_limits<std::int64_t>::max();
constexpr std::int64_t kMin = std::numeric_limits<std::int64_t>::min();

// ---- format_money ----

TEST(FormatMoney, AlwaysTwoDecimals) {
  EXPECT_EQ(format_money(Money{0}), "0.00");
  EXPECT_EQ(format_money(Money{5}), "0.05");
  EXPECT_EQ(format_money(Money{50}), "0.50");
  EXPECT_EQ(format_money(Money{100}), "1.00");
  EXPECT_EQ(format_money(Money{15050}), "150.50");
  EXPECT_EQ(format_money(Money{99999999}), "999999.99");
}

TEST(FormatMoney, Negatives) {
  EXPECT_EQ(format_money(Money{-5}), "-0.05");
  EXPECT_EQ(format_money(Money{-15050}), "-150.50");
  EXPECT_EQ(format_money(Money{-100}), "-1.00");
}

TEST(FormatMoney, ExtremesDoNotOverflow) {
  EXPECT_EQ(format_money(Money{kMax}), "92233720368547758.07");
  EXPECT_EQ(format_money(Money{kMin}), "-92233720368547758.08");
}

// ---- parse_money ----

TEST(ParseMoney, ExactValues) {
  EXPECT_EQ(parse_money("50"), Money{5000});
  EXPECT_EQ(parse_money("50.5"), Money{5050});
  EXPECT_EQ(parse_money("50.00"), Money{5000});
  EXPECT_EQ(parse_money("0.01"), Money{1});
  EXPECT_EQ(parse_money("150.50"), Money{15050});
  EXPECT_EQ(parse_money("-1.25"), Money{-125});
  EXPECT_EQ(parse_money("0"), Money{0});
}

TEST(ParseMoney, RoundTripsWithFormat) {
  for (std::int64_t v : {0LL, 1LL, 9LL, 10LL, 99LL, 100LL, 12345LL, -7LL, -12345LL, 99999999LL}) {
    auto parsed = parse_money(format_money(Money{v}));
    ASSERT_TRUE(parsed.has_value()) << v;
    EXPECT_EQ(parsed->minor, v);
  }
}

TEST(ParseMoney, WhatItAcceptsFormatsToWhatItAccepts) {  // found by fuzz/money
  auto m = parse_money("-31999999999999999");
  ASSERT_TRUE(m.has_value());
  EXPECT_EQ(format_money(*m), "-31999999999999999.00");
  EXPECT_EQ(parse_money(format_money(*m)), m);
  for (std::int64_t v : {9223372036854774999LL, -9223372036854774999LL})  // the largest it accepts
    EXPECT_EQ(parse_money(format_money(Money{v})), Money{v}) << v;
  EXPECT_EQ(parse_money("92233720368547758070"), std::nullopt);  // out of range
}

TEST(ParseMoney, RejectsThreeDecimals) {
  EXPECT_EQ(parse_money("1.001"), std::nullopt);
  EXPECT_EQ(parse_money("50.000"), std::nullopt);
}

TEST(ParseMoney, RejectsJunk) {
  EXPECT_EQ(parse_money("abc"), std::nullopt);
  EXPECT_EQ(parse_money("1a"), std::nullopt);
  EXPECT_EQ(parse_money("1.a"), std::nullopt);
  EXPECT_EQ(parse_money("1."), std::nullopt);
  EXPECT_EQ(parse_money(".5"), std::nullopt);
  EXPECT_EQ(parse_money("-"), std::nullopt);
  EXPECT_EQ(parse_money("+1"), std::nullopt);
  EXPECT_EQ(parse_money(" 1"), std::nullopt);
  EXPECT_EQ(parse_money("1 "), std::nullopt);
  EXPECT_EQ(parse_money("1e3"), std::nullopt);
  EXPECT_EQ(parse_money("1,00"), std::nullopt);
  EXPECT_EQ(parse_money("1.2.3"), std::nullopt);
}

TEST(ParseMoney, RejectsEmpty) { EXPECT_EQ(parse_money(""), std::nullopt); }

TEST(ParseMoney, RejectsValuesThatWouldOverflow) {
  EXPECT_EQ(parse_money("99999999999999999999"), std::nullopt);
  EXPECT_EQ(parse_money("92233720368547758.08"), std::nullopt);
}

// ---- money_from_double ----

TEST(MoneyFromDouble, ExactForTwoDecimals) {
  EXPECT_EQ(money_from_double(50.0), Money{5000});
  EXPECT_EQ(money_from_double(100.5), Money{10050});
  EXPECT_EQ(money_from_double(0.01), Money{1});
  EXPECT_EQ(money_from_double(999999.99), Money{99999999});
  EXPECT_EQ(money_from_double(0.1 + 0.2), Money{30});  // 0.30000000000000004
  EXPECT_EQ(money_from_double(19.99), Money{1999});
  EXPECT_EQ(money_from_double(-2.5), Money{-250});
  EXPECT_EQ(money_from_double(0.0), Money{0});
}

TEST(MoneyFromDouble, RejectsThirdDecimal) {
  EXPECT_EQ(money_from_double(50.001), std::nullopt);
  EXPECT_EQ(money_from_double(0.005), std::nullopt);
  EXPECT_EQ(money_from_double(1.999), std::nullopt);
}

TEST(MoneyFromDouble, RejectsNonFinite) {
  EXPECT_EQ(money_from_double(std::nan("")), std::nullopt);
  EXPECT_EQ(money_from_double(std::numeric_limits<double>::infinity()), std::nullopt);
  EXPECT_EQ(money_from_double(-std::numeric_limits<double>::infinity()), std::nullopt);
}

TEST(MoneyFromDouble, RejectsHugeValues) {
  EXPECT_EQ(money_from_double(1e13), std::nullopt);
  EXPECT_EQ(money_from_double(1e300), std::nullopt);
}

// ---- multiply / add ----

TEST(MoneyArithmetic, MultiplyExact) {
  EXPECT_EQ(multiply(Money{1999}, 3), Money{5997});
  EXPECT_EQ(multiply(Money{-5}, 4), Money{-20});
  EXPECT_EQ(multiply(Money{kMax}, 1), Money{kMax});
}

TEST(MoneyArithmetic, MultiplyDetectsOverflow) {
  EXPECT_EQ(multiply(Money{kMax}, 2), std::nullopt);
  EXPECT_EQ(multiply(Money{kMax / 2 + 1}, 2), std::nullopt);
  EXPECT_EQ(multiply(Money{kMin}, -1), std::nullopt);
  EXPECT_EQ(multiply(Money{4'000'000'000'000'000'000LL}, 3), std::nullopt);
}

TEST(MoneyArithmetic, AddExact) {
  EXPECT_EQ(add(Money{150}, Money{250}), Money{400});
  EXPECT_EQ(add(Money{kMax - 1}, Money{1}), Money{kMax});
}

TEST(MoneyArithmetic, AddDetectsOverflow) {
  EXPECT_EQ(add(Money{kMax}, Money{1}), std::nullopt);
  EXPECT_EQ(add(Money{kMin}, Money{-1}), std::nullopt);
}

// ---- ids ----

bool is_lower_hex(char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); }

TEST(NewUuid, FormatIsV4LowerCaseHyphenated) {
  for (int i = 0; i < 1000; ++i) {
    std::string u = new_uuid();
    ASSERT_EQ(u.size(), 36u) << u;
    for (std::size_t k = 0; k < u.size(); ++k) {
      if (k == 8 || k == 13 || k == 18 || k == 23) {
        ASSERT_EQ(u[k], '-') << u;
      } else {
        ASSERT_TRUE(is_lower_hex(u[k])) << u << " at " << k;
      }
    }
    ASSERT_EQ(u[14], '7') << "version nibble (time-ordered UUIDv7): " << u;
    ASSERT_TRUE(u[19] == '8' || u[19] == '9' || u[19] == 'a' || u[19] == 'b') << "variant: " << u;
    ASSERT_TRUE(is_uuid(u)) << u;
  }
}

TEST(NewUuid, LaterIdsSortAfterEarlierOnes) {
  // The 48-bit millisecond prefix orders ids by creation time (B-tree locality).
  std::string a = new_uuid();
  std::this_thread::sleep_for(std::chrono::milliseconds(3));
  std::string b = new_uuid();
  EXPECT_LT(a.substr(0, 13), b.substr(0, 13)) << a << " vs " << b;
}

TEST(NewUuid, UniqueOverTenThousand) {
  std::unordered_set<std::string> seen;
  for (int i = 0; i < 10000; ++i) seen.insert(new_uuid());
  EXPECT_EQ(seen.size(), 10000u);
}

TEST(IsUuid, AcceptsWellFormed) {
  EXPECT_TRUE(is_uuid("123e4567-e89b-42d3-a456-426614174000"));
  EXPECT_TRUE(is_uuid("123E4567-E89B-42D3-A456-426614174000"));
}

TEST(IsUuid, RejectsMalformed) {
  EXPECT_FALSE(is_uuid(""));
  EXPECT_FALSE(is_uuid("123e4567-e89b-42d3-a456-42661417400"));     // 35 chars
  EXPECT_FALSE(is_uuid("123e4567-e89b-42d3-a456-4266141740000"));   // 37 chars
  EXPECT_FALSE(is_uuid("123e4567e89b-42d3-a456-4266141740000"));    // hyphen missing
  EXPECT_FALSE(is_uuid("123e4567-e89b-42d3-a456-42661417400g"));    // non-hex
  EXPECT_FALSE(is_uuid("123e4567-e89b-42d3-a456_426614174000"));    // wrong separator
  EXPECT_FALSE(is_uuid("123e4567-e89b-42d3-a4566-42661417400"));    // hyphen misplaced
}

TEST(IsTokenId, AcceptsAllowedCharacters) {
  EXPECT_TRUE(is_token_id("a", 64));
  EXPECT_TRUE(is_token_id("SKU-001_x.y", 64));
  EXPECT_TRUE(is_token_id(std::string(64, 'a'), 64));
}

TEST(IsTokenId, RejectsBadCharactersAndLengths) {
  EXPECT_FALSE(is_token_id("", 64));
  EXPECT_FALSE(is_token_id(std::string(65, 'a'), 64));
  EXPECT_FALSE(is_token_id("a b", 64));
  EXPECT_FALSE(is_token_id("a/b", 64));
  EXPECT_FALSE(is_token_id("a\nb", 64));
  EXPECT_FALSE(is_token_id("caf\xc3\xa9", 64));
  EXPECT_FALSE(is_token_id("a%20", 64));
}

TEST(RandomHex, UpperCaseOfRequestedLength) {
  std::string h = random_hex(8);
  ASSERT_EQ(h.size(), 16u);
  for (char c : h) EXPECT_TRUE((c >= '0' && c <= '9') || (c >= 'A' && c <= 'F')) << h;
}

}  // namespace
}  // namespace oms
