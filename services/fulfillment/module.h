#pragma once
#include "libs/runtime/context.h"

namespace oms::fulfillment {

// Registers the fulfillment service: schema, routes (/api/fulfillment) and its consumer of
// create/cancel commands.
runtime::Background register_fulfillment(runtime::ServiceContext& ctx);

}  // namespace oms::fulfillment
