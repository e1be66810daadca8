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
      {"order", &order::register_order},
      {"inventory", &inventory::register_inventory},
      {"payment", &payment::register_payment},
      {"fulfillment", &fulfillment::register_fulfillment},
      {"saga", &saga::register_saga},
      {"notification", &notification::register_notification},
  };
  return kAll;
}

}  // namespace oms::services
