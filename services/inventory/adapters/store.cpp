#include "services/inventory/adapters/store.h"

#include <set>

#include "libs/contracts/messages.h"
#include "libs/storage/row.h"
#include "libs/storage/statement.h"

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

Product from_stmt(const storage::Stmt& r) {
  Product p;
  p.product_id = r.str(0);
  p.name = r.str(1);
  if (!r.is_null(2)) p.price_minor = r.num(2);
  p.total = r.num(3);
  p.available = r.num(4);
  p.reserved = r.num(5);
  p.version = r.num(6);
  p.created_ms = r.num(7);
  p.updated_ms = r.num(8);
  return p;
}

std::string save_many_sql(bool pg) {
  // c6 is the version each row was loaded with: a row changed meanwhile is not updated.
  return "UPDATE products SET total = x.c1, available = x.c2, reserved = x.c3, version = x.c4, updated_ms = x.c5"
         " FROM " + storage::json_table(pg, "$1", "siiiiii", "x") +
         " WHERE products.product_id = x.c0 AND products.version = x.c6";
}

// A new reservation row must not overwrite one a concurrent transaction just inserted (e.g. the
// fence of a release that overtook its reserve): ON CONFLICT DO NOTHING, and the caller checks.
std::string insert_reservations_sql(bool pg) {
  return "INSERT INTO reservations (order_id, state, items, created_ms, updated_ms) SELECT c0, c1, c2, c3, c3 FROM " +
         storage::json_table(pg, "$1", "sssi", "x") + " WHERE true ON CONFLICT (order_id) DO NOTHING";
}

std::string update_reservations_sql(bool pg) {
  return "UPDATE reservations SET state = x.c1, updated_ms = x.c2 FROM " + storage::json_table(pg, "$1", "ssi", "x") +
         " WHERE reservations.order_id = x.c0";
}

std::vector<domain::Line> decode_lines(const std::string& json) {
  std::vector<domain::Line> out;
  for (auto& l : contracts::decode<std::vector<contracts::Line>>(json)) out.push_back({l.productId, l.quantity, l.priceMinor});
  return out;
}

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

std::map<std::string, Product> load_products(soci::session& sql, const std::set<std::string>& ids) {
  static const std::string lite = storage::select_in(false, kColumns, "products", "product_id"),
                           pg = storage::select_in(true, kColumns, "products", "product_id");
  return storage::select_by_keys<Product>(sql, lite, pg, {ids.begin(), ids.end()}, 0, from_stmt);
}

void save_many(soci::session& sql, const std::vector<std::pair<const Product*, std::int64_t>>& changed) {
  static const std::string lite = save_many_sql(false), pg = save_many_sql(true);
  long long n = storage::run_rows(sql, lite, pg, changed, [](storage::JsonRows& r, const auto& c) {
    const Product* p = c.first;
    r.add(p->product_id).add(p->total).add(p->available).add(p->reserved).add(p->version).add(p->updated_ms);
    r.add(static_cast<long long>(c.second));
  });
  if (n != static_cast<long long>(changed.size())) throw storage::Conflict("concurrent update of a product");
}

std::map<std::string, Reservation> find_reservations(soci::session& sql, const std::vector<std::string>& order_ids) {
  static const std::string lite = storage::select_in(false, "order_id, state, items", "reservations", "order_id"),
                           pg = storage::select_in(true, "order_id, state, items", "reservations", "order_id");
  return storage::select_by_keys<Reservation>(sql, lite, pg, order_ids, 0, [](const storage::Stmt& r) {
    return Reservation{r.str(1), decode_lines(r.str(2))};
  });
}

void put_reservations(soci::session& sql, const std::map<std::string, Reservation>& fresh,
                      const std::map<std::string, std::string>& changed, std::int64_t now) {
  static const std::string ins_lite = insert_reservations_sql(false), ins_pg = insert_reservations_sql(true);
  long long inserted = storage::run_rows(sql, ins_lite, ins_pg, fresh, [now](storage::JsonRows& r, const auto& e) {
    std::vector<contracts::Line> lines;
    for (const auto& l : e.second.lines) lines.push_back({l.product_id, l.quantity, l.price_minor});
    r.add(e.first).add(e.second.state).add(contracts::encode(lines)).add(static_cast<long long>(now));
  });
  if (inserted != static_cast<long long>(fresh.size())) throw storage::Conflict("a reservation was written concurrently");
  static const std::string up_lite = update_reservations_sql(false), up_pg = update_reservations_sql(true);
  storage::run_rows(sql, up_lite, up_pg, changed, [now](storage::JsonRows& r, const auto& e) {
    r.add(e.first).add(e.second).add(static_cast<long long>(now));
  });
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

std::vector<StockCheck> stock_check(soci::session& sql) {
  // One statement, one snapshot (PostgreSQL and SQLite alike): the products and the live
  // reservations as they were at the same moment. The lines are summed here: they are JSON.
  std::map<std::string, StockCheck> by_id;
  soci::rowset<soci::row> rows =
      (sql.prepare << "SELECT 'p', product_id, total, available, reserved, '' FROM products"
                      " UNION ALL SELECT 'r', order_id, 0, 0, 0, items FROM reservations WHERE state = 'RESERVED'");
  std::vector<std::string> held;
  for (const auto& r : rows) {
    if (get_str(r, 0) == "p") {
      auto& c = by_id[get_str(r, 1)];
      c.product_id = get_str(r, 1);
      c.total = get_int(r, 2);
      c.available = get_int(r, 3);
      c.reserved = get_int(r, 4);
    } else {
      held.push_back(get_str(r, 5));
    }
  }
  for (const auto& items : held)
    for (const auto& l : decode_lines(items)) {
      auto& c = by_id[l.product_id];  // a reservation of a product that does not exist shows as one
      c.product_id = l.product_id;
      c.held += l.quantity;
    }
  std::vector<StockCheck> out;
  for (auto& [id, c] : by_id) out.push_back(std::move(c));
  return out;
}

std::vector<std::pair<std::string, Reservation>> list_reservations(soci::session& sql, const std::string& after,
                                                                   int limit) {
  std::vector<std::pair<std::string, Reservation>> out;
  soci::rowset<soci::row> rows = (sql.prepare << "SELECT order_id, state, items FROM reservations"
                                                 " WHERE order_id > :after ORDER BY order_id LIMIT :lim",
                                  soci::use(after, "after"), soci::use(limit, "lim"));
  for (const auto& r : rows) out.emplace_back(get_str(r, 0), Reservation{get_str(r, 1), decode_lines(get_str(r, 2))});
  return out;
}

bool empty(soci::session& sql) {
  long long n = 0;
  sql << "SELECT COUNT(*) FROM products", soci::into(n);
  return n == 0;
}

}  // namespace oms::inventory::adapters
