#include "libs/runtime/audit.h"

#include "libs/core/clock.h"
#include "libs/core/ids.h"
#include "libs/http/json.h"
#include "libs/http/json_writer.h"
#include "libs/storage/statement.h"

namespace oms::runtime {

void audit(storage::Tx& tx, const http::Request& req, const std::string& action, const std::string& target,
           const std::string& detail) {
  storage::StmtRef st(tx.sql,
                      "INSERT INTO audit_log (id, at_ms, user_id, role, action, target, detail, request_id)"
                      " VALUES ($1, $2, $3, $4, $5, $6, $7, $8)");
  st->text(0, new_uuid()).integer(1, now_ms()).text(2, req.user_id).text(3, std::string(to_string(req.role)));
  st->text(4, action).text(5, target).text(6, detail).text(7, req.request_id).run();
}

void register_audit_routes(ServiceContext& ctx, const std::string& service) {
  ctx.db.migrate("audit", {
                              "CREATE TABLE audit_log (id TEXT PRIMARY KEY, at_ms BIGINT NOT NULL, user_id TEXT NOT NULL,"
                              " role TEXT NOT NULL, action TEXT NOT NULL, target TEXT NOT NULL, detail TEXT NOT NULL,"
                              " request_id TEXT NOT NULL)",
                              "CREATE INDEX audit_log_at ON audit_log (at_ms)",
                          });
  auto& db = ctx.db;
  ctx.router.add("GET", "/api/admin/" + service + "/audit-log", Role::kAdmin, [&db](http::Request& req) {
    auto limit = http::parse_limit(req);
    if (!limit) return http::from_error(limit.error(), req.path);
    auto before = http::parse_before(req);
    if (!before) return http::from_error(before.error(), req.path);
    static const auto texts = storage::list_texts(
        "SELECT id, at_ms, user_id, role, action, target, detail, request_id FROM audit_log", {}, "audit_log", "at_ms", "id");
    http::JsonWriter w;
    w.begin_array();
    db.read([&](soci::session& sql) {
      storage::StmtRef st(sql, texts[*before ? 1 : 0]);
      st->integer(0, *limit);
      if (*before) storage::bind_older_than(*st, 1, **before);
      st->run();
      while (st->next()) {
        w.begin_object().field("id", st->str(0)).field("at", rfc3339(st->num(1))).field("userId", st->str(2));
        w.field("role", st->str(3)).field("action", st->str(4)).field("target", st->str(5));
        w.field("detail", st->str(6)).field("requestId", st->str(7)).end_object();
      }
    });
    w.end_array();
    return http::json_text(200, w.take());
  });
}

}  // namespace oms::runtime
