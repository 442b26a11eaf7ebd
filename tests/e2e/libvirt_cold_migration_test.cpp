// Cold migration and resize through the libvirt driver against two real libvirt hosts
// (deploy/testbed/libvirt-hosts): the guest powered off (destroyed when it ignores the power
// button), its local disk streamed agent to agent over TLS (agent/disk_transfer) through
// libvirt's storage streams, verified, grown, defined with the new flavor and started; confirm
// deletes the source, revert brings it back byte-identical; a copy cut by either agent's
// restart resumes; a destination copy that does not match is refused and the source kept.
// Testbed handling: libvirt_e2e_fixture.hpp.
#include <filesystem>

#include "tests/e2e/libvirt_e2e_fixture.hpp"

namespace {

using namespace ferry::e2e;
using ferry::Errc;
using ferry::Error;
namespace fs = std::filesystem;

constexpr int64_t kMiB = 1024 * 1024;

std::string Sha256(const std::string& path) {
  std::string out;
  if (Shell("sha256sum '" + path + "'", &out) != 0) return "";
  return out.substr(0, 64);
}

// "qemu-io -U -r": reads an image another process (a running QEMU) may hold.
bool HasPattern(const std::string& image, int mib) {
  std::string out;
  int rc = Shell("qemu-io -U -r -f qcow2 -c 'read -P 0x5a 0 " + std::to_string(mib) + "M' '" +
                     image + "' 2>&1",
                 &out);
  return rc == 0 && out.find("Pattern verification failed") == std::string::npos;
}

int64_t VirtualSize(const std::string& image) {
  std::string out;
  if (Shell("qemu-img info -U --output=json '" + image + "'", &out) != 0) return -1;
  return nlohmann::json::parse(out).value("virtual-size", int64_t{-1});
}

// `step` is refused with kConflict; `otherwise` says what its success would have done.
template <typename Step>
void ExpectConflict(Step step, const std::string& otherwise) {
  try {
    step();
    ADD_FAILURE() << otherwise;
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), Errc::kConflict) << e.what();
  }
}

class LibvirtColdMigrationE2E : public LibvirtE2E {
 protected:
  static void SetUpTestSuite() {
    LibvirtE2E::SetUpTestSuite();
    if (Bed().ready) Bed().Run("up");  // a no-op when up, but for the TLS files it makes
  }

  void SetUp() override {
    LibvirtE2E::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    state_ = fs::temp_directory_path() / ("ferry-cold-e2e-" + ferry::NewUuid());
    fs::create_directories(state_ / "kvm-1");
    fs::create_directories(state_ / "kvm-2");
  }
  void TearDown() override {
    LibvirtE2E::TearDown();
    std::error_code ec;
    if (!state_.empty()) fs::remove_all(state_, ec);
  }

  // The fixture's config plus a TLS identity under the testbed's CA, a state dir that outlives
  // a driver (its restart), and the destination's receiver on loopback at a fixed port, so a
  // restarted destination is found again where the source was told to send.
  LibvirtConfig ColdConfig(int host) {
    auto c = Config(host, 1);
    const std::string name = "kvm-" + std::to_string(host);
    const std::string tls = Bed().dir + "/tls";
    c.tls = {tls + "/ca.crt", tls + "/hosts/" + name + ".crt", tls + "/hosts/" + name + ".key"};
    c.disk_transfer_address = "127.0.0.1";
    c.disk_transfer_port = 16540 + host;
    c.state_dir = (state_ / name).string();
    return c;
  }
  void MakeColdDrivers() {
    src_ = std::make_unique<LibvirtDriver>(ColdConfig(1));
    dst_ = std::make_unique<LibvirtDriver>(ColdConfig(2));
  }

