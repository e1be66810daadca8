#include "services/saga/module.h"

#include <atomic>
#include <condition_variable>
#include <thread>
#include <tuple>

#include "libs/contracts/messages.h"
#include "libs/runtime/dead_letters.h"
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
          s.reason, s.cancel_requested, s.cancel_seq};
}

// Writes what one input caused: the saga row, its history, the commands and the order's view.
void apply(storage::Tx& tx, const Saga& s, const Effects& fx, runtime::Metrics& metrics, const View& before) {
  if (!fx.changed) {
    if (fx.ignored) log::debug({"saga", {}, s.order_id}, "ignored: " + *fx.ignored);
    return;
  }
  adapters::update(tx.sql, s);
  adapters::append_history(tx.sql, s.order_id, s.version, fx.history);
  for (Command cmd : fx.commands) {
    std::vector<c::Line> lines;
    for (const auto& i : s.items) lines.push_back({i.product_id, i.quantity, i.price_minor});
    switch (cmd) {
      case Command::kReserve: c::emit(tx, c::ReserveInventory{s.order_id, lines}); break;
      case Command::kRelease: c::emit(tx, c::ReleaseInventory{s.order_id}); break;
      case Command::kAuthorize:
        c::emit(tx, c::AuthorizePayment{s.order_id, s.amount_minor, s.currency});
        break;
      case Command::kRefund: c::emit(tx, c::RefundPayment{s.order_id}); break;
      case Command::kCreateFulfillment: c::emit(tx, c::CreateFulfillment{s.order_id}); break;
      case Command::kCancelFulfillment: c::emit(tx, c::CancelFulfillment{s.order_id}); break;
    }
  }
  if (view_of(s) != before || fx.reached)
    c::emit(tx, c::SagaUpdated{s.order_id, s.customer_email, std::string(domain::to_string(s.state)),
                             std::string(s.order_status()), s.payment_status, s.inventory_status,
                             s.fulfillment_status, s.reason, s.cancel_requested, s.cancel_seq, s.version,
                             s.updated_ms, s.amount_minor, s.currency});
  for (const auto& h : fx.history)
    log::debug({"saga", {}, s.order_id}, std::string(domain::to_string(h.state)) + (h.detail ? ": " + *h.detail : ""));
  if (fx.reached) {
    log::info({"saga", {}, s.order_id}, "saga " + std::string(domain::to_string(*fx.reached)) +
                                            (s.reason ? " (" + *s.reason + ")" : ""));
    c::emit(tx, c::SagaOutcome{s.order_id, s.customer_email, std::string(domain::to_string(*fx.reached)), s.reason});
    if (s.updated_ms >= s.created_ms)
      metrics.saga_duration.Observe(static_cast<double>(s.updated_ms - s.created_ms) / 1000.0);
    if (*fx.reached == domain::State::kCompleted) metrics.sagas_completed.Increment();
    if (*fx.reached == domain::State::kFailed) metrics.sagas_failed.Increment();
    if (*fx.reached == domain::State::kCancelled) metrics.sagas_cancelled.Increment();
  }
}

