#pragma once
// Structured logging: one line per event, key=value pairs after the message, so logs grep and
// parse. Format: "<ts> <level> <component> <message> key=value ...".
#include <spdlog/spdlog.h>

#include <string>

namespace ferry {

// level: trace|debug|info|warn|error; file: empty = stderr. journal: to systemd-journald's
// native socket instead (common/journal_sink.hpp: each key=value a field of its own), for the
// systemd units in deploy/systemd/; file is then ignored.
void InitLogging(const std::string& component, const std::string& level, const std::string& file,
                 bool journal = false);

}  // namespace ferry
