#pragma once
#include <string_view>

#include "controller/scheduler/host_state.hpp"

namespace ferry::controller::scheduler {

// One filter per file, as Nova does: each answers "can this host take this request?".
class HostFilter {
 public:
  virtual ~HostFilter() = default;
  virtual std::string_view Name() const = 0;
  virtual bool Passes(const HostState& host, const RequestSpec& spec) const = 0;
};

// Weighers rank the hosts that passed; higher is better. Scores are normalised over the
// candidates by the scheduler, so each weigher only returns a raw value.
class HostWeigher {
 public:
  virtual ~HostWeigher() = default;
  virtual std::string_view Name() const = 0;
  virtual double RawWeight(const HostState& host, const RequestSpec& spec) const = 0;
  virtual double Multiplier() const { return 1.0; }
};

}  // namespace ferry::controller::scheduler
