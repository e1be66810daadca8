#pragma once
// `oms serve <service>`: one process of a distributed deployment.
#include <map>
#include <string>
#include <vector>

#include "libs/runtime/settings.h"

namespace oms::app {

struct ServeOptions {
  std::string service;   // gateway | order | inventory | payment | fulfillment | saga | notification
  std::string db_url;    // the service's own PostgreSQL database
  std::string nats_url = "nats://127.0.0.1:4222";  // comma-separated
  int stream_replicas = 1;
  // Gateway: base URLs ("http://host:port") of each service's replicas.
  std::map<std::string, std::vector<std::string>> upstreams;
};

// The default port of each process (DESIGN.md): gateway 8080, order 8081, payment 8082,
// inventory 8083, notification 8084, saga 8085, fulfillment 8086.
int default_port(const std::string& service);

// A service: its routes on HTTP, its database on PostgreSQL, its messages through JetStream.
// /readyz answers 503 until the database and NATS are reachable (and whenever they are not).
int run_service(const runtime::Settings& settings, const ServeOptions& options);

// The gateway: authentication, rate limits and the operations endpoints, then HTTP to the
// services' replicas.
int run_gateway(const runtime::Settings& settings, const ServeOptions& options);

}  // namespace oms::app