  // A running guest on kvm-1 with a 1 GiB qcow2 root disk whose first `data_mib` MiB hold 0x5a.
  ferry::wire::Domain DiskGuest(const std::string& what, int data_mib) {
    auto guest = NewGuest(what);
    guest.disk_gb = 1;
    volume_ = "ferry-" + guest.uuid + "-vda.qcow2";
    src_image_ = Bed().Images("kvm-1") + "/" + volume_;
    dst_image_ = Bed().Images("kvm-2") + "/ferry-" + guest.uuid + "-vda.disk";
    EXPECT_EQ(Shell("qemu-img create -q -f qcow2 '" + src_image_ + "' 1G && qemu-io -f qcow2 -c " +
                    "'write -P 0x5a 0 " + std::to_string(data_mib) + "M' '" + src_image_ +
                    "' >/dev/null"),
              0);
    auto created = src_->CreateDomain(guest);
    EXPECT_TRUE(WaitFor(20s, [&] { return Ticks(Bed().Serial("kvm-1", guest.name)).size() >= 2; }))
        << "the guest never ticked on kvm-1";
    return created;
  }

  ferry::wire::ColdMigrationSpec ColdSpec(const ferry::wire::Domain& d, int64_t bandwidth_mibps) {
    ferry::wire::ColdMigrationSpec s;
    s.migration_uuid = ferry::NewUuid();
    s.domain = d;
    s.new_vcpus = d.vcpus;
    s.new_memory_mb = d.memory_mb;
    s.new_disk_gb = d.disk_gb;
    s.source_host = "kvm-1";
    s.dest_host = "kvm-2";
    s.transfer_token = ferry::NewUuid() + ferry::NewUuid();
    s.bandwidth_mibps = bandwidth_mibps;
    s.shutdown_timeout_s = 2;
    return s;
  }

  // prepare on kvm-2, power-off and copy start on kvm-1.
  void StartMove(ferry::wire::ColdMigrationSpec& spec) {
    spec.receive_uri = dst_->PrepareColdMigrationDestination(spec);
    ASSERT_EQ(spec.receive_uri.rfind("ferry-disk://127.0.0.1:", 0), 0u) << spec.receive_uri;
    src_->PowerOffForColdMigration(spec);
    src_->StartColdMigrationCopy(spec);
  }

  // Waits until the copy has moved at least `bytes` (as the source reports it).
  int64_t WaitCopied(const std::string& migration, int64_t bytes) {
    int64_t seen = 0;
    EXPECT_TRUE(WaitFor(60s,
                        [&] {
                          auto j = src_->LiveMigrationJobStats(migration);
                          if (j) seen = j->disk_processed;
                          return j && (j->state != "running" || seen >= bytes);
                        }))
        << "the copy never reached " << bytes << " bytes (at " << seen << ")";
    return seen;
  }

  // `virsh HOST ARGS` on the testbed; its output.
  static std::string Virsh(const std::string& host, const std::string& args) {
    std::string out;
    Shell("'" + Bed().script + "' --dir '" + Bed().dir + "' virsh " + host + " " + args, &out);
    return out;
  }
  static bool Autostarts(const std::string& host, const std::string& name) {
    return Virsh(host, "dominfo " + name).find("Autostart:      enable") != std::string::npos;
  }

  fs::path state_;
  std::string volume_, src_image_, dst_image_;
};

