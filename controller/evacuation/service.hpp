#pragma once
// What the API asks of evacuation: start one (Nova's evacuate server action). It validates what
// Nova validates synchronously, with Nova's codes and texts, commits the request in one
// transaction and leaves the work to the move engine.
#include <optional>
#include <string>

#include "controller/evacuation/context.hpp"
#include "controller/moves/engine.hpp"
#include "controller/store/evacuations_store.hpp"

namespace ferry::controller::evacuation {

struct EvacuateRequest {
  std::string server_uuid;
  std::optional<std::string> host;
  bool force = false;                     // 2.29-2.67
  std::optional<bool> on_shared_storage;  // 2.1-2.13: the caller's word, checked
  bool admin_pass_given = false;          // the body named a password (never kept)
  bool stay_stopped = false;              // 2.95: the guest stays stopped on the destination
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

  // Returns the accepted evacuation (for a repeated Idempotency-Key, the one it created).
  store::Evacuation Request(const EvacuateRequest& r);

 private:
  const Context& ctx_;
  moves::Engine& engine_;
};

}  // namespace ferry::controller::evacuation
