#include "controller/api/server_view.hpp"

#include <algorithm>
#include <map>

#include "common/time_format.hpp"

namespace ferry::controller::api {
namespace {

using nlohmann::json;

// task_state -> API status while a server is active (Nova's _STATE_MAP, the parts ferry uses).
const std::map<std::string, std::string>& ActiveTaskStatus() {
  static const std::map<std::string, std::string> m = {
      {"migrating", "MIGRATING"},      {"resize_prep", "RESIZE"},
      {"resize_migrating", "RESIZE"},  {"resize_migrated", "RESIZE"},
      {"resize_finish", "RESIZE"},     {"rebuilding", "REBUILD"},
      {"rebuild_spawning", "REBUILD"}, {"rebuild_block_device_mapping", "REBUILD"}};
  return m;
}

const std::map<std::string, std::string>& VmStateStatus() {
  static const std::map<std::string, std::string> m = {{"building", "BUILD"},
                                                       {"active", "ACTIVE"},
                                                       {"paused", "PAUSED"},
                                                       {"suspended", "SUSPENDED"},
                                                       {"stopped", "SHUTOFF"},
                                                       {"rescued", "RESCUE"},
                                                       {"resized", "VERIFY_RESIZE"},
                                                       {"shelved", "SHELVED"},
                                                       {"shelved_offloaded", "SHELVED_OFFLOADED"},
                                                       {"soft-delete", "SOFT_DELETED"},
                                                       {"deleted", "DELETED"},
                                                       {"error", "ERROR"}};
  return m;
}

json Links(const Request& req, const std::string& uuid) {
  return {{{"href", req.base_url + "/v2.1/servers/" + uuid}, {"rel", "self"}},
          {{"href", req.base_url + "/servers/" + uuid}, {"rel", "bookmark"}}};
}

// created / updated: utils.isotime, "2026-01-01T00:00:00Z" (seconds, UTC).
std::string IsoTime(TimePoint t) { return FormatNovaTime(t).substr(0, 19) + "Z"; }

// OS-SRV-USG:launched_at: Python's str() of a naive datetime, "2026-01-01 00:00:00.123456"
// (without the fraction when it is zero).
json LaunchedAt(const std::optional<TimePoint>& t) {
  if (!t) return nullptr;
  std::string text = FormatNovaTime(*t);
  text[10] = ' ';
  if (text.size() > 20 && text.substr(20) == "000000") text.resize(19);
  return text;
}

// A fault as stored (its "created" in FormatNovaTime) with "created" as Nova's isotime.
json FaultView(json fault) {
  auto created = fault.find("created");
  if (created != fault.end() && created->is_string() && created->get<std::string>().size() >= 19) {
    *created = created->get<std::string>().substr(0, 19) + "Z";
  }
  return fault;
}

// Nova's image reference of a server booted from an image; "" for one booted from a volume.
json ImageView(const Request& req, const store::Server& s) {
  if (!s.attributes.image_ref) return "";
  const std::string& id = *s.attributes.image_ref;
  return {{"id", id}, {"links", {{{"href", req.base_url + "/images/" + id}, {"rel", "bookmark"}}}}};
}

json NullOr(const std::optional<std::string>& v) { return v ? json(*v) : json(nullptr); }

// Nova's _progress_statuses: the statuses whose body carries "progress".
bool ShowsProgress(const std::string& status) {
  return status == "ACTIVE" || status == "BUILD" || status == "REBUILD" || status == "RESIZE" ||
         status == "VERIFY_RESIZE" || status == "MIGRATING";
}

// The attributes an admin sees from 2.3 (OS-EXT-SRV-ATTR, extended_server_attributes). ferry
// boots no kernel or ramdisk image and takes no user data: Nova shows those as empty.
void AddExtendedAttributes(const Request& req, const store::Server& s, json& v) {
  v["OS-EXT-SRV-ATTR:host"] = s.host ? json(*s.host) : json(nullptr);
  v["OS-EXT-SRV-ATTR:hypervisor_hostname"] = s.node ? json(*s.node) : json(nullptr);
  v["OS-EXT-SRV-ATTR:instance_name"] = "instance-" + std::to_string(s.id);
  if (!req.mv.AtLeast(3)) return;
  v["OS-EXT-SRV-ATTR:hostname"] = s.attributes.hostname.value_or(s.name);
  v["OS-EXT-SRV-ATTR:kernel_id"] = "";
  v["OS-EXT-SRV-ATTR:launch_index"] = 0;
  v["OS-EXT-SRV-ATTR:ramdisk_id"] = "";
  v["OS-EXT-SRV-ATTR:reservation_id"] = "r-" + s.uuid.substr(0, 8);
  v["OS-EXT-SRV-ATTR:root_device_name"] = nullptr;
  v["OS-EXT-SRV-ATTR:user_data"] = nullptr;
}

}  // namespace

std::string ServerStatus(const store::Server& s) {
  if (s.vm_state == "active" && s.task_state) {
    auto it = ActiveTaskStatus().find(*s.task_state);
    if (it != ActiveTaskStatus().end()) return it->second;
  }
  if (s.vm_state == "resized" && s.task_state == "resize_reverting") return "REVERT_RESIZE";
  auto it = VmStateStatus().find(s.vm_state);
  return it == VmStateStatus().end() ? "UNKNOWN" : it->second;
}

std::optional<StatusFilter> FilterForStatus(const std::string& raw) {
  std::string status;
  for (char c : raw)
    status.push_back(static_cast<char>(std::toupper(static_cast<unsigned char>(c))));
  StatusFilter f;
  // The one status ServerStatus derives from a task of a vm_state other than active.
  if (status == "REVERT_RESIZE") {
    f.vm_states = {"resized"};
    f.task_states = std::vector<std::string>{"resize_reverting"};
    return f;
  }
  for (const auto& [vm_state, api] : VmStateStatus()) {
    if (api == status) f.vm_states.push_back(vm_state);
  }
  if (!f.vm_states.empty()) return f;
  std::vector<std::string> tasks;
  for (const auto& [task, api] : ActiveTaskStatus()) {
    if (api == status) tasks.push_back(task);
  }
  if (tasks.empty()) return std::nullopt;
  f.vm_states = {"active"};
  f.task_states = tasks;
  return f;
}

json ServerSummary(const Request& req, const store::Server& s) {
  return {{"id", s.uuid}, {"name", s.name}, {"links", Links(req, s.uuid)}};
}

json ServerDetail(const Request& req, const store::Server& s) {
  json flavor;
  if (req.mv.AtLeast(47)) {
    flavor = {{"vcpus", s.vcpus}, {"ram", s.memory_mb}, {"disk", s.root_gb},
              {"ephemeral", 0},   {"swap", 0},          {"original_name", s.flavor_name}};
  } else {
    flavor = {
        {"id", s.flavorid},
        {"links", {{{"href", req.base_url + "/flavors/" + s.flavorid}, {"rel", "bookmark"}}}}};
  }
  json volumes = json::array();
  for (const auto& v : s.volumes) {
    json attached = {{"id", v.value("id", "")}};
    if (req.mv.AtLeast(3)) attached["delete_on_termination"] = false;
    volumes.push_back(attached);
  }
  const bool admin = req.IsAdmin();
  json v = {{"id", s.uuid},
            {"name", s.name},
            {"status", ServerStatus(s)},
            {"tenant_id", s.project_id},
            {"user_id", s.user_id},
            {"metadata", s.metadata},
            {"hostId", ""},
            {"image", ImageView(req, s)},
            {"flavor", flavor},
            {"created", IsoTime(s.created_at)},
            {"updated", IsoTime(s.updated_at)},
            {"addresses", json::object()},
            {"accessIPv4", s.attributes.access_ip_v4.value_or("")},
            {"accessIPv6", s.attributes.access_ip_v6.value_or("")},
            {"links", Links(req, s.uuid)},
            {"OS-DCF:diskConfig", "MANUAL"},
            {"OS-EXT-AZ:availability_zone", s.availability_zone.value_or("")},
            {"OS-EXT-STS:task_state", s.task_state ? json(*s.task_state) : json(nullptr)},
            {"OS-EXT-STS:vm_state", s.vm_state},
            {"OS-EXT-STS:power_state", s.power_state},
            {"OS-SRV-USG:launched_at", LaunchedAt(s.launched_at)},
            {"OS-SRV-USG:terminated_at", nullptr},
            {"config_drive", ""},
            {"key_name", nullptr},
            {"security_groups", {{{"name", "default"}}}},
            {"os-extended-volumes:volumes_attached", volumes}};
  if (req.ferry_extensions) v["ferry:storage_kind"] = s.storage_kind;
  if (admin) AddExtendedAttributes(req, s, v);
  if (ShowsProgress(ServerStatus(s))) v["progress"] = s.progress;
  if (req.mv.AtLeast(9)) v["locked"] = s.locked;
  if (req.mv.AtLeast(73))
    v["locked_reason"] = s.locked_reason ? json(*s.locked_reason) : json(nullptr);
  if (req.mv.AtLeast(19)) v["description"] = NullOr(s.attributes.description);
  if (req.mv.AtLeast(26)) v["tags"] = json::array();
  if (req.mv.AtLeast(63)) v["trusted_image_certificates"] = nullptr;
  // 2.90 shows the hostname to everyone (admins have it above).
  if (req.mv.AtLeast(90) && !admin) {
    v["OS-EXT-SRV-ATTR:hostname"] = s.attributes.hostname.value_or(s.name);
  }
  if (s.fault && (s.vm_state == "error")) v["fault"] = FaultView(*s.fault);
  return v;
}

}  // namespace ferry::controller::api
