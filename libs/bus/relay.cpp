#include "libs/bus/relay.h"

#include "libs/core/clock.h"
#include "libs/core/log.h"
#include "libs/storage/row.h"

namespace oms::bus {

Relay::Relay(storage::Database& db, Bus& bus, std::string name, int max_batch, int window)
    : db_(db), bus_(bus), name_(std::move(name)), max_batch_(max_batch),
      window_(db.is_sqlite() ? static_cast<std::size_t>(window) : 1) {}

Relay::~Relay() { stop(); }

void Relay::start() {
  thread_ = std::thread([this] { run(); });
}

void Relay::stop() {
  stopping_ = true;
  notify();
  if (thread_.joinable()) thread_.join();
}

void Relay::notify() {
  {
    std::lock_guard lock(mu_);
    wake_ = true;
  }
  cv_.notify_one();
}

void Relay::run() {
  int failures = 0;
  auto last_progress = std::chrono::steady_clock::now();
  while (!stopping_) {
    bool progress = false;
    try {
      progress = settle();
      progress = fill_window() || progress;
      // Published rows are deleted many at a time (settle), or once the relay has been quiet for
      // a moment: never on the path of the next message.
      auto now = std::chrono::steady_clock::now();
      if (progress) last_progress = now;
      else if (in_flight_.empty() && now - last_progress >= kQuietBeforeDelete) flush_deletes(true);
      if (!progress && now >= next_prune_) {
        next_prune_ = now + kPruneEvery;
        auto retention = std::chrono::duration_cast<std::chrono::milliseconds>(kInboxRetention).count();
        if (long long n = db_.prune_inbox(now_ms() - retention))
          log::info({name_}, "forgot " + std::to_string(n) + " inbox rows older than the stream's retention");
      }
      failures = 0;
    } catch (const std::exception& e) {
      ++failures;
      log::error({name_}, std::string("relay: ") + e.what());
      // Start over from the last acknowledged row: re-publishing is safe (inbox de-duplication).
      in_flight_.clear();
      read_cursor_ = acked_cursor_;
    }
    idle_ = failures == 0 && in_flight_.empty() && !progress;
    if (progress) continue;
    std::unique_lock lock(mu_);
    auto wait = failures ? std::chrono::milliseconds(std::min(2000, 100 << std::min(failures, 4)))
                : !in_flight_.empty() ? std::chrono::milliseconds(20)
                : unflushed_ ? std::chrono::duration_cast<std::chrono::milliseconds>(kQuietBeforeDelete)
                             : std::chrono::milliseconds(200);
    cv_.wait_for(lock, wait, [&] { return wake_ || stopping_.load(); });
    wake_ = false;
  }
  // A clean stop leaves no published row behind.
  try {
    if (in_flight_.empty()) flush_deletes(true);
  } catch (const std::exception& e) {
    log::warn({name_}, std::string("relay: deleting published rows at stop: ") + e.what());
  }
}

bool Relay::fill_window() {
  bool sent = false;
  bool by_cursor = db_.is_sqlite();
  while (in_flight_.size() < window_) {
    long long after = by_cursor ? read_cursor_ : 0;
    std::vector<Message> batch;
    auto flight = std::make_shared<InFlight>();
    db_.read([&](soci::session& s) {
      soci::rowset<soci::row> rows =
          (s.prepare << "SELECT seq, id, subject, payload, created_ms, request_id FROM outbox"
                        " WHERE seq > :after ORDER BY seq LIMIT :n",
           soci::use(after, "after"), soci::use(max_batch_, "n"));
      for (const auto& r : rows) {
        flight->seqs.push_back(storage::get_int(r, 0));
        batch.push_back(Message{storage::get_str(r, 1), storage::get_str(r, 2), storage::get_str(r, 3),
                                storage::get_int(r, 4), storage::get_str(r, 5)});
      }
    });
    if (batch.empty()) break;
    read_cursor_ = flight->seqs.back();
    in_flight_.push_back(flight);
    sent = true;
    // The callback runs on a consumer thread and may outlive the relay's interest in it.
    std::weak_ptr<InFlight> weak = flight;
    bus_.publish(std::move(batch), [this, weak](bool ok) {
      if (auto f = weak.lock()) f->state = ok ? 1 : -1;
      notify();
    });
  }
  return sent;
}

bool Relay::settle() {
  bool any = false;
  while (!in_flight_.empty() && in_flight_.front()->state.load() != 0) {
    auto f = in_flight_.front();
    if (f->state.load() < 0) throw std::runtime_error("bus did not accept a batch");
    in_flight_.pop_front();
    published_ += f->seqs.size();
    if (on_published_) on_published_(f->seqs.size());
    any = true;
    if (db_.is_sqlite()) {
      // Deleted lazily, many at a time: a crash before the delete only re-publishes them.
      acked_cursor_ = f->seqs.back();
      unflushed_ += f->seqs.size();
      flush_deletes(false);
    } else {
      std::string in;
      for (auto s : f->seqs) in += (in.empty() ? "" : ",") + std::to_string(s);
      db_.write_lazy([&](storage::Tx& tx) { tx.sql << "DELETE FROM outbox WHERE seq IN (" + in + ")"; });
    }
  }
  return any;
}

void Relay::flush_deletes(bool force) {
  if (unflushed_ == 0 || (!force && unflushed_ < 4096)) return;
  long long upto = acked_cursor_;
  db_.write_lazy([&](storage::Tx& tx) { tx.sql << "DELETE FROM outbox WHERE seq <= :upto", soci::use(upto, "upto"); });
  unflushed_ = 0;
}

}  // namespace oms::bus
