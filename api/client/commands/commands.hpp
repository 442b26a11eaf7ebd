#pragma once
// One registrar per resource; each adds its noun and verbs to the ferryctl app and stores the
// chosen action in `slot` (see OnRun in command_support.hpp).
#include <CLI/CLI.hpp>

#include "api/client/commands/command_support.hpp"

namespace ferry::client {

void RegisterAggregateCommands(CLI::App& app, Action* slot);
void RegisterFlavorCommands(CLI::App& app, Action* slot);
void RegisterHostCommands(CLI::App& app, Action* slot);  // host drain (host_drain.cpp)
void RegisterHypervisorCommands(CLI::App& app, Action* slot);
void RegisterServerCommands(CLI::App& app, Action* slot);
// `server migrate --live` and `server migration list|show|abort|force-complete`, under `server`.
void RegisterServerMigrationCommands(CLI::App& server_noun, Action* slot);
// `server resize SERVER FLAVOR` and `server resize confirm|revert SERVER`, under `server`.
void RegisterServerResizeCommands(CLI::App& server_noun, Action* slot);
// `server migrate` without --live: Nova's cold migrate (server_cold_move.cpp).
void ColdMigrate(Session& session, const std::string& server, const std::string& host, bool wait,
                 double poll_seconds);
// `migration list`: /v2.1/os-migrations.
void RegisterMigrationCommands(CLI::App& app, Action* slot);
void RegisterServiceCommands(CLI::App& app, Action* slot);
void RegisterUnmanagedCommands(CLI::App& app, Action* slot);
void RegisterVersionCommand(CLI::App& app, Action* slot);

}  // namespace ferry::client
