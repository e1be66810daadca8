#pragma once
// Stock rules: all-or-nothing reservation of an order's lines, release, and commit on dispatch.
// Invariant: total = available + reserved, never negative. Pure C++: no I/O, no SQL, no JSON.
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "libs/core/error.h"

namespace oms::inventory::domain {

struct Product {
  std::string product_id, name;
  std::optional<std::int64_t> price_minor;  // none: no catalog price, any client price accepted
  std::int64_t total = 0, available = 0, reserved = 0, version = 0;
  std::int64_t created_ms = 0, updated_ms = 0;
};

struct Line {
  std::string product_id;
  std::int64_t quantity;
  std::int64_t price_minor;
};

// The currency of every catalog price. A line for a product with a catalog price must be in it:
// 50.00 EUR is not the price of a product that costs 50.00 USD (docs/DECISIONS.md "Currency").
inline constexpr std::string_view kCatalogCurrency = "USD";

// Checks every line against the products (found in `products` by id) and, when all pass, moves
// the quantities from available to reserved. On failure nothing changes and the reason is
// "PRODUCT_NOT_FOUND: id", "PRICE_MISMATCH: id" (another price, or another currency than the
// catalog's) or "INSUFFICIENT_STOCK: id". `currency` is the order's.
std::optional<std::string> reserve(std::map<std::string, Product>& products, const std::vector<Line>& lines,
                                   std::int64_t now, std::string_view currency = kCatalogCurrency);
void release(std::map<std::string, Product>& products, const std::vector<Line>& lines, std::int64_t now);
// Dispatch: the reserved units leave the warehouse.
void commit(std::map<std::string, Product>& products, const std::vector<Line>& lines, std::int64_t now);

Result<std::int64_t> validate_restock(std::int64_t quantity);
Result<Product> new_product(std::string product_id, std::optional<std::string> name,
                            std::optional<std::int64_t> price_minor, std::int64_t initial_stock,
                            std::int64_t now);

}  // namespace oms::inventory::domain
