// servers: list (host, name, status filters; paging), detail, show, create, delete.
// Create commits the server with its claims (or in ERROR "No valid host") and returns 202; the
// conductor then has the agent build it. Delete returns 204 and the conductor removes it.
#include "common/errors.hpp"
#include "common/json_limits.hpp"
#include "common/uuid.hpp"
#include "controller/api/api_server.hpp"
#include "controller/api/flavor_visibility.hpp"
#include "controller/api/request_bodies.hpp"
#include "controller/api/server_view.hpp"
#include "controller/api/validation.hpp"
#include "controller/conductor/server_lifecycle.hpp"
#include "controller/store/database.hpp"
#include "controller/store/flavors_store.hpp"
#include "controller/store/hosts_store.hpp"
#include "controller/store/server_groups_store.hpp"
#include "controller/store/servers_store.hpp"

namespace ferry::controller::api {
namespace {

using nlohmann::json;

constexpr int64_t kMaxLimit = 1000;  // Nova's [api] max_limit default

store::Server LoadVisible(store::Tx& tx, const Request& req, const std::string& uuid) {
  std::optional<store::Server> s;
  if (IsUuid(uuid)) s = store::FindServer(tx, uuid);
  if (!s || (!req.IsAdmin() && s->project_id != req.principal.name)) {
    throw Error(Errc::kNotFound, "Instance " + uuid + " could not be found.");
  }
  return *s;
}

// 2.16: an admin sees the state of the server's host, as Nova's get_instance_host_status
// derives it from the host's compute service; "" when the server has no host.
bool ShowsHostStatus(const Request& req) { return req.IsAdmin() && req.mv.AtLeast(16); }

std::string HostStatus(const std::vector<store::Host>& hosts, const store::Server& s) {
  if (!s.host) return "";
  for (const auto& h : hosts) {
    if (h.name != *s.host) continue;
    if (h.forced_down) return "DOWN";
    if (h.disabled) return "MAINTENANCE";
    return h.state == "up" ? "UP" : "UNKNOWN";
  }
  return "";
}

Response List(Deps& deps, Request& req, bool detail) {
  store::ServerFilter f;
  f.limit = kMaxLimit;
  if (auto limit = req.Query("limit")) f.limit = std::min(ParseLimitParam(*limit), kMaxLimit);
  f.marker = req.Query("marker");
  f.name_regex = req.Query("name");
  // Nova ignores admin-only filters from other users rather than failing.
  if (req.IsAdmin()) {
    f.host = req.Query("host");
    if (auto all = req.Query("all_tenants"); !all || !ParseBoolParam("all_tenants", *all)) {
      if (auto project = req.Query("project_id")) f.project_id = *project;
    }
  } else {
    f.project_id = req.principal.name;
  }
  if (auto status = req.Query("status")) {
    auto sf = FilterForStatus(*status);
    if (!sf) return {200, {{"servers", json::array()}}};
    f.vm_states = sf->vm_states;
    f.task_states = sf->task_states;
  }
  json list = json::array();
  std::string last;
  deps.db.Transact([&](store::Tx& tx) {
    if (f.marker && (!IsUuid(*f.marker) || !store::ServerExists(tx, *f.marker))) {
      throw Error(Errc::kBadRequest, "marker [" + *f.marker + "] not found");
    }
    const bool host_status = detail && ShowsHostStatus(req);
    const auto hosts = host_status ? store::ListHosts(tx) : std::vector<store::Host>{};
    for (const auto& s : store::ListServers(tx, f)) {
      list.push_back(detail ? ServerDetail(req, s) : ServerSummary(req, s));
      if (host_status) list.back()["host_status"] = HostStatus(hosts, s);
      last = s.uuid;
    }
  });
  json body = {{"servers", list}};
  if (static_cast<int64_t>(list.size()) == f.limit && req.Query("limit")) {
    body["servers_links"] = {{{"rel", "next"},
                              {"href", req.base_url + req.path + "?limit=" + std::to_string(f.limit) + "&marker=" + last}}};
  }
  return {200, body};
}

std::string FlavorIdFromRef(const std::string& ref) {
  auto slash = ref.find_last_of('/');
  return slash == std::string::npos ? ref : ref.substr(slash + 1);
}

conductor::CreateServerRequest ParseCreate(Deps& deps, Request& req) {
  ServerCreateBody parsed = ParseServerCreate(req);
  conductor::CreateServerRequest out = std::move(parsed.request);
  const std::string& flavor_ref = parsed.flavor_ref;
  const std::optional<std::string>& forced = parsed.forced_host;
  deps.db.Transact([&](store::Tx& tx) {
    auto flavor = store::FindFlavor(tx, FlavorIdFromRef(flavor_ref));
    if (!flavor || !FlavorVisible(tx, req, *flavor))
      throw Error(Errc::kBadRequest, "Flavor " + flavor_ref + " could not be found.");
    out.flavor = *flavor;
    auto hosts = store::ListHosts(tx);
    if (forced && std::none_of(hosts.begin(), hosts.end(), [&](const store::Host& h) { return h.name == *forced; })) {
      throw Error(Errc::kBadRequest, "Compute host " + *forced + " could not be found.");
    }
    if (out.availability_zone && std::none_of(hosts.begin(), hosts.end(), [&](const store::Host& h) {
          return h.availability_zone == *out.availability_zone;
        })) {
      throw Error(Errc::kBadRequest, "The requested availability zone is not available");
    }
  });
  out.user_id = req.principal.name;
  out.project_id = req.principal.name;
  return out;
}

Response Create(Deps& deps, Request& req) {
  auto request = ParseCreate(deps, req);
  auto s = deps.servers.Create(request);
  json body = {{"id", s.uuid},
               {"links", ServerSummary(req, s)["links"]},
               {"OS-DCF:diskConfig", "MANUAL"},
               {"security_groups", {{{"name", "default"}}}},
               {"adminPass", NewUuid().substr(0, 12)}};
  return {202, {{"server", body}}};
}

}  // namespace

void RegisterServerRoutes(ApiServer& api, Deps& deps) {
  api.Route("GET", "/v2\\.1/servers", Access::kUser, [&deps](Request& req) { return List(deps, req, false); });
  api.Route("GET", "/v2\\.1/servers/detail", Access::kUser, [&deps](Request& req) { return List(deps, req, true); });
  api.Route("POST", "/v2\\.1/servers", Access::kUser, [&deps](Request& req) { return Create(deps, req); });
  api.Route("GET", "/v2\\.1/servers/([^/]+)", Access::kUser, [&deps](Request& req) {
    json view;
    deps.db.Transact([&](store::Tx& tx) {
      const store::Server s = LoadVisible(tx, req, req.params[0]);
      view = ServerDetail(req, s);
      if (ShowsHostStatus(req)) view["host_status"] = HostStatus(store::ListHosts(tx), s);
      // 2.71: the show (not the detail list) names the server's group, at most one.
      if (req.mv.AtLeast(71)) {
        auto group = store::FindServerGroupOfServer(tx, req.params[0]);
        view["server_groups"] = group ? json::array({group->uuid}) : json::array();
      }
    });
    return Response{200, {{"server", view}}};
  });
  api.Route("DELETE", "/v2\\.1/servers/([^/]+)", Access::kUser, [&deps](Request& req) {
    deps.db.Transact([&](store::Tx& tx) {
      auto s = LoadVisible(tx, req, req.params[0]);
      if (s.locked && !req.IsAdmin()) {
        throw Error(Errc::kConflict, "Instance " + s.uuid + " is locked");
      }
    });
    deps.servers.RequestDelete(req.params[0]);
    return Response{204, nullptr};
  });
}

}  // namespace ferry::controller::api
