#include "services/saga/domain/saga.h"

#include <algorithm>
#include <array>
#include <utility>

namespace oms::saga::domain {
namespace {

constexpr std::array<std::pair<State, std::string_view>, 11> kStates{{
    {State::kStarted, "STARTED"},
    {State::kInventoryRequested, "INVENTORY_REQUESTED"},
    {State::kInventoryReserved, "INVENTORY_RESERVED"},
    {State::kPaymentRequested, "PAYMENT_REQUESTED"},
    {State::kPaymentCompleted, "PAYMENT_COMPLETED"},
    {State::kFulfillmentRequested, "FULFILLMENT_REQUESTED"},
    {State::kCompleted, "COMPLETED"},
    {State::kCompensating, "COMPENSATING"},
    {State::kFailed, "FAILED"},
    {State::kCancelled, "CANCELLED"},
    {State::kNeedsAttention, "NEEDS_ATTENTION"},
}};

std::string_view step_name(Awaiting a) {
  switch (a) {
    case Awaiting::kCancelFulfillment: return "cancel shipment";
    case Awaiting::kRefund: return "refund";
    case Awaiting::kRelease: return "release";
    default: return "step";
  }
}

constexpr std::array<std::pair<Awaiting, std::string_view>, 7> kAwaiting{{
    {Awaiting::kNone, "NONE"},
    {Awaiting::kInventory, "INVENTORY"},
    {Awaiting::kPayment, "PAYMENT"},
    {Awaiting::kFulfillment, "FULFILLMENT"},
    {Awaiting::kCancelFulfillment, "CANCEL_FULFILLMENT"},
    {Awaiting::kRefund, "REFUND"},
    {Awaiting::kRelease, "RELEASE"},
}};

}  // namespace

std::string_view to_string(State s) {
  for (auto& [k, v] : kStates)
    if (k == s) return v;
  return "?";
}
std::optional<State> parse_state(std::string_view s) {
  for (auto& [k, v] : kStates)
    if (v == s) return k;
  return std::nullopt;
}
std::string_view to_string(Awaiting a) {
  for (auto& [k, v] : kAwaiting)
    if (k == a) return v;
  return "?";
}
std::optional<Awaiting> parse_awaiting(std::string_view s) {
  for (auto& [k, v] : kAwaiting)
    if (v == s) return k;
  return std::nullopt;
}
bool is_terminal(State s) { return s == State::kFailed || s == State::kCancelled; }

Saga Saga::start(std::string order_id, std::string customer_email, std::int64_t amount_minor,
                 std::string currency, std::vector<Item> items, std::int64_t now,
                 std::int64_t step_timeout_ms, Effects& fx) {
  Saga s;
  s.order_id = std::move(order_id);
  s.customer_email = std::move(customer_email);
  s.amount_minor = amount_minor;
  s.currency = std::move(currency);
  s.items = std::move(items);
  s.step_timeout_ms = step_timeout_ms;
  s.created_ms = now;
  s.enter(State::kStarted, now, fx);
  s.enter(State::kInventoryRequested, now, fx);
  s.send(Command::kReserve, Awaiting::kInventory, now, fx);
  return s;
}

std::string_view Saga::order_status() const {
  switch (state) {
    case State::kCompleted: return "COMPLETED";
    case State::kFailed: return "FAILED";
    case State::kCancelled: return "CANCELLED";
    case State::kCompensating:
    case State::kNeedsAttention: return completed_once ? "COMPLETED" : "PENDING";
    default: return "PENDING";
  }
}

void Saga::touch(std::int64_t now, Effects& fx) {
  fx.changed = true;
  ++version;
  updated_ms = now;
}

void Saga::enter(State s, std::int64_t now, Effects& fx, std::optional<std::string> detail) {
  state = s;
  fx.history.push_back({s, now, std::move(detail)});
  if (is_terminal(s) || s == State::kCompleted) fx.reached = s;
  touch(now, fx);
}

void Saga::send(Command c, Awaiting a, std::int64_t now, Effects& fx) {
  fx.commands.push_back(c);
  awaiting = a;
  deadline_ms = now + step_timeout_ms;
  touch(now, fx);
}

Effects Saga::ignore(std::string why) const {
  Effects fx;
  fx.ignored = std::move(why);
  return fx;
}

void Saga::compensate(std::int64_t now, Effects& fx, std::string why) {
  bool anything = fulfillment_status == "INITIATED" || fulfillment_uncertain ||
                  payment_status == "COMPLETED" || payment_uncertain ||
                  inventory_status == "RESERVED" || inventory_uncertain;
  // COMPENSATING appears only when something took effect (or may have) that must be undone.
  if (anything) enter(State::kCompensating, now, fx, std::move(why));
  next_compensation(now, fx);
}

void Saga::next_compensation(std::int64_t now, Effects& fx) {
  compensation_attempts = 0;
  if (state == State::kNeedsAttention) {  // the failed step answered after all
    attention.reset();
    enter(State::kCompensating, now, fx, std::string("the failed step answered after all"));
  }
  // Reverse order of the forward steps: shipment, money, stock.
  if (fulfillment_status == "INITIATED" || fulfillment_uncertain) {
    send(Command::kCancelFulfillment, Awaiting::kCancelFulfillment, now, fx);
    compensation_attempts = 1;
  } else if (payment_status == "COMPLETED" || payment_uncertain) {
    send(Command::kRefund, Awaiting::kRefund, now, fx);
    compensation_attempts = 1;
  } else if (inventory_status == "RESERVED" || inventory_uncertain) {
    send(Command::kRelease, Awaiting::kRelease, now, fx);
    compensation_attempts = 1;
  } else {
    awaiting = Awaiting::kNone;
    deadline_ms = 0;
    if (payment_status == "PENDING") payment_status = "SKIPPED";
    if (inventory_status == "PENDING") inventory_status = "FAILED";
    if (cancel_requested) {
      enter(State::kCancelled, now, fx, reason ? std::optional<std::string>("cancelled; " + *reason)
                                               : std::optional<std::string>("cancelled on request"));
    } else {
      enter(State::kFailed, now, fx, reason);
    }
  }
}

Effects Saga::on_inventory_reserved(std::int64_t now) {
  if (awaiting != Awaiting::kInventory) return ignore("inventory.reserved while not waiting for it");
  Effects fx;
  inventory_status = "RESERVED";
  enter(State::kInventoryReserved, now, fx);
  if (cancel_requested) {
    compensate(now, fx, "cancel requested");
  } else {
    enter(State::kPaymentRequested, now, fx);
    send(Command::kAuthorize, Awaiting::kPayment, now, fx);
  }
  return fx;
}

Effects Saga::on_inventory_rejected(const std::string& why, std::int64_t now) {
  if (awaiting != Awaiting::kInventory) return ignore("inventory.rejected while not waiting for it");
  Effects fx;
  inventory_status = "FAILED";
  if (!cancel_requested) reason = why;
  compensate(now, fx, why);  // nothing took effect: straight to FAILED / CANCELLED
  return fx;
}

Effects Saga::on_inventory_released(std::int64_t now) {
  if (awaiting != Awaiting::kRelease) return ignore("inventory.released while not waiting for it");
  Effects fx;
  inventory_status = "RELEASED";
  inventory_uncertain = false;
  next_compensation(now, fx);
  return fx;
}

Effects Saga::on_payment_completed(std::int64_t now) {
  if (awaiting != Awaiting::kPayment) return ignore("payment.completed while not waiting for it");
  Effects fx;
  payment_status = "COMPLETED";
  enter(State::kPaymentCompleted, now, fx);
  if (cancel_requested) {
    compensate(now, fx, "cancel requested");
  } else {
    enter(State::kFulfillmentRequested, now, fx);
    send(Command::kCreateFulfillment, Awaiting::kFulfillment, now, fx);
  }
  return fx;
}

Effects Saga::on_payment_failed(const std::string& why, std::int64_t now) {
  if (awaiting != Awaiting::kPayment) return ignore("payment.failed while not waiting for it");
  Effects fx;
  payment_status = "FAILED";
  if (!cancel_requested) reason = why;
  compensate(now, fx, why);
  return fx;
}

Effects Saga::on_payment_refunded(bool manual, bool captured, std::int64_t now) {
  if (awaiting == Awaiting::kRefund) {
    Effects fx;
    payment_status = captured ? "REFUNDED" : (payment_status == "COMPLETED" ? "REFUNDED" : "FAILED");
    payment_uncertain = false;
    next_compensation(now, fx);
    return fx;
  }
  if (manual && payment_status == "COMPLETED") {
    // A refund by hand changes only the payment's status (API.md).
    Effects fx;
    payment_status = "REFUNDED";
    touch(now, fx);
    return fx;
  }
  return ignore("payment.refunded while not waiting for it");
}

Effects Saga::on_fulfillment_created(std::int64_t now) {
  if (awaiting != Awaiting::kFulfillment) return ignore("fulfillment.created while not waiting for it");
  Effects fx;
  fulfillment_status = "INITIATED";
  if (cancel_requested) {
    compensate(now, fx, "cancel requested");
  } else {
    awaiting = Awaiting::kNone;
    deadline_ms = 0;
    completed_once = true;
    enter(State::kCompleted, now, fx);
  }
  return fx;
}

Effects Saga::on_fulfillment_cancelled(std::int64_t now) {
  if (awaiting != Awaiting::kCancelFulfillment)
    return ignore("fulfillment.cancelled while not waiting for it");
  Effects fx;
  if (fulfillment_status) fulfillment_status = "CANCELLED";
  fulfillment_uncertain = false;
  next_compensation(now, fx);
  return fx;
}

Effects Saga::on_fulfillment_cancel_rejected(const std::string& why, std::int64_t now) {
  if (awaiting != Awaiting::kCancelFulfillment)
    return ignore("fulfillment.cancel_rejected while not waiting for it");
  Effects fx;
  // The shipment left before the cancel: the order stands, completed.
  if (!fulfillment_status || *fulfillment_status == "INITIATED") fulfillment_status = "DISPATCHED";
  fulfillment_uncertain = false;
  awaiting = Awaiting::kNone;
  deadline_ms = 0;
  cancel_requested = false;
  reason.reset();
  completed_once = true;
  enter(State::kCompleted, now, fx, "CANCEL_REJECTED: " + why);
  return fx;
}

Effects Saga::on_shipment_dispatched(std::int64_t now) {
  if (fulfillment_status == "DISPATCHED" || fulfillment_status == "DELIVERED")
    return ignore("already dispatched");
  Effects fx;
  fulfillment_status = "DISPATCHED";
  touch(now, fx);
  return fx;
}

Effects Saga::on_shipment_delivered(std::int64_t now) {
  if (fulfillment_status == "DELIVERED") return ignore("already delivered");
  Effects fx;
  fulfillment_status = "DELIVERED";
  touch(now, fx);
  return fx;
}

Effects Saga::on_cancel_requested(const std::optional<std::string>& why, std::int64_t now,
                                  std::int64_t seq) {
  bool newly_seen = seq > cancel_seq;
  if (newly_seen) cancel_seq = seq;
  Effects fx = decide_cancel(why, now);
  // Even an ignored cancel must be acknowledged to the order service, which shows it as
  // requested until the saga has seen it.
  if (newly_seen && !fx.changed) touch(now, fx);
  return fx;
}

Effects Saga::decide_cancel(const std::optional<std::string>& why, std::int64_t now) {
  if (is_terminal(state)) return ignore("cancel after the saga ended");
  if (cancel_requested || state == State::kCompensating || state == State::kNeedsAttention)
    return ignore("already compensating");
  Effects fx;
  if (fulfillment_status == "DISPATCHED" || fulfillment_status == "DELIVERED") {
    // The order service checks this too, but the shipment may have left since.
    fx.history.push_back({state, now, std::string("CANCEL_REJECTED: shipment already dispatched")});
    touch(now, fx);
    return fx;
  }
  cancel_requested = true;
  if (why) reason = *why;
  touch(now, fx);
  // Waiting for a forward reply: compensate once it comes (it tells what took effect).
  if (awaiting == Awaiting::kNone) compensate(now, fx, "cancel requested");
  return fx;
}

Effects Saga::on_tick(std::int64_t now) {
  if (deadline_ms == 0 || now < deadline_ms || awaiting == Awaiting::kNone) return ignore("not due");
  Effects fx;
  switch (awaiting) {
    case Awaiting::kInventory:
      inventory_uncertain = true;
      if (!cancel_requested) reason = "TIMEOUT: inventory";
      compensate(now, fx, "TIMEOUT: inventory");
      break;
    case Awaiting::kPayment:
      payment_uncertain = true;
      if (!cancel_requested) reason = "TIMEOUT: payment";
      compensate(now, fx, "TIMEOUT: payment");
      break;
    case Awaiting::kFulfillment:
      fulfillment_uncertain = true;
      if (!cancel_requested) reason = "TIMEOUT: fulfillment";
      compensate(now, fx, "TIMEOUT: fulfillment");
      break;
    case Awaiting::kCancelFulfillment:
    case Awaiting::kRefund:
    case Awaiting::kRelease:
      if (compensation_attempts >= kCompensationAttempts) {
        std::string why = std::string(step_name(awaiting)) + " failed " + std::to_string(compensation_attempts) + " times";
        attention = "NEEDS_ATTENTION: " + why;
        deadline_ms = 0;
        enter(State::kNeedsAttention, now, fx, why);
        fx.alert = true;
      } else {
        retry_compensation(now, fx);
      }
      break;
    case Awaiting::kNone:
      break;
  }
  return fx;
}

std::int64_t Saga::compensation_backoff_ms() const {
  int n = std::max(compensation_attempts, 1);
  std::int64_t factor = std::min<std::int64_t>(std::int64_t{1} << std::min(n - 1, 20), kCompensationBackoffCap);
  std::int64_t base = step_timeout_ms * factor;
  std::uint64_t h = 1469598103934665603ULL;  // FNV-1a of the order id and the attempt
  for (char c : order_id) h = (h ^ static_cast<unsigned char>(c)) * 1099511628211ULL;
  h = (h ^ static_cast<std::uint64_t>(n)) * 1099511628211ULL;
  return base + static_cast<std::int64_t>(h % static_cast<std::uint64_t>(base / 10 + 1));
}

// Sends the awaited compensation step again; its deadline is the backoff's.
void Saga::retry_compensation(std::int64_t now, Effects& fx) {
  Command c = awaiting == Awaiting::kCancelFulfillment ? Command::kCancelFulfillment
              : awaiting == Awaiting::kRefund          ? Command::kRefund
                                                       : Command::kRelease;
  ++compensation_attempts;
  send(c, awaiting, now, fx);
  deadline_ms = now + compensation_backoff_ms();
}

Result<Effects> Saga::retry(const std::string& by, std::int64_t now) {
  if (state != State::kNeedsAttention) return fail(Errc::kConflict, "the saga does not need attention");
  Effects fx;
  attention.reset();
  compensation_attempts = 0;
  enter(State::kCompensating, now, fx, "retry by " + by);
  retry_compensation(now, fx);
  return fx;
}

Result<Effects> Saga::resolve(const std::string& by, const std::string& note, std::int64_t now) {
  if (state != State::kNeedsAttention) return fail(Errc::kConflict, "the saga does not need attention");
  Effects fx;
  // The failed step was settled by hand; the steps after it (if any) run as usual, so that
  // nothing is left half undone (a refund settled by hand still releases the stock).
  switch (awaiting) {
    case Awaiting::kCancelFulfillment:
      if (fulfillment_status) fulfillment_status = "CANCELLED";
      fulfillment_uncertain = false;
      break;
    case Awaiting::kRefund:
      payment_status = "REFUNDED";
      payment_uncertain = false;
      break;
    case Awaiting::kRelease:
      inventory_status = "RELEASED";
      inventory_uncertain = false;
      break;
    default: break;
  }
  attention.reset();
  enter(State::kCompensating, now, fx, "resolved by " + by + ": " + note);
  next_compensation(now, fx);
  return fx;
}

}  // namespace oms::saga::domain
