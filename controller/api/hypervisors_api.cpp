// os-hypervisors: list, detail, show, with_servers. Ids are integers before 2.53 and the node
// uuid from 2.53; the statistics fields disappear at 2.88, as in Nova. statistics: 2.1-2.87.
#include "common/errors.hpp"
#include "common/uuid.hpp"
#include "controller/api/api_server.hpp"
#include "controller/api/next_link.hpp"
#include "controller/api/validation.hpp"
#include "controller/store/database.hpp"
#include "controller/store/hosts_store.hpp"
#include "controller/store/servers_store.hpp"

namespace ferry::controller::api {
namespace {

using nlohmann::json;

json Id(const Request& req, const store::Host& h) {
  return req.mv.AtLeast(53) ? json(h.node_uuid) : json(h.id);
}

json View(const Request& req, const store::Host& h, bool detail, const json* servers) {
  json v = {{"id", Id(req, h)},
            {"hypervisor_hostname", h.name},
            {"state", h.IsUp() ? "up" : "down"},
            {"status", h.disabled ? "disabled" : "enabled"}};
  if (req.ferry_extensions) v["ferry:simulated"] = h.simulated;
  if (detail) {
    v["hypervisor_type"] = h.hypervisor_type;
    v["hypervisor_version"] = h.hypervisor_version;
    v["host_ip"] = h.host_ip;
    v["service"] = {
        {"host", h.name},
        {"id", req.mv.AtLeast(53) ? json(h.service_uuid) : json(h.id)},
        {"disabled_reason", h.disabled_reason ? json(*h.disabled_reason) : json(nullptr)}};
    if (!req.mv.AtLeast(88)) {
      v["vcpus"] = h.vcpus;
      v["memory_mb"] = h.memory_mb;
      v["local_gb"] = h.local_gb;
      v["vcpus_used"] = h.vcpus_used;
      v["memory_mb_used"] = h.memory_mb_used;
      v["local_gb_used"] = h.local_gb_used;
      v["free_ram_mb"] = h.memory_mb - h.memory_mb_used;
      v["free_disk_gb"] = h.local_gb - h.local_gb_used;
      v["current_workload"] = 0;
      v["running_vms"] = h.running_vms;
      v["disk_available_least"] = h.local_gb - h.local_gb_used;
      // 2.28: an object ({} when the host reported none); before, its JSON text.
      const json cpu_info = h.cpu_info.is_object() ? h.cpu_info : json::object();
      v["cpu_info"] = req.mv.AtLeast(28) ? cpu_info : json(cpu_info.dump());
    } else {
      v["uptime"] = nullptr;
    }
  }
  // Nova lists servers only when the host has some, and from 2.75 an empty list too.
  if (servers && (!servers->empty() || req.mv.AtLeast(75))) v["servers"] = *servers;
  return v;
}

json ServersOn(store::Tx& tx, const std::string& host) {
  store::ServerFilter f;
  f.host = host;
  f.limit = 100000;  // a hypervisor's own servers: bounded by what one host can run
  json out = json::array();
  for (const auto& s : store::ListServers(tx, f))
    out.push_back({{"name", s.name}, {"uuid", s.uuid}});
  return out;
}

struct ListParams {
  std::optional<std::string> pattern;
  bool with_servers = false;
  std::optional<int64_t> limit;
  std::optional<std::string> marker;
};

ListParams ParseListParams(const Request& req) {
  ListParams p;
  for (const auto& [key, value] : req.query) {
    if (key == "hypervisor_hostname_pattern") {
      p.pattern = value;
    } else if (key == "with_servers" && req.mv.AtLeast(53)) {
      p.with_servers = ParseBoolParam(key, value);
    } else if (key == "limit" && req.mv.AtLeast(33)) {
      p.limit = ParseLimitParam(value);
    } else if (key == "marker" && req.mv.AtLeast(33)) {
      p.marker = value;
    } else if (req.mv.AtLeast(53)) {
      throw Error(Errc::kBadRequest,
                  "Additional properties are not allowed ('" + key + "' was unexpected)");
    }
  }
  if (p.pattern && p.marker) {
    throw Error(Errc::kBadRequest,
                "Paging over hypervisors with 'hypervisor_hostname_pattern' is not supported.");
  }
  return p;
}

Response List(Deps& deps, Request& req, bool detail) {
  auto p = ParseListParams(req);
  json list = json::array();
  bool more = false;
  std::string last_id;
  deps.db.Transact([&](store::Tx& tx) {
    store::HostFilter f;
    f.name_pattern = p.pattern;
    auto hosts = store::ListHosts(tx, f);
    if (p.pattern && hosts.empty()) {
      throw Error(Errc::kNotFound, "No hypervisor matching '" + *p.pattern + "' could be found.");
    }
    size_t start = 0;
    if (p.marker) {
      auto it = std::find_if(hosts.begin(), hosts.end(), [&](const store::Host& h) {
        return Id(req, h).dump() == json(*p.marker).dump() || std::to_string(h.id) == *p.marker;
      });
      if (it == hosts.end()) throw Error(Errc::kBadRequest, "marker [" + *p.marker + "] not found");
      start = static_cast<size_t>(it - hosts.begin()) + 1;
    }
    for (size_t i = start; i < hosts.size(); ++i) {
      if (p.limit && static_cast<int64_t>(list.size()) >= *p.limit) break;
      json servers;
      if (p.with_servers) servers = ServersOn(tx, hosts[i].name);
      list.push_back(View(req, hosts[i], detail, p.with_servers ? &servers : nullptr));
      last_id = req.mv.AtLeast(53) ? hosts[i].node_uuid : std::to_string(hosts[i].id);
    }
    // Nova's _get_collection_links: a next link whenever the page is full, more or not.
    more = p.limit && *p.limit > 0 && static_cast<int64_t>(list.size()) == *p.limit;
  });
  json body = {{"hypervisors", list}};
  if (more) {
    body["hypervisors_links"] = {{{"rel", "next"}, {"href", NextLink(req, *p.limit, last_id)}}};
  }
  return {200, body};
}

// The filter finding hypervisor `id`: an integer before 2.53, the node uuid from 2.53.
store::HostFilter ByHypervisorId(const Request& req, const std::string& id) {
  store::HostFilter f;
  if (req.mv.AtLeast(53)) {
    if (!IsUuid(id)) throw Error(Errc::kBadRequest, "Invalid uuid " + id);
    f.node_uuid = id;
  } else if (!id.empty() && id.size() < 19 &&
             id.find_first_not_of("0123456789") == std::string::npos) {
    f.id = std::stoll(id);
  } else {
    throw Error(Errc::kNotFound, "Hypervisor with ID " + id + " could not be found.");
  }
  return f;
}

Response Show(Deps& deps, Request& req) {
  const std::string& id = req.params[0];
  const store::HostFilter f = ByHypervisorId(req, id);
  bool with_servers = false;
  for (const auto& [key, value] : req.query) {
    if (key == "with_servers" && req.mv.AtLeast(53)) {
      with_servers = ParseBoolParam(key, value);
    } else if (req.mv.AtLeast(53)) {
      throw Error(Errc::kBadRequest,
                  "Additional properties are not allowed ('" + key + "' was unexpected)");
    }
  }
  json view;
  deps.db.Transact([&](store::Tx& tx) {
    auto host = store::FindHost(tx, f);
    if (!host) throw Error(Errc::kNotFound, "Hypervisor with ID " + id + " could not be found.");
    json servers;
    if (with_servers) servers = ServersOn(tx, host->name);
    view = View(req, *host, true, with_servers ? &servers : nullptr);
  });
  return {200, {{"hypervisor", view}}};
}

// GET /os-hypervisors/statistics (2.1-2.87; Nova removed it at 2.88, whose answer is a 404):
// the sums over the enabled hosts, as Nova's compute_node_statistics skips disabled services.
Response Statistics(Deps& deps, Request& req) {
  if (req.mv.AtLeast(88)) throw Error(Errc::kNotFound, "The resource could not be found.");
  int64_t count = 0, vcpus = 0, memory_mb = 0, local_gb = 0, vcpus_used = 0, memory_mb_used = 0,
          local_gb_used = 0, running_vms = 0;
  deps.db.Transact([&](store::Tx& tx) {
    for (const auto& h : store::ListHosts(tx, store::HostFilter{})) {
      if (h.disabled) continue;
      ++count;
      vcpus += h.vcpus;
      memory_mb += h.memory_mb;
      local_gb += h.local_gb;
      vcpus_used += h.vcpus_used;
      memory_mb_used += h.memory_mb_used;
      local_gb_used += h.local_gb_used;
      running_vms += h.running_vms;
    }
  });
  // free_* and disk_available_least as each host's view derives them (View above).
  json stats = {{"count", count},
                {"vcpus", vcpus},
                {"memory_mb", memory_mb},
                {"local_gb", local_gb},
                {"vcpus_used", vcpus_used},
                {"memory_mb_used", memory_mb_used},
                {"local_gb_used", local_gb_used},
                {"free_ram_mb", memory_mb - memory_mb_used},
                {"free_disk_gb", local_gb - local_gb_used},
                {"current_workload", 0},
                {"running_vms", running_vms},
                {"disk_available_least", local_gb - local_gb_used}};
  return {200, {{"hypervisor_statistics", stats}}};
}

// GET /os-hypervisors/{id}/uptime (2.1-2.87; 2.88 moved uptime into the detail). Nova asks
// the host's driver for the text of `uptime`; ferry's agents do not report it, so the answer is
// null, as Nova's own 2.88 detail answers for a host whose uptime it cannot get.
Response Uptime(Deps& deps, Request& req) {
  if (req.mv.AtLeast(88)) throw Error(Errc::kNotFound, "The resource could not be found.");
  const store::HostFilter f = ByHypervisorId(req, req.params[0]);
  json view;
  deps.db.Transact([&](store::Tx& tx) {
    auto host = store::FindHost(tx, f);
    if (!host) {
      throw Error(Errc::kNotFound, "Hypervisor with ID " + req.params[0] + " could not be found.");
    }
    view = View(req, *host, false, nullptr);
  });
  view["uptime"] = nullptr;
  return {200, {{"hypervisor", view}}};
}

// GET /os-hypervisors/{pattern}/search and .../servers (2.1-2.52; from 2.53 the list's
// hypervisor_hostname_pattern and with_servers replace them, and these paths are 404s).
Response Search(Deps& deps, Request& req, bool with_servers) {
  if (req.mv.AtLeast(53)) throw Error(Errc::kNotFound, "The resource could not be found.");
  const std::string& pattern = req.params[0];
  json list = json::array();
  deps.db.Transact([&](store::Tx& tx) {
    store::HostFilter f;
    f.name_pattern = pattern;
    for (const auto& h : store::ListHosts(tx, f)) {
      json servers;
      if (with_servers) servers = ServersOn(tx, h.name);
      list.push_back(View(req, h, false, with_servers ? &servers : nullptr));
    }
  });
  if (list.empty())
    throw Error(Errc::kNotFound, "No hypervisor matching '" + pattern + "' could be found.");
  return {200, {{"hypervisors", list}}};
}

}  // namespace

void RegisterHypervisorRoutes(ApiServer& api, Deps& deps) {
  api.Route("GET", "/v2\\.1/os-hypervisors", Access::kAdmin,
            [&deps](Request& req) { return List(deps, req, false); });
  api.Route("GET", "/v2\\.1/os-hypervisors/detail", Access::kAdmin,
            [&deps](Request& req) { return List(deps, req, true); });
  // Before the show route, which would take "statistics" for an id.
  api.Route("GET", "/v2\\.1/os-hypervisors/statistics", Access::kAdmin,
            [&deps](Request& req) { return Statistics(deps, req); });
  api.Route("GET", "/v2\\.1/os-hypervisors/([^/]+)/uptime", Access::kAdmin,
            [&deps](Request& req) { return Uptime(deps, req); });
  api.Route("GET", "/v2\\.1/os-hypervisors/([^/]+)/search", Access::kAdmin,
            [&deps](Request& req) { return Search(deps, req, false); });
  api.Route("GET", "/v2\\.1/os-hypervisors/([^/]+)/servers", Access::kAdmin,
            [&deps](Request& req) { return Search(deps, req, true); });
  api.Route("GET", "/v2\\.1/os-hypervisors/([^/]+)", Access::kAdmin,
            [&deps](Request& req) { return Show(deps, req); });
}

}  // namespace ferry::controller::api
