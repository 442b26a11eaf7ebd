#pragma once
// Nova's os-instance-actions, read from ferry's migration audit trail: every migration of a
// server is one action (its request is the first migration_events row) and every status
// transition of that migration is one of the action's events. What the controller observed on its
// own (a copy running on another host, a guest missing, a power state synchronised: see
// inventory_store) and a server's create and delete (servers_store RecordServerAction) add one
// action of one event each. Nothing is written here; the conductor
// appends the events in the same transaction as each transition.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/clock.hpp"

namespace ferry::controller::store {

class Tx;

struct InstanceAction {
  int64_t migration_id = 0;  // negative: an observation (-server_observations.id)
  std::string instance_uuid;
  std::string migration_type;  // live-migration | migration | resize | evacuation
  std::string status;          // the migration's current status
  std::string request_id;      // of the first event (the API request), else "req-<migration uuid>"
  std::optional<std::string> user_id;  // the first event's actor (the requesting user)
  std::optional<std::string> project_id;
  std::optional<std::string> source_compute;
  std::optional<std::string> dest_compute;
  TimePoint start_time;  // the first event
  TimePoint updated_at;  // the latest event
};

struct InstanceActionEvent {
  std::string event;
  std::optional<std::string> from_status;
  std::string to_status;
  std::optional<std::string> reason;
  std::string actor;
  TimePoint at;
};

struct InstanceActionFilter {
  std::string instance_uuid;                // well-formed
  std::optional<TimePoint> changes_since;   // updated_at >= this
  std::optional<TimePoint> changes_before;  // updated_at <= this
  std::optional<std::string> marker;        // a request id of this instance: actions after it
  int64_t limit = 1000;                     // Nova's [api] max_limit default
};

// Newest first (start_time desc, id desc), as Nova lists instance actions.
std::vector<InstanceAction> ListInstanceActions(Tx& tx, const InstanceActionFilter& filter);
// The newest action of this instance with this request id.
std::optional<InstanceAction> FindInstanceAction(Tx& tx, const std::string& instance_uuid,
                                                 const std::string& request_id);
// Newest first, as Nova lists an action's events.
std::vector<InstanceActionEvent> ListInstanceActionEvents(Tx& tx, int64_t migration_id);

// Whether any migration record names this instance, and the project of its newest one: servers
// are deleted outright, so this is how the API finds a deleted server's owner (Nova 2.21+).
struct MigratedInstance {
  std::optional<std::string> project_id;
};
std::optional<MigratedInstance> FindMigratedInstance(Tx& tx, const std::string& instance_uuid);

}  // namespace ferry::controller::store
