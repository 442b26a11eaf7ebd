// Live migration of real QEMU guests through the whole stack (see libvirt_e2e.hpp): a copy that
// converges, with progress rising in the API and the data on the migration network; an abort
// while running; force-complete of a copy that cannot converge, by post-copy and by pausing; a
// post-copy whose destination QEMU dies (error, the server recorded on the destination).
// Every case that ends with a running guest proves from its own heartbeat where it runs.
#include "tests/e2e/libvirt_e2e.hpp"

namespace ferry::testing {
namespace {

// The guest dirties 4 MiB/s over 32 MiB: at 8 MiB/s the first pass takes ~4 s and the copy then
// converges, long enough to watch progress. 16 MiB/s over 24 MiB against 8 MiB/s never converges.
const std::string kConverging = "dirty_mbps=4 wss_mib=32";
const std::string kNotConverging = "dirty_mbps=16 wss_mib=24";
const std::vector<std::string> kSlowLink = {"--live-migration-bandwidth", "8"};

std::string MigrationPath(const std::string& server, const json& m) {
  return "/v2.1/servers/" + server + "/migrations/" + std::to_string(m["id"].get<int64_t>());
}

class LiveMigrationLibvirt : public LibvirtE2E {
 protected:
  // Starts a live migration kvm-1 -> kvm-2 and waits until libvirt's copy is under way.
  json StartCopy(const std::string& id) {
    auto r = lm_->MigrateLive(id, {{"host", "kvm-2"}, {"block_migration", "auto"}});
    EXPECT_EQ(r.status, 202) << r.raw;
    json m;
    EXPECT_TRUE(Stack::WaitFor(
        [&] {
          m = InProgress(id);
          return m.is_object() && m["status"] == "running" &&
                 m["memory_processed_bytes"].is_number() &&
                 m["memory_processed_bytes"].get<int64_t>() > 0;
        },
        60s))
        << "the copy never started: " << m.dump();
    return m;
  }
  void ForceCompletes(std::vector<std::string> policy, const std::string& name,
                      const std::string& how);
};

TEST_F(LiveMigrationLibvirt, MovesARunningGuestOverTheMigrationNetworkWithProgressRising) {
  Start(kSlowLink, kConverging);
  auto id = GuestOn("kvm-1", "e2e-converge", 16);
  const std::string name = DomainName(id);  // 8 s: the working set is dirty, so the copy has data
  const GuestTick before = bed().LastTick("kvm-1", name);
  const long long mig0 = bed().TxBytes("kvm-1", "mig0");
  const long long ctl0 = bed().TxBytes("kvm-1", "ctl0");

  auto r = lm_->MigrateLive(id, {{"host", nullptr}, {"block_migration", "auto"}});
  ASSERT_EQ(r.status, 202) << r.raw;
  auto w = WatchUntilTerminal(id, 120s);
  ASSERT_TRUE(w.ended) << w.last.dump();
  ASSERT_EQ(w.last["status"], "completed") << w.last.dump();

  EXPECT_TRUE(w.statuses.count("running"));
  ASSERT_GE(w.processed.size(), 2u) << "progress must be seen rising during the copy";
  EXPECT_GT(w.processed.back(), w.processed.front());
  EXPECT_EQ(w.last["dest_compute"], "kvm-2");
  // libvirt counts the guest's RAM plus a little device memory.
  EXPECT_GE(w.running["memory_total_bytes"].get<int64_t>(), 128LL << 20) << w.running.dump();

  // The guest's memory went over mig0 (the destination's inbound migration address), not over
  // the control network the libvirtds talk on.
  const long long on_mig = bed().TxBytes("kvm-1", "mig0") - mig0;
  const long long on_ctl = bed().TxBytes("kvm-1", "ctl0") - ctl0;
  EXPECT_GT(on_mig, 24LL << 20) << "at least the dirty working set crossed the migration link";
  EXPECT_LT(on_ctl, on_mig / 10) << "control link bytes " << on_ctl << " vs migration link "
                                 << on_mig;
  std::fprintf(stderr, "bytes sent by kvm-1: migration network %lld, control network %lld\n",
               on_mig, on_ctl);

  auto server = lm_->Server(id);
  EXPECT_EQ(server["OS-EXT-SRV-ATTR:host"], "kvm-2");
  EXPECT_EQ(server["status"], "ACTIVE");
  EXPECT_EQ(lm_->ClaimHosts(id), std::set<std::string>{"kvm-2"});
  EXPECT_EQ(lm_->LeakedClaims(), 0);
  ExpectRunsOnlyOn("kvm-2", "kvm-1", name, before);
}

TEST_F(LiveMigrationLibvirt, AbortWhileRunningLeavesTheGuestTickingOnTheSource) {
  Start(kSlowLink, kNotConverging);
  auto id = GuestOn("kvm-1", "e2e-abort", 4);
  const std::string name = DomainName(id);
  json m = StartCopy(id);
  ASSERT_FALSE(m.is_null());
  const GuestTick before = bed().LastTick("kvm-1", name);

  auto admin = lm_->stack->Admin();
  admin.SetMicroversion("2.65");
  auto del = admin.Delete(MigrationPath(id, m));
  ASSERT_EQ(del.status, 202) << del.raw;
  auto w = WatchUntilTerminal(id, 60s);
  ASSERT_TRUE(w.ended) << w.last.dump();
  EXPECT_EQ(w.last["status"], "cancelled") << w.last.dump();

  auto server = lm_->Server(id);
  EXPECT_EQ(server["OS-EXT-SRV-ATTR:host"], "kvm-1");
  EXPECT_EQ(server["status"], "ACTIVE");
  EXPECT_EQ(lm_->ClaimHosts(id), std::set<std::string>{"kvm-1"})
      << "the destination claim is reverted";
  EXPECT_TRUE(lm_->ClaimHosts(w.last["uuid"]).empty());
  EXPECT_EQ(lm_->LeakedClaims(), 0);
  ExpectRunsOnlyOn("kvm-1", "kvm-2", name, before);
}

// force_complete of a copy that would never finish: post-copy when the policy permits it, else
// the guest is paused so the copy converges; either way it ends running on the destination.
// `how` is the path the source agent must have taken ("post-copy", "pausing the guest").
void LiveMigrationLibvirt::ForceCompletes(std::vector<std::string> policy,
                                          const std::string& display, const std::string& how) {
  Start(policy, kNotConverging);
  auto id = GuestOn("kvm-1", display, 4);
  const std::string name = DomainName(id);
  json m = StartCopy(id);
  ASSERT_FALSE(m.is_null());
  const GuestTick before = bed().LastTick("kvm-1", name);
  std::this_thread::sleep_for(3s);  // a few rounds that do not converge
  EXPECT_EQ(lm_->LatestStatus(id), "running");

  auto admin = lm_->stack->Admin();
  admin.SetMicroversion("2.22");
  auto r = admin.Post(MigrationPath(id, m) + "/action", {{"force_complete", nullptr}});
  ASSERT_EQ(r.status, 202) << r.raw;
  auto w = WatchUntilTerminal(id, 90s);
  ASSERT_TRUE(w.ended) << w.last.dump();
  EXPECT_EQ(w.last["status"], "completed") << w.last.dump();
  EXPECT_NE(lm_->stack->AgentLog("kvm-1").find("forced to complete by " + how), std::string::npos)
      << "the source agent must have forced it by " << how;
  auto server = lm_->Server(id);
  EXPECT_EQ(server["OS-EXT-SRV-ATTR:host"], "kvm-2");
  EXPECT_EQ(server["status"], "ACTIVE")
      << "the guest runs (a paused one resumes) on the destination";
  EXPECT_EQ(lm_->LeakedClaims(), 0);
  ExpectRunsOnlyOn("kvm-2", "kvm-1", name, before);
}

TEST_F(LiveMigrationLibvirt, ForceCompleteSwitchesToPostCopy) {
  auto policy = kSlowLink;
  policy.push_back("--live-migration-permit-post-copy");
  ForceCompletes(policy, "e2e-postcopy", "post-copy");
}

TEST_F(LiveMigrationLibvirt, ForceCompletePausesTheGuestWhenPostCopyIsNotPermitted) {
  ForceCompletes(kSlowLink, "e2e-pause", "pausing the guest");
}

// Post-copy past the point of no return, then the destination's QEMU dies: the pages still on
// the source can never reach a running guest. Nothing can be rolled back (the source's copy
// is stale), so the migration ends in error and the server is recorded, in ERROR, on the
// destination, where a hard reboot would bring it back; the stale source copy is removed.
TEST_F(LiveMigrationLibvirt, PostCopyWhoseDestinationDiesEndsInErrorOnTheDestination) {
  auto policy = kSlowLink;
  policy.push_back("--live-migration-permit-post-copy");
  Start(policy, kNotConverging);
  auto id = GuestOn("kvm-1", "e2e-postcopy-lost", 4);
  const std::string name = DomainName(id);
  json m = StartCopy(id);
  ASSERT_FALSE(m.is_null());

  // 2 Mbit/s out of kvm-1's migration interface: the post-copy of ~100 MiB takes minutes, so
  // the destination can be killed while pages are still missing there.
  const std::string shape =
      "exec kvm-1 -- tc qdisc %s dev mig0 root tbf rate 2mbit burst 32kbit latency 400ms";
  int rc = 0;
  char cmd[256];
  std::snprintf(cmd, sizeof cmd, shape.c_str(), "add");
  bed().Script(cmd, &rc);
  ASSERT_EQ(rc, 0) << "tc on kvm-1's mig0";
  struct Unshape {
    const LibvirtTestbed& bed;
    ~Unshape() { bed.Script("exec kvm-1 -- tc qdisc del dev mig0 root >/dev/null 2>&1"); }
  } unshape{bed()};

  auto admin = lm_->stack->Admin();
  admin.SetMicroversion("2.22");
  auto r = admin.Post(MigrationPath(id, m) + "/action", {{"force_complete", nullptr}});
  ASSERT_EQ(r.status, 202) << r.raw;
  std::string state;
  ASSERT_TRUE(Stack::WaitFor(
      [&] {
        state = bed().Script("virsh kvm-1 domstate --reason " + name);
        return state.find("post-copy") != std::string::npos;
      },
      60s))
      << "the source never switched to post-copy: " << state;
  bed().Script("virsh kvm-2 destroy " + name + " >/dev/null 2>&1", &rc);
  ASSERT_EQ(rc, 0) << "destroying the destination's QEMU";

  auto w = WatchUntilTerminal(id, 120s);
  ASSERT_TRUE(w.ended) << w.last.dump();
  EXPECT_EQ(w.last["status"], "error") << w.last.dump();
  const std::string error = w.last["error"].is_string() ? w.last["error"].get<std::string>() : "";
  EXPECT_NE(error.find("post-copy"), std::string::npos) << w.last.dump();
  std::fprintf(stderr, "migration error: %s\n", error.c_str());
  EXPECT_NE(lm_->stack->AgentLog("kvm-1").find("failed in post-copy"), std::string::npos);

  auto server = lm_->Server(id);
  EXPECT_EQ(server["OS-EXT-SRV-ATTR:host"], "kvm-2");
  EXPECT_EQ(server["status"], "ERROR") << server.dump();
  EXPECT_TRUE(server.contains("fault")) << server.dump();
  EXPECT_EQ(lm_->ClaimHosts(id), std::set<std::string>{"kvm-2"});
  EXPECT_EQ(lm_->LeakedClaims(), 0);
  auto on_source = bed().Domains("kvm-1");
  EXPECT_EQ(std::count(on_source.begin(), on_source.end(), name), 0)
      << "the stale source copy is removed";
  EXPECT_FALSE(bed().Running("kvm-2", name));
}

}  // namespace
}  // namespace ferry::testing
