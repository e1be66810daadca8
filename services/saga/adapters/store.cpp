#include "services/saga/adapters/store.h"

#include "libs/contracts/messages.h"
#include "libs/storage/statement.h"

namespace oms::saga::adapters {

using domain::Saga;

const std::vector<std::string>& migrations() {
  static const std::vector<std::string> m = {
      "CREATE TABLE sagas (order_id TEXT PRIMARY KEY, customer_email TEXT NOT NULL,"
      " amount_minor BIGINT NOT NULL, currency TEXT NOT NULL, items TEXT NOT NULL,"
      " state TEXT NOT NULL, awaiting TEXT NOT NULL, inventory_status TEXT NOT NULL,"
      " payment_status TEXT NOT NULL, fulfillment_status TEXT, cancel_requested BIGINT NOT NULL,"
      " completed_once BIGINT NOT NULL, reason TEXT, uncertain BIGINT NOT NULL, cancel_seq BIGINT NOT NULL,"
      " deadline_ms BIGINT NOT NULL, step_timeout_ms BIGINT NOT NULL, version BIGINT NOT NULL,"
      " created_ms BIGINT NOT NULL, updated_ms BIGINT NOT NULL)",
      "CREATE INDEX sagas_deadline ON sagas (deadline_ms)",
      "CREATE INDEX sagas_state ON sagas (state, created_ms)",
      "CREATE INDEX sagas_created ON sagas (created_ms)",
      "CREATE TABLE saga_history (order_id TEXT NOT NULL, seq BIGINT NOT NULL, state TEXT NOT NULL,"
      " at_ms BIGINT NOT NULL, detail TEXT, PRIMARY KEY (order_id, seq))",
      // v2 (roles): who may see the saga; NULL for sagas started before (staff only).
      "ALTER TABLE sagas ADD COLUMN owner_id TEXT",
      "CREATE INDEX sagas_owner ON sagas (owner_id, created_ms)",
      // v2 (NEEDS_ATTENTION): sends of the awaited compensation step, and why it needs attention.
      "ALTER TABLE sagas ADD COLUMN compensation_attempts BIGINT NOT NULL DEFAULT 0",
      "ALTER TABLE sagas ADD COLUMN attention TEXT",
  };
  return m;
}

namespace {

constexpr const char* kColumns =
    "order_id, customer_email, amount_minor, currency, items, state, awaiting, inventory_status,"
    " payment_status, fulfillment_status, cancel_requested, completed_once, reason, uncertain,"
    " deadline_ms, step_timeout_ms, version, created_ms, updated_ms, cancel_seq, owner_id, compensation_attempts,"
    " attention";

// The columns of kColumns in order, for multi-row statements: 's' text, 'i' integer.
constexpr std::string_view kTypes = "ssisssssssiisiiiiiiisis";

Saga from_stmt(const storage::Stmt& r) {
  Saga s;
  s.order_id = r.str(0);
  s.customer_email = r.str(1);
  s.amount_minor = r.num(2);
  s.currency = r.str(3);
  for (auto& l : contracts::decode<std::vector<contracts::Line>>(r.str(4)))
    s.items.push_back({l.productId, l.quantity, l.priceMinor});
  s.state = domain::parse_state(r.str(5)).value_or(domain::State::kStarted);
  s.awaiting = domain::parse_awaiting(r.str(6)).value_or(domain::Awaiting::kNone);
  s.inventory_status = r.str(7);
  s.payment_status = r.str(8);
  s.fulfillment_status = r.opt_str(9);
  s.cancel_requested = r.num(10) != 0;
  s.completed_once = r.num(11) != 0;
  s.reason = r.opt_str(12);
  long long u = r.num(13);
  s.inventory_uncertain = u & 1;
  s.payment_uncertain = u & 2;
  s.fulfillment_uncertain = u & 4;
  s.deadline_ms = r.num(14);
  s.step_timeout_ms = r.num(15);
  s.version = r.num(16);
  s.created_ms = r.num(17);
  s.updated_ms = r.num(18);
  s.cancel_seq = r.num(19);
  s.owner_id = r.opt_str(20);
  s.compensation_attempts = static_cast<int>(r.num(21));
  s.attention = r.opt_str(22);
  return s;
}

// One saga as a row of a multi-row statement, in kColumns order.
void add_row(storage::JsonRows& rows, const Saga& s) {  // rows.row() was called
  std::vector<contracts::Line> lines;
  for (const auto& i : s.items) lines.push_back({i.product_id, i.quantity, i.price_minor});
  long long uncertain = (s.inventory_uncertain ? 1 : 0) | (s.payment_uncertain ? 2 : 0) | (s.fulfillment_uncertain ? 4 : 0);
  rows.add(s.order_id).add(s.customer_email).add(s.amount_minor).add(s.currency).add(contracts::encode(lines));
  rows.add(domain::to_string(s.state)).add(domain::to_string(s.awaiting)).add(s.inventory_status).add(s.payment_status);
  rows.add(s.fulfillment_status).add(s.cancel_requested ? 1LL : 0LL).add(s.completed_once ? 1LL : 0LL).add(s.reason);
  rows.add(uncertain).add(s.deadline_ms).add(s.step_timeout_ms).add(s.version).add(s.created_ms).add(s.updated_ms);
  rows.add(s.cancel_seq).add(s.owner_id).add(static_cast<long long>(s.compensation_attempts)).add(s.attention);
}

std::string insert_many_sql(bool pg) {
  std::string cols;
  for (std::size_t i = 0; i < kTypes.size(); ++i) cols += (i ? ", c" : "c") + std::to_string(i);
  return std::string("INSERT INTO sagas (") + kColumns + ") SELECT " + cols + " FROM " +
         storage::json_table(pg, "$1", kTypes, "x") + " ORDER BY n";
}

std::string update_many_sql(bool pg) {
  // Every column that a transition may change; the key and the creation fields never change.
  return "UPDATE sagas SET state = x.c5, awaiting = x.c6, inventory_status = x.c7, payment_status = x.c8,"
         " fulfillment_status = x.c9, cancel_requested = x.c10, completed_once = x.c11, reason = x.c12,"
         " uncertain = x.c13, deadline_ms = x.c14, version = x.c16, updated_ms = x.c18, cancel_seq = x.c19,"
         " compensation_attempts = x.c21, attention = x.c22"
         " FROM " + storage::json_table(pg, "$1", kTypes, "x") + " WHERE sagas.order_id = x.c0";
}

std::string history_many_sql(bool pg) {
  return "INSERT INTO saga_history (order_id, seq, state, at_ms, detail) SELECT c0, c1, c2, c3, c4 FROM " +
         storage::json_table(pg, "$1", "sisis", "x");
}

}  // namespace

std::optional<Saga> load(soci::session& sql, const std::string& order_id, bool lock) {
  static const std::string lite = std::string("SELECT ") + kColumns + " FROM sagas WHERE order_id = $1";
  static const std::string pg_lock = lite + " FOR UPDATE";
  return storage::select_one<Saga>(sql, lock && storage::is_postgres(sql) ? pg_lock : lite, order_id, from_stmt);
}

std::map<std::string, Saga> load_many(soci::session& sql, const std::vector<std::string>& order_ids) {
  static const std::string lite = storage::select_in(false, kColumns, "sagas", "order_id"),
                           pg = storage::select_in(true, kColumns, "sagas", "order_id");
  return storage::select_by_keys<Saga>(sql, lite, pg, order_ids, 0, from_stmt);
}

void insert_many(soci::session& sql, const std::vector<const Saga*>& sagas) {
  static const std::string lite = insert_many_sql(false), pg = insert_many_sql(true);
  storage::run_rows(sql, lite, pg, sagas, [](storage::JsonRows& r, const Saga* s) { add_row(r, *s); });
}

void update_many(soci::session& sql, const std::vector<const Saga*>& sagas) {
  static const std::string lite = update_many_sql(false), pg = update_many_sql(true);
  storage::run_rows(sql, lite, pg, sagas, [](storage::JsonRows& r, const Saga* s) { add_row(r, *s); });
}

void append_history(soci::session& sql, const std::vector<HistoryRow>& entries) {
  static const std::string lite = history_many_sql(false), pg = history_many_sql(true);
  storage::run_rows(sql, lite, pg, entries, [](storage::JsonRows& r, const HistoryRow& h) {
    r.add(h.order_id).add(h.seq).add(domain::to_string(h.entry.state)).add(h.entry.at_ms).add(h.entry.detail);
  });
}

std::vector<domain::HistoryEntry> history(soci::session& sql, const std::string& order_id) {
  std::vector<domain::HistoryEntry> out;
  storage::StmtRef st(sql, "SELECT state, at_ms, detail FROM saga_history WHERE order_id = $1 ORDER BY seq");
  st->text(0, order_id).run();
  while (st->next())
    out.push_back({domain::parse_state(st->str(0)).value_or(domain::State::kStarted), st->num(1), st->opt_str(2)});
  return out;
}

std::vector<Saga> list(soci::session& sql, std::optional<std::string> state, const std::optional<std::string>& owner,
                       const std::optional<std::string>& before, int limit) {
  static const auto texts = storage::list_texts(std::string("SELECT ") + kColumns + " FROM sagas", {"state", "owner_id"},
                                                "sagas", "created_ms", "order_id");
  std::vector<Saga> out;
  storage::StmtRef st(sql, texts[(state ? 1 : 0) + (owner ? 2 : 0) + (before ? 4 : 0)]);
  st->integer(0, limit);
  int next = 1;
  if (state) st->text(next++, *state);
  if (owner) st->text(next++, *owner);
  if (before) storage::bind_older_than(*st, next, *before);
  st->run();
  while (st->next()) out.push_back(from_stmt(*st));
  return out;
}

long long count_in_state(soci::session& sql, const std::string& state) {
  storage::StmtRef st(sql, "SELECT COUNT(*) FROM sagas WHERE state = $1");
  st->text(0, state).run();
  return st->next() ? st->num(0) : 0;
}

std::vector<std::string> overdue(soci::session& sql, std::int64_t now, int limit) {
  std::vector<std::string> out;
  storage::StmtRef st(sql, "SELECT order_id FROM sagas WHERE deadline_ms > 0 AND deadline_ms <= $1"
                           " ORDER BY deadline_ms LIMIT $2");
  st->integer(0, now).integer(1, limit).run();
  while (st->next()) out.push_back(st->str(0));
  return out;
}

}  // namespace oms::saga::adapters
