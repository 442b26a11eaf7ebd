// The libvirt driver's disks against two real libvirt hosts (deploy/testbed/libvirt-hosts):
// disks reported as local / shared / volume, disk-backed guests in the images pool, block
// migration that really copies a local disk, selective block migration that leaves a shared
// volume in place, the destination CPU check, and job outcomes kept across a driver restart.
// Every migrated guest must keep ticking on kvm-2 with the boot it had on kvm-1.
// Testbed handling: libvirt_e2e_fixture.hpp.
#include <filesystem>

#include "tests/e2e/libvirt_e2e_fixture.hpp"

namespace {

using namespace ferry::e2e;
using ferry::Errc;
using ferry::Error;
using ferry::wire::Disk;
namespace fs = std::filesystem;

constexpr int64_t kMiB = 1024 * 1024;

// "qemu-io -U -r": reads an image another process (a running QEMU) may hold.
int QemuIoReadPattern(const std::string& image, int mib) {
  std::string out;
  int rc = Shell("qemu-io -U -r -f qcow2 -c 'read -P 0x5a 0 " + std::to_string(mib) + "M' '" +
                     image + "' 2>&1",
                 &out);
  if (out.find("Pattern verification failed") != std::string::npos) return 1;
  return rc;
}

// Bytes the file really occupies (sparse files: its allocated blocks).
int64_t Allocated(const std::string& path) {
  std::string out;
  if (Shell("stat -c %b*%B '" + path + "'", &out) != 0) return -1;
  auto star = out.find('*');
  return std::stoll(out.substr(0, star)) * std::stoll(out.substr(star + 1));
}

const Disk* DiskOf(const ferry::wire::Domain& d, const std::string& target) {
  for (const auto& disk : d.disks) {
    if (disk.target == target) return &disk;
  }
  return nullptr;
}

class LibvirtBlockMigrationE2E : public LibvirtE2E {
 protected:
  void TearDown() override {
    LibvirtE2E::TearDown();
    for (auto& name : script_guests_) Bed().Run("guest undefine " + name);
  }
  std::vector<std::string> script_guests_;  // defined with `libvirt-hosts guest define`
};

TEST_F(LibvirtBlockMigrationE2E, BlockMigrationCopiesALocalRootDisk) {
  MakeDrivers(8);
  auto guest = NewGuest("ferry-e2e-block");
  guest.disk_gb = 1;
  // The root disk the driver will create, made first with 8 MiB of 0x5a so there is data to
  // copy (CreateDomain takes an existing volume of the right size, as a repeat would).
  const std::string volume = "ferry-" + guest.uuid + "-vda.qcow2";
  const std::string src_image = Bed().Images("kvm-1") + "/" + volume;
  const std::string dst_image = Bed().Images("kvm-2") + "/" + volume;
  ASSERT_EQ(Shell("qemu-img create -q -f qcow2 '" + src_image + "' 1G && qemu-io -f qcow2 -c " +
                  "'write -P 0x5a 0 8M' '" + src_image + "' >/dev/null"),
            0);
  auto created = src_->CreateDomain(guest);
  const Disk* root = DiskOf(created, "vda");
  ASSERT_NE(root, nullptr) << "no vda reported";
  EXPECT_EQ(root->kind, "local");
  EXPECT_EQ(root->path, std::string(ferry::testing::LibvirtTestbed::kImagesPoolPath) + "/" + volume)
      << "the pool's path, as libvirtd sees it";
  EXPECT_EQ(root->capacity_bytes, 1024 * kMiB);
  EXPECT_EQ(root->format, "qcow2");
  EXPECT_EQ(created.disk_gb, 1);
  ASSERT_TRUE(WaitFor(20s, [&] { return Ticks(Bed().Serial("kvm-1", guest.name)).size() >= 2; }));

  // 512 MiB/s: the mirror counts the whole virtual size (holes too) against the bandwidth.
  auto spec = Spec(guest, 512);
  spec.block_migration = true;
  spec.domain.disks = created.disks;  // the destination pre-creates vda from these
  spec.source_cpu = src_->Info().cpu;
  dst_->CheckLiveMigrationDestination(spec);
  spec.incoming_uri = dst_->PrepareLiveMigrationDestination(spec);
  ASSERT_TRUE(fs::exists(dst_image)) << "prepare did not pre-create the destination disk";
  auto t0 = Clock::now();
  src_->StartLiveMigration(spec);
  int64_t max_disk = 0;
  auto job = WaitForEnd(*src_, spec.migration_uuid, 120s, &max_disk);
  double took = Since(t0);
  ASSERT_EQ(job.state, "completed") << job.error;
  std::fprintf(stderr,
               "block migration: %.1f s; disk total %lld, processed (max while running) %lld, "
               "memory %lld bytes; destination image allocates %lld bytes\n",
               took, static_cast<long long>(job.disk_total), static_cast<long long>(max_disk),
               static_cast<long long>(job.memory_processed),
               static_cast<long long>(Allocated(dst_image)));
  // QEMU's mirror reports the disk's virtual size as its total; what it really wrote is what the
  // destination image allocates: the 8 MiB of data, not the 1 GiB of holes.
  EXPECT_EQ(job.disk_total, 1024 * kMiB);
  EXPECT_GT(max_disk, 0) << "no disk progress seen while the copy ran";
  EXPECT_GE(Allocated(dst_image), 8 * kMiB) << "the data did not reach the destination";
  EXPECT_LT(Allocated(dst_image), 64 * kMiB) << "the holes were written out";

  auto finished = dst_->FinishLiveMigrationDestination(spec);
  EXPECT_EQ(finished.power_state, ferry::wire::PowerState::kRunning);
  ASSERT_NE(DiskOf(finished, "vda"), nullptr);
  EXPECT_EQ(DiskOf(finished, "vda")->path, root->path);
  src_->CleanupLiveMigrationSource(spec);
  EXPECT_FALSE(fs::exists(src_image)) << "cleanup left the source's copy of the copied disk";
  EXPECT_EQ(QemuIoReadPattern(dst_image, 8), 0) << "the destination disk lacks the data";
  ExpectTicksMovedToKvm2(guest.name);

  dst_->DeleteDomain(guest.uuid);
  EXPECT_FALSE(fs::exists(dst_image)) << "DeleteDomain left the disk ferry created";
}

TEST_F(LibvirtBlockMigrationE2E, SelectiveBlockMigrationLeavesTheSharedVolumeInPlace) {
  MakeDrivers(8);
  // A guest as an operator would have it (adopted later): root disk in kvm-1's images pool,
  // 16 MiB of data in each of its two disks, a 256 MiB volume on the shared directory.
  const std::string name = "ferry-e2e-sel-" + ferry::NewUuid().substr(0, 8);
  script_guests_.push_back(name);
  ASSERT_EQ(Bed().Run("guest define " + name + " --host kvm-1 --disk local --disk-mb 64 " +
                      "--disk-data-mb 16 --volume-mb 256 --tick-ms 500"),
            0);
  ferry::wire::Domain guest;
  for (auto& d : src_->ListDomains()) {
    if (d.name == name) guest = d;
  }
  ASSERT_FALSE(guest.uuid.empty());
  ASSERT_EQ(guest.disks.size(), 2u);
  const Disk* root = DiskOf(guest, "vda");
  const Disk* vol = DiskOf(guest, "vdb");
  ASSERT_TRUE(root && vol);
  EXPECT_EQ(root->kind, "local");
  EXPECT_EQ(root->path,
            std::string(ferry::testing::LibvirtTestbed::kImagesPoolPath) + "/" + name + ".qcow2");
  EXPECT_EQ(root->capacity_bytes, 64 * kMiB);
  EXPECT_EQ(vol->kind, "volume");
  EXPECT_EQ(vol->path, Bed().dir + "/shared/volumes/" + name + "-vol.qcow2");
  EXPECT_EQ(vol->capacity_bytes, 256 * kMiB);
  ASSERT_TRUE(WaitFor(20s, [&] { return Ticks(Bed().Serial("kvm-1", name)).size() >= 2; }));

  auto spec = Spec(guest, 64);
  spec.block_migration = true;
  spec.domain.disks.clear();  // no sizes: libvirt itself pre-creates vda in kvm-2's pool
  dst_->CheckLiveMigrationDestination(spec);
  spec.incoming_uri = dst_->PrepareLiveMigrationDestination(spec);
  auto t0 = Clock::now();
  src_->StartLiveMigration(spec);
  int64_t max_disk = 0;
  auto job = WaitForEnd(*src_, spec.migration_uuid, 120s, &max_disk);
  ASSERT_EQ(job.state, "completed") << job.error;
  std::fprintf(stderr,
               "selective block migration: %.1f s; disk total %lld, processed (max while "
               "running) %lld, memory %lld bytes\n",
               Since(t0), static_cast<long long>(job.disk_total), static_cast<long long>(max_disk),
               static_cast<long long>(job.memory_processed));
  // The mirror's total is the copied disks' virtual size: vda's 64 MiB, not vdb's 256 MiB more.
  EXPECT_EQ(job.disk_total, 64 * kMiB) << "not exactly the root disk was copied";

  dst_->FinishLiveMigrationDestination(spec);
  src_->CleanupLiveMigrationSource(spec);
  auto moved = Find(*dst_, guest.uuid);
  ASSERT_TRUE(moved);
  ASSERT_NE(DiskOf(*moved, "vdb"), nullptr);
  EXPECT_EQ(DiskOf(*moved, "vdb")->path, vol->path) << "the volume must stay where it was";
  EXPECT_EQ(QemuIoReadPattern(Bed().Images("kvm-2") + "/" + name + ".qcow2", 16), 0);
  EXPECT_FALSE(fs::exists(Bed().Images("kvm-1") + "/" + name + ".qcow2"));
  ExpectTicksMovedToKvm2(name);
}

TEST_F(LibvirtBlockMigrationE2E, AbortedBlockMigrationLeavesNoDiskOnTheDestination) {
  // 64 MiB of RAM dirtied at 64 MiB/s against 16 MiB/s: the disk mirror finishes, the memory
  // copy never converges; the abort must leave the guest and its disk on kvm-1 only.
  MakeDrivers(64);
  const std::string name = "ferry-e2e-blkabort-" + ferry::NewUuid().substr(0, 8);
  script_guests_.push_back(name);
  ASSERT_EQ(Bed().Run("guest define " + name + " --host kvm-1 --disk local --disk-mb 64 " +
                      "--memory-mb 64 --dirty-mbps 64 --tick-ms 500"),
            0);
  ferry::wire::Domain guest;
  for (auto& d : src_->ListDomains()) {
    if (d.name == name) guest = d;
  }
  ASSERT_FALSE(guest.uuid.empty());
  const std::string dst_image = Bed().Images("kvm-2") + "/" + name + ".qcow2";
  const std::string src_image = Bed().Images("kvm-1") + "/" + name + ".qcow2";
  ASSERT_TRUE(WaitFor(20s, [&] { return Ticks(Bed().Serial("kvm-1", name)).size() >= 2; }));

  auto spec = Spec(guest, 16);
  spec.block_migration = true;
  spec.domain.disks.clear();  // as the controller sends it: libvirt pre-creates the disk
  dst_->CheckLiveMigrationDestination(spec);
  spec.incoming_uri = dst_->PrepareLiveMigrationDestination(spec);
  src_->StartLiveMigration(spec);
  ferry::wire::LiveMigrationJob job;
  ASSERT_TRUE(WaitFor(60s,
                      [&] {
                        auto j = src_->LiveMigrationJobStats(spec.migration_uuid);
                        if (j) job = *j;
                        return j && (j->state != "running" || j->iteration >= 2);
                      }))
      << "no second memory pass; " << job.state << " " << job.error;
  ASSERT_EQ(job.state, "running") << job.error;
  std::fprintf(stderr, "before abort: disk %lld/%lld, memory iteration %d\n",
               static_cast<long long>(job.disk_processed), static_cast<long long>(job.disk_total),
               job.iteration);
  src_->AbortLiveMigration(spec.migration_uuid);
  EXPECT_EQ(src_->LiveMigrationJobStats(spec.migration_uuid)->state, "cancelled");
  // libvirt 9.0 leaves the disk it pre-created: the rollback must find and remove it.
  std::fprintf(stderr, "after abort, before rollback: destination image %s\n",
               fs::exists(dst_image) ? "still there" : "removed by libvirt");
  dst_->RollbackLiveMigrationDestination(spec);
  EXPECT_FALSE(fs::exists(dst_image)) << "rollback left the pre-created disk";
  EXPECT_TRUE(fs::exists(src_image)) << "the source's disk must stay";
  EXPECT_FALSE(HasDomain(*dst_, guest.uuid));
  Tick before = LastTick(Bed().Serial("kvm-1", name));
  EXPECT_TRUE(WaitFor(5s, [&] { return LastTick(Bed().Serial("kvm-1", name)).n > before.n + 1; }))
      << "the guest stopped ticking on kvm-1";
}

TEST_F(LibvirtBlockMigrationE2E, WithoutBlockMigrationALocalDiskGuestIsRefused) {
  MakeDrivers(8);
  auto guest = NewGuest("ferry-e2e-nolocal");
  guest.disk_gb = 1;
  src_->CreateDomain(guest);
  auto spec = Spec(guest, 64);
  spec.incoming_uri = "tcp://10.77.2.2";
  try {
    src_->StartLiveMigration(spec);
    ADD_FAILURE() << "a local disk without block migration must be refused";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), Errc::kConflict) << e.what();
    EXPECT_NE(std::string(e.what()).find("block migration"), std::string::npos) << e.what();
  }
  EXPECT_FALSE(src_->LiveMigrationJobStats(spec.migration_uuid)) << "no job may exist";
}

