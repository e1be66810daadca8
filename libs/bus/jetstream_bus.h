#pragma once
// The distributed-mode bus: NATS JetStream (cnats). One file-storage stream `OMS` holds every
// subject as `oms.<subject>`. publish() waits for each message's PubAck and sets `Nats-Msg-Id`
// to the message id (the broker's de-duplication is a second fence; the inbox is the first).
// Every (consumer, subject) pair is a durable pull consumer with explicit acks: a batch is
// handled in one transaction of the consumer's database (consumer.h), then acked; a failure is
// nak'ed with backoff, and after kMaxAttempts deliveries the message goes to the dead letters.
//
// Threads: publish() on the caller's thread; one fetch thread per (consumer, subject).
#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "libs/bus/bus.h"

namespace oms::bus {

class JetStreamBus final : public Bus {
 public:
  explicit JetStreamBus(std::string urls, std::string stream = "OMS");
  ~JetStreamBus() override;

  // Connects and creates the stream if missing; throws when NATS cannot be reached.
  void connect();
  void subscribe(Subscription sub) override;
  void publish(std::vector<Message> batch, std::function<void(bool)> done) override;
  void start() override;
  void stop() override;
  bool idle() const override;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace oms::bus
