// The order aggregate: validation of a new order, canonical form, cancel decisions, following
// the saga's views.
#include <gtest/gtest.h>

#include <string>

#include "services/order/domain/order.h"

namespace oms::order::domain {
namespace {

Draft good_draft() {
  Draft d;
  d.customer_email = "alice@example.com";
  d.items = {{"SKU-1", 2, Money{1999}}, {"SKU-2", 1, Money{1}}};
  d.items_present = true;
  return d;
}

// The error is kInvalid and its detail names `field`.
void expect_invalid(const Draft& d, const std::string& field) {
  auto r = validate(d);
  ASSERT_FALSE(r.has_value()) << "expected a validation error about " << field;
  EXPECT_EQ(r.error().code, Errc::kInvalid);
  EXPECT_NE(r.error().detail.find(field), std::string::npos)
      << "detail '" << r.error().detail << "' does not name " << field;
}

// ---- validate ----

TEST(Validate, GoodDraftGivesTotalInMinorUnits) {
  auto r = validate(good_draft());
  ASSERT_TRUE(r.has_value()) << r.error().detail;
  EXPECT_EQ(r->total, Money{2 * 1999 + 1});
  EXPECT_EQ(r->customer_email, "alice@example.com");
  EXPECT_EQ(r->items.size(), 2u);
}

TEST(Validate, LargestOrderTotalIsExact) {
  Draft d = good_draft();
  d.items.clear();
  for (int i = 0; i < 100; ++i) d.items.push_back({"P" + std::to_string(i), 10000, Money{100'000'000}});
  auto r = validate(d);
  ASSERT_TRUE(r.has_value()) << r.error().detail;
  EXPECT_EQ(r->total, Money{100LL * 10000 * 100'000'000});
}

TEST(Validate, CustomerEmailMissing) {
  Draft d = good_draft();
  d.customer_email.reset();
  expect_invalid(d, "customerEmail");
}

TEST(Validate, CustomerEmailInvalid) {
  for (const char* e : {"", "alice", "@example.com", "alice@", "alice@example", "alice@.com",
                        "alice@example.com.", "a@b@c.com", "al ice@example.com", "alice@exa<mple.com",
                        "alice\n@example.com"}) {
    Draft d = good_draft();
    d.customer_email = e;
    expect_invalid(d, "customerEmail");
  }
}

TEST(Validate, CustomerEmailLength) {
  Draft d = good_draft();
  std::string domain = "@example.com";  // 12 characters
  d.customer_email = std::string(254 - domain.size(), 'a') + domain;
  EXPECT_TRUE(validate(d).has_value()) << "254 characters is allowed";
  d.customer_email = std::string(255 - domain.size(), 'a') + domain;
  expect_invalid(d, "customerEmail");
}

TEST(Validate, ItemsMissing) {
  Draft d = good_draft();
  d.items.clear();
  d.items_present = false;
  expect_invalid(d, "items");
}

TEST(Validate, ItemsEmpty) {
  Draft d = good_draft();
  d.items.clear();
  expect_invalid(d, "items");
}

TEST(Validate, ItemsCount) {
  Draft d = good_draft();
  d.items.clear();
  for (int i = 0; i < 100; ++i) d.items.push_back({"P" + std::to_string(i), 1, Money{100}});
  EXPECT_TRUE(validate(d).has_value()) << "100 items is allowed";
  d.items.push_back({"P100", 1, Money{100}});
  expect_invalid(d, "items");
}

TEST(Validate, ProductIdBadCharacters) {
  for (const char* id : {"", "a b", "a/b", "a;b", "caf\xc3\xa9"}) {
    Draft d = good_draft();
    d.items[1].product_id = id;
    expect_invalid(d, "items[1].productId");
  }
}

TEST(Validate, ProductIdLength) {
  Draft d = good_draft();
  d.items[0].product_id = std::string(64, 'p');
  EXPECT_TRUE(validate(d).has_value());
  d.items[0].product_id = std::string(65, 'p');
  expect_invalid(d, "items[0].productId");
}

TEST(Validate, Quantity) {
  Draft d = good_draft();
  d.items[0].quantity = 0;
  expect_invalid(d, "items[0].quantity");
  d.items[0].quantity = -1;
  expect_invalid(d, "items[0].quantity");
  d.items[0].quantity = 10001;
  expect_invalid(d, "items[0].quantity");
  d.items[0].quantity = 10000;
  EXPECT_TRUE(validate(d).has_value());
  d.items[0].quantity = 1;
  EXPECT_TRUE(validate(d).has_value());
}

TEST(Validate, Price) {
  Draft d = good_draft();
  d.items[1].price = Money{0};
  expect_invalid(d, "items[1].price");
  d.items[1].price = Money{-100};
  expect_invalid(d, "items[1].price");
  d.items[1].price = Money{100'000'001};
  expect_invalid(d, "items[1].price");
  d.items[1].price = Money{100'000'000};
  EXPECT_TRUE(validate(d).has_value()) << "1000000.00 is the maximum";
}

TEST(Validate, DuplicateProductId) {
  Draft d = good_draft();
  d.items.push_back({"SKU-1", 1, Money{1999}});
  expect_invalid(d, "items[2].productId");
  EXPECT_NE(validate(d).error().detail.find("SKU-1"), std::string::npos);
}

TEST(Validate, CurrencyDefaultsToUsd) {
  auto r = validate(good_draft());
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->currency, "USD");
  Draft d = good_draft();
  d.currency = "EUR";
  EXPECT_EQ(validate(d)->currency, "EUR");
}

TEST(Validate, CurrencyInvalid) {
  for (const char* c : {"usd", "US", "USDT", "", "U1D"}) {
    Draft d = good_draft();
    d.currency = c;
    expect_invalid(d, "currency");
  }
}

TEST(ValidIdempotencyKey, Rules) {
  EXPECT_TRUE(valid_idempotency_key("abc-123"));
  EXPECT_TRUE(valid_idempotency_key(std::string(255, 'k')));
  EXPECT_FALSE(valid_idempotency_key(std::string(256, 'k')));
  EXPECT_FALSE(valid_idempotency_key(""));
  EXPECT_FALSE(valid_idempotency_key("a b"));
  EXPECT_FALSE(valid_idempotency_key("a\x01"));
}

// ---- canonical ----

TEST(Canonical, EqualForSameContent) {
  auto a = validate(good_draft());
  auto b = validate(good_draft());
  ASSERT_TRUE(a && b);
  EXPECT_EQ(canonical(*a), canonical(*b));
  // Default currency and an explicit USD are the same request.
  Draft explicit_usd = good_draft();
  explicit_usd.currency = "USD";
  EXPECT_EQ(canonical(*validate(explicit_usd)), canonical(*a));
}

TEST(Canonical, EmailCaseIsOneRuleForRetriesAndLookups) {
  Draft lower = good_draft(), upper = good_draft(), other = good_draft();
  lower.customer_email = "alice@example.com";
  upper.customer_email = "Alice@EXAMPLE.com";
  other.customer_email = "alicia@example.com";
  std::string a = canonical(*validate(lower)), b = canonical(*validate(upper));
  EXPECT_TRUE(same_request(a, b));  // a retry that only changed the case is the same order
  EXPECT_TRUE(same_request(b, a));
  EXPECT_FALSE(same_request(a, canonical(*validate(other))));
  Draft more = upper;
  more.items[0].quantity += 1;
  EXPECT_FALSE(same_request(a, canonical(*validate(more))));  // the rest still compares exactly
  EXPECT_EQ(email_key("Alice@EXAMPLE.com"), "alice@example.com");
  // Only ASCII letters fold (the rule lookups have always used): "Ä" stays "Ä".
  EXPECT_EQ(email_key("\xc3\x84rger@example.com"), "\xc3\x84rger@example.com");
}

TEST(Canonical, DifferentForDifferentContent) {
  std::string base = canonical(*validate(good_draft()));
  auto changed = [&](auto mutate) {
    Draft d = good_draft();
    mutate(d);
    auto v = validate(d);
    EXPECT_TRUE(v.has_value());
    return v ? canonical(*v) : base;
  };
  EXPECT_NE(changed([](Draft& d) { d.customer_email = "bob@example.com"; }), base);
  EXPECT_NE(changed([](Draft& d) { d.currency = "EUR"; }), base);
  EXPECT_NE(changed([](Draft& d) { d.items[0].quantity = 3; }), base);
  EXPECT_NE(changed([](Draft& d) { d.items[0].price = Money{2000}; }), base);
  EXPECT_NE(changed([](Draft& d) { d.items[1].product_id = "SKU-3"; }), base);
  EXPECT_NE(changed([](Draft& d) { d.items.pop_back(); }), base);
  // Quantity and price must not be able to trade places.
  Draft x = good_draft();
  x.items = {{"A", 12, Money{3}}};
  Draft y = good_draft();
  y.items = {{"A", 1, Money{23}}};
  EXPECT_NE(canonical(*validate(x)), canonical(*validate(y)));
}

// ---- create / request_cancel ----

Order new_order() {
  return create("o-1", "alice", *validate(good_draft()), 1000);
}

TEST(Create, PendingWithTotals) {
  Order o = new_order();
  EXPECT_EQ(o.status, "PENDING");
  EXPECT_EQ(o.total, Money{3999});
  EXPECT_EQ(o.user_id, "alice");
  EXPECT_EQ(o.created_ms, 1000);
  EXPECT_EQ(o.updated_ms, 1000);
  EXPECT_FALSE(o.cancel_requested);
  EXPECT_EQ(o.saga_version, 0);
}

TEST(RequestCancel, AcceptedOncePending) {
  Order o = new_order();
  auto r = request_cancel(o, 2000);
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(*r, CancelDecision::kAccept);
  EXPECT_TRUE(o.cancel_requested);
  EXPECT_EQ(o.updated_ms, 2000);
  auto again = request_cancel(o, 3000);
  ASSERT_TRUE(again.has_value());
  EXPECT_EQ(*again, CancelDecision::kAlreadyCancelling);
  EXPECT_EQ(o.updated_ms, 2000);
}

TEST(RequestCancel, AcceptedWhenCompletedNotDispatched) {
  Order o = new_order();
  o.status = "COMPLETED";
  o.fulfillment_status = "INITIATED";
  EXPECT_EQ(request_cancel(o, 2000).value_or(CancelDecision::kAlreadyCancelled), CancelDecision::kAccept);
}

TEST(RequestCancel, FailedIsConflict) {
  Order o = new_order();
  o.status = "FAILED";
  auto r = request_cancel(o, 2000);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, Errc::kConflict);
  EXPECT_FALSE(o.cancel_requested);
}

