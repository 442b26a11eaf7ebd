// The API's side of evacuation: Nova's synchronous checks (api/openstack/compute/evacuate.py and
// compute/api.py evacuate), in Nova's order and with its codes and texts, then one transaction
// that records the request; the move engine does the rest.
#include "controller/evacuation/service.hpp"

#include "common/errors.hpp"
#include "common/uuid.hpp"
#include "controller/moves/nova_checks.hpp"
#include "controller/store/hosts_store.hpp"
#include "controller/store/moves_store.hpp"
#include "controller/store/servers_store.hpp"

namespace ferry::controller::evacuation {
namespace {

using moves::InvalidState;
using moves::ServerOr404;

// Nova's check_instance_state(vm_state=[active, stopped, error], task_state=[None]).
void RequireState(const store::Server& s) {
  if (s.vm_state != "active" && s.vm_state != "stopped" && s.vm_state != "error") {
    InvalidState("evacuate", s.uuid, "vm_state", s.vm_state);
  }
  if (s.task_state) InvalidState("evacuate", s.uuid, "task_state", *s.task_state);
}

}  // namespace

store::Evacuation Service::Request(const EvacuateRequest& r) {
  store::Evacuation e;
  bool created = false;
  ctx_.db.Transact([&](store::Tx& tx) {
    if (r.idempotency_key) {
      if (auto existing = store::FindEvacuationByIdempotencyKey(tx, *r.idempotency_key)) {
        if (existing->instance_uuid != r.server_uuid) {
          throw Error(Errc::kConflict, "Idempotency-Key " + *r.idempotency_key +
                                           " was already used for another request");
        }
        e = *existing;
        return;
      }
    }
    const auto server = ServerOr404(tx, r.server_uuid);
    // The API layer's checks first (evacuate.py): the target host exists, and is not the
    // server's own.
    if (r.host && !store::FindHostNamed(tx, *r.host)) {
      throw Error(Errc::kNotFound, "Compute host " + *r.host + " not found.");
    }
    if (r.host && server.host && *r.host == *server.host) {
      throw Error(Errc::kBadRequest, "The target host can't be the same one.");
    }
    // Then compute/api.py evacuate: the state, then the source's service must be down.
    RequireState(server);
    std::optional<store::Host> source;
    if (server.host) source = store::FindHostNamed(tx, *server.host);
    if (!source) InvalidState("evacuate", server.uuid, "host", "none");
    if (source->IsUp()) {
      throw Error(Errc::kBadRequest, "Compute service of " + source->name + " is still in use.");
    }
    const bool on_shared = server.storage_kind != "local";
    if (r.on_shared_storage && *r.on_shared_storage != on_shared) {
      // Nova's compute finds this out after accepting (InvalidSharedStorage, the evacuation in
      // error); ferry knows where the server's disks are and refuses before anything changes.
      throw Error(Errc::kBadRequest,
                  std::string("Invalid state of instance files on shared storage: the server's "
                              "disks are ") +
                      (on_shared ? "on shared storage or volumes" : "local to " + source->name) +
                      ", not as onSharedStorage says.");
    }
    if (!on_shared && !server.attributes.image_ref) {
      // Its disks died with the host and nothing can rebuild them: a guest on an empty disk
      // would only claim to be the server.
      throw Error(Errc::kConflict, "Cannot 'evacuate' instance " + server.uuid +
                                       ": its disks were local to " + source->name +
                                       " and it has no image to rebuild from.");
    }
    if (store::FindActiveMove(tx, server.uuid)) {
      InvalidState("evacuate", server.uuid, "task_state", "migrating");
    }
    // Nova's compare-and-set on task_state: of two racing requests exactly one wins.
    if (!store::CasTaskState(tx, server.uuid, std::nullopt, std::string("rebuilding"),
                             ctx_.clock.Now())) {
      InvalidState("evacuate", server.uuid, "task_state", "rebuilding");
    }
    e.uuid = NewUuid();
    e.instance_uuid = server.uuid;
    e.status = store::MigrationStatus::kAccepted;
    e.step = store::EvacuationStep::kScheduling;
    e.source_compute = source->name;
    e.source_node = server.node.value_or(source->name);
    e.user_id = r.user_id;
    e.project_id = r.project_id;
    e.idempotency_key = r.idempotency_key;
    e.drain_uuid = r.drain_uuid;
    e.requested_host = r.host;
    e.forced = r.force;
    // Nova keeps a stopped server stopped; 2.95 stops every evacuated server.
    e.power_on = !r.stay_stopped && server.vm_state != "stopped";
    e.flavor = store::FlavorOf(server);
    // The request as made (written once); never the admin password.
    e.request_params = nlohmann::json::object();
    if (r.host) e.request_params["host"] = *r.host;
    if (r.force) e.request_params["force"] = true;
    if (r.on_shared_storage) e.request_params["onSharedStorage"] = *r.on_shared_storage;
    if (r.stay_stopped) e.request_params["target_state"] = "stopped";
    store::MigrationEvent first{std::nullopt,        e.status,    "requested", std::nullopt,
                                "user " + r.user_id, r.request_id};
    store::InsertEvacuation(tx, e, first, engine_.owner(), ctx_.engine.lease);
    created = true;
  });
  if (created) engine_.Wake({"evacuation", e.uuid});
  return e;
}

}  // namespace ferry::controller::evacuation
