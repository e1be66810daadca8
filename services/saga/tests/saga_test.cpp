// The order saga state machine: forward path, failures, cancel at every stage, timeouts,
// duplicates and late replies.
#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "services/saga/domain/saga.h"

namespace oms::saga::domain {
namespace {

constexpr std::int64_t kT0 = 1'000'000;
constexpr std::int64_t kStep = 30'000;

using Cmds = std::vector<Command>;
using States = std::vector<State>;

// Drives one saga and keeps everything it produced, as the adapter would persist it.
class SagaTest : public ::testing::Test {
 protected:
  void SetUp() override {
    Effects fx;
    saga = Saga::start("order-1", "a@b.co", 5000, "USD", {{"SKU-1", 2, 2500}}, kT0, kStep, fx);
    record(fx);
    start_fx = fx;
  }

  // Applies one input's effects to the running history; checks the version rule on the way.
  Effects record(Effects fx) {
    if (fx.changed) {
      EXPECT_GT(saga.version, last_version) << "version must grow on every change";
    } else {
      EXPECT_EQ(saga.version, last_version) << "version must not change when nothing changed";
      EXPECT_TRUE(fx.commands.empty());
      EXPECT_TRUE(fx.history.empty());
    }
    last_version = saga.version;
    for (auto& h : fx.history) history.push_back(h);
    for (auto c : fx.commands) commands.push_back(c);
    return fx;
  }

  static States states_of(const std::vector<HistoryEntry>& h) {
    States s;
    for (auto& e : h) s.push_back(e.state);
    return s;
  }
  States all_states() const { return states_of(history); }
  bool saw(State s) const {
    for (auto& e : history)
      if (e.state == s) return true;
    return false;
  }

  // Forward helpers.
  void reserve(std::int64_t t = kT0 + 1) { record(saga.on_inventory_reserved(t)); }
  // A declined payment whose release the warehouse never answers: ticks at every deadline
  // until the saga stops waiting.
  void release_never_answered() {
    reserve();
    record(saga.on_payment_failed("PAYMENT_DECLINED", kT0 + 2));
    for (int i = 0; i < 20 && saga.deadline_ms != 0; ++i) saga.on_tick(saga.deadline_ms);
    ASSERT_EQ(saga.state, State::kNeedsAttention);
  }
  void pay(std::int64_t t = kT0 + 2) { record(saga.on_payment_completed(t)); }
  void fulfil(std::int64_t t = kT0 + 3) { record(saga.on_fulfillment_created(t)); }
  void complete() {
    reserve();
    pay();
    fulfil();
    ASSERT_EQ(saga.state, State::kCompleted);
  }

