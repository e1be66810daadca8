// Message decoding (libs/contracts/messages.h): any payload, as any message type, decodes or
// throws — never crashes; what decodes encodes and decodes to the same text.
#include <cstdint>
#include <cstdlib>
#include <exception>
#include <string>
#include <string_view>

#include "libs/contracts/messages.h"

namespace c = oms::contracts;

namespace {
template <class T>
void one(std::string_view payload) {
  try {
    T m = c::decode<T>(payload);
    std::string text = c::encode(m);
    if (c::encode(c::decode<T>(text)) != text) std::abort();
  } catch (const std::exception&) {  // not this message: the consumer dead-letters it
  }
}

template <class... T>
void by_index(unsigned i, std::string_view payload) {
  unsigned n = 0;
  ((i % sizeof...(T) == n++ ? one<T>(payload) : void()), ...);
}
}  // namespace

// The first byte picks the message type, the rest is its payload.
extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  std::string_view payload(reinterpret_cast<const char*>(data) + 1, size - 1);
  by_index<c::OrderCreated, c::OrderCancelRequested, c::ReserveInventory, c::ReleaseInventory, c::InventoryReserved,
           c::InventoryRejected, c::InventoryReleased, c::AuthorizePayment, c::RefundPayment, c::PaymentCompleted,
           c::PaymentFailed, c::PaymentRefunded, c::CreateFulfillment, c::CancelFulfillment, c::FulfillmentCreated,
           c::FulfillmentCancelled, c::FulfillmentCancelRejected, c::ShipmentDispatched, c::ShipmentDelivered,
           c::SagaUpdated, c::OperatorAlert, c::SagaOutcome>(data[0], payload);
  return 0;
}
