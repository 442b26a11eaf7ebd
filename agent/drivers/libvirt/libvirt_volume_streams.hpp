#pragma once
// A cold migration's disk bytes through libvirt's storage streams (virStorageVolDownload /
// virStorageVolUpload, sparse): the agent never opens a disk path itself, so it works whether or
// not libvirtd sees the same filesystem (it may run in another mount namespace; the testbed's
// does). These are the storage ends of agent/disk_transfer.
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "agent/disk_transfer/disk_io.hpp"
#include "agent/disk_transfer/disk_receiver.hpp"
#include "agent/drivers/libvirt/libvirt_config.hpp"
#include "agent/drivers/libvirt/libvirt_incoming.hpp"
#include "agent/drivers/libvirt/libvirt_util.hpp"

namespace ferry::agent::libvirt {

// The length of the volume's storage (a qcow2 file's length, not its virtual size).
int64_t VolumePhysicalBytes(virStorageVolPtr vol, const std::string& what);

// Reads a volume ([offset, offset + length); length 0: to its end) on its own connection.
std::unique_ptr<transfer::DiskSource> OpenVolumeSource(const std::string& uri,
                                                       const std::string& path, int64_t offset = 0,
                                                       int64_t length = 0);

// The destination's storage of a cold migration's disks: volumes of the images pool named after
// the guest and the disk's target (ColdVolumeName), the guest found through the migration's
// incoming record (written at prepare).
class VolumeDiskStore final : public transfer::DiskStore {
 public:
  VolumeDiskStore(LibvirtConfig config, IncomingRecords& incoming,
                  std::function<PoolPtr()> images_pool)
      : config_(std::move(config)), incoming_(incoming), images_pool_(std::move(images_pool)) {}

  void Allocate(const std::string& migration_uuid, const std::string& target,
                int64_t bytes) override;
  std::unique_ptr<transfer::DiskSink> OpenSink(const std::string& migration_uuid,
                                               const std::string& target, int64_t offset) override;
  std::unique_ptr<transfer::DiskSource> OpenReceived(const std::string& migration_uuid,
                                                     const std::string& target, int64_t offset,
                                                     int64_t length) override;

 private:
  std::string VolumeNameOf(const std::string& migration_uuid, const std::string& target);
  std::string PathOf(const std::string& migration_uuid, const std::string& target);
  const LibvirtConfig config_;
  IncomingRecords& incoming_;
  const std::function<PoolPtr()> images_pool_;
};

// The volume a cold migration's disk `target` of `domain_uuid` has on its destination:
// "ferry-<uuid>-<target>.disk", whatever its format (the definition names the format; the name
// is known before the source says it), so DeleteDomain and a revert find it by the guest's prefix.
std::string ColdVolumeName(const std::string& domain_uuid, const std::string& target);

}  // namespace ferry::agent::libvirt
