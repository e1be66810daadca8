// oms: one binary, two modes. `oms run` hosts everything in one process (embedded mode);
// `oms serve <service>` runs one service of a distributed deployment.
#include <CLI/CLI.hpp>
#include <iostream>

#include "apps/oms/embedded.h"
#include "libs/core/log.h"
#include "libs/core/money.h"

namespace {

std::string mask(const std::string& s) { return s.empty() ? "(generated)" : "****"; }

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"OMS: an order management system (gateway + order, inventory, payment, fulfillment, saga, notification)"};
  app.require_subcommand(1);
  oms::runtime::Settings s;
  std::string durability = "full", limit = "10000.00";
  bool demo = true;

  auto* run = app.add_subcommand("run", "Run the whole system in one process (embedded mode, SQLite)");
  run->add_option("--host", s.host, "Listen address")->envname("OMS_HOST")->capture_default_str();
  run->add_option("--port", s.port, "Gateway port (0 picks a free one)")->envname("OMS_PORT")->capture_default_str();
  run->add_option("--data-dir", s.data_dir, "Directory of the SQLite files and the JWT secret")
      ->envname("OMS_DATA_DIR")->capture_default_str();
  run->add_option("--jwt-secret", s.jwt_secret, "HS256 secret (default: generated and kept in the data dir)")
      ->envname("OMS_JWT_SECRET");
  run->add_option("--token-ttl", s.token_ttl_s, "Token lifetime in seconds")->envname("OMS_TOKEN_TTL")->capture_default_str();
  run->add_option("--payment-decline-limit", limit, "The payment simulator declines amounts above this")
      ->envname("OMS_PAYMENT_DECLINE_LIMIT")->capture_default_str();
  run->add_option("--demo-data", demo, "Create the demo catalog on a fresh system (true|false)")
      ->envname("OMS_DEMO_DATA")->capture_default_str();
  run->add_option("--log-level", s.log_level, "trace|debug|info|warn|error")->envname("OMS_LOG_LEVEL")->capture_default_str();
  run->add_option("--durability", durability,
                  "full: every commit survives power loss (SQLite synchronous=FULL); normal: survives a crash"
                  " of the process, not of the machine")
      ->envname("OMS_DURABILITY")->check(CLI::IsMember({"full", "normal"}))->capture_default_str();
  run->add_option("--step-timeout-ms", s.step_timeout_ms, "Deadline of every saga step")
      ->envname("OMS_STEP_TIMEOUT_MS")->capture_default_str();
  run->add_option("--payment-delay-ms", s.payment_delay_ms, "Fault injection: payment provider latency")
      ->envname("OMS_PAYMENT_DELAY_MS")->capture_default_str();
  run->add_option("--inventory-delay-ms", s.inventory_delay_ms, "Fault injection: warehouse latency")
      ->envname("OMS_INVENTORY_DELAY_MS")->capture_default_str();
  run->add_option("--rate-limit-rps", s.rate_limit_rps, "Requests per second per user and per address (0: off)")
      ->envname("OMS_RATE_LIMIT_RPS")->capture_default_str();
  run->add_option("--max-pending-orders", s.max_pending_orders,
                  "New orders get 503 + Retry-After while this many are still PENDING (0: no limit)")
      ->envname("OMS_MAX_PENDING_ORDERS")->capture_default_str();
  run->add_option("--idempotency-retention-hours", s.idempotency_retention_hours,
                  "How long Idempotency-Keys are remembered (at least 24)")
      ->envname("OMS_IDEMPOTENCY_RETENTION_HOURS")->capture_default_str();
  run->add_option("--admin-users", s.admin_users, "Comma-separated user ids allowed on /api/admin (dead letters)")
      ->envname("OMS_ADMIN_USERS")->capture_default_str();
  run->add_option("--threads", s.worker_threads, "HTTP handler threads")->envname("OMS_THREADS")->capture_default_str();

  auto* serve = app.add_subcommand("serve", "Run one service of a distributed deployment (not in this build yet)");
  std::string service;
  serve->add_option("service", service, "gateway|order|inventory|payment|fulfillment|saga|notification")->required();

  CLI11_PARSE(app, argc, argv);

  if (*serve) {
    std::cerr << "oms serve: distributed mode is not implemented in this build yet; use `oms run`\n";
    return 2;
  }
  try {
    oms::log::init(s.log_level);
    auto m = oms::parse_money(limit);
    if (!m || m->minor <= 0) throw std::invalid_argument("--payment-decline-limit must be an amount like 10000.00");
    s.payment_decline_limit = *m;
    s.demo_data = demo;
    s.durability = durability == "normal" ? oms::storage::Durability::kNormal : oms::storage::Durability::kFull;
    if (s.port < 0 || s.port > 65535) throw std::invalid_argument("--port must be 0-65535");
    if (s.token_ttl_s <= 0) throw std::invalid_argument("--token-ttl must be positive");
    if (s.step_timeout_ms <= 0) throw std::invalid_argument("--step-timeout-ms must be positive");
    if (s.idempotency_retention_hours < 24)
      throw std::invalid_argument("--idempotency-retention-hours must be at least 24 (API.md)");
    if (s.worker_threads < 1 || s.worker_threads > 256) throw std::invalid_argument("--threads must be 1-256");
    oms::log::info({"oms"}, "config: host=" + s.host + " port=" + std::to_string(s.port) + " data-dir=" + s.data_dir +
                                " jwt-secret=" + mask(s.jwt_secret) + " token-ttl=" + std::to_string(s.token_ttl_s) +
                                " payment-decline-limit=" + oms::format_money(s.payment_decline_limit) +
                                " demo-data=" + (demo ? "true" : "false") + " durability=" + durability +
                                " step-timeout-ms=" + std::to_string(s.step_timeout_ms) +
                                " payment-delay-ms=" + std::to_string(s.payment_delay_ms) +
                                " inventory-delay-ms=" + std::to_string(s.inventory_delay_ms) +
                                " rate-limit-rps=" + std::to_string(s.rate_limit_rps) +
                                " max-pending-orders=" + std::to_string(s.max_pending_orders) +
                                " idempotency-retention-hours=" + std::to_string(s.idempotency_retention_hours) +
                                " admin-users=" + s.admin_users + " threads=" + std::to_string(s.worker_threads));
    return oms::app::run_embedded(s);
  } catch (const std::exception& e) {
    std::cerr << "oms: " << e.what() << "\n";
    return 1;
  }
}
