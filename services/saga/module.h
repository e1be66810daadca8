#pragma once
#include "libs/runtime/context.h"

namespace oms::saga {

// Registers the saga orchestrator: its schema, its consumer of every participant's replies, its
// routes (/api/sagas) and the durable timer that fires overdue steps.
runtime::Background register_saga(runtime::ServiceContext& ctx);

}  // namespace oms::saga
