#include "libs/bus/consumer.h"

#include "libs/core/clock.h"
#include "libs/core/ids.h"
#include "libs/core/log.h"

namespace oms::bus {

std::vector<Result> handle_batch(const Subscription& sub, std::span<const Message* const> batch) {
  std::vector<Result> out;
  out.reserve(batch.size());
  sub.db->write([&](storage::Tx& tx) {
    out.clear();
    long long now = now_ms();
    for (const Message* m : batch) {
      tx.sql << "SAVEPOINT msg";
      try {
        long long fresh = storage::exec(
            tx.sql,
            "INSERT INTO inbox (consumer, message_id, handled_ms) VALUES (:c, :m, :t)"
            " ON CONFLICT DO NOTHING",
            soci::use(sub.consumer, "c"), soci::use(m->id, "m"), soci::use(now, "t"));
        if (fresh == 0) {
          out.push_back({Outcome::kDuplicate, {}});
        } else {
          sub.handler(*m, tx);
          out.push_back({Outcome::kHandled, {}});
        }
        tx.sql << "RELEASE SAVEPOINT msg";
      } catch (const std::exception& e) {
        tx.sql << "ROLLBACK TO SAVEPOINT msg";
        tx.sql << "RELEASE SAVEPOINT msg";
        out.push_back({Outcome::kFailed, e.what()});
      }
    }
  });
  return out;
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
