// Small request/response details Tempest relies on: every Nova answer names its request id as
// x-compute-request-id too (Tempest's instance action tests look the create action up by it),
// and ?all_tenants= with no value means true, as in Nova (Tempest's admin server list tests).
#include <gtest/gtest.h>

#include "tests/support/stack.hpp"

namespace ferry::testing {
namespace {

TEST(TempestRequestShapes, ComputeRequestIdHeaderEqualsOpenStackOne) {
  FERRY_REQUIRE_PG(dsn);
  Stack stack(dsn);
  stack.StartController();
  auto r = stack.Admin().Get("/v2.1/flavors");
  ASSERT_EQ(r.status, 200) << r.raw;
  EXPECT_FALSE(r.Header("x-compute-request-id").empty());
  EXPECT_EQ(r.Header("x-compute-request-id"), r.Header("x-openstack-request-id"));
}

TEST(TempestRequestShapes, AllTenantsWithoutValueIsTrue) {
  FERRY_REQUIRE_PG(dsn);
  Stack stack(dsn);
  stack.StartController();
  auto empty = stack.Admin().Get("/v2.1/servers/detail?all_tenants=");
  EXPECT_EQ(empty.status, 200) << empty.raw;
  auto bad = stack.Admin().Get("/v2.1/servers/detail?all_tenants=maybe");
  EXPECT_EQ(bad.status, 400) << bad.raw;
}

}  // namespace
}  // namespace ferry::testing
