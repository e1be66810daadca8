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

// One transaction for the whole batch. `isolate` puts each message in a savepoint so that a
// handler that throws loses only its own effects; without it the first failure aborts the
// attempt (savepoints cost two statements per message, so they are used only when needed).
std::vector<Result> attempt(const Subscription& sub, std::span<const Message* const> batch, bool isolate) {
  std::vector<Result> out;
  sub.db->write([&](storage::Tx& tx) {
    out.clear();
    for (const Message* m : batch) {
      log::RequestScope scope(m->request_id);  // its logs and the messages it causes carry it on
      // A Conflict (a concurrent writer changed the row first) runs the message again at once:
      // its next read sees the other writer's committed change.
      for (int tries = 1;; ++tries) {
        if (isolate) tx.sql << "SAVEPOINT msg";
        try {
          if (!tx.first_delivery(sub.consumer, m->id)) {
            out.push_back({Outcome::kDuplicate, {}});
          } else {
            sub.handler(*m, tx);
            out.push_back({Outcome::kHandled, {}});
          }
          if (isolate) tx.sql << "RELEASE SAVEPOINT msg";
          break;
        } catch (const std::exception& e) {
          // A deadlock or serialization failure between two batches (two replicas, or two
          // subjects' threads) is nobody's fault: the whole transaction runs again.
          if (storage::is_race(e)) throw;
          if (!isolate) throw OneFailed(e.what());
          tx.sql << "ROLLBACK TO SAVEPOINT msg";
          tx.sql << "RELEASE SAVEPOINT msg";
          if (dynamic_cast<const storage::Conflict*>(&e) && tries < kMaxAttempts) continue;
          out.push_back({Outcome::kFailed, e.what()});
          break;
        }
      }
    }
  });
  return out;
}

}  // namespace

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
