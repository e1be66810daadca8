#pragma once
// The payment service's table: `payments` (one row per order). Only this service touches it.
// Reads take a connection; writes take the service's transaction and are multi-row, so a batch
// of commands loads every payment it names at once and writes each new or changed one once.
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "libs/storage/database.h"
#include "services/payment/domain/payment.h"

namespace oms::payment::adapters {

const std::vector<std::string>& migrations();

std::optional<domain::Payment> load(soci::session& sql, const std::string& order_id,
                                    bool lock = false);  // lock: SELECT … FOR UPDATE (write paths)
// The payments of these orders, by order id; on PostgreSQL locked, in order id order.
std::map<std::string, domain::Payment> load_many(soci::session& sql, const std::vector<std::string>& order_ids);
void insert_many(soci::session& sql, const std::vector<const domain::Payment*>& payments);
// Writes status and updated_ms (the only fields a refund changes).
void save_status_many(soci::session& sql, const std::vector<const domain::Payment*>& payments);

}  // namespace oms::payment::adapters
