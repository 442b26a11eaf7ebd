#pragma once
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "controller/scheduler/filter.hpp"
#include "controller/scheduler/host_index.hpp"

namespace ferry::metrics {
class Histogram;
}

namespace ferry::controller::scheduler {

struct Selection {
  std::vector<HostState> candidates;  // best first; the caller claims them in order
  // For the "No valid host" message: which filter removed how many hosts.
  std::vector<std::pair<std::string, int>> rejected_by;
};

// 10: Nova offers the selected host plus max_attempts - 1 (default 2) alternates; a few more
// absorb lost claim races between controller replicas working from slightly stale snapshots.
// A caller that loses them all selects again with the losers in ignore_hosts.
inline constexpr size_t kDefaultMaxCandidates = 10;

class Scheduler {
 public:
  // The default pipeline. Filters: Compute, NotSource, IgnoreHosts, RequestedHost, SameCell,
  // AvailabilityZone, HypervisorType, CpuCompatibility, AggregateInstanceExtraSpecs,
  // ServerGroupAntiAffinity, InboundHeadroom, Capacity. Weighers: FreeRam, InboundLoad,
  // SharedStorage (all multiplier 1.0, Nova's default for its weighers).
  Scheduler();
  Scheduler(std::vector<std::unique_ptr<HostFilter>> filters,
            std::vector<std::unique_ptr<HostWeigher>> weighers);

  // The plain full pass: every filter on every host, every survivor weighed and ranked.
  Selection Select(const std::vector<HostState>& hosts, const RequestSpec& spec) const;
  // The same ranking from an indexed snapshot, cut to the best `max_candidates`. Its candidates
  // equal the first max_candidates of the full pass; when nothing passes it runs the full pass
  // so the message carries exact per-filter counts.
  Selection Select(const HostIndex& index, const RequestSpec& spec,
                   size_t max_candidates = kDefaultMaxCandidates) const;

 private:
  struct SlotRule;  // a kNames filter's rule as slots of an index (indexed_select.cpp)
  // The top candidates from the hosts of each passing profile in free-RAM order, stopping as soon
  // as no further host can beat the k-th; nullopt where that shortcut does not apply.
  std::optional<Selection> SelectByRam(const HostIndex& index, const RequestSpec& spec, size_t k,
                                       const std::vector<size_t>& profile_fails_at,
                                       const std::vector<SlotRule>& rules, bool check_up,
                                       bool check_capacity, bool check_inbound) const;

  std::vector<std::unique_ptr<HostFilter>> filters_;
  std::vector<std::unique_ptr<HostWeigher>> weighers_;
  bool fast_path_ = true;  // false when a filter or weigher has only a per-host form
};

// The placement latency histogram's series of one path: "full" or "indexed".
metrics::Histogram& SelectLatency(const char* path);

// Nova's message when nothing fits, with the per-filter counts appended.
std::string NoValidHostMessage(const Selection& s);

}  // namespace ferry::controller::scheduler