TEST_F(LibvirtColdMigrationE2E, ResizeCopiesVerifiesGrowsAndDefinesTheNewFlavorThenConfirm) {
  MakeColdDrivers();
  auto guest = DiskGuest("ferry-e2e-resize", 24);
  auto spec = ColdSpec(guest, 0);
  spec.new_vcpus = 2;
  spec.new_memory_mb = 192;
  spec.new_disk_gb = 2;

  const auto t0 = Clock::now();
  src_->PowerOffForColdMigration(spec);
  const double off_s = Since(t0);
  auto off = Find(*src_, guest.uuid);
  ASSERT_TRUE(off.has_value()) << "powered off, the guest stays defined on the source";
  EXPECT_EQ(off->power_state, ferry::wire::PowerState::kShutdown);
  // The testbed guest ignores the power button: destroyed once the 2 s timeout passed.
  EXPECT_GE(off_s, 1.9);
  const std::string source_sha = Sha256(src_image_);
  ASSERT_FALSE(source_sha.empty());

  spec.receive_uri = dst_->PrepareColdMigrationDestination(spec);
  src_->StartColdMigrationCopy(spec);
  auto job = WaitForEnd(*src_, spec.migration_uuid, 120s);
  ASSERT_EQ(job.state, "completed") << job.error;
  EXPECT_EQ(job.phase, "done");
  EXPECT_GT(job.disk_total, 0);
  EXPECT_EQ(job.disk_processed, job.disk_total);
  // The image file itself went over (its bytes, not a re-encoding): equal before the resize.
  EXPECT_EQ(Sha256(dst_image_), source_sha) << "the destination's copy differs from the source";

  auto moved = dst_->FinishColdMigrationDestination(spec);
  EXPECT_EQ(moved.vcpus, 2);
  EXPECT_EQ(moved.memory_mb, 192);
  EXPECT_EQ(moved.power_state, ferry::wire::PowerState::kRunning);
  EXPECT_EQ(VirtualSize(dst_image_), 2048 * kMiB) << "the root disk grows to the new flavor";
  EXPECT_TRUE(HasPattern(dst_image_, 24)) << "the guest's data arrived";
  EXPECT_TRUE(WaitFor(20s, [&] { return Ticks(Bed().Serial("kvm-2", guest.name)).size() >= 2; }))
      << "the guest does not run on kvm-2";
  // A repeat of finish (a controller that crashed after sending it) returns the guest as is.
  EXPECT_EQ(dst_->FinishColdMigrationDestination(spec).uuid, guest.uuid);
  EXPECT_EQ(Sha256(src_image_), source_sha) << "the source is untouched until confirm";

  src_->ConfirmColdMigrationSource(spec);
  EXPECT_FALSE(HasDomain(*src_, guest.uuid));
  EXPECT_FALSE(fs::exists(src_image_)) << "confirm deletes the source's local disk";
  EXPECT_TRUE(HasDomain(*dst_, guest.uuid));
  src_->ConfirmColdMigrationSource(spec);  // a repeat: already gone is success
}

TEST_F(LibvirtColdMigrationE2E, RevertBringsTheGuestBackOnTheSourceByteIdentical) {
  MakeColdDrivers();
  auto guest = DiskGuest("ferry-e2e-revert", 8);
  auto spec = ColdSpec(guest, 0);
  StartMove(spec);
  const std::string source_sha = Sha256(src_image_);
  ASSERT_EQ(WaitForEnd(*src_, spec.migration_uuid, 120s).state, "completed");
  dst_->FinishColdMigrationDestination(spec);
  ASSERT_TRUE(HasDomain(*dst_, guest.uuid));

  // Confirm is refused while the guest runs on the source? It is off there: the source has the
  // definition, shut off. Revert: the destination's copy goes first, then the source starts.
  dst_->RevertColdMigrationDestination(spec);
  EXPECT_FALSE(HasDomain(*dst_, guest.uuid));
  EXPECT_FALSE(fs::exists(dst_image_)) << "revert removes the copy that arrived";
  auto back = src_->RevertColdMigrationSource(spec);
  EXPECT_EQ(back.power_state, ferry::wire::PowerState::kRunning);
  EXPECT_EQ(Sha256(src_image_), source_sha) << "the source's disk is byte-identical";
  auto before = Ticks(Bed().Serial("kvm-1", guest.name));
  EXPECT_TRUE(WaitFor(20s, [&] {
    return Ticks(Bed().Serial("kvm-1", guest.name)).size() >= before.size() + 2;
  })) << "the guest does not run again on kvm-1";
  // Confirm of a guest that runs here is refused: it would be lost.
  ExpectConflict([&] { src_->ConfirmColdMigrationSource(spec); },
                 "confirm deleted a running guest");
  EXPECT_TRUE(fs::exists(src_image_));
}

