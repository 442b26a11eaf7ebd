#include "agent/drivers/libvirt/libvirt_marked_guest.hpp"

#include "agent/drivers/libvirt/libvirt_cold_marks.hpp"

namespace ferry::agent::libvirt {

DomainPtr DefineMarkedGuest(virConnectPtr conn, const LibvirtConfig& config, const wire::Domain& d,
                            const std::vector<FileDisk>& disks, const std::string& migration_uuid) {
  const std::string xml = DomainXml(config, d, disks, DefinedByMetadataXml(migration_uuid));
  virDomainPtr defined =
      Timed("virDomainDefineXML", [&] { return virDomainDefineXML(conn, xml.c_str()); });
  if (defined == nullptr) ThrowLibvirt("defining " + d.uuid + " for migration " + migration_uuid);
  return DomainPtr(defined);
}

bool StartUnlessRunning(virDomainPtr d, const std::string& uuid, const std::string& where) {
  if (IsActive(d, uuid)) return false;
  if (Timed("virDomainCreate", [&] { return virDomainCreate(d); }) < 0) {
    if (IsActive(d, uuid)) return false;
    ThrowLibvirt("starting " + uuid + " " + where);
  }
  return true;
}

}  // namespace ferry::agent::libvirt
