#pragma once
// The Driver: the agent's only seam with a hypervisor, and the only place a fake (the sim
// driver) may stand in for a real peer. Everything above it (command server, reporter) is
// hypervisor-agnostic and must not include a driver's headers.
//
// Error style for the agent layer: drivers throw ferry::Error (common/errors.hpp); the command
// server is the one boundary that turns it into a CommandResult or an HTTP status.
//   kBadRequest  the request itself is invalid (not acted on; never cached as a result)
//   kConflict    the request contradicts what the hypervisor has (e.g. uuid reused)
//   kUnavailable the hypervisor cannot be reached right now
//   kInternal    anything else
//
// Thread safety: every method may be called concurrently (command server pool + reporter).
#include <cstdint>
#include <string>
#include <vector>

#include "api/wire/messages.hpp"

namespace ferry::agent {

// What the host is, as reported at registration. Capacity is the physical amount; allocation
// ratios are controller policy, not the driver's business.
struct DriverInfo {
  std::string hypervisor_type;     // "QEMU", "VMware vCenter Server", "XenServer", "ferry-sim"
  int64_t hypervisor_version = 0;  // Nova's integer form: major*1000000 + minor*1000 + micro
  bool simulated = false;          // true only for drivers that run no real guests
  int vcpus = 0;
  int64_t memory_mb = 0;
  int64_t local_gb = 0;
  wire::CpuInfo cpu;
  std::vector<wire::Datastore> datastores;
};

class Driver {
 public:
  virtual ~Driver() = default;

  virtual DriverInfo Info() = 0;

  // Every domain the hypervisor has, including ones ferry did not create ("foreign"): the
  // controller must see the truth to report them. Throws rather than return a partial list.
  virtual std::vector<wire::Domain> ListDomains() = 0;

  // Idempotent: an existing domain with the same uuid and the same parameters is success and
  // returns it; the same uuid with different parameters throws kConflict. Returns the domain
  // as the hypervisor now has it (power state filled in).
  virtual wire::Domain CreateDomain(const wire::Domain& domain) = 0;

  // Idempotent: deleting a uuid the hypervisor does not have is success.
  virtual void DeleteDomain(const std::string& uuid) = 0;

  // Later issues add the migration surface here (check destination, pre-migration, start live
  // migration, job progress, abort, force complete, post-migration/rollback, cold migration
  // steps, rebuild for evacuation). They are deliberately not stubbed: a stub that "succeeds"
  // would let a controller believe a migration happened.
};

}  // namespace ferry::agent
