// All six services on PostgreSQL (one database each, as in distributed mode) with the
// in-process bus: the whole order flow through the services' HTTP routes. It proves that every
// schema and statement of the services runs on PostgreSQL as well as on SQLite.
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <chrono>
#include <set>
#include <thread>

#include "libs/bus/inproc_bus.h"
#include "libs/http/router.h"
#include "libs/runtime/context.h"
#include "libs/storage/tests/postgres_server.h"
#include "services/catalog.h"
#include "services/host.h"

namespace oms {
namespace {

namespace json = boost::json;

class SagaOnPostgres : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(pg_.ok()) << pg_.error();
    settings_.demo_data = true;
    for (const auto& svc : services::all()) {
      const std::string name(svc.name);
      pg_.create_database("oms_" + name);
      storage::DbOptions o;
      o.url = pg_.url("oms_" + name);
      o.pool_size = 3;
      hosts_.push_back(std::make_unique<services::Host>(svc, o, bus_, router_, settings_, metrics_));
      hosts_.back()->install();
    }
    bus_.start();
    for (auto& h : hosts_) h->start();
  }

  void TearDown() override {
    for (auto& h : hosts_) h->stop();
    bus_.stop();
    hosts_.clear();
  }

  http::Response call(std::string method, std::string path, std::string body = {},
                      std::string key = {}) {
    http::Request req;
    req.method = std::move(method);
    auto q = path.find('?');
    req.path = path.substr(0, q);
    if (q != std::string::npos) req.query = http::parse_query(path.substr(q + 1));
    req.user_id = "alice";
    req.role = Role::kCustomer;  // her own orders, payments, sagas and notifications only
    req.body = std::move(body);
    if (!req.body.empty()) req.set_header("content-type", "application/json");
    if (!key.empty()) req.set_header("idempotency-key", key);
    return router_.dispatch(req);
  }

  json::object get(const std::string& path) {
    auto r = call("GET", path);
    EXPECT_EQ(r.status, 200) << path << " " << r.body;
    return json::parse(r.body).as_object();
  }

