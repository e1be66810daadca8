#pragma once
// One service composed and run: its database, the relay that publishes its outbox (told of every
// commit), its routes and its background work. `oms run` hosts the six on one in-process bus,
// `oms serve` one on JetStream, and the all-services test six on PostgreSQL: one composition
// for all three, in one order.
#include <string>

#include "libs/bus/relay.h"
#include "libs/runtime/context.h"
#include "services/catalog.h"

namespace oms::services {

class Host {
 public:
  // Opens the database (PostgreSQL connects lazily when it is not up yet) and ties the relay to
  // its commits. Nothing is published until start().
  Host(const Hosted& service, const storage::DbOptions& db, bus::Bus& bus, http::Router& router,
       const runtime::Settings& settings, runtime::Metrics& metrics);
  ~Host();
  Host(const Host&) = delete;
  Host& operator=(const Host&) = delete;

  // Applies the schema and adds the routes and consumers. Throws when the database refuses;
  // `oms serve` calls it again until it succeeds.
  void install();
  // Once the bus runs: the relay publishes whatever a previous run left, the timers start.
  void start();
  // Timers first, then the relay (what it has not published stays in the outbox for next time).
  void stop();
  bool idle() const { return relay_.idle(); }  // nothing waiting to be published

  storage::Database& db() { return db_; }

 private:
  const Hosted& service_;
  bus::Bus& bus_;
  http::Router& router_;
  const runtime::Settings& settings_;
  runtime::Metrics& metrics_;
  storage::Database db_;  // before the relay, which uses it
  bus::Relay relay_;
  runtime::Background background_;
  bool started_ = false;
};

}  // namespace oms::services
