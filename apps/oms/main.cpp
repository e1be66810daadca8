// oms: one binary, two modes. `oms run` hosts everything in one process (embedded mode);
// `oms serve <service>` runs one service of a distributed deployment.
#include <CLI/CLI.hpp>
#include <malloc.h>
#include <iostream>
#include <sstream>

#include "apps/oms/audit.h"
#include "apps/oms/client.h"
#include "apps/oms/embedded.h"
#include "apps/oms/serve.h"
#include "libs/core/log.h"
#include "libs/core/money.h"
#include "services/catalog.h"

namespace {

struct Raw {
  std::string durability = "full", limit = "10000.00";
  bool demo = true;
};

// The settings both modes share (each process of a distributed deployment uses the part that
// concerns it: the saga the step timeout, the payment service the decline limit, …).
void add_common(CLI::App* app, oms::runtime::Settings& s, Raw& raw) {
  app->add_option("--host", s.host, "Listen address")->envname("OMS_HOST")->capture_default_str();
  app->add_option("--jwt-secret", s.jwt_secret, "HS256 secret (default: generated and kept in the data dir)")
      ->envname("OMS_JWT_SECRET");
  app->add_option("--token-ttl", s.token_ttl_s, "Token lifetime in seconds")->envname("OMS_TOKEN_TTL")->capture_default_str();
  app->add_option("--payment-decline-limit", raw.limit, "The payment simulator declines amounts above this")
      ->envname("OMS_PAYMENT_DECLINE_LIMIT")->capture_default_str();
  app->add_option("--demo-data", raw.demo, "Create the demo catalog on a fresh system (true|false)")
      ->envname("OMS_DEMO_DATA")->capture_default_str();
  app->add_option("--log-level", s.log_level, "trace|debug|info|warn|error")->envname("OMS_LOG_LEVEL")->capture_default_str();
  app->add_option("--step-timeout-ms", s.step_timeout_ms, "Deadline of every saga step")
      ->envname("OMS_STEP_TIMEOUT_MS")->capture_default_str();
  app->add_option("--payment-delay-ms", s.payment_delay_ms, "Fault injection: payment provider latency at start")
      ->envname("OMS_PAYMENT_DELAY_MS")->capture_default_str();
  app->add_option("--inventory-delay-ms", s.inventory_delay_ms, "Fault injection: warehouse latency at start")
      ->envname("OMS_INVENTORY_DELAY_MS")->capture_default_str();
  app->add_flag("--fault-injection", s.fault_injection,
                "Admins may set delays and failure rates of payment, inventory and fulfillment at run time"
                " (/api/admin/<service>/faults)")
      ->envname("OMS_FAULT_INJECTION");
  app->add_option("--operator-email", s.operator_email, "Where OPERATOR_ALERT notifications go (a saga needs attention)")
      ->envname("OMS_OPERATOR_EMAIL")->capture_default_str();
  app->add_option("--rate-limit-rps", s.rate_limit_rps, "Requests per second per user and per address (0: off)")
      ->envname("OMS_RATE_LIMIT_RPS")->capture_default_str();
  app->add_option("--max-pending-orders", s.max_pending_orders,
                  "New orders get 503 + Retry-After while this many are still PENDING (0: no limit)")
      ->envname("OMS_MAX_PENDING_ORDERS")->capture_default_str();
  app->add_option("--idempotency-retention-hours", s.idempotency_retention_hours,
                  "How long Idempotency-Keys are remembered (at least 24)")
      ->envname("OMS_IDEMPOTENCY_RETENTION_HOURS")->capture_default_str();
  app->add_option("--staff-users", s.staff_users,
                  "Comma-separated user ids with the staff role (every order, inventory, refunds, shipments)")
      ->envname("OMS_STAFF_USERS")->capture_default_str();
  app->add_option("--admin-users", s.admin_users, "Comma-separated user ids with the admin role (staff + /api/admin)")
      ->envname("OMS_ADMIN_USERS")->capture_default_str();
  app->add_option("--admin-password", s.admin_password,
                  "The operator password staff and admin logins present (default: generated and kept in the"
                  " data dir as admin.password)")
      ->envname("OMS_ADMIN_PASSWORD");
  app->add_option("--auth", s.auth,
                  "dev: the gateway's login (user id; staff and admin with the operator password), HS256 tokens;"
                  " external: tokens of an identity provider (RS256/ES256), no login")
      ->envname("OMS_AUTH")->check(CLI::IsMember({"dev", "external"}))->capture_default_str();
  app->add_option("--jwks-file", s.jwks_file, "external: the identity provider's public keys (a JWKS file)")
      ->envname("OMS_JWKS_FILE");
  app->add_option("--token-issuer", s.token_issuer, "external: the `iss` every token must carry (required)")
      ->envname("OMS_TOKEN_ISSUER");
  app->add_option("--token-audience", s.token_audience, "external: the `aud` every token must hold (required)")
      ->envname("OMS_TOKEN_AUDIENCE");
  app->add_option("--threads", s.worker_threads, "HTTP handler threads")->envname("OMS_THREADS")->capture_default_str();
}

std::vector<std::string> split_urls(const std::string& s) {
  std::vector<std::string> out;
  std::stringstream in(s);
  std::string part;
  while (std::getline(in, part, ','))
    if (!part.empty()) out.push_back(part);
  return out;
}

std::string mask(const std::string& s) { return s.empty() ? "(generated)" : "****"; }

}  // namespace

