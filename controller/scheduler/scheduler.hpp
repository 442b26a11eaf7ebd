#pragma once
#include <memory>
#include <string>
#include <vector>

#include "controller/scheduler/filter.hpp"

namespace ferry::controller::scheduler {

struct Selection {
  std::vector<HostState> candidates;  // best first; the caller claims them in order
  // For the "No valid host" message: which filter removed how many hosts.
  std::vector<std::pair<std::string, int>> rejected_by;
};

class Scheduler {
 public:
  // The default pipeline: Compute, RequestedHost, AvailabilityZone, Capacity; FreeRam.
  Scheduler();
  Selection Select(const std::vector<HostState>& hosts, const RequestSpec& spec) const;

 private:
  std::vector<std::unique_ptr<HostFilter>> filters_;
  std::vector<std::unique_ptr<HostWeigher>> weighers_;
};

// Nova's message when nothing fits, with the per-filter counts appended.
std::string NoValidHostMessage(const Selection& s);

}  // namespace ferry::controller::scheduler
