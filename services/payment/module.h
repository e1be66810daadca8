#pragma once
#include "libs/runtime/context.h"

namespace oms::payment {

// Registers the payment service: schema, routes (/api/payments) and its consumer of authorize
// and refund commands. The provider is the built-in simulator (decline limit, fault delay).
runtime::Background register_payment(runtime::ServiceContext& ctx);

}  // namespace oms::payment
