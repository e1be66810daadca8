#include "libs/core/money.h"

#include <cmath>
#include <limits>

namespace oms {

std::string format_money(Money m) {
  std::int64_t v = m.minor;
  bool neg = v < 0;
  // Work in unsigned to format INT64_MIN without overflow.
  std::uint64_t u = neg ? 0 - static_cast<std::uint64_t>(v) : static_cast<std::uint64_t>(v);
  std::string whole = std::to_string(u / 100);
  std::uint64_t cents = u % 100;
  std::string out = neg ? "-" : "";
  out += whole;
  out += '.';
  out += static_cast<char>('0' + cents / 10);
  out += static_cast<char>('0' + cents % 10);
  return out;
}

std::optional<Money> parse_money(std::string_view t) {
  // The digits' own bound (below) keeps the amount in range; this one only stops absurd input.
  // It must admit every amount format_money writes ("-92233720368547758.07" is 21 characters):
  // at 20, the 18 characters "-31999999999999999" parsed but its "…99.00" did not (fuzz/money).
  if (t.empty() || t.size() > 32) return std::nullopt;
  std::size_t i = 0;
  bool neg = false;
  if (t[0] == '-') {
    neg = true;
    ++i;
  }
  std::int64_t whole = 0;
  std::size_t digits = 0;
  for (; i < t.size() && t[i] != '.'; ++i, ++digits) {
    if (t[i] < '0' || t[i] > '9') return std::nullopt;
    if (whole > (std::numeric_limits<std::int64_t>::max() / 100 - 9) / 10) return std::nullopt;
    whole = whole * 10 + (t[i] - '0');
  }
  if (digits == 0) return std::nullopt;
  std::int64_t frac = 0;
  if (i < t.size()) {
    ++i;  // '.'
    std::size_t n = t.size() - i;
    if (n == 0 || n > 2) return std::nullopt;
    for (std::size_t k = 0; k < n; ++k) {
      char c = t[i + k];
      if (c < '0' || c > '9') return std::nullopt;
      frac = frac * 10 + (c - '0');
    }
    if (n == 1) frac *= 10;
  }
  std::int64_t minor = whole * 100 + frac;
  return Money{neg ? -minor : minor};
}

std::optional<Money> money_from_double(double value) {
  if (!std::isfinite(value) || std::fabs(value) >= 1e13) return std::nullopt;
  double scaled = value * 100.0;
  double rounded = std::nearbyint(scaled);
  if (std::fabs(scaled - rounded) > 1e-6) return std::nullopt;
  return Money{static_cast<std::int64_t>(rounded)};
}

std::optional<Money> multiply(Money a, std::int64_t q) {
  std::int64_t r;
  if (__builtin_mul_overflow(a.minor, q, &r)) return std::nullopt;
  return Money{r};
}

std::optional<Money> add(Money a, Money b) {
  std::int64_t r;
  if (__builtin_add_overflow(a.minor, b.minor, &r)) return std::nullopt;
  return Money{r};
}

}  // namespace oms
