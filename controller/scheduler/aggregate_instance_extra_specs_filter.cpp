// Nova's AggregateInstanceExtraSpecsFilter: a flavor extra spec
// "aggregate_instance_extra_specs:<key>" = "<v1>,<v2>" sends the server only to hosts in an
// aggregate whose metadata <key> holds one of those values. A host without the key fails. As
// Nova, aggregate values are themselves comma-separated lists; specs of another scope
// ("hw:...") are not this filter's business.
#include "controller/scheduler/filters.hpp"

namespace ferry::controller::scheduler {
namespace {

constexpr std::string_view kScope = "aggregate_instance_extra_specs";

std::string Trim(std::string_view s) {
  while (!s.empty() && s.front() == ' ') s.remove_prefix(1);
  while (!s.empty() && s.back() == ' ') s.remove_suffix(1);
  return std::string(s);
}

std::set<std::string> SplitCommas(std::string_view s) {
  std::set<std::string> out;
  size_t start = 0;
  while (start <= s.size()) {
    size_t comma = s.find(',', start);
    if (comma == std::string_view::npos) comma = s.size();
    out.insert(Trim(s.substr(start, comma - start)));
    start = comma + 1;
  }
  return out;
}

}  // namespace

std::string_view AggregateInstanceExtraSpecsFilter::Name() const {
  return "AggregateInstanceExtraSpecsFilter";
}
FilterShape AggregateInstanceExtraSpecsFilter::Shape() const { return FilterShape::kProfile; }
NameRule AggregateInstanceExtraSpecsFilter::Names(const RequestSpec& /*spec*/) const { return {}; }

bool AggregateInstanceExtraSpecsFilter::Passes(const HostState& host, const RequestSpec& spec) const {
  for (const auto& [raw_key, wanted] : spec.required_aggregate_metadata) {
    std::string_view key = raw_key;
    if (auto colon = key.find(':'); colon != std::string_view::npos) {
      if (key.substr(0, colon) != kScope) continue;
      key = key.substr(colon + 1);
    }
    auto it = host.aggregate_metadata.find(std::string(key));
    if (it == host.aggregate_metadata.end()) return false;
    const auto allowed = SplitCommas(wanted);
    bool any = false;
    for (const auto& value : it->second) {
      for (const auto& v : SplitCommas(value)) any = any || allowed.count(v) > 0;
    }
    if (!any) return false;
  }
  return true;
}

}  // namespace ferry::controller::scheduler
