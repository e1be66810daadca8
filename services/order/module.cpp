#include "services/order/module.h"

#include <algorithm>
#include <chrono>
#include <memory>
#include <condition_variable>
#include <mutex>
#include <thread>
#include <cmath>
#include <set>
#include <span>

#include "libs/contracts/messages.h"
#include "libs/runtime/audit.h"
#include "libs/runtime/dead_letters.h"
#include "libs/runtime/ownership.h"
#include "libs/core/clock.h"
#include "libs/core/ids.h"
#include "libs/core/log.h"
#include "libs/http/json.h"
#include "libs/http/json_writer.h"
#include "services/order/adapters/store.h"

namespace oms::order {
namespace {

namespace c = oms::contracts;
namespace json = boost::json;
using domain::Order;

std::string order_json(const Order& o) {
  http::JsonWriter w;
  w.begin_object();
  w.field("orderId", o.order_id).field("status", o.status).field("customerEmail", o.customer_email);
  w.field("userId", o.user_id);
  w.key("items").begin_array();
  for (const auto& l : o.items)
    w.begin_object().field("productId", l.product_id).field("quantity", l.quantity).field("price", l.price).end_object();
  w.end_array();
  w.field("totalAmount", o.total).field("currency", o.currency);
  w.field("paymentStatus", o.payment_status).field("inventoryStatus", o.inventory_status);
  w.field("fulfillmentStatus", o.fulfillment_status).field("failureReason", o.failure_reason);
  w.field("cancelRequested", o.cancel_requested);
  w.field("createdAt", rfc3339(o.created_ms)).field("updatedAt", rfc3339(o.updated_ms));
  w.key("completedAt");
  o.completed_ms ? w.str(rfc3339(*o.completed_ms)) : w.null();
  w.key("cancelledAt");
  o.cancelled_ms ? w.str(rfc3339(*o.cancelled_ms)) : w.null();
  w.end_object();
  return w.take();
}

// Reads the body into a Draft, reporting wrong JSON types by field name.
Result<domain::Draft> read_draft(const json::value& body) {
  if (!body.is_object()) return fail(Errc::kInvalid, "body must be a JSON object");
  const auto& o = body.as_object();
  domain::Draft d;
  if (auto* v = o.if_contains("customerEmail"); v && !v->is_null()) {
    if (!v->is_string()) return fail(Errc::kInvalid, "customerEmail must be a string");
    d.customer_email = std::string(v->as_string());
  }
  if (auto* v = o.if_contains("currency"); v && !v->is_null()) {
    if (!v->is_string()) return fail(Errc::kInvalid, "currency must be a string");
    d.currency = std::string(v->as_string());
  }
  if (auto* v = o.if_contains("items"); v && !v->is_null()) {
    if (!v->is_array()) return fail(Errc::kInvalid, "items must be an array");
    d.items_present = true;
    const auto& arr = v->as_array();
    if (arr.size() > 100) return fail(Errc::kInvalid, "items must have 1 to 100 entries");
    for (std::size_t i = 0; i < arr.size(); ++i) {
      std::string at = "items[" + std::to_string(i) + "]";
      if (!arr[i].is_object()) return fail(Errc::kInvalid, at + " must be an object");
      const auto& it = arr[i].as_object();
      domain::Line line;
      auto* pid = it.if_contains("productId");
      if (!pid || !pid->is_string()) return fail(Errc::kInvalid, at + ".productId must be a string");
      line.product_id = std::string(pid->as_string());
      auto* q = it.if_contains("quantity");
      if (!q) return fail(Errc::kInvalid, at + ".quantity is required");
      if (q->is_int64()) line.quantity = q->as_int64();
      else if (q->is_uint64()) line.quantity = -1;  // beyond int64: out of range below
      else if (q->is_double() && std::isfinite(q->as_double()) && std::abs(q->as_double()) < 1e15 &&
               q->as_double() == std::trunc(q->as_double()))
        line.quantity = static_cast<long long>(q->as_double());
      else return fail(Errc::kInvalid, at + ".quantity must be an integer");
      if (q->is_uint64() || (line.quantity < 1 || line.quantity > 10000))
        return fail(Errc::kInvalid, at + ".quantity must be >= 1 and <= 10000");
      auto* p = it.if_contains("price");
      if (!p) return fail(Errc::kInvalid, at + ".price is required");
      std::optional<Money> m;
      if (p->is_int64()) {
        if (p->as_int64() > 1'000'000 || p->as_int64() < -1'000'000)
          return fail(Errc::kInvalid, at + ".price must be > 0 and <= 1000000");
        m = Money{p->as_int64() * 100};
      } else if (p->is_uint64()) {
        return fail(Errc::kInvalid, at + ".price must be > 0 and <= 1000000");
      } else if (p->is_double()) {
        double dv = p->as_double();
        if (std::isnan(dv)) return fail(Errc::kInvalid, at + ".price must have at most 2 decimals");
        if (!(dv > 0) || dv > 1'000'000) return fail(Errc::kInvalid, at + ".price must be > 0 and <= 1000000");
        m = money_from_double(dv);
        if (!m) return fail(Errc::kInvalid, at + ".price must have at most 2 decimals");
      } else {
        return fail(Errc::kInvalid, at + ".price must be a number");
      }
      line.price = *m;
      d.items.push_back(std::move(line));
    }
  }
  return d;
}

// Admission control: how many orders are still PENDING (their sagas running). Counted in the
// database at most every 100 ms; orders created since the count are added, so the limit holds
// exactly under a burst while the count itself costs nothing per request.
class Backlog {
 public:
  Backlog(storage::Database& db, std::int64_t limit) : db_(db), limit_(limit) {}
  // True when one more order may be accepted now.
  bool admit() {
    if (limit_ <= 0) return true;
    std::lock_guard lock(mu_);
    auto now = std::chrono::steady_clock::now();
    if (now - counted_at_ > std::chrono::milliseconds(100)) {
      long long n = 0;
      db_.read([&](soci::session& sql) { sql << "SELECT COUNT(*) FROM orders WHERE status = 'PENDING'", soci::into(n); });
      counted_ = n;
      since_ = 0;
      counted_at_ = now;
    }
    return counted_ + since_ < limit_;
  }
  void created() {
    std::lock_guard lock(mu_);
    ++since_;
  }

