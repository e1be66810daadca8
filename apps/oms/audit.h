#pragma once
// `oms audit`: checks the invariants that span services over a whole running deployment, through
// the gateway with an admin token (docs/OPERATIONS.md "Auditing"):
//   - stock: per product available + reserved = total, and reserved = the units its live
//     (RESERVED) reservations hold — read in one snapshot by the inventory service;
//   - every order's status agrees with its saga's state, and every saga has its order;
//   - a paid order that ended FAILED or CANCELLED is refunded (the payment service's record);
//   - a FAILED or CANCELLED order holds no stock; a COMPLETED one not yet dispatched does;
//   - no order is PENDING past its saga's deadline, unless the saga is in NEEDS_ATTENTION
//     (listed as needing attention, not as a violation);
//   - each outcome an order reached is notified exactly once (and no event twice).
// It pages through orders, sagas, notifications and reservations with `before=` / `after=`, so it
// works on a large system while that system runs: orders newer than the audit's start are left
// out, and a finding about an order whose saga may still be in flight is checked again, order by
// order, after a pause (`settle_ms`, `rounds` times) before it is reported.
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "apps/oms/client.h"

namespace oms::app::audit {

// What the services say about one order, as the rules need it.
struct OrderFacts {
  std::string id, status, payment_status, inventory_status, fulfillment_status;  // fulfillment: "" = null
  bool cancel_requested = false;
  struct Saga {
    std::string state, reason;
    std::int64_t deadline_ms = 0;  // 0: not waiting for a step
  };
  std::optional<Saga> saga;
  std::map<std::string, int> notified;              // notification type → how many
  std::optional<std::string> reservation;           // the reservation's state, if it has one
  std::optional<std::string> payment;               // the payment's status, when looked up and found
  bool payment_looked_up = false;
};

// The violations of one order's facts at `now_ms` (each a sentence with the ids involved); empty
// when it is consistent. A saga past its deadline by less than `grace_ms` is not yet stuck.
std::vector<std::string> check_order(const OrderFacts& f, std::int64_t now_ms, std::int64_t grace_ms);

struct Options {
  int page = 1000;        // items per request
  int settle_ms = 2000;   // pause before a finding is checked again
  int rounds = 3;         // how many times a finding is checked again before it counts
};

struct Report {
  std::int64_t orders = 0, sagas = 0, notifications = 0, products = 0, reservations = 0;
  std::vector<std::string> violations, attention;
};

// GET target → answer. The real one is Client::get; tests may pass their own reader of a
// deployment they run.
using Get = std::function<http::Response(const std::string& target)>;

// Runs the audit; throws std::runtime_error when a service's answer is not what the API says
// (e.g. 401/403: the token is not an admin's).
Report run(const Get& get, const Options& options, std::ostream& progress);

// `oms audit`: prints each violation and each saga needing attention, then a summary; returns 0
// when there is no violation, 1 when there is one, 2 when the audit could not run.
int main(const ClientOptions& client, const Options& options);

}  // namespace oms::app::audit
