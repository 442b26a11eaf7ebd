// What an adopted server's storage is, from the disks its host's agent reported: the boot
// disk's kind, its volumes, and for shared storage the datastore it lies on (which ties the
// server to hosts that see it).
#include <gtest/gtest.h>

#include "controller/conductor/server_lifecycle.hpp"

namespace ferry::controller::conductor {
namespace {

using nlohmann::json;

TEST(StorageOfDisks, ASharedBootDiskNamesItsDatastore) {
  auto s = StorageOfDisks(json::array({{{"target", "vda"},
                                        {"path", "/srv/shared/a.qcow2"},
                                        {"kind", "shared"},
                                        {"datastore", "/srv/shared"}}}));
  EXPECT_EQ(s.storage_kind, "shared");
  EXPECT_EQ(s.datastore, "/srv/shared");
}

TEST(StorageOfDisks, LocalDisksVolumesAndOldAgentsNameNone) {
  EXPECT_EQ(StorageOfDisks(json::array({{{"target", "vda"}, {"kind", "local"}}})).datastore,
            std::nullopt);
  auto volume =
      StorageOfDisks(json::array({{{"target", "vda"}, {"path", "vol-1"}, {"kind", "volume"}}}));
  EXPECT_EQ(volume.storage_kind, "volume");
  EXPECT_EQ(volume.datastore, std::nullopt);
  // An agent older than datastores, or one that sends something odd: shared, tied to nothing.
  for (const json& odd : {json(nullptr), json(""), json(7)}) {
    json disk = {{"target", "vda"}, {"kind", "shared"}};
    if (!odd.is_null()) disk["datastore"] = odd;
    auto s = StorageOfDisks(json::array({disk}));
    EXPECT_EQ(s.storage_kind, "shared");
    EXPECT_EQ(s.datastore, std::nullopt) << odd.dump();
  }
}

}  // namespace
}  // namespace ferry::controller::conductor
