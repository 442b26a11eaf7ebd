#include "controller/drains/planner.hpp"

#include <algorithm>
#include <memory>

namespace ferry::controller::drains {
namespace {

constexpr int64_t kMiB = 1024 * 1024;
constexpr int64_t kGiB = 1024 * kMiB;

bool Running(const ServerFacts& s) { return s.vm_state == "active" || s.vm_state == "paused"; }

// How the server leaves the host in this mode, or why it cannot.
std::string KindOf(const ServerFacts& s, const PlanRequest& r, std::string& why) {
  if (s.task_state) {
    why = "busy: task_state " + *s.task_state;
    return "";
  }
  if (r.host_down) {
    if (s.vm_state != "active" && s.vm_state != "stopped" && s.vm_state != "error") {
      why = "vm_state " + s.vm_state + " cannot be evacuated";
      return "";
    }
    if (s.storage_kind == "local" && !s.has_image) {
      why = "its disks were local to " + r.host + " and it has no image to rebuild from";
      return "";
    }
    return "evacuate";
  }
  if (r.mode == "live" || (r.mode == "auto" && Running(s))) {
    if (!Running(s)) {
      why = "vm_state " + s.vm_state +
            ": a live drain moves running servers (mode cold or auto "
            "moves it)";
      return "";
    }
    return "live";
  }
  if (s.vm_state != "active" && s.vm_state != "stopped") {
    why = "vm_state " + s.vm_state + " cannot be migrated cold";
    return "";
  }
  return "cold";
}

// Bytes a move copies: live, the memory (and local disks by block migration); cold, the local
// disks; an evacuation copies nothing.
int64_t BytesOf(const ServerFacts& s, const std::string& kind) {
  const int64_t disk =
      s.storage_kind == "local" ? s.local_disk_bytes.value_or(s.root_gb * kGiB) : 0;
  if (kind == "live") return s.memory_mb * kMiB + disk;
  if (kind == "cold") return disk;
  return 0;
}

// Bytes per second a move of this kind goes at: the link, or the hypervisor's cap when lower.
double RateOf(const PlanRequest& r, const std::string& kind) {
  double mibps = std::max(1.0, r.link_mibps);
  const double cap = kind == "live" ? r.live_cap_mibps : kind == "cold" ? r.cold_cap_mibps : 0;
  if (cap > 0) mibps = std::min(mibps, cap);
  return mibps * kMiB;
}

}  // namespace

Plan MakePlan(const scheduler::Scheduler& scheduler, const scheduler::HostIndex& index,
              const scheduler::HostState& source, const PlanRequest& request,
              std::vector<ServerFacts> servers) {
  // Biggest first: what is hardest to place gets the most room (first-fit decreasing).
  std::stable_sort(servers.begin(), servers.end(), [](const auto& a, const auto& b) {
    if (a.memory_mb != b.memory_mb) return a.memory_mb > b.memory_mb;
    return a.name < b.name;
  });
  std::set<std::string> ignore = request.avoid_hosts;
  ignore.insert(request.host);
  if (!request.target_hosts.empty()) {
    const std::set<std::string> allowed(request.target_hosts.begin(), request.target_hosts.end());
    for (const auto& h : index.hosts()) {
      if (!allowed.count(h->name)) ignore.insert(h->name);
    }
  }
  // The view with this plan's placements: a copy of its own, changed in place.
  auto current = std::make_shared<scheduler::HostIndex>(index);
  std::map<int64_t, std::set<std::string>> group_hosts;  // planned hosts per anti-affinity group
  std::vector<double> lanes(static_cast<size_t>(std::max(1, request.max_parallel)), 0.0);

  Plan plan;
  int position = 0;
  for (const auto& s : servers) {
    PlannedServer p;
    p.uuid = s.uuid;
    p.name = s.name;
    p.position = ++position;
    std::string why;
    p.kind = KindOf(s, request, why);
    if (p.kind.empty()) {
      p.kind = request.host_down ? "evacuate" : (Running(s) ? "live" : "cold");
      p.reason = why;
      plan.fits = false;
      plan.servers.push_back(std::move(p));
      continue;
    }
    scheduler::RequestSpec spec;
    spec.vcpus = s.vcpus;
    spec.memory_mb = s.memory_mb;
    spec.disk_gb = s.storage_kind == "local" ? s.root_gb : 0;
    spec.source_host = request.host;
    spec.cell = source.cell;
    spec.hypervisor_type = source.hypervisor_type;
    spec.min_hypervisor_version = source.hypervisor_version;
    spec.guest_cpu = source.cpu;
    spec.source_shared_datastores = source.shared_datastores;
    spec.availability_zone = s.availability_zone;
    if (s.storage_kind == "shared") spec.required_datastore = s.datastore;
    spec.required_aggregate_metadata = s.required_aggregate_metadata;
    spec.ignore_hosts = ignore;
    spec.anti_affinity_hosts = s.anti_affinity_hosts;
    if (s.anti_affinity_group) {
      const auto& taken = group_hosts[*s.anti_affinity_group];
      spec.anti_affinity_hosts.insert(taken.begin(), taken.end());
    }
    auto selection = scheduler.Select(*current, spec, 1);
    if (selection.candidates.empty()) {
      p.reason = scheduler::NoValidHostMessage(selection);
      plan.fits = false;
      plan.servers.push_back(std::move(p));
      continue;
    }
    // Count it where it goes before the next server is placed: never two on the last slot.
    auto placed = std::make_shared<scheduler::HostState>(selection.candidates.front());
    placed->free_vcpus -= spec.vcpus;
    placed->free_memory_mb -= spec.memory_mb;
    placed->free_disk_gb -= spec.disk_gb;
    p.dest = placed->name;
    if (s.anti_affinity_group) group_hosts[*s.anti_affinity_group].insert(placed->name);
    if (!current->Update(placed)) {
      auto hosts = current->CopyHosts();
      for (auto& h : hosts) {
        if (h.name == placed->name) h = *placed;
      }
      current = std::make_shared<scheduler::HostIndex>(hosts);
    }

    p.bytes = BytesOf(s, p.kind);
    p.predicted_seconds = static_cast<double>(p.bytes) / RateOf(request, p.kind);
    auto lane = std::min_element(lanes.begin(), lanes.end());
    p.starts_after_seconds = *lane;
    *lane += p.predicted_seconds;
    plan.bytes += p.bytes;
    plan.servers.push_back(std::move(p));
  }
  plan.predicted_seconds = *std::max_element(lanes.begin(), lanes.end());
  return plan;
}

}  // namespace ferry::controller::drains
