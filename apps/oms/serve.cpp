#include "apps/oms/serve.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <thread>

#include "apps/oms/process.h"
#include "libs/auth/access.h"
#include "libs/core/clock.h"
#include "libs/bus/jetstream_bus.h"
#include "libs/core/log.h"
#include "libs/http/client.h"
#include "libs/http/json.h"
#include "libs/http/server.h"
#include "libs/runtime/ops.h"
#include "services/catalog.h"
#include "services/gateway/gateway.h"
#include "services/host.h"

namespace oms::app {
namespace {

using namespace std::chrono_literals;

// Graceful shutdown must end: each step is bounded, but should one hang anyway, say which one
// and exit rather than wait for a SIGKILL that would tell nothing.
class ShutdownWatch {
 public:
  explicit ShutdownWatch(std::string name) : name_(std::move(name)) {
    thread_ = std::thread([this] {
      std::unique_lock lock(mu_);
      if (!cv_.wait_for(lock, 25s, [this] { return done_; })) {
        log::error({name_}, "shutdown stuck in step '" + phase_ + "' for 25 s; exiting. Threads: " + threads());
        std::_Exit(3);
      }
    });
  }
  ~ShutdownWatch() { done(); }
  void phase(std::string p) {
    auto now = std::chrono::steady_clock::now();
    std::lock_guard lock(mu_);
    if (!phase_.empty() && now - started_ > 2s)
      log::warn({name_}, "shutdown step '" + phase_ + "' took " +
                             std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(now - started_).count()) + " ms");
    phase_ = std::move(p);
    started_ = now;
  }
  // What each thread of the process waits in, as the kernel sees it (name, wait channel, and
  // the blocked system call's number and first argument): the evidence a hang leaves.
  static std::string threads() {
    namespace fs = std::filesystem;
    auto first_line = [](const fs::path& p) {
      std::ifstream in(p);
      std::string line;
      std::getline(in, line);
      return line;
    };
    std::string out;
    std::error_code ec;
    for (const auto& t : fs::directory_iterator("/proc/self/task", ec)) {
      std::string syscall = first_line(t.path() / "syscall");
      syscall = syscall.substr(0, syscall.find(' ', syscall.find(' ') + 1));  // number and first argument
      out += "[" + t.path().filename().string() + " " + first_line(t.path() / "comm") + " wchan=" +
             first_line(t.path() / "wchan") + " syscall=" + syscall + "] ";
    }
    return out;
  }

  void done() {
    phase("");
    {
      std::lock_guard lock(mu_);
      done_ = true;
    }
    cv_.notify_all();
    if (thread_.joinable()) thread_.join();
  }

 private:
  std::string name_, phase_;
  std::chrono::steady_clock::time_point started_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool done_ = false;
  std::thread thread_;
};

}  // namespace

int default_port(const std::string& service) {
  if (service == "gateway") return services::kGatewayPort;
  const services::Hosted* s = services::find(service);
  return s ? s->port : -1;
}

