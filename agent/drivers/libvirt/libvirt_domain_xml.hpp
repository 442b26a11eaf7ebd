#pragma once
// Domain XML both ways: what CreateDomain defines, and what a defined domain is (wire::Domain).
#include <string>
#include <vector>

#include "agent/drivers/libvirt/libvirt_config.hpp"
#include "agent/drivers/libvirt/libvirt_util.hpp"
#include "api/wire/messages.hpp"

namespace ferry::agent::libvirt {

wire::PowerState ToPowerState(int state);

// The libvirt name of a domain ferry creates: "ferry-<uuid>" (lowercase), never the server's
// display name, which is the member's to choose (it may hold "/" or "..", and two projects may
// both have a "web" on one host; libvirt names must be unique per host). The display name goes
// to <title>; the serial console file is <serial_dir>/<this name>.log.
std::string FerryDomainName(const std::string& uuid);

// The XML CreateDomain defines: the configured kernel booted directly, serial console to a file,
// and when root_disk_path is set a qcow2 root disk "vda" (the guest kernel does not use it; it
// is there for migration to handle, as a real guest's would be).
std::string DomainXml(const LibvirtConfig& c, const wire::Domain& d,
                      const std::string& root_disk_path = "");

// A file disk of a domain ferry defines. Buses follow the target's name: "vdX" virtio, "hdX"
// IDE (DiskBusOf); nothing else is defined.
struct FileDisk {
  std::string target;
  std::string path;    // as libvirtd sees it
  std::string format;  // "qcow2" | "raw"
};
std::string DiskBusOf(const std::string& target);  // "" when ferry defines no such disk
// A disk another host described (a cold move's manifest, an evacuation's spec) is one ferry can
// define here: a file disk (not a network volume) of a bus DiskBusOf knows, qcow2 or raw, of a
// known kind. kConflict naming what is not.
void CheckDefinableDisk(const wire::Disk& disk);
// The same domain with these disks (a cold migration's destination defines a guest so), with
// `metadata` (an XML element) under <metadata> when set. Every disk has an empty <backingStore/>:
// an image's header never makes QEMU open another file.
std::string DomainXml(const LibvirtConfig& c, const wire::Domain& d,
                      const std::vector<FileDisk>& disks, const std::string& metadata = "");

// uuid, name, vcpus, memory, power state and disks of a domain libvirt has; disk_gb is the
// local and shared disks' virtual size, rounded up to GiB. name: the <title> of a domain ferry
// named (FerryDomainName), else libvirt's name (an adopted domain keeps its own).
wire::Domain Describe(virDomainPtr d, const LibvirtConfig& c);

}  // namespace ferry::agent::libvirt
