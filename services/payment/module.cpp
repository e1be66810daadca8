#include "services/payment/module.h"

#include <thread>

#include "libs/contracts/messages.h"
#include "libs/runtime/dead_letters.h"
#include "libs/core/clock.h"
#include "libs/core/ids.h"
#include "libs/core/log.h"
#include "libs/http/json.h"
#include "libs/http/json_writer.h"
#include "libs/storage/row.h"
#include "services/payment/domain/payment.h"

namespace oms::payment {
namespace {

namespace c = oms::contracts;
using domain::Payment;
using storage::get_int;
using storage::get_opt_str;
using storage::get_str;

const std::vector<std::string>& migrations() {
  static const std::vector<std::string> m = {
      "CREATE TABLE payments (id TEXT PRIMARY KEY, order_id TEXT NOT NULL UNIQUE,"
      " amount_minor BIGINT NOT NULL, currency TEXT NOT NULL, status TEXT NOT NULL,"
      " transaction_id TEXT, failure_reason TEXT, created_ms BIGINT NOT NULL, updated_ms BIGINT NOT NULL)",
  };
  return m;
}

std::optional<Payment> load(soci::session& sql, const std::string& order_id, bool lock = false) {
  soci::row r;
  sql << "SELECT id, order_id, amount_minor, currency, status, transaction_id, failure_reason,"
         " created_ms, updated_ms FROM payments WHERE order_id = :id" + std::string(storage::for_update(sql, lock)),
      soci::use(order_id, "id"), soci::into(r);
  if (!sql.got_data()) return std::nullopt;
  Payment p;
  p.id = get_str(r, 0);
  p.order_id = get_str(r, 1);
  p.amount = Money{get_int(r, 2)};
  p.currency = get_str(r, 3);
  p.status = get_str(r, 4);
  p.transaction_id = get_opt_str(r, 5);
  p.failure_reason = get_opt_str(r, 6);
  p.created_ms = get_int(r, 7);
  p.updated_ms = get_int(r, 8);
  return p;
}

void insert(soci::session& sql, const Payment& p) {
  storage::NullableText tx(p.transaction_id), reason(p.failure_reason);
  long long amount = p.amount.minor, c = p.created_ms, u = p.updated_ms;
  sql << "INSERT INTO payments (id, order_id, amount_minor, currency, status, transaction_id,"
         " failure_reason, created_ms, updated_ms) VALUES (:id, :oid, :amount, :cur, :st, :tx, :r, :c, :u)",
      soci::use(p.id, "id"), soci::use(p.order_id, "oid"), soci::use(amount, "amount"),
      soci::use(p.currency, "cur"), soci::use(p.status, "st"), soci::use(tx.value, tx.ind, "tx"),
      soci::use(reason.value, reason.ind, "r"), soci::use(c, "c"), soci::use(u, "u");
}

void save_status(soci::session& sql, const Payment& p) {
  long long u = p.updated_ms;
  sql << "UPDATE payments SET status = :st, updated_ms = :u WHERE id = :id", soci::use(p.status, "st"),
      soci::use(u, "u"), soci::use(p.id, "id");
}

std::string payment_json(const Payment& p) {
  http::JsonWriter w;
  w.begin_object().field("id", p.id).field("orderId", p.order_id).field("amount", p.amount);
  w.field("currency", p.currency).field("status", p.status).field("transactionId", p.transaction_id);
  w.field("failureReason", p.failure_reason);
  w.field("createdAt", rfc3339(p.created_ms)).field("updatedAt", rfc3339(p.updated_ms)).end_object();
  return w.take();
}

void reply(storage::Tx& tx, const Payment& p) {
  if (p.status == "FAILED") c::emit(tx, c::PaymentFailed{p.order_id, p.failure_reason.value_or("PAYMENT_FAILED")});
  else c::emit(tx, c::PaymentCompleted{p.order_id, p.id, p.transaction_id.value_or("")});
}

void on_message(const bus::Message& m, storage::Tx& tx, const runtime::Settings& settings) {
  long long now = now_ms();
  if (m.subject == c::AuthorizePayment::kSubject) {
    auto cmd = c::decode<c::AuthorizePayment>(m.payload);
    if (auto prior = load(tx.sql, cmd.orderId, /*lock=*/true)) return reply(tx, *prior);  // once per order
    if (settings.payment_delay_ms > 0)
      std::this_thread::sleep_for(std::chrono::milliseconds(settings.payment_delay_ms));
    Payment p = domain::charge(new_uuid(), cmd.orderId, Money{cmd.amountMinor}, cmd.currency,
                               settings.payment_decline_limit, "TX-" + random_hex(8), now);
    insert(tx.sql, p);
    reply(tx, p);
    if (p.status == "FAILED") log::info({"payment", {}, p.order_id}, *p.failure_reason);
    else log::debug({"payment", {}, p.order_id}, "payment captured " + format_money(p.amount));
  } else if (m.subject == c::RefundPayment::kSubject) {
    auto cmd = c::decode<c::RefundPayment>(m.payload);
    auto p = load(tx.sql, cmd.orderId, /*lock=*/true);
    if (!p) {
      // Refund before authorize (a timed-out step): fence the order so a late authorize fails.
      insert(tx.sql, domain::voided(new_uuid(), cmd.orderId, now));
      c::emit(tx, c::PaymentRefunded{cmd.orderId, false, false});
      return;
    }
    auto outcome = domain::compensate(*p, now);
    if (outcome == domain::RefundOutcome::kRefunded) save_status(tx.sql, *p);
    c::emit(tx, c::PaymentRefunded{cmd.orderId, false, outcome != domain::RefundOutcome::kNothingCaptured});
  }
}

}  // namespace

runtime::Background register_payment(runtime::ServiceContext& ctx) {
  ctx.db.migrate("payment", migrations());
  auto& db = ctx.db;
  auto& settings = ctx.settings;
  auto& metrics = ctx.metrics;
  bus::Subscription sub{
      "payment", {std::string(c::AuthorizePayment::kSubject), std::string(c::RefundPayment::kSubject)},
      &ctx.db, [&settings, &metrics](const bus::Message& m, storage::Tx& tx) {
        on_message(m, tx, settings);
        metrics.messages_handled.Increment();
      }};
  ctx.bus.subscribe(sub);
  runtime::register_dead_letter_routes(ctx, "payment", sub);

  ctx.router.add("GET", "/api/payments/order/{orderId}", [&db](http::Request& req) {
    const auto& id = req.params["orderId"];
    if (!is_uuid(id)) return http::problem(404, "no payment for order " + id, req.path);
    auto p = db.read([&](soci::session& sql) { return load(sql, id); });
    if (!p) return http::problem(404, "no payment for order " + id, req.path);
    return http::json_text(200, payment_json(*p));
  });
  ctx.router.add("POST", "/api/payments/refund/{orderId}", [&db](http::Request& req) {
    const auto& id = req.params["orderId"];
    if (!is_uuid(id)) return http::problem(404, "no payment for order " + id, req.path);
    return db.write([&](storage::Tx& tx) -> http::Response {
      auto p = load(tx.sql, id, /*lock=*/true);
      if (!p) return http::problem(404, "no payment for order " + id, req.path);
      auto outcome = domain::manual_refund(*p, now_ms());
      if (!outcome) return http::from_error(outcome.error(), req.path);
      if (*outcome == domain::RefundOutcome::kRefunded) {
        save_status(tx.sql, *p);
        c::emit(tx, c::PaymentRefunded{p->order_id, true, true});
        log::info({"payment", req.request_id, p->order_id}, "manual refund");
      }
      return http::json_text(200, payment_json(*p));
    });
  });
  return {};
}

}  // namespace oms::payment
