// RoutePrefix: the literal start a path must have for a route's regex to match it. The
// dispatcher skips a route's regex when the prefix does not match, so a prefix that is too long
// would turn a valid request into a 404: every path a pattern matches must start with it.
#include <gtest/gtest.h>

#include <regex>
#include <string>
#include <vector>

#include "controller/api/route_prefix.hpp"

namespace ferry::controller::api {
namespace {

TEST(RoutePrefix, StopsAtTheFirstRegexOperator) {
  EXPECT_EQ(RoutePrefix(R"(/v2\.1/servers/([^/]+))"), "/v2.1/servers/");
  EXPECT_EQ(RoutePrefix(R"(/v2\.1/os-migrations)"), "/v2.1/os-migrations");
  EXPECT_EQ(RoutePrefix(R"(/agent/v1/migration-progress)"), "/agent/v1/migration-progress");
  EXPECT_EQ(RoutePrefix(R"(/v2\.1/servers/[^/]+/action)"), "/v2.1/servers/");
  EXPECT_EQ(RoutePrefix(R"(/v2\.1/flavors/(\d+))"), "/v2.1/flavors/");
  EXPECT_EQ(RoutePrefix(R"(/x\d)"), "/x");  // a class escape is not a literal
}

TEST(RoutePrefix, AQuantifiedCharacterIsNotPartOfIt) {
  EXPECT_EQ(RoutePrefix("/v2/?"), "/v2");
  EXPECT_EQ(RoutePrefix("/v2/*"), "/v2");
  EXPECT_EQ(RoutePrefix("/ab{0,1}"), "/a");
  EXPECT_EQ(RoutePrefix(R"(/a\.?)"), "/a");
  EXPECT_EQ(RoutePrefix("/ab+"), "/ab");  // + needs one: the b is certain
}

TEST(RoutePrefix, NoneForAnAlternationOrAnOperatorFirst) {
  EXPECT_EQ(RoutePrefix("/servers|/os-hypervisors"), "");
  EXPECT_EQ(RoutePrefix("/v2(\\.1)?/servers"), "/v2");
  EXPECT_EQ(RoutePrefix(".*"), "");
  EXPECT_EQ(RoutePrefix("(/v2)"), "");
  EXPECT_EQ(RoutePrefix(""), "");
}

TEST(RoutePrefix, EveryPathThePatternMatchesStartsWithIt) {
  const std::vector<std::string> patterns = {
      R"(/v2\.1/servers/([^/]+))",
      R"(/v2\.1/servers/?)",
      R"(/v2(\.1)?/servers)",
      R"(/ab{0,2}c)",
      R"(/a\.?b)",
      R"(/v2\.1/servers/([^/]+)/migrations(/(\d+))?)",
      "/servers|/hypervisors",
      R"(/x-y\-z/\d+)",
  };
  const std::vector<std::string> paths = {
      "/v2.1/servers/abc",
      "/v2.1/servers",
      "/v2.1/servers/",
      "/v2/servers",
      "/ac",
      "/abc",
      "/abbc",
      "/ab",
      "/a.b",
      "/v2.1/servers/x/migrations",
      "/v2.1/servers/x/migrations/12",
      "/servers",
      "/hypervisors",
      "/x-y-z/42",
      "/v2.1/flavors",
  };
  int matched = 0;
  for (const auto& pattern : patterns) {
    const std::regex re(pattern);
    const std::string prefix = RoutePrefix(pattern);
    for (const auto& path : paths) {
      if (!std::regex_match(path, re)) continue;
      ++matched;
      EXPECT_EQ(path.rfind(prefix, 0), 0u)
          << pattern << " matches " << path << " but prefix is " << prefix;
    }
  }
  EXPECT_GE(matched, 12);  // the table exercises real matches, not only misses
}

}  // namespace
}  // namespace ferry::controller::api
