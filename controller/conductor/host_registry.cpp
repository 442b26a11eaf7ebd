#include "controller/conductor/host_registry.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cctype>
#include <set>
#include <tuple>

#include "common/errors.hpp"
#include "common/uuid.hpp"
#include "controller/store/evacuations_store.hpp"
#include "controller/store/hosts_store.hpp"
#include "controller/store/progress_store.hpp"

namespace ferry::controller::conductor {
namespace {

std::string Lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  return s;
}

// Settled: a heartbeat's inventory is listed just before it is sent, so a server record changed
// less than two heartbeat intervals ago may be newer than the inventory that contradicts it.
std::chrono::seconds SettleTime(std::chrono::seconds heartbeat_interval) {
  return 2 * heartbeat_interval;
}

}  // namespace

void HostRegistry::ValidateDomains(const std::vector<wire::Domain>& domains) const {
  if (domains.size() > static_cast<size_t>(max_domains_per_host_)) {
    throw Error(Errc::kBadRequest, "a host may report at most " +
                                       std::to_string(max_domains_per_host_) + " domains, got " +
                                       std::to_string(domains.size()) +
                                       " (controller option --max-domains-per-host)");
  }
  std::set<std::string> seen;
  for (const auto& d : domains) {
    if (!IsUuid(d.uuid))
      throw Error(Errc::kBadRequest, "domain uuid '" + d.uuid + "' is not a UUID");
    if (!seen.insert(Lower(d.uuid)).second) {
      throw Error(Errc::kBadRequest, "domain " + d.uuid + " is reported twice");
    }
    if (d.vcpus < 0 || d.memory_mb < 0 || d.disk_gb < 0) {
      throw Error(Errc::kBadRequest, "domain " + d.uuid + " has negative sizes");
    }
    for (const auto& disk : d.disks) {
      if (disk.kind != "local" && disk.kind != "shared" && disk.kind != "volume") {
        throw Error(Errc::kBadRequest, "domain " + d.uuid + " disk " + disk.target.substr(0, 64) +
                                           ": kind must be local, shared or volume");
      }
      // Stored (jsonb refuses NUL, and a datastore name ties a server to hosts) and shown:
      // bounded and printable, else the report is refused as a whole, as any malformed one.
      for (const auto& [field, value, max] :
           {std::tuple{"target", &disk.target, size_t{64}},
            std::tuple{"path", &disk.path, size_t{4096}},
            std::tuple{"format", &disk.format, size_t{64}},
            std::tuple{"datastore", &disk.datastore, size_t{255}}}) {
        if (value->size() > max || store::HasControlCharacters(*value)) {
          throw Error(Errc::kBadRequest, "domain " + d.uuid + ": a disk's " + field +
                                             " is longer than " + std::to_string(max) +
                                             " bytes or holds a control character");
        }
      }
    }
  }
}

void HostRegistry::SyncInventory(store::Tx& tx, int64_t host_id, const std::string& host,
                                 const std::vector<wire::Domain>& domains) {
  std::vector<store::ReportedDomain> reported;
  reported.reserve(domains.size());
  for (const auto& d : domains) {
    reported.push_back({d.uuid, d.name, d.vcpus, d.memory_mb, d.disk_gb,
                        static_cast<int>(d.power_state), nlohmann::json(d.disks)});
  }
  const TimePoint now = clock_.Now();
  for (const auto& uuid : store::SyncUnmanagedDomains(tx, host_id, reported, now)) {
    // Reported, never adopted on our own: an admin decides (POST
    // .../unmanaged-domains/{id}/action).
    spdlog::warn("unmanaged domain reported host={} domain={}", host, uuid);
  }
  const auto settle = SettleTime(heartbeat_interval_);
  for (const auto& f : store::SyncMisplacedDomains(tx, host_id, reported, now, settle)) {
    // Flagged, never acted on: which copy is the right one is an operator's call.
    if (f.kind == "elsewhere") {
      spdlog::warn(
          "server running elsewhere server={} host={} recorded_host={} power_state={} "
          "reason=reported by a host that is not its own",
          f.server_uuid, host, f.recorded_host.value_or("none"), f.power_state);
    } else {
      spdlog::warn("server missing server={} host={} reason=its host no longer reports it",
                   f.server_uuid, host);
    }
  }
  store::SyncReportedDisks(tx, host_id, reported);
  for (const auto& c : store::SyncPowerStates(tx, host_id, reported, now, settle)) {
    spdlog::info("server power state synced server={} host={} power_state={}->{} vm_state={}->{}",
                 c.server_uuid, host, c.old_power_state, c.new_power_state, c.old_vm_state,
                 c.new_vm_state);
  }
}

