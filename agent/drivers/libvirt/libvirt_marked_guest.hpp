#pragma once
// A guest a move defines on this host from another host's description — a cold migration's
// destination (the source's manifest) and an evacuation's destination (the controller's spec) —
// marked with the move that defined it (libvirt_cold_marks.hpp), so that only that move's revert
// removes it, and started when asked.
#include <string>
#include <vector>

#include "agent/drivers/libvirt/libvirt_config.hpp"
#include "agent/drivers/libvirt/libvirt_domain_xml.hpp"
#include "agent/drivers/libvirt/libvirt_util.hpp"
#include "api/wire/messages.hpp"

namespace ferry::agent::libvirt {

// Defines `d` (ferry's XML: the configured kernel, these file disks each with an empty
// <backingStore/>) with the mark of `migration_uuid`. Throws what libvirt says.
DomainPtr DefineMarkedGuest(virConnectPtr conn, const LibvirtConfig& config, const wire::Domain& d,
                            const std::vector<FileDisk>& disks, const std::string& migration_uuid);

// Starts `d` unless it runs already (a concurrent start that won is success). True when this
// call started it.
bool StartUnlessRunning(virDomainPtr d, const std::string& uuid, const std::string& where);

}  // namespace ferry::agent::libvirt
