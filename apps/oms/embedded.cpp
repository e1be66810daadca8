#include "apps/oms/embedded.h"

#include "apps/oms/process.h"

#include <chrono>
#include <filesystem>
#include <thread>

#include "libs/auth/access.h"
#include "libs/bus/inproc_bus.h"
#include "libs/core/log.h"
#include "libs/http/server.h"
#include "services/catalog.h"
#include "services/gateway/gateway.h"
#include "services/host.h"

namespace oms::app {

namespace fs = std::filesystem;

struct EmbeddedSystem::Impl {
  const runtime::Settings settings;  // a copy: the services keep references to it
  Identity identity;
  runtime::Metrics metrics;
  bus::InProcBus bus;
  http::Router router;
  std::vector<std::unique_ptr<services::Host>> hosts;
  std::unique_ptr<gateway::Gateway> gateway;
  bool started = false;

  explicit Impl(const runtime::Settings& s) : settings(s) {
    fs::path dir = settings.data_dir;
    secure_data_dir(settings.data_dir);
    bool dev = settings.auth != "external";
    std::string secret = !dev ? "" : settings.jwt_secret.empty() ? load_or_create_secret(dir) : settings.jwt_secret;
    identity = make_identity(settings, secret);
    bus.on_dead_letter([this] { metrics.dead_letters.Increment(); });
    for (const auto& svc : services::all()) {
      storage::DbOptions opts;
      opts.url = "sqlite:" + (dir / (std::string(svc.name) + ".db")).string();
      opts.durability = settings.durability;
      opts.pool_size = 4;
      hosts.push_back(std::make_unique<services::Host>(svc, opts, bus, router, settings, metrics));
      hosts.back()->install();
    }
    gateway = std::make_unique<gateway::Gateway>(
        // One verification per request: the services in this process trust the gateway's.
        gateway::GatewayOptions{settings.rate_limit_rps, identity.issuer.get(),
                                dev ? operator_password(settings) : ""},
        *identity.access, metrics, [this](http::Request& req) { return router.dispatch(req); },
        [this]() -> std::string {
          for (auto& h : hosts)
            if (!h->db().ping()) return "the database " + h->db().name() + " is unreachable";
          return {};
        });
  }

  void start() {
    bus.start();
    for (auto& h : hosts) h->start();  // re-publishes whatever a previous run left in the outboxes
    started = true;
  }

  ~Impl() {
    if (!started) return;
    // Let the sagas in flight move on as far as they can (bounded): the outboxes keep the rest.
    auto until = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    while (std::chrono::steady_clock::now() < until) {
      bool idle = bus.idle();
      for (auto& h : hosts) idle = idle && h->idle();
      if (idle) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    for (auto& h : hosts) h->stop();
    bus.stop();
  }
};

EmbeddedSystem::EmbeddedSystem(const runtime::Settings& settings) : impl_(std::make_unique<Impl>(settings)) {}
EmbeddedSystem::~EmbeddedSystem() = default;
void EmbeddedSystem::start() { impl_->start(); }
http::Response EmbeddedSystem::handle(http::Request& req) { return impl_->gateway->handle(req); }

int run_embedded(const runtime::Settings& settings) {
  // Block the stop signals in every thread; the main thread waits for them below.
  sigset_t signals = block_stop_signals();
  {
    EmbeddedSystem system(settings);
    system.start();
    http::Server server(server_options(settings), [&system](http::Request& req) { return system.handle(req); });
    std::uint16_t port = server.start();
    log::info({"oms"}, "embedded mode ready on " + settings.host + ":" + std::to_string(port) + ", data in " +
                           fs::absolute(settings.data_dir).string());
    print_ready(settings.host, port);

    int sig = wait_stop_signal(signals);
    log::info({"oms"}, std::string("stopping on ") + signal_name(sig));
    server.stop();  // no new requests; in-flight ones are answered
  }                 // the system drains (bounded) and stops
  log::info({"oms"}, "stopped");
  return 0;
}

}  // namespace oms::app
