#pragma once
// What the API asks of live migration: start one, abort one, force one to complete. Each
// validates exactly what Nova validates synchronously (404 / 409 / 400 with Nova's messages),
// commits the request, and leaves the work to the engine. Requests are facts recorded in
// PostgreSQL, so whichever controller holds the migration's lease acts on them.
#include <atomic>
#include <optional>
#include <string>

#include "controller/live_migration/kind.hpp"
#include "controller/moves/engine.hpp"
#include "controller/store/live_migrations_store.hpp"

namespace ferry::controller::live_migration {

struct LiveMigrateRequest {
  std::string server_uuid;
  std::optional<std::string> host;
  std::string block_migration = "auto";  // "auto" | "true" | "false"
  bool force = false;
  // Nova before 2.34 ran the pre-checks inside the request: a failure is the request's 400.
  bool synchronous_prechecks = false;
  // Nova's check_instance_lock binds only non-admins: an admin acts on a locked server.
  bool admin = false;
  std::string user_id;
  std::string project_id;
  std::string request_id;
  std::optional<std::string> idempotency_key;
  // The drain that asks, recorded with the move as it is created (the fair queue's requester).
  std::optional<std::string> drain_uuid;
};

class Service {
 public:
  Service(const Context& ctx, moves::Engine& engine) : ctx_(ctx), engine_(engine) {}

  // Returns the accepted migration (or, for a repeated Idempotency-Key, the one it created).
  store::LiveMigration Request(const LiveMigrateRequest& r);
  // DELETE /servers/{id}/migrations/{mid}. allow_before_running: microversion >= 2.65.
  // admin: the caller is an admin, whom a server's lock does not bind (Nova).
  void Abort(const std::string& server_uuid, int64_t migration_id, bool allow_before_running,
             bool admin);
  // POST /servers/{id}/migrations/{mid}/action {"force_complete": null}.
  void ForceComplete(const std::string& server_uuid, int64_t migration_id, bool admin);

 private:
  const Context& ctx_;
  moves::Engine& engine_;
  // Pre-2.34 requests waiting for their pre-checks, each holding an API worker: at most
  // kMaxSynchronousWaits at once; beyond that a request is answered as from 2.34 on (202, the
  // pre-checks' verdict on the migration), so old clients cannot starve the API.
  static constexpr int kMaxSynchronousWaits = 4;
  std::atomic<int> synchronous_waits_{0};
};

}  // namespace ferry::controller::live_migration
