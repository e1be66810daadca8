#pragma once
// What a caller may see (API.md, "Roles"; docs/adr/0010): staff and admin every row; a customer
// only the rows it owns. A row of no recorded owner (written before owners were recorded) is
// staff-only. What a customer may not see answers 404, as if it did not exist.
#include <optional>
#include <string>

#include "libs/http/message.h"

namespace oms::runtime {

inline bool may_see(const http::Request& req, const std::optional<std::string>& owner) {
  return req.role >= Role::kStaff || (owner && !req.user_id.empty() && *owner == req.user_id);
}

// The owner a list must be narrowed to: the caller, unless it is staff or admin (every row).
inline std::optional<std::string> owner_filter(const http::Request& req) {
  if (req.role >= Role::kStaff) return std::nullopt;
  return req.user_id;
}

}  // namespace oms::runtime
