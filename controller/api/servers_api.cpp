// servers: list (host, name, status filters; paging), detail, show, create, delete.
// Create commits the server with its claims (or in ERROR "No valid host") and returns 202; the
// conductor then has the agent build it. Delete returns 204 and the conductor removes it.
#include "common/errors.hpp"
#include "common/json_limits.hpp"
#include "common/uuid.hpp"
#include "controller/api/api_server.hpp"
#include "controller/api/flavor_visibility.hpp"
#include "controller/api/next_link.hpp"
#include "controller/api/request_bodies.hpp"
#include "controller/api/server_lookup.hpp"
#include "controller/api/server_view.hpp"
#include "controller/api/validation.hpp"
#include "controller/conductor/server_lifecycle.hpp"
#include "controller/store/database.hpp"
#include "controller/store/flavors_store.hpp"
#include "controller/store/hosts_store.hpp"
#include "controller/store/servers_store.hpp"

namespace ferry::controller::api {
namespace {

using nlohmann::json;

constexpr int64_t kMaxLimit = 1000;  // Nova's [api] max_limit default

// 2.16: an admin sees the state of the server's host, as Nova's get_instance_host_status
// derives it from the host's compute service; "" when the server has no host.
bool ShowsHostStatus(const Request& req) { return req.IsAdmin() && req.mv.AtLeast(16); }

std::string HostStatus(const store::Server& s) {
  if (!s.host_state) return "";
  if (s.host_state->forced_down) return "DOWN";
  if (s.host_state->disabled) return "MAINTENANCE";
  return s.host_state->state == "up" ? "UP" : "UNKNOWN";
}

// Whose servers a list shows. Nova shows everyone, admin included, their own project's servers;
// only an admin's all_tenants (given without a value it means true) widens the list to every
// project, and then tenant_id or project_id narrows it to one; anyone else's all_tenants is
// 403, as Nova's policy (index:get_all_tenants) answers it. nullopt: every project.
std::optional<std::string> ListedProject(const Request& req, bool detail) {
  auto all = req.Query("all_tenants");
  const bool all_tenants = all && (all->empty() || ParseBoolParam("all_tenants", *all));
  if (all_tenants && !req.IsAdmin()) {
    throw Error(Errc::kForbidden, std::string("Policy doesn't allow os_compute_api:servers:") +
                                      (detail ? "detail" : "index") +
                                      ":get_all_tenants to be performed.");
  }
  if (!all_tenants) return req.principal.project_id;
  if (auto project = req.Query("project_id")) return project;
  return req.Query("tenant_id");
}

// changes-since, and from 2.66 changes-before: servers updated in that window. (ferry deletes a
// server's row, so the deleted servers Nova adds to such a list are not there.)
void ReadChangesFilters(const Request& req, store::ServerFilter& f) {
  if (auto since = req.Query("changes-since"))
    f.changes_since = ParseTimeParam("changes-since", *since);
  if (!req.mv.AtLeast(66)) return;
  if (auto before = req.Query("changes-before")) {
    f.changes_before = ParseTimeParam("changes-before", *before);
  }
  if (f.changes_since && f.changes_before && *f.changes_since > *f.changes_before) {
    throw Error(Errc::kBadRequest,
                "The value of changes-since must be less than or equal to changes-before.");
  }
}

Response List(Deps& deps, Request& req, bool detail) {
  store::ServerFilter f;
  f.limit = kMaxLimit;
  if (auto limit = req.Query("limit")) f.limit = std::min(ParseLimitParam(*limit), kMaxLimit);
  f.marker = req.Query("marker");
  f.name_regex = req.Query("name");
  // Nova looks ?flavor= up as the flavor's API id; a server shows that id in its flavor.
  f.flavorid = req.Query("flavor");
  f.project_id = ListedProject(req, detail);
  ReadChangesFilters(req, f);
  // Nova ignores admin-only filters from other users rather than failing.
  if (req.IsAdmin()) f.host = req.Query("host");
  if (auto status = req.Query("status")) {
    auto sf = FilterForStatus(*status);
    if (!sf) return {200, {{"servers", json::array()}}};
    f.vm_states = sf->vm_states;
    f.task_states = sf->task_states;
  }
  json list = json::array();
  std::string last;
  deps.db.Transact([&](store::Tx& tx) {
    // A marker must be a server of the listed project(s): another project's would page by its
    // creation time and tell a member that it exists.
    if (f.marker) {
      std::optional<store::Server> marker;
      if (IsUuid(*f.marker)) marker = store::FindServer(tx, *f.marker);
      if (!marker || (f.project_id && marker->project_id != *f.project_id)) {
        throw Error(Errc::kBadRequest, "marker [" + *f.marker + "] not found");
      }
    }
    const bool host_status = detail && ShowsHostStatus(req);
    for (const auto& s : store::ListServers(tx, f)) {
      list.push_back(detail ? ServerDetail(req, s) : ServerSummary(req, s));
      if (host_status) list.back()["host_status"] = HostStatus(s);
      last = s.uuid;
    }
  });
  json body = {{"servers", list}};
  // Nova's _get_collection_links: a full page (of the limit asked, else of max_limit) links to
  // the next one, with the request's filters kept.
  if (!list.empty() && static_cast<int64_t>(list.size()) == f.limit) {
    body["servers_links"] = {{{"rel", "next"}, {"href", NextLink(req, f.limit, last)}}};
  }
  return {200, body};
}

// 2.71: the show (not the detail list) names the server's group, at most one.
bool ShowsGroup(const Request& req) { return req.mv.AtLeast(71); }

// The server as shown, read in one statement with what the show adds (its host's state, its
// group): a show is one round trip to the database.
store::Server LoadShownServer(store::Tx& tx, const Request& req, const std::string& uuid) {
  return LoadVisibleServer(tx, req, uuid, ShowsGroup(req));
}

// s: read by LoadShownServer.
json ShowView(const Request& req, const store::Server& s) {
  json view = ServerDetail(req, s);
  if (ShowsHostStatus(req)) view["host_status"] = HostStatus(s);
  if (ShowsGroup(req)) {
    view["server_groups"] = s.group_uuid ? json::array({*s.group_uuid}) : json::array();
  }
  return view;
}

// Before 2.75 Nova's update answers the server without the extensions' attributes (no
// OS-EXT-*, OS-SRV-USG, key_name, security_groups, config_drive, volumes); from 2.75 as a show.
json UpdateView(const Request& req, const store::Server& s) {
  json view = ShowView(req, s);
  if (req.mv.AtLeast(75)) return view;
  for (auto it = view.begin(); it != view.end();) {
    const std::string& key = it.key();
    const bool extension = key.rfind("OS-EXT-", 0) == 0 || key.rfind("OS-SRV-USG:", 0) == 0 ||
                           key == "key_name" || key == "security_groups" || key == "config_drive" ||
                           key == "host_status" || key == "os-extended-volumes:volumes_attached";
    it = extension ? view.erase(it) : std::next(it);
  }
  return view;
}

// PUT /servers/{id}: the name, access addresses, description (2.19) and hostname (2.90). Nova
// checks no lock here (update_instance is not lock-guarded): an owner renames a locked server.
Response Update(Deps& deps, Request& req) {
  json view;
  deps.db.Transact([&](store::Tx& tx) {
    // Locked first, read after: two updates of one server do not undo each other's fields,
    // and a delete that commits in between is a 404 rather than a row that is not there.
    const std::string& uuid = req.params[0];
    if (!IsUuid(uuid) || !store::LockServer(tx, uuid)) {
      throw Error(Errc::kNotFound, "Instance " + uuid + " could not be found.");
    }
    store::Server s = LoadVisibleServer(tx, req, uuid);
    ApplyServerUpdate(req, s);
    store::UpdateServerUserFields(tx, s, deps.clock.Now());
    view = UpdateView(req, LoadShownServer(tx, req, uuid));
  });
  return {200, {{"server", view}}};
}

std::string FlavorIdFromRef(const std::string& ref) {
  auto slash = ref.find_last_of('/');
  return slash == std::string::npos ? ref : ref.substr(slash + 1);
}

conductor::CreateServerRequest ParseCreate(Deps& deps, Request& req,
                                           const ServerCreateBody& parsed) {
  conductor::CreateServerRequest out = parsed.request;
  const std::string& flavor_ref = parsed.flavor_ref;
  const std::optional<std::string>& forced = parsed.forced_host;
  deps.db.Transact([&](store::Tx& tx) {
    auto flavor = store::FindFlavor(tx, FlavorIdFromRef(flavor_ref));
    if (!flavor || !FlavorVisible(tx, req, *flavor))
      throw Error(Errc::kBadRequest, "Flavor " + flavor_ref + " could not be found.");
    out.flavor = *flavor;
    auto hosts = store::ListHosts(tx);
    if (forced && std::none_of(hosts.begin(), hosts.end(),
                               [&](const store::Host& h) { return h.name == *forced; })) {
      throw Error(Errc::kBadRequest, "Compute host " + *forced + " could not be found.");
    }
    if (out.availability_zone &&
        std::none_of(hosts.begin(), hosts.end(), [&](const store::Host& h) {
          return h.availability_zone == *out.availability_zone;
        })) {
      throw Error(Errc::kBadRequest, "The requested availability zone is not available");
    }
  });
  out.user_id = req.principal.user_id;
  out.request_id = req.request_id;
  out.project_id = req.principal.project_id;
  out.any_project_group = req.IsAdmin();
  return out;
}

Response Create(Deps& deps, Request& req) {
  const ServerCreateBody parsed = ParseServerCreate(req);
  auto s = deps.servers.Create(ParseCreate(deps, req, parsed));
  json body = {{"id", s.uuid},
               {"links", ServerSummary(req, s)["links"]},
               {"OS-DCF:diskConfig", "MANUAL"},
               {"security_groups", {{{"name", "default"}}}},
               {"adminPass", parsed.admin_pass.value_or(NewUuid().substr(0, 12))}};
  return {202, {{"server", body}}};
}

}  // namespace

void RegisterServerRoutes(ApiServer& api, Deps& deps) {
  api.Route("GET", "/v2\\.1/servers", Access::kUser,
            [&deps](Request& req) { return List(deps, req, false); });
  api.Route("GET", "/v2\\.1/servers/detail", Access::kUser,
            [&deps](Request& req) { return List(deps, req, true); });
  api.Route("POST", "/v2\\.1/servers", Access::kUser,
            [&deps](Request& req) { return Create(deps, req); });
  api.Route("GET", "/v2\\.1/servers/([^/]+)", Access::kUser, [&deps](Request& req) {
    json view;
    deps.db.ReadOneStatement(
        [&](store::Tx& tx) { view = ShowView(req, LoadShownServer(tx, req, req.params[0])); });
    return Response{200, {{"server", view}}};
  });
  api.Route("PUT", "/v2\\.1/servers/([^/]+)", Access::kUser,
            [&deps](Request& req) { return Update(deps, req); });
  api.Route("DELETE", "/v2\\.1/servers/([^/]+)", Access::kUser, [&deps](Request& req) {
    deps.db.Transact([&](store::Tx& tx) {
      auto s = LoadVisibleServer(tx, req, req.params[0]);
      if (s.locked && !req.IsAdmin()) {
        throw Error(Errc::kConflict, "Instance " + s.uuid + " is locked");
      }
    });
    deps.servers.RequestDelete(req.params[0], req.request_id, req.principal.user_id);
    return Response{204, nullptr};
  });
}

}  // namespace ferry::controller::api
