#pragma once
// Every command and event that crosses a service boundary: its subject and its JSON form.
// Services depend on this module, never on each other. Field names are the JSON names; money is
// always integer minor units; times are epoch milliseconds. Adding a field is compatible only if
// it is std::optional (an old producer omits it; decode() of this version and later also ignores
// fields it does not know); renaming or removing one is not. Versions before 2026-11-29 refuse
// unknown fields: roll consumers out before producers (docs/OPERATIONS.md "Upgrades").
#include <boost/describe.hpp>
#include <boost/json.hpp>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

namespace oms::contracts {

struct Line {
  std::string productId;
  std::int64_t quantity;
  std::int64_t priceMinor;
};
BOOST_DESCRIBE_STRUCT(Line, (), (productId, quantity, priceMinor))

// ---- order service ----
struct OrderCreated {
  static constexpr std::string_view kSubject = "order.created";
  std::string orderId, userId, customerEmail;
  std::vector<Line> items;
  std::int64_t amountMinor;
  std::string currency;
};
BOOST_DESCRIBE_STRUCT(OrderCreated, (), (orderId, userId, customerEmail, items, amountMinor, currency))

// `cancelSeq` counts the cancels the order service accepted for this order; the saga echoes the
// highest it has seen, so the order knows whether an update was written before or after it.
struct OrderCancelRequested {
  static constexpr std::string_view kSubject = "order.cancel_requested";
  std::string orderId;
  std::optional<std::string> reason;
  std::int64_t cancelSeq;
};
BOOST_DESCRIBE_STRUCT(OrderCancelRequested, (), (orderId, reason, cancelSeq))

// ---- inventory ----
struct ReserveInventory {
  static constexpr std::string_view kSubject = "inventory.reserve";
  std::string orderId;
  std::vector<Line> items;
  std::optional<std::string> currency;  // the order's; absent in messages of before (then USD)
};
BOOST_DESCRIBE_STRUCT(ReserveInventory, (), (orderId, items, currency))

struct ReleaseInventory {
  static constexpr std::string_view kSubject = "inventory.release";
  std::string orderId;
};
BOOST_DESCRIBE_STRUCT(ReleaseInventory, (), (orderId))

struct InventoryReserved {
  static constexpr std::string_view kSubject = "inventory.reserved";
  std::string orderId;
};
BOOST_DESCRIBE_STRUCT(InventoryReserved, (), (orderId))

struct InventoryRejected {
  static constexpr std::string_view kSubject = "inventory.rejected";
  std::string orderId, reason;
};
BOOST_DESCRIBE_STRUCT(InventoryRejected, (), (orderId, reason))

struct InventoryReleased {
  static constexpr std::string_view kSubject = "inventory.released";
  std::string orderId;
};
BOOST_DESCRIBE_STRUCT(InventoryReleased, (), (orderId))

// ---- payment ----
struct AuthorizePayment {
  static constexpr std::string_view kSubject = "payment.authorize";
  std::string orderId;
  std::int64_t amountMinor;
  std::string currency;
  std::optional<std::string> ownerId = {};  // who may see the payment (the order's user)
};
BOOST_DESCRIBE_STRUCT(AuthorizePayment, (), (orderId, amountMinor, currency, ownerId))

struct RefundPayment {
  static constexpr std::string_view kSubject = "payment.refund";
  std::string orderId;
};
BOOST_DESCRIBE_STRUCT(RefundPayment, (), (orderId))

struct PaymentCompleted {
  static constexpr std::string_view kSubject = "payment.completed";
  std::string orderId, paymentId, transactionId;
};
BOOST_DESCRIBE_STRUCT(PaymentCompleted, (), (orderId, paymentId, transactionId))

struct PaymentFailed {
  static constexpr std::string_view kSubject = "payment.failed";
  std::string orderId, reason;
};
BOOST_DESCRIBE_STRUCT(PaymentFailed, (), (orderId, reason))

// A refund, by compensation or by hand (`manual`). `captured` is false when no money had been
// taken (the refund fenced off a payment that never completed).
struct PaymentRefunded {
  static constexpr std::string_view kSubject = "payment.refunded";
  std::string orderId;
  bool manual;
  bool captured;
};
BOOST_DESCRIBE_STRUCT(PaymentRefunded, (), (orderId, manual, captured))

// ---- fulfillment ----
struct CreateFulfillment {
  static constexpr std::string_view kSubject = "fulfillment.create";
  std::string orderId;
  std::optional<std::string> ownerId = {};  // who may see the shipment (the order's user)
};
BOOST_DESCRIBE_STRUCT(CreateFulfillment, (), (orderId, ownerId))

struct CancelFulfillment {
  static constexpr std::string_view kSubject = "fulfillment.cancel";
  std::string orderId;
};
BOOST_DESCRIBE_STRUCT(CancelFulfillment, (), (orderId))

struct FulfillmentCreated {
  static constexpr std::string_view kSubject = "fulfillment.created";
  std::string orderId, taskId;
};
BOOST_DESCRIBE_STRUCT(FulfillmentCreated, (), (orderId, taskId))

struct FulfillmentCancelled {
  static constexpr std::string_view kSubject = "fulfillment.cancelled";
  std::string orderId;
};
BOOST_DESCRIBE_STRUCT(FulfillmentCancelled, (), (orderId))

struct FulfillmentCancelRejected {
  static constexpr std::string_view kSubject = "fulfillment.cancel_rejected";
  std::string orderId, reason;
};
BOOST_DESCRIBE_STRUCT(FulfillmentCancelRejected, (), (orderId, reason))

struct ShipmentDispatched {
  static constexpr std::string_view kSubject = "fulfillment.dispatched";
  std::string orderId, trackingNumber;
};
BOOST_DESCRIBE_STRUCT(ShipmentDispatched, (), (orderId, trackingNumber))

struct ShipmentDelivered {
  static constexpr std::string_view kSubject = "fulfillment.delivered";
  std::string orderId;
};
BOOST_DESCRIBE_STRUCT(ShipmentDelivered, (), (orderId))

// ---- saga orchestrator: the order's view of the saga, after every transition ----
struct SagaUpdated {
  static constexpr std::string_view kSubject = "saga.updated";
  std::string orderId, customerEmail;
  std::string state;        // saga state
  std::string orderStatus;  // PENDING | COMPLETED | FAILED | CANCELLED
  std::string paymentStatus, inventoryStatus;
  std::optional<std::string> fulfillmentStatus, reason;
  bool cancelRequested;
  std::int64_t cancelSeq;  // the highest OrderCancelRequested.cancelSeq the saga has seen
  std::int64_t version;  // increases with every transition: stale updates are ignored
  std::int64_t atMs;
  std::int64_t amountMinor;
  std::string currency;
};
BOOST_DESCRIBE_STRUCT(SagaUpdated, (),
                      (orderId, customerEmail, state, orderStatus, paymentStatus, inventoryStatus,
                       fulfillmentStatus, reason, cancelRequested, cancelSeq, version, atMs, amountMinor,
                       currency))

// A saga entered NEEDS_ATTENTION: the operators are told (the notification service).
struct OperatorAlert {
  static constexpr std::string_view kSubject = "saga.alert";
  std::string orderId, reason;
};
BOOST_DESCRIBE_STRUCT(OperatorAlert, (), (orderId, reason))

// The saga reached COMPLETED, FAILED or CANCELLED (what the customer is told about).
struct SagaOutcome {
  static constexpr std::string_view kSubject = "saga.outcome";
  std::string orderId, customerEmail, state;
  std::optional<std::string> reason;
  std::optional<std::string> ownerId = {};  // who may see the notification (the order's user)
};
BOOST_DESCRIBE_STRUCT(SagaOutcome, (), (orderId, customerEmail, state, reason, ownerId))

template <class T>
std::string encode(const T& m) {
  return boost::json::serialize(boost::json::value_from(m));
}

namespace detail {
template <class T>
struct is_optional : std::false_type {};
template <class U>
struct is_optional<std::optional<U>> : std::true_type {};
template <class T>
struct vector_of : std::false_type {};
template <class U>
struct vector_of<std::vector<U>> : std::true_type {
  using type = U;
};

// Makes a message written by another version fit T: members T does not know are dropped (a newer
// producer), std::optional members the message lacks are added as null (an older producer), in
// nested messages too. Boost.JSON (1.81) refuses a described struct unless its keys match exactly.
template <class T>
void fit(boost::json::value& v) {
  if constexpr (boost::describe::has_describe_members<T>::value) {
    auto* o = v.if_object();
    if (!o) return;
    using Ds = boost::describe::describe_members<T, boost::describe::mod_public>;
    for (auto it = o->begin(); it != o->end();) {
      bool known = false;
      boost::mp11::mp_for_each<Ds>([&](auto d) { known = known || it->key() == d.name; });
      it = known ? std::next(it) : o->erase(it);
    }
    boost::mp11::mp_for_each<Ds>([o](auto d) {
      using M = std::remove_cvref_t<decltype(std::declval<T&>().*d.pointer)>;
      auto* member = o->if_contains(d.name);
      if constexpr (is_optional<M>::value) {
        if (!member) o->emplace(d.name, nullptr);
      } else if constexpr (vector_of<M>::value) {
        if (member && member->is_array())
          for (auto& e : member->get_array()) fit<typename vector_of<M>::type>(e);
      } else if (member) {
        fit<M>(*member);
      }
    });
  }
}
}  // namespace detail

// Decodes a message, whichever version of the contracts wrote it (detail::fit): the
// compatibility rule at the top of this file, in both directions.
template <class T>
T decode(std::string_view payload) {
  boost::json::value v = boost::json::parse(payload);
  detail::fit<T>(v);
  return boost::json::value_to<T>(v);
}

// Writes the message to a transaction's outbox (storage::Tx, or anything with the same publish):
// the contracts know the messages, not where they are stored.
template <class Outbox, class T>
std::string emit(Outbox& tx, const T& m) {
  return tx.publish(T::kSubject, encode(m));
}

}  // namespace oms::contracts