void on_message(const bus::Message& m, storage::Tx& tx, const runtime::Settings& settings,
                runtime::Metrics& metrics) {
  long long now = now_ms();
  if (m.subject == c::OrderCreated::kSubject) {
    auto e = c::decode<c::OrderCreated>(m.payload);
    if (adapters::load(tx.sql, e.orderId, /*lock=*/true)) return;  // a saga per order, once
    std::vector<domain::Item> items;
    for (auto& l : e.items) items.push_back({l.productId, l.quantity, l.priceMinor});
    Effects fx;
    Saga s = Saga::start(e.orderId, e.customerEmail, e.amountMinor, e.currency, std::move(items), now,
                         settings.step_timeout_ms, fx);
    adapters::insert(tx.sql, s);
    Saga fresh;
    apply(tx, s, fx, metrics, view_of(fresh));
    return;
  }
  // Every other message names an order whose saga must exist.
  auto v = boost::json::parse(m.payload);
  std::string order_id = boost::json::value_to<std::string>(v.at("orderId"));
  auto loaded = adapters::load(tx.sql, order_id, /*lock=*/true);
  if (!loaded) throw std::runtime_error("no saga for order " + order_id + " (" + m.subject + ")");
  Saga& s = *loaded;
  const View before = view_of(s);
  Effects fx;
  const auto& subj = m.subject;
  if (subj == c::InventoryReserved::kSubject) fx = s.on_inventory_reserved(now);
  else if (subj == c::InventoryRejected::kSubject)
    fx = s.on_inventory_rejected(c::decode<c::InventoryRejected>(m.payload).reason, now);
  else if (subj == c::InventoryReleased::kSubject) fx = s.on_inventory_released(now);
  else if (subj == c::PaymentCompleted::kSubject) fx = s.on_payment_completed(now);
  else if (subj == c::PaymentFailed::kSubject)
    fx = s.on_payment_failed(c::decode<c::PaymentFailed>(m.payload).reason, now);
  else if (subj == c::PaymentRefunded::kSubject) {
    auto e = c::decode<c::PaymentRefunded>(m.payload);
    fx = s.on_payment_refunded(e.manual, e.captured, now);
  } else if (subj == c::FulfillmentCreated::kSubject) fx = s.on_fulfillment_created(now);
  else if (subj == c::FulfillmentCancelled::kSubject) fx = s.on_fulfillment_cancelled(now);
  else if (subj == c::FulfillmentCancelRejected::kSubject)
    fx = s.on_fulfillment_cancel_rejected(c::decode<c::FulfillmentCancelRejected>(m.payload).reason, now);
  else if (subj == c::ShipmentDispatched::kSubject) fx = s.on_shipment_dispatched(now);
  else if (subj == c::ShipmentDelivered::kSubject) fx = s.on_shipment_delivered(now);
  else if (subj == c::OrderCancelRequested::kSubject)
  {
    auto e = c::decode<c::OrderCancelRequested>(m.payload);
    fx = s.on_cancel_requested(e.reason, now, e.cancelSeq);
  }
  apply(tx, s, fx, metrics, before);
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
    auto due = db_.read([&](soci::session& s) { return adapters::overdue(s, now, 256); });
    if (due.empty()) return;
    db_.write([&](storage::Tx& tx) {
      for (const auto& id : due) {
        auto s = adapters::load(tx.sql, id, /*lock=*/true);
        if (!s) continue;
        const View before = view_of(*s);
        auto fx = s->on_tick(now);
        if (fx.changed) log::warn({"saga", {}, id}, "step deadline passed while " +
                                                        std::string(domain::to_string(s->state)));
        apply(tx, *s, fx, metrics_, before);
      }
    });
  }

  storage::Database& db_;
  runtime::Metrics& metrics_;
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
      [&settings, &metrics](const bus::Message& m, storage::Tx& tx) {
        on_message(m, tx, settings, metrics);
        metrics.messages_handled.Increment();
      }};
  ctx.bus.subscribe(sub);
  runtime::register_dead_letter_routes(ctx, "saga", sub);

  auto& db = ctx.db;
  ctx.router.add("GET", "/api/sagas/{orderId}", [&db](http::Request& req) {
    const auto& id = req.params["orderId"];
    if (!is_uuid(id)) return http::problem(404, "no saga for order " + id, req.path);
    return db.read([&](soci::session& sql) {
      auto s = adapters::load(sql, id);
      if (!s) return http::problem(404, "no saga for order " + id, req.path);
      auto h = adapters::history(sql, id);
      return http::json_text(200, saga_json(*s, &h));
    });
  });
  ctx.router.add("GET", "/api/sagas", [&db](http::Request& req) {
    auto limit = http::parse_limit(req);
    if (!limit) return http::from_error(limit.error(), req.path);
    std::optional<std::string> state;
    if (auto st = req.query_param("state"); st && !st->empty()) {
      if (!domain::parse_state(*st)) return http::problem(400, "state: unknown saga state", req.path);
      state = std::string(*st);
    }
    auto sagas = db.read([&](soci::session& sql) { return adapters::list(sql, state, *limit); });
    std::string body = "[";
    for (std::size_t i = 0; i < sagas.size(); ++i) body += (i ? "," : "") + saga_json(sagas[i], nullptr);
    return http::json_text(200, body + "]");
  });

  auto timer = std::make_shared<Timer>(ctx);
  return {[timer] { timer->start(); }, [timer] { timer->stop(); }};
}

}  // namespace oms::saga
