#pragma once
// The fulfillment service's table: `tasks` (one per order). Only this service touches it.
// Reads take a connection; writes take the service's transaction. A batch of commands loads
// every task it names at once and writes new and changed tasks with one statement each.
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "libs/storage/database.h"
#include "services/fulfillment/domain/task.h"

namespace oms::fulfillment::adapters {

const std::vector<std::string>& migrations();

std::optional<domain::Task> load(soci::session& sql, const std::string& order_id,
                                 bool lock = false);  // lock: SELECT … FOR UPDATE (write paths)
// The tasks of these orders, by order id; on PostgreSQL locked, in order id order.
std::map<std::string, domain::Task> load_many(soci::session& sql, const std::vector<std::string>& order_ids);
void insert_many(soci::session& sql, const std::vector<const domain::Task*>& tasks);
void save_many(soci::session& sql, const std::vector<const domain::Task*>& tasks);  // status, tracking, updated_ms
// Newest first; `status` empty: the open ones (INITIATED, DISPATCHED); "ALL": every task.
// Newest first; `before`: only tasks older than that one (keyset paging by task id).
// Newest first; `owner`: only that user's tasks.
std::vector<domain::Task> list(soci::session& sql, const std::string& status, const std::optional<std::string>& owner,
                               const std::optional<std::string>& before, int limit);

}  // namespace oms::fulfillment::adapters
