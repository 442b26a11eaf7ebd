#pragma once
// Controller <-> agent messages (JSON over HTTP); tests/unit/wire_messages_test.cpp round-trips
// every one. Fields are only ever added, with defaults, so old agents keep working.
//
// Agent -> controller (X-Auth-Token: a token of role "agent"):
//   POST /agent/v1/register   RegisterRequest  -> RegisterResponse
//   POST /agent/v1/heartbeat  Heartbeat        -> HeartbeatResponse (404: register again)
// Controller -> agent (X-Auth-Token: the agent's command token):
//   POST /v1/commands         Command          -> CommandResult (HTTP 200 whether "done" or
//                                                 "failed"; 400 malformed, 409 id reused, 409
//                                                 with X-Ferry-Fence: stale for a stale fence)
//   GET  /v1/inventory                         -> Inventory
//   GET  /v1/health                            -> {"status":"ok"} (no auth)
#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

namespace ferry::wire {

// Nova's power_state integers (nova/compute/power_state.py).
enum class PowerState : int {
  kNoState = 0,
  kRunning = 1,
  kPaused = 3,
  kShutdown = 4,
  kCrashed = 6,
  kSuspended = 7
};

// One disk of a domain, as the hypervisor has it.
struct Disk {
  std::string target;          // guest device, e.g. "vda"
  std::string path;            // file or volume as the hypervisor sees it (nbd://..., rbd:pool/img)
  std::string kind;            // "local" (copied by block migration) | "shared" | "volume"
  int64_t capacity_bytes = 0;  // virtual size
  std::string format;          // "qcow2", "raw", ...
  std::string datastore;       // shared: the datastore holding it, as the host reports it
};

struct Domain {
  std::string uuid;
  std::string name;
  int vcpus = 0;
  int64_t memory_mb = 0;
  int64_t disk_gb = 0;
  PowerState power_state = PowerState::kNoState;
  // Empty when the driver reports no disks. {}: aggregate inits that stop before it stay
  // free of -Wmissing-field-initializers.
  std::vector<Disk> disks{};
};

struct Datastore {
  std::string name;  // shared: cluster-wide name; local: unique on this host only
  std::string kind;  // "shared" | "local"
  int64_t capacity_gb = 0;
  int64_t free_gb = 0;
};

struct CpuInfo {
  std::string arch;
  std::string vendor;
  std::string model;
  std::vector<std::string> features;
};

struct Inventory {
  std::vector<Domain> domains;
};

struct RegisterRequest {
  std::string host;
  std::string hypervisor_type;     // e.g. "QEMU", "ferry-sim"
  int64_t hypervisor_version = 0;  // Nova's integer form: major*1000000 + minor*1000 + micro
  bool simulated = false;          // true for the sim driver; shown wherever the host shows
  std::string cell = "cell1";
  std::string host_ip;            // control-plane address
  std::string migration_address;  // inbound live-migration address (split network)
  std::string command_url;        // where the controller sends commands
  int vcpus = 0;
  int64_t memory_mb = 0;
  int64_t local_gb = 0;
  CpuInfo cpu;
  std::vector<Datastore> datastores;
  std::vector<Domain> domains;
};

struct RegisterResponse {
  std::string host_uuid;
  int heartbeat_interval_s = 0;
  // Guests evacuated from this host: powered off at once, never started here on the agent's own
  // (evacuation_messages.hpp). Absent from an older controller: none.
  std::vector<std::string> fenced_domains{};
};

struct Heartbeat {
  std::string host;
  std::vector<Domain> domains;
};

struct HeartbeatResponse {
  int heartbeat_interval_s = 0;
  std::vector<std::string> fenced_domains{};  // as RegisterResponse's
};

// A fencing token: the live migration a command acts for and the epoch of the lease its
// sender holds (migrations.lease_epoch, +1 at every takeover by another controller). An agent
// remembers durably the highest epoch it has seen per migration and refuses a command with an
// older one: HTTP 409, header X-Ferry-Fence: stale, Nova body {"conflictingRequest": {"code":
// 409, "message": "stale lease epoch N < M for migration X"}}, nothing done. The sender stops
// acting for that migration (another controller drives it now). A command without a fence
// (create_domain, delete_domain, and everything an older controller sends) is not checked;
// agents older than the fence ignore it. args.migration_uuid must equal fence.migration_uuid.
struct LeaseFence {
  std::string migration_uuid;
  int64_t lease_epoch = 0;  // >= 0
};
inline constexpr const char* kFenceHeader = "X-Ferry-Fence";
inline constexpr const char* kFenceStale = "stale";

// Idempotent by id: the controller builds it from (consumer uuid, step, attempt); an agent that
// sees an id again answers with the result it already has instead of acting twice. The fence is
// not part of the command's identity: a new lease owner re-sending the same id with a newer
// epoch gets the first answer back.
struct Command {
  std::string id;
  std::string kind;     // "create_domain" | "delete_domain" | live_migration_messages.hpp
  nlohmann::json args;  // kind-specific: create_domain -> Domain fields; delete_domain -> {uuid}
  std::optional<LeaseFence> fence{};  // live-migration commands: {"fence": {...}}; absent: none
};

struct CommandResult {
  std::string id;
  std::string status;  // "done" | "failed"
  std::string error;   // set when failed
  std::optional<Domain> domain;
  nlohmann::json data;  // kind-specific result details (null when none)
};

void to_json(nlohmann::json& j, const PowerState& p);
void from_json(const nlohmann::json& j, PowerState& p);
void to_json(nlohmann::json& j, const Disk& d);
void from_json(const nlohmann::json& j, Disk& d);
void to_json(nlohmann::json& j, const Domain& d);
void from_json(const nlohmann::json& j, Domain& d);
void to_json(nlohmann::json& j, const Datastore& d);
void from_json(const nlohmann::json& j, Datastore& d);
void to_json(nlohmann::json& j, const CpuInfo& c);
void from_json(const nlohmann::json& j, CpuInfo& c);
void to_json(nlohmann::json& j, const Inventory& i);
void from_json(const nlohmann::json& j, Inventory& i);
void to_json(nlohmann::json& j, const RegisterRequest& r);
void from_json(const nlohmann::json& j, RegisterRequest& r);
void to_json(nlohmann::json& j, const RegisterResponse& r);
void from_json(const nlohmann::json& j, RegisterResponse& r);
void to_json(nlohmann::json& j, const Heartbeat& h);
void from_json(const nlohmann::json& j, Heartbeat& h);
void to_json(nlohmann::json& j, const HeartbeatResponse& h);
void from_json(const nlohmann::json& j, HeartbeatResponse& h);
void to_json(nlohmann::json& j, const LeaseFence& f);
void from_json(const nlohmann::json& j, LeaseFence& f);
void to_json(nlohmann::json& j, const Command& c);
void from_json(const nlohmann::json& j, Command& c);
void to_json(nlohmann::json& j, const CommandResult& c);
void from_json(const nlohmann::json& j, CommandResult& c);

}  // namespace ferry::wire
