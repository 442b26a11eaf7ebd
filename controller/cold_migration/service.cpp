// The API's side of cold migration and resize: Nova's synchronous checks (compute/api.py resize,
// confirm_resize, revert_resize and the API handlers around them), in Nova's order and with its
// codes and texts, then one transaction that records the request; the move engine does the rest.
#include "controller/cold_migration/service.hpp"

#include "common/errors.hpp"
#include "common/secure_random.hpp"
#include "common/uuid.hpp"
#include "controller/cold_migration/states.hpp"
#include "controller/moves/nova_checks.hpp"
#include "controller/store/flavors_store.hpp"
#include "controller/store/hosts_store.hpp"
#include "controller/store/live_migrations_store.hpp"
#include "controller/store/moves_store.hpp"
#include "controller/store/servers_store.hpp"

namespace ferry::controller::cold_migration {
namespace {

// 32 bytes: the transfer token is a bearer credential for the disk stream between two agents;
// 256 bits cannot be guessed (common/secure_random.hpp).
constexpr size_t kTransferTokenBytes = 32;

using moves::InvalidState;
using moves::RequireUnlocked;
using moves::ServerOr404;

// Nova's raise_http_conflict_for_instance_invalid_state without attr/state.
[[noreturn]] void InvalidState(const std::string& action, const std::string& uuid) {
  throw Error(Errc::kConflict, "Instance " + uuid + " is in an invalid state for '" + action + "'");
}

// Nova's check_instance_state(vm_state=..., task_state=[None]): vm_state first, then task.
void RequireState(const store::Server& s, const std::string& action,
                  std::initializer_list<const char*> vm_states) {
  bool ok = false;
  for (const char* v : vm_states) ok = ok || s.vm_state == v;
  if (!ok) InvalidState(action, s.uuid, "vm_state", s.vm_state);
  if (s.task_state) InvalidState(action, s.uuid, "task_state", *s.task_state);
}

// Nova's check_instance_host(check_is_up=True): a host, and its compute service up.
store::Host RequireHostUp(store::Tx& tx, const store::Server& s) {
  std::optional<store::Host> host;
  if (s.host) host = store::FindHostNamed(tx, *s.host);
  if (!host) throw Error(Errc::kConflict, "Instance " + s.uuid + " is not ready");
  if (!host->IsUp()) throw Error(Errc::kConflict, "Service is unavailable at this time.");
  return *host;
}

// Nova reads flavors in the caller's context: a private flavor the project was not given is
// FlavorNotFound, as one that does not exist (flavors.get_flavor_by_flavor_id).
store::Flavor FlavorOr400(store::Tx& tx, const ColdMoveRequest& r) {
  const std::string& id = *r.flavor_ref;
  const Error not_found(Errc::kBadRequest, "Flavor " + id + " could not be found.");
  auto f = store::FindFlavor(tx, id);
  if (!f) throw not_found;
  if (!f->is_public && !r.admin) {
    const auto projects = store::ListFlavorProjects(tx, f->flavorid);
    if (std::find(projects.begin(), projects.end(), r.project_id) == projects.end())
      throw not_found;
  }
  return *f;
}

// What Nova's resize refuses about the new flavor, in its order. A server booted from a
// volume has no root disk of its own to resize.
void CheckNewFlavor(const store::Server& s, const store::Flavor& f) {
  const bool volume_backed = s.storage_kind == "volume";
  if (f.root_gb == 0 && s.root_gb != 0 && !volume_backed) {
    throw Error(Errc::kBadRequest,
                "Server disk was unable to be resized because: Resize to zero disk flavor is not "
                "allowed.");
  }
  if (f.id == s.flavor_id) {
    throw Error(Errc::kBadRequest, "When resizing, instances must change flavor!");
  }
  // Nova accepts this and its libvirt driver then fails the resize ("Unable to resize disk
  // down."); no ferry driver can shrink a disk either, so ferry refuses it up front, with the
  // driver's text, rather than accept a move that can only fail.
  if (f.root_gb < s.root_gb && !volume_backed) {
    throw Error(Errc::kBadRequest, "Resize error: Unable to resize disk down.");
  }
}

// Nova's _validate_host_for_cold_migrate: the server's own host first, then existence (in the
// server's cell: Nova looks it up there). Both are the request's 400 in migrate.
void CheckRequestedHost(store::Tx& tx, const store::Host& source, const std::string& name) {
  if (name == source.name) {
    throw Error(Errc::kBadRequest, "Cannot migrate to the host where the server exists.");
  }
  auto dest = store::FindHostNamed(tx, name);
  if (!dest || dest->cell != source.cell) {
    throw Error(Errc::kBadRequest, "Compute host " + name + " could not be found.");
  }
}

store::ColdMigration MigrationOfServer(store::Tx& tx, const std::string& server_uuid, int64_t id) {
  auto m = store::FindColdMigrationById(tx, id);
  if (!m || m->instance_uuid != server_uuid) {
    throw Error(Errc::kNotFound,
                "Migration " + std::to_string(id) + " not found for instance " + server_uuid);
  }
  return *m;
}

// Nova's confirm/revert find the server's migration in status finished
// (MigrationNotFoundByStatus), which its API words this way.
store::ColdMigration UnconfirmedOr400(store::Tx& tx, const std::string& server_uuid) {
  auto m = store::FindUnconfirmedColdMigration(tx, server_uuid);
  if (!m) throw Error(Errc::kBadRequest, "Instance has not been resized.");
  return *m;
}

std::string Type(const store::ColdMigration& m) { return std::string(store::ToString(m.type)); }

}  // namespace

store::ColdMigration Service::Request(const ColdMoveRequest& r) {
  const bool resize = r.flavor_ref.has_value();
  const std::string action = resize ? "resize" : "migrate";
  store::ColdMigration m;
  bool created = false;
  ctx_.db.Transact([&](store::Tx& tx) {
    if (r.idempotency_key) {
      if (auto existing = store::FindColdMigrationByIdempotencyKey(tx, *r.idempotency_key)) {
        if (existing->instance_uuid != r.server_uuid) {
          throw Error(Errc::kConflict, "Idempotency-Key " + *r.idempotency_key +
                                           " was already used for another request");
        }
        m = *existing;
        return;
      }
    }
    // Nova's decorators in their order: lock, state, host up; then resize()'s own checks.
    const auto server = ServerOr404(tx, r.server_uuid);
    RequireUnlocked(server, r.admin);
    RequireState(server, action, {"active", "stopped"});
    const auto source = RequireHostUp(tx, server);
    if (r.host) CheckRequestedHost(tx, source, *r.host);
    m.old_flavor = store::FlavorOf(server);
    m.new_flavor = m.old_flavor;
    if (resize) {
      const auto flavor = FlavorOr400(tx, r);
      CheckNewFlavor(server, flavor);
      m.new_flavor = store::SnapshotOf(flavor);
    }
    // A server moves once at a time. Its task state says so for every move ferry runs today;
    // this also covers a move whose server shows no task (one waiting for its confirm to run).
    if (store::FindActiveMove(tx, server.uuid)) InvalidState(action, server.uuid);
    // Nova's compare-and-set on task_state: of two racing requests exactly one wins.
    if (!store::CasTaskState(tx, server.uuid, std::nullopt, std::string("resize_prep"),
                             ctx_.clock.Now())) {
      InvalidState(action, server.uuid, "task_state", "resize_prep");
    }
    m.uuid = NewUuid();
    m.instance_uuid = server.uuid;
    m.type = resize ? store::ColdType::kResize : store::ColdType::kMigration;
    m.status = store::MigrationStatus::kAccepted;
    m.step = store::ColdStep::kScheduling;
    m.source_compute = source.name;
    m.source_node = server.node.value_or(source.name);
    m.user_id = r.user_id;
    m.project_id = r.project_id;
    m.idempotency_key = r.idempotency_key;
    m.drain_uuid = r.drain_uuid;
    m.requested_host = r.host;
    m.disk_config = r.disk_config;
    m.power_on = server.vm_state == "active";
    m.transfer_token = SecureRandomHex(kTransferTokenBytes);
    // The request as made (written once): what the API was asked, not what it resolved.
    m.request_params = nlohmann::json::object();
    if (resize) m.request_params["flavorRef"] = *r.flavor_ref;
    if (r.host) m.request_params["host"] = *r.host;
    if (r.disk_config) m.request_params["OS-DCF:diskConfig"] = *r.disk_config;
    store::MigrationEvent first{std::nullopt,        m.status,    "requested", std::nullopt,
                                "user " + r.user_id, r.request_id};
    store::InsertColdMigration(tx, m, first, engine_.owner(), ctx_.engine.lease);
    created = true;
  });
  if (created) engine_.Wake({Type(m), m.uuid});
  return m;
}

namespace {

// Nova records confirmResize and revertResize as instance actions of their own, under the
// request's id. What ran is the request's acceptance; the move's own action (migrate or resize)
// shows the confirm or revert running as its events.
void RecordDecision(store::Tx& tx, const DecisionRequest& r, const store::Server& server,
                    const char* action, const char* event, TimePoint now) {
  store::ServerActionRecord a;
  a.instance_uuid = server.uuid;
  a.request_id = r.request_id;
  a.action = action;
  a.event = event;
  a.host = server.host;
  a.user_id = r.user_id;
  a.project_id = r.project_id;
  store::RecordServerAction(tx, a, now);
}

}  // namespace

void Service::Confirm(const DecisionRequest& r) {
  const std::string& server_uuid = r.server_uuid;
  const bool admin = r.admin;
  std::string type, uuid;
  ctx_.db.Transact([&](store::Tx& tx) {
    // Nova's confirm_resize: lock, state (resized, no task), the finished migration, then the
    // source's compute service up (it deletes the source's copy).
    const auto server = ServerOr404(tx, server_uuid);
    RequireUnlocked(server, admin);
    RequireState(server, "confirmResize", {"resized"});
    const auto m = UnconfirmedOr400(tx, server_uuid);
    auto source = store::FindHostNamed(tx, m.source_compute);
    if (!source || !source->IsUp())
      throw Error(Errc::kConflict, "Service is unavailable at this time.");
    // Lost to another confirm or revert of the same move: it is no longer waiting (Nova's
    // migration would no longer be "finished").
    if (!store::RequestConfirm(tx, m.uuid, ctx_.clock.Now(), "requested"))
      throw Error(Errc::kBadRequest, "Instance has not been resized.");
    RecordDecision(tx, r, server, "confirmResize", "confirm_resize_requested", ctx_.clock.Now());
    type = Type(m);
    uuid = m.uuid;
  });
  engine_.Wake({type, uuid});
}

void Service::Revert(const DecisionRequest& r) {
  const std::string& server_uuid = r.server_uuid;
  const bool admin = r.admin;
  std::string type, uuid;
  ctx_.db.Transact([&](store::Tx& tx) {
    // Nova's revert_resize: lock, state (resized, no task), the finished migration, then the
    // task state resize_reverting (compare-and-set) with the migration's change, at once: GET
    // shows REVERT_RESIZE as soon as the request is answered.
    const auto server = ServerOr404(tx, server_uuid);
    RequireUnlocked(server, admin);
    RequireState(server, "revertResize", {"resized"});
    const auto m = UnconfirmedOr400(tx, server_uuid);
    // The source restarts the guest from its copy: like confirm, refused while its host is
    // down (the engine checks its copy again before the destination's is removed).
    auto source = store::FindHostNamed(tx, m.source_compute);
    if (!source || !source->IsUp())
      throw Error(Errc::kConflict, "Service is unavailable at this time.");
    if (!store::CasTaskState(tx, server.uuid, std::nullopt, std::string("resize_reverting"),
                             ctx_.clock.Now())) {
      InvalidState("revertResize", server.uuid, "task_state", "resize_reverting");
    }
    if (!store::RequestRevert(tx, m.uuid, ctx_.clock.Now()))
      throw Error(Errc::kBadRequest, "Instance has not been resized.");
    RecordDecision(tx, r, server, "revertResize", "revert_resize_requested", ctx_.clock.Now());
    type = Type(m);
    uuid = m.uuid;
  });
  engine_.Wake({type, uuid});
}

void Service::Abort(const std::string& server_uuid, int64_t migration_id, bool admin) {
  std::string type, uuid;
  ctx_.db.Transact([&](store::Tx& tx) {
    const auto server = ServerOr404(tx, server_uuid);
    RequireUnlocked(server, admin);
    const auto m = MigrationOfServer(tx, server_uuid, migration_id);
    // Before pre-migrating ends nothing has touched a host's disks or the guest: the move can
    // end cleanly. Later, the guest is off or copying and only the engine's rollback applies.
    const bool abortable = AbortableFrom(m.status);
    // Nova's InvalidMigrationState; an abort asked already is not asked again.
    if (!abortable || !store::RequestColdAbort(tx, m.uuid, ctx_.clock.Now())) {
      throw Error(Errc::kBadRequest,
                  "Migration " + std::to_string(m.id) + " state of instance " + m.instance_uuid +
                      " is " + std::string(store::ToString(m.status)) + ". Cannot abort " +
                      Type(m) + " while the migration is in this state.");
    }
    type = Type(m);
    uuid = m.uuid;
  });
  engine_.Wake({type, uuid});
}

}  // namespace ferry::controller::cold_migration
