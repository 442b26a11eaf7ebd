// The indexed fast path must rank exactly as the plain full pass: same best host, same first
// candidates, same message when nothing fits. Random clusters and requests, fixed seeds.
#include <gtest/gtest.h>

#include <random>

#include "controller/scheduler/filters.hpp"
#include "controller/scheduler/scheduler.hpp"

namespace ferry::controller::scheduler {
namespace {

template <typename T>
const T& Pick(std::mt19937& rng, const std::vector<T>& v) {
  return v[std::uniform_int_distribution<size_t>(0, v.size() - 1)(rng)];
}

std::vector<HostState> RandomCluster(std::mt19937& rng, int n) {
  const std::vector<std::string> cells = {"cell1", "cell2"};
  const std::vector<std::string> zones = {"az1", "az2", "nova"};
  const std::vector<std::string> types = {"QEMU", "VMware vCenter Server"};
  const std::vector<std::set<std::string>> features = {
      {"avx", "sse4.2"}, {"avx", "avx2", "sse4.2"}, {"sse4.2"}};
  const std::vector<std::string> disks = {"ssd", "hdd", "nvme,ssd"};
  const std::vector<std::string> datastores = {"nfs-1", "nfs-2", "nfs-3"};
  std::uniform_int_distribution<int> coin(0, 9);
  std::vector<HostState> hosts;
  for (int i = 0; i < n; ++i) {
    HostState h;
    h.id = i + 1;
    h.name = "h" + std::to_string(coin(rng)) + "-" + std::to_string(i);
    h.cell = Pick(rng, cells);
    h.availability_zone = Pick(rng, zones);
    h.hypervisor_type = Pick(rng, types);
    h.hypervisor_version = 1000 + coin(rng) % 3;
    h.enabled = coin(rng) != 0;
    h.up = coin(rng) != 0;
    h.cpu = {"x86_64", coin(rng) < 8 ? "Intel" : "AMD", "m", Pick(rng, features)};
    if (coin(rng) < 6) h.aggregate_metadata["disk"] = {Pick(rng, disks)};
    if (coin(rng) < 5) h.shared_datastores.insert(Pick(rng, datastores));
    if (coin(rng) < 3) h.shared_datastores.insert(Pick(rng, datastores));
    h.free_vcpus = std::uniform_int_distribution<int64_t>(-2, 64)(rng);
    // Coarse RAM steps make ties common, so the name tie-break is exercised too.
    h.free_memory_mb = 512 * std::uniform_int_distribution<int64_t>(-1, 40)(rng);
    h.free_disk_gb = std::uniform_int_distribution<int64_t>(0, 500)(rng);
    h.inbound_migrations = coin(rng) < 7 ? 0 : coin(rng) % 4;
    h.outbound_migrations = coin(rng) % 2;
    hosts.push_back(std::move(h));
  }
  return hosts;
}

RequestSpec RandomSpec(std::mt19937& rng, const std::vector<HostState>& hosts) {
  std::uniform_int_distribution<int> coin(0, 9);
  RequestSpec s;
  s.vcpus = coin(rng) + 1;
  s.memory_mb = 512 * (coin(rng) * 2 + 1);
  s.disk_gb = coin(rng) * 10;
  auto any_host = [&] { return Pick(rng, hosts).name; };
  if (coin(rng) < 3)
    s.availability_zone = Pick(rng, std::vector<std::string>{"az1", "az2", "nova", "x"});
  if (coin(rng) < 1) s.requested_host = any_host();
  for (int i = coin(rng) % 3; i > 0; --i) s.ignore_hosts.insert(any_host());
  if (coin(rng) < 6) {  // a move
    const auto& src = Pick(rng, hosts);
    s.source_host = src.name;
    s.cell = src.cell;
    s.hypervisor_type = src.hypervisor_type;
    s.min_hypervisor_version = src.hypervisor_version;
    if (coin(rng) < 7) s.guest_cpu = src.cpu;
    s.source_shared_datastores = src.shared_datastores;
    s.max_inbound_migrations = coin(rng) % 4;
    for (int i = coin(rng) % 4; i > 0; --i) s.anti_affinity_hosts.insert(any_host());
  }
  if (coin(rng) < 3) {
    s.required_aggregate_metadata["aggregate_instance_extra_specs:disk"] =
        Pick(rng, std::vector<std::string>{"ssd", "nvme", "hdd,ssd"});
  }
  return s;
}

std::vector<std::string> Names(const std::vector<HostState>& hosts, size_t limit) {
  std::vector<std::string> out;
  for (size_t i = 0; i < hosts.size() && i < limit; ++i) out.push_back(hosts[i].name);
  return out;
}

TEST(IndexedSelect, PicksTheSameCandidatesAsTheFullPassOnRandomClusters) {
  std::mt19937 rng(20261122);
  const Scheduler scheduler;
  int nonempty = 0;
  for (int cluster = 0; cluster < 20; ++cluster) {
    const auto hosts = RandomCluster(rng, 50 + cluster * 40);
    const HostIndex index(hosts);
    for (int request = 0; request < 100; ++request) {
      const auto spec = RandomSpec(rng, hosts);
      const auto full = scheduler.Select(hosts, spec);
      const auto fast = scheduler.Select(index, spec, 5);
      ASSERT_EQ(Names(fast.candidates, 99), Names(full.candidates, 5))
          << "cluster " << cluster << " request " << request;
      if (full.candidates.empty()) {
        EXPECT_EQ(NoValidHostMessage(fast), NoValidHostMessage(full));
      } else {
        ++nonempty;
        EXPECT_EQ(fast.candidates[0].free_memory_mb, full.candidates[0].free_memory_mb);
      }
    }
  }
  // The comparison means something only if many requests had a best host.
  EXPECT_GT(nonempty, 400);
}

TEST(IndexedSelect, ProfilesGroupHostsThatShareTheirStaticFields) {
  auto a = RandomCluster(*std::make_unique<std::mt19937>(1), 1)[0];
  auto b = a;
  b.name = "other";
  b.free_memory_mb += 1;
  b.inbound_migrations += 1;
  auto c = a;
  c.name = "third";
  c.shared_datastores.insert("nfs-9");
  const HostIndex index(std::vector<HostState>{a, b, c});
  EXPECT_EQ(index.size(), 3u);
  EXPECT_EQ(index.profile_count(), 2u);
  ASSERT_NE(index.Find("third"), nullptr);
  EXPECT_EQ(index.Find("third")->shared_datastores.count("nfs-9"), 1u);
  EXPECT_EQ(index.Find("nope"), nullptr);
}

// A filter with only a per-host form still gets the right answer (through the full pass).
class OddRamFilter final : public HostFilter {
 public:
  std::string_view Name() const override { return "OddRamFilter"; }
  bool Passes(const HostState& h, const RequestSpec&) const override {
    return h.free_memory_mb % 2;
  }
};

TEST(IndexedSelect, PipelineWithAPerHostOnlyFilterFallsBackToTheFullPass) {
  std::vector<std::unique_ptr<HostFilter>> filters;
  filters.push_back(std::make_unique<OddRamFilter>());
  std::vector<std::unique_ptr<HostWeigher>> weighers;
  weighers.push_back(std::make_unique<FreeRamWeigher>());
  const Scheduler scheduler(std::move(filters), std::move(weighers));
  HostState even, odd, odd_small;
  even.name = "even";
  even.free_memory_mb = 4096;
  odd.name = "odd";
  odd.free_memory_mb = 2049;
  odd_small.name = "odd-small";
  odd_small.free_memory_mb = 1025;
  const HostIndex index(std::vector<HostState>{even, odd, odd_small});
  EXPECT_EQ(Names(scheduler.Select(index, RequestSpec{}, 1).candidates, 9),
            std::vector<std::string>{"odd"});
}

TEST(IndexedSelect, CandidatesAreCutToTheLimit) {
  std::mt19937 rng(7);
  auto hosts = RandomCluster(rng, 300);
  for (auto& h : hosts) h.enabled = h.up = true;
  const HostIndex index(hosts);
  EXPECT_EQ(Scheduler().Select(index, RequestSpec{}, 3).candidates.size(), 3u);
  EXPECT_EQ(Scheduler().Select(index, RequestSpec{}).candidates.size(), kDefaultMaxCandidates);
}

TEST(IndexedSelect, PatchedIndexRanksLikeARebuiltOne) {
  std::mt19937 rng(99);
  auto hosts = RandomCluster(rng, 400);
  const auto base = std::make_shared<const HostIndex>(hosts);
  std::vector<std::shared_ptr<const HostState>> changed;
  for (size_t i = 0; i < hosts.size(); i += 7) {  // capacity, liveness and inbound change
    hosts[i].free_memory_mb += 4096;
    hosts[i].up = !hosts[i].up;
    hosts[i].inbound_migrations += 1;
    changed.push_back(std::make_shared<const HostState>(hosts[i]));
  }
  const auto patched = base->WithChanged(changed);
  ASSERT_NE(patched, nullptr);
  const HostIndex rebuilt(hosts);
  const Scheduler scheduler;
  for (int r = 0; r < 200; ++r) {
    const auto spec = RandomSpec(rng, hosts);
    ASSERT_EQ(Names(scheduler.Select(*patched, spec).candidates, 99),
              Names(scheduler.Select(rebuilt, spec).candidates, 99))
        << r;
  }
  EXPECT_EQ(base->Find(hosts[0].name)->free_memory_mb + 4096,
            patched->Find(hosts[0].name)->free_memory_mb)
      << "the base version is untouched";
  auto moved = hosts[3];
  moved.availability_zone = "elsewhere";  // a profile change needs a rebuild
  EXPECT_EQ(base->WithChanged({std::make_shared<const HostState>(moved)}), nullptr);
  auto fresh = hosts[3];
  fresh.name = "brand-new";
  EXPECT_EQ(base->WithChanged({std::make_shared<const HostState>(fresh)}), nullptr);
}

// Update changes an index in place (a drain's plan counts each placement): after many of them
// the index answers exactly as one rebuilt from the same hosts.
TEST(IndexedSelect, AnIndexUpdatedInPlaceAnswersAsARebuiltOne) {
  std::mt19937 rng(11);
  auto hosts = RandomCluster(rng, 300);
  HostIndex updated(hosts);
  for (size_t i = 0; i < hosts.size(); i += 2) {
    hosts[i].free_memory_mb = hosts[i].free_memory_mb / 3;  // a placement took some
    hosts[i].free_vcpus -= 1;
    ASSERT_TRUE(updated.Update(std::make_shared<const HostState>(hosts[i])));
  }
  const HostIndex rebuilt(hosts);
  const Scheduler scheduler;
  for (int r = 0; r < 200; ++r) {
    const auto spec = RandomSpec(rng, hosts);
    ASSERT_EQ(Names(scheduler.Select(updated, spec).candidates, 99),
              Names(scheduler.Select(rebuilt, spec).candidates, 99))
        << r;
  }
  auto moved = hosts[3];
  moved.availability_zone = "elsewhere";
  EXPECT_FALSE(updated.Update(std::make_shared<const HostState>(moved)))
      << "a profile change needs a rebuild";
}

}  // namespace
}  // namespace ferry::controller::scheduler
