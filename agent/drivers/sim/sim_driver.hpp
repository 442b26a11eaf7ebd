#pragma once
// ferry-sim: a modelled hypervisor. It runs no guests; it keeps a persistent list of domains and
// the figures (link bandwidth, per-domain dirty rate) the live-migration model will use. It says
// it is a simulation wherever it shows: hypervisor_type "ferry-sim", simulated=true, and its
// start-up log line.
#include <map>
#include <mutex>
#include <string>

#include "agent/driver.hpp"
#include "agent/drivers/sim/sim_config.hpp"
#include "agent/drivers/sim/sim_state_file.hpp"

namespace ferry::agent::sim {

inline constexpr const char* kHypervisorType = "ferry-sim";
// Nova's integer form of the sim model's version, 0.1.0 (major*1000000 + minor*1000 + micro).
inline constexpr int64_t kHypervisorVersion = 1000;

class SimDriver final : public Driver {
 public:
  // Loads the state dir, or creates it with the configured foreign domains on first start.
  // Throws ferry::Error when the state dir is unusable, locked or corrupt.
  explicit SimDriver(SimConfig config);

  DriverInfo Info() override;
  std::vector<wire::Domain> ListDomains() override;
  wire::Domain CreateDomain(const wire::Domain& domain) override;
  void DeleteDomain(const std::string& uuid) override;

  int64_t LinkBandwidthBytesPerSecond() const { return config_.link_bandwidth_bytes_per_s; }
  // Throws ferry::Error(kNotFound) for an unknown uuid.
  int64_t DirtyRateBytesPerSecond(const std::string& uuid) const;

 private:
  // Persists `next` and only then makes it current, so a failed write changes nothing.
  void CommitLocked(std::map<std::string, SimDomain> next);

  const SimConfig config_;
  SimStateFile state_;
  mutable std::mutex mu_;
  std::map<std::string, SimDomain> domains_;  // by lowercase uuid; ordered for stable listings
};

}  // namespace ferry::agent::sim
