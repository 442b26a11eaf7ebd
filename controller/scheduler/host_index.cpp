#include "controller/scheduler/host_index.hpp"

#include <algorithm>
#include <numeric>
#include <set>

namespace ferry::controller::scheduler {
namespace {

// Unit and record separators cannot occur in host, zone or CPU names, so keys never collide.
constexpr char kField = '\x1f';
constexpr char kItem = '\x1e';

}  // namespace

std::string HostProfileKey(const HostState& h) {
  std::string k;
  k.reserve(256);
  k += h.cell + kField + h.hypervisor_type + kField + std::to_string(h.hypervisor_version) +
       kField + h.availability_zone + kField + h.cpu.arch + kField + h.cpu.vendor + kField +
       h.cpu.model + kField;
  for (const auto& f : h.cpu.features) k += f + kItem;
  k += kField;
  for (const auto& [key, values] : h.aggregate_metadata) {
    k += key + '=';
    for (const auto& v : values) k += v + kItem;
    k += kItem;
  }
  k += kField;
  for (const auto& d : h.shared_datastores) k += d + kItem;
  return k;
}

HostIndex::HostIndex(const std::vector<HostState>& hosts) {
  std::vector<std::shared_ptr<const HostState>> shared;
  shared.reserve(hosts.size());
  for (const auto& h : hosts) shared.push_back(std::make_shared<const HostState>(h));
  *this = HostIndex(std::move(shared));
}

HostIndex::HostIndex(std::vector<std::shared_ptr<const HostState>> hosts)
    : hosts_(std::move(hosts)) {
  const size_t n = hosts_.size();
  auto layout = std::make_shared<Layout>();
  std::unordered_map<std::string, uint32_t> profile_ids;
  std::vector<uint32_t> profile_of_position(n);
  std::vector<uint32_t> profile_sizes;
  for (uint32_t i = 0; i < n; ++i) {
    auto [it, inserted] = profile_ids.try_emplace(HostProfileKey(*hosts_[i]),
                                                  static_cast<uint32_t>(layout->profiles.size()));
    if (inserted) {
      layout->profiles.push_back({i, 0, 0});
      profile_sizes.push_back(0);
    }
    profile_of_position[i] = it->second;
    ++profile_sizes[it->second];
  }
  uint32_t next = 0;
  for (size_t p = 0; p < layout->profiles.size(); ++p) {
    layout->profiles[p].begin = layout->profiles[p].end = next;
    next += profile_sizes[p];
  }
  std::vector<uint32_t> by_name(n);
  std::iota(by_name.begin(), by_name.end(), 0u);
  std::sort(by_name.begin(), by_name.end(),
            [&](uint32_t a, uint32_t b) { return hosts_[a]->name < hosts_[b]->name; });
  std::vector<uint32_t> rank_of_position(n);
  for (uint32_t r = 0; r < n; ++r) rank_of_position[by_name[r]] = r;

  layout->position.resize(n);
  layout->profile_of.resize(n);
  layout->name_rank.resize(n);
  layout->slot_by_name.reserve(n);
  up_and_enabled_.resize(n);
  free_vcpus_.resize(n);
  free_memory_mb_.resize(n);
  free_disk_gb_.resize(n);
  inbound_.resize(n);
  for (uint32_t i = 0; i < n; ++i) {
    const uint32_t p = profile_of_position[i];
    const uint32_t slot = layout->profiles[p].end++;
    layout->position[slot] = i;
    layout->profile_of[slot] = p;
    layout->name_rank[slot] = rank_of_position[i];
    layout->slot_by_name.emplace(hosts_[i]->name, slot);
    SetDynamicColumns(slot, *hosts_[i]);
  }
  layout_ = std::move(layout);
  ram_order_ = layout_->position.empty() ? std::vector<uint32_t>{} : std::vector<uint32_t>(n);
  std::iota(ram_order_.begin(), ram_order_.end(), 0u);
  for (size_t p = 0; p < layout_->profiles.size(); ++p) SortProfileByRam(p);
  CollectInboundSlots();
}

void HostIndex::SortProfileByRam(size_t profile) {
  const auto& range = layout_->profiles[profile];
  std::sort(ram_order_.begin() + range.begin, ram_order_.begin() + range.end,
            [&](uint32_t a, uint32_t b) { return free_memory_mb_[a] > free_memory_mb_[b]; });
}

void HostIndex::CollectInboundSlots() {
  inbound_slots_.clear();
  for (uint32_t slot = 0; slot < inbound_.size(); ++slot) {
    if (inbound_[slot] > 0) inbound_slots_.push_back(slot);
  }
}

void HostIndex::SetDynamicColumns(uint32_t slot, const HostState& h) {
  up_and_enabled_[slot] = h.up && h.enabled;
  free_vcpus_[slot] = h.free_vcpus;
  free_memory_mb_[slot] = h.free_memory_mb;
  free_disk_gb_[slot] = h.free_disk_gb;
  inbound_[slot] = h.inbound_migrations;
}

std::shared_ptr<const HostIndex> HostIndex::WithChanged(
    const std::vector<std::shared_ptr<const HostState>>& changed) const {
  auto next = std::make_shared<HostIndex>(*this);  // shares layout_; copies flat columns
  std::set<uint32_t> touched;
  for (const auto& h : changed) {
    auto it = layout_->slot_by_name.find(h->name);
    if (it == layout_->slot_by_name.end()) return nullptr;
    const uint32_t slot = it->second;
    const uint32_t position = layout_->position[slot];
    const HostState& old = *hosts_[position];
    if (old.id != h->id || HostProfileKey(old) != HostProfileKey(*h)) return nullptr;
    // A profile's representative answers for all its hosts; it may be this host, and the new
    // state has the same profile, so swapping it in keeps every answer.
    next->hosts_[position] = h;
    next->SetDynamicColumns(slot, *h);
    touched.insert(layout_->profile_of[slot]);
  }
  for (uint32_t p : touched) next->SortProfileByRam(p);
  next->CollectInboundSlots();
  return next;
}

bool HostIndex::Update(const std::shared_ptr<const HostState>& h) {
  auto it = layout_->slot_by_name.find(h->name);
  if (it == layout_->slot_by_name.end()) return false;
  const uint32_t slot = it->second;
  const uint32_t position = layout_->position[slot];
  const HostState& old = *hosts_[position];
  if (old.id != h->id || HostProfileKey(old) != HostProfileKey(*h)) return false;
  const bool inbound_changed = old.inbound_migrations != h->inbound_migrations;
  hosts_[position] = h;
  SetDynamicColumns(slot, *h);
  // One host's RAM changed: it moves to its new place in its profile's order (a shift, not a
  // sort of the whole profile), keeping the order a sort would give.
  const auto& range = layout_->profiles[layout_->profile_of[slot]];
  auto begin = ram_order_.begin() + range.begin, end = ram_order_.begin() + range.end;
  auto at = std::find(begin, end, slot);
  if (at != end) {
    std::rotate(at, at + 1, end);  // out of the order: now the last element
    auto more_free = [&](uint32_t a, uint32_t b) {
      return free_memory_mb_[a] > free_memory_mb_[b];
    };
    auto place = std::upper_bound(begin, end - 1, slot, more_free);
    std::rotate(place, end - 1, end);
  }
  if (inbound_changed) CollectInboundSlots();
  return true;
}

std::vector<HostState> HostIndex::CopyHosts() const {
  std::vector<HostState> out;
  out.reserve(hosts_.size());
  for (const auto& h : hosts_) out.push_back(*h);
  return out;
}

const HostState* HostIndex::Find(const std::string& name) const {
  auto it = layout_->slot_by_name.find(name);
  return it == layout_->slot_by_name.end() ? nullptr : hosts_[layout_->position[it->second]].get();
}

}  // namespace ferry::controller::scheduler
