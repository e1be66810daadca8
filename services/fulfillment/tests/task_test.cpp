// The fulfillment task's lifecycle and the cancel-versus-dispatch decision.
#include <gtest/gtest.h>

#include "services/fulfillment/domain/task.h"

namespace oms::fulfillment::domain {
namespace {

Task new_task() {
  Task t;
  t.id = "t1";
  t.order_id = "o1";
  t.created_ms = t.updated_ms = 10;
  return t;
}

TEST(Task, Lifecycle) {
  Task t = new_task();
  EXPECT_EQ(t.status, "INITIATED");
  ASSERT_TRUE(dispatch(t, "TRK-1", 20).has_value());
  EXPECT_EQ(t.status, "DISPATCHED");
  EXPECT_EQ(t.tracking_number, std::optional<std::string>("TRK-1"));
  EXPECT_EQ(t.updated_ms, 20);
  ASSERT_TRUE(deliver(t, 30).has_value());
  EXPECT_EQ(t.status, "DELIVERED");
  EXPECT_EQ(t.updated_ms, 30);
}

TEST(Task, DeliverBeforeDispatchIsConflict) {
  Task t = new_task();
  auto r = deliver(t, 20);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, Errc::kConflict);
  EXPECT_EQ(t.status, "INITIATED");
  EXPECT_EQ(t.updated_ms, 10);
}

TEST(Task, DispatchTwiceIsConflict) {
  Task t = new_task();
  ASSERT_TRUE(dispatch(t, "TRK-1", 20).has_value());
  auto r = dispatch(t, "TRK-2", 30);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, Errc::kConflict);
  EXPECT_EQ(t.tracking_number, std::optional<std::string>("TRK-1"));
}

TEST(Task, DeliverTwiceIsConflict) {
  Task t = new_task();
  ASSERT_TRUE(dispatch(t, "TRK-1", 20).has_value());
  ASSERT_TRUE(deliver(t, 30).has_value());
  auto r = deliver(t, 40);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, Errc::kConflict);
}

TEST(Task, CancelledCannotBeDispatchedOrDelivered) {
  Task t = new_task();
  EXPECT_EQ(cancel(t, 20), CancelOutcome::kCancelled);
  EXPECT_EQ(t.status, "CANCELLED");
  EXPECT_EQ(t.updated_ms, 20);
  auto d = dispatch(t, "TRK-1", 30);
  ASSERT_FALSE(d.has_value());
  EXPECT_EQ(d.error().code, Errc::kConflict);
  EXPECT_FALSE(deliver(t, 30).has_value());
  EXPECT_EQ(t.status, "CANCELLED");
  EXPECT_EQ(t.tracking_number, std::nullopt);
}

TEST(Task, CancelIsIdempotent) {
  Task t = new_task();
  EXPECT_EQ(cancel(t, 20), CancelOutcome::kCancelled);
  EXPECT_EQ(cancel(t, 30), CancelOutcome::kCancelled);
  EXPECT_EQ(t.status, "CANCELLED");
  EXPECT_EQ(t.updated_ms, 20);
}

TEST(Task, CancelAfterDispatchIsAlreadyShipped) {
  Task t = new_task();
  ASSERT_TRUE(dispatch(t, "TRK-1", 20).has_value());
  EXPECT_EQ(cancel(t, 30), CancelOutcome::kAlreadyShipped);
  EXPECT_EQ(t.status, "DISPATCHED");
  ASSERT_TRUE(deliver(t, 40).has_value());
  EXPECT_EQ(cancel(t, 50), CancelOutcome::kAlreadyShipped);
  EXPECT_EQ(t.status, "DELIVERED");
}

TEST(StatusFilter, KnownValuesOnly) {
  for (const char* s : {"ALL", "INITIATED", "DISPATCHED", "DELIVERED", "CANCELLED"})
    EXPECT_TRUE(valid_status_filter(s)) << s;
  for (const char* s : {"", "all", "SHIPPED", "INITIATED "}) EXPECT_FALSE(valid_status_filter(s)) << s;
}

}  // namespace
}  // namespace oms::fulfillment::domain
