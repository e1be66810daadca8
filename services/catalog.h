#pragma once
// The six services: name, default port, the public routes they own and their entry point, in
// start order. The one list every composition takes its services from: `oms run` hosts all of
// them, `oms serve <name>` one, the gateway routes by it, and scripts/cluster and the tests read
// it from `oms services`.
#include <span>
#include <string_view>

#include "libs/runtime/context.h"

namespace oms::services {

struct Hosted {
  std::string_view name;
  int port;                // `oms serve <name>` listens here unless told otherwise
  std::string_view route;  // /api/<route>/… are its routes (and /api/admin/<name>/…)
  runtime::Background (*reg)(runtime::ServiceContext&);
};

constexpr int kGatewayPort = 8080;

std::span<const Hosted> all();
const Hosted* find(std::string_view name);            // nullptr: no such service
const Hosted* find_by_route(std::string_view route);  // nullptr: no service owns it

}  // namespace oms::services
