// Creating servers through conductor::ServerLifecycle on a real PostgreSQL, with hosts that
// registered through HostRegistry. No agent runs: Create only schedules and claims, and the
// lifecycle's workers are never started. Then the server list's filters and paging.
#include <gtest/gtest.h>

#include <atomic>
#include <latch>
#include <pqxx/pqxx>
#include <thread>

#include "common/errors.hpp"
#include "common/uuid.hpp"
#include "controller/api/server_view.hpp"
#include "controller/conductor/host_registry.hpp"
#include "controller/conductor/server_lifecycle.hpp"
#include "controller/store/aggregates_store.hpp"
#include "controller/store/claims_store.hpp"
#include "controller/store/flavors_store.hpp"
#include "controller/store/hosts_store.hpp"
#include "controller/store/server_groups_store.hpp"
#include "controller/store/servers_store.hpp"
#include "tests/pg/store_test.hpp"

namespace ferry::controller {
namespace {

using conductor::CreateServerRequest;
using store::Server;
using store::Tx;
using Strings = std::vector<std::string>;

const TimePoint kStart = TimePoint(std::chrono::seconds(1'700'000'000));

class ServerLifecycleTest : public store::StoreTest {
 protected:
  void SetUp() override {
    StoreTest::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    registry_ = std::make_unique<conductor::HostRegistry>(*db_, clock_, std::chrono::seconds(10));
    // Port 9 on loopback: nothing listens; never contacted since Start() is not called.
    lifecycle_ = std::make_unique<conductor::ServerLifecycle>(*db_, agents_, clock_, 1);
    small_ = Flavor("m1.small", "2", 1, 2048, 10);
  }

  void RegisterHost(const std::string& name, int64_t memory_mb, int vcpus = 16,
                    int64_t disk_gb = 500) {
    wire::RegisterRequest r;
    r.host = name;
    r.hypervisor_type = "ferry-sim";
    r.hypervisor_version = 1000000;
    r.simulated = true;
    r.command_url = "http://127.0.0.1:9";
    r.vcpus = vcpus;
    r.memory_mb = memory_mb;
    r.local_gb = disk_gb;
    registry_->Register(r);
  }
  store::Host Host(const std::string& name) {
    std::optional<store::Host> h;
    db_->Transact([&](Tx& tx) {
      store::HostFilter f;
      f.name = name;
      h = store::FindHost(tx, f);
    });
    EXPECT_TRUE(h) << name;
    return h.value_or(store::Host{});
  }
  store::Flavor Flavor(const std::string& name, const std::string& id, int vcpus, int64_t ram,
                       int64_t disk) {
    store::Flavor f;
    f.flavorid = id;
    f.name = name;
    f.vcpus = vcpus;
    f.memory_mb = ram;
    f.root_gb = disk;
    store::Flavor out;
    db_->Transact([&](Tx& tx) { out = store::CreateFlavor(tx, f); });
    return out;
  }
  CreateServerRequest Request(const std::string& name, const store::Flavor& flavor) {
    CreateServerRequest r;
    r.name = name;
    r.flavor = flavor;
    r.user_id = "alice";
    r.project_id = "project-a";
    return r;
  }
  Server Create(const std::string& name) { return lifecycle_->Create(Request(name, small_)); }
  std::optional<Server> Find(const std::string& uuid) {
    std::optional<Server> s;
    db_->Transact([&](Tx& tx) { s = store::FindServer(tx, uuid); });
    return s;
  }
  std::vector<Server> List(const store::ServerFilter& f) {
    std::vector<Server> out;
    db_->Transact([&](Tx& tx) { out = store::ListServers(tx, f); });
    return out;
  }
  Strings Names(const store::ServerFilter& f) {
    Strings out;
    for (const auto& s : List(f)) out.push_back(s.name);
    return out;
  }
  store::Resources Claimed(const std::string& uuid) {
    store::Resources r;
    db_->Transact([&](Tx& tx) { r = store::ClaimedBy(tx, uuid); });
    return r;
  }
  int64_t Scalar(const std::string& sql) {
    pqxx::connection c(schema_->dsn());
    pqxx::work w(c);
    return w.exec(sql)[0][0].as<int64_t>();
  }
  void PutInZone(const std::string& host, const std::string& zone) {
    db_->Transact([&](Tx& tx) {
      auto agg = store::CreateAggregate(tx, "agg-" + zone + "-" + host, zone, clock_.Now());
      store::AddAggregateHost(tx, agg.id, Host(host).id, clock_.Now());
    });
  }
  void Disable(const std::string& host) {
    auto id = Host(host).id;
    db_->Transact([&](Tx& tx) {
      store::ServiceUpdate u;
      u.disabled = true;
      store::UpdateService(tx, id, u, clock_.Now());
    });
  }

  ManualClockForTest clock_{kStart};
  agent_client::HttpAgentClient agents_{"unused-token", std::chrono::seconds(1)};
  std::unique_ptr<conductor::HostRegistry> registry_;
  std::unique_ptr<conductor::ServerLifecycle> lifecycle_;
  store::Flavor small_;
};

// ---- placement -----------------------------------------------------------------------------

TEST_F(ServerLifecycleTest, CreatePlacesTheServerOnTheHostWithMoreFreeRamAndClaimsIt) {
  RegisterHost("small-host", 8192);
  RegisterHost("big-host", 16384);
  auto s = Create("web-1");
  EXPECT_EQ(s.host, "big-host");
  EXPECT_EQ(s.node, "big-host");
  EXPECT_EQ(s.vm_state, "building");
  EXPECT_EQ(s.task_state, "spawning");
  EXPECT_FALSE(s.fault);
  EXPECT_EQ(s.availability_zone, store::kDefaultAvailabilityZone);

  auto stored = Find(s.uuid);
  ASSERT_TRUE(stored);
  EXPECT_EQ(stored->name, "web-1");
  EXPECT_EQ(stored->host, "big-host");
  EXPECT_EQ(stored->host_id, Host("big-host").id);
  EXPECT_EQ(stored->vm_state, "building");
  EXPECT_EQ(stored->task_state, "spawning");
  EXPECT_EQ(stored->flavorid, "2");
  EXPECT_EQ(stored->flavor_name, "m1.small");
  EXPECT_EQ(stored->flavor_id, small_.id);
  EXPECT_EQ(stored->memory_mb, 2048);
  EXPECT_EQ(stored->user_id, "alice");
  EXPECT_EQ(stored->project_id, "project-a");
  EXPECT_EQ(stored->created_at, kStart);

  auto claimed = Claimed(s.uuid);
  EXPECT_EQ(claimed.vcpus, 1);
  EXPECT_EQ(claimed.memory_mb, 2048);
  EXPECT_EQ(claimed.disk_gb, 10);
  EXPECT_EQ(Host("big-host").memory_mb_used, 2048);
  EXPECT_EQ(Host("small-host").memory_mb_used, 0);
}

TEST_F(ServerLifecycleTest, ClaimsOfEarlierServersSteerLaterOnes) {
  RegisterHost("a-host", 8192);
  RegisterHost("b-host", 6144);
  auto big = Flavor("m1.medium", "3", 1, 4096, 10);
  Strings placed;
  for (int i = 0; i < 4; ++i) {
    auto s = lifecycle_->Create(Request("vm-" + std::to_string(i), big));
    placed.push_back(s.host.value_or(s.vm_state));
  }
  // 8192/6144 -> a; 4096/6144 -> b; 4096/2048 -> a; 0/2048 -> nothing fits.
  EXPECT_EQ(placed, (Strings{"a-host", "b-host", "a-host", "error"}));
}

TEST_F(ServerLifecycleTest, CreateHonoursTheAvailabilityZone) {
  RegisterHost("small-host", 8192);
  RegisterHost("big-host", 16384);
  PutInZone("small-host", "az1");
  auto r = Request("zoned", small_);
  r.availability_zone = "az1";
  auto s = lifecycle_->Create(r);
  EXPECT_EQ(s.host, "small-host");
  EXPECT_EQ(s.availability_zone, "az1");
  EXPECT_EQ(Find(s.uuid)->availability_zone, "az1");
}

TEST_F(ServerLifecycleTest, ServerWithoutAZTakesItsHostsZone) {
  RegisterHost("only-host", 8192);
  PutInZone("only-host", "az7");
  auto s = Create("unzoned");
  EXPECT_EQ(s.host, "only-host");
  EXPECT_EQ(Find(s.uuid)->availability_zone, "az7");
}

TEST_F(ServerLifecycleTest, ZoneWithoutRoomIsNoValidHostEvenIfOtherZonesHaveRoom) {
  RegisterHost("small-host", 1024);
  RegisterHost("big-host", 16384);
  PutInZone("small-host", "az1");
  auto r = Request("zoned", small_);
  r.availability_zone = "az1";
  auto s = lifecycle_->Create(r);
  EXPECT_EQ(s.vm_state, "error");
  EXPECT_FALSE(s.host);
}

TEST_F(ServerLifecycleTest, ForcedHostIsUsedEvenWhenAnotherHostHasMoreRam) {
  RegisterHost("small-host", 8192);
  RegisterHost("big-host", 16384);
  auto r = Request("forced", small_);
  r.forced_host = "small-host";
  auto s = lifecycle_->Create(r);
  EXPECT_EQ(s.host, "small-host");
  EXPECT_EQ(Claimed(s.uuid).memory_mb, 2048);
}

TEST_F(ServerLifecycleTest, ForcedHostSkipsTheFiltersButNotTheClaim) {
  RegisterHost("small-host", 4096);
  Disable("small-host");
  auto r = Request("forced", small_);
  r.forced_host = "small-host";
  EXPECT_EQ(lifecycle_->Create(r).host, "small-host") << "Nova: a forced host bypasses filters";
  EXPECT_EQ(lifecycle_->Create(r).host, "small-host");
  auto full = lifecycle_->Create(r);
  EXPECT_EQ(full.vm_state, "error");
  ASSERT_TRUE(full.fault);
  EXPECT_NE((*full.fault)["message"].get<std::string>().find("small-host"), std::string::npos);
  EXPECT_EQ(Claimed(full.uuid).memory_mb, 0);
}

TEST_F(ServerLifecycleTest, DisabledHostsAreNotChosen) {
  RegisterHost("small-host", 8192);
  RegisterHost("big-host", 16384);
  Disable("big-host");
  EXPECT_EQ(Create("vm").host, "small-host");
}

TEST_F(ServerLifecycleTest, FullClusterYieldsAnErrorServerWithNoValidHostAndNoClaims) {
  RegisterHost("small-host", 8192);
  RegisterHost("big-host", 16384);
  auto huge = Flavor("m1.huge", "9", 4, 65536, 10);
  clock_.Advance(std::chrono::seconds(5));
  auto s = lifecycle_->Create(Request("too-big", huge));
  EXPECT_EQ(s.vm_state, "error");
  EXPECT_FALSE(s.task_state);
  EXPECT_FALSE(s.host);
  ASSERT_TRUE(s.fault);

  auto stored = Find(s.uuid);
  ASSERT_TRUE(stored);
  EXPECT_EQ(stored->vm_state, "error");
  EXPECT_FALSE(stored->host_id);
  EXPECT_FALSE(stored->task_state);
  ASSERT_TRUE(stored->fault);
  const auto& fault = *stored->fault;
  EXPECT_EQ(fault["code"], 500);
  std::string message = fault["message"];
  EXPECT_EQ(message.rfind("No valid host was found", 0), 0u) << message;
  EXPECT_NE(message.find("CapacityFilter rejected 2 host(s)"), std::string::npos) << message;
  EXPECT_EQ(fault["created"], "2023-11-14T22:13:25.000000");
  EXPECT_EQ(api::ServerStatus(*stored), "ERROR");

  EXPECT_EQ(Scalar("SELECT count(*) FROM claims"), 0);
  EXPECT_EQ(Host("big-host").memory_mb_used, 0);
}

TEST_F(ServerLifecycleTest, NoHostsAtAllIsNoValidHost) {
  auto s = Create("lonely");
  EXPECT_EQ(s.vm_state, "error");
  ASSERT_TRUE(s.fault);
  EXPECT_EQ((*s.fault)["message"].get<std::string>().rfind("No valid host was found", 0), 0u);
}

TEST_F(ServerLifecycleTest, VolumeBackedServerClaimsNoLocalDisk) {
  RegisterHost("tiny-disk", 8192, 16, 5);
  auto r = Request("from-volume", small_);  // root_gb 10 > 5
  r.storage_kind = "volume";
  auto s = lifecycle_->Create(r);
  EXPECT_EQ(s.host, "tiny-disk");
  EXPECT_EQ(Claimed(s.uuid).disk_gb, 0);
  EXPECT_EQ(lifecycle_->Create(Request("local-disk", small_)).vm_state, "error");
}

// Many API requests at once: the claims decide, a lost race moves on to the next host, and
// nothing is overcommitted. Each host has room for exactly 2 servers.
TEST_F(ServerLifecycleTest, ConcurrentCreatesFillTheClusterExactly) {
  RegisterHost("host-a", 4096);
  RegisterHost("host-b", 4096);
  constexpr int kRequests = 8;
  std::latch start(kRequests);
  std::vector<Server> results(kRequests);
  std::vector<std::string> errors(kRequests);
  std::vector<std::thread> threads;
  for (int i = 0; i < kRequests; ++i) {
    threads.emplace_back([&, i] {
      start.arrive_and_wait();
      try {
        results[i] = Create("race-" + std::to_string(i));
      } catch (const std::exception& e) {
        errors[i] = e.what();
      }
    });
  }
  for (auto& t : threads) t.join();
  int building = 0, errored = 0;
  for (int i = 0; i < kRequests; ++i) {
    EXPECT_EQ(errors[i], "") << "request " << i;
    if (results[i].vm_state == "building") ++building;
    if (results[i].vm_state == "error") ++errored;
  }
  EXPECT_EQ(building, 4);
  EXPECT_EQ(errored, 4);
  EXPECT_EQ(Host("host-a").memory_mb_used, 4096);
  EXPECT_EQ(Host("host-b").memory_mb_used, 4096);
}

// ---- listing -------------------------------------------------------------------------------

TEST_F(ServerLifecycleTest, NameFilterIsARegularExpression) {
  RegisterHost("h", 65536);
  for (const char* n : {"web-1", "web-2", "db-1", "my-web"}) Create(n);
  store::ServerFilter f;
  f.name_regex = "^web";
  auto names = Names(f);
  std::sort(names.begin(), names.end());
  EXPECT_EQ(names, (Strings{"web-1", "web-2"}));
  f.name_regex = "web";
  EXPECT_EQ(Names(f).size(), 3u);
  f.name_regex = "-1$";
  EXPECT_EQ(Names(f).size(), 2u);
}

TEST_F(ServerLifecycleTest, InvalidNameRegexIsBadRequest) {
  RegisterHost("h", 65536);
  Create("web-1");
  store::ServerFilter f;
  f.name_regex = "web-(";
  try {
    List(f);
    FAIL() << "invalid regular expression accepted";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), Errc::kBadRequest);
  }
}

TEST_F(ServerLifecycleTest, StatusFilterSelectsThroughVmAndTaskStates) {
  RegisterHost("h", 8192);
  auto active = Create("active-1");
  auto migrating = Create("migrating-1");
  auto building = Create("building-1");
  auto huge = Flavor("m1.huge", "9", 1, 65536, 1);
  auto failed = lifecycle_->Create(Request("error-1", huge));
  ASSERT_EQ(failed.vm_state, "error");
  db_->Transact([&](Tx& tx) {
    ASSERT_TRUE(
        store::CasTaskState(tx, active.uuid, std::string("spawning"), std::nullopt, clock_.Now()));
    store::MarkServerActive(tx, active.uuid, 1, clock_.Now());
    ASSERT_TRUE(store::CasTaskState(tx, migrating.uuid, std::string("spawning"), std::nullopt,
                                    clock_.Now()));
    store::MarkServerActive(tx, migrating.uuid, 1, clock_.Now());
    ASSERT_TRUE(store::CasTaskState(tx, migrating.uuid, std::nullopt, std::string("migrating"),
                                    clock_.Now()));
  });
  auto names_for = [&](const std::string& status) {
    auto sf = api::FilterForStatus(status);
    EXPECT_TRUE(sf) << status;
    store::ServerFilter f;
    f.vm_states = sf->vm_states;
    f.task_states = sf->task_states;
    auto names = Names(f);
    std::sort(names.begin(), names.end());
    return names;
  };
  EXPECT_EQ(names_for("ERROR"), Strings{"error-1"});
  EXPECT_EQ(names_for("BUILD"), Strings{"building-1"});
  EXPECT_EQ(names_for("MIGRATING"), Strings{"migrating-1"});
  EXPECT_EQ(names_for("ACTIVE"), (Strings{"active-1", "migrating-1"}))
      << "Nova: ACTIVE has no task filter";
  EXPECT_TRUE(names_for("SHUTOFF").empty());
}

TEST_F(ServerLifecycleTest, CasTaskStateOnlyMovesFromTheExpectedTask) {
  RegisterHost("h", 8192);
  auto s = Create("vm");
  db_->Transact([&](Tx& tx) {
    EXPECT_FALSE(
        store::CasTaskState(tx, s.uuid, std::nullopt, std::string("deleting"), clock_.Now()));
    EXPECT_FALSE(
        store::CasTaskState(tx, s.uuid, std::string("migrating"), std::nullopt, clock_.Now()));
    EXPECT_TRUE(store::CasTaskState(tx, s.uuid, std::string("spawning"), std::string("deleting"),
                                    clock_.Now()));
  });
  EXPECT_EQ(Find(s.uuid)->task_state, "deleting");
}

TEST_F(ServerLifecycleTest, ListIsNewestFirstAndMarkerPagesThroughInOrder) {
  RegisterHost("h", 65536);
  Strings created;
  for (int i = 0; i < 7; ++i) {
    created.push_back(Create("vm-" + std::to_string(i)).uuid);
    clock_.Advance(std::chrono::seconds(1));
  }
  Strings newest_first(created.rbegin(), created.rend());

  store::ServerFilter all;
  Strings listed;
  for (const auto& s : List(all)) listed.push_back(s.uuid);
  EXPECT_EQ(listed, newest_first);

  Strings paged;
  store::ServerFilter page;
  page.limit = 3;
  for (int guard = 0; guard < 10; ++guard) {
    auto batch = List(page);
    for (const auto& s : batch) paged.push_back(s.uuid);
    if (batch.size() < 3) break;
    page.marker = batch.back().uuid;
  }
  EXPECT_EQ(paged, newest_first);
}

TEST_F(ServerLifecycleTest, ServersCreatedInTheSameInstantPageWithoutGapsOrRepeats) {
  RegisterHost("h", 65536);
  Strings created;
  for (int i = 0; i < 5; ++i) created.push_back(Create("same-" + std::to_string(i)).uuid);
  Strings newest_first(created.rbegin(), created.rend());  // ties: higher id first
  Strings paged;
  store::ServerFilter page;
  page.limit = 2;
  for (int guard = 0; guard < 10; ++guard) {
    auto batch = List(page);
    for (const auto& s : batch) paged.push_back(s.uuid);
    if (batch.size() < 2) break;
    page.marker = batch.back().uuid;
  }
  EXPECT_EQ(paged, newest_first);
}

TEST_F(ServerLifecycleTest, MarkerOfTheLastServerGivesAnEmptyPageAndUnknownMarkerIsDetectable) {
  RegisterHost("h", 65536);
  auto oldest = Create("first");
  clock_.Advance(std::chrono::seconds(1));
  Create("second");
  store::ServerFilter f;
  f.marker = oldest.uuid;
  EXPECT_TRUE(List(f).empty());
  db_->Transact([&](Tx& tx) {
    EXPECT_TRUE(store::ServerExists(tx, oldest.uuid));
    EXPECT_FALSE(store::ServerExists(tx, "00000000-0000-4000-8000-000000000000"));
  });
}

TEST_F(ServerLifecycleTest, FiltersCombineWithHostAndProject) {
  RegisterHost("small-host", 8192);
  RegisterHost("big-host", 16384);
  auto r = Request("other-project", small_);
  r.project_id = "project-b";
  lifecycle_->Create(r);
  auto forced = Request("on-small", small_);
  forced.forced_host = "small-host";
  lifecycle_->Create(forced);
  store::ServerFilter f;
  f.project_id = "project-b";
  EXPECT_EQ(Names(f), Strings{"other-project"});
  f = {};
  f.host = "small-host";
  EXPECT_EQ(Names(f), Strings{"on-small"});
}

// ---- the shared host snapshot and server groups ---------------------------------------------

class ServerLifecycleSnapshotTest : public ServerLifecycleTest {
 protected:
  void SetUp() override {
    ServerLifecycleTest::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    snapshot_ = std::make_unique<conductor::HostSnapshot>(*db_, clock_);
    lifecycle_ = std::make_unique<conductor::ServerLifecycle>(*db_, agents_, clock_, 1, *snapshot_);
  }
  std::string Group(const std::string& policy, nlohmann::json rules = nlohmann::json::object()) {
    store::ServerGroup g;
    g.uuid = NewUuid();
    g.name = policy + "-group";
    g.policy = policy;
    g.rules = std::move(rules);
    g.user_id = "alice";
    g.project_id = "project-a";
    g.created_at = clock_.Now();
    db_->Transact([&](Tx& tx) { store::InsertServerGroup(tx, g); });
    return g.uuid;
  }
  Server CreateInGroup(const std::string& name, const std::string& group) {
    auto r = Request(name, small_);
    r.group_uuid = group;
    return lifecycle_->Create(r);
  }
  std::unique_ptr<conductor::HostSnapshot> snapshot_;
};

TEST_F(ServerLifecycleSnapshotTest, EachCreateSeesThePreviousClaimWithoutAnyTick) {
  RegisterHost("a", 8192);
  RegisterHost("b", 8192);
  snapshot_->Tick();
  // No Tick between creates: only MarkDirty after each commit keeps the snapshot current, so
  // the spread alternates instead of piling onto the host the stale view prefers.
  Strings hosts;
  for (int i = 0; i < 4; ++i) hosts.push_back(*Create("s" + std::to_string(i)).host);
  EXPECT_EQ(hosts, (Strings{"a", "b", "a", "b"}));
  EXPECT_EQ(snapshot_->Current()->Find("a")->free_memory_mb, 8192 - 2 * 2048);
}

TEST_F(ServerLifecycleSnapshotTest, AStaleSnapshotOnlyCostsALostClaim) {
  RegisterHost("a", 4096);
  RegisterHost("b", 2048);
  snapshot_->Tick();
  // Another controller fills a; our snapshot still shows it empty and ranks it first.
  db_->Transact([&](Tx& tx) {
    ASSERT_TRUE(
        store::ClaimIfFits(tx, "99999999-9999-4999-8999-999999999999", Host("a").id, {1, 4096, 0}));
  });
  auto s = Create("web");
  EXPECT_EQ(s.host, "b");
  EXPECT_EQ(Claimed(s.uuid).memory_mb, 2048);
}

TEST_F(ServerLifecycleSnapshotTest, AntiAffinityGroupMembersGetDistinctHostsThenNoValidHost) {
  RegisterHost("a", 16384);
  RegisterHost("b", 8192);
  const auto group = Group("anti-affinity");
  auto first = CreateInGroup("m1", group);
  auto second = CreateInGroup("m2", group);
  EXPECT_EQ(first.host, "a");
  EXPECT_EQ(second.host, "b") << "a still has more free RAM, but holds a member";
  auto third = CreateInGroup("m3", group);
  EXPECT_EQ(third.vm_state, "error");
  EXPECT_NE(third.fault->dump().find("ServerGroupAntiAffinityFilter rejected 2 host(s)"),
            std::string::npos)
      << third.fault->dump();
  db_->Transact([&](Tx& tx) {
    auto g = store::FindServerGroup(tx, group);
    ASSERT_TRUE(g);
    EXPECT_EQ(g->members.size(), 3u) << "members join in the create transaction, as in Nova";
    EXPECT_EQ(store::AntiAffinityHosts(tx, first.uuid), std::set<std::string>{"b"});
  });
}

TEST_F(ServerLifecycleSnapshotTest, MaxServerPerHostRuleAllowsThatManyMembersPerHost) {
  RegisterHost("a", 16384);
  RegisterHost("b", 4096);
  const auto group = Group("anti-affinity", {{"max_server_per_host", 2}});
  EXPECT_EQ(CreateInGroup("m1", group).host, "a");
  EXPECT_EQ(CreateInGroup("m2", group).host, "a");
  EXPECT_EQ(CreateInGroup("m3", group).host, "b");
}

TEST_F(ServerLifecycleSnapshotTest, AffinityGroupKeepsMembersTogether) {
  RegisterHost("a", 8192);
  RegisterHost("b", 8192);
  const auto group = Group("affinity");
  const auto first = CreateInGroup("m1", group);
  ASSERT_TRUE(first.host);
  EXPECT_EQ(CreateInGroup("m2", group).host, first.host);
  EXPECT_EQ(CreateInGroup("m3", group).host, first.host);
}

TEST_F(ServerLifecycleSnapshotTest, SoftAntiAffinityNeverRefuses) {
  RegisterHost("a", 16384);
  const auto group = Group("soft-anti-affinity");
  EXPECT_EQ(CreateInGroup("m1", group).host, "a");
  EXPECT_EQ(CreateInGroup("m2", group).host, "a");
}

TEST_F(ServerLifecycleSnapshotTest, UnknownGroupIsABadRequestAndCreatesNothing) {
  RegisterHost("a", 8192);
  try {
    CreateInGroup("orphan", "6b0a9d2e-0000-4000-8000-000000000001");
    FAIL() << "expected kBadRequest";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), Errc::kBadRequest);
  }
  EXPECT_EQ(Scalar("SELECT count(*) FROM servers"), 0);
}

}  // namespace
}  // namespace ferry::controller