int run_service(const runtime::Settings& settings, const ServeOptions& options) {
  const services::Hosted* svc = services::find(options.service);
  if (!svc) throw std::invalid_argument("unknown service " + options.service);
  if (options.db_url.empty()) throw std::invalid_argument("--db-url (OMS_DB_URL) is required for " + options.service);
  // Every service verifies the caller's token itself (docs/adr/0010): in dev mode with the
  // gateway's key, under --auth external with the identity provider's public keys.
  if (settings.auth != "external" && settings.jwt_secret.empty())
    throw std::invalid_argument("--jwt-secret (OMS_JWT_SECRET), the gateway's, is required for " + options.service);
  const std::string name(svc->name);
  Identity identity = make_identity(settings, settings.jwt_secret);
  const auth::Access& access = *identity.access;
  sigset_t signals = block_stop_signals();
  // Declared first, so destroyed last: it also watches the destructors (relay, bus, database).
  std::optional<ShutdownWatch> watch;

  runtime::Metrics metrics;
  bus::JetStreamBus bus(options.nats_url, options.stream_replicas);
  bus.on_dead_letter([&metrics] { metrics.dead_letters.Increment(); });
  bus.connect();  // retries in the background while NATS is not up
  http::Router router;
  std::atomic<bool> routing{false};  // set once the schema is in place and the routes are added
  storage::DbOptions dbo;
  dbo.url = options.db_url;
  dbo.pool_size = 8;
  services::Host host(*svc, dbo, bus, router, settings, metrics);  // connects lazily, like the bus

  // Readiness: the process can do its work (its database and NATS answer), beyond serving HTTP.
  auto not_ready = [&]() -> std::string {
    if (!host.db().ping()) return "the database is unreachable";
    if (!bus.connected()) return "NATS is unreachable";
    if (!routing) return "starting";
    return {};
  };
  auto handle = [&](http::Request& req) -> http::Response {
    req.request_id = runtime::request_id_of(req);
    log::RequestScope scope(req.request_id);
    http::Response res;
    if (auto r = runtime::ops_endpoint(req, [&metrics] { return metrics.serialize(); }, not_ready)) {
      res = std::move(*r);
    } else if (!routing) {
      res = http::problem(503, "the " + name + " service is starting: waiting for its database", req.path);
    } else if (auto who = access.authenticate(req.header("authorization"), now_ms() / 1000); !who) {
      // Whoever reaches this port, through the gateway or around it, shows a valid token: the
      // X-User-Id header proves nothing.
      res = http::from_error(who.error(), req.path);
    } else {
      req.user_id = std::move(who->user);
      req.role = who->role;
      res = router.dispatch(req);
    }
    res.set_header("X-Request-Id", req.request_id);
    metrics.http_request(req.method, res.status).Increment();
    return res;
  };
  http::Server server(server_options(settings), handle);
  std::uint16_t port = server.start();
  bool secret = options.db_url.find('@') != std::string::npos || options.db_url.find("password") != std::string::npos;
  log::info({name}, "serving on " + settings.host + ":" + std::to_string(port) + "; database " +
                        (secret ? "(url with credentials, not logged)" : options.db_url) + ", NATS " + options.nats_url);
  print_ready(settings.host, port);

  // The schema first (every replica may run this: it is versioned and serialized by a lock).
  for (int attempt = 1;; ++attempt) {
    if (host.db().ping()) {
      try {
        host.install();
        break;
      } catch (const std::exception& e) {
        log::warn({name}, std::string("start-up: ") + e.what());
      }
    } else if (attempt == 1 || attempt % 20 == 0) {
      log::warn({name}, "waiting for the database");
    }
    if (int sig = poll_stop_signal(signals, 500ms)) {
      log::info({name}, std::string("stopping on ") + signal_name(sig));
      server.stop();
      return 0;
    }
  }
  bus.start();
  host.start();  // publishes whatever is left in the outbox, starts the timers
  routing = true;
  log::info({name}, "ready");

  int sig = wait_stop_signal(signals);
  log::info({name}, std::string("stopping on ") + signal_name(sig));
  watch.emplace(name);
  watch->phase("http server");
  server.stop();
  watch->phase("drain");
  auto until = std::chrono::steady_clock::now() + 5s;
  while (std::chrono::steady_clock::now() < until && !(bus.idle() && host.idle())) std::this_thread::sleep_for(20ms);
  watch->phase("timers and relay");
  host.stop();
  watch->phase("consumers");
  bus.stop();
  watch->phase("closing the NATS connection");
  bus.close();
  log::info({name}, "stopped");
  watch->phase("releasing connections");  // the destructors below; the watch goes last
  return 0;
}

