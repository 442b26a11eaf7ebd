#pragma once
// The filters and weighers ferry ships; each is defined in its own file.
#include "controller/scheduler/filter.hpp"

namespace ferry::controller::scheduler {

#define FERRY_DECLARE_FILTER(Type)                                          \
  class Type final : public HostFilter {                                    \
   public:                                                                  \
    std::string_view Name() const override;                                 \
    bool Passes(const HostState& host, const RequestSpec& spec) const override; \
  }

FERRY_DECLARE_FILTER(ComputeFilter);
FERRY_DECLARE_FILTER(CapacityFilter);
FERRY_DECLARE_FILTER(AvailabilityZoneFilter);
FERRY_DECLARE_FILTER(RequestedHostFilter);
#undef FERRY_DECLARE_FILTER

class FreeRamWeigher final : public HostWeigher {
 public:
  std::string_view Name() const override;
  double RawWeight(const HostState& host, const RequestSpec& spec) const override;
};

}  // namespace ferry::controller::scheduler
