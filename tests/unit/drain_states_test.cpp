// The host drain's state table (controller/drains/states): the states and statuses it names are
// the ones 0013_drains.sql allows, nothing leaves an end, every live state is left somewhere, and
// the names crash tests arm FERRY_TEST_CRASH_AFTER with.
#include <gtest/gtest.h>

#include <set>
#include <string>

#include "controller/drains/states.hpp"

namespace ferry::controller::drains {
namespace {

// drain_servers.state and drains.status, as 0013_drains.sql's CHECKs list them.
const std::set<std::string> kServerStates = {"pending", "starting", "moving",   "moved",
                                             "failed",  "skipped",  "cancelled"};
const std::set<std::string> kDrainStatuses = {"running", "paused", "cancelling", "done",
                                              "partial", "failed", "cancelled"};
const std::set<std::string> kLiveStatuses = {"running", "paused", "cancelling"};

TEST(DrainStates, EveryTransitionNamesAStateTheSchemaAllowsAndNothingLeavesAnEnd) {
  for (const auto& t : Transitions()) {
    SCOPED_TRACE(EdgeName(t));
    const auto& names = t.subject == Subject::kServer ? kServerStates : kDrainStatuses;
    EXPECT_TRUE(names.count(std::string(t.from)));
    EXPECT_TRUE(names.count(std::string(t.to)));
    EXPECT_NE(t.from, t.to);
    EXPECT_FALSE(t.event.empty());
    if (t.subject == Subject::kServer) {
      EXPECT_FALSE(IsServerEnded(t.from)) << "an ended server changes no more";
    } else {
      EXPECT_TRUE(kLiveStatuses.count(std::string(t.from))) << "an ended drain changes no more";
    }
  }
}

TEST(DrainStates, EveryLiveStateIsLeftAndEveryEndReached) {
  std::set<std::string> left, reached;
  for (const auto& t : Transitions()) {
    const std::string prefix = t.subject == Subject::kServer ? "server:" : "drain:";
    left.insert(prefix + std::string(t.from));
    reached.insert(prefix + std::string(t.to));
  }
  for (const auto* s : {"pending", "starting", "moving"}) {
    EXPECT_TRUE(left.count(std::string("server:") + s)) << s;
  }
  for (const auto* s : {"moved", "failed", "skipped", "cancelled"}) {
    EXPECT_TRUE(reached.count(std::string("server:") + s)) << s;
  }
  for (const auto& s : kDrainStatuses) {
    if (kLiveStatuses.count(s)) {
      EXPECT_TRUE(left.count("drain:" + s)) << s;
    } else {
      EXPECT_TRUE(reached.count("drain:" + s)) << s;
    }
  }
}

TEST(DrainStates, NamesAndLookups) {
  EXPECT_EQ(EdgeName({Subject::kServer, "pending", "starting", "intent_saved"}),
            "drain:pending>starting:intent_saved");
  EXPECT_EQ(EdgeName({Subject::kDrain, "running", "paused", "pause"}),
            "drain-status:running>paused:pause");
  EXPECT_TRUE(IsAllowed(Subject::kServer, "starting", "moving", "move_requested"));
  EXPECT_FALSE(IsAllowed(Subject::kServer, "starting", "moved", "moved_elsewhere"))
      << "a half-made start is made again under its key, never taken as moved by another";
  EXPECT_FALSE(IsAllowed(Subject::kDrain, "running", "cancelled", "moves_ended"))
      << "only a cancel ends a drain cancelled";
  EXPECT_FALSE(IsAllowed(Subject::kServer, "pending", "starting", "pause"));
  EXPECT_TRUE(IsServerEnded("skipped"));
  EXPECT_FALSE(IsServerEnded("starting"));
}

}  // namespace
}  // namespace ferry::controller::drains
