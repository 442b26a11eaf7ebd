#pragma once
// What a cold migration's source tells its destination about the guest's disks, inside the
// transfer's hello (agent/disk_transfer's manifest): every disk's target, kind, format, path
// and size, so the destination defines the guest with the same disks — the controller does not
// know a guest's disk layout. The source is authenticated (certificate + the move's token), but
// the manifest is still checked as input: a shared disk's path must lie in this host's shared
// directory, a local one becomes a volume named after the guest and its target only.
#include <string>
#include <vector>

#include "agent/drivers/libvirt/libvirt_config.hpp"
#include "api/wire/messages.hpp"

namespace ferry::agent::libvirt {

// The source's side: its disks as JSON text; throws kConflict for a disk ferry cannot move cold
// (a network volume; a bus or a format it does not define).
std::string ColdManifest(const std::vector<wire::Disk>& disks);

// The destination's side: the disks, checked (kConflict with the reason when one is not
// acceptable here).
std::vector<wire::Disk> ParseColdManifest(const std::string& text, const LibvirtConfig& config);

}  // namespace ferry::agent::libvirt
