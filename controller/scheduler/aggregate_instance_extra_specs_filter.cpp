// Nova's AggregateInstanceExtraSpecsFilter: a flavor extra spec
// "aggregate_instance_extra_specs:<key>" = "<v1>,<v2>" sends the server only to hosts in an
// aggregate whose metadata <key> holds one of those values. A host without the key fails. As
// Nova, aggregate values are themselves comma-separated lists; specs of another scope
// ("hw:...") are not this filter's business.
#include "controller/scheduler/filters.hpp"

namespace ferry::controller::scheduler {
namespace {

constexpr std::string_view kScope = "aggregate_instance_extra_specs";

std::string_view Trim(std::string_view s) {
  while (!s.empty() && s.front() == ' ') s.remove_prefix(1);
  while (!s.empty() && s.back() == ' ') s.remove_suffix(1);
  return s;
}

// Calls fn on each trimmed comma-separated item; stops early when fn returns true.
template <typename Fn>
bool AnyItem(std::string_view list, Fn fn) {
  while (true) {
    const size_t comma = list.find(',');
    if (fn(Trim(list.substr(0, comma)))) return true;
    if (comma == std::string_view::npos) return false;
    list.remove_prefix(comma + 1);
  }
}

}  // namespace

std::string_view AggregateInstanceExtraSpecsFilter::Name() const {
  return "AggregateInstanceExtraSpecsFilter";
}
FilterShape AggregateInstanceExtraSpecsFilter::Shape() const { return FilterShape::kProfile; }
NameRule AggregateInstanceExtraSpecsFilter::Names(const RequestSpec& /*spec*/) const { return {}; }

bool AggregateInstanceExtraSpecsFilter::Passes(const HostState& host,
                                               const RequestSpec& spec) const {
  for (const auto& [raw_key, wanted] : spec.required_aggregate_metadata) {
    std::string_view key = raw_key;
    if (auto colon = key.find(':'); colon != std::string_view::npos) {
      if (key.substr(0, colon) != kScope) continue;
      key = key.substr(colon + 1);
    }
    auto it = host.aggregate_metadata.find(std::string(key));
    if (it == host.aggregate_metadata.end()) return false;
    // No allocation: the scheduler's fast path runs this once per host profile per request.
    bool any = false;
    for (const auto& value : it->second) {
      any = any || AnyItem(value, [&](std::string_view have) {
              return AnyItem(wanted, [&](std::string_view allowed) { return allowed == have; });
            });
    }
    if (!any) return false;
  }
  return true;
}

}  // namespace ferry::controller::scheduler
