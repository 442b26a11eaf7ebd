// Scheduler::Select over a HostIndex: the same filters and weighers as the full pass, with
// profile filters run once per profile, per-host checks on flat columns, and only the best
// `max_candidates` ordered. When nothing passes, the per-filter counts of the message come from
// the same columns (no copy of the hosts). tests/unit/controller_scheduler_indexed_test.cpp
// proves it equals the full pass on random clusters.
#include <algorithm>
#include <limits>

#include "controller/scheduler/scheduler.hpp"

namespace ferry::controller::scheduler {
namespace {

constexpr size_t kPasses = std::numeric_limits<size_t>::max();

// One kNames filter's rule with the names turned into sorted slots.
struct SlotRule {
  size_t filter;
  bool only_listed;
  std::vector<uint32_t> slots;
  bool Rejects(uint32_t slot) const {
    return std::binary_search(slots.begin(), slots.end(), slot) != only_listed;
  }
};

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
  const size_t profiles = layout.profiles.size();

  // Per profile, the first profile filter (pipeline position) that rejects it.
  std::vector<size_t> profile_fails_at(profiles, kPasses);
  std::vector<SlotRule> rules;
  bool check_up = false, check_capacity = false, check_inbound = false;
  for (size_t fi = 0; fi < filters_.size(); ++fi) {
    const auto& f = filters_[fi];
    switch (f->Shape()) {
      case FilterShape::kProfile:
        for (size_t p = 0; p < profiles; ++p) {
          if (profile_fails_at[p] == kPasses &&
              !f->Passes(*index.hosts_[layout.profiles[p].representative], spec)) {
            profile_fails_at[p] = fi;
          }
        }
        break;
      case FilterShape::kUpAndEnabled: check_up = true; break;
      case FilterShape::kCapacity: check_capacity = true; break;
      case FilterShape::kInboundHeadroom: check_inbound = spec.max_inbound_migrations > 0; break;
      case FilterShape::kNames:
        if (auto rule = f->Names(spec); rule.active) {
          SlotRule r{fi, rule.only_listed, {}};
          for (const auto& name : rule.names) {
            if (auto it = layout.slot_by_name.find(name); it != layout.slot_by_name.end()) {
              r.slots.push_back(it->second);
            }
          }
          std::sort(r.slots.begin(), r.slots.end());
          rules.push_back(std::move(r));
        }
        break;
      case FilterShape::kPerHost: return full_pass();
    }
  }
  auto dynamic_rejects = [&](size_t fi, uint32_t slot) {
    switch (filters_[fi]->Shape()) {
      case FilterShape::kUpAndEnabled: return !index.up_and_enabled_[slot];
      case FilterShape::kCapacity:
        return index.free_vcpus_[slot] < spec.vcpus || index.free_memory_mb_[slot] < spec.memory_mb ||
               index.free_disk_gb_[slot] < spec.disk_gb;
      case FilterShape::kInboundHeadroom:
        return check_inbound && index.inbound_[slot] >= spec.max_inbound_migrations;
      case FilterShape::kNames:
        for (const auto& r : rules) {
          if (r.filter == fi) return r.Rejects(slot);
        }
        return false;
      default: return false;
    }
  };

