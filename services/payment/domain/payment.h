#pragma once
// Payments: the built-in provider simulator's decision and the refund rules. Pure C++.
#include <cstdint>
#include <optional>
#include <string>

#include "libs/core/error.h"
#include "libs/core/money.h"

namespace oms::payment::domain {

struct Payment {
  std::string id, order_id;
  Money amount;
  std::string currency;
  std::string status = "PENDING";  // PENDING | COMPLETED | FAILED | REFUNDED
  std::optional<std::string> transaction_id, failure_reason;
  std::int64_t created_ms = 0, updated_ms = 0;
  std::optional<std::string> owner_id;  // the order's user (none for payments made before owners were kept)
};

// The simulator: declines any amount above the limit, captures the rest.
Payment charge(std::string id, std::string order_id, Money amount, std::string currency, Money limit,
               std::string transaction_id, std::int64_t now);

// A payment that never reached the provider, fenced off by a refund that came first.
Payment voided(std::string id, std::string order_id, std::int64_t now);

enum class RefundOutcome { kRefunded, kAlreadyRefunded, kNothingCaptured };
// Compensation refund: always succeeds (there may be nothing to give back).
RefundOutcome compensate(Payment& p, std::int64_t now);
// Manual refund: 409 unless the payment is COMPLETED or already REFUNDED.
Result<RefundOutcome> manual_refund(Payment& p, std::int64_t now);

}  // namespace oms::payment::domain
