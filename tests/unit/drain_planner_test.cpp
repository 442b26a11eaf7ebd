// The drain planner (controller/drains/planner): pure, so every rule is checked on a small
// cluster built here: nothing overcommitted, anti-affinity kept within the plan, the kind of
// move per mode (and evacuation of a down host), the order and start times under max_parallel,
// target hosts and hosts to avoid, and who is left with the reason.
#include <gtest/gtest.h>

#include <map>
#include <set>

#include "controller/drains/planner.hpp"

namespace ferry::controller::drains {
namespace {

using scheduler::HostIndex;
using scheduler::HostState;

HostState Host(const std::string& name, int64_t vcpus, int64_t memory_mb, int64_t disk_gb) {
  static int64_t next_id = 1;
  HostState h;
  h.id = next_id++;
  h.name = name;
  h.cell = "cell1";
  h.hypervisor_type = "QEMU";
  h.hypervisor_version = 8000000;
  h.up = true;
  h.enabled = true;
  h.availability_zone = "nova";
  h.free_vcpus = vcpus;
  h.free_memory_mb = memory_mb;
  h.free_disk_gb = disk_gb;
  return h;
}

ServerFacts Server(const std::string& name, int64_t memory_mb,
                   const std::string& vm_state = "active") {
  ServerFacts s;
  s.uuid = name;
  s.name = name;
  s.vcpus = 1;
  s.memory_mb = memory_mb;
  s.root_gb = 10;
  s.vm_state = vm_state;
  return s;
}

class Planner : public ::testing::Test {
 protected:
  Plan PlanOf(std::vector<HostState> others, std::vector<ServerFacts> servers,
              PlanRequest request = {}) {
    auto source = Host("src", 64, 65536, 1000);
    others.push_back(source);
    request.host = "src";
    const HostIndex index(others);
    return MakePlan(scheduler_, index, source, request, std::move(servers));
  }
  static std::map<std::string, std::string> Dests(const Plan& plan) {
    std::map<std::string, std::string> out;
    for (const auto& s : plan.servers) out[s.name] = s.dest.value_or("");
    return out;
  }
  scheduler::Scheduler scheduler_;
};

TEST_F(Planner, NeverPutsMoreOnAHostThanItHasAndNamesWhoIsLeft) {
  // Room for two 1 GB servers on each of two hosts: of five, four move and one is left.
  auto plan = PlanOf({Host("a", 8, 2048, 100), Host("b", 8, 2048, 100)},
                     {Server("s1", 1024), Server("s2", 1024), Server("s3", 1024),
                      Server("s4", 1024), Server("s5", 1024)});
  EXPECT_FALSE(plan.fits);
  std::map<std::string, int> per_host;
  int left = 0;
  for (const auto& s : plan.servers) {
    if (s.dest) {
      ++per_host[*s.dest];
      EXPECT_NE(*s.dest, "src");
    } else {
      ++left;
      ASSERT_TRUE(s.reason);
      EXPECT_NE(s.reason->find("No valid host"), std::string::npos) << *s.reason;
    }
  }
  EXPECT_EQ(left, 1);
  EXPECT_EQ(per_host, (std::map<std::string, int>{{"a", 2}, {"b", 2}}));
}

TEST_F(Planner, MembersOfAnAntiAffinityGroupGoToDifferentHosts) {
  std::vector<ServerFacts> servers;
  for (int i = 0; i < 3; ++i) {
    auto s = Server("g" + std::to_string(i), 512);
    s.anti_affinity_group = 7;
    servers.push_back(s);
  }
  auto plan =
      PlanOf({Host("a", 8, 8192, 100), Host("b", 8, 8192, 100), Host("c", 8, 8192, 100)}, servers);
  EXPECT_TRUE(plan.fits);
  std::set<std::string> hosts;
  for (const auto& s : plan.servers) hosts.insert(s.dest.value_or(""));
  EXPECT_EQ(hosts, (std::set<std::string>{"a", "b", "c"}));
}

TEST_F(Planner, TheKindFollowsTheModeAndADownHostIsEvacuated) {
  const std::vector<HostState> hosts = {Host("a", 8, 8192, 100)};
  std::vector<ServerFacts> servers = {Server("run", 512), Server("off", 512, "stopped")};
  PlanRequest auto_mode;
  auto plan = PlanOf(hosts, servers, auto_mode);
  std::map<std::string, std::string> kinds;
  for (const auto& s : plan.servers) kinds[s.name] = s.kind;
  EXPECT_EQ(kinds, (std::map<std::string, std::string>{{"run", "live"}, {"off", "cold"}}));

  PlanRequest live;
  live.mode = "live";
  plan = PlanOf(hosts, servers, live);
  for (const auto& s : plan.servers) {
    if (s.name == "off") {
      EXPECT_FALSE(s.dest) << "a stopped server cannot move live";
      EXPECT_NE(s.reason.value_or("").find("mode cold or auto"), std::string::npos);
    }
  }

  PlanRequest down;
  down.host_down = true;
  auto image = Server("image", 512);
  image.has_image = true;
  auto bare = Server("bare", 512);  // local disks, no image
  auto shared = Server("shared", 512);
  shared.storage_kind = "shared";
  plan = PlanOf(hosts, {image, bare, shared}, down);
  for (const auto& s : plan.servers) {
    EXPECT_EQ(s.kind, "evacuate");
    EXPECT_EQ(s.bytes, 0) << "an evacuation copies nothing";
    EXPECT_EQ(s.dest.has_value(), s.name != "bare") << s.name;
  }
}

TEST_F(Planner, BiggestFirstAndStartTimesFollowMaxParallel) {
  PlanRequest r;
  r.max_parallel = 2;
  r.link_mibps = 1024;  // 1 GiB/s: a 1 GiB move takes 1 s
  auto small = Server("small", 1024);
  small.storage_kind = "volume";  // live: memory only
  auto mid = Server("mid", 2048);
  mid.storage_kind = "volume";
  auto big = Server("big", 3072);
  big.storage_kind = "volume";
  auto plan = PlanOf({Host("a", 8, 65536, 100)}, {small, mid, big}, r);
  ASSERT_EQ(plan.servers.size(), 3u);
  EXPECT_EQ(plan.servers[0].name, "big");
  EXPECT_EQ(plan.servers[1].name, "mid");
  EXPECT_EQ(plan.servers[2].name, "small");
  EXPECT_DOUBLE_EQ(plan.servers[0].predicted_seconds, 3.0);
  EXPECT_DOUBLE_EQ(plan.servers[0].starts_after_seconds, 0.0);
  EXPECT_DOUBLE_EQ(plan.servers[1].starts_after_seconds, 0.0);
  EXPECT_DOUBLE_EQ(plan.servers[2].starts_after_seconds, 2.0) << "after mid's lane frees";
  EXPECT_DOUBLE_EQ(plan.predicted_seconds, 3.0);
}

// What is really copied and how fast it may go: a local disk as its host reports it (an adopted
// guest's disk need not be its flavor's), and the hypervisor's own bandwidth caps per kind.
TEST_F(Planner, PredictionsUseReportedDisksAndTheHypervisorsCaps) {
  PlanRequest r;
  r.link_mibps = 1024;
  r.live_cap_mibps = 256;  // --live-migration-bandwidth below the link
  auto reported = Server("reported", 1024);
  reported.root_gb = 10;
  reported.local_disk_bytes = int64_t{64} << 20;  // what kvm-1 says the disk is
  auto flavored = Server("flavored", 1024);
  flavored.root_gb = 1;  // never reported: the flavor's root disk
  auto plan = PlanOf({Host("a", 8, 65536, 100)}, {reported, flavored}, r);
  ASSERT_EQ(plan.servers.size(), 2u);
  for (const auto& s : plan.servers) {
    const int64_t disk = s.name == "reported" ? int64_t{64} << 20 : int64_t{1} << 30;
    EXPECT_EQ(s.bytes, (int64_t{1024} << 20) + disk) << s.name;
    EXPECT_DOUBLE_EQ(s.predicted_seconds, static_cast<double>(s.bytes) / (256.0 * (1 << 20)))
        << s.name << ": the live cap, not the link";
  }
  PlanRequest cold = r;
  cold.mode = "cold";
  cold.cold_cap_mibps = 2048;  // above the link: the link bounds it
  plan = PlanOf({Host("a", 8, 65536, 100)}, {flavored}, cold);
  ASSERT_EQ(plan.servers.size(), 1u);
  EXPECT_EQ(plan.servers[0].kind, "cold");
  EXPECT_DOUBLE_EQ(plan.servers[0].predicted_seconds, 1.0) << "1 GiB at the 1 GiB/s link";
}

TEST_F(Planner, TargetHostsAndHostsToAvoidAreRespected) {
  const std::vector<HostState> hosts = {Host("a", 8, 65536, 100), Host("b", 8, 65536, 100),
                                        Host("c", 8, 65536, 100)};
  PlanRequest only_c;
  only_c.target_hosts = {"c"};
  for (const auto& [name, dest] :
       Dests(PlanOf(hosts, {Server("x", 512), Server("y", 512)}, only_c))) {
    EXPECT_EQ(dest, "c") << name;
  }
  PlanRequest avoid;
  avoid.avoid_hosts = {"a", "b"};
  for (const auto& [name, dest] : Dests(PlanOf(hosts, {Server("x", 512)}, avoid))) {
    EXPECT_EQ(dest, "c") << name;
  }
}

TEST_F(Planner, ABusyServerIsLeftWithItsTask) {
  auto s = Server("busy", 512);
  s.task_state = "migrating";
  auto plan = PlanOf({Host("a", 8, 8192, 100)}, {s});
  EXPECT_FALSE(plan.fits);
  EXPECT_EQ(plan.servers[0].reason.value_or(""), "busy: task_state migrating");
}

}  // namespace
}  // namespace ferry::controller::drains
