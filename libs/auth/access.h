#pragma once
// Who the caller is: the one place that turns an `Authorization` header into a user and a role,
// used by the gateway and, in distributed mode, by every service again (docs/adr/0010). In dev
// mode the role that counts is the smaller of the token's claim and the operator's lists of now,
// so a user taken off --staff-users / --admin-users loses the role at the next request; under
// `--auth external` the issuer owns the roles and the token's claim alone counts.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "libs/auth/jwt.h"
#include "libs/core/error.h"
#include "libs/core/role.h"

namespace oms::auth {

struct Identity {
  std::string user;
  Role role = Role::kNone;
};

// The token of an `Authorization` header value of the Bearer scheme (case-insensitive), or none.
std::optional<std::string_view> bearer_token(std::optional<std::string_view> header);

class Access {
 public:
  // `staff` and `admin`: comma-separated user ids (an admin is staff too). `lists_bound_roles`:
  // dev mode (the lists cap the token's role); false: the token's role alone.
  Access(const TokenVerifier& tokens, const std::string& staff, const std::string& admin,
         bool lists_bound_roles = true);

  // The role the lists give `user` (customer when on neither).
  Role listed(std::string_view user) const;
  // The caller of a request with this Authorization header: kUnauthorized with a reason when
  // there is no valid token.
  Result<Identity> authenticate(std::optional<std::string_view> authorization, std::int64_t now_s) const;

 private:
  const TokenVerifier& tokens_;
  std::vector<std::string> staff_, admin_;
  bool lists_bound_roles_;
};

}  // namespace oms::auth
