// Which saga states the customer hears about, and what the texts say.
#include <gtest/gtest.h>

#include <string>

#include "services/notification/domain/notification.h"

namespace oms::notification::domain {
namespace {

TEST(SagaOutcome, TypesPerTerminalState) {
  auto c = saga_outcome("o1", "COMPLETED", std::nullopt);
  ASSERT_TRUE(c.has_value());
  EXPECT_EQ(c->type, "ORDER_COMPLETED");
  auto f = saga_outcome("o1", "FAILED", std::string("INSUFFICIENT_STOCK: SKU-1"));
  ASSERT_TRUE(f.has_value());
  EXPECT_EQ(f->type, "ORDER_FAILED");
  EXPECT_NE(f->body.find("INSUFFICIENT_STOCK: SKU-1"), std::string::npos) << f->body;
  auto x = saga_outcome("o1", "CANCELLED", std::nullopt);
  ASSERT_TRUE(x.has_value());
  EXPECT_EQ(x->type, "ORDER_CANCELLED");
}

TEST(SagaOutcome, FailedWithoutReasonStillReadable) {
  auto f = saga_outcome("o1", "FAILED", std::nullopt);
  ASSERT_TRUE(f.has_value());
  EXPECT_NE(f->body.find("unknown reason"), std::string::npos);
}

TEST(SagaOutcome, NoneForIntermediateStates) {
  for (const char* s : {"STARTED", "INVENTORY_REQUESTED", "INVENTORY_RESERVED", "PAYMENT_REQUESTED",
                        "PAYMENT_COMPLETED", "FULFILLMENT_REQUESTED", "COMPENSATING", "PENDING", "",
                        "completed"}) {
    EXPECT_EQ(saga_outcome("o1", s, std::nullopt).has_value(), false) << s;
  }
}

TEST(Drafts, MentionTheOrder) {
  for (const auto& d : {order_created("o-42", "150.50"), *saga_outcome("o-42", "COMPLETED", std::nullopt),
                        *saga_outcome("o-42", "CANCELLED", std::nullopt), payment_refunded("o-42"),
                        order_dispatched("o-42", "TRK-9")}) {
    EXPECT_NE(d.subject.find("o-42"), std::string::npos) << d.type;
    EXPECT_NE(d.body.find("o-42"), std::string::npos) << d.type;
  }
}

TEST(Drafts, Types) {
  auto created = order_created("o1", "150.50");
  EXPECT_EQ(created.type, "ORDER_CREATED");
  EXPECT_NE(created.body.find("150.50"), std::string::npos);
  EXPECT_EQ(payment_refunded("o1").type, "PAYMENT_REFUNDED");
  auto shipped = order_dispatched("o1", "TRK-9");
  EXPECT_EQ(shipped.type, "ORDER_DISPATCHED");
  EXPECT_NE(shipped.body.find("TRK-9"), std::string::npos);
  auto alert = operator_alert("o1", "NEEDS_ATTENTION: refund failed 5 times");
  EXPECT_EQ(alert.type, "OPERATOR_ALERT");
  EXPECT_NE(alert.body.find("refund failed 5 times"), std::string::npos);
  EXPECT_NE(alert.body.find("/api/admin/saga/sagas/o1/retry"), std::string::npos) << "says what to do";
  EXPECT_FALSE(saga_outcome("o1", "NEEDS_ATTENTION", std::nullopt)) << "the customer is told nothing yet";
}

}  // namespace
}  // namespace oms::notification::domain
