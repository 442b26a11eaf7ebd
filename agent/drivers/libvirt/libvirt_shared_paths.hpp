#pragma once
// Disk paths that come from the network (an evacuation's spec: the disks the controller last
// saw on a host that is gone) are never trusted: a disk is used where it is only when its path
// lies in this host's shared directory, lexically and once every symlink is resolved, and is a
// regular file that exists here.
//
// The check resolves paths as the AGENT sees them; the shared directory is configured as
// libvirtd sees it. They are the same path on a real host and on the testbed; an agent that runs
// in another mount namespace than libvirtd must see the shared directory at the same path.
#include <string>

#include "api/wire/messages.hpp"

namespace ferry::agent::libvirt {

// `path` lies under `dir` (both absolute) with no "", "." or ".." component on the way.
bool LexicallyInside(const std::string& path, const std::string& dir);

// The path to define for `disk` (kind "shared": in shared_dir; "volume": in shared_dir/volumes):
// its real path (every symlink resolved), written under the configured directory so that the
// guest's disks are reported as shared again. kConflict with the reason when the disk is not a
// regular file inside that directory on this host (missing, a symlink out, "..", another kind).
std::string SharedDiskPath(const wire::Disk& disk, const std::string& shared_dir);

}  // namespace ferry::agent::libvirt
