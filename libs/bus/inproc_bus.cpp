#include "libs/bus/inproc_bus.h"

#include <algorithm>

#include "libs/bus/consumer.h"
#include "libs/core/clock.h"
#include "libs/core/log.h"

namespace oms::bus {

InProcBus::~InProcBus() { stop(); }

void InProcBus::subscribe(Subscription sub) {
  auto c = std::make_unique<Consumer>();
  c->sub = std::move(sub);
  for (const auto& s : c->sub.subjects) by_subject_[s].push_back(c.get());
  consumers_.push_back(std::move(c));
}

void InProcBus::publish(std::vector<Message> batch, std::function<void(bool)> done) {
  auto pending = std::make_shared<Pending>();
  pending->done = std::move(done);
  std::vector<std::pair<Consumer*, Delivery>> deliveries;
  for (auto& m : batch) {
    auto msg = std::make_shared<const Message>(std::move(m));
    auto it = by_subject_.find(msg->subject);
    if (it == by_subject_.end()) continue;
    for (Consumer* c : it->second) deliveries.push_back({c, Delivery{msg, pending}});
  }
  if (deliveries.empty() || stopping_) {
    pending->done(!stopping_);
    return;
  }
  pending->remaining = static_cast<int>(deliveries.size());
  for (auto& [c, d] : deliveries) {
    {
      std::lock_guard lock(c->mu);
      c->queue.push_back(std::move(d));
    }
    c->cv.notify_one();
  }
}

void InProcBus::ack(Delivery& d) {
  if (d.pending->remaining.fetch_sub(1) == 1) d.pending->done(true);
}

void InProcBus::start() {
  if (started_) return;
  started_ = true;
  for (auto& c : consumers_) c->thread = std::thread([this, c = c.get()] { run(*c); });
}

void InProcBus::stop() {
  if (!started_) return;
  stopping_ = true;
  for (auto& c : consumers_) c->cv.notify_all();
  for (auto& c : consumers_)
    if (c->thread.joinable()) c->thread.join();
  started_ = false;
}

bool InProcBus::idle() const {
  for (const auto& c : consumers_) {
    std::lock_guard lock(c->mu);
    if (!c->queue.empty() || !c->retries.empty() || c->busy) return false;
  }
  return true;
}

void InProcBus::run(Consumer& c) {
  std::vector<Delivery> batch;
  std::vector<const Message*> msgs;
  while (!stopping_) {
    batch.clear();
    {
      std::unique_lock lock(c.mu);
      auto due = [&] {
        return !c.retries.empty() && c.retries.front().not_before_ms <= now_ms();
      };
      c.cv.wait_for(lock, std::chrono::milliseconds(50),
                    [&] { return stopping_ || !c.queue.empty() || due(); });
      if (stopping_) break;
      while (due() && batch.size() < max_batch_) {
        batch.push_back(std::move(c.retries.front()));
        c.retries.pop_front();
      }
      while (!c.queue.empty() && batch.size() < max_batch_) {
        batch.push_back(std::move(c.queue.front()));
        c.queue.pop_front();
      }
      if (batch.empty()) continue;
      c.busy = 1;
    }
    msgs.clear();
    for (auto& d : batch) msgs.push_back(d.msg.get());
    std::vector<Result> results;
    auto t0 = std::chrono::steady_clock::now();
    try {
      results = handle_batch(c.sub, msgs);
      if (log::enabled(log::Level::kDebug)) {
        auto us = std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - t0).count();
        log::debug({c.sub.consumer}, "batch of " + std::to_string(msgs.size()) + " in " + std::to_string(us) + " us");
      }
    } catch (const std::exception& e) {
      // The transaction itself failed (e.g. the disk): nobody's fault (redelivery.h). The whole
      // batch goes back, in order, and no message's attempts grow.
      ++c.batch_failures;
      if (c.batch_failures == 1 || c.batch_failures % 20 == 0)
        log::error({c.sub.consumer}, std::string("batch failed (try ") + std::to_string(c.batch_failures) + "): " + e.what());
      std::lock_guard lock(c.mu);
      auto at = now_ms() + Redelivery::batch_retry_ms(c.batch_failures);
      for (auto& d : batch) d.not_before_ms = at;
      c.retries.insert(c.retries.begin(), std::make_move_iterator(batch.begin()), std::make_move_iterator(batch.end()));
      std::stable_sort(c.retries.begin(), c.retries.end(),
                       [](const Delivery& a, const Delivery& b) { return a.not_before_ms < b.not_before_ms; });
      c.busy = 0;
      continue;
    }
    c.batch_failures = 0;
    std::vector<Delivery> again;
    for (std::size_t i = 0; i < batch.size(); ++i) {
      auto& d = batch[i];
      if (results[i].outcome != Outcome::kFailed) {
        ack(d);
        continue;
      }
      ++d.attempts;
      log::warn({c.sub.consumer}, "handling " + d.msg->subject + " failed (attempt " +
                                      std::to_string(d.attempts) + "): " + results[i].error);
      if (Redelivery::dead_letter(d.attempts)) {
        try {
          dead_letter(c.sub, *d.msg, results[i].error, d.attempts);
          if (on_dead_letter_) on_dead_letter_();
          ack(d);
        } catch (const std::exception& e) {
          log::error({c.sub.consumer}, std::string("dead-lettering failed: ") + e.what());
          d.not_before_ms = now_ms() + 1000;
          again.push_back(std::move(d));
        }
        continue;
      }
      d.not_before_ms = now_ms() + Redelivery::backoff_ms(d.attempts);
      again.push_back(std::move(d));
    }
    std::lock_guard lock(c.mu);
    for (auto& d : again) c.retries.push_back(std::move(d));
    std::stable_sort(c.retries.begin(), c.retries.end(),
                     [](const Delivery& a, const Delivery& b) { return a.not_before_ms < b.not_before_ms; });
    c.busy = 0;
  }
}

}  // namespace oms::bus
