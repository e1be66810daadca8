#include "services/fulfillment/domain/task.h"

namespace oms::fulfillment::domain {

bool valid_status_filter(std::string_view s) {
  return s == "ALL" || s == "INITIATED" || s == "DISPATCHED" || s == "DELIVERED" || s == "CANCELLED";
}

Result<void> dispatch(Task& t, std::string tracking, std::int64_t now) {
  if (t.status != "INITIATED")
    return fail(Errc::kConflict, "task of order " + t.order_id + " is " + t.status + ", cannot dispatch");
  t.status = "DISPATCHED";
  t.tracking_number = std::move(tracking);
  t.updated_ms = now;
  return {};
}

Result<void> deliver(Task& t, std::int64_t now) {
  if (t.status != "DISPATCHED")
    return fail(Errc::kConflict, "task of order " + t.order_id + " is " + t.status + ", cannot deliver");
  t.status = "DELIVERED";
  t.updated_ms = now;
  return {};
}

CancelOutcome cancel(Task& t, std::int64_t now) {
  if (t.status == "DISPATCHED" || t.status == "DELIVERED") return CancelOutcome::kAlreadyShipped;
  if (t.status != "CANCELLED") {
    t.status = "CANCELLED";
    t.updated_ms = now;
  }
  return CancelOutcome::kCancelled;
}

}  // namespace oms::fulfillment::domain
