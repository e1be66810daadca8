#include "services/saga/module.h"

#include <algorithm>
#include <atomic>
#include <map>
#include <span>
#include <condition_variable>
#include <thread>
#include <tuple>

#include "libs/contracts/messages.h"
#include "libs/runtime/audit.h"
#include "libs/runtime/dead_letters.h"
#include "libs/runtime/ownership.h"
#include "libs/core/clock.h"
#include "libs/core/ids.h"
#include "libs/core/log.h"
#include "libs/http/json.h"
#include "libs/http/json_writer.h"
#include "services/saga/adapters/store.h"

namespace oms::saga {
namespace {

namespace c = oms::contracts;
using domain::Command;
using domain::Effects;
using domain::Saga;

// What the order service shows of the saga: it is told only when this changes.
using View = std::tuple<std::string, std::string, std::string, std::optional<std::string>,
                        std::optional<std::string>, bool, std::int64_t>;
View view_of(const Saga& s) {
  return {std::string(s.order_status()), s.payment_status, s.inventory_status, s.fulfillment_status,
          s.shown_reason(), s.cancel_requested, s.cancel_seq};
}

// The sagas a batch of inputs touches, loaded at once and written once at the end.
struct Slot {
  Saga saga;
  bool is_new = false;
  bool dirty = false;
};
struct Batch {
  std::map<std::string, Slot> slots;
  std::vector<adapters::HistoryRow> history;