TEST_F(LibvirtColdMigrationE2E, ASourceAgentRestartMidCopyResumesWhereTheDestinationIs) {
  MakeColdDrivers();
  auto guest = DiskGuest("ferry-e2e-src-restart", 40);
  auto spec = ColdSpec(guest, 8);  // 40 MiB at 8 MiB/s: ~5 s
  StartMove(spec);
  const std::string source_sha = Sha256(src_image_);
  const int64_t before_restart = WaitCopied(spec.migration_uuid, 24 * kMiB);
  ASSERT_GE(before_restart, 24 * kMiB);

  src_.reset();  // the agent stops: the copy's record stays running in its journal
  src_ = std::make_unique<LibvirtDriver>(ColdConfig(1));  // adopts and resumes it
  int64_t first_after = -1;
  ASSERT_TRUE(WaitFor(30s, [&] {
    auto j = src_->LiveMigrationJobStats(spec.migration_uuid);
    if (j && j->disk_processed > 0 && first_after < 0) first_after = j->disk_processed;
    return j && j->state != "running";
  }));
  auto job = *src_->LiveMigrationJobStats(spec.migration_uuid);
  ASSERT_EQ(job.state, "completed") << job.error;
  // It went on from the destination's last checkpoint (every 2 s or 64 MiB), not from zero.
  EXPECT_GE(first_after, 8 * kMiB) << "the copy started over";
  EXPECT_EQ(Sha256(dst_image_), source_sha);
  dst_->FinishColdMigrationDestination(spec);
  EXPECT_TRUE(HasPattern(dst_image_, 40));
}

TEST_F(LibvirtColdMigrationE2E, ADestinationAgentRestartMidCopyIsResumedBySourceRetries) {
  MakeColdDrivers();
  auto guest = DiskGuest("ferry-e2e-dst-restart", 40);
  auto spec = ColdSpec(guest, 8);
  StartMove(spec);
  const std::string source_sha = Sha256(src_image_);
  WaitCopied(spec.migration_uuid, 20 * kMiB);
  dst_.reset();  // the destination's agent stops: the link breaks, the source tries again
  std::this_thread::sleep_for(1500ms);
  dst_ = std::make_unique<LibvirtDriver>(ColdConfig(2));
  auto job = WaitForEnd(*src_, spec.migration_uuid, 90s);
  ASSERT_EQ(job.state, "completed") << job.error;
  EXPECT_EQ(Sha256(dst_image_), source_sha);
  auto moved = dst_->FinishColdMigrationDestination(spec);
  EXPECT_EQ(moved.power_state, ferry::wire::PowerState::kRunning);
}

TEST_F(LibvirtColdMigrationE2E, ADestinationCopyThatDoesNotVerifyFailsAndTheSourceIsKept) {
  MakeColdDrivers();
  auto guest = DiskGuest("ferry-e2e-mismatch", 32);
  auto spec = ColdSpec(guest, 8);
  StartMove(spec);
  const std::string source_sha = Sha256(src_image_);
  WaitCopied(spec.migration_uuid, 4 * kMiB);
  // Bytes already written on the destination go bad there (a disk error, a meddler) before
  // the destination read them back: its first checkpoint, when it reads back what it flushed,
  // comes 2 s into the copy; this is about 0.5 s in.
  ASSERT_EQ(Shell("printf 'corrupt' | dd of='" + dst_image_ +
                  "' bs=1 seek=524288 conv=notrunc status=none"),
            0);
  auto job = WaitForEnd(*src_, spec.migration_uuid, 90s);
  EXPECT_EQ(job.state, "failed");
  EXPECT_NE(job.error.find("checksum"), std::string::npos) << job.error;
  ExpectConflict([&] { dst_->FinishColdMigrationDestination(spec); },
                 "a guest was defined from disks that do not verify");
  EXPECT_FALSE(HasDomain(*dst_, guest.uuid));
  dst_->RevertColdMigrationDestination(spec);
  EXPECT_FALSE(fs::exists(dst_image_));
  EXPECT_EQ(Sha256(src_image_), source_sha) << "the source's disk is untouched";
  auto back = src_->RevertColdMigrationSource(spec);
  EXPECT_EQ(back.power_state, ferry::wire::PowerState::kRunning);
}

TEST_F(LibvirtColdMigrationE2E, AnAbortEndsTheCopyCancelledWithTheGuestOffOnTheSource) {
  MakeColdDrivers();
  auto guest = DiskGuest("ferry-e2e-abort", 32);
  auto spec = ColdSpec(guest, 4);
  StartMove(spec);
  WaitCopied(spec.migration_uuid, 4 * kMiB);
  src_->AbortColdMigrationCopy(spec.migration_uuid);
  auto job = WaitForEnd(*src_, spec.migration_uuid, 30s);
  EXPECT_EQ(job.state, "cancelled") << job.error;
  auto src = Find(*src_, guest.uuid);
  ASSERT_TRUE(src.has_value());
  EXPECT_EQ(src->power_state, ferry::wire::PowerState::kShutdown);
  dst_->RevertColdMigrationDestination(spec);
  EXPECT_FALSE(fs::exists(dst_image_));
}

