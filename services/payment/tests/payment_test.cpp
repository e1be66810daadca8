// The payment simulator's decision and the refund rules.
#include <gtest/gtest.h>

#include <string>

#include "services/payment/domain/payment.h"

namespace oms::payment::domain {
namespace {

constexpr Money kLimit{100'000};  // 1000.00

TEST(Charge, AtLimitCaptured) {
  Payment p = charge("p1", "o1", kLimit, "USD", kLimit, "TX1", 10);
  EXPECT_EQ(p.status, "COMPLETED");
  EXPECT_EQ(p.transaction_id, std::optional<std::string>("TX1"));
  EXPECT_EQ(p.failure_reason, std::nullopt);
  EXPECT_EQ(p.amount, kLimit);
  EXPECT_EQ(p.currency, "USD");
  EXPECT_EQ(p.order_id, "o1");
  EXPECT_EQ(p.created_ms, 10);
}

TEST(Charge, BelowLimitCaptured) {
  EXPECT_EQ(charge("p1", "o1", Money{1}, "USD", kLimit, "TX", 10).status, "COMPLETED");
}

TEST(Charge, AboveLimitDeclined) {
  Payment p = charge("p1", "o1", Money{kLimit.minor + 1}, "USD", kLimit, "TX1", 10);
  EXPECT_EQ(p.status, "FAILED");
  EXPECT_EQ(p.transaction_id, std::nullopt);
  ASSERT_TRUE(p.failure_reason.has_value());
  EXPECT_EQ(p.failure_reason->rfind("PAYMENT_DECLINED", 0), 0u) << *p.failure_reason;
  EXPECT_NE(p.failure_reason->find("1000.01"), std::string::npos) << *p.failure_reason;
  EXPECT_NE(p.failure_reason->find("1000.00"), std::string::npos) << *p.failure_reason;
}

TEST(Voided, FailedWithReason) {
  Payment p = voided("p1", "o1", 5);
  EXPECT_EQ(p.status, "FAILED");
  ASSERT_TRUE(p.failure_reason.has_value());
  EXPECT_EQ(p.failure_reason->rfind("VOIDED", 0), 0u);
  EXPECT_EQ(compensate(p, 6), RefundOutcome::kNothingCaptured);
  EXPECT_EQ(p.status, "FAILED");
}

TEST(Compensate, RefundsCapturedOnce) {
  Payment p = charge("p1", "o1", Money{500}, "USD", kLimit, "TX1", 10);
  EXPECT_EQ(compensate(p, 20), RefundOutcome::kRefunded);
  EXPECT_EQ(p.status, "REFUNDED");
  EXPECT_EQ(p.updated_ms, 20);
  EXPECT_EQ(compensate(p, 30), RefundOutcome::kAlreadyRefunded);
  EXPECT_EQ(p.status, "REFUNDED");
  EXPECT_EQ(p.updated_ms, 20);
}

TEST(Compensate, NothingCapturedForDeclined) {
  Payment p = charge("p1", "o1", Money{kLimit.minor * 2}, "USD", kLimit, "TX1", 10);
  EXPECT_EQ(compensate(p, 20), RefundOutcome::kNothingCaptured);
  EXPECT_EQ(p.status, "FAILED");
}

TEST(ManualRefund, CompletedIsRefunded) {
  Payment p = charge("p1", "o1", Money{500}, "USD", kLimit, "TX1", 10);
  auto r = manual_refund(p, 20);
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(*r, RefundOutcome::kRefunded);
  EXPECT_EQ(p.status, "REFUNDED");
}

TEST(ManualRefund, IdempotentWhenRefunded) {
  Payment p = charge("p1", "o1", Money{500}, "USD", kLimit, "TX1", 10);
  ASSERT_TRUE(manual_refund(p, 20).has_value());
  auto again = manual_refund(p, 30);
  ASSERT_TRUE(again.has_value());
  EXPECT_EQ(*again, RefundOutcome::kAlreadyRefunded);
  EXPECT_EQ(p.status, "REFUNDED");
  EXPECT_EQ(p.updated_ms, 20);
}

TEST(ManualRefund, ConflictWhenFailed) {
  Payment p = charge("p1", "o1", Money{kLimit.minor + 1}, "USD", kLimit, "TX1", 10);
  auto r = manual_refund(p, 20);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, Errc::kConflict);
  EXPECT_NE(r.error().detail.find("FAILED"), std::string::npos) << r.error().detail;
  EXPECT_EQ(p.status, "FAILED");
}

TEST(ManualRefund, ConflictWhenPending) {
  Payment p;
  p.order_id = "o1";
  auto r = manual_refund(p, 20);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, Errc::kConflict);
}

}  // namespace
}  // namespace oms::payment::domain