  void load(storage::Tx& tx, const std::vector<std::string>& ids) {
    for (auto& [id, s] : adapters::load_many(tx.sql, ids)) slots.emplace(id, Slot{std::move(s)});
  }
  void write(storage::Tx& tx) {
    std::vector<const Saga*> inserts, updates;
    for (const auto& [id, slot] : slots) {
      if (slot.is_new) inserts.push_back(&slot.saga);
      else if (slot.dirty) updates.push_back(&slot.saga);
    }
    adapters::insert_many(tx.sql, inserts);
    adapters::update_many(tx.sql, updates);
    adapters::append_history(tx.sql, history);
  }
};

// Records what one input caused: the saga's new state (written by Batch::write), its history,
// the commands and the order's view (to the outbox now, in input order).
void apply(storage::Tx& tx, Slot& slot, const Effects& fx, runtime::Metrics& metrics, const View& before,
           Batch& batch) {
  const Saga& s = slot.saga;
  if (!fx.changed) {
    if (fx.ignored) log::debug({"saga", {}, s.order_id}, "ignored: " + *fx.ignored);
    return;
  }
  slot.dirty = true;
  long long seq = s.version * 16;
  for (const auto& h : fx.history) batch.history.push_back({s.order_id, seq++, h});
  for (Command cmd : fx.commands) {
    std::vector<c::Line> lines;
    for (const auto& i : s.items) lines.push_back({i.product_id, i.quantity, i.price_minor});
    switch (cmd) {
      case Command::kReserve: c::emit(tx, c::ReserveInventory{s.order_id, lines, s.currency}); break;
      case Command::kRelease: c::emit(tx, c::ReleaseInventory{s.order_id}); break;
      case Command::kAuthorize:
        c::emit(tx, c::AuthorizePayment{s.order_id, s.amount_minor, s.currency, s.owner_id});
        break;
      case Command::kRefund: c::emit(tx, c::RefundPayment{s.order_id}); break;
      case Command::kCreateFulfillment: c::emit(tx, c::CreateFulfillment{s.order_id, s.owner_id}); break;
      case Command::kCancelFulfillment: c::emit(tx, c::CancelFulfillment{s.order_id}); break;
    }
  }
  if (view_of(s) != before || fx.reached)
    c::emit(tx, c::SagaUpdated{s.order_id, s.customer_email, std::string(domain::to_string(s.state)),
                             std::string(s.order_status()), s.payment_status, s.inventory_status,
                             s.fulfillment_status, s.shown_reason(), s.cancel_requested,
                             s.cancel_seq, s.version,
                             s.updated_ms, s.amount_minor, s.currency});
  if (log::enabled(log::Level::kDebug))
    for (const auto& h : fx.history)
      log::debug({"saga", {}, s.order_id}, std::string(domain::to_string(h.state)) + (h.detail ? ": " + *h.detail : ""));
  if (fx.alert) {
    log::error({"saga", {}, s.order_id}, *s.attention + ": an admin must retry or resolve it");
    c::emit(tx, c::OperatorAlert{s.order_id, *s.attention});
  }
  if (fx.reached) {
    log::info({"saga", {}, s.order_id}, "saga " + std::string(domain::to_string(*fx.reached)) +
                                            (s.reason ? " (" + *s.reason + ")" : ""));
    c::emit(tx, c::SagaOutcome{s.order_id, s.customer_email, std::string(domain::to_string(*fx.reached)), s.reason,
                               s.owner_id});
    if (s.updated_ms >= s.created_ms)
      metrics.saga_duration.Observe(static_cast<double>(s.updated_ms - s.created_ms) / 1000.0);
    if (*fx.reached == domain::State::kCompleted) metrics.sagas_completed.Increment();
    if (*fx.reached == domain::State::kFailed) metrics.sagas_failed.Increment();
    if (*fx.reached == domain::State::kCancelled) metrics.sagas_cancelled.Increment();
  }
}

Effects dispatch(Saga& s, const bus::Message& m, const boost::json::value& v, long long now) {
  const auto& subj = m.subject;
  auto as = [&v]<class T>(T*) { return boost::json::value_to<T>(v); };
  if (subj == c::InventoryReserved::kSubject) return s.on_inventory_reserved(now);
  if (subj == c::InventoryRejected::kSubject)
    return s.on_inventory_rejected(as((c::InventoryRejected*)nullptr).reason, now);
  if (subj == c::InventoryReleased::kSubject) return s.on_inventory_released(now);
  if (subj == c::PaymentCompleted::kSubject) return s.on_payment_completed(now);
  if (subj == c::PaymentFailed::kSubject) return s.on_payment_failed(as((c::PaymentFailed*)nullptr).reason, now);
  if (subj == c::PaymentRefunded::kSubject) {
    auto e = as((c::PaymentRefunded*)nullptr);
    return s.on_payment_refunded(e.manual, e.captured, now);
  }
  if (subj == c::FulfillmentCreated::kSubject) return s.on_fulfillment_created(now);
  if (subj == c::FulfillmentCancelled::kSubject) return s.on_fulfillment_cancelled(now);
  if (subj == c::FulfillmentCancelRejected::kSubject)
    return s.on_fulfillment_cancel_rejected(as((c::FulfillmentCancelRejected*)nullptr).reason, now);
  if (subj == c::ShipmentDispatched::kSubject) return s.on_shipment_dispatched(now);
  if (subj == c::ShipmentDelivered::kSubject) return s.on_shipment_delivered(now);
  if (subj == c::OrderCancelRequested::kSubject) {
    auto e = as((c::OrderCancelRequested*)nullptr);
    return s.on_cancel_requested(e.reason, now, e.cancelSeq);
  }
  throw std::runtime_error("saga: unexpected subject " + subj);
}

// A batch of inputs: every saga they name is loaded in one statement, each input is applied in
// order to the saga in memory (two inputs for one saga see each other's changes), and every
// changed saga is written once, with all history rows in one statement.
void on_batch(std::span<const bus::Message* const> msgs, storage::Tx& tx, const runtime::Settings& settings,
              runtime::Metrics& metrics) {
  long long now = now_ms();
  std::vector<boost::json::value> values;
  std::vector<std::string> ids;
  values.reserve(msgs.size());
  for (const auto* m : msgs) {
    values.push_back(boost::json::parse(m->payload));
    ids.push_back(boost::json::value_to<std::string>(values.back().at("orderId")));
  }
  std::vector<std::string> unique = ids;
  std::sort(unique.begin(), unique.end());
  unique.erase(std::unique(unique.begin(), unique.end()), unique.end());
  Batch batch;
  batch.load(tx, unique);
  for (std::size_t i = 0; i < msgs.size(); ++i) {
    const bus::Message& m = *msgs[i];
    log::RequestScope scope(m.request_id);  // its logs and the messages it causes carry it on
    auto it = batch.slots.find(ids[i]);
    if (m.subject == c::OrderCreated::kSubject) {
      if (it != batch.slots.end()) continue;  // a saga per order, once
      auto e = boost::json::value_to<c::OrderCreated>(values[i]);
      std::vector<domain::Item> items;
      for (auto& l : e.items) items.push_back({l.productId, l.quantity, l.priceMinor});
      Effects fx;
      Saga s = Saga::start(e.orderId, e.customerEmail, e.amountMinor, e.currency, std::move(items), now,
                           settings.step_timeout_ms, fx);
      s.owner_id = e.userId;
      Slot& slot = batch.slots.emplace(ids[i], Slot{std::move(s), /*is_new=*/true}).first->second;
      apply(tx, slot, fx, metrics, view_of(Saga{}), batch);
      continue;
    }
    // Every other message names an order whose saga must exist.
    if (it == batch.slots.end()) throw std::runtime_error("no saga for order " + ids[i] + " (" + m.subject + ")");
    Slot& slot = it->second;
    const View before = view_of(slot.saga);
    Effects fx = dispatch(slot.saga, m, values[i], now);
    apply(tx, slot, fx, metrics, before, batch);
  }
  batch.write(tx);
  metrics.messages_handled.Increment(static_cast<double>(msgs.size()));
}

std::string saga_json(const Saga& s, const std::vector<domain::HistoryEntry>* history) {
  http::JsonWriter w;
  w.begin_object();
  w.field("orderId", s.order_id).field("state", std::string(domain::to_string(s.state)));
  w.field("reason", s.reason).field("amount", Money{s.amount_minor}).field("currency", s.currency);
  w.field("awaiting", std::string(domain::to_string(s.awaiting)));
  w.field("cancelRequested", s.cancel_requested);
  w.key("items").begin_array();
  bool reserved = s.inventory_status == "RESERVED";
  for (const auto& i : s.items) {
    w.begin_object().field("productId", i.product_id).field("quantity", i.quantity);
    w.field("price", Money{i.price_minor}).field("reserved", reserved).end_object();
  }
  w.end_array();
  if (history) {
    w.key("history").begin_array();
    for (const auto& h : *history) {
      w.begin_object().field("state", std::string(domain::to_string(h.state)));
      w.field("at", rfc3339(h.at_ms)).field("detail", h.detail).end_object();
    }
    w.end_array();
  }
  w.key("deadline");
  s.deadline_ms ? w.str(rfc3339(s.deadline_ms)) : w.null();
  w.field("createdAt", rfc3339(s.created_ms)).field("updatedAt", rfc3339(s.updated_ms));
  w.end_object();
  return w.take();
}

class Timer {
 public:
  Timer(runtime::ServiceContext& ctx) : db_(ctx.db), metrics_(ctx.metrics) {}
  void start() {
    thread_ = std::thread([this] { run(); });
  }
  void stop() {
    {
      std::lock_guard l(mu_);
      stopping_ = true;
    }
    cv_.notify_all();
    if (thread_.joinable()) thread_.join();
  }

