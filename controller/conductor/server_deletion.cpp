// ServerLifecycle's delete path. A server is forgotten only once its domain is known to be gone,
// or, when its host is down, once the domain is recorded to be reaped: its claims then stay
// until the host reports again and its agent has deleted the domain (review M4).
#include <spdlog/spdlog.h>

#include "common/errors.hpp"
#include "common/uuid.hpp"
#include "controller/conductor/server_lifecycle.hpp"
#include "controller/store/claims_store.hpp"
#include "controller/store/cold_migrations_store.hpp"
#include "controller/store/server_groups_store.hpp"
#include "controller/store/servers_store.hpp"

namespace ferry::controller::conductor {

void ServerLifecycle::RequestDelete(const std::string& uuid, const std::string& request_id,
                                    const std::string& user_id) {
  // A task that ends between the read and the compare-and-set (a build finishing as the DELETE
  // arrives: Tempest's test_delete_server_while_in_building_state) is no reason to refuse: read
  // again and decide on what is there now. Only a server that keeps changing is a 409.
  for (int attempt = 1;; ++attempt) {
    if (TryRequestDelete(uuid, request_id, user_id)) break;
    if (attempt == 3) throw Error(Errc::kConflict, "Instance " + uuid + " changed state; retry");
  }
  Enqueue(uuid);
}

bool ServerLifecycle::TryRequestDelete(const std::string& uuid, const std::string& request_id,
                                       const std::string& user_id) {
  bool raced = false;
  db_.Transact([&](store::Tx& tx) {
    raced = false;
    auto server = store::FindServer(tx, uuid);
    if (!server) throw Error(Errc::kNotFound, "Instance " + uuid + " could not be found.");
    if (server->task_state == kDeleting) return;  // already on its way: DELETE is idempotent
    // A build in flight may be interrupted: the delete command wins and the build's completion
    // is ignored (its CAS on task_state fails). The agent runs the delete only after the create
    // has finished there (agent/domain_command_order.hpp). Any other task must finish first.
    if (server->task_state && server->task_state != kSpawning) {
      throw Error(Errc::kConflict, "Cannot 'delete' instance " + uuid +
                                       " while it is in task_state " + *server->task_state);
    }
    if (!store::CasTaskState(tx, uuid, server->task_state, std::string(kDeleting), clock_.Now())) {
      raced = true;
      return;
    }
    // Nova confirms a resize waiting in VERIFY_RESIZE before deleting its server: the source's
    // copy goes with the confirm, the destination's with the delete.
    if (server->vm_state == "resized") {
      if (auto move = store::FindUnconfirmedColdMigration(tx, uuid)) {
        store::RequestConfirm(tx, move->uuid, clock_.Now(), "server deleted");
      }
    }
    // Nova's "delete" action. Its step here is ferry's own (the agent's delete runs later), so
    // the event is named as ferry's own observations are (ferry_...). The project is the
    // server's: it finds a deleted server's owner for os-instance-actions.
    store::ServerActionRecord r;
    r.instance_uuid = uuid;
    r.request_id = request_id.empty() ? "req-" + NewUuid() : request_id;
    r.action = "delete";
    r.event = "ferry_request_delete";
    r.host = server->host;
    r.user_id = user_id;
    r.project_id = server->project_id;
    store::RecordServerAction(tx, r, clock_.Now());
  });
  return !raced;
}

void ServerLifecycle::DeleteDomainOn(const std::string& agent_url, const std::string& uuid) {
  // One id per server: a resend (after a timeout, by another controller, by the reaper) is
  // answered from the agent's command log, and while a create of the same domain still runs
  // the agent answers 202 (in progress) and this throws; it is retried later.
  wire::Command cmd{
      agent_client::AgentClient::CommandId(uuid, "delete", 1), "delete_domain", {{"uuid", uuid}}};
  auto result = agents_.Send(agent_url, cmd);
  if (result.status != "done") throw Error(Errc::kUnavailable, result.error);
}

void ServerLifecycle::Destroy(const store::Server& server, const std::optional<store::Host>& host) {
  if (host) {
    try {
      DeleteDomainOn(host->agent_url, server.uuid);
    } catch (const Error& e) {
      if (host->IsUp()) throw;  // deferred: the next reconcile pass tries again
      ForgetUntilReaped(server, *host, e.what());
      return;
    }
  }
  db_.Transact([&](store::Tx& tx) {
    store::ReleaseClaims(tx, server.uuid);
    store::RemoveServerGroupMember(tx, server.uuid);
    store::DeleteServerRow(tx, server.uuid);
  });
  HostsChanged(server.host_id);
  spdlog::info("server deleted server={} host={}", server.uuid, host ? host->name : "-");
}

void ServerLifecycle::ForgetUntilReaped(const store::Server& server, const store::Host& host,
                                        const std::string& why) {
  // Nova's "local delete": the user sees the server gone, since a down host may never answer.
  // But a host that is down may only be cut off with the guest still running: the claims stay
  // (the scheduler keeps counting the usage) until the domain is reaped there.
  db_.Transact([&](store::Tx& tx) {
    store::RecordDomainToReap(tx, server.uuid, host.id, clock_.Now());
    store::RemoveServerGroupMember(tx, server.uuid);
    store::DeleteServerRow(tx, server.uuid);
  });
  spdlog::warn(
      "server deleted locally server={} host={} reason=host down ({}); its claims stay until the "
      "host reports again and its domain is deleted there",
      server.uuid, host.name, why);
}

void ServerLifecycle::Reap(const store::DomainToReap& reap) {
  DeleteDomainOn(reap.agent_url, reap.server_uuid);  // throws: deferred to the next pass
  db_.Transact([&](store::Tx& tx) { store::FinishReap(tx, reap.server_uuid); });
  HostsChanged(reap.host_id);
  spdlog::info("deleted server's domain reaped server={} host={}; claims released",
               reap.server_uuid, reap.host);
}

}  // namespace ferry::controller::conductor
