#pragma once
// Money is an integer count of minor units (cents); it is never computed in floating point.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace oms {

struct Money {
  std::int64_t minor = 0;
  friend bool operator==(Money, Money) = default;
  friend auto operator<=>(Money, Money) = default;
};

// "150.50" from 15050. Always two decimals, a leading '-' for negatives.
std::string format_money(Money m);

// Exact parse of a decimal string with at most two decimals ("50", "50.5", "50.00").
std::optional<Money> parse_money(std::string_view text);

// A JSON number arrives from Boost.JSON as int64 or as a correctly rounded IEEE double.
// Every value of at most 15 significant digits round-trips, so a price of at most 2 decimals
// below 10^13 converts exactly; anything with a third decimal is rejected (nullopt).
std::optional<Money> money_from_double(double value);

// a * q with overflow detection.
std::optional<Money> multiply(Money a, std::int64_t q);
std::optional<Money> add(Money a, Money b);

}  // namespace oms
