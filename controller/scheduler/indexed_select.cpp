// Scheduler::Select over a HostIndex: the same filters and weighers as the full pass, with
// profile filters run once per profile, per-host checks on flat columns, and only the best
// `max_candidates` ordered. When nothing passes, the per-filter counts of the message come from
// the same columns (no copy of the hosts). tests/unit/controller_scheduler_indexed_test.cpp
// proves it equals the full pass on random clusters.
#include <algorithm>
#include <limits>

#include "common/metrics/metrics.hpp"
#include "controller/scheduler/scheduler.hpp"

namespace ferry::controller::scheduler {
namespace {

constexpr size_t kPasses = std::numeric_limits<size_t>::max();

}  // namespace

// One kNames filter's rule with the names turned into sorted slots.
struct Scheduler::SlotRule {
  size_t filter;
  bool only_listed;
  std::vector<uint32_t> slots;
  bool Rejects(uint32_t slot) const {
    return std::binary_search(slots.begin(), slots.end(), slot) != only_listed;
  }
};

Selection Scheduler::Select(const HostIndex& index, const RequestSpec& spec,
                            size_t max_candidates) const {
  metrics::ScopedTimer timer(SelectLatency("indexed"));
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
      case FilterShape::kUpAndEnabled:
        check_up = true;
        break;
      case FilterShape::kCapacity:
        check_capacity = true;
        break;
      case FilterShape::kInboundHeadroom:
        check_inbound = spec.max_inbound_migrations > 0;
        break;
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
      case FilterShape::kPerHost:
        return full_pass();
    }
  }
  auto dynamic_rejects = [&](size_t fi, uint32_t slot) {
    switch (filters_[fi]->Shape()) {
      case FilterShape::kUpAndEnabled:
        return !index.up_and_enabled_[slot];
      case FilterShape::kCapacity:
        return index.free_vcpus_[slot] < spec.vcpus ||
               index.free_memory_mb_[slot] < spec.memory_mb ||
               index.free_disk_gb_[slot] < spec.disk_gb;
      case FilterShape::kInboundHeadroom:
        return check_inbound && index.inbound_[slot] >= spec.max_inbound_migrations;
      case FilterShape::kNames:
        for (const auto& r : rules) {
          if (r.filter == fi) return r.Rejects(slot);
        }
        return false;
      default:
        return false;
    }
  };

  if (auto ranked = SelectByRam(index, spec, max_candidates, profile_fails_at, rules, check_up,
                                check_capacity, check_inbound)) {
    return *ranked;
  }

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
      for (const auto& r : rules)
        listed_everywhere = listed_everywhere && !(r.only_listed && r.Rejects(slot));
      if (listed_everywhere && profile_fails_at[layout.profile_of[slot]] == kPasses) consider(slot);
    }
  } else {
    survivors.reserve(index.size());
    for (size_t p = 0; p < profiles; ++p) {
      if (profile_fails_at[p] != kPasses) continue;
      for (uint32_t slot = layout.profiles[p].begin; slot < layout.profiles[p].end; ++slot)
        consider(slot);
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
      if (counts[fi] > 0)
        out.rejected_by.emplace_back(std::string(filters_[fi]->Name()), counts[fi]);
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
        for (size_t i = 0; i < n; ++i)
          raw[i] = static_cast<double>(index.free_memory_mb_[survivors[i]]);
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
      case WeigherShape::kPerHost:
        return full_pass();
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

std::optional<Selection> Scheduler::SelectByRam(const HostIndex& index, const RequestSpec& spec,
                                                size_t k,
                                                const std::vector<size_t>& profile_fails_at,
                                                const std::vector<SlotRule>& rules, bool check_up,
                                                bool check_capacity, bool check_inbound) const {
  // Applies when a host's score grows with its free RAM and everything else is bounded: no
  // "only these hosts" rule (that path is short anyway), no negative multiplier.
  for (const auto& r : rules) {
    if (r.only_listed) return std::nullopt;
  }
  for (const auto& w : weighers_) {
    if (w->Multiplier() < 0 || w->Shape() == WeigherShape::kPerHost) return std::nullopt;
  }
  if (k == 0) return std::nullopt;
  const HostIndex::Layout& layout = *index.layout_;
  const size_t profiles = layout.profiles.size();
  std::vector<uint32_t> excluded;
  for (const auto& r : rules) excluded.insert(excluded.end(), r.slots.begin(), r.slots.end());
  std::sort(excluded.begin(), excluded.end());
  auto passes = [&](uint32_t slot) {
    if (check_up && !index.up_and_enabled_[slot]) return false;
    if (check_capacity &&
        (index.free_vcpus_[slot] < spec.vcpus || index.free_memory_mb_[slot] < spec.memory_mb ||
         index.free_disk_gb_[slot] < spec.disk_gb)) {
      return false;
    }
    if (check_inbound && index.inbound_[slot] >= spec.max_inbound_migrations) return false;
    return excluded.empty() || !std::binary_search(excluded.begin(), excluded.end(), slot);
  };
  // Below a profile's first host without the RAM, none has it (RAM order).
  auto ram_end = [&](size_t p) {
    const auto first = index.ram_order_.begin() + layout.profiles[p].begin;
    const auto last = index.ram_order_.begin() + layout.profiles[p].end;
    if (!check_capacity) return layout.profiles[p].end;
    return static_cast<uint32_t>(
        std::partition_point(
            first, last, [&](uint32_t s) { return index.free_memory_mb_[s] >= spec.memory_mb; }) -
        index.ram_order_.begin());
  };

  // 1. The exact extremes of every weigher over all survivors, from the ends of each profile.
  constexpr double kMax = std::numeric_limits<double>::max(),
                   kLow = std::numeric_limits<double>::lowest();
  double ram_lo = kMax, ram_hi = kLow;
  bool zero_inbound = false;
  std::vector<uint32_t> top(profiles, 0), end(profiles, 0);
  std::vector<uint8_t> live(profiles, 0);
  for (size_t p = 0; p < profiles; ++p) {
    if (profile_fails_at[p] != kPasses) continue;
    const uint32_t b = layout.profiles[p].begin, e = ram_end(p);
    uint32_t i = b;
    while (i < e && !passes(index.ram_order_[i])) ++i;
    if (i == e) continue;
    live[p] = 1;
    top[p] = i;
    end[p] = e;
    ram_hi = std::max(ram_hi, static_cast<double>(index.free_memory_mb_[index.ram_order_[i]]));
    uint32_t j = e - 1;
    while (!passes(index.ram_order_[j])) --j;  // stops at i at the latest
    ram_lo = std::min(ram_lo, static_cast<double>(index.free_memory_mb_[index.ram_order_[j]]));
    for (uint32_t x = i; !zero_inbound && x < e; ++x) {
      const uint32_t slot = index.ram_order_[x];
      zero_inbound = index.inbound_[slot] == 0 && passes(slot);
    }
  }
  if (ram_hi == kLow) return std::nullopt;  // nothing passes: the caller counts rejections
  double in_lo = kMax, in_hi = kLow;
  if (zero_inbound) in_lo = in_hi = -static_cast<double>(0);
  for (uint32_t slot : index.inbound_slots_) {
    if (live[layout.profile_of[slot]] && slot < index.size() && passes(slot)) {
      const double v = -static_cast<double>(index.inbound_[slot]);
      in_lo = std::min(in_lo, v);
      in_hi = std::max(in_hi, v);
    }
  }
  struct Norm {
    WeigherShape shape;
    bool active;
    double lo, hi, range, m;
    std::vector<double> profile_raw;
  };
  std::vector<Norm> norms;
  for (const auto& w : weighers_) {
    Norm n{w->Shape(), false, 0, 0, 0, w->Multiplier(), {}};
    double lo = kMax, hi = kLow;
    if (n.shape == WeigherShape::kFreeRam) {
      lo = ram_lo, hi = ram_hi;
    } else if (n.shape == WeigherShape::kInboundLoad) {
      lo = in_lo, hi = in_hi;
    } else {
      n.profile_raw.assign(profiles, 0.0);
      for (size_t p = 0; p < profiles; ++p) {
        if (!live[p]) continue;
        n.profile_raw[p] = w->RawWeight(*index.hosts_[layout.profiles[p].representative], spec);
        lo = std::min(lo, n.profile_raw[p]);
        hi = std::max(hi, n.profile_raw[p]);
      }
    }
    n.active = hi > lo;
    n.lo = lo;
    n.hi = hi;
    n.range = hi - lo;
    norms.push_back(std::move(n));
  }
  // Same operations in the same order as the full pass. With `bound`, the inbound term takes
  // its best value: an upper limit for every host of the profile from this one down.
  auto score = [&](uint32_t slot, size_t p, bool bound) {
    double s = 0.0;
    for (const auto& n : norms) {
      if (!n.active) continue;
      double raw = 0;
      switch (n.shape) {
        case WeigherShape::kFreeRam:
          raw = static_cast<double>(index.free_memory_mb_[slot]);
          break;
        case WeigherShape::kInboundLoad:
          raw = bound ? n.hi : -static_cast<double>(index.inbound_[slot]);
          break;
        default:
          raw = n.profile_raw[p];
          break;
      }
      s += n.m * ((raw - n.lo) / n.range);
    }
    return s;
  };

  // 2. Walk each profile down its RAM order until no host left there can beat the k-th best.
  struct Scored {
    double score;
    uint32_t rank, slot;
  };
  auto better = [](const Scored& a, const Scored& b) {
    if (a.score != b.score) return a.score > b.score;
    return a.rank < b.rank;
  };
  std::vector<Scored> best;
  best.reserve(k + 1);
  for (size_t p = 0; p < profiles; ++p) {
    if (!live[p]) continue;
    for (uint32_t x = top[p]; x < end[p]; ++x) {
      const uint32_t slot = index.ram_order_[x];
      if (best.size() == k && score(slot, p, true) < best.back().score) break;
      if (!passes(slot)) continue;
      Scored c{score(slot, p, false), layout.name_rank[slot], slot};
      if (best.size() == k && !better(c, best.back())) continue;
      best.insert(std::upper_bound(best.begin(), best.end(), c, better), c);
      if (best.size() > k) best.pop_back();
    }
  }
  Selection out;
  out.candidates.reserve(best.size());
  for (const auto& c : best) out.candidates.push_back(*index.hosts_[layout.position[c.slot]]);
  return out;
}

}  // namespace ferry::controller::scheduler