void HostRegistry::LogFenced(const std::string& host, const std::vector<std::string>& fenced) {
  for (const auto& uuid : fenced) {
    spdlog::warn("guest evacuated from this host host={} server={} reason=told to keep it off",
                 host, uuid);
  }
}

wire::RegisterResponse HostRegistry::Register(const wire::RegisterRequest& req) {
  if (req.host.empty() || req.host.size() > 255) {
    throw Error(Errc::kBadRequest, "host name must be 1-255 characters");
  }
  if (req.vcpus < 0 || req.memory_mb < 0 || req.local_gb < 0) {
    throw Error(Errc::kBadRequest, "capacity must not be negative");
  }
  if (req.command_url.rfind("http://", 0) != 0 && req.command_url.rfind("https://", 0) != 0) {
    throw Error(Errc::kBadRequest, "command_url must be an http(s) URL");
  }
  ValidateDomains(req.domains);
  store::HostRegistration reg;
  reg.name = req.host;
  reg.cell = req.cell.empty() ? "cell1" : req.cell;
  reg.hypervisor_type = req.hypervisor_type;
  reg.hypervisor_version = req.hypervisor_version;
  reg.simulated = req.simulated;
  reg.host_ip = req.host_ip;
  reg.migration_address = req.migration_address;
  reg.agent_url = req.command_url;
  reg.vcpus = req.vcpus;
  reg.memory_mb = req.memory_mb;
  reg.local_gb = req.local_gb;
  reg.cpu_info = req.cpu;
  for (const auto& ds : req.datastores) {
    if (ds.kind != "shared" && ds.kind != "local") {
      throw Error(Errc::kBadRequest, "datastore kind must be shared or local");
    }
    // A local datastore is the host's own disk: its name need only be unique on that host, so
    // it is stored as "<host>/<name>" (two hosts' "local" must not become one shared row).
    std::string name = ds.kind == "local" ? req.host + "/" + ds.name : ds.name;
    reg.datastores.push_back({name, ds.kind, ds.capacity_gb, ds.free_gb});
  }
  store::Host host;
  std::vector<std::string> fenced;
  db_.Transact([&](store::Tx& tx) {
    host = store::RegisterHost(tx, reg, clock_.Now());
    SyncInventory(tx, host.id, host.name, req.domains);
    fenced = store::ListEvacuatedFrom(tx, host.name);
  });
  LogFenced(host.name, fenced);
  spdlog::info("host registered host={} hypervisor={} simulated={} agent={}", host.name,
               host.hypervisor_type, host.simulated, host.agent_url);
  if (on_registered_) on_registered_();
  return wire::RegisterResponse{host.service_uuid, static_cast<int>(heartbeat_interval_.count()),
                                std::move(fenced)};
}

wire::HeartbeatResponse HostRegistry::Heartbeat(const wire::Heartbeat& hb) {
  ValidateDomains(hb.domains);
  bool came_back = false;
  std::vector<std::string> fenced;
  db_.Transact([&](store::Tx& tx) {
    auto outcome = store::RecordHeartbeat(tx, hb.host);
    if (!outcome) throw Error(Errc::kNotFound, "host " + hb.host + " is not registered");
    came_back = outcome->was_down;
    SyncInventory(tx, outcome->host_id, hb.host, hb.domains);
    fenced = store::ListEvacuatedFrom(tx, hb.host);
  });
  if (came_back) LogFenced(hb.host, fenced);
  if (came_back) {
    spdlog::info("host up host={} reason=heartbeat resumed", hb.host);
    // Deletes that waited for this host (domains to reap) can go now.
    if (on_registered_) on_registered_();
  }
  return wire::HeartbeatResponse{static_cast<int>(heartbeat_interval_.count()), std::move(fenced)};
}

}  // namespace ferry::controller::conductor