TEST_F(LibvirtBlockMigrationE2E, DestinationRefusesASourceCpuItCannotRun) {
  MakeDrivers(8);
  auto guest = NewGuest("ferry-e2e-cpu");
  auto spec = Spec(guest, 64);
  spec.source_cpu = src_->Info().cpu;
  ASSERT_FALSE(spec.source_cpu.model.empty());
  dst_->CheckLiveMigrationDestination(spec);  // the same machine: compatible
  // A feature this host lacks (libvirt knows every name here).
  for (const char* f : {"avx512f", "amx-tile", "sgx", "la57", "svm", "vmx", "avx512bw"}) {
    auto& have = spec.source_cpu.features;
    if (std::find(have.begin(), have.end(), f) == have.end()) {
      have.push_back(f);
      break;
    }
  }
  try {
    dst_->CheckLiveMigrationDestination(spec);
    ADD_FAILURE() << "a source CPU with a feature this host lacks must be refused";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), Errc::kConflict) << e.what();
    std::fprintf(stderr, "refused as expected: %s\n", e.what());
  }
  spec.source_cpu = {};  // unknown: skipped
  dst_->CheckLiveMigrationDestination(spec);
}

TEST_F(LibvirtBlockMigrationE2E, JobOutcomesSurviveADriverRestart) {
  // 64 MiB dirtied at 64 MiB/s against 16 MiB/s: the copy never converges on its own.
  const std::string state = Bed().dir + "/state/e2e-agent-" + ferry::NewUuid().substr(0, 8);
  auto config = Config(1, 64);
  config.state_dir = state;
  src_ = std::make_unique<LibvirtDriver>(config);
  dst_ = std::make_unique<LibvirtDriver>(Config(2, 64));
  auto guest = NewGuest("ferry-e2e-restart");
  guest.memory_mb = 64;
  src_->CreateDomain(guest);
  ASSERT_TRUE(WaitFor(20s, [&] { return Ticks(Bed().Serial("kvm-1", guest.name)).size() >= 2; }));
  auto spec = Spec(guest, 16);
  spec.incoming_uri = dst_->PrepareLiveMigrationDestination(spec);
  src_->StartLiveMigration(spec);
  ASSERT_TRUE(WaitFor(20s, [&] {
    auto j = src_->LiveMigrationJobStats(spec.migration_uuid);
    return j && j->state == "running" && j->memory_processed > 0;
  }));
  // A second driver on the same state dir is the agent after a restart: it finds the job
  // running in libvirt, reports it running, and can abort it.
  auto restarted = std::make_unique<LibvirtDriver>(config);
  auto seen = restarted->LiveMigrationJobStats(spec.migration_uuid);
  ASSERT_TRUE(seen);
  EXPECT_EQ(seen->state, "running");
  EXPECT_GT(seen->memory_processed, 0);
  ASSERT_EQ(restarted->LiveMigrationJobsToReport().size(), 1u);
  restarted->AbortLiveMigration(spec.migration_uuid);
  auto after = restarted->LiveMigrationJobStats(spec.migration_uuid);
  ASSERT_TRUE(after);
  EXPECT_EQ(after->state, "cancelled") << after->error;
  auto first = WaitForEnd(*src_, spec.migration_uuid, 30s);
  EXPECT_EQ(first.state, "cancelled") << first.error;
  dst_->RollbackLiveMigrationDestination(spec);

  // And an ended job answers how it ended after yet another restart; once the controller has
  // acknowledged it, it is not pushed again.
  restarted->LiveMigrationJobReported(spec.migration_uuid);
  restarted.reset();
  src_.reset();
  src_ = std::make_unique<LibvirtDriver>(config);
  auto stored = src_->LiveMigrationJobStats(spec.migration_uuid);
  ASSERT_TRUE(stored);
  EXPECT_EQ(stored->state, "cancelled");
  EXPECT_TRUE(src_->LiveMigrationJobsToReport().empty()) << "acknowledged before the restart";
  EXPECT_TRUE(HasDomain(*src_, guest.uuid));
  fs::remove_all(state);
}

}  // namespace