 private:
  void run() {
    std::unique_lock lock(mu_);
    while (!stopping_) {
      lock.unlock();
      try {
        fire();
      } catch (const std::exception& e) {
        log::error({"saga"}, std::string("timer: ") + e.what());
      }
      lock.lock();
      cv_.wait_for(lock, std::chrono::milliseconds(100), [&] { return stopping_; });
    }
  }
  void fire() {
    long long now = now_ms();
    if (now - counted_ms_ >= 1000) {  // the gauge of sagas that wait for an admin, once a second
      counted_ms_ = now;
      auto n = db_.read([&](soci::session& s) { return adapters::count_in_state(s, "NEEDS_ATTENTION"); });
      metrics_.sagas_needing_attention.Set(static_cast<double>(n));
    }
    auto due = db_.read([&](soci::session& s) { return adapters::overdue(s, now, 256); });
    if (due.empty()) return;
    std::sort(due.begin(), due.end());
    db_.write([&](storage::Tx& tx) {
      Batch batch;
      batch.load(tx, due);
      for (auto& [id, slot] : batch.slots) {
        const View before = view_of(slot.saga);
        auto fx = slot.saga.on_tick(now);
        if (fx.changed) log::warn({"saga", {}, id}, "step deadline passed while " +
                                                        std::string(domain::to_string(slot.saga.state)));
        apply(tx, slot, fx, metrics_, before, batch);
      }
      batch.write(tx);
    });
  }

