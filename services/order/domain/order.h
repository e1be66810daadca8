#pragma once
// The order aggregate: validation of a new order, the cancel decision, and following the saga.
// Pure C++: no I/O, no SQL, no JSON.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "libs/core/error.h"
#include "libs/core/money.h"

namespace oms::order::domain {

struct Line {
  std::string product_id;
  std::int64_t quantity = 0;
  Money price;
};

// What the HTTP adapter could read from the body, before validation. A field that was present but
// of the wrong JSON type is reported by the adapter itself.
struct Draft {
  std::optional<std::string> customer_email;
  std::vector<Line> items;
  bool items_present = false;
  std::optional<std::string> currency;
};

struct NewOrder {
  std::string customer_email;
  std::vector<Line> items;
  std::string currency;
  Money total;
};

Result<NewOrder> validate(const Draft& d);
bool valid_email(std::string_view email);
bool valid_idempotency_key(std::string_view key);
// The validated content in one canonical string: equal requests give equal strings whatever the
// key order, white space or number format of the JSON they came in.
std::string canonical(const NewOrder& o);
// The one rule for the case of an email: ASCII letters compare case-insensitively, everything
// else exactly (no Unicode case folding). Lookups by email and the Idempotency-Key check both
// use it. email_key is the form stored for lookups.
std::string email_key(std::string_view email);
// Whether two canonical() strings are the same request under that rule.
bool same_request(std::string_view a, std::string_view b);

struct Order {
  std::string order_id, user_id, customer_email;
  std::vector<Line> items;
  Money total;
  std::string currency;
  std::string status = "PENDING";  // PENDING | COMPLETED | FAILED | CANCELLED
  std::string payment_status = "PENDING", inventory_status = "PENDING";
  std::optional<std::string> fulfillment_status, failure_reason;
  bool cancel_requested = false;
  std::int64_t cancel_seq = 0;  // cancels accepted so far
  std::int64_t saga_version = 0;
  std::int64_t created_ms = 0, updated_ms = 0;
  std::optional<std::int64_t> completed_ms, cancelled_ms;
};

Order create(std::string order_id, std::string user_id, NewOrder o, std::int64_t now);

enum class CancelDecision { kAccept, kAlreadyCancelling, kAlreadyCancelled };
// 409 for an order that already failed or whose shipment left.
Result<CancelDecision> request_cancel(Order& o, std::int64_t now);

struct SagaView {
  std::string order_status, payment_status, inventory_status;
  std::optional<std::string> fulfillment_status, reason;
  bool cancel_requested;
  std::int64_t version, at_ms;
  std::int64_t cancel_seq = 0;  // the highest cancel the saga had seen
  bool needs_attention = false;  // a compensation failed past its retries: `reason` names the step
};
// Applies the saga's newest view; returns false for a stale (older or repeated) one.
bool follow(Order& o, const SagaView& v);

}  // namespace oms::order::domain