  Saga saga;
  Effects start_fx;
  std::vector<HistoryEntry> history;
  Cmds commands;
  std::int64_t last_version = 0;
};

// ---- forward path ----

TEST_F(SagaTest, StartRecordsStartedAndAsksInventory) {
  EXPECT_EQ(states_of(start_fx.history), (States{State::kStarted, State::kInventoryRequested}));
  EXPECT_EQ(start_fx.commands, (Cmds{Command::kReserve}));
  EXPECT_TRUE(start_fx.changed);
  EXPECT_EQ(saga.awaiting, Awaiting::kInventory);
  EXPECT_EQ(saga.deadline_ms, kT0 + kStep);
  EXPECT_EQ(saga.order_status(), "PENDING");
  EXPECT_GT(saga.version, 0);
  EXPECT_EQ(saga.created_ms, kT0);
}

TEST_F(SagaTest, HappyPath) {
  auto r = record(saga.on_inventory_reserved(kT0 + 1));
  EXPECT_EQ(states_of(r.history), (States{State::kInventoryReserved, State::kPaymentRequested}));
  EXPECT_EQ(r.commands, (Cmds{Command::kAuthorize}));
  EXPECT_EQ(saga.awaiting, Awaiting::kPayment);
  EXPECT_EQ(saga.deadline_ms, kT0 + 1 + kStep);
  EXPECT_EQ(saga.inventory_status, "RESERVED");

  auto p = record(saga.on_payment_completed(kT0 + 2));
  EXPECT_EQ(states_of(p.history), (States{State::kPaymentCompleted, State::kFulfillmentRequested}));
  EXPECT_EQ(p.commands, (Cmds{Command::kCreateFulfillment}));
  EXPECT_EQ(saga.payment_status, "COMPLETED");
  EXPECT_EQ(saga.awaiting, Awaiting::kFulfillment);

  auto f = record(saga.on_fulfillment_created(kT0 + 3));
  EXPECT_EQ(states_of(f.history), (States{State::kCompleted}));
  EXPECT_TRUE(f.commands.empty());
  ASSERT_TRUE(f.reached.has_value());
  EXPECT_EQ(*f.reached, State::kCompleted);

  EXPECT_EQ(saga.state, State::kCompleted);
  EXPECT_EQ(saga.order_status(), "COMPLETED");
  EXPECT_EQ(saga.fulfillment_status, std::optional<std::string>("INITIATED"));
  EXPECT_EQ(saga.awaiting, Awaiting::kNone);
  EXPECT_EQ(saga.deadline_ms, 0);
  EXPECT_EQ(all_states(),
            (States{State::kStarted, State::kInventoryRequested, State::kInventoryReserved,
                    State::kPaymentRequested, State::kPaymentCompleted, State::kFulfillmentRequested,
                    State::kCompleted}));
  EXPECT_EQ(commands, (Cmds{Command::kReserve, Command::kAuthorize, Command::kCreateFulfillment}));
  EXPECT_FALSE(saw(State::kCompensating));
}

TEST_F(SagaTest, ShipmentEventsAfterCompletion) {
  complete();
  auto d = record(saga.on_shipment_dispatched(kT0 + 10));
  EXPECT_TRUE(d.changed);
  EXPECT_EQ(saga.fulfillment_status, std::optional<std::string>("DISPATCHED"));
  EXPECT_EQ(saga.state, State::kCompleted);
  auto again = record(saga.on_shipment_dispatched(kT0 + 11));
  EXPECT_FALSE(again.changed);
  EXPECT_TRUE(again.ignored.has_value());
  auto del = record(saga.on_shipment_delivered(kT0 + 12));
  EXPECT_TRUE(del.changed);
  EXPECT_EQ(saga.fulfillment_status, std::optional<std::string>("DELIVERED"));
  EXPECT_FALSE(record(saga.on_shipment_delivered(kT0 + 13)).changed);
  // A late dispatched after delivered must not move the status back.
  EXPECT_FALSE(record(saga.on_shipment_dispatched(kT0 + 14)).changed);
  EXPECT_EQ(saga.fulfillment_status, std::optional<std::string>("DELIVERED"));
}

// ---- failures ----

TEST_F(SagaTest, InventoryRejectedFailsWithoutCompensating) {
  auto r = record(saga.on_inventory_rejected("INSUFFICIENT_STOCK: SKU-1", kT0 + 1));
  EXPECT_EQ(states_of(r.history), (States{State::kFailed}));
  EXPECT_TRUE(r.commands.empty());
  ASSERT_TRUE(r.reached.has_value());
  EXPECT_EQ(*r.reached, State::kFailed);
  EXPECT_EQ(saga.state, State::kFailed);
  EXPECT_FALSE(saw(State::kCompensating));
  EXPECT_EQ(saga.payment_status, "SKIPPED");
  EXPECT_EQ(saga.inventory_status, "FAILED");
  EXPECT_EQ(saga.reason, std::optional<std::string>("INSUFFICIENT_STOCK: SKU-1"));
  EXPECT_EQ(saga.order_status(), "FAILED");
  EXPECT_EQ(saga.awaiting, Awaiting::kNone);
  EXPECT_EQ(saga.deadline_ms, 0);
  EXPECT_EQ(commands, (Cmds{Command::kReserve}));
}

TEST_F(SagaTest, PaymentFailedReleasesStockThenFails) {
  reserve();
  auto r = record(saga.on_payment_failed("PAYMENT_DECLINED: too much", kT0 + 2));
  EXPECT_EQ(states_of(r.history), (States{State::kCompensating}));
  EXPECT_EQ(r.commands, (Cmds{Command::kRelease}));
  EXPECT_EQ(saga.awaiting, Awaiting::kRelease);
  EXPECT_EQ(saga.payment_status, "FAILED");
  EXPECT_EQ(saga.order_status(), "PENDING");
  EXPECT_FALSE(r.reached.has_value());

  auto rel = record(saga.on_inventory_released(kT0 + 3));
  EXPECT_EQ(states_of(rel.history), (States{State::kFailed}));
  EXPECT_TRUE(rel.commands.empty());
  EXPECT_EQ(saga.state, State::kFailed);
  EXPECT_EQ(saga.inventory_status, "RELEASED");
  EXPECT_EQ(saga.payment_status, "FAILED");
  EXPECT_EQ(saga.reason, std::optional<std::string>("PAYMENT_DECLINED: too much"));
  EXPECT_EQ(saga.order_status(), "FAILED");
  EXPECT_EQ(commands, (Cmds{Command::kReserve, Command::kAuthorize, Command::kRelease}));
  // The FAILED history row carries the reason.
  ASSERT_FALSE(rel.history.empty());
  EXPECT_EQ(rel.history.back().detail, std::optional<std::string>("PAYMENT_DECLINED: too much"));
}

// ---- cancel ----

TEST_F(SagaTest, CancelWhileAwaitingInventoryWaitsThenReleasesOnReserved) {
  auto c = record(saga.on_cancel_requested(std::string("changed my mind"), kT0 + 1));
  EXPECT_TRUE(c.changed);
  EXPECT_TRUE(c.commands.empty()) << "must wait for the inventory reply";
  EXPECT_TRUE(c.history.empty());
  EXPECT_TRUE(saga.cancel_requested);
  EXPECT_EQ(saga.awaiting, Awaiting::kInventory);
  EXPECT_EQ(saga.state, State::kInventoryRequested);

  auto r = record(saga.on_inventory_reserved(kT0 + 2));
  EXPECT_EQ(states_of(r.history), (States{State::kInventoryReserved, State::kCompensating}));
  EXPECT_EQ(r.commands, (Cmds{Command::kRelease}));
  EXPECT_EQ(saga.awaiting, Awaiting::kRelease);

  auto rel = record(saga.on_inventory_released(kT0 + 3));
  EXPECT_EQ(states_of(rel.history), (States{State::kCancelled}));
  ASSERT_TRUE(rel.reached.has_value());
  EXPECT_EQ(*rel.reached, State::kCancelled);
  EXPECT_EQ(saga.state, State::kCancelled);
  EXPECT_EQ(saga.order_status(), "CANCELLED");
  EXPECT_EQ(saga.inventory_status, "RELEASED");
  EXPECT_EQ(saga.payment_status, "SKIPPED");
  EXPECT_EQ(commands, (Cmds{Command::kReserve, Command::kRelease}));
  EXPECT_FALSE(std::count(commands.begin(), commands.end(), Command::kAuthorize));
}

TEST_F(SagaTest, CancelWhileAwaitingInventoryThenRejectedCancelsWithoutCompensating) {
  record(saga.on_cancel_requested(std::nullopt, kT0 + 1));
  auto r = record(saga.on_inventory_rejected("INSUFFICIENT_STOCK: SKU-1", kT0 + 2));
  EXPECT_EQ(states_of(r.history), (States{State::kCancelled}));
  EXPECT_TRUE(r.commands.empty());
  EXPECT_EQ(saga.state, State::kCancelled);
  EXPECT_FALSE(saw(State::kCompensating));
  EXPECT_EQ(saga.inventory_status, "FAILED");
  EXPECT_EQ(saga.payment_status, "SKIPPED");
  EXPECT_EQ(commands, (Cmds{Command::kReserve}));
}

TEST_F(SagaTest, CancelWhileAwaitingPaymentRefundsThenReleasesOnCompleted) {
  reserve();
  auto c = record(saga.on_cancel_requested(std::string("user"), kT0 + 2));
  EXPECT_TRUE(c.commands.empty());
  EXPECT_EQ(saga.awaiting, Awaiting::kPayment);

  auto p = record(saga.on_payment_completed(kT0 + 3));
  EXPECT_EQ(states_of(p.history), (States{State::kPaymentCompleted, State::kCompensating}));
  EXPECT_EQ(p.commands, (Cmds{Command::kRefund}));
  EXPECT_EQ(saga.awaiting, Awaiting::kRefund);

  auto rf = record(saga.on_payment_refunded(/*manual=*/false, /*captured=*/true, kT0 + 4));
  EXPECT_TRUE(rf.history.empty());
  EXPECT_EQ(rf.commands, (Cmds{Command::kRelease}));
  EXPECT_EQ(saga.payment_status, "REFUNDED");

  auto rel = record(saga.on_inventory_released(kT0 + 5));
  EXPECT_EQ(states_of(rel.history), (States{State::kCancelled}));
  EXPECT_EQ(saga.state, State::kCancelled);
  EXPECT_EQ(saga.payment_status, "REFUNDED");
  EXPECT_EQ(saga.inventory_status, "RELEASED");
  EXPECT_EQ(saga.fulfillment_status, std::nullopt);
  EXPECT_EQ(commands,
            (Cmds{Command::kReserve, Command::kAuthorize, Command::kRefund, Command::kRelease}));
}

TEST_F(SagaTest, CancelWhileAwaitingPaymentThenPaymentFailedReleasesAndCancels) {
  reserve();
  record(saga.on_cancel_requested(std::nullopt, kT0 + 2));
  auto p = record(saga.on_payment_failed("PAYMENT_DECLINED", kT0 + 3));
  EXPECT_EQ(p.commands, (Cmds{Command::kRelease}));
  record(saga.on_inventory_released(kT0 + 4));
  EXPECT_EQ(saga.state, State::kCancelled);
  EXPECT_EQ(saga.payment_status, "FAILED");
}

TEST_F(SagaTest, CancelWhileAwaitingFulfillmentUndoesAllThreeSteps) {
  reserve();
  pay();
  record(saga.on_cancel_requested(std::nullopt, kT0 + 3));
  auto f = record(saga.on_fulfillment_created(kT0 + 4));
  EXPECT_EQ(f.commands, (Cmds{Command::kCancelFulfillment}));
  EXPECT_EQ(saga.order_status(), "PENDING") << "never completed, so the order is still pending";
  record(saga.on_fulfillment_cancelled(kT0 + 5));
  EXPECT_EQ(commands.back(), Command::kRefund);
  record(saga.on_payment_refunded(false, true, kT0 + 6));
  EXPECT_EQ(commands.back(), Command::kRelease);
  record(saga.on_inventory_released(kT0 + 7));
  EXPECT_EQ(saga.state, State::kCancelled);
  EXPECT_EQ(saga.fulfillment_status, std::optional<std::string>("CANCELLED"));
  EXPECT_FALSE(saw(State::kCompleted));
}

TEST_F(SagaTest, CancelAfterCompletedCompensatesInReverseOrder) {
  complete();
  std::size_t before = commands.size();
  auto c = record(saga.on_cancel_requested(std::string("too slow"), kT0 + 10));
  EXPECT_EQ(states_of(c.history), (States{State::kCompensating}));
  EXPECT_EQ(c.commands, (Cmds{Command::kCancelFulfillment}));
  EXPECT_EQ(saga.order_status(), "COMPLETED") << "still completed while compensating";

  record(saga.on_fulfillment_cancelled(kT0 + 11));
  EXPECT_EQ(saga.order_status(), "COMPLETED");
  EXPECT_EQ(saga.state, State::kCompensating);
  record(saga.on_payment_refunded(false, true, kT0 + 12));
  EXPECT_EQ(saga.order_status(), "COMPLETED");
  auto rel = record(saga.on_inventory_released(kT0 + 13));
  ASSERT_TRUE(rel.reached.has_value());
  EXPECT_EQ(*rel.reached, State::kCancelled);

  Cmds compensation(commands.begin() + static_cast<std::ptrdiff_t>(before), commands.end());
  EXPECT_EQ(compensation, (Cmds{Command::kCancelFulfillment, Command::kRefund, Command::kRelease}));
  EXPECT_EQ(saga.state, State::kCancelled);
  EXPECT_EQ(saga.order_status(), "CANCELLED");
  EXPECT_EQ(saga.payment_status, "REFUNDED");
  EXPECT_EQ(saga.inventory_status, "RELEASED");
  EXPECT_EQ(saga.fulfillment_status, std::optional<std::string>("CANCELLED"));
  ASSERT_FALSE(rel.history.empty());
  ASSERT_TRUE(rel.history.back().detail.has_value());
  EXPECT_NE(rel.history.back().detail->find("too slow"), std::string::npos);
}

TEST_F(SagaTest, CancelRejectedByFulfillmentReturnsToCompleted) {
  complete();
  record(saga.on_cancel_requested(std::nullopt, kT0 + 10));
  ASSERT_EQ(saga.awaiting, Awaiting::kCancelFulfillment);
  std::size_t before = commands.size();
  auto r = record(saga.on_fulfillment_cancel_rejected("shipment already dispatched", kT0 + 11));
  EXPECT_EQ(states_of(r.history), (States{State::kCompleted}));
  ASSERT_TRUE(r.history.back().detail.has_value());
  EXPECT_EQ(r.history.back().detail->rfind("CANCEL_REJECTED", 0), 0u) << *r.history.back().detail;
  EXPECT_EQ(commands.size(), before) << "no refund or release after a rejected cancel";
  EXPECT_EQ(saga.state, State::kCompleted);
  EXPECT_EQ(saga.order_status(), "COMPLETED");
  EXPECT_FALSE(saga.cancel_requested);
  EXPECT_EQ(saga.reason, std::nullopt);
  EXPECT_EQ(saga.payment_status, "COMPLETED");
  EXPECT_EQ(saga.inventory_status, "RESERVED");
  EXPECT_EQ(saga.fulfillment_status, std::optional<std::string>("DISPATCHED"));
  EXPECT_EQ(saga.awaiting, Awaiting::kNone);
  EXPECT_EQ(saga.deadline_ms, 0);
}

TEST_F(SagaTest, CancelAfterDispatchIsRejectedWithoutCommands) {
  complete();
  record(saga.on_shipment_dispatched(kT0 + 10));
  std::size_t before = commands.size();
  auto c = record(saga.on_cancel_requested(std::nullopt, kT0 + 11));
  EXPECT_TRUE(c.commands.empty());
  EXPECT_EQ(commands.size(), before);
  ASSERT_EQ(c.history.size(), 1u);
  ASSERT_TRUE(c.history[0].detail.has_value());
  EXPECT_EQ(c.history[0].detail->rfind("CANCEL_REJECTED", 0), 0u);
  EXPECT_EQ(c.history[0].state, State::kCompleted);
  EXPECT_EQ(saga.state, State::kCompleted);
  EXPECT_FALSE(saga.cancel_requested);
  EXPECT_EQ(saga.order_status(), "COMPLETED");
}

TEST_F(SagaTest, CancelAfterTerminalIsIgnored) {
  record(saga.on_inventory_rejected("PRODUCT_NOT_FOUND: SKU-1", kT0 + 1));
  auto c = record(saga.on_cancel_requested(std::nullopt, kT0 + 2));
  EXPECT_FALSE(c.changed);
  EXPECT_TRUE(c.ignored.has_value());
  EXPECT_EQ(saga.state, State::kFailed);
}

TEST_F(SagaTest, SecondCancelIgnored) {
  reserve();
  record(saga.on_cancel_requested(std::nullopt, kT0 + 2));
  auto again = record(saga.on_cancel_requested(std::nullopt, kT0 + 3));
  EXPECT_FALSE(again.changed);
  EXPECT_TRUE(again.ignored.has_value());
}

TEST_F(SagaTest, IgnoredCancelIsStillAcknowledgedByItsSequence) {
  // The order service shows a cancel as requested until an update carries its sequence number:
  // a cancel the saga ignores (here: it already failed) must still produce such an update.
  record(saga.on_inventory_rejected("PRODUCT_NOT_FOUND: SKU-1", kT0 + 1));
  auto c = record(saga.on_cancel_requested(std::nullopt, kT0 + 2, /*seq=*/1));
  EXPECT_TRUE(c.changed);
  EXPECT_TRUE(c.commands.empty());
  EXPECT_EQ(saga.cancel_seq, 1);
  EXPECT_EQ(saga.state, State::kFailed);
  // The same sequence again changes nothing.
  auto again = record(saga.on_cancel_requested(std::nullopt, kT0 + 3, /*seq=*/1));
  EXPECT_FALSE(again.changed);
}

// ---- timeouts ----

TEST_F(SagaTest, TickBeforeDeadlineDoesNothing) {
  reserve(kT0 + 1);
  auto t = record(saga.on_tick(saga.deadline_ms - 1));
  EXPECT_FALSE(t.changed);
  EXPECT_TRUE(t.commands.empty());
  EXPECT_EQ(saga.state, State::kPaymentRequested);
  EXPECT_EQ(saga.awaiting, Awaiting::kPayment);
}

TEST_F(SagaTest, TickWhenNotWaitingDoesNothing) {
  complete();
  auto t = record(saga.on_tick(kT0 + 10 * kStep));
  EXPECT_FALSE(t.changed);
  EXPECT_EQ(saga.state, State::kCompleted);
}

TEST_F(SagaTest, PaymentTimeoutRefundsThenReleasesThenFails) {
  reserve(kT0 + 1);
  std::int64_t due = saga.deadline_ms;
  auto t = record(saga.on_tick(due));
  EXPECT_EQ(states_of(t.history), (States{State::kCompensating}));
  EXPECT_EQ(t.commands, (Cmds{Command::kRefund})) << "the charge may have happened: refund it";
  EXPECT_EQ(saga.reason, std::optional<std::string>("TIMEOUT: payment"));
  EXPECT_EQ(saga.awaiting, Awaiting::kRefund);
  EXPECT_EQ(saga.deadline_ms, due + kStep);

  // A late payment.completed while compensating is ignored.
  auto late = record(saga.on_payment_completed(due + 1));
  EXPECT_FALSE(late.changed);
  EXPECT_TRUE(late.ignored.has_value());
  EXPECT_EQ(saga.state, State::kCompensating);
  EXPECT_EQ(saga.awaiting, Awaiting::kRefund);

  auto rf = record(saga.on_payment_refunded(false, /*captured=*/false, due + 2));
  EXPECT_EQ(rf.commands, (Cmds{Command::kRelease}));
  record(saga.on_inventory_released(due + 3));
  EXPECT_EQ(saga.state, State::kFailed);
  EXPECT_EQ(saga.reason, std::optional<std::string>("TIMEOUT: payment"));
  EXPECT_EQ(saga.inventory_status, "RELEASED");
  EXPECT_NE(saga.payment_status, "COMPLETED");
  EXPECT_EQ(commands, (Cmds{Command::kReserve, Command::kAuthorize, Command::kRefund, Command::kRelease}));
}

TEST_F(SagaTest, InventoryTimeoutReleasesDefensively) {
  auto t = record(saga.on_tick(kT0 + kStep));
  EXPECT_EQ(t.commands, (Cmds{Command::kRelease}));
  EXPECT_EQ(saga.reason, std::optional<std::string>("TIMEOUT: inventory"));
  // A late reserved is ignored; the release covers it.
  EXPECT_FALSE(record(saga.on_inventory_reserved(kT0 + kStep + 1)).changed);
  record(saga.on_inventory_released(kT0 + kStep + 2));
  EXPECT_EQ(saga.state, State::kFailed);
  EXPECT_EQ(saga.payment_status, "SKIPPED");
}

TEST_F(SagaTest, FulfillmentTimeoutCancelsFulfillmentFirst) {
  reserve();
  pay();
  auto t = record(saga.on_tick(saga.deadline_ms));
  EXPECT_EQ(t.commands, (Cmds{Command::kCancelFulfillment}));
  EXPECT_EQ(saga.reason, std::optional<std::string>("TIMEOUT: fulfillment"));
  record(saga.on_fulfillment_cancelled(kT0 + 2 * kStep));
  EXPECT_EQ(commands.back(), Command::kRefund);
}

TEST_F(SagaTest, CompensationTimeoutResendsTheSameCommand) {
  reserve();
  record(saga.on_payment_failed("PAYMENT_DECLINED", kT0 + 2));
  ASSERT_EQ(saga.awaiting, Awaiting::kRelease);
  std::int64_t due = saga.deadline_ms;
  auto early = record(saga.on_tick(due - 1));
  EXPECT_FALSE(early.changed);
  auto t1 = record(saga.on_tick(due));
  EXPECT_EQ(t1.commands, (Cmds{Command::kRelease}));
  EXPECT_TRUE(t1.history.empty());
  EXPECT_EQ(saga.state, State::kCompensating);
  EXPECT_EQ(saga.awaiting, Awaiting::kRelease);
  // The retry gets a new deadline, twice the step's (exponential backoff) plus at most 10 % jitter.
  EXPECT_GE(saga.deadline_ms, due + 2 * kStep);
  EXPECT_LE(saga.deadline_ms, due + 2 * kStep + 2 * kStep / 10);
  std::int64_t due2 = saga.deadline_ms;
  auto t2 = record(saga.on_tick(due2));
  EXPECT_EQ(t2.commands, (Cmds{Command::kRelease}));
  // The retried command finally succeeds.
  record(saga.on_inventory_released(due2 + 1));
  EXPECT_EQ(saga.state, State::kFailed);
  EXPECT_EQ(saga.reason, std::optional<std::string>("PAYMENT_DECLINED"));
}

TEST_F(SagaTest, RefundTimeoutResendsRefund) {
  complete();
  record(saga.on_cancel_requested(std::nullopt, kT0 + 10));
  record(saga.on_fulfillment_cancelled(kT0 + 11));
  ASSERT_EQ(saga.awaiting, Awaiting::kRefund);
  auto t = record(saga.on_tick(saga.deadline_ms));
  EXPECT_EQ(t.commands, (Cmds{Command::kRefund}));
  EXPECT_EQ(saga.order_status(), "COMPLETED");
}

// ---- a compensation that keeps failing: NEEDS_ATTENTION, retry, resolve ----

// Ticks at every deadline until the saga stops waiting (the participant never answers); returns
// the waits between the sends, and keeps the commands sent and the alerts raised.
std::vector<std::int64_t> tick_until_it_stops(Saga& saga, Cmds& sent_again, std::vector<Effects>& alerts) {
  std::vector<std::int64_t> waits;
  std::int64_t sent = saga.updated_ms;
  for (int i = 0; i < 20 && saga.deadline_ms != 0; ++i) {
    waits.push_back(saga.deadline_ms - sent);
    sent = saga.deadline_ms;
    auto fx = saga.on_tick(saga.deadline_ms);
    for (auto c : fx.commands) sent_again.push_back(c);
    if (fx.alert) alerts.push_back(fx);
  }
  return waits;
}

TEST_F(SagaTest, ACompensationFailingPastItsBoundNeedsAttention) {
  reserve();
  record(saga.on_payment_failed("PAYMENT_DECLINED", kT0 + 2));
  ASSERT_EQ(saga.awaiting, Awaiting::kRelease);
  std::vector<Effects> alerts;
  Cmds again;
  auto waits = tick_until_it_stops(saga, again, alerts);
  // 5 sends of the release in all: the first, then 4 retries 2x, 4x, 8x, 8x the step apart
  ASSERT_EQ(waits.size(), 5u);
  EXPECT_EQ(waits[0], kStep);
  std::int64_t factors[] = {2, 4, 8, 8};
  for (int i = 0; i < 4; ++i) {
    EXPECT_GE(waits[i + 1], factors[i] * kStep) << i;
    EXPECT_LE(waits[i + 1], factors[i] * kStep + factors[i] * kStep / 10) << i;
  }
  EXPECT_EQ(again, Cmds(4, Command::kRelease));
  EXPECT_EQ(saga.state, State::kNeedsAttention);
  EXPECT_EQ(saga.deadline_ms, 0) << "nothing is retried by itself any more";
  EXPECT_EQ(saga.attention, std::optional<std::string>("NEEDS_ATTENTION: release failed 5 times"));
  EXPECT_EQ(alerts.size(), 1u) << "one alert";
  EXPECT_EQ(saga.order_status(), "PENDING");
  EXPECT_FALSE(saga.on_tick(kT0 + 1'000'000'000).changed);
  EXPECT_TRUE(saga.on_cancel_requested(std::string("again"), kT0 + 1'000'000'000, 1).commands.empty());
}

TEST_F(SagaTest, AnAdminRetrySendsTheFailedStepAgain) {
  release_never_answered();
  std::int64_t now = kT0 + 10'000'000;
  auto fx = saga.retry("ada", now);
  ASSERT_TRUE(fx.has_value());
  EXPECT_EQ(fx->commands, (Cmds{Command::kRelease}));
  EXPECT_EQ(saga.state, State::kCompensating);
  EXPECT_FALSE(saga.attention);
  EXPECT_GE(saga.deadline_ms, now + kStep);
  EXPECT_EQ(saga.compensation_attempts, 1) << "a fresh bound";
  ASSERT_FALSE(saga.retry("ada", now + 1)) << "409 when it does not need attention";
  EXPECT_EQ(saga.retry("ada", now + 1).error().code, Errc::kConflict);
  saga.on_inventory_released(now + 2);
  EXPECT_EQ(saga.state, State::kFailed);
  EXPECT_EQ(saga.inventory_status, "RELEASED");
}

TEST_F(SagaTest, ResolveSettlesTheFailedStepAndGoesOnWhereTheSagaWasHeading) {
  complete();
  record(saga.on_cancel_requested(std::string("changed my mind"), kT0 + 10));
  record(saga.on_fulfillment_cancelled(kT0 + 11));
  ASSERT_EQ(saga.awaiting, Awaiting::kRefund);
  std::vector<Effects> alerts;
  Cmds again;
  tick_until_it_stops(saga, again, alerts);
  ASSERT_EQ(saga.state, State::kNeedsAttention);
  EXPECT_EQ(saga.order_status(), "COMPLETED") << "a cancel of a completed order keeps COMPLETED meanwhile";
  EXPECT_EQ(saga.attention, std::optional<std::string>("NEEDS_ATTENTION: refund failed 5 times"));
  auto fx = saga.resolve("ada", "refunded by bank transfer", kT0 + 10'000'000);
  ASSERT_TRUE(fx.has_value());
  ASSERT_EQ(fx->history.size(), 1u);
  EXPECT_EQ(fx->history[0].state, State::kCompensating);
  EXPECT_EQ(fx->history[0].detail, std::optional<std::string>("resolved by ada: refunded by bank transfer"));
  EXPECT_EQ(saga.payment_status, "REFUNDED");
  EXPECT_EQ(fx->commands, (Cmds{Command::kRelease})) << "the stock is still released";
  EXPECT_EQ(saga.resolve("ada", "again", kT0 + 10'000'001).error().code, Errc::kConflict);
  auto end = saga.on_inventory_released(kT0 + 10'000'002);
  EXPECT_EQ(saga.state, State::kCancelled);
  EXPECT_EQ(end.reached, std::optional<State>(State::kCancelled));
}

TEST_F(SagaTest, ResolvingTheLastStepEndsAtOnce) {
  release_never_answered();
  auto fx = saga.resolve("ada", "released in the warehouse system", kT0 + 10'000'000);
  ASSERT_TRUE(fx.has_value());
  EXPECT_EQ(states_of(fx->history), (States{State::kCompensating, State::kFailed}));
  EXPECT_EQ(saga.inventory_status, "RELEASED");
  EXPECT_EQ(saga.reason, std::optional<std::string>("PAYMENT_DECLINED"));
}

TEST_F(SagaTest, ALateReplyWhileNeedingAttentionResumesTheCompensation) {
  release_never_answered();
  auto fx = saga.on_inventory_released(kT0 + 10'000'000);
  EXPECT_EQ(states_of(fx.history), (States{State::kCompensating, State::kFailed}));
  EXPECT_FALSE(saga.attention);
}

// ---- duplicates and stray replies ----

TEST_F(SagaTest, DuplicateRepliesIgnored) {
  reserve();
  auto dup = record(saga.on_inventory_reserved(kT0 + 5));
  EXPECT_FALSE(dup.changed);
  EXPECT_TRUE(dup.ignored.has_value());
  pay();
  EXPECT_FALSE(record(saga.on_payment_completed(kT0 + 6)).changed);
  EXPECT_FALSE(record(saga.on_payment_failed("x", kT0 + 6)).changed);
  fulfil();
  EXPECT_FALSE(record(saga.on_fulfillment_created(kT0 + 7)).changed);
  EXPECT_FALSE(record(saga.on_inventory_rejected("x", kT0 + 7)).changed);
  EXPECT_FALSE(record(saga.on_inventory_released(kT0 + 7)).changed);
  EXPECT_FALSE(record(saga.on_fulfillment_cancelled(kT0 + 7)).changed);
  EXPECT_FALSE(record(saga.on_fulfillment_cancel_rejected("x", kT0 + 7)).changed);
  EXPECT_EQ(saga.state, State::kCompleted);
  EXPECT_EQ(commands, (Cmds{Command::kReserve, Command::kAuthorize, Command::kCreateFulfillment}));
}

TEST_F(SagaTest, DuplicateReleasedAfterFailureIgnored) {
  reserve();
  record(saga.on_payment_failed("PAYMENT_DECLINED", kT0 + 2));
  record(saga.on_inventory_released(kT0 + 3));
  auto dup = record(saga.on_inventory_released(kT0 + 4));
  EXPECT_FALSE(dup.changed);
  EXPECT_FALSE(dup.reached.has_value()) << "a terminal state is reached once";
  EXPECT_EQ(saga.state, State::kFailed);
}

TEST_F(SagaTest, OutOfOrderReplyIgnored) {
  // Payment reply before inventory answered.
  auto p = record(saga.on_payment_completed(kT0 + 1));
  EXPECT_FALSE(p.changed);
  EXPECT_EQ(saga.payment_status, "PENDING");
  EXPECT_EQ(saga.state, State::kInventoryRequested);
}

TEST_F(SagaTest, VersionStrictlyIncreasesOverAFullCancelFlow) {
  // record() checks the version on every input; this walks the longest flow.
  std::int64_t v0 = saga.version;
  complete();
  record(saga.on_payment_refunded(true, true, kT0 + 5));  // manual refund
  record(saga.on_cancel_requested(std::nullopt, kT0 + 6));
  record(saga.on_tick(saga.deadline_ms));  // retry of CancelFulfillment
  record(saga.on_fulfillment_cancelled(kT0 + 7 + kStep));
  record(saga.on_inventory_released(kT0 + 8 + kStep));
  EXPECT_EQ(saga.state, State::kCancelled);
  EXPECT_GT(saga.version, v0);
  EXPECT_EQ(saga.updated_ms, kT0 + 8 + kStep);
}

// ---- manual refund ----

TEST_F(SagaTest, ManualRefundWhileCompletedOnlyChangesPaymentStatus) {
  complete();
  std::size_t before = commands.size();
  auto r = record(saga.on_payment_refunded(/*manual=*/true, /*captured=*/true, kT0 + 10));
  EXPECT_TRUE(r.changed);
  EXPECT_TRUE(r.history.empty());
  EXPECT_TRUE(r.commands.empty());
  EXPECT_FALSE(r.reached.has_value());
  EXPECT_EQ(commands.size(), before);
  EXPECT_EQ(saga.payment_status, "REFUNDED");
  EXPECT_EQ(saga.state, State::kCompleted);
  EXPECT_EQ(saga.order_status(), "COMPLETED");

  // A later cancel then skips the refund: cancel fulfillment, release stock.
  record(saga.on_cancel_requested(std::nullopt, kT0 + 11));
  record(saga.on_fulfillment_cancelled(kT0 + 12));
  EXPECT_EQ(commands.back(), Command::kRelease);
  record(saga.on_inventory_released(kT0 + 13));
  EXPECT_EQ(saga.state, State::kCancelled);
  EXPECT_EQ(std::count(commands.begin(), commands.end(), Command::kRefund), 0);
}

TEST_F(SagaTest, NonManualRefundWhileCompletedIgnored) {
  complete();
  auto r = record(saga.on_payment_refunded(false, true, kT0 + 10));
  EXPECT_FALSE(r.changed);
  EXPECT_EQ(saga.payment_status, "COMPLETED");
}

// ---- names ----

TEST(SagaNames, StateAndAwaitingRoundTrip) {
  for (State s : {State::kStarted, State::kInventoryRequested, State::kInventoryReserved,
                  State::kPaymentRequested, State::kPaymentCompleted, State::kFulfillmentRequested,
                  State::kCompleted, State::kCompensating, State::kFailed, State::kCancelled,
                  State::kNeedsAttention}) {
    auto name = to_string(s);
    EXPECT_NE(name, "?");
    EXPECT_EQ(parse_state(name), s) << name;
  }
  for (Awaiting a : {Awaiting::kNone, Awaiting::kInventory, Awaiting::kPayment, Awaiting::kFulfillment,
                     Awaiting::kCancelFulfillment, Awaiting::kRefund, Awaiting::kRelease}) {
    EXPECT_EQ(parse_awaiting(to_string(a)), a) << to_string(a);
  }
  EXPECT_EQ(parse_state("completed"), std::nullopt);
  EXPECT_EQ(parse_awaiting(""), std::nullopt);
  EXPECT_TRUE(is_terminal(State::kFailed));
  EXPECT_TRUE(is_terminal(State::kCancelled));
  EXPECT_FALSE(is_terminal(State::kCompleted));
  EXPECT_FALSE(is_terminal(State::kCompensating));
  EXPECT_FALSE(is_terminal(State::kNeedsAttention));
}

}  // namespace
}  // namespace oms::saga::domain
