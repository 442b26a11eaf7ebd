#pragma once
// What the API asks of cold migration and resize: start one (Nova's migrate and resize), confirm
// or revert one waiting in VERIFY_RESIZE, abort one that has not started (ferry's extension).
// Each validates what Nova validates synchronously, with Nova's codes and texts, commits the
// request in one transaction and leaves the work to the move engine.
#include <optional>
#include <string>

#include "controller/cold_migration/context.hpp"
#include "controller/moves/engine.hpp"
#include "controller/store/cold_migrations_store.hpp"

namespace ferry::controller::cold_migration {

struct ColdMoveRequest {
  std::string server_uuid;
  // resize: the new flavor as the request named it (Nova's flavorRef: a flavor id, or a link
  // ending in one). nullopt: a cold migration (same flavor).
  std::optional<std::string> flavor_ref;
  std::optional<std::string> host;         // migrate, 2.56+
  std::optional<std::string> disk_config;  // resize's OS-DCF:diskConfig: "AUTO" | "MANUAL"
  bool admin = false;                      // Nova's check_instance_lock binds only non-admins
  std::string user_id;
  std::string project_id;
  std::string request_id;
  std::optional<std::string> idempotency_key;
  // The drain that asks, recorded with the move as it is created (the fair queue's requester).
  std::optional<std::string> drain_uuid;
};

// confirmResize / revertResize: who asks, recorded as the instance action (Nova's).
struct DecisionRequest {
  std::string server_uuid;
  bool admin = false;
  std::string user_id;
  std::string project_id;
  std::string request_id;
};

class Service {
 public:
  Service(const Context& ctx, moves::Engine& engine) : ctx_(ctx), engine_(engine) {}

  // Returns the accepted move (for a repeated Idempotency-Key, the one it created).
  store::ColdMigration Request(const ColdMoveRequest& r);
  // confirmResize (204) / revertResize (202): the server's move waiting in VERIFY_RESIZE.
  // Each records its instance action in the transaction that records the request.
  void Confirm(const DecisionRequest& r);
  void Revert(const DecisionRequest& r);
  // DELETE /servers/{id}/migrations/{mid} for a cold move not yet started (accepted, queued,
  // pre-migrating): ferry's extension; the guest was never touched.
  void Abort(const std::string& server_uuid, int64_t migration_id, bool admin);

 private:
  const Context& ctx_;
  moves::Engine& engine_;
};

}  // namespace ferry::controller::cold_migration