TEST(RequestCancel, DispatchedOrDeliveredIsConflict) {
  for (const char* f : {"DISPATCHED", "DELIVERED"}) {
    Order o = new_order();
    o.status = "COMPLETED";
    o.fulfillment_status = f;
    auto r = request_cancel(o, 2000);
    ASSERT_FALSE(r.has_value()) << f;
    EXPECT_EQ(r.error().code, Errc::kConflict) << f;
    EXPECT_FALSE(o.cancel_requested);
  }
}

TEST(RequestCancel, CancelledIsAlreadyCancelled) {
  Order o = new_order();
  o.status = "CANCELLED";
  auto r = request_cancel(o, 2000);
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(*r, CancelDecision::kAlreadyCancelled);
}

// ---- follow ----

SagaView view(std::string status, std::int64_t version, std::int64_t at) {
  return SagaView{std::move(status), "PENDING", "PENDING", std::nullopt, std::nullopt, false, version, at};
}

TEST(Follow, AppliesNewerViews) {
  Order o = new_order();
  SagaView v = view("PENDING", 3, 1500);
  v.inventory_status = "RESERVED";
  EXPECT_TRUE(follow(o, v));
  EXPECT_EQ(o.saga_version, 3);
  EXPECT_EQ(o.inventory_status, "RESERVED");
  EXPECT_EQ(o.updated_ms, 1500);
}

