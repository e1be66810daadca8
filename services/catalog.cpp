#include "services/catalog.h"

#include "services/fulfillment/module.h"
#include "services/inventory/module.h"
#include "services/notification/module.h"
#include "services/order/module.h"
#include "services/payment/module.h"
#include "services/saga/module.h"

namespace oms::services {

std::span<const Hosted> all() {
  static constexpr Hosted kAll[] = {
      {"order", 8081, "orders", &order::register_order},
      {"inventory", 8083, "inventory", &inventory::register_inventory},
      {"payment", 8082, "payments", &payment::register_payment},
      {"fulfillment", 8086, "fulfillment", &fulfillment::register_fulfillment},
      {"saga", 8085, "sagas", &saga::register_saga},
      {"notification", 8084, "notifications", &notification::register_notification},
  };
  return kAll;
}

const Hosted* find(std::string_view name) {
  for (const auto& s : all())
    if (s.name == name) return &s;
  return nullptr;
}

const Hosted* find_by_route(std::string_view route) {
  for (const auto& s : all())
    if (s.route == route) return &s;
  return nullptr;
}

}  // namespace oms::services
