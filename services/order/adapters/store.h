#pragma once
// The order service's tables: `orders` and `idempotency`. Only this service touches them.
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "libs/storage/database.h"
#include "services/order/domain/order.h"

namespace oms::order::adapters {

const std::vector<std::string>& migrations();

std::optional<domain::Order> load(soci::session& sql, const std::string& order_id,
                                  bool lock = false);  // lock: SELECT … FOR UPDATE (write paths)
// Every order of `order_ids` that exists, by id; on PostgreSQL locked, in id order.
std::map<std::string, domain::Order> load_many(soci::session& sql, const std::vector<std::string>& order_ids);
void insert(soci::session& sql, const domain::Order& o);
void update(soci::session& sql, const domain::Order& o);
void update_many(soci::session& sql, const std::vector<const domain::Order*>& orders);  // one statement

struct ListQuery {
  std::optional<std::string> status;
  std::optional<std::string> email_lower;
  std::optional<std::string> user_id;  // only this user's orders (a customer's lists)
  std::optional<std::string> before;  // keyset paging: only orders older than this one
  int limit = 100;
};
std::vector<domain::Order> list(soci::session& sql, const ListQuery& q);

struct StoredResponse {
  std::string request;  // canonical request
  int status;
  std::string body;
  std::string order_id;
};
std::optional<StoredResponse> find_key(soci::session& sql, const std::string& user, const std::string& key);
void insert_key(soci::session& sql, const std::string& user, const std::string& key,
                const StoredResponse& r, std::int64_t now);
// Forgets idempotency keys recorded before `cutoff_ms`; returns how many.
long long purge_keys(soci::session& sql, std::int64_t cutoff_ms);

}  // namespace oms::order::adapters