TEST(Follow, IgnoresStaleAndRepeatedVersions) {
  Order o = new_order();
  SagaView done = view("COMPLETED", 7, 2000);
  done.payment_status = "COMPLETED";
  ASSERT_TRUE(follow(o, done));
  SagaView stale = view("PENDING", 5, 1800);
  EXPECT_FALSE(follow(o, stale));
  EXPECT_FALSE(follow(o, view("FAILED", 7, 2100)));
  EXPECT_EQ(o.status, "COMPLETED");
  EXPECT_EQ(o.payment_status, "COMPLETED");
  EXPECT_EQ(o.saga_version, 7);
  EXPECT_EQ(o.updated_ms, 2000);
}

TEST(Follow, CompletedAtSetOnce) {
  Order o = new_order();
  ASSERT_TRUE(follow(o, view("COMPLETED", 5, 2000)));
  EXPECT_EQ(o.completed_ms, std::optional<std::int64_t>(2000));
  SagaView later = view("COMPLETED", 6, 3000);
  later.fulfillment_status = "DISPATCHED";
  ASSERT_TRUE(follow(o, later));
  EXPECT_EQ(o.completed_ms, std::optional<std::int64_t>(2000));
  EXPECT_EQ(o.updated_ms, 3000);
  EXPECT_EQ(o.cancelled_ms, std::nullopt);
}

