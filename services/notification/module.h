#pragma once
#include "libs/runtime/context.h"

namespace oms::notification {

// Registers the notification service: schema, route (/api/notifications) and its consumer of
// order, saga, payment and shipment events. Sending is simulated: a notification is recorded
// (and logged); the (order, type) unique key makes every event notify exactly once.
runtime::Background register_notification(runtime::ServiceContext& ctx);

}  // namespace oms::notification
