#include "controller/conductor/server_lifecycle.hpp"

#include <spdlog/spdlog.h>

#include "common/errors.hpp"
#include "common/time_format.hpp"
#include "common/uuid.hpp"
#include "controller/conductor/server_placement.hpp"
#include "controller/store/claims_store.hpp"
#include "controller/store/hosts_store.hpp"
#include "controller/store/inventory_store.hpp"
#include "controller/store/reap_store.hpp"
#include "controller/store/server_groups_store.hpp"
#include "controller/store/servers_store.hpp"

namespace ferry::controller::conductor {
namespace {

nlohmann::json Fault(int code, const std::string& message, TimePoint now) {
  return {{"code", code}, {"message", message}, {"created", FormatNovaTime(now)}};
}

}  // namespace

std::optional<store::Host> HostById(store::Tx& tx, std::optional<int64_t> id) {
  if (!id) return std::nullopt;
  store::HostFilter f;
  f.id = *id;
  return store::FindHost(tx, f);
}

ServerLifecycle::ServerLifecycle(store::Database& db, const agent_client::AgentClient& agents,
                                 const Clock& clock, int workers, HostSnapshot& snapshot)
    : db_(db), agents_(agents), clock_(clock), snapshot_(snapshot), worker_count_(workers) {}

ServerLifecycle::ServerLifecycle(store::Database& db, const agent_client::AgentClient& agents,
                                 const Clock& clock, int workers)
    : db_(db),
      agents_(agents),
      clock_(clock),
      owned_snapshot_(std::make_unique<HostSnapshot>(db, clock)),
      snapshot_(*owned_snapshot_),
      worker_count_(workers) {}

void ServerLifecycle::HostsChanged(std::optional<int64_t> host_id) {
  if (host_id) snapshot_.MarkDirty(*host_id);
}

ServerLifecycle::~ServerLifecycle() { Stop(); }

void ServerLifecycle::Start() {
  for (int i = 0; i < worker_count_; ++i) workers_.emplace_back([this] { WorkerLoop(); });
}

void ServerLifecycle::Stop() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  for (auto& t : workers_) {
    if (t.joinable()) t.join();
  }
  workers_.clear();
}

namespace {

// Nova's "create" action: ferry schedules and claims within the request, which is the step
// Nova's conductor event schedule_and_build_instances names; its error is "No valid host".
void RecordCreate(store::Tx& tx, const CreateServerRequest& req, const store::Server& s,
                  const std::string& failure) {
  store::ServerActionRecord r;
  r.instance_uuid = s.uuid;
  r.request_id = req.request_id.empty() ? "req-" + NewUuid() : req.request_id;
  r.action = "create";
  r.event = "conductor_schedule_and_build_instances";
  r.error = !s.host;
  r.host = s.host;
  if (r.error) r.details = failure;
  r.user_id = req.user_id;
  r.project_id = req.project_id;
  store::RecordServerAction(tx, r, s.created_at);
}

}  // namespace

store::Server ServerLifecycle::Create(const CreateServerRequest& req) {
  store::Server s;
  s.uuid = NewUuid();
  s.name = req.name;
  s.flavor_id = req.flavor.id;
  s.flavorid = req.flavor.flavorid;
  s.flavor_name = req.flavor.name;
  s.vcpus = req.flavor.vcpus;
  s.memory_mb = req.flavor.memory_mb;
  s.root_gb = req.flavor.root_gb;
  s.storage_kind = req.storage_kind;
  s.volumes = req.volumes;
  s.metadata = req.metadata;
  s.user_id = req.user_id;
  s.project_id = req.project_id;
  s.attributes = req.attributes;
  s.availability_zone = req.availability_zone;
  s.created_at = clock_.Now();
  PlacementRequest placement_request;
  placement_request.consumer_uuid = s.uuid;
  placement_request.spec.vcpus = s.vcpus;
  placement_request.spec.memory_mb = s.memory_mb;
  // A volume-backed server's root disk is not on the host.
  placement_request.spec.disk_gb = req.storage_kind == "volume" ? 0 : s.root_gb;
  placement_request.spec.availability_zone = req.availability_zone;
  placement_request.spec.required_aggregate_metadata = AggregateExtraSpecs(req.flavor.extra_specs);
  placement_request.forced_host = req.forced_host;
  std::string failure;
  if (owned_snapshot_) owned_snapshot_->Tick();
  db_.Transact([&](store::Tx& tx) {
    std::optional<store::ServerGroup> group;
    if (req.group_uuid) {
      // Locked: creates into one group are placed one after the other.
      group = store::LockServerGroup(tx, *req.group_uuid);
      if (!group || (!req.any_project_group && group->project_id != req.project_id)) {
        throw Error(Errc::kBadRequest,
                    "Instance group " + *req.group_uuid + " could not be found.");
      }
      const auto member_hosts = store::GroupMemberHosts(tx, group->id, "");
      placement_request.spec.anti_affinity_hosts = store::AntiAffinityHostsOf(*group, member_hosts);
      // Hard affinity: where the members already are (Nova's ServerGroupAffinityFilter).
      if (group->policy == "affinity" && !member_hosts.empty()) {
        placement_request.spec.requested_host = member_hosts.front().first;
      }
    }
    auto placement = PlaceAndClaim(tx, scheduler_, snapshot_, placement_request);
    if (placement.host) {
      s.host_id = placement.host->id;
      s.host = placement.host->name;
      s.node = placement.host->name;
      s.vm_state = "building";
      s.task_state = kSpawning;
      if (!s.availability_zone) s.availability_zone = placement.host->availability_zone;
    } else {
      failure = placement.failure;
      s.vm_state = "error";
      s.fault = Fault(500, failure, s.created_at);
    }
    store::InsertServer(tx, s);
    if (group) store::AddServerGroupMember(tx, group->id, s.uuid);
    RecordCreate(tx, req, s, failure);
  });
  HostsChanged(s.host_id);
  if (s.host) {
    spdlog::info("server scheduled server={} host={} name={}", s.uuid, *s.host, s.name);
    Enqueue(s.uuid);
  } else {
    spdlog::warn("server not scheduled server={} reason={}", s.uuid, failure);
  }
  return s;
}

