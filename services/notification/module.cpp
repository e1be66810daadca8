#include "services/notification/module.h"

#include <algorithm>

#include "libs/contracts/messages.h"
#include "libs/runtime/dead_letters.h"
#include "libs/core/clock.h"
#include "libs/core/ids.h"
#include "libs/core/log.h"
#include "libs/http/json.h"
#include "libs/http/json_writer.h"
#include "libs/storage/row.h"
#include "services/notification/domain/notification.h"

namespace oms::notification {
namespace {

namespace c = oms::contracts;
using storage::get_int;
using storage::get_str;

const std::vector<std::string>& migrations() {
  static const std::vector<std::string> m = {
      "CREATE TABLE recipients (order_id TEXT PRIMARY KEY, email TEXT NOT NULL)",
      "CREATE TABLE notifications (id TEXT PRIMARY KEY, order_id TEXT NOT NULL, recipient TEXT NOT NULL,"
      " recipient_lower TEXT NOT NULL, subject TEXT NOT NULL, type TEXT NOT NULL, body TEXT NOT NULL,"
      " sent_ms BIGINT NOT NULL, UNIQUE (order_id, type))",
      "CREATE INDEX notifications_sent ON notifications (sent_ms)",
      "CREATE INDEX notifications_recipient ON notifications (recipient_lower, sent_ms)",
  };
  return m;
}

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char ch) { return std::tolower(ch); });
  return s;
}

void record(soci::session& sql, const std::string& order_id, const std::string& email, const domain::Draft& d) {
  std::string id = new_uuid(), low = lower(email);
  long long now = now_ms();
  long long n = storage::exec(sql,
                              "INSERT INTO notifications (id, order_id, recipient, recipient_lower, subject, type, body,"
                              " sent_ms) VALUES (:id, :oid, :r, :rl, :s, :t, :b, :at) ON CONFLICT DO NOTHING",
                              soci::use(id, "id"), soci::use(order_id, "oid"), soci::use(email, "r"),
                              soci::use(low, "rl"), soci::use(d.subject, "s"), soci::use(d.type, "t"),
                              soci::use(d.body, "b"), soci::use(now, "at"));
  if (n) log::info({"notification", {}, order_id}, "sent " + d.type + " to " + email);
}

std::string recipient_of(soci::session& sql, const std::string& order_id) {
  std::string email;
  sql << "SELECT email FROM recipients WHERE order_id = :id", soci::use(order_id, "id"), soci::into(email);
  if (!sql.got_data()) throw std::runtime_error("no recipient known yet for order " + order_id);
  return email;
}

void on_message(const bus::Message& m, storage::Tx& tx) {
  if (m.subject == c::OrderCreated::kSubject) {
    auto e = c::decode<c::OrderCreated>(m.payload);
    tx.sql << "INSERT INTO recipients (order_id, email) VALUES (:id, :e) ON CONFLICT DO NOTHING",
        soci::use(e.orderId, "id"), soci::use(e.customerEmail, "e");
    record(tx.sql, e.orderId, e.customerEmail, domain::order_created(e.orderId, format_money(Money{e.amountMinor}) + " " + e.currency));
  } else if (m.subject == c::SagaOutcome::kSubject) {
    auto e = c::decode<c::SagaOutcome>(m.payload);
    if (auto d = domain::saga_outcome(e.orderId, e.state, e.reason)) record(tx.sql, e.orderId, e.customerEmail, *d);
  } else if (m.subject == c::PaymentRefunded::kSubject) {
    auto e = c::decode<c::PaymentRefunded>(m.payload);
    if (e.manual) record(tx.sql, e.orderId, recipient_of(tx.sql, e.orderId), domain::payment_refunded(e.orderId));
  } else if (m.subject == c::ShipmentDispatched::kSubject) {
    auto e = c::decode<c::ShipmentDispatched>(m.payload);
    record(tx.sql, e.orderId, recipient_of(tx.sql, e.orderId), domain::order_dispatched(e.orderId, e.trackingNumber));
  }
}

}  // namespace

runtime::Background register_notification(runtime::ServiceContext& ctx) {
  ctx.db.migrate("notification", migrations());
  auto& db = ctx.db;
  auto& metrics = ctx.metrics;
  bus::Subscription sub{
      "notification",
      {std::string(c::OrderCreated::kSubject), std::string(c::SagaOutcome::kSubject),
       std::string(c::PaymentRefunded::kSubject), std::string(c::ShipmentDispatched::kSubject)},
      &ctx.db, [&metrics](const bus::Message& m, storage::Tx& tx) {
        on_message(m, tx);
        metrics.messages_handled.Increment();
      }};
  ctx.bus.subscribe(sub);
  runtime::register_dead_letter_routes(ctx, "notification", sub);

  ctx.router.add("GET", "/api/notifications", [&db](http::Request& req) {
    auto limit = http::parse_limit(req);
    if (!limit) return http::from_error(limit.error(), req.path);
    std::string order_id(req.query_param("orderId").value_or(""));
    std::string recipient = lower(std::string(req.query_param("recipient").value_or("")));
    std::string where;
    if (!order_id.empty()) where += " WHERE order_id = :oid";
    if (!recipient.empty()) where += std::string(where.empty() ? " WHERE" : " AND") + " recipient_lower = :r";
    std::string q = "SELECT id, order_id, recipient, subject, type, body, sent_ms FROM notifications" + where +
                    " ORDER BY sent_ms DESC, id DESC LIMIT :lim";
    int lim = *limit;
    http::JsonWriter w;
    w.begin_array();
    db.read([&](soci::session& sql) {
      auto emit_rows = [&](soci::rowset<soci::row> rows) {
        for (const auto& r : rows) {
          w.begin_object().field("id", get_str(r, 0)).field("orderId", get_str(r, 1));
          w.field("recipient", get_str(r, 2)).field("subject", get_str(r, 3)).field("type", get_str(r, 4));
          w.field("body", get_str(r, 5)).field("sentAt", rfc3339(get_int(r, 6))).end_object();
        }
      };
      if (!order_id.empty() && !recipient.empty())
        emit_rows((sql.prepare << q, soci::use(order_id, "oid"), soci::use(recipient, "r"), soci::use(lim, "lim")));
      else if (!order_id.empty())
        emit_rows((sql.prepare << q, soci::use(order_id, "oid"), soci::use(lim, "lim")));
      else if (!recipient.empty())
        emit_rows((sql.prepare << q, soci::use(recipient, "r"), soci::use(lim, "lim")));
      else
        emit_rows((sql.prepare << q, soci::use(lim, "lim")));
    });
    w.end_array();
    return http::json_text(200, w.take());
  });
  return {};
}

}  // namespace oms::notification
