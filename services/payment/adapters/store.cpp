#include "services/payment/adapters/store.h"

#include "libs/storage/statement.h"

namespace oms::payment::adapters {

using domain::Payment;

const std::vector<std::string>& migrations() {
  static const std::vector<std::string> m = {
      "CREATE TABLE payments (id TEXT PRIMARY KEY, order_id TEXT NOT NULL UNIQUE,"
      " amount_minor BIGINT NOT NULL, currency TEXT NOT NULL, status TEXT NOT NULL,"
      " transaction_id TEXT, failure_reason TEXT, created_ms BIGINT NOT NULL, updated_ms BIGINT NOT NULL)",
      // v2 (roles): who may see the payment; NULL for payments made before (staff only).
      "ALTER TABLE payments ADD COLUMN owner_id TEXT",
  };
  return m;
}

namespace {

constexpr const char* kColumns =
    "id, order_id, amount_minor, currency, status, transaction_id, failure_reason, created_ms, updated_ms, owner_id";

Payment from_stmt(const storage::Stmt& r) {
  Payment p;
  p.id = r.str(0);
  p.order_id = r.str(1);
  p.amount = Money{r.num(2)};
  p.currency = r.str(3);
  p.status = r.str(4);
  p.transaction_id = r.opt_str(5);
  p.failure_reason = r.opt_str(6);
  p.created_ms = r.num(7);
  p.updated_ms = r.num(8);
  p.owner_id = r.opt_str(9);
  return p;
}

std::string insert_many_sql(bool pg) {
  return std::string("INSERT INTO payments (") + kColumns + ") SELECT c0, c1, c2, c3, c4, c5, c6, c7, c8, c9 FROM " +
         storage::json_table(pg, "$1", "ssissssiis", "x") + " ORDER BY n";
}

std::string save_status_sql(bool pg) {
  return "UPDATE payments SET status = x.c1, updated_ms = x.c2 FROM " + storage::json_table(pg, "$1", "ssi", "x") +
         " WHERE payments.id = x.c0";
}

}  // namespace

std::optional<Payment> load(soci::session& sql, const std::string& order_id, bool lock) {
  static const std::string lite = std::string("SELECT ") + kColumns + " FROM payments WHERE order_id = $1";
  static const std::string pg_lock = lite + " FOR UPDATE";
  return storage::select_one<Payment>(sql, lock && storage::is_postgres(sql) ? pg_lock : lite, order_id, from_stmt);
}

std::map<std::string, Payment> load_many(soci::session& sql, const std::vector<std::string>& order_ids) {
  static const std::string lite = storage::select_in(false, kColumns, "payments", "order_id"),
                           pg = storage::select_in(true, kColumns, "payments", "order_id");
  return storage::select_by_keys<Payment>(sql, lite, pg, order_ids, 1, from_stmt);
}

void insert_many(soci::session& sql, const std::vector<const Payment*>& payments) {
  static const std::string lite = insert_many_sql(false), pg = insert_many_sql(true);
  storage::run_rows(sql, lite, pg, payments, [](storage::JsonRows& r, const Payment* p) {
    r.add(p->id).add(p->order_id).add(p->amount.minor).add(p->currency).add(p->status).add(p->transaction_id);
    r.add(p->failure_reason).add(p->created_ms).add(p->updated_ms).add(p->owner_id);
  });
}

void save_status_many(soci::session& sql, const std::vector<const Payment*>& payments) {
  static const std::string lite = save_status_sql(false), pg = save_status_sql(true);
  storage::run_rows(sql, lite, pg, payments,
                    [](storage::JsonRows& r, const Payment* p) { r.add(p->id).add(p->status).add(p->updated_ms); });
}

}  // namespace oms::payment::adapters
