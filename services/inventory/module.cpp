#include "services/inventory/module.h"

#include <charconv>
#include <cmath>
#include <thread>

#include "libs/contracts/messages.h"
#include "libs/runtime/dead_letters.h"
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

void save_all(soci::session& sql, const std::map<std::string, Product>& products) {
  for (const auto& [id, p] : products) adapters::save(sql, p);
}

void on_message(const bus::Message& m, storage::Tx& tx, const runtime::Settings& settings) {
  long long now = now_ms();
  if (m.subject == c::ReserveInventory::kSubject) {
    auto cmd = c::decode<c::ReserveInventory>(m.payload);
    if (settings.inventory_delay_ms > 0)
      std::this_thread::sleep_for(std::chrono::milliseconds(settings.inventory_delay_ms));
    auto lines = lines_of(cmd.items);
    if (auto prior = adapters::find_reservation(tx.sql, cmd.orderId)) {
      // Seen before (or fenced off by an earlier release): answer the same way again.
      if (prior->state == "RESERVED" || prior->state == "COMMITTED")
        c::emit(tx, c::InventoryReserved{cmd.orderId});
      else
        c::emit(tx, c::InventoryRejected{cmd.orderId, prior->state == "RELEASED" ? "CANCELLED: released before reservation" : "REJECTED"});
      return;
    }
    auto products = adapters::load_many(tx.sql, lines);
    if (auto reason = domain::reserve(products, lines, now)) {
      adapters::put_reservation(tx.sql, cmd.orderId, {"REJECTED", lines}, now);
      c::emit(tx, c::InventoryRejected{cmd.orderId, *reason});
      log::info({"inventory", {}, cmd.orderId}, "reservation refused: " + *reason);
      return;
    }
    log::debug({"inventory", {}, cmd.orderId}, "stock reserved");
    save_all(tx.sql, products);
    adapters::put_reservation(tx.sql, cmd.orderId, {"RESERVED", lines}, now);
    c::emit(tx, c::InventoryReserved{cmd.orderId});
  } else if (m.subject == c::ReleaseInventory::kSubject) {
    auto cmd = c::decode<c::ReleaseInventory>(m.payload);
    auto r = adapters::find_reservation(tx.sql, cmd.orderId);
    if (!r) {
      // Release before reserve (a timed-out step): fence the order so a late reserve is refused.
      adapters::put_reservation(tx.sql, cmd.orderId, {"RELEASED", {}}, now);
    } else if (r->state == "RESERVED") {
      auto products = adapters::load_many(tx.sql, r->lines);
      domain::release(products, r->lines, now);
      save_all(tx.sql, products);
      adapters::put_reservation(tx.sql, cmd.orderId, {"RELEASED", r->lines}, now);
      log::debug({"inventory", {}, cmd.orderId}, "stock released");
    } else if (r->state == "COMMITTED") {
      log::warn({"inventory", {}, cmd.orderId}, "release of a dispatched order ignored");
    }
    c::emit(tx, c::InventoryReleased{cmd.orderId});
  } else if (m.subject == c::ShipmentDispatched::kSubject) {
    auto e = c::decode<c::ShipmentDispatched>(m.payload);
    auto r = adapters::find_reservation(tx.sql, e.orderId);
    if (!r || r->state != "RESERVED") {
      log::warn({"inventory", {}, e.orderId}, "dispatch without a reservation");
      return;
    }
    auto products = adapters::load_many(tx.sql, r->lines);
    domain::commit(products, r->lines, now);
    save_all(tx.sql, products);
    adapters::put_reservation(tx.sql, e.orderId, {"COMMITTED", r->lines}, now);
  }
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
  auto& settings = ctx.settings;
  auto& metrics = ctx.metrics;
  bus::Subscription sub{
      "inventory",
      {std::string(c::ReserveInventory::kSubject), std::string(c::ReleaseInventory::kSubject),
       std::string(c::ShipmentDispatched::kSubject)},
      &ctx.db,
      [&settings, &metrics](const bus::Message& m, storage::Tx& tx) {
        on_message(m, tx, settings);
        metrics.messages_handled.Increment();
      }};
  ctx.bus.subscribe(sub);
  runtime::register_dead_letter_routes(ctx, "inventory", sub);

  ctx.router.add("GET", "/api/inventory", [&db](http::Request& req) {
    auto limit = http::parse_limit(req);
    if (!limit) return http::from_error(limit.error(), req.path);
    std::string after(req.query_param("after").value_or(""));
    auto products = db.read([&](soci::session& sql) { return adapters::list(sql, after, *limit); });
    std::string body = "[";
    for (std::size_t i = 0; i < products.size(); ++i) body += (i ? "," : "") + product_json(products[i]);
    return http::json_text(200, body + "]");
  });
  ctx.router.add("GET", "/api/inventory/{productId}", [&db](http::Request& req) {
    const auto& id = req.params["productId"];
    if (!is_token_id(id, 64)) return http::problem(404, "product " + id + " not found", req.path);
    auto p = db.read([&](soci::session& sql) { return adapters::load(sql, id); });
    if (!p) return http::problem(404, "product " + id + " not found", req.path);
    return http::json_text(200, product_json(*p));
  });
  ctx.router.add("POST", "/api/inventory", [&db](http::Request& req) { return create_product(db, req); });
  ctx.router.add("POST", "/api/inventory/{productId}/add", [&db](http::Request& req) { return restock(db, req); });
  return {};
}

}  // namespace oms::inventory