  // Polls the order until `pred` holds (20 s at most).
  json::object wait_order(const std::string& id, const std::function<bool(const json::object&)>& pred) {
    auto until = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    json::object o;
    while (std::chrono::steady_clock::now() < until) {
      o = get("/api/orders/" + id);
      if (pred(o)) return o;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    ADD_FAILURE() << "order " << id << " never reached the expected state: " << json::serialize(o);
    return o;
  }

  static std::string str(const json::object& o, const char* k) {
    return o.at(k).is_null() ? "null" : std::string(o.at(k).as_string());
  }

  storage::testing::PostgresServer pg_;
  runtime::Settings settings_;
  runtime::Metrics metrics_;
  bus::InProcBus bus_;
  http::Router router_;
  std::vector<std::unique_ptr<services::Host>> hosts_;
};

TEST_F(SagaOnPostgres, OrderCompletesIsReplayedCancelsAndFails) {
  const std::string body =
      R"({"customerEmail":"a@b.co","items":[{"productId":"prod-101","quantity":2,"price":50.00}]})";
  auto created = call("POST", "/api/orders", body, "k1");
  ASSERT_EQ(created.status, 201) << created.body;
  std::string id(json::parse(created.body).at("orderId").as_string());

  auto done = wait_order(id, [](const json::object& o) { return o.at("status") == "COMPLETED"; });
  EXPECT_EQ(str(done, "paymentStatus"), "COMPLETED");
  EXPECT_EQ(str(done, "inventoryStatus"), "RESERVED");
  EXPECT_EQ(str(done, "fulfillmentStatus"), "INITIATED");
  auto stock = get("/api/inventory/prod-101");
  EXPECT_EQ(stock.at("availableQuantity").as_int64(), 98);
  EXPECT_EQ(stock.at("reservedQuantity").as_int64(), 2);

  auto replay = call("POST", "/api/orders", body, "k1");
  EXPECT_EQ(replay.status, 201);
  EXPECT_EQ(replay.header("idempotent-replayed").value_or(""), "true");
  EXPECT_EQ(call("POST", "/api/orders", R"({"customerEmail":"x@b.co","items":[{"productId":"prod-101","quantity":1,"price":50.00}]})", "k1").status, 422);

  EXPECT_EQ(call("PUT", "/api/orders/" + id + "/cancel").status, 202);
  auto cancelled = wait_order(id, [](const json::object& o) { return o.at("status") == "CANCELLED"; });
  EXPECT_EQ(str(cancelled, "paymentStatus"), "REFUNDED");
  EXPECT_EQ(str(cancelled, "inventoryStatus"), "RELEASED");
  EXPECT_EQ(str(cancelled, "fulfillmentStatus"), "CANCELLED");
  stock = get("/api/inventory/prod-101");
  EXPECT_EQ(stock.at("availableQuantity").as_int64(), 100);
  EXPECT_EQ(stock.at("reservedQuantity").as_int64(), 0);
  EXPECT_EQ(str(get("/api/payments/order/" + id), "status"), "REFUNDED");

  auto saga = get("/api/sagas/" + id);
  std::vector<std::string> states;
  for (const auto& h : saga.at("history").as_array()) states.emplace_back(h.at("state").as_string());
  EXPECT_EQ(states, (std::vector<std::string>{"STARTED", "INVENTORY_REQUESTED", "INVENTORY_RESERVED",
                                              "PAYMENT_REQUESTED", "PAYMENT_COMPLETED", "FULFILLMENT_REQUESTED",
                                              "COMPLETED", "COMPENSATING", "CANCELLED"}));

  // Each event notified exactly once.
  auto wait_notes = [&](std::size_t n) {
    auto until = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    json::array notes;
    while (std::chrono::steady_clock::now() < until) {
      auto r = call("GET", "/api/notifications?orderId=" + id);
      notes = json::parse(r.body).as_array();
      if (notes.size() >= n) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return notes;
  };
  auto notes = wait_notes(3);
  std::multiset<std::string> types;
  for (const auto& n : notes) types.emplace(n.at("type").as_string());
  EXPECT_EQ(types, (std::multiset<std::string>{"ORDER_CANCELLED", "ORDER_COMPLETED", "ORDER_CREATED"}));

  auto unknown = call("POST", "/api/orders",
                      R"({"customerEmail":"a@b.co","items":[{"productId":"no-such","quantity":1,"price":1.00}]})", "k2");
  ASSERT_EQ(unknown.status, 201) << unknown.body;
  std::string id2(json::parse(unknown.body).at("orderId").as_string());
  auto failed = wait_order(id2, [](const json::object& o) { return o.at("status") == "FAILED"; });
  EXPECT_EQ(str(failed, "failureReason"), "PRODUCT_NOT_FOUND: no-such");
  EXPECT_EQ(str(failed, "paymentStatus"), "SKIPPED");
}

TEST_F(SagaOnPostgres, ConcurrentDuplicatesMakeOneOrder) {
  // On PostgreSQL writers run in parallel: the losers of the race on the idempotency key must
  // replay the winner's answer, never fail and never create a second order.
  const std::string body =
      R"({"customerEmail":"c@b.co","items":[{"productId":"prod-202","quantity":1,"price":100.50}]})";
  constexpr int kThreads = 8;
  std::vector<http::Response> answers(kThreads);
  std::vector<std::thread> threads;
  for (int i = 0; i < kThreads; ++i)
    threads.emplace_back([&, i] { answers[i] = call("POST", "/api/orders", body, "same-key"); });
  for (auto& t : threads) t.join();
  std::set<std::string> ids;
  int fresh = 0;
  for (const auto& a : answers) {
    ASSERT_EQ(a.status, 201) << a.body;
    ids.insert(std::string(json::parse(a.body).at("orderId").as_string()));
    if (!a.header("idempotent-replayed")) ++fresh;
  }
  EXPECT_EQ(ids.size(), 1u);
  EXPECT_EQ(fresh, 1);
  auto all = json::parse(call("GET", "/api/orders").body).as_array();
  EXPECT_EQ(all.size(), 1u);
  wait_order(*ids.begin(), [](const json::object& o) { return o.at("status") == "COMPLETED"; });
  EXPECT_EQ(get("/api/inventory/prod-202").at("reservedQuantity").as_int64(), 1);
}

}  // namespace
}  // namespace oms
