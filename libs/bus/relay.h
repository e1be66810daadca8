#pragma once
// The outbox relay of one database: publishes committed outbox rows in order, in batches, and
// deletes them only after the bus reports them durable downstream. A crash between publish and
// delete re-publishes (the consumers' inboxes drop the duplicates); nothing is ever lost.
//
// Threads: one, owned by the relay. notify() may be called from any thread (the database's
// commit listener), and wakes it at once; it also polls, in case a notify was missed.
#include <atomic>
#include <condition_variable>
#include <mutex>
#include <thread>

#include "libs/bus/bus.h"
#include "libs/storage/database.h"

namespace oms::bus {

class Relay {
 public:
  Relay(storage::Database& db, Bus& bus, std::string name, int max_batch = 1024);
  ~Relay();
  void start();
  void stop();
  void notify();
  bool idle() const { return idle_.load(); }
  std::uint64_t published() const { return published_.load(); }

 private:
  void run();
  std::size_t publish_once();  // returns how many rows it published

  storage::Database& db_;
  Bus& bus_;
  std::string name_;
  int max_batch_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool wake_ = false;
  std::atomic<bool> stopping_{false};
  std::atomic<bool> idle_{false};
  std::atomic<std::uint64_t> published_{0};
  std::thread thread_;
};

}  // namespace oms::bus
