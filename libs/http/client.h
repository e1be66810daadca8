#pragma once
// The gateway's way to the services in distributed mode: an HTTP/1.1 client with a keep-alive
// connection pool per replica, round-robin over the replicas of one service.
//
// A replica that refuses a connection or fails mid-request is taken out for `down_ms` and then
// tried again (the next request that comes after that time probes it). When every replica is
// out, they are all tried anyway, so that a service that comes back is used at once. A request
// whose connection failed before anything was sent goes to the next replica; one that failed
// after it was sent is sent again only when the caller says repeating it is harmless, and
// otherwise answered 503.
//
// Threads: forward() may be called from many threads at once; each call blocks its thread.
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "libs/http/message.h"

namespace oms::http {

struct UpstreamOptions {
  int connect_timeout_ms = 1000;
  int request_timeout_ms = 15000;
  int down_ms = 1000;        // how long a failed replica is left out
  int max_idle_per_replica = 64;
};

class Upstream {
 public:
  // service: for messages; base_urls: "http://host:port", one per replica.
  Upstream(std::string service, const std::vector<std::string>& base_urls, UpstreamOptions options = {});
  ~Upstream();
  Upstream(const Upstream&) = delete;
  Upstream& operator=(const Upstream&) = delete;

  // Sends the request (method, target, headers, body) to one replica and returns its answer,
  // or a 503 problem when no replica could answer. `repeatable`: sending it twice does no harm
  // (a read, or a write the service de-duplicates), so it may go to another replica after a
  // failure that left its fate unknown.
  Response forward(const Request& req, bool repeatable);
  // Sends a GET to every replica; returns the answers of those that answered (/metrics, /readyz).
  std::vector<Response> get_all(const std::string& target);
  // Sends the request to every replica, once each; an answer per replica, in order (a 503
  // problem for one that did not answer). For settings every replica must hold (faults).
  std::vector<Response> forward_all(const Request& req);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Parses "http://host:port" (no path); throws std::invalid_argument otherwise.
std::pair<std::string, std::uint16_t> parse_base_url(const std::string& url);

}  // namespace oms::http
