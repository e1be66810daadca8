#include "services/notification/module.h"

#include <algorithm>
#include <map>
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
#include "services/notification/adapters/store.h"
#include "services/notification/domain/notification.h"

namespace oms::notification {
namespace {

namespace c = oms::contracts;

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char ch) { return std::tolower(ch); });
  return s;
}

// A batch of events: the recipients of the orders they name are read in one statement, the
// notifications they cause are recorded with one statement (a duplicate (order, type) is
// dropped there), and new recipients with another. Each notification belongs to the order's user.
void on_batch(std::span<const bus::Message* const> msgs, storage::Tx& tx, const std::string& operators) {
  long long now = now_ms();
  std::map<std::string, adapters::Recipient> fresh;  // recipients the batch learns
  std::vector<adapters::Notification> rows;
  std::vector<std::string> need;  // orders whose recipient is read from the table
  struct Pending {
    std::string order_id;
    domain::Draft draft;
    std::optional<adapters::Recipient> to;  // none: look it up
    std::string request_id = {};
  };
  std::vector<Pending> pending;
  for (const auto* m : msgs) {
    std::size_t before = pending.size();
    if (m->subject == c::OrderCreated::kSubject) {
      auto e = c::decode<c::OrderCreated>(m->payload);
      adapters::Recipient to{e.customerEmail, e.userId};
      fresh.emplace(e.orderId, to);
      pending.push_back({e.orderId, domain::order_created(e.orderId, format_money(Money{e.amountMinor}) + " " + e.currency), to});
    } else if (m->subject == c::SagaOutcome::kSubject) {
      auto e = c::decode<c::SagaOutcome>(m->payload);
      if (auto d = domain::saga_outcome(e.orderId, e.state, e.reason))
        pending.push_back({e.orderId, *d, adapters::Recipient{e.customerEmail, e.ownerId}});
    } else if (m->subject == c::PaymentRefunded::kSubject) {
      auto e = c::decode<c::PaymentRefunded>(m->payload);
      if (e.manual) pending.push_back({e.orderId, domain::payment_refunded(e.orderId), std::nullopt});
    } else if (m->subject == c::ShipmentDispatched::kSubject) {
      auto e = c::decode<c::ShipmentDispatched>(m->payload);
      pending.push_back({e.orderId, domain::order_dispatched(e.orderId, e.trackingNumber), std::nullopt});
    } else if (m->subject == c::OperatorAlert::kSubject) {
      // To the operators' address, and no customer's to read (staff only).
      auto e = c::decode<c::OperatorAlert>(m->payload);
      pending.push_back({e.orderId, domain::operator_alert(e.orderId, e.reason), adapters::Recipient{operators, std::nullopt}});
    } else {
      throw std::runtime_error("notification: unexpected subject " + m->subject);
    }
    if (pending.size() > before) pending.back().request_id = m->request_id;
  }
  for (const auto& p : pending)
    if (!p.to && !fresh.count(p.order_id)) need.push_back(p.order_id);
  auto known = adapters::recipients(tx.sql, need);
  for (auto& p : pending) {
    if (!p.to) {
      auto f = fresh.find(p.order_id);
      auto k = known.find(p.order_id);
      if (f != fresh.end()) p.to = f->second;
      else if (k != known.end()) p.to = k->second;
      else throw std::runtime_error("no recipient known yet for order " + p.order_id);
    }
    rows.push_back({new_uuid(), p.order_id, p.to->email, p.draft.subject, p.draft.type, p.draft.body, now, p.to->owner_id});
  }
  adapters::add_recipients(tx.sql, fresh);
  std::map<std::pair<std::string, std::string>, std::string> request_of;
  for (const auto& p : pending) request_of.emplace(std::pair{p.order_id, p.draft.type}, p.request_id);
  for (const auto& key : adapters::record(tx.sql, rows)) {
    log::RequestScope scope(request_of[key]);
    log::info({"notification", {}, key.first}, "sent " + key.second);
  }
}

}  // namespace

runtime::Background register_notification(runtime::ServiceContext& ctx) {
  ctx.db.migrate("notification", adapters::migrations());
  auto& db = ctx.db;
  auto& metrics = ctx.metrics;
  bus::Subscription sub{
      "notification",
      {std::string(c::OrderCreated::kSubject), std::string(c::SagaOutcome::kSubject),
       std::string(c::PaymentRefunded::kSubject), std::string(c::ShipmentDispatched::kSubject),
       std::string(c::OperatorAlert::kSubject)},
      &ctx.db, [&metrics, operators = ctx.settings.operator_email](std::span<const bus::Message* const> msgs,
                                                                 storage::Tx& tx) {
        on_batch(msgs, tx, operators);
        metrics.messages_handled.Increment(static_cast<double>(msgs.size()));
      }};
  ctx.bus.subscribe(sub);
  runtime::register_dead_letter_routes(ctx, "notification", sub);
  runtime::register_audit_routes(ctx, "notification");

  ctx.router.add("GET", "/api/notifications", Role::kCustomer, [&db](http::Request& req) {
    auto limit = http::parse_limit(req);
    if (!limit) return http::from_error(limit.error(), req.path);
    std::string order_id(req.query_param("orderId").value_or(""));
    std::string recipient = lower(std::string(req.query_param("recipient").value_or("")));
    auto before = http::parse_before(req);
    if (!before) return http::from_error(before.error(), req.path);
    auto owner = runtime::owner_filter(req);
    auto rows = db.read([&](soci::session& sql) { return adapters::list(sql, order_id, recipient, owner, *before, *limit); });
    http::JsonWriter w;
    w.begin_array();
    for (const auto& n : rows) {
      w.begin_object().field("id", n.id).field("orderId", n.order_id);
      w.field("recipient", n.recipient).field("subject", n.subject).field("type", n.type);
      w.field("body", n.body).field("sentAt", rfc3339(n.sent_ms)).end_object();
    }
    w.end_array();
    return http::json_text(200, w.take());
  });
  return {};
}

}  // namespace oms::notification
