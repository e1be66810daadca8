#pragma once
// The inventory's tables: `products` and `reservations` (one row per order: its lines and
// whether they are RESERVED, RELEASED, COMMITTED or REJECTED). Only this service touches them.
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "libs/storage/database.h"
#include "services/inventory/domain/inventory.h"

namespace oms::inventory::adapters {

const std::vector<std::string>& migrations();

// lock: SELECT … FOR UPDATE on PostgreSQL (write paths).
std::optional<domain::Product> load(soci::session& sql, const std::string& id, bool lock = false);
void insert(soci::session& sql, const domain::Product& p);  // throws on a duplicate id
void save(soci::session& sql, const domain::Product& p);
std::vector<domain::Product> list(soci::session& sql, const std::string& after, int limit);
bool empty(soci::session& sql);

struct Reservation {
  std::string state;
  std::vector<domain::Line> lines;
};

// Batch versions, one statement each: the products of these ids (locked in id order on
// PostgreSQL); changed products with the version each was loaded with (Conflict if any row
// changed meanwhile); reservations by order id (locked on PostgreSQL); new reservations (Conflict
// if another transaction inserted one of them first) and new states of existing ones.
std::map<std::string, domain::Product> load_products(soci::session& sql, const std::set<std::string>& ids);
void save_many(soci::session& sql, const std::vector<std::pair<const domain::Product*, std::int64_t>>& changed);
std::map<std::string, Reservation> find_reservations(soci::session& sql, const std::vector<std::string>& order_ids);
void put_reservations(soci::session& sql, const std::map<std::string, Reservation>& fresh,
                      const std::map<std::string, std::string>& changed_states, std::int64_t now);

// For the auditor (`oms audit`): every product beside the units its RESERVED reservations hold,
// read by one statement, so one snapshot even while orders flow; and the reservations a page at
// a time, in order id order, after `after`.
struct StockCheck {
  std::string product_id;
  std::int64_t total = 0, available = 0, reserved = 0, held = 0;  // held: units of live reservations
};
std::vector<StockCheck> stock_check(soci::session& sql);
std::vector<std::pair<std::string, Reservation>> list_reservations(soci::session& sql, const std::string& after,
                                                                   int limit);

}  // namespace oms::inventory::adapters
