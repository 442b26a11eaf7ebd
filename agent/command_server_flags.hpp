#pragma once
// ferry-agent's flags for the limits of its command server (see common/http/server_options.hpp
// and agent/command_server.hpp for the defaults and where they come from).
#include <CLI/CLI.hpp>

#include "agent/command_server.hpp"

namespace ferry::agent {

void AddCommandServerFlags(CLI::App& app, CommandServerOptions& options);

}  // namespace ferry::agent