AdoptedStorage StorageOfDisks(const nlohmann::json& disks) {
  AdoptedStorage out;
  if (!disks.is_array()) return out;
  for (size_t i = 0; i < disks.size(); ++i) {
    const auto& d = disks[i];
    if (!d.is_object()) continue;
    const std::string kind = d.value("kind", "local");
    if (i == 0) out.storage_kind = kind == "volume" || kind == "shared" ? kind : "local";
    if (i == 0 && kind == "shared" && d.contains("datastore") && d["datastore"].is_string() &&
        !d["datastore"].get<std::string>().empty()) {
      out.datastore = d["datastore"].get<std::string>();
    }
    if (kind == "volume") {
      out.volumes.push_back(
          {{"id", d.value("path", "")}, {"device", "/dev/" + d.value("target", "")}});
    }
  }
  return out;
}

store::Server ServerLifecycle::Adopt(const std::string& domain_uuid, const store::Flavor& flavor,
                                     const std::string& user_id, const std::string& project_id) {
  store::Server s;
  db_.Transact([&](store::Tx& tx) {
    auto domain = store::FindUnmanagedDomain(tx, domain_uuid);
    if (!domain)
      throw Error(Errc::kNotFound, "Unmanaged domain " + domain_uuid + " could not be found.");
    if (domain->vcpus != flavor.vcpus || domain->memory_mb != flavor.memory_mb) {
      throw Error(Errc::kBadRequest,
                  "Flavor " + flavor.flavorid + " (" + std::to_string(flavor.vcpus) + " vCPU, " +
                      std::to_string(flavor.memory_mb) + " MB) does not match domain " +
                      domain_uuid + " (" + std::to_string(domain->vcpus) + " vCPU, " +
                      std::to_string(domain->memory_mb) + " MB).");
    }
    s.uuid = domain->uuid;
    s.name = domain->name;
    s.host_id = domain->host_id;
    s.host = domain->host;
    s.node = domain->host;
    s.flavor_id = flavor.id;
    s.flavorid = flavor.flavorid;
    s.flavor_name = flavor.name;
    s.vcpus = domain->vcpus;
    s.memory_mb = domain->memory_mb;
    s.root_gb = domain->disk_gb;
    s.vm_state = domain->power_state == 1 ? "active" : "stopped";
    s.power_state = domain->power_state;
    AdoptedStorage storage = StorageOfDisks(domain->disks);
    s.storage_kind = storage.storage_kind;
    s.datastore = storage.datastore;
    s.volumes = storage.volumes;
    s.user_id = user_id;
    s.project_id = project_id;
    s.created_at = clock_.Now();
    s.launched_at = domain->first_seen_at;
    store::InsertServer(tx, s);
    // Its disks as its host last reported them, now rather than at the host's next heartbeat:
    // a host lost right after the adoption must still leave an evacuation its shared disks.
    store::ReportedDomain reported;
    reported.uuid = s.uuid;
    reported.disks = domain->disks;
    store::SyncReportedDisks(tx, domain->host_id, {reported});
    // What the domain really uses is claimed even if it over-commits the host: it is there.
    store::ClaimUnconditionally(tx, s.uuid, domain->host_id,
                                {domain->vcpus, domain->memory_mb, domain->disk_gb});
    store::DeleteUnmanagedDomain(tx, domain->host_id, domain_uuid);
  });
  HostsChanged(s.host_id);
  spdlog::info("domain adopted server={} host={} flavor={}", s.uuid, *s.host, flavor.flavorid);
  return s;
}

