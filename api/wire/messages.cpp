#include "api/wire/messages.hpp"

#include "api/wire/json_numbers.hpp"

namespace ferry::wire {

using nlohmann::json;

void to_json(json& j, const PowerState& p) { j = static_cast<int>(p); }
void from_json(const json& j, PowerState& p) {
  p = static_cast<PowerState>(IntFrom<int>(j, "power_state"));
}

void to_json(json& j, const Disk& d) {
  j = json{{"target", d.target},
           {"path", d.path},
           {"kind", d.kind},
           {"datastore", d.datastore},
           {"capacity_bytes", d.capacity_bytes},
           {"format", d.format}};
}
void from_json(const json& j, Disk& d) {
  j.at("target").get_to(d.target);
  d.path = j.value("path", "");
  d.kind = j.value("kind", "local");
  d.datastore = j.value("datastore", "");  // absent from agents older than datastores
  d.capacity_bytes = IntOr<int64_t>(j, "capacity_bytes", 0);
  d.format = j.value("format", "");
}

void to_json(json& j, const Domain& d) {
  j = json{{"uuid", d.uuid},           {"name", d.name},       {"vcpus", d.vcpus},
           {"memory_mb", d.memory_mb}, {"disk_gb", d.disk_gb}, {"power_state", d.power_state},
           {"disks", d.disks}};
}
void from_json(const json& j, Domain& d) {
  j.at("uuid").get_to(d.uuid);
  d.name = j.value("name", "");
  d.vcpus = IntOr<int>(j, "vcpus", 0);
  d.memory_mb = IntOr<int64_t>(j, "memory_mb", 0);
  d.disk_gb = IntOr<int64_t>(j, "disk_gb", 0);
  d.power_state = static_cast<PowerState>(IntOr<int>(j, "power_state", 0));
  d.disks = j.value("disks", std::vector<Disk>{});  // absent from agents older than disks
}

void to_json(json& j, const Datastore& d) {
  j = json{
      {"name", d.name}, {"kind", d.kind}, {"capacity_gb", d.capacity_gb}, {"free_gb", d.free_gb}};
}
void from_json(const json& j, Datastore& d) {
  j.at("name").get_to(d.name);
  j.at("kind").get_to(d.kind);
  d.capacity_gb = IntOr<int64_t>(j, "capacity_gb", 0);
  d.free_gb = IntOr<int64_t>(j, "free_gb", 0);
}

void to_json(json& j, const CpuInfo& c) {
  j = json{{"arch", c.arch}, {"vendor", c.vendor}, {"model", c.model}, {"features", c.features}};
}
void from_json(const json& j, CpuInfo& c) {
  c.arch = j.value("arch", "");
  c.vendor = j.value("vendor", "");
  c.model = j.value("model", "");
  c.features = j.value("features", std::vector<std::string>{});
}

void to_json(json& j, const Inventory& i) { j = json{{"domains", i.domains}}; }
void from_json(const json& j, Inventory& i) { j.at("domains").get_to(i.domains); }

void to_json(json& j, const RegisterRequest& r) {
  j = json{{"host", r.host},
           {"hypervisor_type", r.hypervisor_type},
           {"hypervisor_version", r.hypervisor_version},
           {"simulated", r.simulated},
           {"cell", r.cell},
           {"host_ip", r.host_ip},
           {"migration_address", r.migration_address},
           {"command_url", r.command_url},
           {"vcpus", r.vcpus},
           {"memory_mb", r.memory_mb},
           {"local_gb", r.local_gb},
           {"cpu", r.cpu},
           {"datastores", r.datastores},
           {"domains", r.domains}};
}
void from_json(const json& j, RegisterRequest& r) {
  j.at("host").get_to(r.host);
  j.at("hypervisor_type").get_to(r.hypervisor_type);
  r.hypervisor_version = IntFrom<int64_t>(j.at("hypervisor_version"), "hypervisor_version");
  r.simulated = j.value("simulated", false);
  r.cell = j.value("cell", "cell1");
  r.host_ip = j.value("host_ip", "");
  r.migration_address = j.value("migration_address", "");
  j.at("command_url").get_to(r.command_url);
  r.vcpus = IntFrom<int>(j.at("vcpus"), "vcpus");
  r.memory_mb = IntFrom<int64_t>(j.at("memory_mb"), "memory_mb");
  r.local_gb = IntFrom<int64_t>(j.at("local_gb"), "local_gb");
  if (j.contains("cpu")) j.at("cpu").get_to(r.cpu);
  r.datastores = j.value("datastores", std::vector<Datastore>{});
  r.domains = j.value("domains", std::vector<Domain>{});
}

void to_json(json& j, const RegisterResponse& r) {
  j = json{{"host_uuid", r.host_uuid},
           {"heartbeat_interval_s", r.heartbeat_interval_s},
           {"fenced_domains", r.fenced_domains}};
}
void from_json(const json& j, RegisterResponse& r) {
  j.at("host_uuid").get_to(r.host_uuid);
  r.heartbeat_interval_s = IntFrom<int>(j.at("heartbeat_interval_s"), "heartbeat_interval_s");
  r.fenced_domains = j.value("fenced_domains", std::vector<std::string>{});
}

void to_json(json& j, const Heartbeat& h) { j = json{{"host", h.host}, {"domains", h.domains}}; }
void from_json(const json& j, Heartbeat& h) {
  j.at("host").get_to(h.host);
  j.at("domains").get_to(h.domains);
}

void to_json(json& j, const HeartbeatResponse& h) {
  j = json{{"heartbeat_interval_s", h.heartbeat_interval_s}, {"fenced_domains", h.fenced_domains}};
}
void from_json(const json& j, HeartbeatResponse& h) {
  h.heartbeat_interval_s = IntFrom<int>(j.at("heartbeat_interval_s"), "heartbeat_interval_s");
  h.fenced_domains = j.value("fenced_domains", std::vector<std::string>{});
}

void to_json(json& j, const LeaseFence& f) {
  j = json{{"migration_uuid", f.migration_uuid}, {"lease_epoch", f.lease_epoch}};
}
void from_json(const json& j, LeaseFence& f) {
  j.at("migration_uuid").get_to(f.migration_uuid);
  f.lease_epoch = IntFrom<int64_t>(j.at("lease_epoch"), "lease_epoch");
}

void to_json(json& j, const Command& c) {
  j = json{{"id", c.id}, {"kind", c.kind}, {"args", c.args}};
  if (c.fence) j["fence"] = *c.fence;
}
void from_json(const json& j, Command& c) {
  j.at("id").get_to(c.id);
  j.at("kind").get_to(c.kind);
  c.args = j.value("args", json::object());
  if (j.contains("fence") && !j.at("fence").is_null()) c.fence = j.at("fence").get<LeaseFence>();
}

void to_json(json& j, const CommandResult& c) {
  j = json{{"id", c.id}, {"status", c.status}, {"error", c.error}};
  if (c.domain) j["domain"] = *c.domain;
  if (!c.data.is_null()) j["data"] = c.data;
}
void from_json(const json& j, CommandResult& c) {
  j.at("id").get_to(c.id);
  j.at("status").get_to(c.status);
  c.error = j.value("error", "");
  if (j.contains("domain") && !j.at("domain").is_null()) c.domain = j.at("domain").get<Domain>();
  c.data = j.value("data", json());
}

}  // namespace ferry::wire
