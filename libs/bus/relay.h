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
// Threads: the relay owns one, and borrows the committing thread. notify() is the database's
// commit listener: with a bus whose publish returns at once (in-process), it publishes the new
// rows right there, on the thread that committed them (one thread hand-off fewer per message),
// unless another thread is publishing at that moment, in which case that one goes round again;
// with a bus that waits for a broker (JetStream), it wakes the relay thread, which publishes. The relay's own thread retires acknowledged batches,
// deletes published rows, refills a full window when the bus acknowledges, retries after
// failures, prunes the inbox, and polls in case a notify was missed.
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
  void notify();  // new rows were committed (any thread)
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
  // One pass: settle, then publish what fits in the window; true if it did anything. Callers
  // hold pass_mu_.
  bool pass();
  void wake();           // the relay's own thread: go round once more
  void reset_after_failure();
  bool fill_window();    // publishes new rows while the window has room; true if it sent any
  bool settle();         // retires acknowledged batches in order; true if any
  void flush_deletes(bool force);

  storage::Database& db_;
  Bus& bus_;
  std::string name_;
  int max_batch_;
  std::size_t window_;
  std::mutex pass_mu_;  // whoever holds it runs passes (the relay thread or a committing thread)
  std::atomic<bool> again_{false};  // rows committed while a pass was running: run another
  std::atomic<std::size_t> in_flight_count_{0};
  std::mutex mu_;
  std::condition_variable cv_;
  bool wake_ = false;
  std::atomic<bool> stopping_{false};
  std::atomic<bool> idle_{false};
  std::atomic<std::uint64_t> published_{0};
  std::thread thread_;
  // Under pass_mu_:
  int failures_ = 0;
  std::deque<std::shared_ptr<InFlight>> in_flight_;
  long long read_cursor_ = 0;   // highest sequence number handed to the bus
  long long acked_cursor_ = 0;  // every row up to here is durable downstream (SQLite)
  std::size_t unflushed_ = 0;   // acknowledged rows not yet deleted
  std::function<void(std::size_t)> on_published_;
  std::chrono::steady_clock::time_point next_prune_ = std::chrono::steady_clock::now() + kPruneEvery;
};

}  // namespace oms::bus
