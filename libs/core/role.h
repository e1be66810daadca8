#pragma once
// Who may do what (API.md, "Roles"; docs/adr/0010): every login is a customer; staff and admin
// are granted by the operator's lists. Ordered: a role may do everything the roles below it may.
#include <optional>
#include <string_view>

namespace oms {

enum class Role { kNone = 0, kCustomer = 1, kStaff = 2, kAdmin = 3 };

constexpr std::string_view to_string(Role r) {
  switch (r) {
    case Role::kCustomer: return "customer";
    case Role::kStaff: return "staff";
    case Role::kAdmin: return "admin";
    case Role::kNone: break;
  }
  return "none";
}

constexpr std::optional<Role> parse_role(std::string_view s) {
  if (s == "customer") return Role::kCustomer;
  if (s == "staff") return Role::kStaff;
  if (s == "admin") return Role::kAdmin;
  return std::nullopt;
}

}  // namespace oms