  storage::Database& db_;
  runtime::Metrics& metrics_;
  long long counted_ms_ = 0;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace

runtime::Background register_saga(runtime::ServiceContext& ctx) {
  ctx.db.migrate("saga", adapters::migrations());
  auto& settings = ctx.settings;
  auto& metrics = ctx.metrics;
  bus::Subscription sub{
      "saga",
      {std::string(c::OrderCreated::kSubject), std::string(c::OrderCancelRequested::kSubject),
       std::string(c::InventoryReserved::kSubject), std::string(c::InventoryRejected::kSubject),
       std::string(c::InventoryReleased::kSubject), std::string(c::PaymentCompleted::kSubject),
       std::string(c::PaymentFailed::kSubject), std::string(c::PaymentRefunded::kSubject),
       std::string(c::FulfillmentCreated::kSubject), std::string(c::FulfillmentCancelled::kSubject),
       std::string(c::FulfillmentCancelRejected::kSubject),
       std::string(c::ShipmentDispatched::kSubject), std::string(c::ShipmentDelivered::kSubject)},
      &ctx.db,
      [&settings, &metrics](std::span<const bus::Message* const> msgs, storage::Tx& tx) {
        on_batch(msgs, tx, settings, metrics);
      }};
  ctx.bus.subscribe(sub);
  runtime::register_dead_letter_routes(ctx, "saga", sub);
  runtime::register_audit_routes(ctx, "saga");

  auto& db = ctx.db;
  ctx.router.add("GET", "/api/sagas/{orderId}", Role::kCustomer, [&db](http::Request& req) {
    const auto& id = req.params["orderId"];
    if (!is_uuid(id)) return http::problem(404, "no saga for order " + id, req.path);
    return db.read([&](soci::session& sql) {
      auto s = adapters::load(sql, id);
      if (!s || !runtime::may_see(req, s->owner_id)) return http::problem(404, "no saga for order " + id, req.path);
      auto h = adapters::history(sql, id);
      return http::json_text(200, saga_json(*s, &h));
    });
  });
  ctx.router.add("GET", "/api/sagas", Role::kCustomer, [&db](http::Request& req) {
    auto limit = http::parse_limit(req);
    if (!limit) return http::from_error(limit.error(), req.path);
    std::optional<std::string> state;
    if (auto st = req.query_param("state"); st && !st->empty()) {
      if (!domain::parse_state(*st)) return http::problem(400, "state: unknown saga state", req.path);
      state = std::string(*st);
    }
    auto before = http::parse_before(req);
    if (!before) return http::from_error(before.error(), req.path);
    auto owner = runtime::owner_filter(req);
    auto sagas = db.read([&](soci::session& sql) { return adapters::list(sql, state, owner, *before, *limit); });
    std::string body = "[";
    for (std::size_t i = 0; i < sagas.size(); ++i) body += (i ? "," : "") + saga_json(sagas[i], nullptr);
    return http::json_text(200, body + "]");
  });

  // An admin's answers to NEEDS_ATTENTION (API.md "Saga"): retry the failed step, or record that
  // it was settled by hand. Both audited with the saga's change.
  auto admin_step = [&db, &metrics](http::Request& req, bool resolve) -> http::Response {
    const auto& id = req.params["orderId"];
    if (!is_uuid(id)) return http::problem(404, "no saga for order " + id, req.path);
    std::string note;
    if (resolve) {
      auto body = http::parse_body(req, /*optional=*/false);
      if (!body) return http::from_error(body.error(), req.path);
      const auto* n = body->is_object() ? body->as_object().if_contains("note") : nullptr;
      if (!n || !n->is_string() || n->as_string().empty() || n->as_string().size() > 500)
        return http::problem(400, "note must be a string of 1-500 characters: what was done by hand", req.path);
      note = std::string(n->as_string());
    }
    return db.write([&](storage::Tx& tx) -> http::Response {
      Batch batch;
      batch.load(tx, {id});
      auto it = batch.slots.find(id);
      if (it == batch.slots.end()) return http::problem(404, "no saga for order " + id, req.path);
      Slot& slot = it->second;
      const View before = view_of(slot.saga);
      auto fx = resolve ? slot.saga.resolve(req.user_id, note, now_ms()) : slot.saga.retry(req.user_id, now_ms());
      if (!fx) return http::from_error(fx.error(), req.path);
      apply(tx, slot, *fx, metrics, before, batch);
      batch.write(tx);
      runtime::audit(tx, req, resolve ? "saga.resolve" : "saga.retry", id, note);
      return http::json_text(resolve ? 200 : 202, saga_json(slot.saga, nullptr));
    });
  };
  ctx.router.add("POST", "/api/admin/saga/sagas/{orderId}/retry", Role::kAdmin,
                 [admin_step](http::Request& req) { return admin_step(req, false); });
  ctx.router.add("POST", "/api/admin/saga/sagas/{orderId}/resolve", Role::kAdmin,
                 [admin_step](http::Request& req) { return admin_step(req, true); });

  auto timer = std::make_shared<Timer>(ctx);
  return {[timer] { timer->start(); }, [timer] { timer->stop(); }};
}

}  // namespace oms::saga
