#pragma once
// What the scheduler knows about a host and what a request needs. Built by the conductor from
// its in-memory host snapshot; the scheduler itself never touches the database.
#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>

namespace ferry::controller::scheduler {

struct CpuModel {
  std::string arch;
  std::string vendor;
  std::string model;
  std::set<std::string> features;
};

struct HostState {
  int64_t id = 0;
  std::string name;
  std::string cell;
  std::string hypervisor_type;
  int64_t hypervisor_version = 0;
  bool enabled = true;
  bool up = false;
  std::string availability_zone;
  // Capacity as placement sees it: (total - reserved) x allocation ratio, minus claims.
  int64_t free_vcpus = 0;
  int64_t free_memory_mb = 0;
  int64_t free_disk_gb = 0;
  CpuModel cpu;
  // Metadata of every aggregate the host is in; a key set by two aggregates has both values.
  std::map<std::string, std::set<std::string>> aggregate_metadata;
  std::set<std::string> shared_datastores;  // cluster-wide names of shared datastores it sees
  int inbound_migrations = 0;               // moves of any kind heading towards it
  int outbound_migrations = 0;              // moves of any kind under way away from it
};

struct RequestSpec {
  int64_t vcpus = 0;
  int64_t memory_mb = 0;
  int64_t disk_gb = 0;
  std::optional<std::string> availability_zone;
  std::optional<std::string> requested_host;  // a hint validated by the filters, unlike forced
  std::set<std::string> ignore_hosts;         // e.g. hosts whose pre-check already failed

  // Moves (all unset for a new server).
  std::optional<std::string> source_host;          // never a destination
  std::optional<std::string> cell;                 // destination must be in this cell
  std::optional<std::string> hypervisor_type;      // destination type must equal it ...
  int64_t min_hypervisor_version = 0;              // ... and its version be at least this
  std::optional<CpuModel> guest_cpu;               // destination CPU must offer all of it
  std::set<std::string> source_shared_datastores;  // preferred: a destination that sees them
  std::optional<std::string> required_datastore;   // the server's disks are there: must see it
  int max_inbound_migrations = 0;                  // 0 = no limit

  // Flavor extra specs "aggregate_instance_extra_specs:<key>" = "<v1>,<v2>" (Nova's filter).
  std::map<std::string, std::string> required_aggregate_metadata;
  // Hosts running other members of the server's anti-affinity group.
  std::set<std::string> anti_affinity_hosts;
};

}  // namespace ferry::controller::scheduler
