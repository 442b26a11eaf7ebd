#pragma once
// Plain rows as the rest of the controller sees them. No libpqxx here: only store/*.cpp
// includes <pqxx/...>, so a layer that reaches for SQL fails to compile.
#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "common/clock.hpp"

namespace ferry::controller::store {

struct Host {
  int64_t id = 0;
  std::string service_uuid;
  std::string node_uuid;
  std::string name;
  std::string cell;
  std::string hypervisor_type;
  int64_t hypervisor_version = 0;
  bool simulated = false;
  std::string host_ip;
  std::string migration_address;
  std::string agent_url;
  std::string state;  // "up" | "down"
  std::optional<TimePoint> last_heartbeat_at;
  bool disabled = false;
  std::optional<std::string> disabled_reason;
  bool forced_down = false;
  int vcpus = 0;
  int64_t memory_mb = 0;
  int64_t local_gb = 0;
  double cpu_allocation_ratio = 4.0;
  double ram_allocation_ratio = 1.0;
  double disk_allocation_ratio = 1.0;
  int64_t reserved_host_memory_mb = 0;
  nlohmann::json cpu_info;
  TimePoint updated_at;
  // Derived at read time.
  std::string availability_zone;  // from aggregate metadata, else the default zone
  int64_t vcpus_used = 0;
  int64_t memory_mb_used = 0;
  int64_t local_gb_used = 0;
  int64_t running_vms = 0;

  bool IsUp() const { return state == "up" && !forced_down; }
};

struct HostRegistration {
  std::string name;
  std::string cell;
  std::string hypervisor_type;
  int64_t hypervisor_version = 0;
  bool simulated = false;
  std::string host_ip;
  std::string migration_address;
  std::string agent_url;
  int vcpus = 0;
  int64_t memory_mb = 0;
  int64_t local_gb = 0;
  nlohmann::json cpu_info;
  struct DatastoreLink {
    std::string name;
    std::string kind;
    int64_t capacity_gb = 0;
    int64_t free_gb = 0;
  };
  std::vector<DatastoreLink> datastores;
};

struct Aggregate {
  int64_t id = 0;
  std::string uuid;
  std::string name;
  std::optional<std::string> availability_zone;
  std::vector<std::string> hosts;
  std::map<std::string, std::string> metadata;
  TimePoint created_at;
  std::optional<TimePoint> updated_at;
};

struct Flavor {
  int64_t id = 0;
  std::string flavorid;
  std::string name;
  int vcpus = 0;
  int64_t memory_mb = 0;
  int64_t root_gb = 0;
  int64_t ephemeral_gb = 0;
  int64_t swap_mb = 0;
  double rxtx_factor = 1.0;
  bool is_public = true;
  std::optional<std::string> description;
  nlohmann::json extra_specs = nlohmann::json::object();
};

// What a user sets on a server besides its name, on create and with PUT /servers/{id}.
// nullopt: never set (the API shows "" for an address, null for the description, the name for
// the hostname).
struct ServerAttributes {
  std::optional<std::string> access_ip_v4;
  std::optional<std::string> access_ip_v6;
  std::optional<std::string> description;  // 2.19
  std::optional<std::string> hostname;     // 2.90
  std::optional<std::string> image_ref;    // the create's imageRef; no update changes it
};

// A host's compute service as Nova's host_status derives from it (2.16).
struct HostState {
  std::string state;  // up | down, by heartbeats
  bool disabled = false;
  bool forced_down = false;
};

struct Server {
  int64_t id = 0;
  std::string uuid;
  std::string name;
  std::optional<int64_t> host_id;
  std::optional<std::string> host;      // hosts.name
  std::optional<HostState> host_state;  // its host's, read with it
  std::optional<std::string> node;
  int64_t flavor_id = 0;
  std::string flavorid;
  std::string flavor_name;
  int vcpus = 0;
  int64_t memory_mb = 0;
  int64_t root_gb = 0;
  std::string vm_state;
  std::optional<std::string> task_state;
  int power_state = 0;
  std::string storage_kind;
  // storage_kind "shared": the shared datastore its disks are on, when known (the agent names
  // it); a move goes only to hosts that see it.
  std::optional<std::string> datastore;
  nlohmann::json volumes = nlohmann::json::array();
  std::optional<std::string> availability_zone;
  std::string user_id;
  std::string project_id;
  bool locked = false;
  std::optional<std::string> locked_reason;
  int progress = 0;
  std::optional<nlohmann::json> fault;
  nlohmann::json metadata = nlohmann::json::object();
  TimePoint created_at;
  TimePoint updated_at;
  std::optional<TimePoint> launched_at;
  ServerAttributes attributes;
  // The server group it is in; read only when asked (ServerFilter::with_group).
  std::optional<std::string> group_uuid;
};

struct UnmanagedDomain {
  std::string host;
  int64_t host_id = 0;
  std::string uuid;
  std::string name;
  int vcpus = 0;
  int64_t memory_mb = 0;
  int64_t disk_gb = 0;
  int power_state = 0;
  TimePoint first_seen_at;
  TimePoint last_seen_at;
  nlohmann::json disks = nlohmann::json::array();  // wire::Disk objects as reported
};

// Nova's default_availability_zone: hosts in no zone-bearing aggregate are in "nova".
inline constexpr const char* kDefaultAvailabilityZone = "nova";

}  // namespace ferry::controller::store
