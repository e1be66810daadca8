#include "libs/auth/access.h"

#include <algorithm>
#include <cctype>
#include <sstream>

namespace oms::auth {
namespace {

std::vector<std::string> split_list(const std::string& csv) {
  std::vector<std::string> out;
  std::stringstream in(csv);
  std::string u;
  while (std::getline(in, u, ',')) {
    u.erase(0, u.find_first_not_of(" \t"));
    u.erase(u.find_last_not_of(" \t") + 1);
    if (!u.empty()) out.push_back(u);
  }
  return out;
}

bool contains(const std::vector<std::string>& list, std::string_view user) {
  return std::find(list.begin(), list.end(), user) != list.end();
}

}  // namespace

// The token of an `Authorization: Bearer <token>` header. The scheme is case-insensitive (RFC 9110
// 11.1) and may be followed by more than one space; nothing else may follow the token.
std::optional<std::string_view> bearer_token(std::optional<std::string_view> header) {
  if (!header) return std::nullopt;
  std::string_view h = *header;
  constexpr std::string_view kScheme = "bearer";
  if (h.size() <= kScheme.size() || h[kScheme.size()] != ' ') return std::nullopt;
  for (std::size_t i = 0; i < kScheme.size(); ++i)
    if (std::tolower(static_cast<unsigned char>(h[i])) != kScheme[i]) return std::nullopt;
  h.remove_prefix(kScheme.size());
  while (!h.empty() && h.front() == ' ') h.remove_prefix(1);
  while (!h.empty() && h.back() == ' ') h.remove_suffix(1);
  if (h.empty() || h.find(' ') != std::string_view::npos) return std::nullopt;
  return h;
}

Access::Access(const TokenVerifier& tokens, const std::string& staff, const std::string& admin, bool lists_bound_roles)
    : tokens_(tokens), staff_(split_list(staff)), admin_(split_list(admin)), lists_bound_roles_(lists_bound_roles) {}

Role Access::listed(std::string_view user) const {
  if (contains(admin_, user)) return Role::kAdmin;
  if (contains(staff_, user)) return Role::kStaff;
  return Role::kCustomer;
}

Result<Identity> Access::authenticate(std::optional<std::string_view> authorization, std::int64_t now_s) const {
  auto token = bearer_token(authorization);
  if (!token) return fail(Errc::kUnauthorized, "a Bearer token is required");
  auto claims = tokens_.verify(*token, now_s);
  if (!claims) return std::unexpected(claims.error());
  Role role = lists_bound_roles_ ? std::min(claims->role, listed(claims->user)) : claims->role;
  return Identity{std::move(claims->user), role};
}

}  // namespace oms::auth