 private:
  storage::Database& db_;
  std::int64_t limit_;
  std::mutex mu_;
  long long counted_ = 0, since_ = 0;
  std::chrono::steady_clock::time_point counted_at_{};
};

http::Response create_order(storage::Database& db, runtime::Metrics& metrics, Backlog& backlog, http::Request& req) {
  auto key = req.header("idempotency-key");
  if (!key) return http::problem(400, "Idempotency-Key header is required", req.path);
  if (!domain::valid_idempotency_key(*key))
    return http::problem(400, "Idempotency-Key must be 1-255 visible ASCII characters", req.path);
  auto body = http::parse_body(req);
  if (!body) return http::from_error(body.error(), req.path);
  auto draft = read_draft(*body);
  if (!draft) return http::from_error(draft.error(), req.path);
  auto valid = domain::validate(*draft);
  if (!valid) return http::from_error(valid.error(), req.path);

  std::string canonical = domain::canonical(*valid), key_s(*key);
  if (!backlog.admit()) {
    // A replay of an order already accepted is still answered; only new orders wait.
    auto prior = db.read([&](soci::session& sql) { return adapters::find_key(sql, req.user_id, key_s); });
    if (!prior)
      return http::problem(503, "too many orders are being processed; retry shortly", req.path);
  }
  struct Outcome {
    int status;
    std::string body;
    std::string order_id;
    bool replayed = false;
  };
  Outcome out = db.write([&](storage::Tx& tx) -> Outcome {
    // The key, the order and the outbox row commit together; a concurrent duplicate waits for
    // the writer lock (SQLite) or the key's primary key (PostgreSQL) and then replays.
    if (auto prior = adapters::find_key(tx.sql, req.user_id, key_s)) {
      if (!domain::same_request(prior->request, canonical))
        return {422, "", prior->order_id};
      return {prior->status, prior->body, prior->order_id, true};
    }
    long long now = now_ms();
    Order o = domain::create(new_uuid(), req.user_id, *valid, now);
    adapters::insert(tx.sql, o);
    std::string json = order_json(o);
    adapters::insert_key(tx.sql, req.user_id, key_s, {canonical, 201, json, o.order_id}, now);
    std::vector<c::Line> lines;
    for (const auto& l : o.items) lines.push_back({l.product_id, l.quantity, l.price.minor});
    c::emit(tx, c::OrderCreated{o.order_id, o.user_id, o.customer_email, lines, o.total.minor, o.currency});
    return {201, std::move(json), o.order_id};
  });
  if (out.status == 422)
    return http::problem(422, "Idempotency-Key was already used with a different request", req.path);
  if (!out.replayed && out.status == 201) {
    backlog.created();
    metrics.orders_created.Increment();
    log::info({"order", req.request_id, out.order_id}, "order created");
  }
  http::Response r = http::json_text(out.status, std::move(out.body));
  r.set_header("Location", "/api/orders/" + out.order_id);
  if (out.replayed) r.set_header("Idempotent-Replayed", "true");
  return r;
}

http::Response list_orders(storage::Database& db, http::Request& req, std::optional<std::string> email) {
  auto limit = http::parse_limit(req);
  if (!limit) return http::from_error(limit.error(), req.path);
  auto before = http::parse_before(req);
  if (!before) return http::from_error(before.error(), req.path);
  adapters::ListQuery q;
  q.limit = *limit;
  q.before = *before;
  if (auto st = req.query_param("status"); st && !st->empty()) {
    static const std::vector<std::string> kStatuses = {"PENDING", "COMPLETED", "FAILED", "CANCELLED"};
    if (std::find(kStatuses.begin(), kStatuses.end(), *st) == kStatuses.end())
      return http::problem(400, "status must be one of PENDING, COMPLETED, FAILED, CANCELLED", req.path);
    q.status = std::string(*st);
  }
  if (email) q.email_lower = domain::email_key(*email);
  q.user_id = runtime::owner_filter(req);
  auto orders = db.read([&](soci::session& sql) { return adapters::list(sql, q); });
  std::string body = "[";
  for (std::size_t i = 0; i < orders.size(); ++i) body += (i ? "," : "") + order_json(orders[i]);
  return http::json_text(200, body + "]");
}

http::Response cancel_order(storage::Database& db, http::Request& req) {
  const auto& id = req.params["orderId"];
  if (!is_uuid(id)) return http::problem(404, "order " + id + " not found", req.path);
  auto body = http::parse_body(req, /*optional=*/true);
  if (!body) return http::from_error(body.error(), req.path);
  std::optional<std::string> reason;
  if (body->is_object()) {
    if (auto* r = body->as_object().if_contains("reason"); r && !r->is_null()) {
      if (!r->is_string()) return http::problem(400, "reason must be a string", req.path);
      if (r->as_string().size() > 500) return http::problem(400, "reason must be at most 500 characters", req.path);
      reason = std::string(r->as_string());
    }
  } else {
    return http::problem(400, "body must be a JSON object", req.path);
  }
  std::string lower_id = id;
  std::transform(lower_id.begin(), lower_id.end(), lower_id.begin(), [](unsigned char ch) { return std::tolower(ch); });
  return db.write([&](storage::Tx& tx) -> http::Response {
    auto o = adapters::load(tx.sql, lower_id, /*lock=*/true);
    if (!o || !runtime::may_see(req, o->user_id)) return http::problem(404, "order " + id + " not found", req.path);
    auto decision = domain::request_cancel(*o, now_ms());
    if (!decision) return http::from_error(decision.error(), req.path);
    if (*decision == domain::CancelDecision::kAlreadyCancelled) return http::json_text(200, order_json(*o));
    if (*decision == domain::CancelDecision::kAccept) {
      adapters::update(tx.sql, *o);
      c::emit(tx, c::OrderCancelRequested{o->order_id, reason, o->cancel_seq});
      if (o->user_id != req.user_id)  // staff cancelling someone's order
        runtime::audit(tx, req, "order.cancel", o->order_id, reason.value_or(""));
      log::info({"order", req.request_id, o->order_id}, "cancel requested");
    }
    return http::json_text(202, order_json(*o));
  });
}

}  // namespace

runtime::Background register_order(runtime::ServiceContext& ctx) {
  ctx.db.migrate("order", adapters::migrations());
  auto& db = ctx.db;
  auto& metrics = ctx.metrics;

  bus::Subscription sub{
      "order", {std::string(c::SagaUpdated::kSubject)}, &ctx.db,
      [&metrics](std::span<const bus::Message* const> msgs, storage::Tx& tx) {
        // The saga's updates of a batch: every order they name loaded at once, each update
        // followed in order, each changed order written once.
        std::vector<c::SagaUpdated> updates;
        std::vector<std::string> ids;
        for (const auto* m : msgs) {
          updates.push_back(c::decode<c::SagaUpdated>(m->payload));
          ids.push_back(updates.back().orderId);
        }
        std::sort(ids.begin(), ids.end());
        ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
        auto orders = adapters::load_many(tx.sql, ids);
        std::set<std::string> changed;
        for (const auto& e : updates) {
          auto it = orders.find(e.orderId);
          if (it == orders.end()) throw std::runtime_error("saga update for unknown order " + e.orderId);
          domain::SagaView v{e.orderStatus, e.paymentStatus, e.inventoryStatus, e.fulfillmentStatus,
                             e.reason, e.cancelRequested, e.version, e.atMs, e.cancelSeq,
                             e.state == "NEEDS_ATTENTION"};
          if (domain::follow(it->second, v)) changed.insert(e.orderId);
        }
        std::vector<const Order*> rows;
        for (const auto& id : changed) rows.push_back(&orders.at(id));
        adapters::update_many(tx.sql, rows);
        metrics.messages_handled.Increment(static_cast<double>(msgs.size()));
      }};
  ctx.bus.subscribe(sub);
  runtime::register_dead_letter_routes(ctx, "order", sub);
  runtime::register_audit_routes(ctx, "order");

  auto backlog = std::make_shared<Backlog>(db, ctx.settings.max_pending_orders);
  ctx.router.add("POST", "/api/orders", Role::kCustomer, [&db, &metrics, backlog](http::Request& req) {
    return create_order(db, metrics, *backlog, req);
  });
  ctx.router.add("GET", "/api/orders", Role::kCustomer, [&db](http::Request& req) { return list_orders(db, req, std::nullopt); });
  ctx.router.add("GET", "/api/orders/customer/{email}", Role::kCustomer, [&db](http::Request& req) {
    std::string email = req.params["email"];
    return list_orders(db, req, email);
  });
  ctx.router.add("GET", "/api/orders/{orderId}", Role::kCustomer, [&db](http::Request& req) {
    std::string id = req.params["orderId"];
    if (!is_uuid(id)) return http::problem(404, "order " + id + " not found", req.path);
    std::transform(id.begin(), id.end(), id.begin(), [](unsigned char ch) { return std::tolower(ch); });
    auto o = db.read([&](soci::session& sql) { return adapters::load(sql, id); });
    if (!o || !runtime::may_see(req, o->user_id)) return http::problem(404, "order " + id + " not found", req.path);
    return http::json_text(200, order_json(*o));
  });
  ctx.router.add("PUT", "/api/orders/{orderId}/cancel", Role::kCustomer, [&db](http::Request& req) { return cancel_order(db, req); });

  // The janitor: forgets idempotency keys past their retention, at start and every 10 minutes.
  struct Janitor {
    std::mutex mu;
    std::condition_variable cv;
    bool stopping = false;
    std::thread thread;
  };
  auto janitor = std::make_shared<Janitor>();
  std::int64_t retention_ms = ctx.settings.idempotency_retention_hours * 3600 * 1000;
  auto start = [janitor, &db, retention_ms] {
    janitor->thread = std::thread([janitor, &db, retention_ms] {
      std::unique_lock lock(janitor->mu);
      while (!janitor->stopping) {
        lock.unlock();
        try {
          long long n = db.write([&](storage::Tx& tx) { return adapters::purge_keys(tx.sql, now_ms() - retention_ms); });
          if (n > 0) log::info({"order"}, "forgot " + std::to_string(n) + " expired idempotency keys");
        } catch (const std::exception& e) {
          log::error({"order"}, std::string("idempotency janitor: ") + e.what());
        }
        lock.lock();
        janitor->cv.wait_for(lock, std::chrono::minutes(10), [&] { return janitor->stopping; });
      }
    });
  };
  auto stop = [janitor] {
    {
      std::lock_guard lock(janitor->mu);
      janitor->stopping = true;
    }
    janitor->cv.notify_all();
    if (janitor->thread.joinable()) janitor->thread.join();
  };
  return {start, stop};
}

}  // namespace oms::order
