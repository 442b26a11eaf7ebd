// The filters and weighers that matter for moves: each one on its own, and in the default
// pipeline so the "No valid host" message names it.
#include <gtest/gtest.h>

#include "controller/scheduler/filters.hpp"
#include "controller/scheduler/scheduler.hpp"

namespace ferry::controller::scheduler {
namespace {

HostState Host(const std::string& name, int64_t free_ram = 8192) {
  HostState h;
  h.name = name;
  h.cell = "cell1";
  h.hypervisor_type = "QEMU";
  h.hypervisor_version = 8002000;
  h.up = true;
  h.availability_zone = "nova";
  h.free_vcpus = 16;
  h.free_memory_mb = free_ram;
  h.free_disk_gb = 100;
  h.cpu = {"x86_64", "Intel", "Skylake", {"avx", "avx2", "sse4.2"}};
  return h;
}

RequestSpec Move() {
  RequestSpec s;
  s.vcpus = 1;
  s.memory_mb = 512;
  s.source_host = "src";
  return s;
}

std::vector<std::string> Names(const Selection& s) {
  std::vector<std::string> out;
  for (const auto& h : s.candidates) out.push_back(h.name);
  return out;
}

bool MessageNames(const std::vector<HostState>& hosts, const RequestSpec& spec,
                  const std::string& filter) {
  auto sel = Scheduler().Select(hosts, spec);
  return sel.candidates.empty() &&
         NoValidHostMessage(sel).find(filter + " rejected") != std::string::npos;
}

TEST(NotSourceFilter, TheSourceIsNeverADestinationEvenWithMostRoom) {
  auto sel = Scheduler().Select({Host("src", 99999), Host("b", 1024)}, Move());
  EXPECT_EQ(Names(sel), std::vector<std::string>{"b"});
  EXPECT_TRUE(NotSourceFilter().Passes(Host("src"), RequestSpec{}));  // not a move: no source
  EXPECT_TRUE(MessageNames({Host("src")}, Move(), "NotSourceFilter"));
}

TEST(SameCellFilter, CrossCellDestinationsAreRejected) {
  auto spec = Move();
  spec.cell = "cell1";
  auto other = Host("b");
  other.cell = "cell2";
  EXPECT_FALSE(SameCellFilter().Passes(other, spec));
  EXPECT_TRUE(SameCellFilter().Passes(Host("a"), spec));
  EXPECT_TRUE(MessageNames({other}, spec, "SameCellFilter"));
}

TEST(HypervisorTypeFilter, SameTypeAndVersionAtLeastTheSources) {
  auto spec = Move();
  spec.hypervisor_type = "QEMU";
  spec.min_hypervisor_version = 8002000;
  HypervisorTypeFilter f;
  EXPECT_TRUE(f.Passes(Host("same"), spec));
  auto newer = Host("newer");
  newer.hypervisor_version = 9000000;
  EXPECT_TRUE(f.Passes(newer, spec));
  auto older = Host("older");
  older.hypervisor_version = 8001999;
  EXPECT_FALSE(f.Passes(older, spec));
  auto vmware = Host("esx");
  vmware.hypervisor_type = "VMware vCenter Server";
  EXPECT_FALSE(f.Passes(vmware, spec));
  EXPECT_TRUE(MessageNames({older, vmware}, spec, "HypervisorTypeFilter"));
}

TEST(DatastoreFilter, ASharedStorageServerGoesOnlyWhereItsDatastoreIsSeen) {
  auto spec = Move();
  spec.required_datastore = "nfs-1";
  auto sees = Host("sees", 1024);
  sees.shared_datastores = {"nfs-1", "nfs-2"};
  auto blind = Host("blind", 99999);  // the most room, and the disks are not there
  blind.shared_datastores = {"nfs-2"};
  DatastoreFilter f;
  EXPECT_TRUE(f.Passes(sees, spec));
  EXPECT_FALSE(f.Passes(blind, spec));
  EXPECT_EQ(Names(Scheduler().Select({blind, sees}, spec)), std::vector<std::string>{"sees"});
  EXPECT_TRUE(MessageNames({blind}, spec, "DatastoreFilter"));
  EXPECT_TRUE(f.Passes(blind, Move())) << "a server tied to no datastore goes anywhere";
}

TEST(CpuCompatibilityFilter, DestinationMustOfferEveryGuestFeatureOnTheSameArchAndVendor) {
  auto spec = Move();
  spec.guest_cpu = CpuModel{"x86_64", "Intel", "Haswell", {"avx", "sse4.2"}};
  CpuCompatibilityFilter f;
  EXPECT_TRUE(f.Passes(Host("superset"), spec));
  auto missing = Host("missing");
  missing.cpu.features = {"avx", "sse4.1"};
  EXPECT_FALSE(f.Passes(missing, spec));
  auto amd = Host("amd");
  amd.cpu.vendor = "AMD";
  EXPECT_FALSE(f.Passes(amd, spec));
  auto arm = Host("arm");
  arm.cpu.arch = "aarch64";
  EXPECT_FALSE(f.Passes(arm, spec));
  EXPECT_TRUE(f.Passes(missing, Move()));  // no guest CPU: nothing to check
  EXPECT_TRUE(MessageNames({missing, amd, arm}, spec, "CpuCompatibilityFilter"));
}

TEST(AggregateInstanceExtraSpecsFilter, ValueMustBeOneOfTheAllowedOnesInTheHostsAggregates) {
  AggregateInstanceExtraSpecsFilter f;
  auto spec = Move();
  spec.required_aggregate_metadata = {{"aggregate_instance_extra_specs:disk", "ssd,nvme"}};
  auto ssd = Host("ssd");
  ssd.aggregate_metadata["disk"] = {"ssd"};
  auto hdd = Host("hdd");
  hdd.aggregate_metadata["disk"] = {"hdd"};
  auto listed = Host("listed");  // an aggregate value may itself be a comma-separated list
  listed.aggregate_metadata["disk"] = {"hdd, nvme"};
  auto two_aggregates = Host("two");
  two_aggregates.aggregate_metadata["disk"] = {"hdd", "ssd"};
  EXPECT_TRUE(f.Passes(ssd, spec));
  EXPECT_FALSE(f.Passes(hdd, spec));
  EXPECT_TRUE(f.Passes(listed, spec));
  EXPECT_TRUE(f.Passes(two_aggregates, spec));
  EXPECT_FALSE(f.Passes(Host("none"), spec)) << "a host without the key fails";
  // Unscoped keys count too (Nova); other scopes are not this filter's.
  spec.required_aggregate_metadata = {{"disk", "ssd"}, {"hw:cpu_policy", "dedicated"}};
  EXPECT_TRUE(f.Passes(ssd, spec));
  EXPECT_FALSE(f.Passes(hdd, spec));
  EXPECT_TRUE(MessageNames({hdd}, spec, "AggregateInstanceExtraSpecsFilter"));
}

TEST(ServerGroupAntiAffinityFilter, HostsOfOtherMembersAreRejected) {
  auto spec = Move();
  spec.anti_affinity_hosts = {"a", "c"};
  auto sel = Scheduler().Select({Host("a", 9000), Host("b", 100 + 512), Host("c", 9000)}, spec);
  EXPECT_EQ(Names(sel), std::vector<std::string>{"b"});
  EXPECT_TRUE(MessageNames({Host("a")}, spec, "ServerGroupAntiAffinityFilter"));
}

TEST(InboundHeadroomFilter, LimitCountsInFlightInboundMigrationsAndZeroMeansNoLimit) {
  InboundHeadroomFilter f;
  auto busy = Host("busy");
  busy.inbound_migrations = 2;
  auto spec = Move();
  EXPECT_TRUE(f.Passes(busy, spec));
  spec.max_inbound_migrations = 3;
  EXPECT_TRUE(f.Passes(busy, spec));
  spec.max_inbound_migrations = 2;
  EXPECT_FALSE(f.Passes(busy, spec));
  EXPECT_TRUE(MessageNames({busy}, spec, "InboundHeadroomFilter"));
}

TEST(InboundLoadWeigher, FewerInboundMigrationsWinAtEqualRam) {
  auto a = Host("a");
  a.inbound_migrations = 1;
  auto b = Host("b");
  auto c = Host("c");
  c.inbound_migrations = 3;
  EXPECT_EQ(Names(Scheduler().Select({a, b, c}, Move())),
            (std::vector<std::string>{"b", "a", "c"}));
  EXPECT_GT(InboundLoadWeigher().RawWeight(b, Move()), InboundLoadWeigher().RawWeight(a, Move()));
}

TEST(SharedStorageWeigher, PrefersADestinationThatSeesTheSourcesDatastores) {
  auto spec = Move();
  spec.source_shared_datastores = {"nfs-1", "nfs-2"};
  auto both = Host("z-both");
  both.shared_datastores = {"nfs-1", "nfs-2", "nfs-3"};
  auto one = Host("y-one");
  one.shared_datastores = {"nfs-2"};
  auto none = Host("a-none");
  SharedStorageWeigher w;
  EXPECT_EQ(w.RawWeight(both, spec), 1.0);
  EXPECT_EQ(w.RawWeight(one, spec), 0.5);
  EXPECT_EQ(w.RawWeight(none, spec), 0.0);
  EXPECT_EQ(w.RawWeight(none, Move()), 0.0);  // no source datastores: every host alike
  EXPECT_EQ(Names(Scheduler().Select({none, one, both}, spec)),
            (std::vector<std::string>{"z-both", "y-one", "a-none"}));
  // Without shared datastores on the source, names decide among equals.
  EXPECT_EQ(Names(Scheduler().Select({none, one, both}, Move())),
            (std::vector<std::string>{"a-none", "y-one", "z-both"}));
}

TEST(SharedStorageWeigher, OutweighsASmallRamAdvantage) {
  auto spec = Move();
  spec.source_shared_datastores = {"nfs-1"};
  auto sees = Host("sees", 8000);
  sees.shared_datastores = {"nfs-1"};
  auto roomy = Host("roomy", 8100);
  auto small = Host("small", 1000);
  EXPECT_EQ(Names(Scheduler().Select({roomy, sees, small}, spec)).front(), "sees");
}

}  // namespace
}  // namespace ferry::controller::scheduler
