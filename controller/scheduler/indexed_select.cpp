// Scheduler::Select over a HostIndex: the same filters and weighers as the full pass, with
// profile filters run once per profile, per-host checks on flat columns, and only the best
// `max_candidates` ordered. tests/unit/controller_scheduler_indexed_test.cpp proves it equals the
// full pass on random clusters.
#include <algorithm>
#include <limits>

#include "controller/scheduler/scheduler.hpp"

namespace ferry::controller::scheduler {
namespace {

struct NameChecks {
  bool only_listed = false;
  std::vector<uint32_t> allowed;   // sorted slots, when only_listed
  std::vector<uint32_t> excluded;  // sorted slots
};

NameChecks ResolveNames(const std::vector<NameRule>& rules,
                        const std::unordered_map<std::string, uint32_t>& slot_by_name) {
  NameChecks out;
  for (const auto& rule : rules) {
    std::vector<uint32_t> slots;
    for (const auto& name : rule.names) {
      if (auto it = slot_by_name.find(name); it != slot_by_name.end()) slots.push_back(it->second);
    }
    std::sort(slots.begin(), slots.end());
    if (!rule.only_listed) {
      out.excluded.insert(out.excluded.end(), slots.begin(), slots.end());
    } else if (!out.only_listed) {
      out.only_listed = true;
      out.allowed = std::move(slots);
    } else {
      std::vector<uint32_t> both;
      std::set_intersection(out.allowed.begin(), out.allowed.end(), slots.begin(), slots.end(),
                            std::back_inserter(both));
      out.allowed = std::move(both);
    }
  }
  std::sort(out.excluded.begin(), out.excluded.end());
  return out;
}

}  // namespace

Selection Scheduler::Select(const HostIndex& index, const RequestSpec& spec,
                            size_t max_candidates) const {
  auto full_pass = [&] {
    Selection s = Select(index.CopyHosts(), spec);
    if (s.candidates.size() > max_candidates) s.candidates.resize(max_candidates);
    return s;
  };
  if (!fast_path_) return full_pass();
  const HostIndex::Layout& layout = *index.layout_;

  // Which profiles pass every profile filter, and what the per-host checks are.
  std::vector<uint8_t> profile_ok(layout.profiles.size(), 1);
  std::vector<NameRule> rules;
  bool check_up = false, check_capacity = false, check_inbound = false;
  for (const auto& f : filters_) {
    switch (f->Shape()) {
      case FilterShape::kProfile:
        for (size_t p = 0; p < layout.profiles.size(); ++p) {
          if (profile_ok[p] && !f->Passes(*index.hosts_[layout.profiles[p].representative], spec)) {
            profile_ok[p] = 0;
          }
        }
        break;
      case FilterShape::kUpAndEnabled: check_up = true; break;
      case FilterShape::kCapacity: check_capacity = true; break;
      case FilterShape::kInboundHeadroom: check_inbound = spec.max_inbound_migrations > 0; break;
      case FilterShape::kNames:
        if (auto rule = f->Names(spec); rule.active) rules.push_back(std::move(rule));
        break;
      case FilterShape::kPerHost: return full_pass();
    }
  }
  const NameChecks names = ResolveNames(rules, layout.slot_by_name);

  std::vector<uint32_t> survivors;
  auto consider = [&](uint32_t slot) {
    if (check_up && !index.up_and_enabled_[slot]) return;
    if (check_capacity &&
        (index.free_vcpus_[slot] < spec.vcpus || index.free_memory_mb_[slot] < spec.memory_mb ||
         index.free_disk_gb_[slot] < spec.disk_gb)) {
      return;
    }
    if (check_inbound && index.inbound_[slot] >= spec.max_inbound_migrations) return;
    if (!names.excluded.empty() &&
        std::binary_search(names.excluded.begin(), names.excluded.end(), slot)) {
      return;
    }
    survivors.push_back(slot);
  };
  if (names.only_listed) {
    for (uint32_t slot : names.allowed) {
      if (profile_ok[layout.profile_of[slot]]) consider(slot);
    }
  } else {
    survivors.reserve(index.size());
    for (size_t p = 0; p < layout.profiles.size(); ++p) {
      if (!profile_ok[p]) continue;
      for (uint32_t slot = layout.profiles[p].begin; slot < layout.profiles[p].end; ++slot) {
        consider(slot);
      }
    }
  }
  if (survivors.empty()) return full_pass();  // exact per-filter counts for the message

  // Weigh exactly as the full pass does (same values, same operations, same order).
  const size_t n = survivors.size();
  std::vector<double> score(n, 0.0), raw(n);
  std::vector<double> profile_raw(layout.profiles.size());
  for (const auto& w : weighers_) {
    // One shape per loop (no branch per host) so the compiler can vectorise the passes.
    switch (w->Shape()) {
      case WeigherShape::kFreeRam:
        for (size_t i = 0; i < n; ++i) raw[i] = static_cast<double>(index.free_memory_mb_[survivors[i]]);
        break;
      case WeigherShape::kInboundLoad:
        for (size_t i = 0; i < n; ++i) raw[i] = -static_cast<double>(index.inbound_[survivors[i]]);
        break;
      case WeigherShape::kProfile:
        for (size_t p = 0; p < layout.profiles.size(); ++p) {
          if (profile_ok[p]) {
            profile_raw[p] = w->RawWeight(*index.hosts_[layout.profiles[p].representative], spec);
          }
        }
        for (size_t i = 0; i < n; ++i) raw[i] = profile_raw[layout.profile_of[survivors[i]]];
        break;
      case WeigherShape::kPerHost: return full_pass();
    }
    double lo = std::numeric_limits<double>::max(), hi = std::numeric_limits<double>::lowest();
    for (size_t i = 0; i < n; ++i) {
      lo = std::min(lo, raw[i]);
      hi = std::max(hi, raw[i]);
    }
    if (!(hi > lo)) continue;  // the full pass adds multiplier x 0.0 here: no change to any score
    const double m = w->Multiplier(), range = hi - lo;
    for (size_t i = 0; i < n; ++i) score[i] += m * ((raw[i] - lo) / range);
  }
  std::vector<uint32_t> order(n);
  for (uint32_t i = 0; i < n; ++i) order[i] = i;
  const size_t k = std::min(max_candidates, n);
  std::partial_sort(order.begin(), order.begin() + static_cast<std::ptrdiff_t>(k), order.end(),
                    [&](uint32_t a, uint32_t b) {
                      if (score[a] != score[b]) return score[a] > score[b];
                      return layout.name_rank[survivors[a]] < layout.name_rank[survivors[b]];
                    });
  Selection out;
  out.candidates.reserve(k);
  for (size_t i = 0; i < k; ++i) {
    out.candidates.push_back(*index.hosts_[layout.position[survivors[order[i]]]]);
  }
  return out;
}

}  // namespace ferry::controller::scheduler
