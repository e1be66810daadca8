#include "services/inventory/module.h"

#include <charconv>
#include <cmath>
#include <set>
#include <span>

#include "libs/contracts/messages.h"
#include "libs/runtime/audit.h"
#include "libs/runtime/dead_letters.h"
#include "libs/runtime/faults.h"
#include "libs/core/clock.h"
#include "libs/core/ids.h"
#include "libs/core/log.h"
#include "libs/http/json.h"
#include "libs/http/json_writer.h"
#include "services/inventory/adapters/store.h"

namespace oms::inventory {
namespace {

namespace c = oms::contracts;
namespace json = boost::json;
using domain::Product;

std::string product_json(const Product& p) {
  http::JsonWriter w;
  w.begin_object().field("productId", p.product_id).field("name", p.name).key("price");
  p.price_minor ? w.money(Money{*p.price_minor}) : w.null();
  w.field("totalQuantity", p.total).field("availableQuantity", p.available);
  w.field("reservedQuantity", p.reserved).field("version", p.version);
  w.field("createdAt", rfc3339(p.created_ms)).field("updatedAt", rfc3339(p.updated_ms));
  w.end_object();
  return w.take();
}

std::vector<domain::Line> lines_of(const std::vector<c::Line>& in) {
  std::vector<domain::Line> out;
  for (const auto& l : in) out.push_back({l.productId, l.quantity, l.priceMinor});
  return out;
}

// A batch of stock commands: the reservations and products they name are loaded in one
// statement each, every command applies in order to them in memory (two orders of the same
// product in one batch see each other's reservation), and each changed product and reservation
// is written once.
void on_batch(std::span<const bus::Message* const> msgs, storage::Tx& tx, const runtime::Faults& faults) {
  long long now = now_ms();
  struct In {
    const bus::Message* m;
    std::string order_id;
    std::vector<domain::Line> lines;  // ReserveInventory
    std::string currency{domain::kCatalogCurrency};  // ReserveInventory (absent before issue 8: USD)
    std::string tracking;
  };
  std::vector<In> in;
  std::vector<std::string> order_ids;
  for (const auto* m : msgs) {
    In i{m};
    if (m->subject == c::ReserveInventory::kSubject) {
      auto cmd = c::decode<c::ReserveInventory>(m->payload);
      i.order_id = cmd.orderId;
      i.lines = lines_of(cmd.items);
      if (cmd.currency) i.currency = *cmd.currency;
    } else if (m->subject == c::ReleaseInventory::kSubject) {
      i.order_id = c::decode<c::ReleaseInventory>(m->payload).orderId;
    } else if (m->subject == c::ShipmentDispatched::kSubject) {
      i.order_id = c::decode<c::ShipmentDispatched>(m->payload).orderId;
    } else {
      throw std::runtime_error("inventory: unexpected subject " + m->subject);
    }
    order_ids.push_back(i.order_id);
    in.push_back(std::move(i));
  }
  // The warehouse's injected latency and failures come before anything is read, as a slow
  // participant's would: what it then reads is current.
  for (const auto& i : in) {
    if (i.m->subject == c::ReserveInventory::kSubject) faults.apply("reserve");
    else if (i.m->subject == c::ReleaseInventory::kSubject) faults.apply("release");
  }
  auto reservations = adapters::find_reservations(tx.sql, order_ids);
  std::set<std::string> existed;
  for (const auto& [id, r] : reservations) existed.insert(id);
  std::set<std::string> product_ids;
  for (const auto& i : in)
    for (const auto& l : i.lines) product_ids.insert(l.product_id);
  for (const auto& [id, r] : reservations)
    for (const auto& l : r.lines) product_ids.insert(l.product_id);
  auto products = adapters::load_products(tx.sql, product_ids);
  std::map<std::string, std::int64_t> loaded_version;
  for (const auto& [id, p] : products) loaded_version[id] = p.version;
  std::map<std::string, adapters::Reservation> fresh;  // rows to insert, by order
  std::map<std::string, std::string> changed_states;    // new states of rows that existed
  auto put = [&](const std::string& order_id, adapters::Reservation r) {
    reservations[order_id] = r;
    if (existed.count(order_id)) changed_states[order_id] = r.state;
    else if (auto [it, added] = fresh.emplace(order_id, r); !added) it->second.state = r.state;  // keeps its items
  };
  for (auto& i : in) {
    log::RequestScope scope(i.m->request_id);
    const auto& subject = i.m->subject;
    auto r = reservations.find(i.order_id);
    if (subject == c::ReserveInventory::kSubject) {
      if (r != reservations.end()) {
        // Seen before (or fenced off by an earlier release): answer the same way again.
        const auto& state = r->second.state;
        if (state == "RESERVED" || state == "COMMITTED")
          c::emit(tx, c::InventoryReserved{i.order_id});
        else
          c::emit(tx, c::InventoryRejected{i.order_id, state == "RELEASED" ? "CANCELLED: released before reservation" : "REJECTED"});
        continue;
      }
      if (auto reason = domain::reserve(products, i.lines, now, i.currency)) {
        put(i.order_id, {"REJECTED", i.lines});
        c::emit(tx, c::InventoryRejected{i.order_id, *reason});
        log::info({"inventory", {}, i.order_id}, "reservation refused: " + *reason);
        continue;
      }
      log::debug({"inventory", {}, i.order_id}, "stock reserved");
      put(i.order_id, {"RESERVED", i.lines});
      c::emit(tx, c::InventoryReserved{i.order_id});
    } else if (subject == c::ReleaseInventory::kSubject) {
      if (r == reservations.end()) {
        // Release before reserve (a timed-out step): fence the order so a late reserve is refused.
        put(i.order_id, {"RELEASED", {}});
      } else if (r->second.state == "RESERVED") {
        auto lines = r->second.lines;
        domain::release(products, lines, now);
        put(i.order_id, {"RELEASED", lines});
        log::debug({"inventory", {}, i.order_id}, "stock released");
      } else if (r->second.state == "COMMITTED") {
        log::warn({"inventory", {}, i.order_id}, "release of a dispatched order ignored");
      }
      c::emit(tx, c::InventoryReleased{i.order_id});
    } else {  // ShipmentDispatched
      if (r == reservations.end() || r->second.state != "RESERVED") {
        log::warn({"inventory", {}, i.order_id}, "dispatch without a reservation");
        continue;
      }
      auto lines = r->second.lines;
      domain::commit(products, lines, now);
      put(i.order_id, {"COMMITTED", lines});
    }
  }
  std::vector<std::pair<const Product*, std::int64_t>> changed;
  for (const auto& [id, p] : products)
    if (p.version != loaded_version[id]) changed.push_back({&p, loaded_version[id]});
  adapters::save_many(tx.sql, changed);
  adapters::put_reservations(tx.sql, fresh, changed_states, now);
}

std::optional<long long> parse_int(std::string_view s) {
  long long v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size()) return std::nullopt;
  return v;
}

http::Response create_product(storage::Database& db, http::Request& req) {
  auto body = http::parse_body(req);
  if (!body) return http::from_error(body.error(), req.path);
  if (!body->is_object()) return http::problem(400, "body must be a JSON object", req.path);
  const auto& o = body->as_object();
  auto* pid = o.if_contains("productId");
  if (!pid || !pid->is_string()) return http::problem(400, "productId must be a string", req.path);
  auto* stock = o.if_contains("initialStock");
  if (!stock || !(stock->is_int64() || stock->is_uint64()))
    return http::problem(400, "initialStock must be an integer from 0 to 1000000", req.path);
  long long initial = stock->is_int64() ? stock->as_int64() : -1;
  std::optional<std::string> name;
  if (auto* n = o.if_contains("name"); n && !n->is_null()) {
    if (!n->is_string()) return http::problem(400, "name must be a string", req.path);
    name = std::string(n->as_string());
  }
  std::optional<std::int64_t> price;
  if (auto* p = o.if_contains("price"); p && !p->is_null()) {
    std::optional<Money> m;
    if (p->is_int64() && p->as_int64() > 0 && p->as_int64() <= 1'000'000) m = Money{p->as_int64() * 100};
    else if (p->is_double() && std::isnan(p->as_double()))
      return http::problem(400, "price must have at most 2 decimals", req.path);
    else if (p->is_double() && p->as_double() > 0 && p->as_double() <= 1'000'000) {
      m = money_from_double(p->as_double());
      if (!m) return http::problem(400, "price must have at most 2 decimals", req.path);
    } else return http::problem(400, "price must be > 0 and <= 1000000", req.path);
    price = m->minor;
  }
  auto product = domain::new_product(std::string(pid->as_string()), name, price, initial, now_ms());
  if (!product) return http::from_error(product.error(), req.path);
  return db.write([&](storage::Tx& tx) -> http::Response {
    if (adapters::load(tx.sql, product->product_id))
      return http::problem(409, "product " + product->product_id + " already exists", req.path);
    adapters::insert(tx.sql, *product);
    runtime::audit(tx, req, "product.create", product->product_id,
                   "initialStock=" + std::to_string(product->total));
    http::Response r = http::json_text(201, product_json(*product));
    r.set_header("Location", "/api/inventory/" + product->product_id);
    return r;
  });
}

http::Response restock(storage::Database& db, http::Request& req) {
  const auto& id = req.params["productId"];
  if (!is_token_id(id, 64)) return http::problem(404, "product " + id + " not found", req.path);
  auto raw = req.query_param("quantity");
  if (!raw) return http::problem(400, "quantity is required", req.path);
  auto q = parse_int(*raw);
  auto valid = q ? domain::validate_restock(*q) : fail(Errc::kInvalid, "quantity must be an integer from 1 to 1000000");
  if (!valid) return http::from_error(valid.error(), req.path);
  return db.write([&](storage::Tx& tx) -> http::Response {
    auto p = adapters::load(tx.sql, id, /*lock=*/true);
    if (!p) return http::problem(404, "product " + id + " not found", req.path);
    p->total += *valid;
    p->available += *valid;
    ++p->version;
    p->updated_ms = now_ms();
    adapters::save(tx.sql, *p);
    runtime::audit(tx, req, "inventory.restock", id, "quantity=" + std::to_string(*valid));
    return http::json_text(200, product_json(*p));
  });
}

struct DemoProduct {
  const char* id;
  const char* name;
  long long price_minor, stock;
};
constexpr DemoProduct kDemo[] = {
    {"prod-101", "Wireless Mouse", 5000, 100},
    {"prod-202", "Noise-Cancelling Headphones", 10050, 50},
    {"prod-303", "USB-C Cable", 999, 500},
    {"prod-404", "Mechanical Keyboard", 12900, 25},
};

}  // namespace

