#pragma once
// An immutable, indexed view of every host for the scheduler's fast path. Hosts with the same
// static profile (cell, hypervisor type and version, zone, CPU, aggregate metadata, shared
// datastores) answer every profile filter alike, so those filters run once per profile instead
// of once per host; what changes per host (capacity, up/enabled, inbound migrations) sits in
// flat columns that one tight loop scans. Built once per snapshot version, shared read-only.
#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "controller/scheduler/host_state.hpp"

namespace ferry::controller::scheduler {

class Scheduler;

// The fields a FilterShape::kProfile filter or WeigherShape::kProfile weigher may read.
std::string HostProfileKey(const HostState& h);

class HostIndex {
 public:
  HostIndex() = default;
  explicit HostIndex(std::vector<std::shared_ptr<const HostState>> hosts);
  explicit HostIndex(const std::vector<HostState>& hosts);

  size_t size() const { return hosts_.size(); }
  size_t profile_count() const { return profiles_.size(); }
  const std::vector<std::shared_ptr<const HostState>>& hosts() const { return hosts_; }
  std::vector<HostState> CopyHosts() const;  // for the plain full pass
  const HostState* Find(const std::string& name) const;

 private:
  friend class Scheduler;
  struct Profile {
    uint32_t representative;  // a position in hosts_
    uint32_t begin, end;      // slots [begin, end) hold this profile's hosts
  };
  std::vector<std::shared_ptr<const HostState>> hosts_;
  std::vector<Profile> profiles_;
  // Columns indexed by slot (hosts grouped by profile).
  std::vector<uint32_t> position_;    // slot -> position in hosts_
  std::vector<uint32_t> profile_of_;  // slot -> profile
  std::vector<uint8_t> up_and_enabled_;
  std::vector<int64_t> free_vcpus_, free_memory_mb_, free_disk_gb_;
  std::vector<int32_t> inbound_;
  std::vector<uint32_t> name_rank_;  // lexicographic rank of the name: the full pass's tie-break
  std::unordered_map<std::string, uint32_t> slot_by_name_;
};

}  // namespace ferry::controller::scheduler