void ServerLifecycle::Reconcile() {
  for (const char* state : {kSpawning, kDeleting}) {
    std::vector<store::Server> pending;
    db_.Transact([&](store::Tx& tx) {
      store::ServerFilter f;
      f.task_state_is = state;
      f.limit = 10000;  // a pass bigger than this continues on the next tick
      pending = store::ListServers(tx, f);
    });
    for (const auto& s : pending) Enqueue(s.uuid);
  }
  std::vector<store::DomainToReap> reapable;
  // 10,000 like the servers above: a longer backlog continues on the next tick.
  db_.Transact([&](store::Tx& tx) { reapable = store::ListDomainsToReapOnUpHosts(tx, 10000); });
  for (const auto& r : reapable) Enqueue(r.server_uuid);
}

void ServerLifecycle::Enqueue(const std::string& uuid) {
  {
    std::lock_guard lock(mu_);
    if (!queued_or_running_.insert(uuid).second) {
      // Already queued or being driven: e.g. a delete requested while the build runs. Drive
      // it once more afterwards instead of waiting for the next reconcile pass.
      rerun_.insert(uuid);
      return;
    }
    queue_.push_back(uuid);
  }
  cv_.notify_one();
}

void ServerLifecycle::WorkerLoop() {
  std::unique_lock lock(mu_);
  while (true) {
    cv_.wait(lock, [&] { return stop_ || !queue_.empty(); });
    if (stop_) return;
    std::string uuid = queue_.front();
    queue_.pop_front();
    lock.unlock();
    try {
      Drive(uuid);
    } catch (const std::exception& e) {
      // Left as it is in the database; the next Reconcile() picks it up again.
      spdlog::warn("server task deferred server={} error={}", uuid, e.what());
    }
    lock.lock();
    if (rerun_.erase(uuid)) {
      queue_.push_back(uuid);  // stays in queued_or_running_
      cv_.notify_one();
    } else {
      queued_or_running_.erase(uuid);
    }
  }
}

void ServerLifecycle::Drive(const std::string& uuid) {
  std::optional<store::Server> server;
  std::optional<store::Host> host;
  std::optional<store::DomainToReap> reap;
  db_.Transact([&](store::Tx& tx) {
    server = store::FindServer(tx, uuid);
    if (server) host = HostById(tx, server->host_id);
    if (!server) reap = store::FindDomainToReap(tx, uuid);
  });
  if (reap && reap->host_up) Reap(*reap);
  if (!server) return;
  if (server->task_state == kSpawning && host) {
    Build(*server, *host);
  } else if (server->task_state == kDeleting) {
    Destroy(*server, host);
  }
}

void ServerLifecycle::Build(const store::Server& server, const store::Host& host) {
  wire::Domain domain{server.uuid,
                      server.name,
                      server.vcpus,
                      server.memory_mb,
                      server.root_gb,
                      wire::PowerState::kRunning,
                      {}};
  wire::Command cmd{agent_client::AgentClient::CommandId(server.uuid, "create", 1), "create_domain",
                    nlohmann::json(domain)};
  auto result = agents_.Send(host.agent_url, cmd);
  db_.Transact([&](store::Tx& tx) {
    if (result.status == "done") {
      // CAS: a delete requested meanwhile owns the server now; leave it to the delete.
      if (store::CasTaskState(tx, server.uuid, std::string(kSpawning), std::nullopt,
                              clock_.Now())) {
        int power = result.domain ? static_cast<int>(result.domain->power_state) : 1;
        store::MarkServerActive(tx, server.uuid, power, clock_.Now());
      }
    } else if (store::CasTaskState(tx, server.uuid, std::string(kSpawning), std::nullopt,
                                   clock_.Now())) {
      store::MarkServerError(
          tx, server.uuid,
          Fault(500, "Build failed on " + host.name + ": " + result.error, clock_.Now()),
          clock_.Now());
      store::ReleaseClaims(tx, server.uuid);
    }
  });
  if (result.status != "done") HostsChanged(host.id);
  spdlog::info("server build finished server={} host={} result={} error={}", server.uuid, host.name,
               result.status, result.error);
}

}  // namespace ferry::controller::conductor
