// The cold move's disk manifest arrives from the source over the network: a shared disk or a
// volume is used where it is only when it is a file in this host's shared directory once every
// symlink is resolved (as an evacuation's disks are, libvirt_shared_paths), never a path that
// only looks inside it.
#include "agent/drivers/libvirt/libvirt_cold_manifest.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "agent/drivers/libvirt/libvirt_config.hpp"
#include "common/errors.hpp"

namespace ferry::agent::libvirt {
namespace {

namespace fs = std::filesystem;

class ColdManifestParse : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = fs::temp_directory_path() / ("ferry-manifest-" + std::to_string(::getpid()));
    fs::remove_all(root_);
    fs::create_directories(root_ / "shared" / "volumes");
    fs::create_directories(root_ / "outside");
    std::ofstream(root_ / "shared" / "web.qcow2") << "disk";
    std::ofstream(root_ / "shared" / "volumes" / "data.qcow2") << "vol";
    std::ofstream(root_ / "outside" / "secret.qcow2") << "not a guest's";
    fs::create_symlink(root_ / "outside" / "secret.qcow2", root_ / "shared" / "escape.qcow2");
    config_.shared_dir = (root_ / "shared").string();
  }
  void TearDown() override { fs::remove_all(root_); }

  std::string Manifest(const std::string& kind, const std::string& path) const {
    wire::Disk d;
    d.target = "vda";
    d.kind = kind;
    d.format = "qcow2";
    d.path = path;
    d.capacity_bytes = 1 << 20;
    return ColdManifest({d});
  }
  void ExpectRefused(const std::string& kind, const std::string& path) const {
    try {
      ParseColdManifest(Manifest(kind, path), config_);
      ADD_FAILURE() << path << " was accepted";
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), Errc::kConflict) << e.what();
    }
  }

  fs::path root_;
  LibvirtConfig config_;
};

TEST_F(ColdManifestParse, SharedFilesAndVolumesInTheSharedDirectoryAreUsedWhereTheyAre) {
  auto disks = ParseColdManifest(Manifest("shared", config_.shared_dir + "/web.qcow2"), config_);
  ASSERT_EQ(disks.size(), 1u);
  EXPECT_EQ(disks[0].path, config_.shared_dir + "/web.qcow2");
  disks =
      ParseColdManifest(Manifest("volume", config_.shared_dir + "/volumes/data.qcow2"), config_);
  ASSERT_EQ(disks.size(), 1u);
  EXPECT_EQ(disks[0].path, config_.shared_dir + "/volumes/data.qcow2");
}

TEST_F(ColdManifestParse, PathsThatOnlyLookInsideAreRefused) {
  ExpectRefused("shared", config_.shared_dir + "/escape.qcow2");  // a symlink out
  ExpectRefused("shared", config_.shared_dir + "/../outside/secret.qcow2");
  ExpectRefused("shared", (root_ / "outside" / "secret.qcow2").string());
  ExpectRefused("shared", config_.shared_dir + "/missing.qcow2");
  ExpectRefused("shared", config_.shared_dir + "/volumes");    // not a file
  ExpectRefused("volume", config_.shared_dir + "/web.qcow2");  // a volume outside volumes/
}

}  // namespace
}  // namespace ferry::agent::libvirt
