// Crashes during a real live migration (see libvirt_e2e.hpp). The copy runs between the two
// libvirtds, so it goes on while ferry's processes are dead; what matters is that afterwards
// the record says where the guest really runs, the server is on exactly one host and no claim
// is left behind.
#include <filesystem>

#include "tests/e2e/libvirt_e2e.hpp"

namespace ferry::testing {
namespace {

const std::string kConverging = "dirty_mbps=4 wss_mib=32";
const std::vector<std::string> kSlowLink = {"--live-migration-bandwidth", "8"};

class LiveMigrationLibvirtCrash : public LibvirtE2E {
 protected:
  // The migration is "running" and libvirt's copy has begun on kvm-1 (the API says running once
  // the destination is ready, a moment before the source agent has started the copy: a crash
  // in between would test something else).
  void StartRunning(const std::string& id, const std::string& name) {
    ASSERT_EQ(lm_->MigrateLive(id, {{"host", "kvm-2"}, {"block_migration", "auto"}}).status, 202);
    ASSERT_TRUE(lm_->WaitStatus(id, "running", 60s)) << lm_->LatestMigration(id).dump();
    ASSERT_TRUE(Stack::WaitFor(
        [&] {
          return bed()
                     .Script("exec kvm-1 -- virsh -q -c qemu:///system domjobinfo " + name)
                     .find("Unbounded") != std::string::npos;
        },
        30s))
        << "libvirt never began copying " << name;
  }
  // The copy finished in libvirt: the guest runs on kvm-2 and is gone from kvm-1.
  bool LibvirtMoved(const std::string& name) {
    return Stack::WaitFor(
        [&] {
          auto on_source = bed().Domains("kvm-1");
          return bed().Running("kvm-2", name) &&
                 std::count(on_source.begin(), on_source.end(), name) == 0;
        },
        90s);
  }
  void ExpectCompletedOnKvm2(const std::string& id, const std::string& name,
                             const GuestTick& before) {
    auto w = WatchUntilTerminal(id, 90s);
    ASSERT_TRUE(w.ended) << w.last.dump();
    EXPECT_EQ(w.last["status"], "completed") << w.last.dump();
    auto server = lm_->Server(id);
    EXPECT_EQ(server["OS-EXT-SRV-ATTR:host"], "kvm-2") << "the record follows the guest";
    EXPECT_EQ(server["status"], "ACTIVE");
    EXPECT_TRUE(server["OS-EXT-STS:task_state"].is_null());
    EXPECT_EQ(lm_->ClaimHosts(id), std::set<std::string>{"kvm-2"});
    EXPECT_EQ(lm_->LeakedClaims(), 0);
    ExpectRunsOnlyOn("kvm-2", "kvm-1", name, before);
  }
};

TEST_F(LiveMigrationLibvirtCrash, ControllerKilledMidCopyEndsWhereTheGuestRuns) {
  Start(kSlowLink, kConverging);
  auto id = GuestOn("kvm-1", "e2e-ctl-kill", 16);
  const std::string name = DomainName(id);
  const GuestTick before = bed().LastTick("kvm-1", name);
  StartRunning(id, name);
  lm_->stack->KillController();  // SIGKILL: no chance to write anything
  ASSERT_TRUE(LibvirtMoved(name)) << "libvirt's copy did not finish without the controller";
  lm_->stack->StartController();
  ExpectCompletedOnKvm2(id, name, before);
}

TEST_F(LiveMigrationLibvirtCrash, DestinationAgentKilledMidCopyLosesNoGuest) {
  Start(kSlowLink, kConverging);
  auto id = GuestOn("kvm-1", "e2e-agent-kill", 16);
  const std::string name = DomainName(id);
  const GuestTick before = bed().LastTick("kvm-1", name);
  StartRunning(id, name);
  lm_->stack->KillAgent("kvm-2");
  ASSERT_TRUE(LibvirtMoved(name)) << "libvirt's copy did not finish without the destination agent";
  // Nothing can finish the migration while the destination's agent is away.
  std::this_thread::sleep_for(2s);
  EXPECT_NE(lm_->LatestStatus(id), "completed");
  RestartAgent("kvm-2", kConverging);
  ExpectCompletedOnKvm2(id, name, before);
}

TEST_F(LiveMigrationLibvirtCrash, SourceAgentKilledMidCopyEndsWhereTheGuestRuns) {
  Start(kSlowLink, kConverging);
  auto id = GuestOn("kvm-1", "e2e-src-kill", 16);
  const std::string name = DomainName(id);
  const GuestTick before = bed().LastTick("kvm-1", name);
  StartRunning(id, name);
  lm_->stack->KillAgent("kvm-1");  // the agent that ran the copy and knew how it ended
  ASSERT_TRUE(LibvirtMoved(name)) << "libvirt's copy did not finish without the source agent";
  RestartAgent("kvm-1", kConverging);
  ExpectCompletedOnKvm2(id, name, before);
}

// The copy fails while no controller is alive: the record must end on the source, where the
// guest still runs, with the destination cleaned up and its claim released.
TEST_F(LiveMigrationLibvirtCrash, CopyAbortedWhileTheControllerIsDeadEndsOnTheSource) {
  Start(kSlowLink, "dirty_mbps=16 wss_mib=24");  // never converges at 8 MiB/s
  auto id = GuestOn("kvm-1", "e2e-ctl-kill-abort", 4);
  const std::string name = DomainName(id);
  StartRunning(id, name);
  lm_->stack->KillController();
  // "running" means the agent started its job thread; libvirt's own job begins a moment later
  // (seen under load: "no job is active"), so the abort is retried until it lands.
  int status = 0;
  Stack::WaitFor(
      [&] {
        bed().Script("exec kvm-1 -- virsh -q -c qemu:///system domjobabort " + name + " >&2",
                     &status);
        return status == 0;
      },
      10s);
  ASSERT_EQ(status, 0) << "virsh domjobabort failed";
  const GuestTick before = bed().LastTick("kvm-1", name);
  lm_->stack->StartController();
  auto w = WatchUntilTerminal(id, 90s);
  ASSERT_TRUE(w.ended) << w.last.dump();
  EXPECT_TRUE(w.last["status"] == "cancelled" || w.last["status"] == "failed") << w.last.dump();
  auto server = lm_->Server(id);
  EXPECT_EQ(server["OS-EXT-SRV-ATTR:host"], "kvm-1");
  EXPECT_EQ(server["status"], "ACTIVE");
  EXPECT_EQ(lm_->ClaimHosts(id), std::set<std::string>{"kvm-1"});
  EXPECT_EQ(lm_->LeakedClaims(), 0);
  ExpectRunsOnlyOn("kvm-1", "kvm-2", name, before);
}

// C1: the source host "reboots" in the middle of a block migration: its agent dies (kill -9)
// and the guest stops (virsh destroy leaves it defined and shut off, as a host crash does with
// a persistent domain). The restarted agent must report the move failed, never completed: the
// guest and its only disk stay on kvm-1, the record says kvm-1, and kvm-2 keeps nothing.
TEST_F(LiveMigrationLibvirtCrash, SourceHostRebootMidBlockMigrationKeepsTheGuestAndItsDisk) {
  Start(kSlowLink, kConverging);
  const std::string name = "e2e-src-reboot";
  // 256 MiB of disk at 8 MiB/s: the mirror alone takes ~30 s, ample time to crash in.
  auto id = AdoptTestbedGuest(name, "--disk local --disk-mb 256 --disk-data-mb 16");
  const std::string image = bed().ImagesDir("kvm-1") + "/" + name + ".qcow2";
  ASSERT_TRUE(std::filesystem::exists(image));
  StartRunning(id, name);
  lm_->stack->KillAgent("kvm-1");
  int status = 0;
  bed().Script("virsh kvm-1 destroy " + name + " >&2", &status);
  ASSERT_EQ(status, 0) << "virsh destroy failed";
  auto on_source = bed().Domains("kvm-1");
  ASSERT_EQ(std::count(on_source.begin(), on_source.end(), name), 1) << "still defined, shut off";
  RestartAgent("kvm-1", kConverging);

  auto w = WatchUntilTerminal(id, 120s);
  ASSERT_TRUE(w.ended) << w.last.dump();
  EXPECT_TRUE(w.last["status"] == "failed" || w.last["status"] == "error") << w.last.dump();
  EXPECT_EQ(w.statuses.count("completed"), 0u) << w.last.dump();
  EXPECT_EQ(lm_->Server(id)["OS-EXT-SRV-ATTR:host"], "kvm-1") << "the record left the guest";
  EXPECT_TRUE(std::filesystem::exists(image)) << "the guest's only disk was deleted";
  on_source = bed().Domains("kvm-1");
  EXPECT_EQ(std::count(on_source.begin(), on_source.end(), name), 1) << "the guest was undefined";
  EXPECT_TRUE(Stack::WaitFor(
      [&] {
        auto on_dest = bed().Domains("kvm-2");
        return std::count(on_dest.begin(), on_dest.end(), name) == 0;
      },
      30s))
      << name << " left on kvm-2";
  EXPECT_EQ(lm_->LeakedClaims(), 0);
}

}  // namespace
}  // namespace ferry::testing
