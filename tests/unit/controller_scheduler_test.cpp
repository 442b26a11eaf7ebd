// The scheduler: each filter on its own and in the pipeline, the RAM weigher's order, the
// "No valid host" message, and free capacity as the conductor derives it (ToHostState).
#include <gtest/gtest.h>

#include <algorithm>

#include "controller/conductor/server_placement.hpp"
#include "controller/scheduler/filters.hpp"
#include "controller/scheduler/scheduler.hpp"

namespace ferry::controller::scheduler {
namespace {

HostState Host(const std::string& name, int64_t free_ram = 8192) {
  HostState h;
  h.id = static_cast<int64_t>(std::hash<std::string>{}(name) % 100000);
  h.name = name;
  h.cell = "cell1";
  h.hypervisor_type = "QEMU";
  h.enabled = true;
  h.up = true;
  h.availability_zone = "nova";
  h.free_vcpus = 16;
  h.free_memory_mb = free_ram;
  h.free_disk_gb = 100;
  return h;
}

RequestSpec Need(int64_t vcpus, int64_t memory_mb, int64_t disk_gb) {
  RequestSpec s;
  s.vcpus = vcpus;
  s.memory_mb = memory_mb;
  s.disk_gb = disk_gb;
  return s;
}

RequestSpec Small() {
  RequestSpec s;
  s.vcpus = 1;
  s.memory_mb = 512;
  s.disk_gb = 1;
  return s;
}

std::vector<std::string> Names(const Selection& s) {
  std::vector<std::string> out;
  for (const auto& h : s.candidates) out.push_back(h.name);
  return out;
}

using NameList = std::vector<std::string>;

// ---- ComputeFilter -------------------------------------------------------------------------

TEST(ComputeFilter, RejectsDisabledHost) {
  ComputeFilter f;
  auto h = Host("a");
  EXPECT_TRUE(f.Passes(h, Small()));
  h.enabled = false;
  EXPECT_FALSE(f.Passes(h, Small()));
}

TEST(ComputeFilter, RejectsDownHost) {
  ComputeFilter f;
  auto h = Host("a");
  h.up = false;
  EXPECT_FALSE(f.Passes(h, Small()));
}

TEST(ComputeFilter, ForcedDownHostIsDownEvenWithFreshHeartbeats) {
  store::Host h;
  h.name = "a";
  h.state = "up";
  EXPECT_TRUE(conductor::ToHostState(h).up);
  h.forced_down = true;
  EXPECT_FALSE(conductor::ToHostState(h).up);
  EXPECT_FALSE(ComputeFilter().Passes(conductor::ToHostState(h), Small()));
  h.forced_down = false;
  h.state = "down";
  EXPECT_FALSE(ComputeFilter().Passes(conductor::ToHostState(h), Small()));
  h.state = "up";
  h.disabled = true;
  EXPECT_FALSE(ComputeFilter().Passes(conductor::ToHostState(h), Small()));
}

TEST(ComputeFilter, PipelineDropsDisabledAndDownHostsAndCountsThem) {
  auto disabled = Host("disabled");
  disabled.enabled = false;
  auto down = Host("down");
  down.up = false;
  auto sel = Scheduler().Select({disabled, Host("ok"), down}, Small());
  EXPECT_EQ(Names(sel), NameList{"ok"});
  ASSERT_EQ(sel.rejected_by.size(), 1u);
  EXPECT_EQ(sel.rejected_by[0], (std::pair<std::string, int>{"ComputeFilter", 2}));
}

// ---- AvailabilityZoneFilter ----------------------------------------------------------------

TEST(AvailabilityZoneFilter, WithoutAZEveryZonePasses) {
  AvailabilityZoneFilter f;
  auto h = Host("a");
  h.availability_zone = "az9";
  EXPECT_TRUE(f.Passes(h, Small()));
}

TEST(AvailabilityZoneFilter, RequestedZoneOnlyMatchesHostsInIt) {
  AvailabilityZoneFilter f;
  auto spec = Small();
  spec.availability_zone = "az1";
  auto in = Host("in");
  in.availability_zone = "az1";
  auto out = Host("out");
  out.availability_zone = "az2";
  auto deflt = Host("default");  // "nova"
  EXPECT_TRUE(f.Passes(in, spec));
  EXPECT_FALSE(f.Passes(out, spec));
  EXPECT_FALSE(f.Passes(deflt, spec));
  auto sel = Scheduler().Select({out, in, deflt}, spec);
  EXPECT_EQ(Names(sel), NameList{"in"});
  ASSERT_EQ(sel.rejected_by.size(), 1u);
  EXPECT_EQ(sel.rejected_by[0], (std::pair<std::string, int>{"AvailabilityZoneFilter", 2}));
}

TEST(AvailabilityZoneFilter, ZoneNamesAreCaseSensitive) {
  auto spec = Small();
  spec.availability_zone = "AZ1";
  auto h = Host("a");
  h.availability_zone = "az1";
  EXPECT_FALSE(AvailabilityZoneFilter().Passes(h, spec));
}

// ---- CapacityFilter ------------------------------------------------------------------------

TEST(CapacityFilter, PassesAtExactlyFreeCapacityAndFailsOneUnitOverForEachResource) {
  CapacityFilter f;
  auto h = Host("a");
  h.free_vcpus = 4;
  h.free_memory_mb = 2048;
  h.free_disk_gb = 20;
  RequestSpec exact;
  exact.vcpus = 4;
  exact.memory_mb = 2048;
  exact.disk_gb = 20;
  EXPECT_TRUE(f.Passes(h, exact));
  auto vcpu = exact;
  vcpu.vcpus = 5;
  EXPECT_FALSE(f.Passes(h, vcpu));
  auto ram = exact;
  ram.memory_mb = 2049;
  EXPECT_FALSE(f.Passes(h, ram));
  auto disk = exact;
  disk.disk_gb = 21;
  EXPECT_FALSE(f.Passes(h, disk));
}

TEST(CapacityFilter, OvercommittedHostWithNegativeFreeTakesNothing) {
  auto h = Host("a");
  h.free_memory_mb = -512;
  RequestSpec zero;
  EXPECT_FALSE(CapacityFilter().Passes(h, zero));
}

store::Host StoreHost() {
  store::Host h;
  h.id = 7;
  h.name = "compute-7";
  h.cell = "cell2";
  h.hypervisor_type = "QEMU";
  h.hypervisor_version = 8002000;
  h.state = "up";
  h.availability_zone = "az1";
  h.vcpus = 4;
  h.cpu_allocation_ratio = 4.0;  // 16 schedulable
  h.memory_mb = 8192;
  h.reserved_host_memory_mb = 1024;
  h.ram_allocation_ratio = 1.5;  // (8192 - 1024) x 1.5 = 10752
  h.local_gb = 100;
  h.disk_allocation_ratio = 1.0;
  h.vcpus_used = 14;
  h.memory_mb_used = 10000;
  h.local_gb_used = 40;
  return h;
}

TEST(CapacityFilter, FreeCapacityIsTotalMinusReservedTimesRatioMinusClaims) {
  auto s = conductor::ToHostState(StoreHost());
  EXPECT_EQ(s.id, 7);
  EXPECT_EQ(s.name, "compute-7");
  EXPECT_EQ(s.cell, "cell2");
  EXPECT_EQ(s.hypervisor_version, 8002000);
  EXPECT_EQ(s.availability_zone, "az1");
  EXPECT_TRUE(s.enabled);
  EXPECT_TRUE(s.up);
  EXPECT_EQ(s.free_vcpus, 16 - 14);
  EXPECT_EQ(s.free_memory_mb, 10752 - 10000);
  EXPECT_EQ(s.free_disk_gb, 100 - 40);
}

TEST(CapacityFilter, FractionalCapacityIsRoundedDown) {
  auto h = StoreHost();
  h.vcpus = 3;
  h.cpu_allocation_ratio = 1.5;  // 4.5 -> 4
  h.vcpus_used = 0;
  h.memory_mb = 1001;
  h.reserved_host_memory_mb = 0;
  h.ram_allocation_ratio = 0.5;  // 500.5 -> 500
  h.memory_mb_used = 0;
  h.local_gb = 3;
  h.disk_allocation_ratio = 1.5;  // 4.5 -> 4
  h.local_gb_used = 0;
  auto s = conductor::ToHostState(h);
  EXPECT_EQ(s.free_vcpus, 4);
  EXPECT_EQ(s.free_memory_mb, 500);
  EXPECT_EQ(s.free_disk_gb, 4);
}

TEST(CapacityFilter, RatiosDecideWhatFitsOnAHostWithClaims) {
  auto s = conductor::ToHostState(StoreHost());
  CapacityFilter f;
  EXPECT_TRUE(f.Passes(s, Need(2, 752, 60)));
  EXPECT_FALSE(f.Passes(s, Need(3, 752, 60)));
  EXPECT_FALSE(f.Passes(s, Need(2, 753, 60)));
  EXPECT_FALSE(f.Passes(s, Need(2, 752, 61)));
  // Without the RAM ratio the host would be full; without the reservation it would have more.
  auto no_ratio = StoreHost();
  no_ratio.ram_allocation_ratio = 1.0;
  EXPECT_FALSE(f.Passes(conductor::ToHostState(no_ratio), Need(1, 1, 1)));
  auto no_reserve = StoreHost();
  no_reserve.reserved_host_memory_mb = 0;
  EXPECT_EQ(conductor::ToHostState(no_reserve).free_memory_mb, 12288 - 10000);
}

TEST(CapacityFilter, PipelineCountsHostsTooSmall) {
  auto small = Host("small", 256);
  auto sel = Scheduler().Select({small, Host("big", 4096)}, Small());
  EXPECT_EQ(Names(sel), NameList{"big"});
  ASSERT_EQ(sel.rejected_by.size(), 1u);
  EXPECT_EQ(sel.rejected_by[0], (std::pair<std::string, int>{"CapacityFilter", 1}));
}

// ---- RequestedHostFilter -------------------------------------------------------------------

TEST(RequestedHostFilter, RequestedHostIsTheOnlyCandidate) {
  auto spec = Small();
  spec.requested_host = "b";
  auto sel = Scheduler().Select({Host("a", 9000), Host("b", 1000), Host("c", 9000)}, spec);
  EXPECT_EQ(Names(sel), NameList{"b"});
}

TEST(RequestedHostFilter, RequestedHostStillHasToPassTheOtherFilters) {
  auto spec = Small();
  spec.requested_host = "b";
  auto b = Host("b");
  b.enabled = false;
  EXPECT_TRUE(Scheduler().Select({Host("a"), b}, spec).candidates.empty());
  auto tiny = Host("b", 100);
  EXPECT_TRUE(Scheduler().Select({Host("a"), tiny}, spec).candidates.empty());
}

TEST(RequestedHostFilter, UnknownRequestedHostLeavesNothing) {
  auto spec = Small();
  spec.requested_host = "nope";
  EXPECT_TRUE(Scheduler().Select({Host("a"), Host("b")}, spec).candidates.empty());
}

TEST(IgnoreHostsFilter, IgnoredHostsAreNeverCandidates) {
  auto spec = Small();
  spec.ignore_hosts = {"a", "c"};
  IgnoreHostsFilter f;
  EXPECT_FALSE(f.Passes(Host("a"), spec));
  EXPECT_TRUE(f.Passes(Host("b"), spec));
  auto sel = Scheduler().Select({Host("a", 9999), Host("b", 10), Host("c", 9999)}, Small());
  EXPECT_EQ(Names(sel).front(), "a");
  sel = Scheduler().Select({Host("a", 9999), Host("b", 1000), Host("c", 9999)}, spec);
  EXPECT_EQ(Names(sel), NameList{"b"});
}

TEST(IgnoreHostsFilter, IgnoreWinsOverRequest) {
  auto spec = Small();
  spec.requested_host = "a";
  spec.ignore_hosts = {"a"};
  EXPECT_TRUE(RequestedHostFilter().Passes(Host("a"), spec));
  EXPECT_FALSE(IgnoreHostsFilter().Passes(Host("a"), spec));
  EXPECT_TRUE(Scheduler().Select({Host("a"), Host("b")}, spec).candidates.empty());
}

// ---- FreeRamWeigher and ordering -----------------------------------------------------------

TEST(FreeRamWeigher, MoreFreeRamComesFirst) {
  auto sel = Scheduler().Select({Host("a", 2048), Host("b", 8192), Host("c", 4096)}, Small());
  EXPECT_EQ(Names(sel), (NameList{"b", "c", "a"}));
  EXPECT_EQ(FreeRamWeigher().RawWeight(Host("x", 1234), Small()), 1234.0);
}

TEST(FreeRamWeigher, TiesBreakByNameWhateverTheInputOrder) {
  std::vector<HostState> hosts = {Host("delta", 4096), Host("alpha", 4096), Host("charlie", 4096),
                                  Host("bravo", 4096), Host("echo", 8192)};
  const NameList want = {"echo", "alpha", "bravo", "charlie", "delta"};
  std::sort(hosts.begin(), hosts.end(),
            [](const auto& a, const auto& b) { return a.name < b.name; });
  do {
    EXPECT_EQ(Names(Scheduler().Select(hosts, Small())), want);
  } while (std::next_permutation(hosts.begin(), hosts.end(),
                                 [](const auto& a, const auto& b) { return a.name < b.name; }));
}

TEST(FreeRamWeigher, CandidatesKeepTheirState) {
  auto sel = Scheduler().Select({Host("a", 2048)}, Small());
  ASSERT_EQ(sel.candidates.size(), 1u);
  EXPECT_EQ(sel.candidates[0].free_memory_mb, 2048);
  EXPECT_EQ(sel.candidates[0].id, Host("a").id);
  EXPECT_TRUE(sel.rejected_by.empty());
}

TEST(Scheduler, NoHostsGivesNoCandidates) {
  auto sel = Scheduler().Select(std::vector<HostState>{}, Small());
  EXPECT_TRUE(sel.candidates.empty());
  EXPECT_TRUE(sel.rejected_by.empty());
}

// ---- No valid host -------------------------------------------------------------------------

TEST(NoValidHostMessage, ListsEachFilterThatRejectedHostsWithCounts) {
  auto disabled = Host("disabled");
  disabled.enabled = false;
  auto elsewhere = Host("elsewhere");
  elsewhere.availability_zone = "az2";
  auto small1 = Host("small1", 100);
  auto small2 = Host("small2", 200);
  auto spec = Small();
  spec.availability_zone = "nova";
  auto sel = Scheduler().Select({disabled, elsewhere, small1, small2}, spec);
  ASSERT_TRUE(sel.candidates.empty());
  auto msg = NoValidHostMessage(sel);
  EXPECT_EQ(msg.rfind("No valid host was found.", 0), 0u) << msg;
  auto compute = msg.find("ComputeFilter rejected 1 host(s)");
  auto az = msg.find("AvailabilityZoneFilter rejected 1 host(s)");
  auto capacity = msg.find("CapacityFilter rejected 2 host(s)");
  ASSERT_NE(compute, std::string::npos) << msg;
  ASSERT_NE(az, std::string::npos) << msg;
  ASSERT_NE(capacity, std::string::npos) << msg;
  EXPECT_LT(compute, az) << "filters are listed in pipeline order: " << msg;
  EXPECT_LT(az, capacity) << msg;
  EXPECT_EQ(msg.find("RequestedHostFilter"), std::string::npos) << "it rejected nothing: " << msg;
}

TEST(NoValidHostMessage, WithoutRejectionsIsNovasSentence) {
  EXPECT_EQ(NoValidHostMessage(Selection{}), "No valid host was found.");
}

}  // namespace
}  // namespace ferry::controller::scheduler
