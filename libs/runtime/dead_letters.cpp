#include "libs/runtime/dead_letters.h"

#include <algorithm>

#include "libs/bus/consumer.h"
#include "libs/runtime/audit.h"
#include "libs/core/clock.h"
#include "libs/http/json.h"
#include "libs/http/json_writer.h"
#include "libs/storage/row.h"

namespace oms::runtime {
namespace {

constexpr const char* kColumns =
    "id, consumer, message_id, subject, payload, error, attempts, created_ms, retried_ms";

void write_row(http::JsonWriter& w, const soci::row& r) {
  using storage::get_int;
  using storage::get_str;
  w.begin_object().field("id", get_str(r, 0)).field("consumer", get_str(r, 1));
  w.field("messageId", get_str(r, 2)).field("subject", get_str(r, 3)).field("payload", get_str(r, 4));
  w.field("error", get_str(r, 5)).field("attempts", get_int(r, 6)).field("createdAt", rfc3339(get_int(r, 7)));
  w.key("retriedAt");
  auto retried = storage::get_opt_int(r, 8);
  retried ? w.str(rfc3339(*retried)) : w.null();
  w.end_object();
}

}  // namespace

void register_dead_letter_routes(ServiceContext& ctx, const std::string& service, const bus::Subscription& sub) {
  auto& db = ctx.db;
  std::string base = "/api/admin/" + service + "/dead-letters";

  ctx.router.add("GET", base, Role::kAdmin, [&db](http::Request& req) {
    auto limit = http::parse_limit(req);
    if (!limit) return http::from_error(limit.error(), req.path);
    int lim = *limit;
    http::JsonWriter w;
    w.begin_array();
    db.read([&](soci::session& sql) {
      soci::rowset<soci::row> rows =
          (sql.prepare << std::string("SELECT ") + kColumns + " FROM dead_letters ORDER BY created_ms DESC LIMIT :lim",
           soci::use(lim, "lim"));
      for (const auto& r : rows) write_row(w, r);
    });
    w.end_array();
    return http::json_text(200, w.take());
  });

  ctx.router.add("POST", base + "/{id}/retry", Role::kAdmin, [&db, sub](http::Request& req) {
    const std::string id = req.params["id"];
    std::optional<bus::Message> msg;
    db.read([&](soci::session& sql) {
      soci::row r;
      sql << std::string("SELECT ") + kColumns + " FROM dead_letters WHERE id = :id", soci::use(id, "id"),
          soci::into(r);
      if (sql.got_data())
        msg = bus::Message{storage::get_str(r, 2), storage::get_str(r, 3), storage::get_str(r, 4),
                           storage::get_int(r, 7)};
    });
    if (!msg) return http::problem(404, "no dead letter " + id, req.path);
    const bus::Message* one[] = {&*msg};
    auto results = bus::handle_batch(sub, one);
    long long now = now_ms();
    if (results[0].outcome == bus::Outcome::kFailed) {
      db.write([&](storage::Tx& tx) {
        tx.sql << "UPDATE dead_letters SET attempts = attempts + 1, error = :e WHERE id = :id",
            soci::use(results[0].error, "e"), soci::use(id, "id");
        audit(tx, req, "dead-letter.retry", id, "failed again: " + results[0].error);
      });
      return http::problem(409, "the message still fails: " + results[0].error, req.path);
    }
    http::JsonWriter w;
    db.write([&](storage::Tx& tx) {
      tx.sql << "UPDATE dead_letters SET retried_ms = :t WHERE id = :id", soci::use(now, "t"), soci::use(id, "id");
      audit(tx, req, "dead-letter.retry", id, "handled");
    });
    db.read([&](soci::session& sql) {
      soci::row r;
      sql << std::string("SELECT ") + kColumns + " FROM dead_letters WHERE id = :id", soci::use(id, "id"),
          soci::into(r);
      write_row(w, r);
    });
    return http::json_text(200, w.take());
  });
}

}  // namespace oms::runtime
