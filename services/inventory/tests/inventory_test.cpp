// Stock rules: all-or-nothing reservation, reasons, release and commit keep
// total = available + reserved; new products and restock bounds.
#include <gtest/gtest.h>

#include <map>
#include <string>

#include "services/inventory/domain/inventory.h"

namespace oms::inventory::domain {
namespace {

using Catalog = std::map<std::string, Product>;

Product product(std::string id, std::optional<std::int64_t> price, std::int64_t stock) {
  auto p = new_product(id, std::nullopt, price, stock, 100);
  EXPECT_TRUE(p.has_value());
  return *p;
}

Catalog catalog() {
  Catalog c;
  c.emplace("A", product("A", 1000, 10));
  c.emplace("B", product("B", 250, 3));
  c.emplace("FREE", product("FREE", std::nullopt, 5));
  return c;
}

void expect_invariant(const Catalog& c) {
  for (const auto& [id, p] : c) {
    EXPECT_EQ(p.total, p.available + p.reserved) << id;
    EXPECT_GE(p.available, 0) << id;
    EXPECT_GE(p.reserved, 0) << id;
    EXPECT_GE(p.total, 0) << id;
  }
}

TEST(Reserve, AllLinesReserved) {
  Catalog c = catalog();
  auto r = reserve(c, {{"A", 4, 1000}, {"B", 3, 250}}, 200);
  EXPECT_EQ(r, std::nullopt);
  EXPECT_EQ(c["A"].available, 6);
  EXPECT_EQ(c["A"].reserved, 4);
  EXPECT_EQ(c["A"].total, 10);
  EXPECT_EQ(c["B"].available, 0);
  EXPECT_EQ(c["B"].reserved, 3);
  EXPECT_EQ(c["A"].updated_ms, 200);
  EXPECT_GT(c["A"].version, 0);
  EXPECT_EQ(c["FREE"].reserved, 0);
  expect_invariant(c);
}

TEST(Reserve, AllOrNothingWhenSecondLineShort) {
  Catalog c = catalog();
  const Catalog before = c;
  auto r = reserve(c, {{"A", 4, 1000}, {"B", 4, 250}}, 200);
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(*r, "INSUFFICIENT_STOCK: B");
  for (const auto& [id, p] : before) {
    EXPECT_EQ(c.at(id).available, p.available) << id;
    EXPECT_EQ(c.at(id).reserved, p.reserved) << id;
    EXPECT_EQ(c.at(id).total, p.total) << id;
    EXPECT_EQ(c.at(id).version, p.version) << id;
  }
  EXPECT_EQ(c.size(), before.size());
}

TEST(Reserve, ProductNotFoundNamesTheProductAndAddsNothing) {
  Catalog c = catalog();
  auto r = reserve(c, {{"A", 1, 1000}, {"NOPE", 1, 100}}, 200);
  EXPECT_EQ(r, std::optional<std::string>("PRODUCT_NOT_FOUND: NOPE"));
  EXPECT_EQ(c.count("NOPE"), 0u) << "a lookup must not create a product";
  EXPECT_EQ(c["A"].reserved, 0);
}

TEST(Reserve, PriceMismatchNamesTheProduct) {
  Catalog c = catalog();
  auto r = reserve(c, {{"A", 1, 1000}, {"B", 1, 249}}, 200);
  EXPECT_EQ(r, std::optional<std::string>("PRICE_MISMATCH: B"));
  EXPECT_EQ(c["A"].reserved, 0);
  EXPECT_EQ(c["B"].reserved, 0);
}

TEST(Reserve, ACatalogPriceIsInTheCatalogCurrency) {
  Catalog c = catalog();
  // A's catalog price is 10.00 USD: 10.00 EUR (or XXX) is another price.
  EXPECT_EQ(reserve(c, {{"A", 1, 1000}}, 200, "EUR"), std::optional<std::string>("PRICE_MISMATCH: A"));
  EXPECT_EQ(reserve(c, {{"A", 1, 1000}}, 200, "XXX"), std::optional<std::string>("PRICE_MISMATCH: A"));
  EXPECT_EQ(c["A"].reserved, 0);
  EXPECT_EQ(reserve(c, {{"A", 1, 1000}}, 200, "USD"), std::nullopt);
  // A product without a catalog price takes the client's price in any currency.
  EXPECT_EQ(reserve(c, {{"FREE", 1, 1000}}, 201, "EUR"), std::nullopt);
  expect_invariant(c);
}

TEST(Reserve, NullCatalogPriceAcceptsAnyPrice) {
  Catalog c = catalog();
  EXPECT_EQ(reserve(c, {{"FREE", 1, 1}}, 200), std::nullopt);
  EXPECT_EQ(reserve(c, {{"FREE", 1, 99999}}, 201), std::nullopt);
  EXPECT_EQ(c["FREE"].reserved, 2);
  expect_invariant(c);
}

TEST(Reserve, ExactlyAllAvailable) {
  Catalog c = catalog();
  EXPECT_EQ(reserve(c, {{"B", 3, 250}}, 200), std::nullopt);
  EXPECT_EQ(reserve(c, {{"B", 1, 250}}, 201), std::optional<std::string>("INSUFFICIENT_STOCK: B"));
  EXPECT_EQ(c["B"].available, 0);
}

TEST(Reserve, SameProductTwiceInOneRequestCannotOverReserve) {
  // Each line alone fits (3 available) but together they do not.
  Catalog c = catalog();
  auto r = reserve(c, {{"B", 2, 250}, {"B", 2, 250}}, 200);
  EXPECT_EQ(r, std::optional<std::string>("INSUFFICIENT_STOCK: B"));
  EXPECT_EQ(c["B"].available, 3);
  EXPECT_EQ(c["B"].reserved, 0);
  expect_invariant(c);
}

TEST(Release, ReturnsStockAndKeepsTotal) {
  Catalog c = catalog();
  ASSERT_EQ(reserve(c, {{"A", 4, 1000}, {"B", 2, 250}}, 200), std::nullopt);
  release(c, {{"A", 4, 1000}, {"B", 2, 250}}, 300);
  EXPECT_EQ(c["A"].available, 10);
  EXPECT_EQ(c["A"].reserved, 0);
  EXPECT_EQ(c["B"].available, 3);
  EXPECT_EQ(c["A"].updated_ms, 300);
  expect_invariant(c);
}

TEST(Release, NeverMoreThanReservedAndIgnoresUnknown) {
  Catalog c = catalog();
  ASSERT_EQ(reserve(c, {{"A", 2, 1000}}, 200), std::nullopt);
  release(c, {{"A", 5, 1000}, {"GHOST", 1, 1}}, 300);
  EXPECT_EQ(c["A"].available, 10);
  EXPECT_EQ(c["A"].reserved, 0);
  EXPECT_EQ(c["A"].total, 10);
  EXPECT_EQ(c.count("GHOST"), 0u);
  expect_invariant(c);
}

TEST(Commit, ReservedUnitsLeaveTheWarehouse) {
  Catalog c = catalog();
  ASSERT_EQ(reserve(c, {{"A", 4, 1000}}, 200), std::nullopt);
  commit(c, {{"A", 4, 1000}}, 300);
  EXPECT_EQ(c["A"].total, 6);
  EXPECT_EQ(c["A"].reserved, 0);
  EXPECT_EQ(c["A"].available, 6);
  expect_invariant(c);
  // A repeated commit cannot take more than is reserved.
  commit(c, {{"A", 4, 1000}}, 301);
  EXPECT_EQ(c["A"].total, 6);
  expect_invariant(c);
}

TEST(NewProduct, Valid) {
  auto p = new_product("SKU-1", std::string("Widget"), 1999, 50, 123);
  ASSERT_TRUE(p.has_value());
  EXPECT_EQ(p->name, "Widget");
  EXPECT_EQ(p->price_minor, std::optional<std::int64_t>(1999));
  EXPECT_EQ(p->total, 50);
  EXPECT_EQ(p->available, 50);
  EXPECT_EQ(p->reserved, 0);
  EXPECT_EQ(p->created_ms, 123);
  auto unnamed = new_product("SKU-2", std::nullopt, std::nullopt, 0, 1);
  ASSERT_TRUE(unnamed.has_value());
  EXPECT_EQ(unnamed->name, "SKU-2");
  EXPECT_EQ(unnamed->price_minor, std::nullopt);
}

TEST(NewProduct, Rejections) {
  auto bad = [](Result<Product> r, const std::string& field) {
    ASSERT_FALSE(r.has_value()) << field;
    EXPECT_EQ(r.error().code, Errc::kInvalid);
    EXPECT_NE(r.error().detail.find(field), std::string::npos) << r.error().detail;
  };
  bad(new_product("", std::nullopt, 100, 1, 0), "productId");
  bad(new_product("a b", std::nullopt, 100, 1, 0), "productId");
  bad(new_product(std::string(65, 'x'), std::nullopt, 100, 1, 0), "productId");
  bad(new_product("P", std::nullopt, 100, -1, 0), "initialStock");
  bad(new_product("P", std::nullopt, 100, 1'000'001, 0), "initialStock");
  bad(new_product("P", std::nullopt, 0, 1, 0), "price");
  bad(new_product("P", std::nullopt, -5, 1, 0), "price");
  bad(new_product("P", std::nullopt, 100'000'001, 1, 0), "price");
  bad(new_product("P", std::string(201, 'n'), 100, 1, 0), "name");
  bad(new_product("P", std::string("a\0b", 3), 100, 1, 0), "name");  // PostgreSQL rejects NUL
  bad(new_product("P", std::string("line\nbreak"), 100, 1, 0), "name");
  EXPECT_TRUE(new_product("P", std::string(200, 'n'), 100'000'000, 1'000'000, 0).has_value());
}

TEST(ValidateRestock, Bounds) {
  EXPECT_EQ(validate_restock(1).value_or(-1), 1);
  EXPECT_EQ(validate_restock(1'000'000).value_or(-1), 1'000'000);
  for (std::int64_t q : {0LL, -1LL, 1'000'001LL}) {
    auto r = validate_restock(q);
    ASSERT_FALSE(r.has_value()) << q;
    EXPECT_EQ(r.error().code, Errc::kInvalid);
    EXPECT_NE(r.error().detail.find("quantity"), std::string::npos);
  }
}

}  // namespace
}  // namespace oms::inventory::domain
