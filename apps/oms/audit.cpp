#include "apps/oms/audit.h"

#include <boost/json.hpp>
#include <chrono>
#include <ctime>
#include <iostream>
#include <set>
#include <stdexcept>
#include <thread>
#include <unordered_map>

#include "libs/core/clock.h"

namespace oms::app::audit {
namespace {

namespace json = boost::json;

constexpr std::string_view kNotifiedOnce[] = {"ORDER_CREATED",   "ORDER_COMPLETED",  "ORDER_FAILED",
                                              "ORDER_CANCELLED", "PAYMENT_REFUNDED", "ORDER_DISPATCHED"};

bool terminal_order(std::string_view s) { return s == "COMPLETED" || s == "FAILED" || s == "CANCELLED"; }
bool ended_badly(std::string_view s) { return s == "FAILED" || s == "CANCELLED"; }

// "2026-11-25T12:00:00.123Z" → epoch ms (the form rfc3339() writes); 0 when it is not that.
std::int64_t parse_time(const std::string& s) {
  std::tm tm{};
  int ms = 0;
  if (std::sscanf(s.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d.%3dZ", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour,
                  &tm.tm_min, &tm.tm_sec, &ms) != 7)
    return 0;
  tm.tm_year -= 1900;
  tm.tm_mon -= 1;
  return static_cast<std::int64_t>(timegm(&tm)) * 1000 + ms;
}

std::string str(const json::object& o, std::string_view key) {
  const auto* v = o.if_contains(key);
  return v && v->is_string() ? std::string(v->as_string()) : std::string();
}

// The fetched JSON, or a runtime_error that says which request failed and why.
json::value fetch(const Get& get, const std::string& target, bool allow_404 = false) {
  auto res = get(target);
  if (allow_404 && res.status == 404) return nullptr;
  if (res.status != 200) throw std::runtime_error("GET " + target + " → " + describe_failure(res));
  boost::system::error_code ec;
  auto v = json::parse(res.body, ec);
  if (ec) throw std::runtime_error("GET " + target + ": the answer is not JSON");
  return v;
}

const json::array& array_of(const json::value& v, const std::string& target) {
  if (!v.is_array()) throw std::runtime_error("GET " + target + ": expected a JSON array");
  return v.as_array();
}

// Pages a list newest first (`before=`) or in id order (`after=`) and calls `each` on every item.
void page_all(const Get& get, const std::string& path, const char* cursor_param, const char* id_field, int page,
              const std::function<void(const json::object&)>& each) {
  std::string cursor;
  for (;;) {
    std::string target = path + (path.find('?') == std::string::npos ? "?" : "&") + "limit=" + std::to_string(page);
    if (!cursor.empty()) target += std::string("&") + cursor_param + "=" + cursor;
    auto v = fetch(get, target);
    const auto& items = array_of(v, target);
    for (const auto& item : items) {
      if (!item.is_object()) throw std::runtime_error("GET " + target + ": an item is not an object");
      each(item.as_object());
    }
    if (static_cast<int>(items.size()) < page) return;
    cursor = str(items.back().as_object(), id_field);
    if (cursor.empty()) throw std::runtime_error("GET " + target + ": an item has no " + id_field);
  }
}

// The whole picture is kept compactly (about 150 bytes an order): the services' status words are
// interned as small numbers, and the notification counts packed four bits each.
class Words {
 public:
  std::uint8_t code(const std::string& s) {
    auto [it, fresh] = codes_.try_emplace(s, static_cast<std::uint8_t>(words_.size()));
    if (fresh) {
      if (words_.size() == 255) throw std::runtime_error("too many distinct status words: " + s);
      words_.push_back(s);
    }
    return it->second;
  }
  const std::string& word(std::uint8_t c) const { return words_[c]; }

