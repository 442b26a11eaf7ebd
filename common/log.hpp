#pragma once
// Structured logging: one line per event, key=value pairs after the message, so logs grep and
// parse. Format: "<ts> <level> <component> <message> key=value ...".
#include <spdlog/spdlog.h>

#include <string>

namespace ferry {

// level: trace|debug|info|warn|error; file: empty = stderr.
void InitLogging(const std::string& component, const std::string& level, const std::string& file);

}  // namespace ferry
