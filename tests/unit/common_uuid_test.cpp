// common/uuid: random version-4 UUIDs in canonical form, and the shape check used on every id
// that arrives from outside (API paths, agent inventories).
#include <gtest/gtest.h>

#include <regex>
#include <unordered_set>

#include "common/uuid.hpp"

namespace ferry {
namespace {

TEST(Uuid, NewUuidIsCanonicalLowercaseVersion4WithRfc4122Variant) {
  const std::regex canonical(
      "^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$");
  for (int i = 0; i < 200; ++i) {
    std::string u = NewUuid();
    EXPECT_TRUE(std::regex_match(u, canonical)) << u;
    EXPECT_TRUE(IsUuid(u)) << u;
  }
}

TEST(Uuid, TenThousandNewUuidsAreAllDistinct) {
  std::unordered_set<std::string> seen;
  for (int i = 0; i < 10000; ++i) seen.insert(NewUuid());
  EXPECT_EQ(seen.size(), 10000u);
}

TEST(Uuid, IsUuidAcceptsCanonicalFormInAnyCase) {
  EXPECT_TRUE(IsUuid("123e4567-e89b-12d3-a456-426614174000"));
  EXPECT_TRUE(IsUuid("123E4567-E89B-12D3-A456-426614174000"));
  EXPECT_TRUE(IsUuid("00000000-0000-0000-0000-000000000000"));
}

TEST(Uuid, IsUuidRejectsEverythingElse) {
  EXPECT_FALSE(IsUuid(""));
  EXPECT_FALSE(IsUuid("123e4567e89b12d3a456426614174000"));       // no dashes
  EXPECT_FALSE(IsUuid("123e4567-e89b-12d3-a456-42661417400"));    // one short
  EXPECT_FALSE(IsUuid("123e4567-e89b-12d3-a456-4266141740000"));  // one long
  EXPECT_FALSE(IsUuid("123e456-7e89b-12d3-a456-426614174000"));   // dash misplaced
  EXPECT_FALSE(IsUuid("123e4567-e89b-12d3-a456-42661417400g"));   // not hex
  EXPECT_FALSE(IsUuid("{23e4567-e89b-12d3-a456-426614174000}"));
  EXPECT_FALSE(IsUuid(" 23e4567-e89b-12d3-a456-426614174000"));
  EXPECT_FALSE(IsUuid("123e4567-e89b-12d3-a456-426614174000\n"));
  EXPECT_FALSE(IsUuid("123e4567+e89b-12d3-a456-426614174000"));
}

}  // namespace
}  // namespace ferry
