// Small request/response details Tempest relies on: every Nova answer names its request id as
// x-compute-request-id too (Tempest's instance action tests look the create action up by it),
// ?all_tenants= with no value means true, as in Nova (Tempest's admin server list tests), and
// deleting a flavor extra spec answers 200 as Nova's does (Tempest checks the status).
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

TEST(TempestRequestShapes, ExtraSpecDeleteIs200) {
  FERRY_REQUIRE_PG(dsn);
  Stack stack(dsn);
  stack.StartController();
  auto admin = stack.Admin();
  auto made = admin.Post(
      "/v2.1/flavors",
      {{"flavor", {{"id", "7"}, {"name", "f7"}, {"ram", 512}, {"vcpus", 1}, {"disk", 1}}}});
  ASSERT_EQ(made.status, 200) << made.raw;
  auto set = admin.Post("/v2.1/flavors/7/os-extra_specs",
                        {{"extra_specs", {{"hw:cpu_policy", "shared"}}}});
  ASSERT_EQ(set.status, 200) << set.raw;
  auto gone = admin.Delete("/v2.1/flavors/7/os-extra_specs/hw:cpu_policy");
  EXPECT_EQ(gone.status, 200) << gone.raw;
  EXPECT_EQ(admin.Get("/v2.1/flavors/7/os-extra_specs/hw:cpu_policy").status, 404);
}

}  // namespace
}  // namespace ferry::testing
