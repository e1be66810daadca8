#pragma once
// A TCP port on 127.0.0.1 that was free a moment ago (for servers that tests start themselves).
namespace oms::testing {

int free_loopback_port();

}  // namespace oms::testing
