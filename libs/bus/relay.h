#pragma once
// The outbox relay of one database: publishes committed outbox rows in order, in batches, and
// deletes them only after the bus reports them durable downstream. A crash between publish and
// delete re-publishes (the consumers' inboxes drop the duplicates); nothing is ever lost.
//
// On SQLite (one writer, so sequence numbers commit in order) the relay keeps several batches in
// flight and deletes acknowledged rows lazily by sequence range; on PostgreSQL, where a lower
// sequence number can commit after a higher one, it publishes one batch at a time and deletes
// exactly the rows it published.
//
// Threads: one, owned by the relay. notify() may be called from any thread (the database's
// commit listener) and wakes it at once; it also polls, in case a notify was missed.
#include <atomic>
#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <thread>

#include "libs/bus/bus.h"
#include "libs/storage/database.h"

namespace oms::bus {

class Relay {
 public:
  Relay(storage::Database& db, Bus& bus, std::string name, int max_batch = 1024, int window = 8);
  ~Relay();
  void start();
  void stop();
  void notify();
  bool idle() const { return idle_.load(); }
  std::uint64_t published() const { return published_.load(); }
  // Called on the relay thread with the number of rows the bus acknowledged (metrics).
  void on_published(std::function<void(std::size_t)> f) { on_published_ = std::move(f); }

 private:
  struct InFlight {
    std::vector<long long> seqs;
    std::atomic<int> state{0};  // 0 pending, 1 acknowledged, -1 failed
  };

  static constexpr std::chrono::milliseconds kQuietBeforeDelete{250};
  // Inbox rows are kept one day longer than the stream keeps messages (deploy/nats.conf, ADR 6:
  // 7 days), then pruned a chunk a minute by this thread.
  static constexpr std::chrono::hours kInboxRetention{24 * 8};
  static constexpr std::chrono::seconds kPruneEvery{60};
  void run();
  bool fill_window();    // publishes new rows while the window has room; true if it sent any
  bool settle();         // retires acknowledged batches in order; true if any
  void flush_deletes(bool force);

  storage::Database& db_;
  Bus& bus_;
  std::string name_;
  int max_batch_;
  std::size_t window_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool wake_ = false;
  std::atomic<bool> stopping_{false};
  std::atomic<bool> idle_{false};
  std::atomic<std::uint64_t> published_{0};
  std::thread thread_;
  // Relay thread only:
  std::deque<std::shared_ptr<InFlight>> in_flight_;
  long long read_cursor_ = 0;   // highest sequence number handed to the bus
  long long acked_cursor_ = 0;  // every row up to here is durable downstream (SQLite)
  std::size_t unflushed_ = 0;   // acknowledged rows not yet deleted
  std::function<void(std::size_t)> on_published_;
  std::chrono::steady_clock::time_point next_prune_ = std::chrono::steady_clock::now() + kPruneEvery;
};

}  // namespace oms::bus
