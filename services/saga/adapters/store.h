#pragma once
// The saga's tables: `sagas` (one row per order, the state machine's fields) and
// `saga_history` (every transition). Only the saga service touches them.
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "libs/storage/database.h"
#include "services/saga/domain/saga.h"

namespace oms::saga::adapters {

const std::vector<std::string>& migrations();

// Reads take a connection; writes take the saga service's transaction. Writes are multi-row: a
// batch of messages loads every saga it names at once and writes each changed one once.
std::optional<domain::Saga> load(soci::session& sql, const std::string& order_id,
                                  bool lock = false);  // lock: SELECT … FOR UPDATE (write paths)
// Every saga of `order_ids` that exists, by order id; on PostgreSQL locked, in id order (so two
// batches naming the same sagas cannot deadlock).
std::map<std::string, domain::Saga> load_many(soci::session& sql, const std::vector<std::string>& order_ids);
void insert_many(soci::session& sql, const std::vector<const domain::Saga*>& sagas);
void update_many(soci::session& sql, const std::vector<const domain::Saga*>& sagas);

struct HistoryRow {
  std::string order_id;
  long long seq;  // version × 16 + i: unique and in order without a query
  domain::HistoryEntry entry;
};
void append_history(soci::session& sql, const std::vector<HistoryRow>& rows);
std::vector<domain::HistoryEntry> history(soci::session& sql, const std::string& order_id);
// Newest first; `before`: only sagas older than that one (keyset paging by order id).
// Newest first; `owner`: only that user's sagas.
std::vector<domain::Saga> list(soci::session& sql, std::optional<std::string> state, const std::optional<std::string>& owner,
                               const std::optional<std::string>& before, int limit);
std::vector<std::string> overdue(soci::session& sql, std::int64_t now, int limit);
// How many sagas are in `state` now.
long long count_in_state(soci::session& sql, const std::string& state);

}  // namespace oms::saga::adapters
