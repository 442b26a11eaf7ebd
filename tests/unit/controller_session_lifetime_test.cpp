// A dashboard session's lifetime (controller/web/sessions.hpp): the lifetime flag, never past
// the token's own expiry, and at most 1 h for a Keystone token whatever its expiry (a session is
// never checked with Keystone again, so that bounds a revoked token's session).
#include <gtest/gtest.h>

#include "controller/web/sessions.hpp"

namespace ferry::controller::web {
namespace {

using namespace std::chrono_literals;
using std::chrono::seconds;

const TimePoint kNow = TimePoint(std::chrono::seconds(1'800'000'000));

TEST(SessionLifetime, TheTokenFilesTokensLiveTheFlagsLifetime) {
  EXPECT_EQ(SessionLifetime(12h, false, std::nullopt, kNow), seconds(12 * 3600));
  EXPECT_EQ(SessionLifetime(30min, false, std::nullopt, kNow), seconds(1800));
}

TEST(SessionLifetime, AKeystoneSessionEndsWithItsTokenAndWithinAnHour) {
  EXPECT_EQ(SessionLifetime(12h, true, kNow + 8s, kNow), seconds(8));
  EXPECT_EQ(SessionLifetime(12h, true, kNow + 1500ms, kNow), seconds(1)) << "rounded down";
  EXPECT_EQ(SessionLifetime(12h, true, kNow + 2h, kNow), seconds(3600))
      << "a 2 h token still gives at most 1 h";
  EXPECT_EQ(SessionLifetime(12h, true, std::nullopt, kNow), seconds(3600));
  EXPECT_EQ(SessionLifetime(10min, true, kNow + 2h, kNow), seconds(600)) << "the flag is shorter";
}

TEST(SessionLifetime, AnExpiredTokenGivesNone) {
  EXPECT_EQ(SessionLifetime(12h, true, kNow, kNow), seconds(0));
  EXPECT_EQ(SessionLifetime(12h, true, kNow - 5s, kNow), seconds(0));
  EXPECT_EQ(SessionLifetime(12h, true, kNow + 999ms, kNow), seconds(0));
}

}  // namespace
}  // namespace ferry::controller::web
