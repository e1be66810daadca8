// The Authorization header's Bearer scheme: case-insensitive (RFC 9110 11.1), one token.
#include <gtest/gtest.h>

#include "libs/auth/access.h"

namespace oms::auth {
namespace {

TEST(BearerToken, TheSchemeIsCaseInsensitive) {
  for (const char* h : {"Bearer abc.def.ghi", "bearer abc.def.ghi", "BEARER abc.def.ghi", "bEaReR  abc.def.ghi "})
    EXPECT_EQ(bearer_token(std::string_view(h)), std::optional<std::string_view>("abc.def.ghi")) << h;
}

TEST(BearerToken, AnythingElseIsNoToken) {
  EXPECT_FALSE(bearer_token(std::nullopt));
  for (const char* h : {"", "Bearer", "Bearer ", "Bearer    ", "Basic abc", "Bearerabc", "Bearer a b", "Token abc"})
    EXPECT_FALSE(bearer_token(std::string_view(h))) << '"' << h << '"';
}

}  // namespace
}  // namespace oms::gateway
