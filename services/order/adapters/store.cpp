#include "services/order/adapters/store.h"

#include <algorithm>

#include "libs/contracts/messages.h"
#include "libs/storage/statement.h"

namespace oms::order::adapters {

using domain::Order;

const std::vector<std::string>& migrations() {
  static const std::vector<std::string> m = {
      "CREATE TABLE orders (order_id TEXT PRIMARY KEY, user_id TEXT NOT NULL,"
      " customer_email TEXT NOT NULL, email_lower TEXT NOT NULL, items TEXT NOT NULL,"
      " total_minor BIGINT NOT NULL, currency TEXT NOT NULL, status TEXT NOT NULL,"
      " payment_status TEXT NOT NULL, inventory_status TEXT NOT NULL, fulfillment_status TEXT,"
      " failure_reason TEXT, cancel_requested BIGINT NOT NULL, cancel_seq BIGINT NOT NULL, saga_version BIGINT NOT NULL,"
      " created_ms BIGINT NOT NULL, updated_ms BIGINT NOT NULL, completed_ms BIGINT,"
      " cancelled_ms BIGINT)",
      "CREATE INDEX orders_created ON orders (created_ms)",
      "CREATE INDEX orders_email ON orders (email_lower, created_ms)",
      "CREATE INDEX orders_status ON orders (status, created_ms)",
      "CREATE TABLE idempotency (user_id TEXT NOT NULL, idem_key TEXT NOT NULL,"
      " request TEXT NOT NULL, status BIGINT NOT NULL, response TEXT NOT NULL,"
      " order_id TEXT NOT NULL, created_ms BIGINT NOT NULL, PRIMARY KEY (user_id, idem_key))",
      "CREATE INDEX idempotency_created ON idempotency (created_ms)",
      // v2 (roles): a customer lists only its own orders.
      "CREATE INDEX orders_user ON orders (user_id, created_ms)",
  };
  return m;
}

namespace {

constexpr const char* kColumns =
    "order_id, user_id, customer_email, items, total_minor, currency, status, payment_status,"
    " inventory_status, fulfillment_status, failure_reason, cancel_requested, saga_version,"
    " created_ms, updated_ms, completed_ms, cancelled_ms, cancel_seq";

Order from_stmt(const storage::Stmt& r) {
  Order o;
  o.order_id = r.str(0);
  o.user_id = r.str(1);
  o.customer_email = r.str(2);
  for (auto& l : contracts::decode<std::vector<contracts::Line>>(r.str(3)))
    o.items.push_back({l.productId, l.quantity, Money{l.priceMinor}});
  o.total = Money{r.num(4)};
  o.currency = r.str(5);
  o.status = r.str(6);
  o.payment_status = r.str(7);
  o.inventory_status = r.str(8);
  o.fulfillment_status = r.opt_str(9);
  o.failure_reason = r.opt_str(10);
  o.cancel_requested = r.num(11) != 0;
  o.saga_version = r.num(12);
  o.created_ms = r.num(13);
  o.updated_ms = r.num(14);
  if (!r.is_null(15)) o.completed_ms = r.num(15);
  if (!r.is_null(16)) o.cancelled_ms = r.num(16);
  o.cancel_seq = r.num(17);
  return o;
}

std::string update_many_sql(bool pg) {
  return "UPDATE orders SET status = x.c1, payment_status = x.c2, inventory_status = x.c3,"
         " fulfillment_status = x.c4, failure_reason = x.c5, cancel_requested = x.c6, cancel_seq = x.c7,"
         " saga_version = x.c8, updated_ms = x.c9, completed_ms = x.c10, cancelled_ms = x.c11 FROM " +
         storage::json_table(pg, "$1", "ssssssiiiiii", "x") + " WHERE orders.order_id = x.c0";
}

}  // namespace

std::optional<Order> load(soci::session& sql, const std::string& order_id, bool lock) {
  static const std::string lite = std::string("SELECT ") + kColumns + " FROM orders WHERE order_id = $1";
  static const std::string pg_lock = lite + " FOR UPDATE";
  return storage::select_one<Order>(sql, lock && storage::is_postgres(sql) ? pg_lock : lite, order_id, from_stmt);
}

std::map<std::string, Order> load_many(soci::session& sql, const std::vector<std::string>& order_ids) {
  static const std::string lite = storage::select_in(false, kColumns, "orders", "order_id"),
                           pg = storage::select_in(true, kColumns, "orders", "order_id");
  return storage::select_by_keys<Order>(sql, lite, pg, order_ids, 0, from_stmt);
}

void insert(soci::session& sql, const Order& o) {
  std::vector<contracts::Line> lines;
  for (const auto& l : o.items) lines.push_back({l.product_id, l.quantity, l.price.minor});
  storage::StmtRef st(sql,
                      "INSERT INTO orders (order_id, user_id, customer_email, email_lower, items, total_minor,"
                      " currency, status, payment_status, inventory_status, cancel_requested, cancel_seq, saga_version,"
                      " created_ms, updated_ms) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)");
  st->text(0, o.order_id).text(1, o.user_id).text(2, o.customer_email).text(3, domain::email_key(o.customer_email));
  st->text(4, contracts::encode(lines)).integer(5, o.total.minor).text(6, o.currency).text(7, o.status);
  st->text(8, o.payment_status).text(9, o.inventory_status).integer(10, o.cancel_requested ? 1 : 0);
  st->integer(11, o.cancel_seq).integer(12, o.saga_version).integer(13, o.created_ms).integer(14, o.updated_ms);
  st->run();
}

void update_many(soci::session& sql, const std::vector<const Order*>& orders) {
  static const std::string lite = update_many_sql(false), pg = update_many_sql(true);
  storage::run_rows(sql, lite, pg, orders, [](storage::JsonRows& r, const Order* o) {
    r.add(o->order_id).add(o->status).add(o->payment_status).add(o->inventory_status);
    r.add(o->fulfillment_status).add(o->failure_reason).add(o->cancel_requested ? 1LL : 0LL).add(o->cancel_seq);
    r.add(o->saga_version).add(o->updated_ms).add(o->completed_ms).add(o->cancelled_ms);
  });
}

void update(soci::session& sql, const Order& o) { update_many(sql, {&o}); }

std::vector<Order> list(soci::session& sql, const ListQuery& q) {
  static const auto texts = storage::list_texts(std::string("SELECT ") + kColumns + " FROM orders",
                                                {"status", "email_lower", "user_id"}, "orders", "created_ms", "order_id");
  int which = (q.status ? 1 : 0) + (q.email_lower ? 2 : 0) + (q.user_id ? 4 : 0) + (q.before ? 8 : 0);
  storage::StmtRef st(sql, texts[which]);
  st->integer(0, q.limit);
  int next = 1;
  if (q.status) st->text(next++, *q.status);
  if (q.email_lower) st->text(next++, *q.email_lower);
  if (q.user_id) st->text(next++, *q.user_id);
  if (q.before) storage::bind_older_than(*st, next, *q.before);
  st->run();
  std::vector<Order> out;
  while (st->next()) out.push_back(from_stmt(*st));
  return out;
}

std::optional<StoredResponse> find_key(soci::session& sql, const std::string& user, const std::string& key) {
  storage::StmtRef st(sql, "SELECT request, status, response, order_id FROM idempotency WHERE user_id = $1 AND idem_key = $2");
  st->text(0, user).text(1, key).run();
  if (!st->next()) return std::nullopt;
  return StoredResponse{st->str(0), static_cast<int>(st->num(1)), st->str(2), st->str(3)};
}

void insert_key(soci::session& sql, const std::string& user, const std::string& key,
                const StoredResponse& r, std::int64_t now) {
  storage::StmtRef st(sql,
                      "INSERT INTO idempotency (user_id, idem_key, request, status, response, order_id, created_ms)"
                      " VALUES ($1, $2, $3, $4, $5, $6, $7)");
  st->text(0, user).text(1, key).text(2, r.request).integer(3, r.status).text(4, r.body).text(5, r.order_id);
  st->integer(6, now).run();
}

long long purge_keys(soci::session& sql, std::int64_t cutoff_ms) {
  long long cutoff = cutoff_ms;
  return storage::exec(sql, "DELETE FROM idempotency WHERE created_ms < :c", soci::use(cutoff, "c"));
}

}  // namespace oms::order::adapters
