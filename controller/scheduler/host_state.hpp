#pragma once
// What the scheduler knows about a host and what a request needs. Built by the conductor from
// the store; the scheduler itself never touches the database.
#include <cstdint>
#include <optional>
#include <set>
#include <string>

namespace ferry::controller::scheduler {

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
};

struct RequestSpec {
  int64_t vcpus = 0;
  int64_t memory_mb = 0;
  int64_t disk_gb = 0;
  std::optional<std::string> availability_zone;
  std::optional<std::string> requested_host;  // a hint validated by the filters, unlike forced
  std::set<std::string> ignore_hosts;         // e.g. the source, or hosts that already failed
};

}  // namespace ferry::controller::scheduler
