// The host and its domains: Info, ListDomains, CreateDomain, DeleteDomain.
#include <sys/statvfs.h>

#include <pugixml.hpp>

#include "agent/drivers/libvirt/libvirt_disks.hpp"
#include "agent/drivers/libvirt/libvirt_domain_xml.hpp"
#include "agent/drivers/libvirt/libvirt_driver_impl.hpp"
#include "agent/drivers/libvirt/libvirt_storage.hpp"
#include "common/errors.hpp"
#include "common/log.hpp"
#include "common/uuid.hpp"

namespace ferry::agent::libvirt {

DriverInfo LibvirtDriver::Info() {
  virConnectPtr c = impl_->Conn();
  DriverInfo info;
  info.hypervisor_type = "QEMU";
  unsigned long version = 0;  // libvirt's encoding is Nova's: major*1e6 + minor*1e3 + micro
  if (virConnectGetVersion(c, &version) < 0) ThrowLibvirt("hypervisor version");
  info.hypervisor_version = static_cast<int64_t>(version);
  virNodeInfo node;
  if (virNodeGetInfo(c, &node) < 0) ThrowLibvirt("node info");
  info.vcpus = static_cast<int>(node.cpus);
  info.memory_mb = static_cast<int64_t>(node.memory) / kKiB;

  char* caps = Timed("virConnectGetCapabilities", [&] { return virConnectGetCapabilities(c); });
  if (caps == nullptr) ThrowLibvirt("capabilities");
  pugi::xml_document doc;
  auto parsed = doc.load_string(caps);
  free(caps);  // NOLINT: libvirt allocates with malloc
  if (!parsed) throw Error(Errc::kInternal, "libvirt: unparsable capabilities XML");
  auto cpu = doc.child("capabilities").child("host").child("cpu");
  info.cpu.arch = cpu.child_value("arch");
  info.cpu.vendor = cpu.child_value("vendor");
  info.cpu.model = cpu.child_value("model");
  for (auto f : cpu.children("feature"))
    info.cpu.features.emplace_back(f.attribute("name").value());

  struct statvfs fs {};
  if (statvfs(impl_->config.images_dir.c_str(), &fs) == 0) {
    info.local_gb = static_cast<int64_t>(fs.f_blocks) * static_cast<int64_t>(fs.f_frsize) / kGiB;
  } else {
    spdlog::warn("libvirt: cannot statvfs images dir {}", impl_->config.images_dir);
  }
  if (!impl_->config.shared_dir.empty()) {
    struct statvfs sfs {};
    if (statvfs(impl_->config.shared_dir.c_str(), &sfs) != 0) {
      throw Error(Errc::kInternal,
                  "libvirt: cannot statvfs shared dir " + impl_->config.shared_dir);
    }
    int64_t block = static_cast<int64_t>(sfs.f_frsize);
    info.datastores.push_back(wire::Datastore{impl_->config.shared_dir, "shared",
                                              static_cast<int64_t>(sfs.f_blocks) * block / kGiB,
                                              static_cast<int64_t>(sfs.f_bavail) * block / kGiB});
  }
  return info;
}

std::vector<wire::Domain> LibvirtDriver::ListDomains() {
  std::vector<wire::Domain> out;
  for (auto& d : AllDomains(impl_->Conn())) {
    // A domain can vanish between list and describe (a migration ending): skip only that.
    try {
      out.push_back(Describe(d.get(), impl_->config));
    } catch (const Error& e) {
      if (e.code() != Errc::kNotFound) throw;
    }
  }
  return out;
}

wire::Domain LibvirtDriver::CreateDomain(const wire::Domain& domain) {
  const auto& cfg = impl_->config;
  if (domain.uuid.empty() || domain.name.empty() || domain.vcpus <= 0 || domain.memory_mb <= 0) {
    throw Error(Errc::kBadRequest, "libvirt: a domain needs uuid, name, vcpus > 0, memory_mb > 0");
  }
  if (domain.disk_gb < 0) throw Error(Errc::kBadRequest, "libvirt: disk_gb must not be negative");
  if (cfg.guest_kernel.empty()) {
    throw Error(Errc::kBadRequest,
                "libvirt: no guest image: start the agent with --libvirt-guest-kernel");
  }
  virConnectPtr c = impl_->Conn();
  DomainPtr d = LookupByUuid(c, domain.uuid);
  if (!d) {
    // Named from the uuid (FerryDomainName): servers of any name never collide here.
    if (!IsUuid(domain.uuid)) {
      throw Error(Errc::kBadRequest, "libvirt: '" + domain.uuid + "' is not a uuid");
    }
    std::string root_disk;
    if (domain.disk_gb > 0) {
      // A sparse qcow2 in the images pool, at the path libvirtd sees; a repeat reuses it.
      PoolPtr pool = impl_->ImagesPool();
      root_disk =
          EnsureVolume(pool.get(), RootVolumeName(domain.uuid), domain.disk_gb * kGiB, "qcow2");
    }
    std::string xml = DomainXml(cfg, domain, root_disk);
    virDomainPtr defined =
        Timed("virDomainDefineXML", [&] { return virDomainDefineXML(c, xml.c_str()); });
    if (defined == nullptr) ThrowLibvirt("defining domain " + domain.uuid);
    d.reset(defined);
  }
  wire::Domain have = Describe(d.get(), cfg);
  if (have.name != domain.name || have.vcpus != domain.vcpus ||
      have.memory_mb != domain.memory_mb) {
    throw Error(Errc::kConflict, "libvirt: domain " + domain.uuid + " exists as " + have.name +
                                     " (" + std::to_string(have.vcpus) + " vCPUs, " +
                                     std::to_string(have.memory_mb) + " MB), not as requested");
  }
  if (!IsActive(d.get(), domain.uuid)) {
    // A concurrent create may have started it first: "already running" is success.
    if (Timed("virDomainCreate", [&] { return virDomainCreate(d.get()); }) < 0 &&
        !IsActive(d.get(), domain.uuid)) {
      ThrowLibvirt("starting domain " + domain.uuid);
    }
  }
  return Describe(d.get(), cfg);
}

void LibvirtDriver::DeleteDomain(const std::string& uuid) {
  DomainPtr d = LookupByUuid(impl_->Conn(), uuid);
  if (d) DestroyAndUndefine(d.get(), uuid);
  // The disks ferry created for it (CreateDomain, or a block migration's pre-create), also when
  // the domain is already gone: a repeat after a failure half-way removes what is left.
  if (!impl_->HasImagesPool()) return;
  PoolPtr pool = impl_->ImagesPool();
  for (const auto& path : DeleteVolumesNamed(pool.get(), FerryVolumePrefix(uuid))) {
    spdlog::info("libvirt: deleted disk {} of domain {}", path, uuid);
  }
}

}  // namespace ferry::agent::libvirt
