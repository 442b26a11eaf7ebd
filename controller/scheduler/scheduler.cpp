#include "controller/scheduler/scheduler.hpp"

#include <algorithm>
#include <limits>

#include "common/metrics/metrics.hpp"
#include "controller/scheduler/filters.hpp"

namespace ferry::controller::scheduler {

metrics::Histogram& SelectLatency(const char* path) {
  static auto& h = metrics::DefaultRegistry().AddHistogram(
      "ferry_scheduler_select_duration_seconds",
      "Seconds one placement took to filter and weigh hosts, by path: indexed (the snapshot's "
      "index, the usual one; its fallback to a full pass included) or full (every filter on "
      "every host).",
      {"path"}, metrics::LatencyBuckets());
  return h.With({path});
}

Scheduler::Scheduler() {
  SelectLatency("full");  // both series show from the start
  SelectLatency("indexed");
  filters_.push_back(std::make_unique<ComputeFilter>());
  filters_.push_back(std::make_unique<NotSourceFilter>());
  filters_.push_back(std::make_unique<IgnoreHostsFilter>());
  filters_.push_back(std::make_unique<RequestedHostFilter>());
  filters_.push_back(std::make_unique<SameCellFilter>());
  filters_.push_back(std::make_unique<AvailabilityZoneFilter>());
  filters_.push_back(std::make_unique<HypervisorTypeFilter>());
  filters_.push_back(std::make_unique<DatastoreFilter>());
  filters_.push_back(std::make_unique<CpuCompatibilityFilter>());
  filters_.push_back(std::make_unique<AggregateInstanceExtraSpecsFilter>());
  filters_.push_back(std::make_unique<ServerGroupAntiAffinityFilter>());
  filters_.push_back(std::make_unique<InboundHeadroomFilter>());
  filters_.push_back(std::make_unique<CapacityFilter>());
  weighers_.push_back(std::make_unique<FreeRamWeigher>());
  weighers_.push_back(std::make_unique<InboundLoadWeigher>());
  weighers_.push_back(std::make_unique<SharedStorageWeigher>());
}

Scheduler::Scheduler(std::vector<std::unique_ptr<HostFilter>> filters,
                     std::vector<std::unique_ptr<HostWeigher>> weighers)
    : filters_(std::move(filters)), weighers_(std::move(weighers)) {
  for (const auto& f : filters_) fast_path_ = fast_path_ && f->Shape() != FilterShape::kPerHost;
  for (const auto& w : weighers_) fast_path_ = fast_path_ && w->Shape() != WeigherShape::kPerHost;
}

Selection Scheduler::Select(const std::vector<HostState>& hosts, const RequestSpec& spec) const {
  metrics::ScopedTimer timer(SelectLatency("full"));
  Selection out;
  std::vector<const HostState*> alive;
  alive.reserve(hosts.size());
  for (const auto& h : hosts) alive.push_back(&h);
  for (const auto& f : filters_) {
    auto before = alive.size();
    std::erase_if(alive, [&](const HostState* h) { return !f->Passes(*h, spec); });
    if (alive.size() != before) {
      out.rejected_by.emplace_back(std::string(f->Name()), static_cast<int>(before - alive.size()));
    }
  }
  // Normalise each weigher to [0, 1] over the survivors (as Nova does), then sum. The fast
  // path repeats exactly these operations in this order, so both give bit-equal scores.
  std::vector<double> score(alive.size(), 0.0);
  for (const auto& w : weighers_) {
    std::vector<double> raw(alive.size());
    double lo = std::numeric_limits<double>::max(), hi = std::numeric_limits<double>::lowest();
    for (size_t i = 0; i < alive.size(); ++i) {
      raw[i] = w->RawWeight(*alive[i], spec);
      lo = std::min(lo, raw[i]);
      hi = std::max(hi, raw[i]);
    }
    for (size_t i = 0; i < alive.size(); ++i) {
      double norm = hi > lo ? (raw[i] - lo) / (hi - lo) : 0.0;
      score[i] += w->Multiplier() * norm;
    }
  }
  std::vector<size_t> order(alive.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  // Ties break by name so placement is deterministic (tests, and reproducible operator plans).
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    if (score[a] != score[b]) return score[a] > score[b];
    return alive[a]->name < alive[b]->name;
  });
  for (size_t i : order) out.candidates.push_back(*alive[i]);
  return out;
}

std::string NoValidHostMessage(const Selection& s) {
  std::string msg = "No valid host was found.";
  for (size_t i = 0; i < s.rejected_by.size(); ++i) {
    msg += (i == 0 ? " " : "; ") + s.rejected_by[i].first + " rejected " +
           std::to_string(s.rejected_by[i].second) + " host(s)";
  }
  return msg;
}

}  // namespace ferry::controller::scheduler
