#include "libs/bus/consumer.h"

#include <stdexcept>

#include "libs/core/clock.h"
#include "libs/core/ids.h"
#include "libs/core/log.h"

namespace oms::bus {

namespace {

struct OneFailed : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// One transaction for the whole batch. Unisolated: one inbox statement for every message, then
// the batch handler once for the new ones; the first failure aborts the attempt. Isolated: each
// message in its own savepoint, so that a handler that throws loses only its own effects
// (savepoints cost two statements per message, so they are used only after a failure).
std::vector<Result> attempt(const Subscription& sub, std::span<const Message* const> batch, bool isolate) {
  std::vector<Result> out;
  sub.db->write([&](storage::Tx& tx) {
    out.assign(batch.size(), Result{Outcome::kHandled, {}});
    if (!isolate) {
      std::vector<std::string> ids;
      ids.reserve(batch.size());
      for (const Message* m : batch) ids.push_back(m->id);
      auto fresh = tx.first_deliveries(sub.consumer, ids);
      std::vector<const Message*> todo;
      for (std::size_t i = 0; i < batch.size(); ++i) {
        if (fresh[i]) todo.push_back(batch[i]);
        else out[i].outcome = Outcome::kDuplicate;
      }
      if (todo.empty()) return;
      try {
        sub.handler(todo, tx);
      } catch (const std::exception& e) {
        // A deadlock or serialization failure between two batches (two replicas, or two
        // subjects' threads) is nobody's fault: the whole transaction runs again.
        if (storage::is_race(e)) throw;
        throw OneFailed(e.what());
      }
      return;
    }
    for (std::size_t i = 0; i < batch.size(); ++i) {
      const Message* m = batch[i];
      // A Conflict (a concurrent writer changed the row first) runs the message again at once:
      // its next read sees the other writer's committed change.
      for (int tries = 1;; ++tries) {
        tx.flush();  // what earlier messages published stays out of this one's savepoint
        tx.sql << "SAVEPOINT msg";
        try {
          if (!tx.first_delivery(sub.consumer, m->id)) {
            out[i].outcome = Outcome::kDuplicate;
          } else {
            const Message* one[] = {m};
            sub.handler(one, tx);
          }
          tx.flush();
          tx.sql << "RELEASE SAVEPOINT msg";
          break;
        } catch (const std::exception& e) {
          if (storage::is_race(e)) throw;
          tx.discard();
          tx.sql << "ROLLBACK TO SAVEPOINT msg";
          tx.sql << "RELEASE SAVEPOINT msg";
          if (dynamic_cast<const storage::Conflict*>(&e) && tries < kMaxAttempts) continue;
          out[i] = {Outcome::kFailed, e.what()};
          break;
        }
      }
    }
  });
  return out;
}

}  // namespace

BatchHandler each(MessageHandler h) {
  return [h = std::move(h)](std::span<const Message* const> batch, storage::Tx& tx) {
    for (const Message* m : batch) {
      log::RequestScope scope(m->request_id);  // its logs and the messages it causes carry it on
      h(*m, tx);
    }
  };
}

std::vector<Result> handle_batch(const Subscription& sub, std::span<const Message* const> batch) {
  try {
    return attempt(sub, batch, /*isolate=*/false);
  } catch (const OneFailed&) {
    // Rolled back as a whole: run it again with each message isolated.
    return attempt(sub, batch, /*isolate=*/true);
  }
}

void dead_letter(const Subscription& sub, const Message& msg, const std::string& error, int attempts) {
  log::error({sub.consumer}, "dead letter " + msg.subject + " " + msg.id + ": " + error);
  sub.db->write([&](storage::Tx& tx) {
    std::string id = new_uuid();
    long long now = now_ms();
    tx.sql << "INSERT INTO dead_letters (id, consumer, message_id, subject, payload, error, attempts,"
              " created_ms) VALUES (:id, :c, :m, :s, :p, :e, :a, :t)",
        soci::use(id, "id"), soci::use(sub.consumer, "c"), soci::use(msg.id, "m"),
        soci::use(msg.subject, "s"), soci::use(msg.payload, "p"), soci::use(error, "e"),
        soci::use(attempts, "a"), soci::use(now, "t");
  });
}

}  // namespace oms::bus
