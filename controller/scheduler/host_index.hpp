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
  size_t profile_count() const { return layout_->profiles.size(); }
  const std::vector<std::shared_ptr<const HostState>>& hosts() const { return hosts_; }
  std::vector<HostState> CopyHosts() const;  // for the plain full pass
  const HostState* Find(const std::string& name) const;

  // A copy with these hosts' states replaced, sharing everything static with this index; the
  // cheap path for a refresh of a few hosts. nullptr when a host is new, or its name or profile
  // changed: then build a new index.
  std::shared_ptr<const HostIndex> WithChanged(
      const std::vector<std::shared_ptr<const HostState>>& changed) const;
  // The same change made in place, for an index its caller alone holds (a drain's plan counts
  // each placement before the next: a copy per placement would cost the whole cluster each
  // time). False, with nothing changed, where WithChanged would give nullptr.
  bool Update(const std::shared_ptr<const HostState>& changed);

 private:
  friend class Scheduler;
  struct Profile {
    uint32_t representative;  // a position in hosts_
    uint32_t begin, end;      // slots [begin, end) hold this profile's hosts
  };
  // What only a new host, a rename or a profile change alters; shared between versions.
  struct Layout {
    std::vector<Profile> profiles;
    std::vector<uint32_t> position;    // slot -> position in hosts_
    std::vector<uint32_t> profile_of;  // slot -> profile
    std::vector<uint32_t> name_rank;   // lexicographic rank of the name: the full pass's tie-break
    std::unordered_map<std::string, uint32_t> slot_by_name;
  };
  void SetDynamicColumns(uint32_t slot, const HostState& h);

  std::vector<std::shared_ptr<const HostState>> hosts_;
  std::shared_ptr<const Layout> layout_ = std::make_shared<const Layout>();
  // Columns indexed by slot (hosts grouped by profile).
  std::vector<uint8_t> up_and_enabled_;
  std::vector<int64_t> free_vcpus_, free_memory_mb_, free_disk_gb_;
  std::vector<int32_t> inbound_;
  // Per version: each profile's slots ordered by free RAM, most first (ram_order_[begin, end) of
  // a profile), and the slots with live migrations arriving (few). Let the fast path stop early.
  std::vector<uint32_t> ram_order_;
  std::vector<uint32_t> inbound_slots_;
  void SortProfileByRam(size_t profile);
  void CollectInboundSlots();
};

}  // namespace ferry::controller::scheduler
