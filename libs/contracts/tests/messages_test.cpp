// Message compatibility: a field added as std::optional may be missing from an older producer's
// message, a newer producer's extra fields are ignored; any other missing field is an error.
#include <gtest/gtest.h>

#include <stdexcept>

#include "libs/contracts/messages.h"

namespace oms::contracts {
namespace {

TEST(Decode, AnOptionalFieldAnOlderProducerDidNotWriteIsEmpty) {
  // ReserveInventory as written before it carried the order's currency.
  auto m = decode<ReserveInventory>(R"({"orderId":"o-1","items":[{"productId":"p","quantity":2,"priceMinor":500}]})");
  EXPECT_EQ(m.orderId, "o-1");
  ASSERT_EQ(m.items.size(), 1u);
  EXPECT_EQ(m.items[0].quantity, 2);
  EXPECT_FALSE(m.currency.has_value());
}

TEST(Decode, RoundTripKeepsTheOptionalField) {
  ReserveInventory out{"o-2", {{"p", 1, 100}}, std::string("EUR")};
  auto in = decode<ReserveInventory>(encode(out));
  EXPECT_EQ(in.currency, std::optional<std::string>("EUR"));
}

TEST(Decode, FieldsOfANewerProducerAreIgnored) {
  // A later version adds fields, also inside the lines; this one reads what it knows.
  auto m = decode<ReserveInventory>(
      R"({"orderId":"o-3","items":[{"productId":"p","quantity":1,"priceMinor":100,"taxMinor":7}],)"
      R"("currency":"USD","channel":"web"})");
  EXPECT_EQ(m.orderId, "o-3");
  ASSERT_EQ(m.items.size(), 1u);
  EXPECT_EQ(m.items[0].priceMinor, 100);
  EXPECT_EQ(m.currency, std::optional<std::string>("USD"));
}

TEST(Decode, AMissingRequiredFieldIsStillAnError) {
  EXPECT_THROW(decode<ReserveInventory>(R"({"items":[]})"), std::exception);
}

}  // namespace
}  // namespace oms::contracts
