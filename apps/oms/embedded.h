#pragma once
#include <memory>

#include "libs/http/message.h"
#include "libs/runtime/settings.h"

namespace oms::app {

// The gateway and all six services in this process, each service on its own SQLite file in the
// data directory, messages through the in-process bus: `oms run` serves it over HTTP; the fuzz
// targets (fuzz/) hand it requests directly.
class EmbeddedSystem {
 public:
  // Opens (or creates) the databases in settings.data_dir and adds the routes. Throws when a
  // database cannot be opened or migrated.
  explicit EmbeddedSystem(const runtime::Settings& settings);
  // Runs the bus and the services' background work (relays, timers): the sagas move. The fuzz
  // targets leave it out, so that a request's coverage depends on the request alone.
  void start();
  // Lets the sagas in flight move on (up to 5 s; the outboxes keep the rest), then stops.
  ~EmbeddedSystem();
  EmbeddedSystem(const EmbeddedSystem&) = delete;
  EmbeddedSystem& operator=(const EmbeddedSystem&) = delete;

  // One request through the gateway (authentication, routing, the service's handler). Safe to
  // call from several threads at once.
  http::Response handle(http::Request& req);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// `oms run`: the system above behind the HTTP server. Returns the exit code after SIGTERM/SIGINT.
int run_embedded(const runtime::Settings& settings);

}  // namespace oms::app
