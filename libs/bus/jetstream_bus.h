#pragma once
// The distributed-mode bus: NATS JetStream (cnats). One file-storage stream `OMS` holds every
// subject as `oms.<subject>`. publish() sends a batch with async publishes, each with
// `Nats-Msg-Id` = message id (the broker's de-duplication is a second fence; the inbox is the
// first), and reports success only once every PubAck is in. Every (consumer, subject) pair is a
// durable pull consumer with explicit acks, shared by all replicas of the consumer service: a
// batch is handled in one transaction of the consumer's database (consumer.h), then acked; a
// message whose handler fails is nak'ed with backoff, and after kMaxAttempts deliveries it goes
// to the dead letters. A batch whose transaction fails as a whole (the database is down) is kept
// and tried again in place, marked in progress so that JetStream neither redelivers it nor
// counts it towards the dead letters: the database, not the message, is the problem.
//
// NATS may be down at start and may go away at any time: the connection retries forever, the
// stream and the consumers are created (if missing) once it is reachable, and connected()
// reports the state for /readyz.
//
// Threads: publish() on the caller's thread (one at a time); one fetch thread per
// (consumer, subject); cnats' own threads for reconnects and PubAcks.
#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "libs/bus/bus.h"

namespace oms::bus {

class JetStreamBus final : public Bus {
 public:
  // urls: comma-separated nats:// URLs. replicas: the stream's replication factor (a NATS cluster).
  explicit JetStreamBus(std::string urls, int replicas = 1, std::string stream = "OMS");
  ~JetStreamBus() override;

  // Starts connecting (returns at once; retries in the background when NATS is not up yet).
  // Throws only on a configuration error, such as a malformed URL.
  void connect();
  // Stops and closes the connection (bounded: see the .cpp). The destructor does it too.
  void close();
  // True while the connection to NATS is up and the stream exists.
  bool connected() const;
  // Called (on a fetch thread) whenever a message is moved to the dead letters (metrics).
  void on_dead_letter(std::function<void()> f);
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
