#include "services/payment/domain/payment.h"

namespace oms::payment::domain {

Payment charge(std::string id, std::string order_id, Money amount, std::string currency, Money limit,
               std::string transaction_id, std::int64_t now) {
  Payment p;
  p.id = std::move(id);
  p.order_id = std::move(order_id);
  p.amount = amount;
  p.currency = std::move(currency);
  p.created_ms = p.updated_ms = now;
  if (amount > limit) {
    p.status = "FAILED";
    p.failure_reason = "PAYMENT_DECLINED: amount " + format_money(amount) + " exceeds the limit " +
                       format_money(limit);
  } else {
    p.status = "COMPLETED";
    p.transaction_id = std::move(transaction_id);
  }
  return p;
}

Payment voided(std::string id, std::string order_id, std::int64_t now) {
  Payment p;
  p.id = std::move(id);
  p.order_id = std::move(order_id);
  p.currency = "USD";
  p.status = "FAILED";
  p.failure_reason = "VOIDED: cancelled before capture";
  p.created_ms = p.updated_ms = now;
  return p;
}

RefundOutcome compensate(Payment& p, std::int64_t now) {
  if (p.status == "REFUNDED") return RefundOutcome::kAlreadyRefunded;
  if (p.status != "COMPLETED") return RefundOutcome::kNothingCaptured;
  p.status = "REFUNDED";
  p.updated_ms = now;
  return RefundOutcome::kRefunded;
}

Result<RefundOutcome> manual_refund(Payment& p, std::int64_t now) {
  if (p.status == "REFUNDED") return RefundOutcome::kAlreadyRefunded;
  if (p.status != "COMPLETED")
    return fail(Errc::kConflict, "payment of order " + p.order_id + " is " + p.status + ", not COMPLETED");
  p.status = "REFUNDED";
  p.updated_ms = now;
  return RefundOutcome::kRefunded;
}

}  // namespace oms::payment::domain
