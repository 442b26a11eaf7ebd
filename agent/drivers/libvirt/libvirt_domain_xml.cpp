#include "agent/drivers/libvirt/libvirt_domain_xml.hpp"

#include <cctype>
#include <pugixml.hpp>
#include <sstream>

#include "agent/drivers/libvirt/libvirt_disks.hpp"
#include "common/errors.hpp"
#include "common/uuid.hpp"

namespace ferry::agent::libvirt {

wire::PowerState ToPowerState(int state) {
  switch (state) {
    case VIR_DOMAIN_RUNNING:
    case VIR_DOMAIN_BLOCKED:
      return wire::PowerState::kRunning;
    case VIR_DOMAIN_PAUSED:
      return wire::PowerState::kPaused;
    case VIR_DOMAIN_SHUTDOWN:
    case VIR_DOMAIN_SHUTOFF:
      return wire::PowerState::kShutdown;
    case VIR_DOMAIN_CRASHED:
      return wire::PowerState::kCrashed;
    case VIR_DOMAIN_PMSUSPENDED:
      return wire::PowerState::kSuspended;
    default:
      return wire::PowerState::kNoState;
  }
}

std::string FerryDomainName(const std::string& uuid) {
  std::string name = "ferry-" + uuid;
  for (char& ch : name) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  return name;
}

namespace {

// libvirt refuses a <title> with a newline; the API already refuses control characters.
std::string TitleOf(std::string name) {
  for (char& ch : name) {
    if (static_cast<unsigned char>(ch) < 0x20) ch = ' ';
  }
  return name;
}

}  // namespace

std::string DomainXml(const LibvirtConfig& c, const wire::Domain& d,
                      const std::string& root_disk_path) {
  if (root_disk_path.empty()) return DomainXml(c, d, std::vector<FileDisk>{});
  return DomainXml(c, d, std::vector<FileDisk>{{"vda", root_disk_path, "qcow2"}});
}

std::string DiskBusOf(const std::string& target) {
  if (target.size() < 3 || target.size() > 4) return "";
  for (size_t i = 2; i < target.size(); ++i) {
    if (target[i] < 'a' || target[i] > 'z') return "";
  }
  if (target.rfind("vd", 0) == 0) return "virtio";
  if (target.rfind("hd", 0) == 0) return "ide";
  return "";
}

void CheckDefinableDisk(const wire::Disk& disk) {
  if (DiskBusOf(disk.target).empty()) {
    throw Error(
        Errc::kConflict,
        "libvirt: ferry defines virtio (vdX) and IDE (hdX) disks only, not '" + disk.target + "'");
  }
  if (disk.path.empty() || disk.path.find("://") != std::string::npos || disk.path[0] != '/') {
    throw Error(Errc::kConflict, "libvirt: disk " + disk.target +
                                     " is not a file (a network volume?): ferry defines file "
                                     "disks only");
  }
  if (disk.format != "qcow2" && disk.format != "raw") {
    throw Error(Errc::kConflict,
                "libvirt: disk " + disk.target + " has format '" + disk.format + "'");
  }
  if (disk.kind != "local" && disk.kind != "shared" && disk.kind != "volume") {
    throw Error(Errc::kConflict, "libvirt: disk " + disk.target + " of kind '" + disk.kind + "'");
  }
}

std::string DomainXml(const LibvirtConfig& c, const wire::Domain& d,
                      const std::vector<FileDisk>& disks, const std::string& metadata) {
  if (!IsUuid(d.uuid)) throw Error(Errc::kBadRequest, "libvirt: '" + d.uuid + "' is not a uuid");
  const std::string name = FerryDomainName(d.uuid);
  pugi::xml_document doc;
  auto dom = doc.append_child("domain");
  dom.append_attribute("type") = c.domain_type.c_str();
  dom.append_child("name").text() = name.c_str();
  dom.append_child("uuid").text() = d.uuid.c_str();
  dom.append_child("title").text() = TitleOf(d.name).c_str();
  if (!metadata.empty()) {
    pugi::xml_document element;
    if (!element.load_string(metadata.c_str()) || !element.first_child()) {
      throw Error(Errc::kInternal, "libvirt: unparsable domain metadata");
    }
    dom.append_child("metadata").append_copy(element.first_child());
  }
  auto mem = dom.append_child("memory");
  mem.append_attribute("unit") = "MiB";
  mem.text() = static_cast<long long>(d.memory_mb);
  dom.append_child("vcpu").text() = d.vcpus;
  auto os = dom.append_child("os");
  auto type = os.append_child("type");
  type.append_attribute("arch") = "x86_64";
  type.append_attribute("machine") = "pc";
  type.text() = "hvm";
  os.append_child("kernel").text() = c.guest_kernel.c_str();
  if (!c.guest_cmdline.empty()) os.append_child("cmdline").text() = c.guest_cmdline.c_str();
  dom.append_child("clock").append_attribute("offset") = "utc";
  dom.append_child("on_poweroff").text() = "destroy";
  dom.append_child("on_reboot").text() = "restart";
  dom.append_child("on_crash").text() = "destroy";
  auto dev = dom.append_child("devices");
  auto usb = dev.append_child("controller");
  usb.append_attribute("type") = "usb";
  usb.append_attribute("model") = "none";
  for (const auto& file : disks) {
    const std::string bus = DiskBusOf(file.target);
    if (bus.empty() || (file.format != "qcow2" && file.format != "raw")) {
      throw Error(Errc::kBadRequest,
                  "libvirt: cannot define disk '" + file.target + "' (" + file.format + ")");
    }
    auto disk = dev.append_child("disk");
    disk.append_attribute("type") = "file";
    disk.append_attribute("device") = "disk";
    auto driver = disk.append_child("driver");
    driver.append_attribute("name") = "qemu";
    driver.append_attribute("type") = file.format.c_str();
    disk.append_child("source").append_attribute("file") = file.path.c_str();
    disk.append_child("backingStore");
    auto target = disk.append_child("target");
    target.append_attribute("dev") = file.target.c_str();
    target.append_attribute("bus") = bus.c_str();
  }
  auto serial = dev.append_child("serial");
  serial.append_attribute("type") = "file";
  auto src = serial.append_child("source");
  src.append_attribute("path") = (c.serial_dir + "/" + name + ".log").c_str();
  src.append_attribute("append") = "on";
  serial.append_child("target").append_attribute("port") = 0;
  dev.append_child("memballoon").append_attribute("model") = "none";
  std::ostringstream out;
  doc.save(out, "  ");
  return out.str();
}

wire::Domain Describe(virDomainPtr d, const LibvirtConfig& c) {
  wire::Domain out;
  char uuid[VIR_UUID_STRING_BUFLEN];
  if (virDomainGetUUIDString(d, uuid) < 0) ThrowLibvirt("domain uuid");
  out.uuid = uuid;
  const char* name = virDomainGetName(d);
  out.name = name ? name : "";
  if (out.name == FerryDomainName(out.uuid)) {
    CString title(Timed("virDomainGetMetadata", [&] {
      return virDomainGetMetadata(d, VIR_DOMAIN_METADATA_TITLE, nullptr, 0);
    }));
    if (title) out.name = title.get();
  }
  virDomainInfo info;
  if (virDomainGetInfo(d, &info) < 0) ThrowLibvirt("info of domain " + out.uuid);
  out.vcpus = static_cast<int>(info.nrVirtCpu);
  out.memory_mb = static_cast<int64_t>(info.maxMem) / kKiB;
  out.power_state = ToPowerState(info.state);
  out.disks = ReadDisks(d, c, out.uuid);
  int64_t bytes = 0;
  for (const auto& disk : out.disks) {
    if (disk.kind != "volume") bytes += disk.capacity_bytes;
  }
  out.disk_gb = (bytes + kGiB - 1) / kGiB;
  return out;
}

}  // namespace ferry::agent::libvirt
