#include "services/host.h"

namespace oms::services {

Host::Host(const Hosted& service, const storage::DbOptions& db, bus::Bus& bus, http::Router& router,
           const runtime::Settings& settings, runtime::Metrics& metrics)
    : service_(service),
      bus_(bus),
      router_(router),
      settings_(settings),
      metrics_(metrics),
      db_(db),
      relay_(db_, bus, std::string(service.name)) {
  db_.set_commit_listener([this] { relay_.notify(); });
  relay_.on_published(
      [&metrics](std::size_t n) { metrics.outbox_published.Increment(static_cast<double>(n)); });
}

Host::~Host() { stop(); }

void Host::install() {
  runtime::ServiceContext ctx{db_, bus_, router_, settings_, metrics_};
  background_ = service_.reg(ctx);
}

void Host::start() {
  relay_.start();
  if (background_.start) background_.start();
  started_ = true;
}

void Host::stop() {
  if (!started_) return;
  started_ = false;
  if (background_.stop) background_.stop();
  relay_.stop();
}

}  // namespace oms::services
