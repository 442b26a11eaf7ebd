#pragma once
// One registrar per resource; each adds its noun and verbs to the ferryctl app and stores the
// chosen action in `slot` (see OnRun in command_support.hpp).
#include <CLI/CLI.hpp>

#include "api/client/commands/command_support.hpp"

namespace ferry::client {

void RegisterAggregateCommands(CLI::App& app, Action* slot);
void RegisterFlavorCommands(CLI::App& app, Action* slot);
void RegisterHypervisorCommands(CLI::App& app, Action* slot);
void RegisterServerCommands(CLI::App& app, Action* slot);
// `server migrate --live` and `server migration list|show|abort|force-complete`, under `server`.
void RegisterServerMigrationCommands(CLI::App& server_noun, Action* slot);
// `migration list`: /v2.1/os-migrations.
void RegisterMigrationCommands(CLI::App& app, Action* slot);
void RegisterServiceCommands(CLI::App& app, Action* slot);
void RegisterUnmanagedCommands(CLI::App& app, Action* slot);
void RegisterVersionCommand(CLI::App& app, Action* slot);

}  // namespace ferry::client
