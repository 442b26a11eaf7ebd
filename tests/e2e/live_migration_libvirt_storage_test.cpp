// Live migration of disk-backed QEMU guests through the whole stack (see libvirt_e2e.hpp).
// The guests are made by the testbed (as an operator's existing VMs would be), reported by the
// agent as unmanaged, adopted through the API, then moved with block_migration "auto", which
// must follow what the disks really are:
//   shared root disk            -> no disk copy, the same image on the destination;
//   local root disk             -> block migration, the data arrives in the destination's image;
//   local root + shared volume  -> selective block migration: only the root disk is copied.
#include <cstdio>

#include "tests/e2e/libvirt_e2e.hpp"

namespace ferry::testing {
namespace {

const std::vector<std::string> kLink = {"--live-migration-bandwidth", "16"};
constexpr int64_t kMiB = 1 << 20;

class LiveMigrationLibvirtStorage : public LibvirtE2E {
 protected:
  // A testbed guest on kvm-1 with these disks, adopted (libvirt_e2e.hpp), on a 16 MiB/s link.
  std::string AdoptedGuest(const std::string& name, const std::string& disk_options) {
    Start(kLink, "dirty_mbps=4");
    return AdoptTestbedGuest(name, disk_options);
  }

  // Migrates kvm-1 -> kvm-2 with block_migration "auto"; returns what the API showed.
  Watched MigrateAuto(const std::string& id) {
    auto r = lm_->MigrateLive(id, {{"host", nullptr}, {"block_migration", "auto"}});
    EXPECT_EQ(r.status, 202) << r.raw;
    auto w = WatchUntilTerminal(id, 150s);
    EXPECT_TRUE(w.ended) << w.last.dump();
    EXPECT_EQ(w.last["status"], "completed") << w.last.dump();
    EXPECT_EQ(lm_->Server(id)["OS-EXT-SRV-ATTR:host"], "kvm-2");
    EXPECT_EQ(lm_->LeakedClaims(), 0);
    return w;
  }

  int64_t DiskTotal(const Watched& w) {
    const json v = w.running.is_object() ? w.running["disk_total_bytes"] : json();
    return v.is_number() ? v.get<int64_t>() : 0;
  }

  // The source's disk data, read back from the destination's copy of the image (the guest
  // keeps it open, so the read shares the lock: -U).
  bool DestinationImageHoldsData(const std::string& name, int data_mib) {
    const std::string image = bed().ImagesDir("kvm-2") + "/" + name + ".qcow2";
    const std::string cmd = "qemu-io -r -U -f qcow2 -c 'read -P 0x5a 0 " +
                            std::to_string(data_mib) + "M' '" + image + "' 2>&1";
    std::string out;
    if (FILE* p = popen(cmd.c_str(), "r")) {
      char buf[512];
      while (fgets(buf, sizeof buf, p)) out += buf;
      pclose(p);
    }
    const bool ok = out.find("Pattern verification failed") == std::string::npos &&
                    out.find("read ") != std::string::npos &&
                    out.find("No such file") == std::string::npos;
    if (!ok) std::fprintf(stderr, "qemu-io on %s: %s\n", image.c_str(), out.c_str());
    return ok;
  }
};

TEST_F(LiveMigrationLibvirtStorage, SharedRootDiskMovesWithoutCopyingIt) {
  const std::string name = "e2e-shared";
  auto id = AdoptedGuest(name, "--disk shared --disk-mb 64 --disk-data-mb 16");
  EXPECT_EQ(lm_->Server(id)["ferry:storage_kind"], "shared");
  const GuestTick before = bed().LastTick("kvm-1", name);
  auto w = MigrateAuto(id);
  EXPECT_EQ(DiskTotal(w), 0) << "a shared disk is not copied: " << w.running.dump();
  ExpectRunsOnlyOn("kvm-2", "kvm-1", name, before);
}

TEST_F(LiveMigrationLibvirtStorage, LocalRootDiskIsBlockMigrated) {
  const std::string name = "e2e-local";
  auto id = AdoptedGuest(name, "--disk local --disk-mb 64 --disk-data-mb 16");
  EXPECT_EQ(lm_->Server(id)["ferry:storage_kind"], "local");
  const GuestTick before = bed().LastTick("kvm-1", name);
  auto w = MigrateAuto(id);
  EXPECT_GE(DiskTotal(w), 16 * kMiB) << "auto chose block migration: " << w.running.dump();
  EXPECT_TRUE(DestinationImageHoldsData(name, 16)) << "the disk's data arrived on kvm-2";
  ExpectRunsOnlyOn("kvm-2", "kvm-1", name, before);
}

TEST_F(LiveMigrationLibvirtStorage, SharedVolumeStaysWhileTheLocalRootDiskIsCopied) {
  const std::string name = "e2e-selective";
  auto id = AdoptedGuest(name, "--disk local --disk-mb 64 --disk-data-mb 16 --volume-mb 256");
  auto server = lm_->Server(id);
  EXPECT_EQ(server["ferry:storage_kind"], "local");
  const GuestTick before = bed().LastTick("kvm-1", name);
  auto w = MigrateAuto(id);
  const int64_t copied = DiskTotal(w);
  EXPECT_GE(copied, 16 * kMiB) << w.running.dump();
  EXPECT_LE(copied, 64 * kMiB) << "only the 64 MiB root disk is copied, never the 256 MiB volume";
  EXPECT_TRUE(DestinationImageHoldsData(name, 16));
  // The destination's domain still uses the volume where it was.
  const std::string xml = bed().Script("virsh kvm-2 dumpxml " + name);
  EXPECT_NE(xml.find(bed().SharedDir() + "/volumes/" + name + "-vol.qcow2"), std::string::npos)
      << xml;
  ExpectRunsOnlyOn("kvm-2", "kvm-1", name, before);
}

}  // namespace
}  // namespace ferry::testing
