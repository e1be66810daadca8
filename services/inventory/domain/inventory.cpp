#include "services/inventory/domain/inventory.h"

#include <algorithm>

#include "libs/core/ids.h"

namespace oms::inventory::domain {

std::optional<std::string> reserve(std::map<std::string, Product>& products, const std::vector<Line>& lines,
                                   std::int64_t now, std::string_view currency) {
  for (const auto& l : lines) {
    auto it = products.find(l.product_id);
    if (it == products.end()) return "PRODUCT_NOT_FOUND: " + l.product_id;
    if (it->second.price_minor && (*it->second.price_minor != l.price_minor || currency != kCatalogCurrency))
      return "PRICE_MISMATCH: " + l.product_id;
  }
  // Lines of one product count together (the order service refuses duplicates, but the rule
  // must not depend on it).
  std::map<std::string, std::int64_t> wanted;
  for (const auto& l : lines) wanted[l.product_id] += l.quantity;
  for (const auto& l : lines)
    if (products[l.product_id].available < wanted[l.product_id]) return "INSUFFICIENT_STOCK: " + l.product_id;
  for (const auto& l : lines) {
    auto& p = products[l.product_id];
    p.available -= l.quantity;
    p.reserved += l.quantity;
    ++p.version;
    p.updated_ms = now;
  }
  return std::nullopt;
}

void release(std::map<std::string, Product>& products, const std::vector<Line>& lines, std::int64_t now) {
  for (const auto& l : lines) {
    auto it = products.find(l.product_id);
    if (it == products.end()) continue;
    auto& p = it->second;
    std::int64_t q = std::min(l.quantity, p.reserved);
    p.reserved -= q;
    p.available += q;
    ++p.version;
    p.updated_ms = now;
  }
}

void commit(std::map<std::string, Product>& products, const std::vector<Line>& lines, std::int64_t now) {
  for (const auto& l : lines) {
    auto it = products.find(l.product_id);
    if (it == products.end()) continue;
    auto& p = it->second;
    std::int64_t q = std::min(l.quantity, p.reserved);
    p.reserved -= q;
    p.total -= q;
    ++p.version;
    p.updated_ms = now;
  }
}

Result<std::int64_t> validate_restock(std::int64_t q) {
  if (q < 1 || q > 1'000'000) return fail(Errc::kInvalid, "quantity must be an integer from 1 to 1000000");
  return q;
}

Result<Product> new_product(std::string product_id, std::optional<std::string> name,
                            std::optional<std::int64_t> price_minor, std::int64_t initial_stock,
                            std::int64_t now) {
  if (!is_token_id(product_id, 64))
    return fail(Errc::kInvalid, "productId must be 1-64 characters of [A-Za-z0-9._-]");
  if (initial_stock < 0 || initial_stock > 1'000'000)
    return fail(Errc::kInvalid, "initialStock must be an integer from 0 to 1000000");
  if (price_minor && (*price_minor <= 0 || *price_minor > 100'000'000))
    return fail(Errc::kInvalid, "price must be > 0 and <= 1000000");
  if (name && name->size() > 200) return fail(Errc::kInvalid, "name must be at most 200 characters");
  if (name && std::any_of(name->begin(), name->end(), [](char c) { return static_cast<unsigned char>(c) < 0x20; }))
    return fail(Errc::kInvalid, "name must not contain control characters");
  Product p;
  p.product_id = product_id;
  p.name = name.value_or(product_id);
  p.price_minor = price_minor;
  p.total = p.available = initial_stock;
  p.created_ms = p.updated_ms = now;
  return p;
}

}  // namespace oms::inventory::domain
