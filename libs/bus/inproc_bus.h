#pragma once
// The embedded-mode bus: every subscription gets a queue and a thread that handles batches of
// messages in one transaction of the subscriber's database (consumer.h). A publish completes
// when every subscriber has committed every message of the batch; until then the messages stay
// in the producer's outbox, so a crash re-publishes them and the inboxes skip what was done.
//
// Threads: one per subscription (owns its queue's consumption); publish() may be called from
// any thread; `done` callbacks run on subscriber threads.
#include <atomic>
#include <condition_variable>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <thread>

#include "libs/bus/bus.h"

namespace oms::bus {

class InProcBus final : public Bus {
 public:
  explicit InProcBus(std::size_t max_batch = 128) : max_batch_(max_batch) {}
  ~InProcBus() override;

  void subscribe(Subscription sub) override;
  void publish(std::vector<Message> batch, std::function<void(bool)> done) override;
  bool publish_returns_at_once() const override { return true; }
  void start() override;
  void stop() override;
  bool idle() const override;
  // Called after a message was moved to a dead-letter store (metrics).
  void on_dead_letter(std::function<void()> f) { on_dead_letter_ = std::move(f); }

 private:
  struct Pending {
    std::atomic<int> remaining{0};
    std::function<void(bool)> done;
  };
  struct Delivery {
    std::shared_ptr<const Message> msg;
    std::shared_ptr<Pending> pending;
    int attempts = 0;
    std::int64_t not_before_ms = 0;
  };
  struct Consumer {
    Subscription sub;
    std::mutex mu;
    std::condition_variable cv;
    std::deque<Delivery> queue;
    std::deque<Delivery> retries;  // failed deliveries waiting for their backoff
    std::atomic<int> busy{0};
    int batch_failures = 0;  // whole-transaction failures in a row (consumer thread only)
    std::thread thread;
  };

  void run(Consumer& c);
  static void ack(Delivery& d);

  std::size_t max_batch_;
  std::vector<std::unique_ptr<Consumer>> consumers_;
  std::map<std::string, std::vector<Consumer*>> by_subject_;
  std::atomic<bool> stopping_{false};
  bool started_ = false;
  std::function<void()> on_dead_letter_;
};

}  // namespace oms::bus
