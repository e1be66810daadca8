#pragma once
// The six services with their names and entry points, in start order. The one list every
// composition uses (embedded mode hosts all of them; tests and, later, `oms serve` pick by name).
#include <span>
#include <string_view>

#include "libs/runtime/context.h"

namespace oms::services {

struct Hosted {
  std::string_view name;
  runtime::Background (*reg)(runtime::ServiceContext&);
};

std::span<const Hosted> all();

}  // namespace oms::services
