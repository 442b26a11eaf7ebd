#pragma once
#include <string>
#include <string_view>
#include <vector>

#include "controller/scheduler/host_state.hpp"

namespace ferry::controller::scheduler {

// How the indexed fast path (HostIndex) may evaluate a filter without calling Passes() on every
// host. kPerHost is always correct: a pipeline holding such a filter falls back to the full pass.
enum class FilterShape {
  kPerHost,
  kProfile,          // reads only the static profile fields (see HostProfileKey in host_index)
  kUpAndEnabled,     // host.enabled && host.up
  kCapacity,         // free vcpus/ram/disk >= the request
  kInboundHeadroom,  // inbound_migrations < max_inbound_migrations when that is > 0
  kNames,            // accepts or rejects hosts by name, see NameRule
};

// A kNames filter's rule for one request: with `only_listed` just the named hosts pass,
// otherwise the named hosts are rejected. An inactive rule rejects nothing.
struct NameRule {
  bool active = false;
  bool only_listed = false;
  std::vector<std::string> names;
};

// One filter per file, as Nova does: each answers "can this host take this request?".
class HostFilter {
 public:
  virtual ~HostFilter() = default;
  virtual std::string_view Name() const = 0;
  virtual bool Passes(const HostState& host, const RequestSpec& spec) const = 0;
  virtual FilterShape Shape() const { return FilterShape::kPerHost; }
  virtual NameRule Names(const RequestSpec& /*spec*/) const { return {}; }
};

// How the fast path computes a weigher's raw value (kPerHost: fall back to the full pass).
enum class WeigherShape { kPerHost, kProfile, kFreeRam, kInboundLoad };

// Weighers rank the hosts that passed; higher is better. Scores are normalised over the
// candidates by the scheduler, so each weigher only returns a raw value.
class HostWeigher {
 public:
  virtual ~HostWeigher() = default;
  virtual std::string_view Name() const = 0;
  virtual double RawWeight(const HostState& host, const RequestSpec& spec) const = 0;
  virtual double Multiplier() const { return 1.0; }
  virtual WeigherShape Shape() const { return WeigherShape::kPerHost; }
};

}  // namespace ferry::controller::scheduler
