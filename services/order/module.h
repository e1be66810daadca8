#pragma once
#include "libs/runtime/context.h"

namespace oms::order {

// Registers the order service: schema, routes (/api/orders) and its consumer of saga updates.
runtime::Background register_order(runtime::ServiceContext& ctx);

}  // namespace oms::order
