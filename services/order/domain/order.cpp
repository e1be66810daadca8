#include "services/order/domain/order.h"

#include <algorithm>
#include <set>

#include "libs/core/ids.h"

namespace oms::order::domain {

bool valid_email(std::string_view e) {
  if (e.empty() || e.size() > 254) return false;
  auto at = e.find('@');
  if (at == 0 || at == std::string_view::npos || e.find('@', at + 1) != std::string_view::npos)
    return false;
  auto domain = e.substr(at + 1);
  auto dot = domain.find('.');
  if (domain.empty() || dot == 0 || dot == std::string_view::npos || domain.back() == '.')
    return false;
  for (unsigned char c : e)
    if (c <= 0x20 || c == 0x7f || c == '<' || c == '>' || c == '(' || c == ')' || c == ',' ||
        c == ';' || c == ':' || c == '\\' || c == '"' || c == '[' || c == ']')
      return false;
  return true;
}

bool valid_idempotency_key(std::string_view k) {
  if (k.empty() || k.size() > 255) return false;
  return std::all_of(k.begin(), k.end(), [](unsigned char c) { return c >= 0x21 && c <= 0x7e; });
}

Result<NewOrder> validate(const Draft& d) {
  if (!d.customer_email) return fail(Errc::kInvalid, "customerEmail is required");
  if (!valid_email(*d.customer_email))
    return fail(Errc::kInvalid, "customerEmail must be an email address of at most 254 characters");
  if (!d.items_present) return fail(Errc::kInvalid, "items is required");
  if (d.items.empty() || d.items.size() > 100)
    return fail(Errc::kInvalid, "items must have 1 to 100 entries");
  std::string currency = d.currency.value_or("USD");
  if (currency.size() != 3 ||
      !std::all_of(currency.begin(), currency.end(), [](char c) { return c >= 'A' && c <= 'Z'; }))
    return fail(Errc::kInvalid, "currency must be an ISO 4217 code such as USD");
  std::set<std::string> seen;
  Money total{0};
  for (std::size_t i = 0; i < d.items.size(); ++i) {
    const auto& l = d.items[i];
    std::string at = "items[" + std::to_string(i) + "]";
    if (!is_token_id(l.product_id, 64))
      return fail(Errc::kInvalid, at + ".productId must be 1-64 characters of [A-Za-z0-9._-]");
    if (l.quantity < 1 || l.quantity > 10000)
      return fail(Errc::kInvalid, at + ".quantity must be >= 1 and <= 10000");
    if (l.price.minor <= 0 || l.price.minor > 100'000'000)
      return fail(Errc::kInvalid, at + ".price must be > 0 and <= 1000000");
    if (!seen.insert(l.product_id).second)
      return fail(Errc::kInvalid, at + ".productId " + l.product_id + " appears twice");
    total.minor += l.price.minor * l.quantity;  // ≤ 100 × 10^4 × 10^8: no overflow
  }
  return NewOrder{*d.customer_email, d.items, currency, total};
}

std::string canonical(const NewOrder& o) {
  std::string s = o.customer_email + "\n" + o.currency;
  for (const auto& l : o.items)
    s += "\n" + l.product_id + " " + std::to_string(l.quantity) + " " + std::to_string(l.price.minor);
  return s;
}

std::string email_key(std::string_view email) {
  std::string k(email);
  for (auto& c : k)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  return k;
}

bool same_request(std::string_view a, std::string_view b) {
  auto split = [](std::string_view s) {  // the email is the first line
    auto nl = s.find('\n');
    return std::pair{s.substr(0, nl), nl == std::string_view::npos ? std::string_view{} : s.substr(nl)};
  };
  auto [ea, ra] = split(a);
  auto [eb, rb] = split(b);
  return ra == rb && email_key(ea) == email_key(eb);
}

Order create(std::string order_id, std::string user_id, NewOrder n, std::int64_t now) {
  Order o;
  o.order_id = std::move(order_id);
  o.user_id = std::move(user_id);
  o.customer_email = std::move(n.customer_email);
  o.items = std::move(n.items);
  o.total = n.total;
  o.currency = std::move(n.currency);
  o.created_ms = o.updated_ms = now;
  return o;
}

Result<CancelDecision> request_cancel(Order& o, std::int64_t now) {
  if (o.status == "CANCELLED") return CancelDecision::kAlreadyCancelled;
  if (o.status == "FAILED") return fail(Errc::kConflict, "order " + o.order_id + " already failed");
  if (o.fulfillment_status == "DISPATCHED" || o.fulfillment_status == "DELIVERED")
    return fail(Errc::kConflict, "order " + o.order_id + " was already dispatched");
  if (o.cancel_requested) return CancelDecision::kAlreadyCancelling;
  o.cancel_requested = true;
  ++o.cancel_seq;
  o.updated_ms = now;
  return CancelDecision::kAccept;
}

bool follow(Order& o, const SagaView& v) {
  if (v.version <= o.saga_version) return false;
  o.saga_version = v.version;
  o.status = v.order_status;
  o.payment_status = v.payment_status;
  o.inventory_status = v.inventory_status;
  o.fulfillment_status = v.fulfillment_status;
  // A cancel this service accepted stays visible until the saga has seen it (an update written
  // before the saga read the cancel still says false).
  bool unseen = o.cancel_requested && v.cancel_seq < o.cancel_seq;
  o.cancel_requested = unseen || v.cancel_requested;
  // The reason shows once the saga ended, and while it waits for an admin (API.md, "Saga").
  o.failure_reason = (o.status == "FAILED" || o.status == "CANCELLED" || v.needs_attention) ? v.reason : std::nullopt;
  o.updated_ms = std::max(o.updated_ms, v.at_ms);
  if (o.status == "COMPLETED" && !o.completed_ms) o.completed_ms = v.at_ms;
  if (o.status == "CANCELLED" && !o.cancelled_ms) o.cancelled_ms = v.at_ms;
  return true;
}

}  // namespace oms::order::domain
