#pragma once
// Disk images through libvirt's storage API, so paths are as libvirtd sees them (it may run in
// another mount namespace than the agent) and so libvirt's own block migration finds a pool
// covering the destination path and pre-creates missing disks in it.
// The storage driver ("dir" backend) ships in Debian 12's libvirt-daemon package.
#include <cstdint>
#include <string>
#include <vector>

#include "agent/drivers/libvirt/libvirt_config.hpp"
#include "agent/drivers/libvirt/libvirt_util.hpp"

namespace ferry::agent::libvirt {

// The active pool on config.images_pool_path: an existing one (any name), else a "dir" pool
// named config.images_pool_name, defined, built, autostarted and started.
PoolPtr EnsureImagesPool(virConnectPtr conn, const LibvirtConfig& config);

// Rescans the pool's directory: files made outside libvirt (an operator, the testbed) become
// volumes. Best effort: a refresh refused while the pool is busy changes nothing we rely on.
void RefreshPool(virStoragePoolPtr pool);

// Creates volume `name` (sparse: allocation 0) or returns the existing one, which must be at
// least `capacity_bytes` (kConflict otherwise). Returns its path as libvirtd sees it; *created
// says whether this call made it.
std::string EnsureVolume(virStoragePoolPtr pool, const std::string& name, int64_t capacity_bytes,
                         const std::string& format, bool* created = nullptr);

// Deletes the volume at `path` in `pool`; false when there is none.
bool DeleteVolumeAt(virStoragePoolPtr pool, const std::string& path);

// Paths of every volume of `pool` (after a refresh).
std::vector<std::string> VolumePaths(virStoragePoolPtr pool);

// Deletes every volume of `pool` whose name starts with `prefix`; returns their paths.
std::vector<std::string> DeleteVolumesNamed(virStoragePoolPtr pool, const std::string& prefix);

// The root disk ferry creates for a domain: "ferry-<uuid>-vda.qcow2". Every volume ferry
// creates for a domain starts with FerryVolumePrefix(uuid), which is how DeleteDomain finds them.
std::string FerryVolumePrefix(const std::string& domain_uuid);
std::string RootVolumeName(const std::string& domain_uuid);

// The directory part of a path ("/a/b/c.qcow2" -> "/a/b"), and the rest.
std::string DirName(const std::string& path);
std::string BaseName(const std::string& path);

}  // namespace ferry::agent::libvirt
