#pragma once
// The fulfillment task's lifecycle: INITIATED → DISPATCHED → DELIVERED, or CANCELLED before it
// ships. Fulfillment decides a cancel that races a dispatch: whichever it sees first wins.
#include <cstdint>
#include <optional>
#include <string>

#include "libs/core/error.h"

namespace oms::fulfillment::domain {

struct Task {
  std::string id, order_id;
  std::string status = "INITIATED";
  std::optional<std::string> tracking_number;
  std::int64_t created_ms = 0, updated_ms = 0;
  std::optional<std::string> owner_id = {};  // the order's user (none for tasks made before owners were kept)
};

bool valid_status_filter(std::string_view s);
Result<void> dispatch(Task& t, std::string tracking_number, std::int64_t now);
Result<void> deliver(Task& t, std::int64_t now);
enum class CancelOutcome { kCancelled, kAlreadyShipped };
CancelOutcome cancel(Task& t, std::int64_t now);

}  // namespace oms::fulfillment::domain
