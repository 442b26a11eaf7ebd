// The controller <-> agent messages (api/wire), decoded as their readers decode them:
// ParseBoundedJson (depth 64), then get<T>() for each message type someone reads from the network:
//   controller: RegisterRequest, Heartbeat (agent_api.cpp), CommandResult, Inventory,
//               LiveMigrationJob (agent_client.cpp), MigrationProgressBatch (its from_json)
//   agent:      Command, Domain, LiveMigrationSpec (commands.cpp), RegisterResponse,
//               HeartbeatResponse (reporter.cpp)
// Every input is tried as every type. A refusal is a json::exception (the API answers 400, the
// agent client reports a bad answer). Findings: a sanitizer report, any other exception, or a
// decoded message that does not survive to_json -> from_json -> to_json unchanged (what
// tests/unit/wire_messages_test.cpp promises for its examples).
#include <cstdint>
#include <string>

#include "api/wire/live_migration_messages.hpp"
#include "api/wire/messages.hpp"
#include "common/json_limits.hpp"
#include "tests/fuzz/fuzz_support.hpp"

namespace {

using ferry::fuzz::Finding;
using nlohmann::json;
namespace wire = ferry::wire;

template <typename T>
void TryDecode(const json& j, const char* type) {
  T first;
  try {
    first = j.get<T>();
  } catch (const json::exception&) {
    return;  // refused
  }
  const json encoded = first;
  json again;
  try {
    again = encoded.get<T>();
  } catch (const json::exception& e) {
    Finding(std::string(type) + ": its own encoding is refused: " + e.what());
  }
  if (again != encoded) Finding(std::string(type) + ": changes on a second round trip");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  json j;
  try {
    j = ferry::ParseBoundedJson(ferry::fuzz::AsText(data, size));
  } catch (const json::exception&) {  // malformed, or a number overflowing a double
    return 0;
  }
  try {
    TryDecode<wire::RegisterRequest>(j, "RegisterRequest");
    TryDecode<wire::RegisterResponse>(j, "RegisterResponse");
    TryDecode<wire::Heartbeat>(j, "Heartbeat");
    TryDecode<wire::HeartbeatResponse>(j, "HeartbeatResponse");
    TryDecode<wire::Command>(j, "Command");
    TryDecode<wire::CommandResult>(j, "CommandResult");
    TryDecode<wire::Inventory>(j, "Inventory");
    TryDecode<wire::Domain>(j, "Domain");
    TryDecode<wire::LiveMigrationSpec>(j, "LiveMigrationSpec");
    TryDecode<wire::LiveMigrationJob>(j, "LiveMigrationJob");
    TryDecode<wire::MigrationProgressBatch>(j, "MigrationProgressBatch");
  } catch (const std::exception& e) {
    Finding(std::string("unexpected exception: ") + e.what());
  }
  return 0;
}
