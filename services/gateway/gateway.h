#pragma once
// The public entry: request ids, authentication (the token → user and role), rate limiting,
// login, the operations endpoints, metrics, access logs; then the upstream — in embedded mode the
// services' routers in this process, in distributed mode an HTTP client to their replicas (which
// verify the token again: docs/adr/0010).
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "libs/auth/access.h"
#include "libs/http/message.h"
#include "libs/runtime/metrics.h"

namespace oms::gateway {

struct GatewayOptions {
  double rate_limit_rps = 0;  // per user and per client address; 0 = off
  // Dev mode's login: the key that signs tokens, and what a staff or admin login must present.
  // No issuer (`--auth external`): tokens come from the identity provider; login answers 404.
  const auth::JwtCodec* issuer = nullptr;
  std::string operator_password;
  // What /metrics shows; empty: this process's metrics (embedded mode hosts everything).
  std::function<std::string()> metrics_text = {};
};

// Distributed mode's /metrics at the gateway: the whole system's totals in one scrape. Takes the
// gateway's own oms_http_* families from `own` and every other family summed over `services`
// (the text of each service replica's /metrics), sample by sample (counters and histogram
// buckets add up; a gauge is the highest replica's: the replicas of a service measure the same
// database, e.g. oms_sagas_needing_attention). Each process's own /metrics stays available for per-replica scraping.
std::string merge_metrics(const std::string& own, const std::vector<std::string>& services);

class RateLimiter {
 public:
  explicit RateLimiter(double rps) : rps_(rps), burst_(std::max(1.0, rps)) {}
  // True when `key` may make one more request now.
  bool allow(const std::string& key, std::int64_t now_ms);

 private:
  struct Bucket {
    double tokens;
    std::int64_t at_ms;
  };
  double rps_, burst_;
  std::mutex mu_;
  std::unordered_map<std::string, Bucket> buckets_;
};

// Failed password logins, limited per user id ("u:…" keys) and per client address ("a:…"): after
// kMaxPerUser (kMaxPerAddress) failures within kWindowMs, that user id (address) gets 429 until
// the window has passed. An address is allowed more: several people may share one.
class LoginGuard {
 public:
  static constexpr int kMaxPerUser = 5;
  static constexpr int kMaxPerAddress = 20;
  static constexpr std::int64_t kWindowMs = 5 * 60 * 1000;
  // 0 when `keys` may try now, else the seconds to wait.
  std::int64_t blocked_for(const std::vector<std::string>& keys, std::int64_t now_ms);
  void failed(const std::vector<std::string>& keys, std::int64_t now_ms);
  void succeeded(const std::string& key);

 private:
  struct Window {
    std::int64_t start_ms;
    int failures;
  };
  std::mutex mu_;
  std::unordered_map<std::string, Window> windows_;
};

class Gateway {
 public:
  using Upstream = std::function<http::Response(http::Request&)>;
  Gateway(GatewayOptions options, const auth::Access& access, runtime::Metrics& metrics, Upstream upstream,
          std::function<std::string()> not_ready);  // "": ready; else why not (/readyz)
  http::Response handle(http::Request& req);

 private:
  http::Response route(http::Request& req);
  http::Response login(http::Request& req);

  GatewayOptions options_;
  const auth::Access& access_;
  LoginGuard guard_;
  runtime::Metrics& metrics_;
  Upstream upstream_;
  std::function<std::string()> not_ready_;
  std::unique_ptr<RateLimiter> limiter_;
};

}  // namespace oms::gateway