runtime::Background register_inventory(runtime::ServiceContext& ctx) {
  ctx.db.migrate("inventory", adapters::migrations());
  auto& db = ctx.db;
  if (ctx.settings.demo_data) {
    db.write([&](storage::Tx& tx) {
      if (!adapters::empty(tx.sql)) return;
      for (const auto& d : kDemo)
        adapters::insert(tx.sql, *domain::new_product(d.id, std::string(d.name), d.price_minor, d.stock, now_ms()));
      log::info({"inventory"}, "demo catalog created");
    });
  }
  auto& metrics = ctx.metrics;
  auto faults = std::make_shared<runtime::Faults>(std::vector<std::string>{"reserve", "release"});
  faults->set("reserve", {ctx.settings.inventory_delay_ms, 0.0});
  bus::Subscription sub{
      "inventory",
      {std::string(c::ReserveInventory::kSubject), std::string(c::ReleaseInventory::kSubject),
       std::string(c::ShipmentDispatched::kSubject)},
      &ctx.db,
      [&metrics, faults](std::span<const bus::Message* const> msgs, storage::Tx& tx) {
        on_batch(msgs, tx, *faults);
        metrics.messages_handled.Increment(static_cast<double>(msgs.size()));
      }};
  ctx.bus.subscribe(sub);
  runtime::register_dead_letter_routes(ctx, "inventory", sub);
  runtime::register_audit_routes(ctx, "inventory");
  runtime::register_fault_routes(ctx, "inventory", faults);

  ctx.router.add("GET", "/api/inventory", Role::kCustomer, [&db](http::Request& req) {
    auto limit = http::parse_limit(req);
    if (!limit) return http::from_error(limit.error(), req.path);
    std::string after(req.query_param("after").value_or(""));
    auto products = db.read([&](soci::session& sql) { return adapters::list(sql, after, *limit); });
    std::string body = "[";
    for (std::size_t i = 0; i < products.size(); ++i) body += (i ? "," : "") + product_json(products[i]);
    return http::json_text(200, body + "]");
  });
  ctx.router.add("GET", "/api/inventory/{productId}", Role::kCustomer, [&db](http::Request& req) {
    const auto& id = req.params["productId"];
    if (!is_token_id(id, 64)) return http::problem(404, "product " + id + " not found", req.path);
    auto p = db.read([&](soci::session& sql) { return adapters::load(sql, id); });
    if (!p) return http::problem(404, "product " + id + " not found", req.path);
    return http::json_text(200, product_json(*p));
  });
  // For the auditor (docs/OPERATIONS.md "Auditing"): stock against the reservations that hold it.
  ctx.router.add("GET", "/api/admin/inventory/stock-check", Role::kAdmin, [&db](http::Request&) {
    auto rows = db.read([&](soci::session& sql) { return adapters::stock_check(sql); });
    http::JsonWriter w;
    w.begin_array();
    for (const auto& r : rows) {
      w.begin_object().field("productId", r.product_id).field("totalQuantity", r.total);
      w.field("availableQuantity", r.available).field("reservedQuantity", r.reserved);
      w.field("heldByReservations", r.held).end_object();
    }
    w.end_array();
    return http::json_text(200, w.take());
  });
  ctx.router.add("GET", "/api/admin/inventory/reservations", Role::kAdmin, [&db](http::Request& req) {
    auto limit = http::parse_limit(req);
    if (!limit) return http::from_error(limit.error(), req.path);
    std::string after(req.query_param("after").value_or(""));
    std::string order_id(req.query_param("orderId").value_or(""));
    auto rows = db.read([&](soci::session& sql) {
      if (order_id.empty()) return adapters::list_reservations(sql, after, *limit);
      auto one = adapters::find_reservations(sql, {order_id});
      return std::vector<std::pair<std::string, adapters::Reservation>>(one.begin(), one.end());
    });
    http::JsonWriter w;
    w.begin_array();
    for (const auto& [order_id, r] : rows) {
      w.begin_object().field("orderId", order_id).field("state", r.state).key("items").begin_array();
      for (const auto& l : r.lines)
        w.begin_object().field("productId", l.product_id).field("quantity", l.quantity).end_object();
      w.end_array().end_object();
    }
    w.end_array();
    return http::json_text(200, w.take());
  });
  ctx.router.add("POST", "/api/inventory", Role::kStaff, [&db](http::Request& req) { return create_product(db, req); });
  ctx.router.add("POST", "/api/inventory/{productId}/add", Role::kStaff, [&db](http::Request& req) { return restock(db, req); });
  return {};
}

}  // namespace oms::inventory
