#pragma once
// What the customer is told, for which event — and the operators, when a saga needs attention.
// Pure C++: the text of every notification.
#include <optional>
#include <string>

namespace oms::notification::domain {

struct Draft {
  std::string type;  // ORDER_CREATED | ORDER_COMPLETED | ORDER_FAILED | ORDER_CANCELLED | PAYMENT_REFUNDED |
                     // ORDER_DISPATCHED | OPERATOR_ALERT
  std::string subject;
  std::string body;
};

Draft order_created(const std::string& order_id, const std::string& total);
// For a saga state: a draft when the state is one the customer hears about.
std::optional<Draft> saga_outcome(const std::string& order_id, const std::string& saga_state,
                                  const std::optional<std::string>& reason);
Draft payment_refunded(const std::string& order_id);
Draft order_dispatched(const std::string& order_id, const std::string& tracking);
// To the operators: a saga's compensation failed past its retries (NEEDS_ATTENTION).
Draft operator_alert(const std::string& order_id, const std::string& reason);

}  // namespace oms::notification::domain
