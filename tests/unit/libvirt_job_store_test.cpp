// The libvirt driver's job records on a full disk: a save that hits ENOSPC must leave the
// previous record intact (never a truncated file renamed over it) and say it failed. Needs
// root for a tiny private tmpfs; under CI=true it fails without root, elsewhere it skips.
#include "agent/drivers/libvirt/libvirt_job_store.hpp"

#include <gtest/gtest.h>
#include <sched.h>
#include <sys/mount.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

namespace ferry::agent::libvirt {
namespace {

namespace fs = std::filesystem;

StoredJob Job(const std::string& state, const std::string& error) {
  StoredJob j;
  j.spec.migration_uuid = "6f0c2b1e-8a4d-4c3b-9e2f-1a2b3c4d5e6f";
  j.spec.domain.uuid = "0d7e6f1a-2b3c-4d5e-8f90-a1b2c3d4e5f6";
  j.last.migration_uuid = j.spec.migration_uuid;
  j.last.state = state;
  j.last.error = error;
  j.copied_disks = {"/var/lib/libvirt/images/ferry-0d7e6f1a-vda.qcow2"};
  return j;
}

// Fills the file system holding `dir` until a write fails.
void Fill(const std::string& dir) {
  std::ofstream out(dir + "/filler", std::ios::binary);
  const std::string block(4096, 'x');
  while (out.write(block.data(), static_cast<std::streamsize>(block.size())) && out.flush()) {
  }
}

TEST(LibvirtJobStore, AFullDiskKeepsThePreviousRecordAndReportsTheFailure) {
  if (geteuid() != 0) {
    if (std::getenv("CI") && std::string(std::getenv("CI")) == "true") FAIL() << "needs root";
    GTEST_SKIP() << "needs root (a private 16 KiB tmpfs)";
  }
  // A mount namespace of this test process only: the tmpfs is gone when it exits.
  ASSERT_EQ(unshare(CLONE_NEWNS), 0);
  ASSERT_EQ(mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr), 0);
  const std::string dir =
      (fs::temp_directory_path() / ("ferry-jobstore-" + std::to_string(getpid())));
  fs::create_directories(dir);
  ASSERT_EQ(mount("tmpfs", dir.c_str(), "tmpfs", 0, "size=16k"), 0);

  JobStore store(dir);
  ASSERT_TRUE(store.Save(Job("running", "")));
  Fill(dir);
  // The outcome is bigger than the file system has room for.
  EXPECT_FALSE(store.Save(Job("failed", std::string(8192, 'e'))));
  EXPECT_EQ(store.failed_saves(), 1);
  auto all = store.LoadAll();
  ASSERT_EQ(all.size(), 1u) << "the previous record must still be readable";
  EXPECT_EQ(all[0].last.state, "running");
  EXPECT_EQ(all[0].copied_disks.size(), 1u);
  for (const auto& e : fs::directory_iterator(dir + "/libvirt-migrations")) {
    EXPECT_NE(e.path().extension(), ".tmp") << "a failed save leaves no temporary file";
  }
  fs::remove(dir + "/filler");
  EXPECT_TRUE(store.Save(Job("failed", "room again")));
  EXPECT_EQ(store.LoadAll()[0].last.state, "failed");
  umount2(dir.c_str(), MNT_DETACH);
  fs::remove_all(dir);
}

}  // namespace
}  // namespace ferry::agent::libvirt
