// What the libvirt driver must never destroy, against the two real libvirt hosts
// (deploy/testbed/libvirt-hosts; fixture: libvirt_e2e_fixture.hpp):
// - a migration whose guest is defined but shut off on the source after an agent restart (the
//   host rebooted, QEMU died, virsh destroy) failed: it never counts as completed, and the
//   source cleanup keeps the guest's definition and its disk;
// - a destination rollback removes only what this migration's prepare made: never a shut-off
//   domain of the same uuid it did not create, never a volume someone made after prepare.
#include <filesystem>

#include "agent/jobs/job_journal.hpp"
#include "tests/e2e/libvirt_e2e_fixture.hpp"

namespace {

using namespace ferry::e2e;
using ferry::Errc;
using ferry::Error;
using ferry::agent::JobJournal;
using ferry::agent::JobRecord;
namespace fs = std::filesystem;

class LibvirtGuestSafetyE2E : public LibvirtE2E {
 protected:
  void TearDown() override {
    LibvirtE2E::TearDown();
    for (const auto& path : remove_) fs::remove_all(path);
  }

  // A fresh agent state directory (removed at the end).
  std::string StateDir() {
    remove_.push_back(Bed().dir + "/state/e2e-safety-" + ferry::NewUuid().substr(0, 8));
    return remove_.back();
  }

  // The driver's root volume of `guest` on `host`, as this process sees it.
  static std::string RootImage(const std::string& host, const ferry::wire::Domain& guest) {
    return Bed().Images(host) + "/ferry-" + guest.uuid + "-vda.qcow2";
  }

  std::vector<std::string> remove_;
};

// C1: the host rebooted mid-copy. The agent's record says the block migration was running; the
// guest comes back defined but shut off. Even a record claiming the domain was persistent (the
// strongest evidence "gone" could mean "moved") must not make "shut off" a success.
TEST_F(LibvirtGuestSafetyE2E, GuestShutOffMidMigrationIsAFailureAndCleanupKeepsIt) {
  MakeDrivers(8);
  auto guest = NewGuest("ferry-e2e-c1");
  guest.disk_gb = 1;
  auto created = src_->CreateDomain(guest);
  ASSERT_EQ(created.disks.size(), 1u);
  const std::string image = RootImage("kvm-1", guest);
  ASSERT_TRUE(fs::exists(image));

  auto spec = Spec(guest, 16);
  spec.domain = created;
  spec.block_migration = true;
  spec.incoming_uri = "tcp://10.77.2.2";
  const std::string state = StateDir();
  JobRecord stored;
  stored.spec = spec;
  stored.last.migration_uuid = spec.migration_uuid;
  stored.last.domain_uuid = guest.uuid;
  stored.last.state = "running";
  stored.last.phase = "precopy";
  stored.driver_facts = {{"copied_disks", {created.disks[0].path}}, {"source_persistent", true}};
  ASSERT_TRUE(JobJournal(state + "/libvirt-migrations").Put(stored));
  ASSERT_EQ(Bed().Run("virsh kvm-1 destroy " + guest.name), 0);  // as a host crash leaves it

  auto config = Config(1, 8);
  config.state_dir = state;
  src_ = std::make_unique<LibvirtDriver>(config);  // the agent after the reboot
  auto job = src_->LiveMigrationJobStats(spec.migration_uuid);
  ASSERT_TRUE(job);
  EXPECT_EQ(job->state, "failed") << job->error;
  EXPECT_NE(job->error.find("stopped during migration"), std::string::npos) << job->error;

  try {
    src_->CleanupLiveMigrationSource(spec);
    ADD_FAILURE() << "cleanup of a migration that did not complete must be refused";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), Errc::kConflict) << e.what();
  }
  EXPECT_TRUE(HasDomain(*src_, guest.uuid)) << "the guest's only definition was removed";
  EXPECT_TRUE(fs::exists(image)) << "the guest's only disk was deleted";
  // And a restart reads the failure back, never a late "completed".
  src_ = std::make_unique<LibvirtDriver>(config);
  EXPECT_EQ(src_->LiveMigrationJobStats(spec.migration_uuid)->state, "failed");
}

// M2: the destination has a guest of this uuid defined but shut off that this migration's
// prepare did not make (a later move brought it back and it was stopped; a stale rollback
// arrives). Rollback removes only the incoming copy: this domain and its disk stay.
TEST_F(LibvirtGuestSafetyE2E, RollbackLeavesAShutOffDomainOfTheSameUuid) {
  MakeDrivers(8);
  auto guest = NewGuest("ferry-e2e-m2");
  guest.disk_gb = 1;
  dst_->CreateDomain(guest);
  ASSERT_EQ(Bed().Run("virsh kvm-2 destroy " + guest.name), 0);
  auto spec = Spec(guest, 16);
  spec.block_migration = true;
  spec.incoming_uri = dst_->PrepareLiveMigrationDestination(spec);
  dst_->RollbackLiveMigrationDestination(spec);
  EXPECT_TRUE(HasDomain(*dst_, guest.uuid)) << "rollback removed a domain it did not create";
  EXPECT_TRUE(fs::exists(RootImage("kvm-2", guest))) << "rollback deleted that domain's disk";
}

// M3: after this migration's prepare, another inbound migration pre-creates its disk and an
// operator copies a file into the pool; this migration's rollback removes only the disk its
// own prepare made.
TEST_F(LibvirtGuestSafetyE2E, RollbackDeletesOnlyTheVolumesItsPrepareMade) {
  MakeDrivers(8);
  auto disk_of = [](const ferry::wire::Domain& g) {
    return ferry::wire::Disk{"vda",
                             std::string(ferry::testing::LibvirtTestbed::kImagesPoolPath) +
                                 "/ferry-" + g.uuid + "-vda.qcow2",
                             "local",
                             64 << 20,
                             "qcow2",
                             ""};
  };
  auto mine = NewGuest("ferry-e2e-m3-a");
  auto other = NewGuest("ferry-e2e-m3-b");
  auto spec = Spec(mine, 16);
  spec.block_migration = true;
  spec.domain.disks = {disk_of(mine)};
  spec.incoming_uri = dst_->PrepareLiveMigrationDestination(spec);
  ASSERT_TRUE(fs::exists(RootImage("kvm-2", mine))) << "prepare makes the destination disk";

  auto other_spec = Spec(other, 16);
  other_spec.block_migration = true;
  other_spec.domain.disks = {disk_of(other)};
  dst_->PrepareLiveMigrationDestination(other_spec);
  const std::string operators = Bed().Images("kvm-2") + "/operator-copy.qcow2";
  remove_.push_back(operators);
  ASSERT_EQ(Shell("qemu-img create -q -f qcow2 '" + operators + "' 16M"), 0);

  dst_->RollbackLiveMigrationDestination(spec);
  EXPECT_FALSE(fs::exists(RootImage("kvm-2", mine))) << "its own prepare's disk is removed";
  EXPECT_TRUE(fs::exists(RootImage("kvm-2", other))) << "another migration's disk was deleted";
  EXPECT_TRUE(fs::exists(operators)) << "an operator's file was deleted";
  dst_->RollbackLiveMigrationDestination(other_spec);
  EXPECT_FALSE(fs::exists(RootImage("kvm-2", other)));
}

}  // namespace
