#include "fuzz/system.h"

#include <cstdio>
#include <cstdlib>
#include <memory>

#include "apps/oms/embedded.h"
#include "libs/auth/jwt.h"
#include "libs/core/log.h"
#include "libs/http/wire.h"

namespace oms::fuzz {
namespace {

constexpr const char* kSecret = "fuzz-secret-0123456789abcdef";

struct World {
  std::unique_ptr<app::EmbeddedSystem> system;  // not started: no background threads
  std::string customer, staff, admin, order;

  World() {
    log::init("error");
    char dir[] = "/tmp/oms-fuzz-XXXXXX";
    if (!mkdtemp(dir)) std::abort();
    runtime::Settings s;
    s.data_dir = dir;
    s.jwt_secret = kSecret;
    s.admin_password = "fuzz-password";
    s.durability = storage::Durability::kNormal;
    s.fault_injection = true;
    system = std::make_unique<app::EmbeddedSystem>(s);
    auth::JwtCodec codec(kSecret, "oms", 36000);
    auto now = std::time(nullptr);
    customer = codec.issue("alice", Role::kCustomer, now);
    staff = codec.issue("staff", Role::kStaff, now);
    admin = codec.issue("admin", Role::kAdmin, now);
    http::Request req;
    req.method = "POST";
    req.target = req.path = "/api/orders";
    req.set_header("authorization", "Bearer " + customer);
    req.set_header("content-type", "application/json");
    req.set_header("idempotency-key", "fuzz-seed-order");
    req.body = R"({"customerEmail":"alice@example.com","items":[{"productId":"prod-101","quantity":1,"price":50.00}]})";
    auto res = system->handle(req);
    auto at = res.body.find("\"orderId\":\"");
    if (res.status / 100 != 2 || at == std::string::npos) {
      std::fprintf(stderr, "fuzz: the seed order failed: %d %s\n", res.status, res.body.c_str());
      std::abort();
    }
    order = res.body.substr(at + 11, 36);
  }
};

World* the_world = nullptr;

World& world() {
  if (!the_world) the_world = new World();
  return *the_world;
}

void replace_all(std::string& s, std::string_view from, const std::string& to) {
  for (auto at = s.find(from); at != std::string::npos; at = s.find(from, at + to.size())) s.replace(at, from.size(), to);
}

}  // namespace

std::string expand(std::string_view input) {
  auto& w = world();
  std::string s(input);
  replace_all(s, "$CUSTOMER", w.customer);
  replace_all(s, "$STAFF", w.staff);
  replace_all(s, "$ADMIN", w.admin);
  replace_all(s, "$ORDER", w.order);
  return s;
}

http::Response handle(http::Request& req) {
  auto& w = world();
  auto res = http::run_handler([&w](http::Request& r) { return w.system->handle(r); }, req);
  bool problem = res.content_type == "application/problem+json";
  if (res.status >= 500 && res.status != 503) {
    std::fprintf(stderr, "fuzz: %s %s answered %d: %s\n", req.method.c_str(), req.target.c_str(), res.status,
                 res.body.c_str());
    std::abort();
  }
  if (res.status >= 400 && !problem) {
    std::fprintf(stderr, "fuzz: %s %s answered %d as %s, not problem+json\n", req.method.c_str(), req.target.c_str(),
                 res.status, res.content_type.c_str());
    std::abort();
  }
  return res;
}

}  // namespace oms::fuzz

// Called by replay_main.cpp once every input ran: the databases close before exit.
extern "C" void oms_fuzz_teardown() {
  delete oms::fuzz::the_world;
  oms::fuzz::the_world = nullptr;
}
