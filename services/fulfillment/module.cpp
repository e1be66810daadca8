#include "services/fulfillment/module.h"

#include <set>
#include <span>

#include "libs/contracts/messages.h"
#include "libs/runtime/audit.h"
#include "libs/runtime/dead_letters.h"
#include "libs/runtime/faults.h"
#include "libs/runtime/ownership.h"
#include "libs/core/clock.h"
#include "libs/core/ids.h"
#include "libs/core/log.h"
#include "libs/http/json.h"
#include "libs/http/json_writer.h"
#include "services/fulfillment/adapters/store.h"

namespace oms::fulfillment {
namespace {

namespace c = oms::contracts;
using domain::Task;

std::string task_json(const Task& t) {
  http::JsonWriter w;
  w.begin_object().field("id", t.id).field("orderId", t.order_id).field("status", t.status);
  w.field("trackingNumber", t.tracking_number);
  w.field("createdAt", rfc3339(t.created_ms)).field("updatedAt", rfc3339(t.updated_ms)).end_object();
  return w.take();
}

// A batch of fulfillment commands: the tasks of every order they name are loaded in one
// statement, each command applies in order in memory, and new and changed tasks are written with
// one statement each.
void on_batch(std::span<const bus::Message* const> msgs, storage::Tx& tx, const runtime::Faults& faults) {
  long long now = now_ms();
  // The warehouse's injected latency and failures, before anything is read.
  for (const auto* m : msgs) faults.apply(m->subject == c::CreateFulfillment::kSubject ? "create" : "cancel");
  std::vector<std::string> order_ids;
  for (const auto* m : msgs) order_ids.push_back(boost::json::value_to<std::string>(boost::json::parse(m->payload).at("orderId")));
  auto tasks = adapters::load_many(tx.sql, order_ids);
  std::set<std::string> created, changed;
  for (std::size_t i = 0; i < msgs.size(); ++i) {
    const bus::Message& m = *msgs[i];
    log::RequestScope scope(m.request_id);
    const std::string& order_id = order_ids[i];
    auto it = tasks.find(order_id);
    if (m.subject == c::CreateFulfillment::kSubject) {
      if (it == tasks.end()) {
        auto cmd = c::decode<c::CreateFulfillment>(m.payload);
        it = tasks.emplace(order_id, Task{new_uuid(), order_id, "INITIATED", std::nullopt, now, now, cmd.ownerId}).first;
        created.insert(order_id);
        log::debug({"fulfillment", {}, order_id}, "fulfillment task created");
      }
      c::emit(tx, c::FulfillmentCreated{order_id, it->second.id});
    } else if (m.subject == c::CancelFulfillment::kSubject) {
      if (it == tasks.end()) {
        // Cancel before create (a timed-out step): a cancelled task fences off a late create.
        tasks.emplace(order_id, Task{new_uuid(), order_id, "CANCELLED", std::nullopt, now, now});
        created.insert(order_id);
        c::emit(tx, c::FulfillmentCancelled{order_id});
        continue;
      }
      if (domain::cancel(it->second, now) == domain::CancelOutcome::kAlreadyShipped) {
        c::emit(tx, c::FulfillmentCancelRejected{order_id, "shipment already dispatched"});
        continue;
      }
      changed.insert(order_id);
      c::emit(tx, c::FulfillmentCancelled{order_id});
    } else {
      throw std::runtime_error("fulfillment: unexpected subject " + m.subject);
    }
  }
  std::vector<const Task*> inserts, updates;
  for (const auto& id : created) inserts.push_back(&tasks.at(id));
  for (const auto& id : changed)
    if (!created.count(id)) updates.push_back(&tasks.at(id));
  adapters::insert_many(tx.sql, inserts);
  adapters::save_many(tx.sql, updates);
}

template <class Step>
http::Response advance(storage::Database& db, http::Request& req, Step step) {
  const auto& id = req.params["orderId"];
  if (!is_uuid(id)) return http::problem(404, "no fulfillment task for order " + id, req.path);
  return db.write([&](storage::Tx& tx) -> http::Response {
    auto t = adapters::load(tx.sql, id, /*lock=*/true);
    if (!t) return http::problem(404, "no fulfillment task for order " + id, req.path);
    auto r = step(tx, *t);
    if (!r) return http::from_error(r.error(), req.path);
    adapters::save_many(tx.sql, {&*t});
    return http::json_text(200, task_json(*t));
  });
}

}  // namespace

runtime::Background register_fulfillment(runtime::ServiceContext& ctx) {
  ctx.db.migrate("fulfillment", adapters::migrations());
  auto& db = ctx.db;
  auto& metrics = ctx.metrics;
  auto faults = std::make_shared<runtime::Faults>(std::vector<std::string>{"create", "cancel"});
  bus::Subscription sub{
      "fulfillment", {std::string(c::CreateFulfillment::kSubject), std::string(c::CancelFulfillment::kSubject)},
      &ctx.db, [&metrics, faults](std::span<const bus::Message* const> msgs, storage::Tx& tx) {
        on_batch(msgs, tx, *faults);
        metrics.messages_handled.Increment(static_cast<double>(msgs.size()));
      }};
  ctx.bus.subscribe(sub);
  runtime::register_dead_letter_routes(ctx, "fulfillment", sub);
  runtime::register_audit_routes(ctx, "fulfillment");
  runtime::register_fault_routes(ctx, "fulfillment", faults);

  ctx.router.add("GET", "/api/fulfillment/order/{orderId}", Role::kCustomer, [&db](http::Request& req) {
    const auto& id = req.params["orderId"];
    if (!is_uuid(id)) return http::problem(404, "no fulfillment task for order " + id, req.path);
    auto t = db.read([&](soci::session& sql) { return adapters::load(sql, id); });
    if (!t || !runtime::may_see(req, t->owner_id)) return http::problem(404, "no fulfillment task for order " + id, req.path);
    return http::json_text(200, task_json(*t));
  });
  ctx.router.add("GET", "/api/fulfillment", Role::kCustomer, [&db](http::Request& req) {
    auto limit = http::parse_limit(req);
    if (!limit) return http::from_error(limit.error(), req.path);
    std::string status(req.query_param("status").value_or(""));
    if (!status.empty() && !domain::valid_status_filter(status))
      return http::problem(400, "status must be ALL, INITIATED, DISPATCHED, DELIVERED or CANCELLED", req.path);
    auto before = http::parse_before(req);
    if (!before) return http::from_error(before.error(), req.path);
    auto owner = runtime::owner_filter(req);
    std::vector<Task> tasks =
        db.read([&](soci::session& sql) { return adapters::list(sql, status, owner, *before, *limit); });
    std::string body = "[";
    for (std::size_t i = 0; i < tasks.size(); ++i) body += (i ? "," : "") + task_json(tasks[i]);
    return http::json_text(200, body + "]");
  });
  ctx.router.add("POST", "/api/fulfillment/order/{orderId}/dispatch", Role::kStaff, [&db](http::Request& req) {
    auto body = http::parse_body(req, /*optional=*/true);
    if (!body) return http::from_error(body.error(), req.path);
    if (!body->is_object()) return http::problem(400, "body must be a JSON object", req.path);
    std::string tracking = "TRK-" + random_hex(6);
    if (auto* t = body->as_object().if_contains("trackingNumber"); t && !t->is_null()) {
      if (!t->is_string() || !is_token_id(t->as_string(), 64))
        return http::problem(400, "trackingNumber must be 1-64 characters of [A-Za-z0-9._-]", req.path);
      tracking = std::string(t->as_string());
    }
    return advance(db, req, [&](storage::Tx& tx, Task& t) -> Result<void> {
      auto r = domain::dispatch(t, tracking, now_ms());
      if (r) c::emit(tx, c::ShipmentDispatched{t.order_id, tracking});
      if (r) runtime::audit(tx, req, "shipment.dispatch", t.order_id, "trackingNumber=" + tracking);
      return r;
    });
  });
  ctx.router.add("POST", "/api/fulfillment/order/{orderId}/deliver", Role::kStaff, [&db](http::Request& req) {
    return advance(db, req, [&](storage::Tx& tx, Task& t) -> Result<void> {
      auto r = domain::deliver(t, now_ms());
      if (r) c::emit(tx, c::ShipmentDelivered{t.order_id});
      if (r) runtime::audit(tx, req, "shipment.deliver", t.order_id);
      return r;
    });
  });
  return {};
}

}  // namespace oms::fulfillment
