#pragma once
// Can this host run a guest that ran on a host with that CPU? libvirt's own comparison.
#include <string>

#include "agent/drivers/libvirt/libvirt_util.hpp"
#include "api/wire/messages.hpp"

namespace ferry::agent::libvirt {

// <cpu><arch/><model/><vendor/><feature name=.../></cpu>: the host-CPU form of capabilities.
std::string HostCpuXml(const wire::CpuInfo& cpu);

// Throws ferry::Error(kConflict) naming what is missing when `source` is incompatible with
// this host. domain_type "kvm": what KVM on this host can give a guest
// (virConnectCompareHypervisorCPU, as Nova does); otherwise (TCG, whose emulated CPU lacks
// most host features, so the hypervisor comparison would refuse even identical hosts) the
// host CPUs themselves (virConnectCompareCPU).
void CheckCpuCompatible(virConnectPtr conn, const wire::CpuInfo& source,
                        const std::string& domain_type);

}  // namespace ferry::agent::libvirt
