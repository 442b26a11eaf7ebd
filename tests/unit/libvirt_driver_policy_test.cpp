// The libvirt driver's pure decisions, table-tested: Nova's stepwise max downtime, which disks a
// domain XML has and of what kind, and what a migration does with them (copy, UNSAFE, refuse).
#include <gtest/gtest.h>

#include "agent/drivers/libvirt/libvirt_disks.hpp"
#include "agent/drivers/libvirt/libvirt_downtime.hpp"

namespace ferry::agent::libvirt {
namespace {

TEST(LibvirtDowntimeSteps, NovaDefaultsForASmallGuest) {
  // Nova's defaults (live_migration_downtime 500, _steps 10, _delay 75) and 2 GiB of data:
  // delay 150 s, base 50 ms, offset 45 ms.
  auto steps = DowntimeSteps(500, 10, 75, 2.0);
  ASSERT_EQ(steps.size(), 11u);
  const std::vector<std::pair<double, int64_t>> want = {
      {0, 50},    {150, 95},   {300, 140},  {450, 185},  {600, 230}, {750, 275},
      {900, 320}, {1050, 365}, {1200, 410}, {1350, 455}, {1500, 500}};
  for (size_t i = 0; i < want.size(); ++i) {
    EXPECT_DOUBLE_EQ(steps[i].after_s, want[i].first) << i;
    EXPECT_EQ(steps[i].downtime_ms, want[i].second) << i;
  }
}

TEST(LibvirtDowntimeSteps, EndsExactlyAtTheMaximumAndTruncatesTheDelayLikeNova) {
  auto steps = DowntimeSteps(900, 3, 1, 2.5);  // int(1 * 2.5) = 2 s per step
  ASSERT_EQ(steps.size(), 4u);
  EXPECT_EQ(steps[0].downtime_ms, 300);
  EXPECT_DOUBLE_EQ(steps[1].after_s, 2);
  EXPECT_EQ(steps[1].downtime_ms, 500);
  EXPECT_DOUBLE_EQ(steps[3].after_s, 6);
  EXPECT_EQ(steps[3].downtime_ms, 900);
  EXPECT_TRUE(DowntimeSteps(0, 10, 75, 2).empty()) << "no maximum: leave QEMU's default";
  EXPECT_EQ(DowntimeSteps(500, 0, 75, 2).size(), 2u) << "steps < 1 counts as one";
}

TEST(LibvirtDowntimeSteps, DataIsRamPlusCopiedDisksEachAtLeastTwoGib) {
  wire::LiveMigrationSpec spec;
  spec.domain.memory_mb = 128;
  EXPECT_DOUBLE_EQ(MigrationDataGib(spec, {}), 2.0);
  spec.domain.memory_mb = 8192;
  EXPECT_DOUBLE_EQ(MigrationDataGib(spec, {}), 8.0);
  EXPECT_DOUBLE_EQ(MigrationDataGib(spec, {int64_t{64} << 20, int64_t{10} << 30}), 8.0 + 2 + 10);
}

constexpr const char* kXml = R"(<domain type='qemu'><name>g</name><devices>
  <disk type='file' device='disk'><driver name='qemu' type='qcow2'/>
    <source file='/var/lib/libvirt/images/g.qcow2'/><target dev='vda' bus='virtio'/></disk>
  <disk type='file' device='disk'><driver name='qemu' type='raw'/>
    <source file='/srv/shared/volumes/g-vol.img'/><target dev='vdb' bus='virtio'/></disk>
  <disk type='file' device='disk'><driver name='qemu' type='qcow2'/>
    <source file='/srv/shared/g-data.qcow2'/><target dev='vdc' bus='virtio'/></disk>
  <disk type='network' device='disk'><driver name='qemu' type='raw'/>
    <source protocol='nbd' name='exp'><host name='10.0.0.5' port='10809'/></source>
    <target dev='vdd' bus='virtio'/></disk>
  <disk type='block' device='disk'><driver name='qemu' type='raw'/>
    <source dev='/dev/vg/g'/><target dev='vde' bus='virtio'/></disk>
  <disk type='file' device='cdrom'><source file='/srv/shared/iso/x.iso'/>
    <target dev='hdc' bus='ide'/></disk>
</devices></domain>)";

TEST(LibvirtDisks, KindsFromTheDomainXml) {
  auto disks = ParseDisks(kXml, "/srv/shared/");
  ASSERT_EQ(disks.size(), 5u) << "the cdrom is media, not a disk";
  EXPECT_EQ(disks[0].target, "vda");
  EXPECT_EQ(disks[0].kind, "local");
  EXPECT_EQ(disks[0].format, "qcow2");
  EXPECT_EQ(disks[1].kind, "volume");
  EXPECT_EQ(disks[1].path, "/srv/shared/volumes/g-vol.img");
  EXPECT_EQ(disks[2].kind, "shared");
  EXPECT_EQ(disks[3].kind, "volume");
  EXPECT_EQ(disks[3].path, "nbd://10.0.0.5:10809/exp");
  EXPECT_EQ(disks[4].kind, "local");
  EXPECT_EQ(disks[4].path, "/dev/vg/g");
  EXPECT_EQ(FileDiskKind("/srv/sharedx/a", "/srv/shared"), "local") << "a prefix is not a parent";
  EXPECT_EQ(FileDiskKind("/srv/shared/a", ""), "local");
}

TEST(LibvirtDisks, BlockMigrationCopiesOnlyLocalDisksAndIsUnsafeForFilesLeftInPlace) {
  auto disks = ParseDisks(kXml, "/srv/shared");
  auto plan = PlanDisks(disks, true, false);
  EXPECT_TRUE(plan.refusal.empty());
  ASSERT_EQ(plan.copied.size(), 2u);
  EXPECT_EQ(plan.copied[0].target, "vda");
  EXPECT_EQ(plan.copied[1].target, "vde");
  EXPECT_TRUE(plan.unsafe) << "vdb/vdc stay on a directory libvirt does not trust as shared";
  EXPECT_FALSE(PlanDisks(disks, true, true).unsafe) << "on NFS & co. libvirt judges itself";

  std::vector<wire::Disk> nbd_only = {disks[3]};
  EXPECT_FALSE(PlanDisks(nbd_only, false, false).unsafe) << "network disks are shared to libvirt";
  EXPECT_TRUE(PlanDisks({}, false, false).copied.empty());

  auto refused = PlanDisks(disks, false, false);
  EXPECT_NE(refused.refusal.find("vda"), std::string::npos) << refused.refusal;
}

}  // namespace
}  // namespace ferry::agent::libvirt
