#pragma once
#include "libs/runtime/context.h"

namespace oms::inventory {

// Registers the inventory service: schema (and the demo catalog on a fresh system), routes
// (/api/inventory) and its consumer of reserve/release commands and dispatch events.
runtime::Background register_inventory(runtime::ServiceContext& ctx);

}  // namespace oms::inventory