int main(int argc, char** argv) {
  // glibc hands the free top of a thread's arena back to the kernel (madvise) once it exceeds
  // 128 KiB; each call makes the kernel flush the other vCPUs' TLBs, which is costly in a VM.
  // An idle saga did ~8 of them. Keep up to 8 MiB per arena instead: idle CPU per saga -8 to
  // -13 %, RSS at 1,000 orders/s unchanged (docs/PERFORMANCE.md, third pass). Setting it also
  // fixes the mmap threshold at 128 KiB: larger blocks (big bodies and lists) are mapped and
  // unmapped, as rare as they are.
  mallopt(M_TRIM_THRESHOLD, 8 << 20);
  CLI::App app{"OMS: an order management system (gateway + order, inventory, payment, fulfillment, saga, notification)"};
  app.require_subcommand(1);
  oms::runtime::Settings s;
  Raw raw;

  auto* run = app.add_subcommand("run", "Run the whole system in one process (embedded mode, SQLite)");
  add_common(run, s, raw);
  run->add_option("--port", s.port, "Gateway port (0 picks a free one)")->envname("OMS_PORT")->capture_default_str();
  run->add_option("--data-dir", s.data_dir, "Directory of the SQLite files, the JWT secret and the operator password")
      ->envname("OMS_DATA_DIR")->capture_default_str();
  run->add_option("--durability", raw.durability,
                  "full: every commit survives power loss (SQLite synchronous=FULL); normal: survives a crash"
                  " of the process, not of the machine")
      ->envname("OMS_DURABILITY")->check(CLI::IsMember({"full", "normal"}))->capture_default_str();

  auto* serve = app.add_subcommand("serve", "Run one service of a distributed deployment (PostgreSQL, NATS JetStream)");
  oms::app::ServeOptions so;
  std::vector<std::string> names = {"gateway"};
  std::string ports = "gateway " + std::to_string(oms::services::kGatewayPort);
  for (const auto& svc : oms::services::all()) {
    names.emplace_back(svc.name);
    ports += ", " + std::string(svc.name) + " " + std::to_string(svc.port);
  }
  std::map<std::string, std::string> upstream_flags;
  int serve_port = -1;
  serve->add_option("service", so.service, "gateway or one of the services (`oms services` lists them)")
      ->required()
      ->check(CLI::IsMember(names));
  add_common(serve, s, raw);
  serve->add_option("--port", serve_port,
                    "Listen port (default: " + ports + "; 0 picks a free one)")
      ->envname("OMS_PORT");
  serve->add_option("--db-url", so.db_url, "PostgreSQL URL of this service's own database (not for the gateway)")
      ->envname("OMS_DB_URL");
  serve->add_option("--nats-url", so.nats_url, "NATS server URL(s), comma-separated")
      ->envname("OMS_NATS_URL")->capture_default_str();
  serve->add_option("--stream-replicas", so.stream_replicas, "Replicas of the JetStream stream (3 on a NATS cluster)")
      ->envname("OMS_STREAM_REPLICAS")->capture_default_str()->check(CLI::Range(1, 5));
  serve->add_option("--data-dir", s.data_dir, "Gateway: where a generated JWT secret and operator password are kept")
      ->envname("OMS_DATA_DIR")->capture_default_str();
  for (const auto& entry : oms::services::all()) {
    std::string svc(entry.name), upper(svc);
    for (auto& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    serve->add_option(std::string("--upstream-") + svc, upstream_flags[svc],
                      std::string("Gateway: base URL(s) of the ") + svc +
                          " service's replicas, comma-separated (default http://127.0.0.1:<its port>)")
        ->envname("OMS_UPSTREAM_" + upper);
  }

  auto* list = app.add_subcommand("services", "List the services: name, default port, route (/api/<route>/…)");

  // The client subcommands: `oms` talking to a running deployment through its gateway.
  oms::app::ClientOptions client;
  auto* login = app.add_subcommand("login", "Print a token for a user (export OMS_TOKEN=$(oms login --user admin))");
  oms::app::add_client_options(login, client, /*token=*/false);
  std::string login_user, password_file;
  login->add_option("--user", login_user, "The user id to log in as")->required();
  login->add_option("--password-file", password_file,
                    "Staff and admin: a file holding the operator password (else OMS_ADMIN_PASSWORD, else asked)");
  auto* audit = app.add_subcommand("audit", "Check the invariants across the services (admin token); exit 1 on a violation");
  oms::app::add_client_options(audit, client, /*token=*/true);
  oms::app::audit::Options audit_options;
  audit->add_option("--page", audit_options.page, "Items per request")->capture_default_str()->check(CLI::Range(1, 1000));
  audit->add_option("--settle-ms", audit_options.settle_ms, "Pause before a finding is looked at again")
      ->capture_default_str()->check(CLI::Range(0, 600000));
  audit->add_option("--rounds", audit_options.rounds, "How many times a finding is looked at again")
      ->capture_default_str()->check(CLI::Range(1, 100));

  CLI11_PARSE(app, argc, argv);

  try {
    if (*login) return oms::app::run_login(client, login_user, password_file);
    if (*audit) return oms::app::audit::main(client, audit_options);
  } catch (const std::exception& e) {  // e.g. a malformed --url
    std::cerr << "oms: " << e.what() << "\n";
    return 2;
  }

  if (*list) {  // one line each, tab-separated: scripts/cluster and the tests take their list from here
    for (const auto& svc : oms::services::all()) std::cout << svc.name << '\t' << svc.port << '\t' << svc.route << '\n';
    return 0;
  }

  try {
    oms::log::init(s.log_level);
    auto m = oms::parse_money(raw.limit);
    if (!m || m->minor <= 0) throw std::invalid_argument("--payment-decline-limit must be an amount like 10000.00");
    s.payment_decline_limit = *m;
    s.demo_data = raw.demo;
    s.durability = raw.durability == "normal" ? oms::storage::Durability::kNormal : oms::storage::Durability::kFull;
    if (*serve) s.port = serve_port >= 0 ? serve_port : oms::app::default_port(so.service);
    if (s.port < 0 || s.port > 65535) throw std::invalid_argument("--port must be 0-65535");
    if (s.token_ttl_s <= 0) throw std::invalid_argument("--token-ttl must be positive");
    if (s.step_timeout_ms <= 0) throw std::invalid_argument("--step-timeout-ms must be positive");
    if (s.idempotency_retention_hours < 24)
      throw std::invalid_argument("--idempotency-retention-hours must be at least 24 (API.md)");
    if (s.worker_threads < 1 || s.worker_threads > 256) throw std::invalid_argument("--threads must be 1-256");
    std::string config = "config: host=" + s.host + " port=" + std::to_string(s.port) +
                         " jwt-secret=" + mask(s.jwt_secret) + " token-ttl=" + std::to_string(s.token_ttl_s) +
                         " payment-decline-limit=" + oms::format_money(s.payment_decline_limit) +
                         " demo-data=" + (raw.demo ? "true" : "false") +
                         " step-timeout-ms=" + std::to_string(s.step_timeout_ms) +
                         " payment-delay-ms=" + std::to_string(s.payment_delay_ms) +
                         " inventory-delay-ms=" + std::to_string(s.inventory_delay_ms) +
                         " fault-injection=" + (s.fault_injection ? "true" : "false") +
                         " rate-limit-rps=" + std::to_string(s.rate_limit_rps) +
                         " max-pending-orders=" + std::to_string(s.max_pending_orders) +
                         " idempotency-retention-hours=" + std::to_string(s.idempotency_retention_hours) +
                         " staff-users=" + s.staff_users + " admin-users=" + s.admin_users +
                         " admin-password=" + mask(s.admin_password) + " auth=" + s.auth +
                         (s.auth == "external" ? " jwks-file=" + s.jwks_file + " token-issuer=" + s.token_issuer +
                                                     " token-audience=" + s.token_audience
                                               : "") +
                         " threads=" + std::to_string(s.worker_threads);
    if (*serve) {
      for (const auto& [svc, urls] : upstream_flags)
        if (!urls.empty()) so.upstreams[svc] = split_urls(urls);
      oms::log::info({"oms"}, "serve " + so.service + " " + config + " nats=" + so.nats_url +
                                  " stream-replicas=" + std::to_string(so.stream_replicas));
      return so.service == "gateway" ? oms::app::run_gateway(s, so) : oms::app::run_service(s, so);
    }
    oms::log::info({"oms"}, "run " + config + " data-dir=" + s.data_dir + " durability=" + raw.durability);
    return oms::app::run_embedded(s);
  } catch (const std::exception& e) {
    std::cerr << "oms: " << e.what() << "\n";
    return 1;
  }
}
