#pragma once
// The saga's tables: `sagas` (one row per order, the state machine's fields) and
// `saga_history` (every transition). Only the saga service touches them.
#include <optional>
#include <string>
#include <vector>

#include "libs/storage/database.h"
#include "services/saga/domain/saga.h"

namespace oms::saga::adapters {

const std::vector<std::string>& migrations();

std::optional<domain::Saga> load(soci::session& sql, const std::string& order_id,
                                  bool lock = false);  // lock: SELECT … FOR UPDATE (write paths)
void insert(soci::session& sql, const domain::Saga& s);
void update(soci::session& sql, const domain::Saga& s);
void append_history(soci::session& sql, const std::string& order_id, std::int64_t version,
                    const std::vector<domain::HistoryEntry>& entries);
std::vector<domain::HistoryEntry> history(soci::session& sql, const std::string& order_id);
std::vector<domain::Saga> list(soci::session& sql, std::optional<std::string> state, int limit);
std::vector<std::string> overdue(soci::session& sql, std::int64_t now, int limit);

}  // namespace oms::saga::adapters
