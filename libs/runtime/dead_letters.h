#pragma once
// The admin view of a service's dead-letter store (DESIGN.md: "visible and retryable through an
// admin API"):
//   GET  /api/admin/<service>/dead-letters             the messages that failed too often
//   POST /api/admin/<service>/dead-letters/{id}/retry  hands one to its consumer again
// Admin only (403 otherwise).
#include <string>

#include "libs/bus/bus.h"
#include "libs/runtime/context.h"

namespace oms::runtime {

void register_dead_letter_routes(ServiceContext& ctx, const std::string& service, const bus::Subscription& sub);

}  // namespace oms::runtime
