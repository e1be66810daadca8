#pragma once
// The message bus port. Adapters: InProcBus (embedded mode) and, in distributed mode, JetStream.
//
// Delivery is at least once; effects are exactly once because every consumer records the message
// id in its inbox in the same transaction as the effect (see consumer.h).
#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <vector>

#include "libs/storage/database.h"

namespace oms::bus {

struct Message {
  std::string id;  // UUID; the de-duplication key end to end
  std::string subject;
  std::string payload;  // JSON
  std::int64_t created_ms = 0;
  std::string request_id = {};  // the request that caused it (for the logs); may be empty
};

// Handles a batch of delivered messages inside the consumer's one transaction, in delivery
// order; messages this consumer has handled before are already filtered out. A batch handler
// loads what the whole batch names at once, applies each message in order and writes once.
// Throwing rolls the batch back; the consumer then runs each message alone, in a savepoint, so
// only the failing one is redelivered (see consumer.h).
using BatchHandler = std::function<void(std::span<const Message* const>, storage::Tx&)>;

// Handles one message inside the consumer's transaction (throwing: as above).
using MessageHandler = std::function<void(const Message&, storage::Tx&)>;

// A batch handler that runs `h` for each message in turn, with the message's request id in its
// logs: for consumers whose messages are rare enough not to need a batch of their own.
BatchHandler each(MessageHandler h);

struct Subscription {
  std::string consumer;               // durable name, e.g. "saga"
  std::vector<std::string> subjects;  // exact subjects
  storage::Database* db = nullptr;    // the consumer service's own database
  BatchHandler handler;
};

class Bus {
 public:
  virtual ~Bus() = default;
  virtual void subscribe(Subscription sub) = 0;
  // `done(true)` once every message of the batch is durable downstream: handled and committed by
  // every subscriber (in-process), or acknowledged by the broker (JetStream). `done(false)` means
  // try again later. May be called from another thread.
  virtual void publish(std::vector<Message> batch, std::function<void(bool)> done) = 0;
  // Whether publish() only hands the batch over and returns at once (the in-process bus
  // enqueues), so that a committing thread may call it (ADR 9). A bus that waits for a broker
  // (JetStream waits for its acknowledgements, up to seconds while the broker is slow) keeps
  // publishing on the relay's own thread: a request never waits for the broker.
  virtual bool publish_returns_at_once() const { return false; }
  virtual void start() = 0;
  // Stops delivering; messages not yet handled stay in their producers' outboxes.
  virtual void stop() = 0;
  // True when nothing is queued or being handled (used to drain on shutdown and in tests).
  virtual bool idle() const = 0;
};

}  // namespace oms::bus
