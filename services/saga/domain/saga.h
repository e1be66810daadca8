#pragma once
// The order saga as a pure state machine: no I/O, no SQL, no JSON. Each input (a participant's
// reply, a cancel request, a timer tick) is one method; it changes the saga and returns the
// effects — commands to send and history rows to record — which the adapter writes in the same
// transaction as the new state (DESIGN.md, "The order saga").
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "libs/core/error.h"

namespace oms::saga::domain {

enum class State {
  kStarted,
  kInventoryRequested,
  kInventoryReserved,
  kPaymentRequested,
  kPaymentCompleted,
  kFulfillmentRequested,
  kCompleted,
  kCompensating,
  kFailed,
  kCancelled,
  // A compensation step failed past its retry bound: nothing is retried until an admin says
  // retry or resolve (API.md, "Saga"). Not terminal.
  kNeedsAttention,
};

// How often a compensation step is sent before the saga needs attention, and how the wait
// between two sends grows: step timeout × 2^(n-1), at most × kCompensationBackoffCap, plus up to
// 10 % jitter (derived from the order id, so that sagas that failed together spread out).
inline constexpr int kCompensationAttempts = 5;
inline constexpr int kCompensationBackoffCap = 8;

// The reply the saga is waiting for (at most one at a time).
enum class Awaiting { kNone, kInventory, kPayment, kFulfillment, kCancelFulfillment, kRefund, kRelease };

enum class Command { kReserve, kAuthorize, kCreateFulfillment, kCancelFulfillment, kRefund, kRelease };

std::string_view to_string(State s);
std::optional<State> parse_state(std::string_view s);
std::string_view to_string(Awaiting a);
std::optional<Awaiting> parse_awaiting(std::string_view s);
bool is_terminal(State s);

struct Item {
  std::string product_id;
  std::int64_t quantity = 0;
  std::int64_t price_minor = 0;
};

struct HistoryEntry {
  State state;
  std::int64_t at_ms;
  std::optional<std::string> detail;
};

struct Effects {
  std::vector<Command> commands;
  std::vector<HistoryEntry> history;
  bool changed = false;                // the saga must be saved and the order told
  std::optional<State> reached;        // a terminal state reached by this input
  std::optional<std::string> ignored;  // why the input was ignored (logged)
  bool alert = false;                  // entered NEEDS_ATTENTION: tell the operators
};

class Saga {
 public:
  // A new saga for a created order: records STARTED and asks inventory first.
  static Saga start(std::string order_id, std::string customer_email, std::int64_t amount_minor,
                    std::string currency, std::vector<Item> items, std::int64_t now_ms,
                    std::int64_t step_timeout_ms, Effects& fx);

  Effects on_inventory_reserved(std::int64_t now);
  Effects on_inventory_rejected(const std::string& reason, std::int64_t now);
  Effects on_inventory_released(std::int64_t now);
  Effects on_payment_completed(std::int64_t now);
  Effects on_payment_failed(const std::string& reason, std::int64_t now);
  Effects on_payment_refunded(bool manual, bool captured, std::int64_t now);
  Effects on_fulfillment_created(std::int64_t now);
  Effects on_fulfillment_cancelled(std::int64_t now);
  Effects on_fulfillment_cancel_rejected(const std::string& reason, std::int64_t now);
  Effects on_shipment_dispatched(std::int64_t now);
  Effects on_shipment_delivered(std::int64_t now);
  // `seq` is the order service's count of accepted cancels (echoed to it in every update).
  Effects on_cancel_requested(const std::optional<std::string>& reason, std::int64_t now,
                              std::int64_t seq = 0);
  // The timer: a waiting step past its deadline fails the saga (forward step) or is retried
  // with backoff (compensation step), up to kCompensationAttempts; then NEEDS_ATTENTION.
  Effects on_tick(std::int64_t now);
  // An admin's answers to NEEDS_ATTENTION (kConflict in any other state): send the failed step
  // again, or record that it was settled by hand and go on to where the saga was heading (the
  // steps after the failed one run as usual).
  Result<Effects> retry(const std::string& by, std::int64_t now);
  Result<Effects> resolve(const std::string& by, const std::string& note, std::int64_t now);

  // The order's view: its status, and the reason it shows (why it needs attention, if it does).
  std::string_view order_status() const;
  const std::optional<std::string>& shown_reason() const { return attention ? attention : reason; }

  // Persisted fields (public: the repository reads and writes them; only the methods above
  // change them in the application).
  std::string order_id, customer_email, currency;
  std::optional<std::string> owner_id;  // the order's user (none for sagas started before owners were kept)
  std::int64_t amount_minor = 0;
  std::vector<Item> items;
  State state = State::kStarted;
  Awaiting awaiting = Awaiting::kNone;
  std::string inventory_status = "PENDING";  // PENDING | RESERVED | RELEASED | FAILED
  std::string payment_status = "PENDING";    // PENDING | COMPLETED | FAILED | REFUNDED | SKIPPED
  std::optional<std::string> fulfillment_status;  // INITIATED | DISPATCHED | DELIVERED | CANCELLED
  bool cancel_requested = false;
  std::int64_t cancel_seq = 0;  // highest cancel sequence seen
  bool completed_once = false;  // was COMPLETED before a cancel started compensating
  std::optional<std::string> reason;
  // Steps that timed out: they may have taken effect, so they are compensated regardless.
  bool inventory_uncertain = false, payment_uncertain = false, fulfillment_uncertain = false;
  std::int64_t deadline_ms = 0;  // 0: not waiting
  int compensation_attempts = 0;          // sends of the compensation step awaited now
  std::optional<std::string> attention;   // why it needs attention (NEEDS_ATTENTION only)
  std::int64_t step_timeout_ms = 30000;
  std::int64_t version = 0;
  std::int64_t created_ms = 0, updated_ms = 0;

 private:
  void enter(State s, std::int64_t now, Effects& fx, std::optional<std::string> detail = {});
  void send(Command c, Awaiting a, std::int64_t now, Effects& fx);
  void compensate(std::int64_t now, Effects& fx, std::string why);
  void next_compensation(std::int64_t now, Effects& fx);
  void retry_compensation(std::int64_t now, Effects& fx);
  std::int64_t compensation_backoff_ms() const;
  Effects ignore(std::string why) const;
  Effects decide_cancel(const std::optional<std::string>& why, std::int64_t now);
  void touch(std::int64_t now, Effects& fx);
};

}  // namespace oms::saga::domain
