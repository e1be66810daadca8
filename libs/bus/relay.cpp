#include "libs/bus/relay.h"

#include "libs/core/after_response.h"
#include "libs/core/clock.h"
#include "libs/core/log.h"
#include "libs/storage/statement.h"

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
  wake();
  if (thread_.joinable()) thread_.join();
}

namespace {
// Set while this thread runs a pass: a commit of the relay's own (deleting rows) must not try
// to run a pass inside it.
thread_local const Relay* t_in_pass = nullptr;
}  // namespace

void Relay::wake() {
  {
    std::lock_guard lock(mu_);
    wake_ = true;
  }
  cv_.notify_one();
}

void Relay::notify() {
  if (!bus_.publish_returns_at_once() || stopping_ || t_in_pass == this) return wake();
  again_ = true;
  // Answering a request: publish once the response is on its way, still on this thread.
  if (core::AfterResponse::defer(this, [this] { notify(); })) return;
  // Publish here, on the committing thread. If a pass is running elsewhere, it sees again_ and
  // goes round once more; nobody waits for it.
  while (again_.load() && pass_mu_.try_lock()) {
    std::lock_guard lock(pass_mu_, std::adopt_lock);
    if (failures_) return wake();  // the relay thread retries, with its backoff
    again_ = false;
    t_in_pass = this;
    try {
      pass();
      if (!in_flight_.empty()) idle_ = false;
    } catch (const std::exception& e) {
      t_in_pass = nullptr;
      log::warn({name_}, std::string("relay: ") + e.what());
      reset_after_failure();
      return wake();
    }
    t_in_pass = nullptr;
  }
}

void Relay::reset_after_failure() {
  ++failures_;
  // Start over from the last acknowledged row: re-publishing is safe (inbox de-duplication).
  in_flight_.clear();
  in_flight_count_ = 0;
  read_cursor_ = acked_cursor_;
}

bool Relay::pass() {
  bool progress = settle();
  return fill_window() || progress;
}

void Relay::run() {
  auto last_progress = std::chrono::steady_clock::now();
  while (!stopping_) {
    bool progress = false;
    int failures = 0;
    bool unflushed = false;
    {
      std::lock_guard pass_lock(pass_mu_);
      t_in_pass = this;
      try {
        again_ = false;
        progress = pass();
        // Published rows are deleted many at a time (settle), or once the relay has been quiet
        // for a moment: never on the path of the next message.
        auto now = std::chrono::steady_clock::now();
        if (progress) last_progress = now;
        else if (in_flight_.empty() && now - last_progress >= kQuietBeforeDelete) flush_deletes(true);
        if (!progress && now >= next_prune_) {
          next_prune_ = now + kPruneEvery;
          auto retention = std::chrono::duration_cast<std::chrono::milliseconds>(kInboxRetention).count();
          if (long long n = db_.prune_inbox(now_ms() - retention))
            log::info({name_}, "forgot " + std::to_string(n) + " inbox rows older than the stream's retention");
        }
        failures_ = 0;
      } catch (const std::exception& e) {
        log::error({name_}, std::string("relay: ") + e.what());
        reset_after_failure();
      }
      t_in_pass = nullptr;
      failures = failures_;
      unflushed = unflushed_ > 0;
      idle_ = failures == 0 && in_flight_.empty() && !progress;
    }
    // Checked after letting go of pass_mu_: a notify() that found it taken left again_ set.
    if (!failures && (progress || again_.load())) continue;
    std::unique_lock lock(mu_);
    auto wait = failures ? std::chrono::milliseconds(std::min(2000, 100 << std::min(failures, 4)))
                : in_flight_count_.load() ? std::chrono::milliseconds(20)
                : unflushed ? std::chrono::duration_cast<std::chrono::milliseconds>(kQuietBeforeDelete)
                             : std::chrono::milliseconds(200);
    cv_.wait_for(lock, wait, [&] { return wake_ || stopping_.load(); });
    wake_ = false;
  }
  // A clean stop leaves no published row behind.
  std::lock_guard pass_lock(pass_mu_);
  try {
    settle();  // batches acknowledged since the last pass
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
      storage::StmtRef st(s,
                          "SELECT seq, id, subject, payload, created_ms, request_id FROM outbox"
                          " WHERE seq > $1 ORDER BY seq LIMIT $2");
      st->integer(0, after).integer(1, max_batch_).run();
      while (st->next()) {
        flight->seqs.push_back(st->num(0));
        batch.push_back(Message{st->str(1), st->str(2), st->str(3), st->num(4), st->str(5)});
      }
    });
    if (batch.empty()) break;
    read_cursor_ = flight->seqs.back();
    in_flight_.push_back(flight);
    ++in_flight_count_;
    sent = true;
    // The callback runs on a consumer thread and may outlive the relay's interest in it. An
    // acknowledged batch is retired by the next pass; only a full window (or a failure) needs
    // the relay thread at once.
    std::weak_ptr<InFlight> weak = flight;
    bus_.publish(std::move(batch), [this, weak](bool ok) {
      if (auto f = weak.lock()) f->state = ok ? 1 : -1;
      if (!ok || in_flight_count_.load() >= window_) wake();
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
    --in_flight_count_;
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
      for (auto s : f->seqs) {
        if (!in.empty()) in += ',';
        in += std::to_string(s);
      }
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