 private:
  std::vector<std::string> words_{""};  // 0: none
  std::unordered_map<std::string, std::uint8_t> codes_{{"", 0}};
};

struct Entry {
  std::int64_t deadline_ms = 0;
  std::uint32_t notified = 0;  // 4 bits per kNotifiedOnce type (saturating at 15)
  std::uint8_t status = 0, payment = 0, inventory = 0, fulfillment = 0, saga = 0, reservation = 0;
  bool exists = false, cancel_requested = false, has_saga = false, has_reservation = false;
};

int type_index(std::string_view type) {
  for (std::size_t i = 0; i < std::size(kNotifiedOnce); ++i)
    if (kNotifiedOnce[i] == type) return static_cast<int>(i);
  return -1;
}

void count_notification(Entry& e, std::string_view type) {
  int i = type_index(type);
  if (i < 0) return;  // OPERATOR_ALERT may repeat (a saga can need attention twice)
  std::uint32_t shift = 4u * static_cast<std::uint32_t>(i), n = (e.notified >> shift) & 0xFu;
  if (n < 15) e.notified += 1u << shift;
}

OrderFacts facts_of(const std::string& id, const Entry& e, const Words& w) {
  OrderFacts f;
  f.id = id;
  if (e.exists) {
    f.status = w.word(e.status);
    f.payment_status = w.word(e.payment);
    f.inventory_status = w.word(e.inventory);
    f.fulfillment_status = w.word(e.fulfillment);
    f.cancel_requested = e.cancel_requested;
  }
  if (e.has_saga) f.saga = OrderFacts::Saga{w.word(e.saga), {}, e.deadline_ms};
  for (std::size_t i = 0; i < std::size(kNotifiedOnce); ++i)
    if (int n = static_cast<int>((e.notified >> (4 * i)) & 0xFu)) f.notified[std::string(kNotifiedOnce[i])] = n;
  if (e.has_reservation) f.reservation = w.word(e.reservation);
  return f;
}

void read_order(const json::object& o, Entry& e, Words& w) {
  e.exists = true;
  e.status = w.code(str(o, "status"));
  e.payment = w.code(str(o, "paymentStatus"));
  e.inventory = w.code(str(o, "inventoryStatus"));
  e.fulfillment = w.code(str(o, "fulfillmentStatus"));
  const auto* c = o.if_contains("cancelRequested");
  e.cancel_requested = c && c->is_bool() && c->as_bool();
}

void read_saga(const json::object& s, Entry& e, Words& w) {
  e.has_saga = true;
  e.saga = w.code(str(s, "state"));
  e.deadline_ms = parse_time(str(s, "deadline"));
}

// The payment service's record of the order, where the rules need it (it ended badly).
void look_up_payment(const Get& get, OrderFacts& f) {
  if (!ended_badly(f.status)) return;
  f.payment_looked_up = true;
  if (auto p = fetch(get, "/api/payments/order/" + f.id, true); p.is_object()) f.payment = str(p.as_object(), "status");
}

// Everything about one order, read afresh (the second look at a finding).
OrderFacts look_again(const Get& get, const std::string& id) {
  Words w;
  Entry e;
  if (auto o = fetch(get, "/api/orders/" + id, true); o.is_object()) read_order(o.as_object(), e, w);
  if (auto s = fetch(get, "/api/sagas/" + id, true); s.is_object()) read_saga(s.as_object(), e, w);
  auto notes = fetch(get, "/api/notifications?limit=1000&orderId=" + id);
  for (const auto& n : array_of(notes, "notifications of " + id))
    if (n.is_object()) count_notification(e, str(n.as_object(), "type"));
  auto res = fetch(get, "/api/admin/inventory/reservations?orderId=" + id);
  for (const auto& r : array_of(res, "reservation of " + id))
    if (r.is_object() && str(r.as_object(), "orderId") == id) {
      e.has_reservation = true;
      e.reservation = w.code(str(r.as_object(), "state"));
    }
  OrderFacts f = facts_of(id, e, w);
  look_up_payment(get, f);
  return f;
}

}  // namespace

std::vector<std::string> check_order(const OrderFacts& f, std::int64_t now_ms, std::int64_t grace_ms) {
  std::vector<std::string> v;
  const std::string order = "order " + f.id;
  if (f.status.empty()) {
    std::string what = f.saga ? "a saga (" + f.saga->state + ")" : f.reservation ? "a reservation" : "notifications";
    v.push_back(order + " does not exist, but it has " + what);
    return v;
  }
  if (!f.saga) {
    v.push_back(order + " is " + f.status + " but has no saga");
  } else {
    const std::string& s = f.saga->state;
    bool agrees = f.status == "PENDING"     ? !terminal_order(s)
                  : s == "NEEDS_ATTENTION"  ? f.status == "COMPLETED" && f.cancel_requested
                  : f.status == "COMPLETED" ? s == "COMPLETED" || (f.cancel_requested && s == "COMPENSATING")
                                            : s == f.status;
    if (!agrees) v.push_back(order + " is " + f.status + " but its saga is " + s);
    if (f.status == "PENDING" && s != "NEEDS_ATTENTION" && f.saga->deadline_ms > 0 &&
        now_ms - f.saga->deadline_ms > grace_ms)
      v.push_back(order + " is PENDING past its deadline: its saga has waited in " + s + " since " +
                  rfc3339(f.saga->deadline_ms));
  }
  if (ended_badly(f.status)) {
    if (f.payment_looked_up && f.payment == "COMPLETED")
      v.push_back(order + " ended " + f.status + " but its payment is COMPLETED: not refunded");
    if (f.payment_status == "COMPLETED")
      v.push_back(order + " ended " + f.status + " but shows paymentStatus COMPLETED");
    if (f.reservation == "RESERVED")
      v.push_back(order + " ended " + f.status + " but its stock is still reserved");
  }
  if (f.status == "COMPLETED" && !f.cancel_requested) {
    if (f.fulfillment_status == "INITIATED" && f.reservation != "RESERVED")
      v.push_back(order + " is COMPLETED and not dispatched but holds no stock (reservation " +
                  f.reservation.value_or("none") + ")");
    if ((f.fulfillment_status == "DISPATCHED" || f.fulfillment_status == "DELIVERED") && f.reservation == "RESERVED")
      v.push_back(order + " was dispatched but its stock is still reserved, not shipped");
  }
  auto count = [&](const char* type) {
    auto it = f.notified.find(type);
    return it == f.notified.end() ? 0 : it->second;
  };
  for (const auto& [type, n] : f.notified)
    if (n > 1) v.push_back(order + " was notified " + type + " " + std::to_string(n) + " times");
  if (count("ORDER_CREATED") == 0) v.push_back(order + " was never notified ORDER_CREATED");
  if (terminal_order(f.status)) {
    std::string outcome = "ORDER_" + f.status;
    if (count(outcome.c_str()) == 0) v.push_back(order + " is " + f.status + " but was never notified " + outcome);
  }
  if (f.status == "FAILED" && count("ORDER_COMPLETED") > 0)
    v.push_back(order + " FAILED but was notified ORDER_COMPLETED");
  return v;
}

Report run(const Get& get, const Options& options, std::ostream& progress) {
  Report report;
  Words words;
  std::unordered_map<std::string, Entry> orders;
  std::string newest;  // the newest order at the start: anything younger is left out

  // Stock first (it also fails fast on a token that is not an admin's): one snapshot of the
  // inventory, so a difference is real, whatever is in flight.
  auto stock = fetch(get, "/api/admin/inventory/stock-check");
  for (const auto& p : array_of(stock, "/api/admin/inventory/stock-check")) {
    if (!p.is_object()) continue;
    const auto& o = p.as_object();
    auto num = [&](std::string_view k) {
      const auto* v = o.if_contains(k);
      return v && v->is_int64() ? v->as_int64() : -1;
    };
    ++report.products;
    std::string id = str(o, "productId");
    auto total = num("totalQuantity"), available = num("availableQuantity"), reserved = num("reservedQuantity"),
         held = num("heldByReservations");
    if (available + reserved != total)
      report.violations.push_back("product " + id + ": available " + std::to_string(available) + " + reserved " +
                                  std::to_string(reserved) + " != total " + std::to_string(total));
    if (reserved != held)
      report.violations.push_back("product " + id + ": reserved " + std::to_string(reserved) +
                                  " but its live reservations hold " + std::to_string(held));
  }
  progress << "audit: " << report.products << " products\n";

  page_all(get, "/api/orders", "before", "orderId", options.page, [&](const json::object& o) {
    std::string id = str(o, "orderId");
    if (newest.empty()) newest = id;
    if (id > newest) return;
    read_order(o, orders[id], words);
    ++report.orders;
  });
  progress << "audit: " << report.orders << " orders\n";
  auto in_scope = [&](const std::string& id) { return !newest.empty() && id <= newest; };

  page_all(get, "/api/sagas", "before", "orderId", options.page, [&](const json::object& s) {
    std::string id = str(s, "orderId");
    if (!in_scope(id)) return;
    ++report.sagas;
    read_saga(s, orders[id], words);
    if (str(s, "state") == "NEEDS_ATTENTION")
      report.attention.push_back("saga " + id + " NEEDS_ATTENTION: " + str(s, "reason"));
  });
  progress << "audit: " << report.sagas << " sagas\n";

  page_all(get, "/api/notifications", "before", "id", options.page, [&](const json::object& n) {
    std::string id = str(n, "orderId");
    ++report.notifications;
    if (id.empty() || !in_scope(id)) return;
    count_notification(orders[id], str(n, "type"));
  });
  progress << "audit: " << report.notifications << " notifications\n";

  page_all(get, "/api/admin/inventory/reservations", "after", "orderId", options.page, [&](const json::object& r) {
    std::string id = str(r, "orderId");
    ++report.reservations;
    if (!in_scope(id)) return;
    auto& e = orders[id];
    e.has_reservation = true;
    e.reservation = words.code(str(r, "state"));
  });
  progress << "audit: " << report.reservations << " reservations\n";

  // First look: every order against the rules; payments only where they matter.
  std::vector<std::string> suspects;
  std::int64_t now = now_ms();
  for (const auto& [id, e] : orders) {
    OrderFacts f = facts_of(id, e, words);
    look_up_payment(get, f);
    if (!check_order(f, now, options.settle_ms).empty()) suspects.push_back(id);
  }
  orders.clear();
  progress << "audit: " << suspects.size() << " orders to look at again\n";

  // Second look: a finding may be a saga in flight (its outcome on its way to the order, its
  // notification not sent yet). It counts only if it is still there after every pause.
  std::vector<std::pair<std::string, std::vector<std::string>>> found;
  for (int round = 0; round < options.rounds && !suspects.empty(); ++round) {
    std::this_thread::sleep_for(std::chrono::milliseconds(options.settle_ms));
    found.clear();
    std::vector<std::string> still;
    for (const auto& id : suspects) {
      auto v = check_order(look_again(get, id), now_ms(), options.settle_ms);
      if (!v.empty()) {
        still.push_back(id);
        found.emplace_back(id, std::move(v));
      }
    }
    suspects.swap(still);
  }
  for (auto& [id, v] : found)
    for (auto& s : v) report.violations.push_back(std::move(s));
  return report;
}

int main(const ClientOptions& client_options, const Options& options) {
  if (client_options.token.empty()) {
    std::cerr << "oms audit: an admin token is needed: --token or OMS_TOKEN (`oms login --user admin`)\n";
    return 2;
  }
  try {
    Client client(client_options);
    auto report = run([&](const std::string& t) { return client.get(t); }, options, std::cerr);
    for (const auto& v : report.violations) std::cout << "VIOLATION " << v << "\n";
    for (const auto& a : report.attention) std::cout << "ATTENTION " << a << "\n";
    std::cout << "audit: " << report.orders << " orders, " << report.sagas << " sagas, " << report.notifications
              << " notifications, " << report.reservations << " reservations, " << report.products
              << " products checked; " << report.violations.size() << " violations, " << report.attention.size()
              << " sagas need attention\n";
    return report.violations.empty() ? 0 : 1;
  } catch (const std::exception& e) {
    std::cerr << "oms audit: " << e.what() << "\n";
    return 2;
  }
}

}  // namespace oms::app::audit
