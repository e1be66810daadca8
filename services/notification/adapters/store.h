#pragma once
// The notification service's tables: `recipients` (the email each order's notifications go to,
// and the user who may read them) and `notifications` (at most one of each type per order). Only this service touches them.
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "libs/storage/database.h"

namespace oms::notification::adapters {

const std::vector<std::string>& migrations();

struct Notification {
  std::string id, order_id, recipient, subject, type, body;
  std::int64_t sent_ms = 0;
  std::optional<std::string> owner_id = {};  // who may read it (none: staff only)
};

// Whom an order's notifications go to, and who may read them (learnt from OrderCreated).
struct Recipient {
  std::string email;
  std::optional<std::string> owner_id;
};

// The recipients of these orders, by order id.
std::map<std::string, Recipient> recipients(soci::session& sql, const std::vector<std::string>& order_ids);
// Remembers each order's recipient (the first one given wins).
void add_recipients(soci::session& sql, const std::map<std::string, Recipient>& by_order);
// Records the notifications that are new, one statement; returns the (order id, type) of those.
std::vector<std::pair<std::string, std::string>> record(soci::session& sql, const std::vector<Notification>& rows);
// Newest first, optionally of one order, one recipient (lower-case) and/or one owner.
std::vector<Notification> list(soci::session& sql, const std::string& order_id, const std::string& recipient_lower,
                               const std::optional<std::string>& owner, const std::optional<std::string>& before,
                               int limit);

}  // namespace oms::notification::adapters
