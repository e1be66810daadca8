#include "services/order/adapters/store.h"

#include <algorithm>

#include "libs/contracts/messages.h"
#include "libs/storage/row.h"

namespace oms::order::adapters {

using domain::Order;
using storage::get_int;
using storage::get_opt_int;
using storage::get_opt_str;
using storage::get_str;

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
  };
  return m;
}

namespace {

constexpr const char* kColumns =
    "order_id, user_id, customer_email, items, total_minor, currency, status, payment_status,"
    " inventory_status, fulfillment_status, failure_reason, cancel_requested, saga_version,"
    " created_ms, updated_ms, completed_ms, cancelled_ms, cancel_seq";

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  return s;
}

Order from_row(const soci::row& r) {
  Order o;
  o.order_id = get_str(r, 0);
  o.user_id = get_str(r, 1);
  o.customer_email = get_str(r, 2);
  for (auto& l : contracts::decode<std::vector<contracts::Line>>(get_str(r, 3)))
    o.items.push_back({l.productId, l.quantity, Money{l.priceMinor}});
  o.total = Money{get_int(r, 4)};
  o.currency = get_str(r, 5);
  o.status = get_str(r, 6);
  o.payment_status = get_str(r, 7);
  o.inventory_status = get_str(r, 8);
  o.fulfillment_status = get_opt_str(r, 9);
  o.failure_reason = get_opt_str(r, 10);
  o.cancel_requested = get_int(r, 11) != 0;
  o.saga_version = get_int(r, 12);
  o.created_ms = get_int(r, 13);
  o.updated_ms = get_int(r, 14);
  o.completed_ms = get_opt_int(r, 15);
  o.cancelled_ms = get_opt_int(r, 16);
  o.cancel_seq = get_int(r, 17);
  return o;
}

struct NullableInt {
  long long value;
  soci::indicator ind;
  explicit NullableInt(std::optional<std::int64_t> v) : value(v.value_or(0)), ind(v ? soci::i_ok : soci::i_null) {}
};

}  // namespace

std::optional<Order> load(soci::session& sql, const std::string& order_id, bool lock) {
  soci::row r;
  sql << std::string("SELECT ") + kColumns + " FROM orders WHERE order_id = :id" + std::string(storage::for_update(sql, lock)),
      soci::use(order_id, "id"), soci::into(r);
  if (!sql.got_data()) return std::nullopt;
  return from_row(r);
}

void insert(soci::session& sql, const Order& o) {
  std::vector<contracts::Line> lines;
  for (const auto& l : o.items) lines.push_back({l.product_id, l.quantity, l.price.minor});
  std::string items = contracts::encode(lines), email_lower = lower(o.customer_email);
  long long total = o.total.minor, cancel = o.cancel_requested, cseq = o.cancel_seq, version = o.saga_version,
            created = o.created_ms, updated = o.updated_ms;
  sql << "INSERT INTO orders (order_id, user_id, customer_email, email_lower, items, total_minor,"
         " currency, status, payment_status, inventory_status, cancel_requested, cancel_seq, saga_version,"
         " created_ms, updated_ms) VALUES (:id, :user, :email, :lower, :items, :total, :currency,"
         " :status, :pay, :inv, :cancel, :cseq, :version, :created, :updated)",
      soci::use(o.order_id, "id"), soci::use(o.user_id, "user"), soci::use(o.customer_email, "email"),
      soci::use(email_lower, "lower"), soci::use(items, "items"), soci::use(total, "total"),
      soci::use(o.currency, "currency"), soci::use(o.status, "status"),
      soci::use(o.payment_status, "pay"), soci::use(o.inventory_status, "inv"),
      soci::use(cancel, "cancel"), soci::use(cseq, "cseq"), soci::use(version, "version"),
      soci::use(created, "created"),
      soci::use(updated, "updated");
}

void update(soci::session& sql, const Order& o) {
  storage::NullableText ful(o.fulfillment_status), reason(o.failure_reason);
  NullableInt completed(o.completed_ms), cancelled(o.cancelled_ms);
  long long cancel = o.cancel_requested, cseq = o.cancel_seq, version = o.saga_version, updated = o.updated_ms;
  sql << "UPDATE orders SET status = :status, payment_status = :pay, inventory_status = :inv,"
         " fulfillment_status = :ful, failure_reason = :reason, cancel_requested = :cancel, cancel_seq = :cseq,"
         " saga_version = :version, updated_ms = :updated, completed_ms = :completed,"
         " cancelled_ms = :cancelled WHERE order_id = :id",
      soci::use(o.status, "status"), soci::use(o.payment_status, "pay"),
      soci::use(o.inventory_status, "inv"), soci::use(ful.value, ful.ind, "ful"),
      soci::use(reason.value, reason.ind, "reason"), soci::use(cancel, "cancel"), soci::use(cseq, "cseq"),
      soci::use(version, "version"), soci::use(updated, "updated"),
      soci::use(completed.value, completed.ind, "completed"),
      soci::use(cancelled.value, cancelled.ind, "cancelled"), soci::use(o.order_id, "id");
}

std::vector<Order> list(soci::session& sql, const ListQuery& q) {
  std::string where;
  std::string status = q.status.value_or(""), email = q.email_lower.value_or("");
  if (q.status) where += " WHERE status = :status";
  if (q.email_lower) where += std::string(where.empty() ? " WHERE" : " AND") + " email_lower = :email";
  std::string text = std::string("SELECT ") + kColumns + " FROM orders" + where +
                     " ORDER BY created_ms DESC, order_id DESC LIMIT :lim";
  int limit = q.limit;
  std::vector<Order> out;
  auto collect = [&](soci::rowset<soci::row> rows) {
    for (const auto& r : rows) out.push_back(from_row(r));
  };
  if (q.status && q.email_lower)
    collect((sql.prepare << text, soci::use(status, "status"), soci::use(email, "email"),
             soci::use(limit, "lim")));
  else if (q.status)
    collect((sql.prepare << text, soci::use(status, "status"), soci::use(limit, "lim")));
  else if (q.email_lower)
    collect((sql.prepare << text, soci::use(email, "email"), soci::use(limit, "lim")));
  else
    collect((sql.prepare << text, soci::use(limit, "lim")));
  return out;
}

std::optional<StoredResponse> find_key(soci::session& sql, const std::string& user, const std::string& key) {
  soci::row r;
  sql << "SELECT request, status, response, order_id FROM idempotency WHERE user_id = :u AND idem_key = :k",
      soci::use(user, "u"), soci::use(key, "k"), soci::into(r);
  if (!sql.got_data()) return std::nullopt;
  return StoredResponse{get_str(r, 0), static_cast<int>(get_int(r, 1)), get_str(r, 2), get_str(r, 3)};
}

void insert_key(soci::session& sql, const std::string& user, const std::string& key,
                const StoredResponse& r, std::int64_t now) {
  long long status = r.status, t = now;
  sql << "INSERT INTO idempotency (user_id, idem_key, request, status, response, order_id, created_ms)"
         " VALUES (:u, :k, :req, :st, :resp, :oid, :t)",
      soci::use(user, "u"), soci::use(key, "k"), soci::use(r.request, "req"), soci::use(status, "st"),
      soci::use(r.body, "resp"), soci::use(r.order_id, "oid"), soci::use(t, "t");
}

long long purge_keys(soci::session& sql, std::int64_t cutoff_ms) {
  long long cutoff = cutoff_ms;
  return storage::exec(sql, "DELETE FROM idempotency WHERE created_ms < :c", soci::use(cutoff, "c"));
}

}  // namespace oms::order::adapters
