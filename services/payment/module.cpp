#include "services/payment/module.h"

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
#include "services/payment/adapters/store.h"

namespace oms::payment {
namespace {

namespace c = oms::contracts;
using domain::Payment;

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

// A batch of payment commands: the payments of every order they name are loaded in one
// statement, each command applies in order in memory, and new and changed payments are written
// with one statement each.
void on_batch(std::span<const bus::Message* const> msgs, storage::Tx& tx, const runtime::Settings& settings,
              const runtime::Faults& faults) {
  long long now = now_ms();
  std::vector<boost::json::value> values;  // each payload parsed once
  std::vector<std::string> order_ids;
  for (const auto* m : msgs) {
    values.push_back(boost::json::parse(m->payload));
    order_ids.push_back(boost::json::value_to<std::string>(values.back().at("orderId")));
  }
  // The provider's injected latency and failures come before anything is read, as a slow
  // provider's would: what is then read is current.
  for (const auto* m : msgs) faults.apply(m->subject == c::AuthorizePayment::kSubject ? "authorize" : "refund");
  auto payments = adapters::load_many(tx.sql, order_ids);
  std::set<std::string> created, refunded;
  for (std::size_t i = 0; i < msgs.size(); ++i) {
    const bus::Message& m = *msgs[i];
    log::RequestScope scope(m.request_id);
    const std::string& order_id = order_ids[i];
    auto it = payments.find(order_id);
    if (m.subject == c::AuthorizePayment::kSubject) {
      if (it != payments.end()) {  // once per order
        reply(tx, it->second);
        continue;
      }
      auto cmd = boost::json::value_to<c::AuthorizePayment>(values[i]);
      Payment p = domain::charge(new_uuid(), order_id, Money{cmd.amountMinor}, cmd.currency,
                                 settings.payment_decline_limit, "TX-" + random_hex(8), now);
      p.owner_id = cmd.ownerId;
      if (p.status == "FAILED") log::info({"payment", {}, p.order_id}, *p.failure_reason);
      else log::debug({"payment", {}, p.order_id}, "payment captured " + format_money(p.amount));
      reply(tx, p);
      payments.emplace(order_id, std::move(p));
      created.insert(order_id);
    } else if (m.subject == c::RefundPayment::kSubject) {
      if (it == payments.end()) {
        // Refund before authorize (a timed-out step): fence the order so a late authorize fails.
        payments.emplace(order_id, domain::voided(new_uuid(), order_id, now));
        created.insert(order_id);
        c::emit(tx, c::PaymentRefunded{order_id, false, false});
        continue;
      }
      auto outcome = domain::compensate(it->second, now);
      if (outcome == domain::RefundOutcome::kRefunded) refunded.insert(order_id);
      c::emit(tx, c::PaymentRefunded{order_id, false, outcome != domain::RefundOutcome::kNothingCaptured});
    } else {
      throw std::runtime_error("payment: unexpected subject " + m.subject);
    }
  }
  std::vector<const Payment*> inserts, updates;
  for (const auto& id : created) inserts.push_back(&payments.at(id));
  for (const auto& id : refunded)
    if (!created.count(id)) updates.push_back(&payments.at(id));
  adapters::insert_many(tx.sql, inserts);
  adapters::save_status_many(tx.sql, updates);
}

}  // namespace

runtime::Background register_payment(runtime::ServiceContext& ctx) {
  ctx.db.migrate("payment", adapters::migrations());
  auto& db = ctx.db;
  auto& settings = ctx.settings;
  auto& metrics = ctx.metrics;
  auto faults = std::make_shared<runtime::Faults>(std::vector<std::string>{"authorize", "refund"});
  faults->set("authorize", {settings.payment_delay_ms, 0.0});
  bus::Subscription sub{
      "payment", {std::string(c::AuthorizePayment::kSubject), std::string(c::RefundPayment::kSubject)},
      &ctx.db, [&settings, &metrics, faults](std::span<const bus::Message* const> msgs, storage::Tx& tx) {
        on_batch(msgs, tx, settings, *faults);
        metrics.messages_handled.Increment(static_cast<double>(msgs.size()));
      }};
  ctx.bus.subscribe(sub);
  runtime::register_dead_letter_routes(ctx, "payment", sub);
  runtime::register_audit_routes(ctx, "payment");
  runtime::register_fault_routes(ctx, "payment", faults);

  ctx.router.add("GET", "/api/payments/order/{orderId}", Role::kCustomer, [&db](http::Request& req) {
    const auto& id = req.params["orderId"];
    if (!is_uuid(id)) return http::problem(404, "no payment for order " + id, req.path);
    auto p = db.read([&](soci::session& sql) { return adapters::load(sql, id); });
    if (!p || !runtime::may_see(req, p->owner_id)) return http::problem(404, "no payment for order " + id, req.path);
    return http::json_text(200, payment_json(*p));
  });
  ctx.router.add("POST", "/api/payments/refund/{orderId}", Role::kStaff, [&db](http::Request& req) {
    const auto& id = req.params["orderId"];
    if (!is_uuid(id)) return http::problem(404, "no payment for order " + id, req.path);
    return db.write([&](storage::Tx& tx) -> http::Response {
      auto p = adapters::load(tx.sql, id, /*lock=*/true);
      if (!p) return http::problem(404, "no payment for order " + id, req.path);
      auto outcome = domain::manual_refund(*p, now_ms());
      if (!outcome) return http::from_error(outcome.error(), req.path);
      if (*outcome == domain::RefundOutcome::kRefunded) {
        adapters::save_status_many(tx.sql, {&*p});
        c::emit(tx, c::PaymentRefunded{p->order_id, true, true});
        runtime::audit(tx, req, "payment.refund", p->order_id, "amount=" + format_money(p->amount) + " " + p->currency);
        log::info({"payment", req.request_id, p->order_id}, "manual refund");
      }
      return http::json_text(200, payment_json(*p));
    });
  });
  return {};
}

}  // namespace oms::payment
