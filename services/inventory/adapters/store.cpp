#include "services/inventory/adapters/store.h"

#include <set>

#include "libs/contracts/messages.h"
#include "libs/storage/row.h"

namespace oms::inventory::adapters {

using domain::Product;
using storage::get_int;
using storage::get_opt_int;
using storage::get_str;

const std::vector<std::string>& migrations() {
  static const std::vector<std::string> m = {
      "CREATE TABLE products (product_id TEXT PRIMARY KEY, name TEXT NOT NULL, price_minor BIGINT,"
      " total BIGINT NOT NULL, available BIGINT NOT NULL, reserved BIGINT NOT NULL,"
      " version BIGINT NOT NULL, created_ms BIGINT NOT NULL, updated_ms BIGINT NOT NULL,"
      " CHECK (available >= 0 AND reserved >= 0 AND total = available + reserved))",
      "CREATE TABLE reservations (order_id TEXT PRIMARY KEY, state TEXT NOT NULL, items TEXT NOT NULL,"
      " created_ms BIGINT NOT NULL, updated_ms BIGINT NOT NULL)",
  };
  return m;
}

namespace {
constexpr const char* kColumns =
    "product_id, name, price_minor, total, available, reserved, version, created_ms, updated_ms";

Product from_row(const soci::row& r) {
  Product p;
  p.product_id = get_str(r, 0);
  p.name = get_str(r, 1);
  p.price_minor = get_opt_int(r, 2);
  p.total = get_int(r, 3);
  p.available = get_int(r, 4);
  p.reserved = get_int(r, 5);
  p.version = get_int(r, 6);
  p.created_ms = get_int(r, 7);
  p.updated_ms = get_int(r, 8);
  return p;
}
}  // namespace

std::optional<Product> load(soci::session& sql, const std::string& id, bool lock) {
  soci::row r;
  sql << std::string("SELECT ") + kColumns + " FROM products WHERE product_id = :id" +
             std::string(storage::for_update(sql, lock)),
      soci::use(id, "id"), soci::into(r);
  if (!sql.got_data()) return std::nullopt;
  return from_row(r);
}

std::map<std::string, Product> load_many(soci::session& sql, const std::vector<domain::Line>& lines) {
  // Locked in product id order, whatever the order of the lines: two orders of the same
  // products never wait for each other in a circle.
  std::set<std::string> ids;
  for (const auto& l : lines) ids.insert(l.product_id);
  std::map<std::string, Product> out;
  for (const auto& id : ids)
    if (auto p = load(sql, id, /*lock=*/true)) out.emplace(id, std::move(*p));
  return out;
}

void insert(soci::session& sql, const Product& p) {
  long long price = p.price_minor.value_or(0);
  soci::indicator ind = p.price_minor ? soci::i_ok : soci::i_null;
  long long total = p.total, avail = p.available, res = p.reserved, ver = p.version, c = p.created_ms,
            u = p.updated_ms;
  sql << "INSERT INTO products (product_id, name, price_minor, total, available, reserved, version,"
         " created_ms, updated_ms) VALUES (:id, :name, :price, :total, :avail, :res, :ver, :c, :u)",
      soci::use(p.product_id, "id"), soci::use(p.name, "name"), soci::use(price, ind, "price"),
      soci::use(total, "total"), soci::use(avail, "avail"), soci::use(res, "res"), soci::use(ver, "ver"),
      soci::use(c, "c"), soci::use(u, "u");
}

void save(soci::session& sql, const Product& p) {
  long long total = p.total, avail = p.available, res = p.reserved, ver = p.version, u = p.updated_ms,
            prev = p.version - 1;
  // The version check makes a lost update impossible even with concurrent writers (PostgreSQL).
  long long n = storage::exec(sql,
                              "UPDATE products SET total = :total, available = :avail, reserved = :res,"
                              " version = :ver, updated_ms = :u WHERE product_id = :id AND version = :prev",
                              soci::use(total, "total"), soci::use(avail, "avail"), soci::use(res, "res"),
                              soci::use(ver, "ver"), soci::use(u, "u"), soci::use(p.product_id, "id"),
                              soci::use(prev, "prev"));
  if (n != 1) throw storage::Conflict("concurrent update of product " + p.product_id);
}

std::vector<Product> list(soci::session& sql, const std::string& after, int limit) {
  std::vector<Product> out;
  soci::rowset<soci::row> rows =
      (sql.prepare << std::string("SELECT ") + kColumns +
                          " FROM products WHERE product_id > :after ORDER BY product_id LIMIT :lim",
       soci::use(after, "after"), soci::use(limit, "lim"));
  for (const auto& r : rows) out.push_back(from_row(r));
  return out;
}

bool empty(soci::session& sql) {
  long long n = 0;
  sql << "SELECT COUNT(*) FROM products", soci::into(n);
  return n == 0;
}

std::optional<Reservation> find_reservation(soci::session& sql, const std::string& order_id) {
  soci::row r;
  sql << "SELECT state, items FROM reservations WHERE order_id = :id", soci::use(order_id, "id"),
      soci::into(r);
  if (!sql.got_data()) return std::nullopt;
  Reservation res{get_str(r, 0), {}};
  for (auto& l : contracts::decode<std::vector<contracts::Line>>(get_str(r, 1)))
    res.lines.push_back({l.productId, l.quantity, l.priceMinor});
  return res;
}

void put_reservation(soci::session& sql, const std::string& order_id, const Reservation& r, std::int64_t now) {
  std::vector<contracts::Line> lines;
  for (const auto& l : r.lines) lines.push_back({l.product_id, l.quantity, l.price_minor});
  std::string items = contracts::encode(lines);
  long long t = now;
  sql << "INSERT INTO reservations (order_id, state, items, created_ms, updated_ms)"
         " VALUES (:id, :state, :items, :t, :t2) ON CONFLICT (order_id) DO UPDATE SET"
         " state = excluded.state, updated_ms = excluded.updated_ms",
      soci::use(order_id, "id"), soci::use(r.state, "state"), soci::use(items, "items"),
      soci::use(t, "t"), soci::use(t, "t2");
}

}  // namespace oms::inventory::adapters
