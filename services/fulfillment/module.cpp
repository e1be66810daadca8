#include "services/fulfillment/module.h"

#include "libs/contracts/messages.h"
#include "libs/runtime/dead_letters.h"
#include "libs/core/clock.h"
#include "libs/core/ids.h"
#include "libs/core/log.h"
#include "libs/http/json.h"
#include "libs/http/json_writer.h"
#include "libs/storage/row.h"
#include "services/fulfillment/domain/task.h"

namespace oms::fulfillment {
namespace {

namespace c = oms::contracts;
using domain::Task;
using storage::get_int;
using storage::get_opt_str;
using storage::get_str;

const std::vector<std::string>& migrations() {
  static const std::vector<std::string> m = {
      "CREATE TABLE tasks (id TEXT PRIMARY KEY, order_id TEXT NOT NULL UNIQUE, status TEXT NOT NULL,"
      " tracking_number TEXT, created_ms BIGINT NOT NULL, updated_ms BIGINT NOT NULL)",
      "CREATE INDEX tasks_status ON tasks (status, created_ms)",
      "CREATE INDEX tasks_created ON tasks (created_ms)",
  };
  return m;
}

constexpr const char* kColumns = "id, order_id, status, tracking_number, created_ms, updated_ms";

Task from_row(const soci::row& r) {
  return Task{get_str(r, 0), get_str(r, 1), get_str(r, 2), get_opt_str(r, 3), get_int(r, 4), get_int(r, 5)};
}

std::optional<Task> load(soci::session& sql, const std::string& order_id, bool lock = false) {
  soci::row r;
  sql << std::string("SELECT ") + kColumns + " FROM tasks WHERE order_id = :id" + std::string(storage::for_update(sql, lock)), soci::use(order_id, "id"),
      soci::into(r);
  if (!sql.got_data()) return std::nullopt;
  return from_row(r);
}

void insert(soci::session& sql, const Task& t) {
  storage::NullableText tr(t.tracking_number);
  long long c = t.created_ms, u = t.updated_ms;
  sql << "INSERT INTO tasks (id, order_id, status, tracking_number, created_ms, updated_ms)"
         " VALUES (:id, :oid, :st, :tr, :c, :u)",
      soci::use(t.id, "id"), soci::use(t.order_id, "oid"), soci::use(t.status, "st"),
      soci::use(tr.value, tr.ind, "tr"), soci::use(c, "c"), soci::use(u, "u");
}

void save(soci::session& sql, const Task& t) {
  storage::NullableText tr(t.tracking_number);
  long long u = t.updated_ms;
  sql << "UPDATE tasks SET status = :st, tracking_number = :tr, updated_ms = :u WHERE id = :id",
      soci::use(t.status, "st"), soci::use(tr.value, tr.ind, "tr"), soci::use(u, "u"), soci::use(t.id, "id");
}

std::string task_json(const Task& t) {
  http::JsonWriter w;
  w.begin_object().field("id", t.id).field("orderId", t.order_id).field("status", t.status);
  w.field("trackingNumber", t.tracking_number);
  w.field("createdAt", rfc3339(t.created_ms)).field("updatedAt", rfc3339(t.updated_ms)).end_object();
  return w.take();
}

void on_message(const bus::Message& m, storage::Tx& tx) {
  long long now = now_ms();
  if (m.subject == c::CreateFulfillment::kSubject) {
    auto cmd = c::decode<c::CreateFulfillment>(m.payload);
    auto t = load(tx.sql, cmd.orderId, /*lock=*/true);
    if (!t) {
      Task n{new_uuid(), cmd.orderId, "INITIATED", std::nullopt, now, now};
      insert(tx.sql, n);
      t = n;
      log::debug({"fulfillment", {}, cmd.orderId}, "fulfillment task created");
    }
    c::emit(tx, c::FulfillmentCreated{cmd.orderId, t->id});
  } else if (m.subject == c::CancelFulfillment::kSubject) {
    auto cmd = c::decode<c::CancelFulfillment>(m.payload);
    auto t = load(tx.sql, cmd.orderId, /*lock=*/true);
    if (!t) {
      // Cancel before create (a timed-out step): a cancelled task fences off a late create.
      insert(tx.sql, Task{new_uuid(), cmd.orderId, "CANCELLED", std::nullopt, now, now});
      c::emit(tx, c::FulfillmentCancelled{cmd.orderId});
      return;
    }
    if (domain::cancel(*t, now) == domain::CancelOutcome::kAlreadyShipped) {
      c::emit(tx, c::FulfillmentCancelRejected{cmd.orderId, "shipment already dispatched"});
      return;
    }
    save(tx.sql, *t);
    c::emit(tx, c::FulfillmentCancelled{cmd.orderId});
  }
}

template <class Step>
http::Response advance(storage::Database& db, http::Request& req, Step step) {
  const auto& id = req.params["orderId"];
  if (!is_uuid(id)) return http::problem(404, "no fulfillment task for order " + id, req.path);
  return db.write([&](storage::Tx& tx) -> http::Response {
    auto t = load(tx.sql, id, /*lock=*/true);
    if (!t) return http::problem(404, "no fulfillment task for order " + id, req.path);
    auto r = step(tx, *t);
    if (!r) return http::from_error(r.error(), req.path);
    save(tx.sql, *t);
    return http::json_text(200, task_json(*t));
  });
}

}  // namespace

runtime::Background register_fulfillment(runtime::ServiceContext& ctx) {
  ctx.db.migrate("fulfillment", migrations());
  auto& db = ctx.db;
  auto& metrics = ctx.metrics;
  bus::Subscription sub{
      "fulfillment", {std::string(c::CreateFulfillment::kSubject), std::string(c::CancelFulfillment::kSubject)},
      &ctx.db, [&metrics](const bus::Message& m, storage::Tx& tx) {
        on_message(m, tx);
        metrics.messages_handled.Increment();
      }};
  ctx.bus.subscribe(sub);
  runtime::register_dead_letter_routes(ctx, "fulfillment", sub);

  ctx.router.add("GET", "/api/fulfillment/order/{orderId}", [&db](http::Request& req) {
    const auto& id = req.params["orderId"];
    if (!is_uuid(id)) return http::problem(404, "no fulfillment task for order " + id, req.path);
    auto t = db.read([&](soci::session& sql) { return load(sql, id); });
    if (!t) return http::problem(404, "no fulfillment task for order " + id, req.path);
    return http::json_text(200, task_json(*t));
  });
  ctx.router.add("GET", "/api/fulfillment", [&db](http::Request& req) {
    auto limit = http::parse_limit(req);
    if (!limit) return http::from_error(limit.error(), req.path);
    std::string status(req.query_param("status").value_or(""));
    if (!status.empty() && !domain::valid_status_filter(status))
      return http::problem(400, "status must be ALL, INITIATED, DISPATCHED, DELIVERED or CANCELLED", req.path);
    std::string where = status.empty() ? " WHERE status IN ('INITIATED', 'DISPATCHED')"
                        : status == "ALL" ? ""
                                          : " WHERE status = :st";
    std::string q = std::string("SELECT ") + kColumns + " FROM tasks" + where +
                    " ORDER BY created_ms DESC, id DESC LIMIT :lim";
    int lim = *limit;
    std::vector<Task> tasks = db.read([&](soci::session& sql) {
      std::vector<Task> out;
      auto collect = [&](soci::rowset<soci::row> rows) {
        for (const auto& r : rows) out.push_back(from_row(r));
      };
      if (where.find(":st") != std::string::npos)
        collect((sql.prepare << q, soci::use(status, "st"), soci::use(lim, "lim")));
      else
        collect((sql.prepare << q, soci::use(lim, "lim")));
      return out;
    });
    std::string body = "[";
    for (std::size_t i = 0; i < tasks.size(); ++i) body += (i ? "," : "") + task_json(tasks[i]);
    return http::json_text(200, body + "]");
  });
  ctx.router.add("POST", "/api/fulfillment/order/{orderId}/dispatch", [&db](http::Request& req) {
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
      return r;
    });
  });
  ctx.router.add("POST", "/api/fulfillment/order/{orderId}/deliver", [&db](http::Request& req) {
    return advance(db, req, [&](storage::Tx& tx, Task& t) -> Result<void> {
      auto r = domain::deliver(t, now_ms());
      if (r) c::emit(tx, c::ShipmentDelivered{t.order_id});
      return r;
    });
  });
  return {};
}

}  // namespace oms::fulfillment
