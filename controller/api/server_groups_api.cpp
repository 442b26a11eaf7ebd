// os-server-groups: list, create, show, delete, with Nova's two shapes: before 2.64 a one-item
// `policies` list (and `metadata`), from 2.64 `policy` + `rules`. Groups belong to a project;
// another project's group is "not found", and only an admin lists every project's groups.
#include <set>

#include "common/errors.hpp"
#include "common/json_limits.hpp"
#include "common/uuid.hpp"
#include "controller/api/api_server.hpp"
#include "controller/api/request_bodies.hpp"
#include "controller/api/validation.hpp"
#include "controller/store/database.hpp"
#include "controller/store/server_groups_store.hpp"

namespace ferry::controller::api {
namespace {

constexpr int64_t kMaxLimit = 1000;  // Nova's [api] max_limit default

json View(const Request& req, const store::ServerGroup& g) {
  json v = {{"id", g.uuid}, {"name", g.name}, {"members", g.members}};
  if (req.mv.AtLeast(64)) {
    v["policy"] = g.policy;
    v["rules"] = g.rules.is_object() ? g.rules : json::object();
  } else {
    v["policies"] = json::array({g.policy});
    v["metadata"] = json::object();
  }
  if (req.mv.AtLeast(13)) {
    v["project_id"] = g.project_id;
    v["user_id"] = g.user_id;
  }
  return v;
}

store::ServerGroup LoadVisible(store::Tx& tx, const Request& req, const std::string& id) {
  std::optional<store::ServerGroup> g;
  if (IsUuid(id)) g = store::FindServerGroup(tx, id);
  if (!g || (!req.IsAdmin() && g->project_id != req.principal.project_id)) {
    throw Error(Errc::kNotFound, "Instance group " + id + " could not be found.");
  }
  return *g;
}

Response List(Deps& deps, Request& req) {
  std::optional<std::string> project = req.principal.project_id;
  if (auto all = req.Query("all_projects"); all && ParseBoolParam("all_projects", *all)) {
    if (req.IsAdmin()) project.reset();  // Nova ignores it for non-admins
  }
  int64_t limit = kMaxLimit, offset = 0;
  if (auto l = req.Query("limit")) limit = std::min(ParseLimitParam(*l), kMaxLimit);
  if (auto o = req.Query("offset")) {
    if (o->empty() || o->find_first_not_of("0123456789") != std::string::npos || o->size() > 18) {
      throw Error(Errc::kBadRequest, "Invalid input for query parameters offset. Value: " + *o);
    }
    offset = std::stoll(*o);
  }
  json groups = json::array();
  deps.db.Transact([&](store::Tx& tx) {
    for (const auto& g : store::ListServerGroups(tx, project, limit, offset))
      groups.push_back(View(req, g));
  });
  return {200, {{"server_groups", groups}}};
}

Response Create(Deps& deps, Request& req) {
  auto g = ParseServerGroupCreate(req);
  g.uuid = NewUuid();
  g.user_id = req.principal.user_id;
  g.project_id = req.principal.project_id;
  g.created_at = deps.clock.Now();
  deps.db.Transact([&](store::Tx& tx) { g = store::InsertServerGroup(tx, g); });
  return {200, {{"server_group", View(req, g)}}};
}

}  // namespace

void RegisterServerGroupRoutes(ApiServer& api, Deps& deps) {
  api.Route("GET", "/v2\\.1/os-server-groups", Access::kUser,
            [&deps](Request& req) { return List(deps, req); });
  api.Route("POST", "/v2\\.1/os-server-groups", Access::kUser,
            [&deps](Request& req) { return Create(deps, req); });
  api.Route("GET", "/v2\\.1/os-server-groups/([^/]+)", Access::kUser, [&deps](Request& req) {
    json view;
    deps.db.Transact([&](store::Tx& tx) { view = View(req, LoadVisible(tx, req, req.params[0])); });
    return Response{200, {{"server_group", view}}};
  });
  api.Route("DELETE", "/v2\\.1/os-server-groups/([^/]+)", Access::kUser, [&deps](Request& req) {
    deps.db.Transact([&](store::Tx& tx) {
      auto g = LoadVisible(tx, req, req.params[0]);
      store::DeleteServerGroup(tx, g.uuid);
    });
    return Response{204, nullptr};
  });
}

}  // namespace ferry::controller::api