int run_gateway(const runtime::Settings& settings, const ServeOptions& options) {
  sigset_t signals = block_stop_signals();
  bool dev = settings.auth != "external";
  std::string secret = settings.jwt_secret, password;
  if (dev && (secret.empty() || settings.admin_password.empty())) secure_data_dir(settings.data_dir);
  if (dev && secret.empty()) secret = load_or_create_secret(settings.data_dir);
  if (dev) password = operator_password(settings);
  Identity identity = make_identity(settings, secret);
  runtime::Metrics metrics;

  std::map<std::string, std::unique_ptr<http::Upstream>> upstreams;
  for (const auto& s : services::all()) {
    std::string svc(s.name);
    auto it = options.upstreams.find(svc);
    std::vector<std::string> urls;
    if (it != options.upstreams.end() && !it->second.empty()) urls = it->second;
    else urls = {"http://127.0.0.1:" + std::to_string(default_port(svc))};
    upstreams[svc] = std::make_unique<http::Upstream>(svc, urls);
    log::info({"gateway"}, "upstream " + svc + ": " + std::to_string(urls.size()) + " replica(s)");
  }
  // The first path segment after /api names the service (/api/admin/<service>/… for admin).
  auto route = [&upstreams](http::Request& req) -> http::Response {
    std::string_view rest = std::string_view(req.path).substr(std::min<std::size_t>(req.path.size(), 5));  // "/api/"
    auto seg = [&rest] {
      auto slash = rest.find('/');
      std::string_view s = rest.substr(0, slash);
      rest = slash == std::string_view::npos ? std::string_view{} : rest.substr(slash + 1);
      return s;
    };
    std::string_view first = seg();
    std::string service;
    if (first == "admin") service = std::string(seg());
    else if (const services::Hosted* owner = services::find_by_route(first)) service = std::string(owner->name);
    auto up = upstreams.find(service);
    if (up == upstreams.end()) return http::problem(404, "no route for " + req.path, req.path);
    req.set_header("x-request-id", req.request_id);
    // Sending again is harmless for reads, and for creating an order with an Idempotency-Key (the
    // order service replays the first answer). Other writes honour no key: never repeated.
    bool repeatable = req.method == "GET" || req.method == "HEAD" ||
                      (req.method == "POST" && req.path == "/api/orders" && req.header("idempotency-key"));
    // Fault settings live in each replica's memory: a change goes to all of them (API.md).
    if (req.method == "PUT" && first == "admin" && (rest == "faults" || rest == "faults/")) {
      auto answers = up->second->forward_all(req);
      for (auto& a : answers)
        if (a.status != 200) return std::move(a);
      return std::move(answers.front());
    }
    return up->second->forward(req, repeatable);
  };
  // Ready when every service has a replica that says it is ready (all replicas are asked, at most
  // once a second).
  std::mutex ready_mu;
  auto asked_at = std::chrono::steady_clock::time_point{};
  std::string not_ready_cached;
  auto not_ready = [&]() -> std::string {
    std::lock_guard lock(ready_mu);
    if (std::chrono::steady_clock::now() - asked_at < 1s) return not_ready_cached;
    not_ready_cached.clear();
    for (auto& [svc, up] : upstreams) {
      auto answers = up->get_all("/readyz");
      if (std::none_of(answers.begin(), answers.end(), [](const http::Response& r) { return r.status == 200; })) {
        not_ready_cached = "no replica of the " + svc + " service is ready";
        break;
      }
    }
    asked_at = std::chrono::steady_clock::now();
    return not_ready_cached;
  };
  // /metrics: the gateway's HTTP metrics and the services' totals (summed over replicas).
  auto metrics_text = [&upstreams, &metrics] {
    std::vector<std::string> texts;
    for (auto& [svc, up] : upstreams)
      for (auto& r : up->get_all("/metrics"))
        if (r.status == 200) texts.push_back(std::move(r.body));
    return gateway::merge_metrics(metrics.serialize(), texts);
  };
  gateway::Gateway gw({settings.rate_limit_rps, identity.issuer.get(), password, metrics_text}, *identity.access, metrics,
                      route, not_ready);
  http::Server server(server_options(settings), [&gw](http::Request& req) { return gw.handle(req); });
  std::uint16_t port = server.start();
  log::info({"gateway"}, "serving on " + settings.host + ":" + std::to_string(port));
  print_ready(settings.host, port);

  int sig = wait_stop_signal(signals);
  log::info({"gateway"}, std::string("stopping on ") + signal_name(sig));
  server.stop();
  log::info({"gateway"}, "stopped");
  return 0;
}

}  // namespace oms::app
