#include "libs/bus/relay.h"

#include <future>

#include "libs/core/log.h"
#include "libs/storage/row.h"

namespace oms::bus {

Relay::Relay(storage::Database& db, Bus& bus, std::string name, int max_batch)
    : db_(db), bus_(bus), name_(std::move(name)), max_batch_(max_batch) {}

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
  while (!stopping_) {
    std::size_t n = 0;
    try {
      n = publish_once();
      failures = 0;
    } catch (const std::exception& e) {
      ++failures;
      log::error({name_}, std::string("relay: ") + e.what());
    }
    if (n > 0) continue;  // there may be more right away
    idle_ = failures == 0;
    std::unique_lock lock(mu_);
    auto wait = failures ? std::chrono::milliseconds(std::min(2000, 100 << std::min(failures, 4)))
                         : std::chrono::milliseconds(200);
    cv_.wait_for(lock, wait, [&] { return wake_ || stopping_.load(); });
    wake_ = false;
  }
}

std::size_t Relay::publish_once() {
  std::vector<Message> batch;
  std::vector<long long> seqs;
  db_.read([&](soci::session& s) {
    soci::rowset<soci::row> rows = (s.prepare << "SELECT seq, id, subject, payload, created_ms FROM outbox"
                                                 " ORDER BY seq LIMIT :n",
                                    soci::use(max_batch_, "n"));
    for (const auto& r : rows) {
      seqs.push_back(storage::get_int(r, 0));
      batch.push_back(Message{storage::get_str(r, 1), storage::get_str(r, 2), storage::get_str(r, 3),
                              storage::get_int(r, 4)});
    }
  });
  if (batch.empty()) return 0;
  idle_ = false;
  std::size_t n = batch.size();
  // The callback may outlive this call when the relay is stopped while waiting: share the promise.
  auto acked = std::make_shared<std::promise<bool>>();
  auto fut = acked->get_future();
  bus_.publish(std::move(batch), [acked](bool ok) { acked->set_value(ok); });
  while (fut.wait_for(std::chrono::milliseconds(100)) != std::future_status::ready)
    if (stopping_) return 0;
  if (!fut.get()) throw std::runtime_error("bus did not accept the batch");
  // Delete exactly the rows published (never a range: on PostgreSQL a lower sequence number may
  // commit later than a higher one).
  std::string in;
  for (auto s : seqs) in += (in.empty() ? "" : ",") + std::to_string(s);
  db_.write([&](storage::Tx& tx) { tx.sql << "DELETE FROM outbox WHERE seq IN (" + in + ")"; });
  published_ += n;
  return n;
}

}  // namespace oms::bus
