#pragma once
// The filters and weighers ferry ships; each is defined in its own file.
#include "controller/scheduler/filter.hpp"

namespace ferry::controller::scheduler {

#define FERRY_DECLARE_FILTER(Type)                                              \
  class Type final : public HostFilter {                                        \
   public:                                                                      \
    std::string_view Name() const override;                                     \
    bool Passes(const HostState& host, const RequestSpec& spec) const override; \
    FilterShape Shape() const override;                                         \
    NameRule Names(const RequestSpec& spec) const override;                     \
  }

FERRY_DECLARE_FILTER(ComputeFilter);
FERRY_DECLARE_FILTER(NotSourceFilter);
FERRY_DECLARE_FILTER(IgnoreHostsFilter);
FERRY_DECLARE_FILTER(RequestedHostFilter);
FERRY_DECLARE_FILTER(SameCellFilter);
FERRY_DECLARE_FILTER(AvailabilityZoneFilter);
FERRY_DECLARE_FILTER(HypervisorTypeFilter);
FERRY_DECLARE_FILTER(DatastoreFilter);
FERRY_DECLARE_FILTER(CpuCompatibilityFilter);
FERRY_DECLARE_FILTER(AggregateInstanceExtraSpecsFilter);
FERRY_DECLARE_FILTER(ServerGroupAntiAffinityFilter);
FERRY_DECLARE_FILTER(InboundHeadroomFilter);
FERRY_DECLARE_FILTER(CapacityFilter);
#undef FERRY_DECLARE_FILTER

#define FERRY_DECLARE_WEIGHER(Type)                                                  \
  class Type final : public HostWeigher {                                            \
   public:                                                                           \
    std::string_view Name() const override;                                          \
    double RawWeight(const HostState& host, const RequestSpec& spec) const override; \
    WeigherShape Shape() const override;                                             \
  }

FERRY_DECLARE_WEIGHER(FreeRamWeigher);
FERRY_DECLARE_WEIGHER(InboundLoadWeigher);
FERRY_DECLARE_WEIGHER(SharedStorageWeigher);
#undef FERRY_DECLARE_WEIGHER

}  // namespace ferry::controller::scheduler
