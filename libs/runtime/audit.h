#pragma once
// The audit log of a service (API.md, "Roles"; docs/adr/0010): every privileged action (restock,
// create product, refund, dispatch, deliver, cancelling another user's order, dead-letter retry)
// is recorded with who, in which role, what and when — in the same transaction as the action, so
// an action is never without its record nor a record without its action.
//   GET /api/admin/<service>/audit-log   admin only; newest first; `limit`, `before=<id>`
#include <string>

#include "libs/http/message.h"
#include "libs/runtime/context.h"
#include "libs/storage/database.h"

namespace oms::runtime {

// Records `action` on `target` by the caller of `req`, inside `tx`.
void audit(storage::Tx& tx, const http::Request& req, const std::string& action, const std::string& target,
           const std::string& detail = {});

// Creates the table (a versioned migration of its own) and adds the admin route.
void register_audit_routes(ServiceContext& ctx, const std::string& service);

}  // namespace oms::runtime