// The guest is already defined on the destination (an earlier move left it there, or the
// controller's record is wrong): prepare refuses, and the rollback that follows must leave that
// guest and its disk exactly as they are — they may be its only copy.
TEST_F(LibvirtColdMigrationE2E, RevertAfterARefusedPrepareLeavesAGuestThatWasThereAlone) {
  MakeColdDrivers();
  auto guest = NewGuest("ferry-e2e-already-there");
  guest.disk_gb = 1;
  auto there = dst_->CreateDomain(guest);
  const std::string its_disk = Bed().Images("kvm-2") + "/ferry-" + guest.uuid + "-vda.qcow2";
  ASSERT_TRUE(fs::exists(its_disk));
  auto spec = ColdSpec(there, 0);
  ExpectConflict([&] { dst_->PrepareColdMigrationDestination(spec); },
                 "prepared a move onto a host that has the guest");
  dst_->RevertColdMigrationDestination(spec);
  auto still = Find(*dst_, guest.uuid);
  ASSERT_TRUE(still.has_value()) << "the rollback removed a guest this move never made";
  EXPECT_EQ(still->power_state, ferry::wire::PowerState::kRunning);
  EXPECT_TRUE(fs::exists(its_disk)) << "the rollback deleted the guest's own disk";
}

// A copy recorded running when the agent stopped is resumed by the next agent; one that has no
// TLS identity any more ends it failed (the move rolls back) instead of crashing at every start.
TEST_F(LibvirtColdMigrationE2E, ACopyResumedByAnAgentWithoutTlsEndsFailed) {
  MakeColdDrivers();
  auto guest = DiskGuest("ferry-e2e-no-tls", 32);
  auto spec = ColdSpec(guest, 4);
  StartMove(spec);
  WaitCopied(spec.migration_uuid, 2 * kMiB);
  src_.reset();
  auto no_tls = ColdConfig(1);
  no_tls.tls = {};
  src_ = std::make_unique<LibvirtDriver>(no_tls);
  auto job = WaitForEnd(*src_, spec.migration_uuid, 30s);
  EXPECT_EQ(job.state, "failed");
  EXPECT_NE(job.error.find("sends no disks"), std::string::npos) << job.error;
  ASSERT_TRUE(Find(*src_, guest.uuid).has_value());
}

// Autostart is off while the guest is away (a libvirtd or host restart must not start a second
// copy), a guest started on the source anyway fails the copy, and revert turns autostart on.
TEST_F(LibvirtColdMigrationE2E, AutostartIsOffDuringTheMoveAndAStartOnTheSourceFailsTheCopy) {
  MakeColdDrivers();
  auto guest = DiskGuest("ferry-e2e-autostart", 24);
  Virsh("kvm-1", "autostart " + guest.name);
  ASSERT_TRUE(Autostarts("kvm-1", guest.name));
  auto spec = ColdSpec(guest, 4);
  StartMove(spec);
  EXPECT_FALSE(Autostarts("kvm-1", guest.name)) << "autostart stays on during the move";
  WaitCopied(spec.migration_uuid, 2 * kMiB);
  Virsh("kvm-1", "start " + guest.name);  // someone starts it on the source mid-copy
  auto job = WaitForEnd(*src_, spec.migration_uuid, 60s);
  EXPECT_EQ(job.state, "failed");
  EXPECT_NE(job.error.find("started again on the source"), std::string::npos) << job.error;
  dst_->RevertColdMigrationDestination(spec);
  EXPECT_FALSE(HasDomain(*dst_, guest.uuid));
  src_->RevertColdMigrationSource(spec);
  EXPECT_TRUE(Autostarts("kvm-1", guest.name)) << "revert restores autostart";
}

}  // namespace