  // The scan: whole profiles skipped, cheap column checks per host. Slots come in increasing
  // order, so the excluded names are walked with one cursor instead of searched per host.
  std::vector<uint32_t> excluded;
  for (const auto& r : rules) {
    if (!r.only_listed) excluded.insert(excluded.end(), r.slots.begin(), r.slots.end());
  }
  std::sort(excluded.begin(), excluded.end());
  excluded.push_back(std::numeric_limits<uint32_t>::max());  // sentinel
  size_t next_excluded = 0;
  std::vector<uint32_t> survivors;
  auto consider = [&](uint32_t slot) {
    if (check_up && !index.up_and_enabled_[slot]) return;
    if (check_capacity &&
        (index.free_vcpus_[slot] < spec.vcpus || index.free_memory_mb_[slot] < spec.memory_mb ||
         index.free_disk_gb_[slot] < spec.disk_gb)) {
      return;
    }
    if (check_inbound && index.inbound_[slot] >= spec.max_inbound_migrations) return;
    while (excluded[next_excluded] < slot) ++next_excluded;
    if (excluded[next_excluded] == slot) return;
    survivors.push_back(slot);
  };
  const SlotRule* only = nullptr;
  for (const auto& r : rules) {
    if (r.only_listed && (!only || r.slots.size() < only->slots.size())) only = &r;
  }
  if (only) {
    for (uint32_t slot : only->slots) {  // sorted, so the cursor still only moves forward
      bool listed_everywhere = true;
      for (const auto& r : rules) listed_everywhere = listed_everywhere && !(r.only_listed && r.Rejects(slot));
      if (listed_everywhere && profile_fails_at[layout.profile_of[slot]] == kPasses) consider(slot);
    }
  } else {
    survivors.reserve(index.size());
    for (size_t p = 0; p < profiles; ++p) {
      if (profile_fails_at[p] != kPasses) continue;
      for (uint32_t slot = layout.profiles[p].begin; slot < layout.profiles[p].end; ++slot) consider(slot);
    }
  }

  Selection out;
  if (survivors.empty()) {
    // Exact counts for the message: each host is charged to the first filter, in pipeline
    // order, that rejects it (what the full pass's successive erase_if counts).
    std::vector<int> counts(filters_.size(), 0);
    for (uint32_t slot = 0; slot < index.size(); ++slot) {
      size_t first = profile_fails_at[layout.profile_of[slot]];
      for (size_t fi = 0; fi < filters_.size() && fi < first; ++fi) {
        if (filters_[fi]->Shape() != FilterShape::kProfile && dynamic_rejects(fi, slot)) first = fi;
      }
      if (first != kPasses) ++counts[first];
    }
    for (size_t fi = 0; fi < filters_.size(); ++fi) {
      if (counts[fi] > 0) out.rejected_by.emplace_back(std::string(filters_[fi]->Name()), counts[fi]);
    }
    return out;
  }

  // Weigh exactly as the full pass does (same values, same operations, same order).
  const size_t n = survivors.size();
  std::vector<double> score(n, 0.0), raw(n);
  std::vector<double> profile_raw(profiles);
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
        for (size_t p = 0; p < profiles; ++p) {
          if (profile_fails_at[p] == kPasses) {
            profile_raw[p] = w->RawWeight(*index.hosts_[layout.profiles[p].representative], spec);
          }
        }
        for (size_t i = 0; i < n; ++i) raw[i] = profile_raw[layout.profile_of[survivors[i]]];
        break;
      case WeigherShape::kPerHost: return full_pass();
    }
    // Locals and plain comparisons (same result as std::min/max) keep lo and hi in registers.
    double lo = std::numeric_limits<double>::max(), hi = std::numeric_limits<double>::lowest();
    const double* r = raw.data();
    for (size_t i = 0; i < n; ++i) {
      const double v = r[i];
      lo = v < lo ? v : lo;
      hi = hi < v ? v : hi;
    }
    if (!(hi > lo)) continue;  // the full pass adds multiplier x 0.0 here: no change to any score
    const double m = w->Multiplier(), range = hi - lo;
    double* sc = score.data();
    for (size_t i = 0; i < n; ++i) sc[i] += m * ((r[i] - lo) / range);
  }
  // The best k in one pass: a small sorted buffer; most hosts lose to its last entry at once.
  auto better = [&](uint32_t a, uint32_t b) {
    if (score[a] != score[b]) return score[a] > score[b];
    return layout.name_rank[survivors[a]] < layout.name_rank[survivors[b]];
  };
  const size_t k = std::min(max_candidates, n);
  std::vector<uint32_t> best;
  best.reserve(k + 1);
  for (uint32_t i = 0; i < n; ++i) {
    if (best.size() == k && !better(i, best.back())) continue;
    best.insert(std::upper_bound(best.begin(), best.end(), i, better), i);
    if (best.size() > k) best.pop_back();
  }
  std::vector<uint32_t>& order = best;
  out.candidates.reserve(k);
  for (size_t i = 0; i < k; ++i) {
    out.candidates.push_back(*index.hosts_[layout.position[survivors[order[i]]]]);
  }
  return out;
}

}  // namespace ferry::controller::scheduler
