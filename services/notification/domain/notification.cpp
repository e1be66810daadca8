#include "services/notification/domain/notification.h"

namespace oms::notification::domain {

Draft order_created(const std::string& id, const std::string& total) {
  return {"ORDER_CREATED", "Order " + id + " received",
          "We received your order " + id + " totalling " + total + ". We will confirm it shortly."};
}

std::optional<Draft> saga_outcome(const std::string& id, const std::string& state,
                                  const std::optional<std::string>& reason) {
  if (state == "COMPLETED")
    return Draft{"ORDER_COMPLETED", "Order " + id + " confirmed",
                 "Your order " + id + " is confirmed: payment captured, stock reserved, shipment being prepared."};
  if (state == "FAILED")
    return Draft{"ORDER_FAILED", "Order " + id + " could not be completed",
                 "Your order " + id + " could not be completed (" + reason.value_or("unknown reason") +
                     "). Nothing was charged."};
  if (state == "CANCELLED")
    return Draft{"ORDER_CANCELLED", "Order " + id + " cancelled",
                 "Your order " + id + " was cancelled. Any payment taken has been refunded."};
  return std::nullopt;
}

Draft payment_refunded(const std::string& id) {
  return {"PAYMENT_REFUNDED", "Refund for order " + id, "The payment for your order " + id + " was refunded."};
}

Draft order_dispatched(const std::string& id, const std::string& tracking) {
  return {"ORDER_DISPATCHED", "Order " + id + " shipped",
          "Your order " + id + " is on its way. Tracking number: " + tracking + "."};
}

Draft operator_alert(const std::string& order_id, const std::string& reason) {
  return {"OPERATOR_ALERT", "Order " + order_id + " needs attention",
          "The saga of order " + order_id + " stopped: " + reason +
              ". Retry it (POST /api/admin/saga/sagas/" + order_id + "/retry) once the cause is fixed, or"
              " settle it by hand and resolve it (POST /api/admin/saga/sagas/" + order_id + "/resolve)."};
}

}  // namespace oms::notification::domain
