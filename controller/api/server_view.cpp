#include "controller/api/server_view.hpp"

#include <algorithm>
#include <map>
#include <set>

#include "common/time_format.hpp"

namespace ferry::controller::api {
namespace {

using nlohmann::json;

// Nova's _STATE_MAP (api/openstack/common.py): for each vm_state its status, and the tasks
// that show another status instead. A stopped server resizing is RESIZE like an active one; a
// paused one live-migrating is MIGRATING; any other task leaves the vm_state's status.
struct VmStateStatuses {
  std::string status;
  std::map<std::string, std::string> tasks;
};

const std::map<std::string, VmStateStatuses>& StateMap() {
  static const std::map<std::string, std::string> kResize = {{"resize_prep", "RESIZE"},
                                                             {"resize_migrating", "RESIZE"},
                                                             {"resize_migrated", "RESIZE"},
                                                             {"resize_finish", "RESIZE"}};
  static const std::map<std::string, std::string> kRebuild = {
      {"rebuilding", "REBUILD"},
      {"rebuild_block_device_mapping", "REBUILD"},
      {"rebuild_spawning", "REBUILD"}};
  auto merged = [](std::initializer_list<std::map<std::string, std::string>> parts) {
    std::map<std::string, std::string> out;
    for (const auto& p : parts) out.insert(p.begin(), p.end());
    return out;
  };
  static const std::map<std::string, VmStateStatuses> m = {
      {"active",
       {"ACTIVE", merged({kResize,
                          kRebuild,
                          {{"rebooting", "REBOOT"},
                           {"reboot_pending", "REBOOT"},
                           {"reboot_started", "REBOOT"},
                           {"rebooting_hard", "HARD_REBOOT"},
                           {"reboot_pending_hard", "HARD_REBOOT"},
                           {"reboot_started_hard", "HARD_REBOOT"},
                           {"updating_password", "PASSWORD"},
                           {"migrating", "MIGRATING"}}})}},
      {"building", {"BUILD", {}}},
      {"stopped", {"SHUTOFF", merged({kResize, kRebuild})}},
      {"resized", {"VERIFY_RESIZE", {{"resize_reverting", "REVERT_RESIZE"}}}},
      {"paused", {"PAUSED", {{"migrating", "MIGRATING"}}}},
      {"suspended", {"SUSPENDED", {}}},
      {"rescued", {"RESCUE", {}}},
      {"error", {"ERROR", kRebuild}},
      {"deleted", {"DELETED", {}}},
      {"soft-delete", {"SOFT_DELETED", {}}},
      {"shelved", {"SHELVED", {}}},
      {"shelved_offloaded", {"SHELVED_OFFLOADED", {}}}};
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
  auto state = StateMap().find(s.vm_state);
  if (state == StateMap().end()) return "UNKNOWN";
  if (s.task_state) {
    auto task = state->second.tasks.find(*s.task_state);
    if (task != state->second.tasks.end()) return task->second;
  }
  return state->second.status;
}

// Nova's task_and_vm_state_from_status: every (vm_state, task) pair showing the status gives
// its vm_state and its task, "no task filter" when a vm_state's own status matches.
std::optional<StatusFilter> FilterForStatus(const std::string& raw) {
  std::string status;
  for (char c : raw)
    status.push_back(static_cast<char>(std::toupper(static_cast<unsigned char>(c))));
  std::set<std::string> vm_states, tasks;
  bool any_task = false;
  for (const auto& [vm_state, statuses] : StateMap()) {
    if (statuses.status == status) {
      vm_states.insert(vm_state);
      any_task = true;
    }
    for (const auto& [task, api] : statuses.tasks) {
      if (api != status) continue;
      vm_states.insert(vm_state);
      tasks.insert(task);
    }
  }
  if (vm_states.empty()) return std::nullopt;
  StatusFilter f;
  f.vm_states.assign(vm_states.begin(), vm_states.end());
  if (!any_task) f.task_states = std::vector<std::string>(tasks.begin(), tasks.end());
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
