#pragma once
// One live-migration command to one agent: moves::Call (controller/moves/agent_call.hpp, the
// outcomes and the fencing every kind shares) with a live migration's lease and spec.
#include <nlohmann/json.hpp>
#include <optional>
#include <stdexcept>
#include <string>

#include "api/wire/live_migration_messages.hpp"
#include "controller/agent_client/agent_client.hpp"
#include "controller/live_migration/context.hpp"
#include "controller/moves/agent_call.hpp"
#include "controller/store/live_migrations_store.hpp"
#include "controller/store/models.hpp"

namespace ferry::controller::live_migration {

using moves::CallResult;
using moves::NotOurs;

// Sends `kind` for migration m (fenced with m.lease_epoch) to `host`. step names the command in
// its id "<migration uuid>:<step>:<m.attempt>". Throws NotOurs (above).
CallResult Call(const Context& ctx, const store::LiveMigration& m, const store::Host& host,
                const std::string& kind, const std::string& step,
                const wire::LiveMigrationSpec& spec);

// The spec every command of migration `m` carries. With `source`, also the source host's CPU
// as its agent registered it (source_cpu: the destination's CPU check compares it).
wire::LiveMigrationSpec BuildSpec(const store::LiveMigration& m, const store::Server& server,
                                  const store::Host& dest, const store::Host* source = nullptr);

}  // namespace ferry::controller::live_migration
