// Keystone's role names become ferry's roles as Nova's policy defaults read them: admin over
// member over reader; anything else is no role at all (403 everywhere but the public routes).
#include <gtest/gtest.h>

#include "controller/auth/keystone_client.hpp"

namespace ferry::controller::auth {
namespace {

TEST(RoleFromKeystone, TheStrongestKnownRoleWins) {
  // Keystone expands implied roles: an admin's token lists admin, member and reader.
  EXPECT_EQ(RoleFromKeystone({"reader", "member", "admin"}), Role::kAdmin);
  EXPECT_EQ(RoleFromKeystone({"reader", "member"}), Role::kMember);
  EXPECT_EQ(RoleFromKeystone({"reader"}), Role::kReader);
}

TEST(RoleFromKeystone, UnknownRolesGrantNothing) {
  EXPECT_EQ(RoleFromKeystone({}), Role::kNone);
  EXPECT_EQ(RoleFromKeystone({"service"}), Role::kNone);
  EXPECT_EQ(RoleFromKeystone({"Admin", "MEMBER"}), Role::kNone) << "names are exact";
  EXPECT_EQ(RoleFromKeystone({"agent"}), Role::kNone) << "agents are the token file's only";
}

}  // namespace
}  // namespace ferry::controller::auth
