#pragma once
// What a service module gets from the process that hosts it: its own database, the bus, a
// router for its HTTP routes, the settings and the metrics. The same module runs in embedded
// mode (one process, SQLite, in-process bus) and distributed mode (PostgreSQL, JetStream).
#include "libs/bus/bus.h"
#include "libs/http/router.h"
#include "libs/runtime/metrics.h"
#include "libs/runtime/settings.h"
#include "libs/storage/database.h"

namespace oms::runtime {

struct ServiceContext {
  storage::Database& db;
  bus::Bus& bus;
  http::Router& router;
  const Settings& settings;
  Metrics& metrics;
};

// The hooks a module may leave behind: background work started after the bus (timers), and
// stopped before it.
struct Background {
  std::function<void()> start;
  std::function<void()> stop;
};

}  // namespace oms::runtime
