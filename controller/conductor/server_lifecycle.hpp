#pragma once
// Server create, delete and adoption. The API commits the intent (a task_state) first; this
// class then drives the agent. Anything interrupted (controller crash, agent away) is found again
// by Reconcile(), which re-sends the same idempotent command.
#include <condition_variable>
#include <deque>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "common/clock.hpp"
#include "controller/agent_client/agent_client.hpp"
#include "controller/conductor/host_snapshot.hpp"
#include "controller/scheduler/scheduler.hpp"
#include "controller/store/database.hpp"
#include "controller/store/models.hpp"
#include "controller/store/reap_store.hpp"

namespace ferry::controller::conductor {

// The task_state of a server whose build or delete the conductor drives.
inline constexpr const char* kSpawning = "spawning";
inline constexpr const char* kDeleting = "deleting";

std::optional<store::Host> HostById(store::Tx& tx, std::optional<int64_t> id);

struct CreateServerRequest {
  std::string name;
  store::Flavor flavor;
  std::optional<std::string> availability_zone;
  std::optional<std::string> forced_host;  // "zone:host" or 2.74 "host"
  std::string storage_kind = "local";
  nlohmann::json volumes = nlohmann::json::array();
  nlohmann::json metadata = nlohmann::json::object();
  std::string user_id;
  std::string project_id;
  std::optional<std::string> group_uuid;  // os:scheduler_hints {"group": uuid}
  // Whether the group may be another project's: an admin's request (Nova's admin context sees
  // every project's groups; anyone else's is "not found", as GET /os-server-groups/{id} says).
  bool any_project_group = false;
  store::ServerAttributes attributes;  // accessIPv4/v6, description, hostname
  std::string request_id;              // the API request's: the "create" action's id
};

// What an adopted domain's disks make of the server: storage_kind "volume" when its root disk
// (the first reported) is a volume, "shared" when it is on shared storage, else "local" (also
// when the agent reported no disks, as before disks were reported); volumes = its volume disks
// as [{"id": path, "device": "/dev/<target>"}]. So block_migration "auto" copies exactly when
// the root disk is local.
struct AdoptedStorage {
  std::string storage_kind = "local";
  std::optional<std::string> datastore;  // shared: where the boot disk is
  nlohmann::json volumes = nlohmann::json::array();
};
AdoptedStorage StorageOfDisks(const nlohmann::json& disks);

class ServerLifecycle {
 public:
  // Schedules from `snapshot`, which the caller keeps fresh (HostSnapshot::Tick).
  ServerLifecycle(store::Database& db, const agent_client::AgentClient& agents, const Clock& clock,
                  int workers, HostSnapshot& snapshot);
  // Without a shared snapshot: owns one and refreshes it (changed hosts only) before each
  // placement, since nobody else ticks it.
  ServerLifecycle(store::Database& db, const agent_client::AgentClient& agents, const Clock& clock,
                  int workers);
  ~ServerLifecycle();

  void Start();
  void Stop();

  // Commits the server (BUILD with claims on a host, or ERROR "No valid host") and queues the
  // build. Returns the committed row. With a group, the server joins it in the same transaction
  // (throws kBadRequest if the group does not exist) and its policy is honoured.
  store::Server Create(const CreateServerRequest& request);
  // Marks the server deleting (409 if another task holds it) and queues the delete.
  // request_id, user_id: the API request's, recorded as the server's "delete" action.
  void RequestDelete(const std::string& uuid, const std::string& request_id,
                     const std::string& user_id);
  // Turns an unmanaged domain into a server of `flavor` on the host that reported it.
  store::Server Adopt(const std::string& domain_uuid, const store::Flavor& flavor,
                      const std::string& user_id, const std::string& project_id);
  // Queues every server whose build or delete is unfinished, and every deleted server whose
  // domain waits to be reaped on a host that is up again. Called at start, periodically and
  // when a host registers or comes back.
  void Reconcile();

 private:
  // One read and compare-and-set of RequestDelete: false when the server's task changed between.
  bool TryRequestDelete(const std::string& uuid, const std::string& request_id,
                        const std::string& user_id);
  void Enqueue(const std::string& uuid);
  void WorkerLoop();
  void Drive(const std::string& uuid);
  void Build(const store::Server& server, const store::Host& host);
  // server_deletion.cpp: deletes the domain, then the row and the claims. A host that is down
  // gets Nova's local delete, but the claims stay until the domain is reaped (review M4).
  void Destroy(const store::Server& server, const std::optional<store::Host>& host);
  void ForgetUntilReaped(const store::Server& server, const store::Host& host,
                         const std::string& why);
  void Reap(const store::DomainToReap& reap);
  // Sends delete_domain; throws unless the agent answered done.
  void DeleteDomainOn(const std::string& agent_url, const std::string& uuid);

  void HostsChanged(std::optional<int64_t> host_id);

  store::Database& db_;
  const agent_client::AgentClient& agents_;
  const Clock& clock_;
  std::unique_ptr<HostSnapshot> owned_snapshot_;  // only without a shared one
  HostSnapshot& snapshot_;
  scheduler::Scheduler scheduler_;
  int worker_count_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::string> queue_;
  std::set<std::string> queued_or_running_;  // one driver per server at a time
  std::set<std::string> rerun_;              // asked for again while its driver ran
  bool stop_ = false;
  std::vector<std::thread> workers_;
};

}  // namespace ferry::controller::conductor
