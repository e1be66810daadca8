#include "apps/oms/embedded.h"

#include "apps/oms/process.h"

#include <chrono>
#include <filesystem>
#include <thread>

#include "libs/auth/jwt.h"
#include "libs/bus/inproc_bus.h"
#include "libs/bus/relay.h"
#include "libs/core/log.h"
#include "libs/http/server.h"
#include "services/catalog.h"
#include "services/gateway/gateway.h"

namespace oms::app {

namespace fs = std::filesystem;

int run_embedded(const runtime::Settings& settings) {
  fs::path dir = settings.data_dir;
  fs::create_directories(dir);
  std::string secret = settings.jwt_secret.empty() ? load_or_create_secret(dir) : settings.jwt_secret;
  auth::JwtCodec jwt(secret, "oms", settings.token_ttl_s);

  // Block the stop signals in every thread; the main thread waits for them below.
  sigset_t signals = block_stop_signals();

  runtime::Metrics metrics;
  bus::InProcBus bus;
  bus.on_dead_letter([&metrics] { metrics.dead_letters.Increment(); });
  http::Router router;
  std::vector<std::unique_ptr<storage::Database>> dbs;
  std::vector<std::unique_ptr<bus::Relay>> relays;
  std::vector<runtime::Background> backgrounds;

  for (const auto& svc : services::all()) {
    const std::string name(svc.name);
    storage::DbOptions opts;
    opts.url = "sqlite:" + (dir / (name + ".db")).string();
    opts.durability = settings.durability;
    opts.pool_size = 4;
    auto db = std::make_unique<storage::Database>(opts);
    auto relay = std::make_unique<bus::Relay>(*db, bus, name);
    db->set_commit_listener([r = relay.get()] { r->notify(); });
    relay->on_published([&metrics](std::size_t n) { metrics.outbox_published.Increment(static_cast<double>(n)); });
    runtime::ServiceContext ctx{*db, bus, router, settings, metrics};
    backgrounds.push_back(svc.reg(ctx));
    dbs.push_back(std::move(db));
    relays.push_back(std::move(relay));
  }

  bus.start();
  for (auto& r : relays) r->start();  // re-publishes whatever a previous run left in the outboxes
  for (auto& b : backgrounds)
    if (b.start) b.start();

  gateway::Gateway gw(
      {settings.rate_limit_rps}, jwt, metrics, [&router](http::Request& req) { return router.dispatch(req); },
      [&dbs]() -> std::string {
        for (auto& db : dbs)
          if (!db->ping()) return "the database " + db->name() + " is unreachable";
        return {};
      });
  http::Server server(server_options(settings), [&gw](http::Request& req) { return gw.handle(req); });
  std::uint16_t port = server.start();
  log::info({"oms"}, "embedded mode ready on " + settings.host + ":" + std::to_string(port) + ", data in " +
                         fs::absolute(dir).string());
  print_ready(settings.host, port);

  int sig = wait_stop_signal(signals);
  log::info({"oms"}, std::string("stopping on ") + signal_name(sig));

  server.stop();  // no new requests; in-flight ones are answered
  // Let the sagas in flight move on as far as they can (bounded): the outboxes keep the rest.
  auto until = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (std::chrono::steady_clock::now() < until) {
    bool idle = bus.idle();
    for (auto& r : relays) idle = idle && r->idle();
    if (idle) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  for (auto& b : backgrounds)
    if (b.stop) b.stop();
  for (auto& r : relays) r->stop();
  bus.stop();
  log::info({"oms"}, "stopped");
  return 0;
}

}  // namespace oms::app