TEST(Follow, CancelledAtSetOnceAndReasonKept) {
  Order o = new_order();
  ASSERT_TRUE(follow(o, view("COMPLETED", 5, 2000)));
  SagaView c = view("CANCELLED", 9, 4000);
  c.reason = "cancelled on request";
  ASSERT_TRUE(follow(o, c));
  EXPECT_EQ(o.cancelled_ms, std::optional<std::int64_t>(4000));
  EXPECT_EQ(o.completed_ms, std::optional<std::int64_t>(2000));
  EXPECT_EQ(o.failure_reason, std::optional<std::string>("cancelled on request"));
  SagaView again = view("CANCELLED", 10, 5000);
  again.payment_status = "REFUNDED";
  ASSERT_TRUE(follow(o, again));
  EXPECT_EQ(o.cancelled_ms, std::optional<std::int64_t>(4000));
}

TEST(Follow, FailureReasonOnlyForTerminalOutcomes) {
  Order o = new_order();
  SagaView pending = view("PENDING", 2, 1500);
  pending.reason = "TIMEOUT: payment";  // the saga is still compensating
  ASSERT_TRUE(follow(o, pending));
  EXPECT_EQ(o.failure_reason, std::nullopt);
  SagaView failed = view("FAILED", 3, 1600);
  failed.reason = "TIMEOUT: payment";
  ASSERT_TRUE(follow(o, failed));
  EXPECT_EQ(o.failure_reason, std::optional<std::string>("TIMEOUT: payment"));
}

TEST(Follow, KeepsCancelRequestedWhilePending) {
  Order o = new_order();
  ASSERT_EQ(request_cancel(o, 1100).value_or(CancelDecision::kAlreadyCancelled), CancelDecision::kAccept);
  // An update written before the saga read the cancel.
  ASSERT_TRUE(follow(o, view("PENDING", 2, 1200)));
  EXPECT_TRUE(o.cancel_requested);
  EXPECT_EQ(request_cancel(o, 1300).value_or(CancelDecision::kAccept), CancelDecision::kAlreadyCancelling);
  // The saga saw it.
  SagaView seen = view("PENDING", 3, 1400);
  seen.cancel_requested = true;
  seen.cancel_seq = 1;
  ASSERT_TRUE(follow(o, seen));
  EXPECT_TRUE(o.cancel_requested);
  ASSERT_TRUE(follow(o, view("CANCELLED", 4, 1500)));
  EXPECT_EQ(o.status, "CANCELLED");
}

TEST(Follow, CancelRejectedClearsCancelRequested) {
  Order o = new_order();
  ASSERT_TRUE(follow(o, view("COMPLETED", 5, 2000)));
  ASSERT_TRUE(request_cancel(o, 2100).has_value());
  SagaView compensating = view("COMPLETED", 6, 2200);
  compensating.cancel_requested = true;
  compensating.cancel_seq = 1;  // written after the saga saw the first cancel
  ASSERT_TRUE(follow(o, compensating));
  EXPECT_TRUE(o.cancel_requested);
  SagaView rejected = view("COMPLETED", 7, 2300);
  rejected.fulfillment_status = "DISPATCHED";
  rejected.cancel_seq = 1;
  ASSERT_TRUE(follow(o, rejected));
  EXPECT_FALSE(o.cancel_requested);
  EXPECT_EQ(o.status, "COMPLETED");
}

// The comment in follow() promises that an accepted cancel "stays visible until the saga has
// seen it". For a COMPLETED order (cancel is allowed until dispatch) an update the saga wrote
// before reading the cancel - e.g. a manual refund - still says cancel_requested=false and
// COMPLETED, and wipes the flag: a second cancel is then accepted again instead of
// kAlreadyCancelling.
TEST(Follow, KeepsCancelRequestedOnCompletedOrderUntilSagaSeesIt) {
  Order o = new_order();
  SagaView done = view("COMPLETED", 5, 2000);
  done.fulfillment_status = "INITIATED";
  done.payment_status = "COMPLETED";
  ASSERT_TRUE(follow(o, done));
  ASSERT_EQ(request_cancel(o, 2100).value_or(CancelDecision::kAlreadyCancelled), CancelDecision::kAccept);
  SagaView manual_refund = done;  // written by the saga before it read the cancel
  manual_refund.version = 6;
  manual_refund.at_ms = 2150;
  manual_refund.payment_status = "REFUNDED";
  ASSERT_TRUE(follow(o, manual_refund));
  EXPECT_TRUE(o.cancel_requested);
  EXPECT_EQ(request_cancel(o, 2200).value_or(CancelDecision::kAccept), CancelDecision::kAlreadyCancelling);
}

}  // namespace
}  // namespace oms::order::domain
