// The live-migration state table is closed: every migration that starts can end, nothing leaves
// an end, every status is used, and the flags agree with Nova's API.
#include <gtest/gtest.h>

#include <deque>
#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "controller/conductor/live_migration_states.hpp"

namespace ferry::controller::conductor {
namespace {

using S = LiveMigrationStatus;
using Statuses = std::set<S>;

Statuses Where(bool (*pred)(S)) {
  Statuses out;
  for (auto s : kAllLiveMigrationStatuses)
    if (pred(s)) out.insert(s);
  return out;
}

Statuses Successors(S from) {
  Statuses out;
  for (const auto& t : Transitions())
    if (t.from == from) out.insert(t.to);
  return out;
}

// Breadth-first search over the table.
Statuses ReachableFrom(S start) {
  Statuses seen{start};
  std::deque<S> todo{start};
  while (!todo.empty()) {
    S s = todo.front();
    todo.pop_front();
    for (auto next : Successors(s))
      if (seen.insert(next).second) todo.push_back(next);
  }
  return seen;
}

std::string Name(S s) { return std::string(ToString(s)); }

TEST(LiveMigrationStates, EveryNonTerminalStatusHasAPathToATerminalOne) {
  for (auto s : kAllLiveMigrationStatuses) {
    if (IsTerminal(s)) continue;
    bool reaches_end = false;
    for (auto r : ReachableFrom(s)) reaches_end = reaches_end || IsTerminal(r);
    EXPECT_TRUE(reaches_end) << Name(s) << " can never end";
    EXPECT_FALSE(Successors(s).empty()) << Name(s) << " has no way out";
  }
}

TEST(LiveMigrationStates, EveryNonTerminalStatusCanFail) {
  // A handler in any live status must be able to give up without inventing an edge.
  for (auto s : kAllLiveMigrationStatuses) {
    if (IsTerminal(s)) continue;
    auto next = Successors(s);
    EXPECT_TRUE(next.count(S::kFailed) || next.count(S::kError)) << Name(s);
  }
}

TEST(LiveMigrationStates, TerminalStatusesHaveNoOutgoingEdges) {
  for (const auto& t : Transitions())
    EXPECT_FALSE(IsTerminal(t.from)) << Name(t.from) << " -> " << Name(t.to);
  for (auto s : kAllLiveMigrationStatuses)
    if (IsTerminal(s)) {
      EXPECT_TRUE(Successors(s).empty()) << Name(s);
    }
}

TEST(LiveMigrationStates, EveryStatusIsReachableFromAccepted) {
  EXPECT_EQ(ReachableFrom(S::kAccepted),
            Statuses(kAllLiveMigrationStatuses.begin(), kAllLiveMigrationStatuses.end()));
}

TEST(LiveMigrationStates, NothingLeadsBackToAccepted) {
  for (const auto& t : Transitions()) EXPECT_NE(t.to, S::kAccepted) << t.event;
}

TEST(LiveMigrationStates, NoSelfLoops) {
  // Two events may lead from one status to the same one (a pre-check failure and the retry
  // budget both end an accepted migration in error): the event row says which it was.
  for (const auto& t : Transitions()) EXPECT_NE(t.from, t.to) << Name(t.from);
}

TEST(LiveMigrationStates, TheRetryBudgetCanEndEveryStatusBeforeSwitchOverAndNoneAfter) {
  for (auto s : kAllLiveMigrationStatuses) {
    if (IsTerminal(s)) continue;
    auto t = FindTransition(s, "step_failed");
    if (s == S::kPostMigrating) {
      EXPECT_FALSE(t.has_value()) << "after switch-over finishing is retried, never given up";
      continue;
    }
    ASSERT_TRUE(t.has_value()) << Name(s);
    EXPECT_EQ(t->to, S::kError) << Name(s);
  }
}

TEST(LiveMigrationStates, EachEventNamesOneEdgeFromItsSource) {
  std::set<std::pair<S, std::string>> seen;
  for (const auto& t : Transitions()) {
    EXPECT_FALSE(t.event.empty()) << Name(t.from) << " -> " << Name(t.to);
    EXPECT_TRUE(seen.insert({t.from, std::string(t.event)}).second)
        << Name(t.from) << " has two edges named " << t.event;
    auto found = FindTransition(t.from, t.event);
    ASSERT_TRUE(found.has_value());
    EXPECT_EQ(found->to, t.to);
  }
  EXPECT_FALSE(FindTransition(S::kCompleted, "aborted").has_value());
  EXPECT_FALSE(FindTransition(S::kRunning, "no_such_event").has_value());
}

TEST(LiveMigrationStates, IsAllowedIsExactlyTheTable) {
  std::set<std::pair<S, S>> edges;
  for (const auto& t : Transitions()) edges.insert({t.from, t.to});
  for (auto from : kAllLiveMigrationStatuses)
    for (auto to : kAllLiveMigrationStatuses)
      EXPECT_EQ(IsAllowed(from, to), edges.count({from, to}) == 1)
          << Name(from) << " -> " << Name(to);
}

TEST(LiveMigrationStates, HappyPathFollowsNamedEvents) {
  S s = S::kAccepted;
  for (std::string_view event :
       {"queued", "slot_acquired", "destination_ready", "switched_over", "cleaned_up"}) {
    auto t = FindTransition(s, event);
    ASSERT_TRUE(t.has_value()) << Name(s) << " on " << event;
    s = t->to;
  }
  EXPECT_EQ(s, S::kCompleted);
}

TEST(LiveMigrationStates, FailureEdgesMatchNova) {
  // Pre-checks in the conductor: error. Copy failure before switch-over: rolled back, failed.
  // Past the point of no return: error, never failed or cancelled.
  EXPECT_EQ(FindTransition(S::kAccepted, "precheck_failed")->to, S::kError);
  EXPECT_EQ(FindTransition(S::kQueued, "start_failed")->to, S::kFailed);
  EXPECT_EQ(FindTransition(S::kPreparing, "pre_live_migration_failed")->to, S::kFailed);
  EXPECT_EQ(FindTransition(S::kRunning, "copy_failed")->to, S::kFailed);
  EXPECT_EQ(FindTransition(S::kRunning, "switchover_failed")->to, S::kError);
  EXPECT_EQ(FindTransition(S::kPostMigrating, "cleanup_failed")->to, S::kError);
  EXPECT_FALSE(IsAllowed(S::kPostMigrating, S::kFailed));
  EXPECT_FALSE(IsAllowed(S::kPostMigrating, S::kCancelled));
  EXPECT_FALSE(IsAllowed(S::kPreparing, S::kQueued));
  // No catch-all "failed" out of accepted: the conductor's reasons to give up are pre-checks.
  EXPECT_FALSE(IsAllowed(S::kAccepted, S::kFailed));
}

TEST(LiveMigrationStates, StringsRoundTripForEveryStatus) {
  std::set<std::string_view> names;
  for (auto s : kAllLiveMigrationStatuses) {
    EXPECT_EQ(FromString(ToString(s)), s) << Name(s);
    EXPECT_TRUE(names.insert(ToString(s)).second) << Name(s);
  }
  EXPECT_EQ(ToString(S::kPostMigrating), "post-migrating");
  EXPECT_EQ(ToString(S::kCancelled), "cancelled");
}

TEST(LiveMigrationStates, FromStringRejectsEverythingElse) {
  // Cold-move and evacuation statuses share migration_statuses but are not live statuses.
  for (std::string_view s :
       {"", "Running", "post_migrating", "pre-migrating", "migrating", "finished", "confirming",
        "reverting", "done", "confirmed", "reverted", "running "})
    EXPECT_FALSE(FromString(s).has_value()) << '"' << s << '"';
}

TEST(LiveMigrationStates, AbortableSetIsNova265) {
  EXPECT_EQ(Where(AbortableFrom), (Statuses{S::kQueued, S::kPreparing, S::kRunning}));
  // Every abortable status has its "aborted" edge to cancelled, and only those reach cancelled.
  for (auto s : kAllLiveMigrationStatuses) {
    auto t = FindTransition(s, "aborted");
    EXPECT_EQ(t.has_value(), AbortableFrom(s)) << Name(s);
    if (t) {
      EXPECT_EQ(t->to, S::kCancelled);
    }
    EXPECT_EQ(IsAllowed(s, S::kCancelled), AbortableFrom(s)) << Name(s);
  }
}

TEST(LiveMigrationStates, ForceCompleteOnlyWhileRunning) {
  EXPECT_EQ(Where(ForceCompletableFrom), (Statuses{S::kRunning}));
}

TEST(LiveMigrationStates, FlagsMatchTheSeed) {
  EXPECT_EQ(Where(IsTerminal), (Statuses{S::kCompleted, S::kFailed, S::kError, S::kCancelled}));
  EXPECT_EQ(Where(ApiInProgress),
            (Statuses{S::kQueued, S::kPreparing, S::kRunning, S::kPostMigrating}));
  for (auto s : kAllLiveMigrationStatuses) {
    EXPECT_EQ(HoldsResources(s), !IsTerminal(s)) << Name(s);
    if (ApiInProgress(s)) {
      EXPECT_FALSE(IsTerminal(s)) << Name(s);
    }
  }
}

}  // namespace
}  // namespace ferry::controller::conductor
