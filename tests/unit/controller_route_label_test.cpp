// RouteLabel: a route's regex as the bounded metric label of ferry_api_request_duration_seconds.
#include <gtest/gtest.h>

#include "controller/api/route_prefix.hpp"

namespace ferry::controller::api {
namespace {

TEST(RouteLabel, UndoesEscapesAndNamesEachGroup) {
  EXPECT_EQ(RouteLabel(R"(/v2\.1/servers)"), "/v2.1/servers");
  EXPECT_EQ(RouteLabel(R"(/v2\.1/servers/([^/]+))"), "/v2.1/servers/{id}");
  EXPECT_EQ(RouteLabel(R"(/v2\.1/servers/([^/]+)/migrations/([^/]+)/action)"),
            "/v2.1/servers/{id}/migrations/{id}/action");
  EXPECT_EQ(RouteLabel(R"(/v2\.1/os-services/(enable|disable|force-down))"),
            "/v2.1/os-services/{id}");
  EXPECT_EQ(RouteLabel(R"(/v2\.1/?)"), "/v2.1/");
  EXPECT_EQ(RouteLabel("/metrics"), "/metrics");
}

}  // namespace
}  // namespace ferry::controller::api
