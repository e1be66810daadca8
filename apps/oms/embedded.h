#pragma once
#include "libs/runtime/settings.h"

namespace oms::app {

// `oms run`: the gateway and all six services in this process, each service on its own SQLite
// file in the data directory, messages through the in-process bus. Returns the exit code after
// SIGTERM/SIGINT.
int run_embedded(const runtime::Settings& settings);

}  // namespace oms::app
