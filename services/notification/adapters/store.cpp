#include "services/notification/adapters/store.h"

#include <algorithm>

#include "libs/storage/statement.h"

namespace oms::notification::adapters {

const std::vector<std::string>& migrations() {
  static const std::vector<std::string> m = {
      "CREATE TABLE recipients (order_id TEXT PRIMARY KEY, email TEXT NOT NULL)",
      "CREATE TABLE notifications (id TEXT PRIMARY KEY, order_id TEXT NOT NULL, recipient TEXT NOT NULL,"
      " recipient_lower TEXT NOT NULL, subject TEXT NOT NULL, type TEXT NOT NULL, body TEXT NOT NULL,"
      " sent_ms BIGINT NOT NULL, UNIQUE (order_id, type))",
      "CREATE INDEX notifications_sent ON notifications (sent_ms)",
      "CREATE INDEX notifications_recipient ON notifications (recipient_lower, sent_ms)",
      // v2 (roles): who may read an order's notifications; NULL for rows written before (staff only).
      "ALTER TABLE recipients ADD COLUMN owner_id TEXT",
      "ALTER TABLE notifications ADD COLUMN owner_id TEXT",
      "CREATE INDEX notifications_owner ON notifications (owner_id, sent_ms)",
  };
  return m;
}

namespace {

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char ch) { return std::tolower(ch); });
  return s;
}

std::string select_recipients(bool pg) {
  return "SELECT order_id, email, owner_id FROM recipients WHERE order_id IN " + storage::json_values(pg, "$1");
}

std::string add_recipients_sql(bool pg) {
  return "INSERT INTO recipients (order_id, email, owner_id) SELECT c0, c1, c2 FROM " +
         storage::json_table(pg, "$1", "sss", "x") +
         " WHERE true ON CONFLICT DO NOTHING";
}

std::string record_sql(bool pg) {
  return "INSERT INTO notifications (id, order_id, recipient, recipient_lower, subject, type, body, sent_ms, owner_id)"
         " SELECT c0, c1, c2, c3, c4, c5, c6, c7, c8 FROM " + storage::json_table(pg, "$1", "sssssssis", "x") +
         " WHERE true ORDER BY n ON CONFLICT DO NOTHING RETURNING order_id, type";
}

}  // namespace

std::map<std::string, Recipient> recipients(soci::session& sql, const std::vector<std::string>& order_ids) {
  static const std::string lite = select_recipients(false), pg = select_recipients(true);
  return storage::select_by_keys<Recipient>(sql, lite, pg, order_ids, 0,
                                            [](const storage::Stmt& r) { return Recipient{r.str(1), r.opt_str(2)}; });
}

void add_recipients(soci::session& sql, const std::map<std::string, Recipient>& by_order) {
  static const std::string lite = add_recipients_sql(false), pg = add_recipients_sql(true);
  storage::run_rows(sql, lite, pg, by_order,
                    [](storage::JsonRows& r, const auto& e) { r.add(e.first).add(e.second.email).add(e.second.owner_id); });
}

std::vector<std::pair<std::string, std::string>> record(soci::session& sql, const std::vector<Notification>& in) {
  std::vector<std::pair<std::string, std::string>> out;
  if (in.empty()) return out;
  static const std::string lite = record_sql(false), pg = record_sql(true);
  storage::JsonRows rows;
  for (const auto& n : in)
    rows.row().add(n.id).add(n.order_id).add(n.recipient).add(lower(n.recipient)).add(n.subject).add(n.type)
        .add(n.body).add(n.sent_ms).add(n.owner_id);
  storage::StmtRef st(sql, storage::by_backend(sql, lite, pg));
  st->text(0, rows.take()).run();
  while (st->next()) out.emplace_back(st->str(0), st->str(1));
  return out;
}

std::vector<Notification> list(soci::session& sql, const std::string& order_id, const std::string& recipient_lower,
                               const std::optional<std::string>& owner, const std::optional<std::string>& before,
                               int limit) {
  static const auto texts =
      storage::list_texts("SELECT id, order_id, recipient, subject, type, body, sent_ms, owner_id FROM notifications",
                          {"order_id", "recipient_lower", "owner_id"}, "notifications", "sent_ms", "id");
  int which = (order_id.empty() ? 0 : 1) + (recipient_lower.empty() ? 0 : 2) + (owner ? 4 : 0) + (before ? 8 : 0);
  storage::StmtRef st(sql, texts[which]);
  st->integer(0, limit);
  int next = 1;
  if (!order_id.empty()) st->text(next++, order_id);
  if (!recipient_lower.empty()) st->text(next++, recipient_lower);
  if (owner) st->text(next++, *owner);
  if (before) storage::bind_older_than(*st, next, *before);
  st->run();
  std::vector<Notification> out;
  while (st->next())
    out.push_back({st->str(0), st->str(1), st->str(2), st->str(3), st->str(4), st->str(5), st->num(6), st->opt_str(7)});
  return out;
}

}  // namespace oms::notification::adapters
