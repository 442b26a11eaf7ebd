#include "agent/drivers/libvirt/libvirt_cpu.hpp"

#include <pugixml.hpp>
#include <sstream>

#include "common/errors.hpp"

namespace ferry::agent::libvirt {

std::string HostCpuXml(const wire::CpuInfo& cpu) {
  pugi::xml_document doc;
  auto root = doc.append_child("cpu");
  if (!cpu.arch.empty()) root.append_child("arch").text() = cpu.arch.c_str();
  root.append_child("model").text() = cpu.model.c_str();
  if (!cpu.vendor.empty()) root.append_child("vendor").text() = cpu.vendor.c_str();
  for (const auto& f : cpu.features)
    root.append_child("feature").append_attribute("name") = f.c_str();
  std::ostringstream out;
  doc.save(out, "  ");
  return out.str();
}

void CheckCpuCompatible(virConnectPtr conn, const wire::CpuInfo& source,
                        const std::string& domain_type) {
  const std::string xml = HostCpuXml(source);
  // FAIL_INCOMPATIBLE: libvirt's error then names the missing features.
  const unsigned flags = VIR_CONNECT_COMPARE_CPU_FAIL_INCOMPATIBLE;
  int r = domain_type == "kvm"
              ? virConnectCompareHypervisorCPU(conn, nullptr,
                                               source.arch.empty() ? nullptr : source.arch.c_str(),
                                               nullptr, "kvm", xml.c_str(), flags)
              : virConnectCompareCPU(conn, xml.c_str(), flags);
  if (r == VIR_CPU_COMPARE_INCOMPATIBLE || (r < 0 && LastErrorCode() == VIR_ERR_CPU_INCOMPATIBLE)) {
    throw Error(Errc::kConflict, "libvirt: this host's CPU cannot run a guest from the source (" +
                                     source.vendor + " " + source.model +
                                     "): " + (r < 0 ? LastErrorMessage() : "incompatible"));
  }
  if (r < 0) ThrowLibvirt("comparing the source's CPU (" + source.model + ") with this host's");
}

}  // namespace ferry::agent::libvirt
