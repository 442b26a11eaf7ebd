// The Keystone validation cache: how long an answer is trusted, what is never trusted, and its
// bound. Time moves by the injected clock, never by sleeping.
#include <gtest/gtest.h>

#include "controller/auth/token_cache.hpp"

namespace ferry::controller::auth {
namespace {

using namespace std::chrono_literals;

const TimePoint kStart = TimePoint(std::chrono::hours(24 * 365 * 56));

Principal Member(const std::string& project) {
  return Principal(Role::kMember, "alice", project, "user-alice");
}

TEST(TokenCache, AnswersFromMemoryUntilTheTtl) {
  ManualClockForTest clock(kStart);
  TokenCache cache({.ttl = 300s, .max_entries = 10}, clock);
  EXPECT_FALSE(cache.Find("tok-a").has_value()) << "nothing cached yet: Keystone must be asked";
  cache.Put("tok-a", Member("p1"), kStart + 1h);
  auto hit = cache.Find("tok-a");
  ASSERT_TRUE(hit && hit->principal);
  EXPECT_EQ(hit->principal->project_id, "p1");
  EXPECT_EQ(hit->principal->user_id, "user-alice");
  clock.Advance(299s);
  EXPECT_TRUE(cache.Find("tok-a").has_value());
  clock.Advance(1s);
  EXPECT_FALSE(cache.Find("tok-a").has_value()) << "aged out: a revocation is seen from now on";
  EXPECT_EQ(cache.size(), 0u);
}

TEST(TokenCache, RefusalIsKeptForTheTtl) {
  ManualClockForTest clock(kStart);
  TokenCache cache({.ttl = 300s, .max_entries = 10}, clock);
  cache.PutRefusal("garbage");
  auto hit = cache.Find("garbage");
  ASSERT_TRUE(hit.has_value()) << "a refusal answers from memory: no Keystone call per request";
  EXPECT_FALSE(hit->principal.has_value());
  clock.Advance(300s);
  EXPECT_FALSE(cache.Find("garbage").has_value()) << "aged out: Keystone is asked again";
  TokenCache off({.ttl = 0s, .max_entries = 10}, clock);
  off.PutRefusal("garbage");
  EXPECT_FALSE(off.Find("garbage").has_value()) << "--keystone-cache-seconds 0 keeps nothing";
}

TEST(TokenCache, ExpiredTokenIsRefusedEvenWhenCached) {
  ManualClockForTest clock(kStart);
  TokenCache cache({.ttl = 300s, .max_entries = 10}, clock);
  cache.Put("tok-short", Member("p1"), kStart + 10s);
  clock.Advance(9s);
  ASSERT_TRUE(cache.Find("tok-short") && cache.Find("tok-short")->principal);
  clock.Advance(1s);
  auto at_expiry = cache.Find("tok-short");
  ASSERT_TRUE(at_expiry.has_value()) << "an expired token needs no Keystone call to be refused";
  EXPECT_FALSE(at_expiry->principal.has_value());
}

TEST(TokenCache, AlreadyExpiredAnswerIsNotKept) {
  ManualClockForTest clock(kStart);
  TokenCache cache({.ttl = 300s, .max_entries = 10}, clock);
  cache.Put("tok-old", Member("p1"), kStart - 1s);
  EXPECT_EQ(cache.size(), 0u);
  EXPECT_FALSE(cache.Find("tok-old").has_value());
}

TEST(TokenCache, EvictsTheOldestAtTheBound) {
  ManualClockForTest clock(kStart);
  TokenCache cache({.ttl = 300s, .max_entries = 3}, clock);
  for (const char* t : {"t1", "t2", "t3", "t4"}) {
    cache.Put(t, Member(t), kStart + 1h);
    clock.Advance(1s);
  }
  EXPECT_EQ(cache.size(), 3u);
  EXPECT_FALSE(cache.Find("t1").has_value()) << "the oldest entry made room";
  for (const char* t : {"t2", "t3", "t4"}) {
    auto hit = cache.Find(t);
    ASSERT_TRUE(hit && hit->principal) << t;
    EXPECT_EQ(hit->principal->project_id, t);
  }
}

TEST(TokenCache, PutAgainReplacesAndRenews) {
  ManualClockForTest clock(kStart);
  TokenCache cache({.ttl = 100s, .max_entries = 10}, clock);
  cache.Put("tok", Member("p1"), kStart + 1h);
  clock.Advance(90s);
  cache.Put("tok", Principal(Role::kReader, "alice", "p1", "user-alice"), kStart + 1h);
  clock.Advance(50s);
  auto hit = cache.Find("tok");
  ASSERT_TRUE(hit && hit->principal) << "the second answer lives its own ttl";
  EXPECT_EQ(hit->principal->role, Role::kReader);
  EXPECT_EQ(cache.size(), 1u);
}

TEST(TokenCache, DistinctTokensDoNotShareEntries) {
  ManualClockForTest clock(kStart);
  TokenCache cache({.ttl = 300s, .max_entries = 10}, clock);
  cache.Put("tok-p1", Member("p1"), kStart + 1h);
  EXPECT_FALSE(cache.Find("tok-p2").has_value());
  EXPECT_FALSE(cache.Find("tok-p").has_value());
  EXPECT_FALSE(cache.Find("").has_value());
}

}  // namespace
}  // namespace ferry::controller::auth
