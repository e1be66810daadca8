#pragma once
// Every setting of the system, filled from flags and OMS_* variables in apps/oms.
#include <cstdint>
#include <string>

#include "libs/core/money.h"
#include "libs/storage/database.h"

namespace oms::runtime {

struct Settings {
  std::string host = "127.0.0.1";
  int port = 8080;
  std::string data_dir = "data";
  std::string jwt_secret;  // empty: embedded mode generates and keeps one in the data dir
  std::int64_t token_ttl_s = 36000;
  Money payment_decline_limit{1'000'000};  // 10,000.00
  bool demo_data = true;
  std::string log_level = "info";
  storage::Durability durability = storage::Durability::kFull;
  std::int64_t step_timeout_ms = 30000;
  int payment_delay_ms = 0;    // start value of the payment's authorize delay (runtime/faults.h)
  int inventory_delay_ms = 0;  // start value of the inventory's reserve delay
  bool fault_injection = false;  // the admin routes that change faults at run time
  std::string operator_email = "ops@localhost";  // where OPERATOR_ALERT notifications go
  double rate_limit_rps = 0;   // per user and per client address; 0 = off
  // Roles (API.md, "Roles"): user ids granted staff or admin; every other login is a customer.
  // A staff or admin login needs the operator password (dev mode).
  std::string staff_users = "staff";
  std::string admin_users = "admin";
  std::string admin_password;  // empty: generated once into the data dir (gateway)
  // Identity: "dev" (the gateway's login, HS256 with jwt_secret) or "external" (an identity
  // provider's tokens, verified against the public keys of jwks_file; issuer and audience pinned).
  std::string auth = "dev";
  std::string jwks_file;
  std::string token_issuer;    // external: required
  std::string token_audience;  // external: required
  // Admission control: POST /api/orders answers 503 while this many orders are PENDING (0: off).
  std::int64_t max_pending_orders = 20000;
  // Idempotency keys are kept this long (API.md: at least 24 h), then forgotten.
  std::int64_t idempotency_retention_hours = 168;
  int worker_threads = 32;  // handlers block on fsync: more threads, bigger group commits
};

}  // namespace oms::runtime
