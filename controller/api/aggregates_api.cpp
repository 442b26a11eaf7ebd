// os-aggregates: host groups with metadata; the "availability_zone" key makes one a zone.
// A host is in at most one zone, and a host that runs servers does not change zone (409),
// because its servers' zone would silently change with it.
#include <spdlog/spdlog.h>

#include <set>

#include "common/errors.hpp"
#include "common/time_format.hpp"
#include "controller/api/api_server.hpp"
#include "controller/api/request_bodies.hpp"
#include "controller/api/validation.hpp"
#include "controller/store/aggregates_store.hpp"
#include "controller/store/database.hpp"
#include "controller/store/hosts_store.hpp"

namespace ferry::controller::api {
namespace {

using nlohmann::json;

json View(const Request& req, const store::Aggregate& a) {
  json v = {{"id", a.id},
            {"name", a.name},
            {"availability_zone", a.availability_zone ? json(*a.availability_zone) : json(nullptr)},
            {"hosts", a.hosts},
            {"metadata", a.metadata},
            {"created_at", FormatNovaTime(a.created_at)},
            {"updated_at", a.updated_at ? json(FormatNovaTime(*a.updated_at)) : json(nullptr)},
            {"deleted_at", nullptr},
            {"deleted", false}};
  if (req.mv.AtLeast(41)) v["uuid"] = a.uuid;
  return v;
}

store::Aggregate Load(store::Tx& tx, const std::string& id) {
  auto a = store::FindAggregate(tx, id);
  if (!a) throw Error(Errc::kNotFound, "Aggregate " + id + " could not be found.");
  return *a;
}

// After the change, `host` would be in the zones of its other aggregates plus `via_zone_after`
// (nullopt: via gives it no zone). Two zones at once, or a new zone while it runs servers: 409.
void CheckZoneChange(store::Tx& tx, const store::Host& host, const store::Aggregate& via,
                     const std::optional<std::string>& via_zone_after) {
  auto others = store::HostZones(tx, host.id, via.id);
  std::set<std::string> after(others.begin(), others.end());
  if (via_zone_after) after.insert(*via_zone_after);
  if (after.size() > 1) {
    throw Error(Errc::kConflict, "Host " + host.name +
                                     " would be in more than one availability zone (" +
                                     *after.begin() + ", " + *std::next(after.begin()) + ").");
  }
  const std::string next = after.empty() ? store::kDefaultAvailabilityZone : *after.begin();
  if (next != host.availability_zone && host.running_vms > 0) {
    throw Error(Errc::kConflict, "Cannot move host " + host.name + " with " +
                                     std::to_string(host.running_vms) + " server(s) from zone " +
                                     host.availability_zone + " to zone " + next + ".");
  }
}

store::Host LoadHost(store::Tx& tx, const std::string& name) {
  store::HostFilter f;
  f.name = name;
  auto h = store::FindHost(tx, f);
  if (!h) throw Error(Errc::kNotFound, "Compute host " + name + " could not be found.");
  return *h;
}

Response Create(Deps& deps, Request& req) {
  AggregateBody body = ParseAggregateCreate(req);
  const std::string name = *body.name;
  const auto& az = body.availability_zone;
  json view;
  deps.db.Transact([&](store::Tx& tx) {
    view = View(req, store::CreateAggregate(tx, name, az, deps.clock.Now()));
  });
  // Nova's create answers without hosts and metadata (its controller deletes both keys from
  // the view "to maintain the same API result as before"); every other answer has them.
  view.erase("hosts");
  view.erase("metadata");
  spdlog::info("aggregate created name={} zone={}", name, az.value_or("-"));
  return {200, {{"aggregate", view}}};
}

Response Update(Deps& deps, Request& req) {
  AggregateBody body = ParseAggregateUpdate(req);
  const auto& name = body.name;
  const bool zone_given = body.zone_given;
  const auto& az = body.availability_zone;
  json view;
  deps.db.Transact([&](store::Tx& tx) {
    auto a = Load(tx, req.params[0]);
    if (name && *name != a.name) {
      for (const auto& other : store::ListAggregates(tx)) {
        if (other.name == *name)
          throw Error(Errc::kConflict, "Aggregate " + *name + " already exists.");
      }
      store::RenameAggregate(tx, a.id, *name, deps.clock.Now());
    }
    if (zone_given) {
      for (const auto& h : a.hosts) CheckZoneChange(tx, LoadHost(tx, h), a, az);
      store::SetAggregateMetadata(tx, a.id, {{"availability_zone", az}}, deps.clock.Now());
    }
    view = View(req, Load(tx, req.params[0]));
  });
  return {200, {{"aggregate", view}}};
}

Response Action(Deps& deps, Request& req) {
  AggregateAction parsed = ParseAggregateAction(req);
  const std::string& action = parsed.action;
  json view;
  if (action == "add_host" || action == "remove_host") {
    const std::string& host_name = parsed.host;
    deps.db.Transact([&](store::Tx& tx) {
      auto a = Load(tx, req.params[0]);
      auto host = LoadHost(tx, host_name);
      bool member = std::find(a.hosts.begin(), a.hosts.end(), host_name) != a.hosts.end();
      if (action == "add_host") {
        if (member)
          throw Error(Errc::kConflict,
                      "Aggregate " + std::to_string(a.id) + " already has host " + host_name + ".");
        CheckZoneChange(tx, host, a, a.availability_zone);
        store::AddAggregateHost(tx, a.id, host.id, deps.clock.Now());
      } else {
        if (!member)
          throw Error(Errc::kNotFound,
                      "Cannot remove host " + host_name + " in aggregate " + std::to_string(a.id));
        CheckZoneChange(tx, host, a, std::nullopt);
        store::RemoveAggregateHost(tx, a.id, host.id, deps.clock.Now());
      }
      view = View(req, Load(tx, req.params[0]));
    });
    spdlog::info("aggregate {} aggregate={} host={}", action, req.params[0], host_name);
  } else {  // set_metadata
    const auto& changes = parsed.metadata;
    deps.db.Transact([&](store::Tx& tx) {
      auto a = Load(tx, req.params[0]);
      if (auto z = changes.find("availability_zone"); z != changes.end()) {
        ValidZone(z->second);
        for (const auto& h : a.hosts) CheckZoneChange(tx, LoadHost(tx, h), a, z->second);
      }
      store::SetAggregateMetadata(tx, a.id, changes, deps.clock.Now());
      view = View(req, Load(tx, req.params[0]));
    });
  }
  return {200, {{"aggregate", view}}};
}

}  // namespace

void RegisterAggregateRoutes(ApiServer& api, Deps& deps) {
  api.Route("GET", "/v2\\.1/os-aggregates", Access::kAdmin, [&deps](Request& req) {
    json list = json::array();
    deps.db.Transact([&](store::Tx& tx) {
      for (const auto& a : store::ListAggregates(tx)) list.push_back(View(req, a));
    });
    return Response{200, {{"aggregates", list}}};
  });
  api.Route("POST", "/v2\\.1/os-aggregates", Access::kAdmin,
            [&deps](Request& req) { return Create(deps, req); });
  api.Route("GET", "/v2\\.1/os-aggregates/([^/]+)", Access::kAdmin, [&deps](Request& req) {
    json view;
    deps.db.Transact([&](store::Tx& tx) { view = View(req, Load(tx, req.params[0])); });
    return Response{200, {{"aggregate", view}}};
  });
  api.Route("PUT", "/v2\\.1/os-aggregates/([^/]+)", Access::kAdmin,
            [&deps](Request& req) { return Update(deps, req); });
  api.Route("DELETE", "/v2\\.1/os-aggregates/([^/]+)", Access::kAdmin, [&deps](Request& req) {
    deps.db.Transact([&](store::Tx& tx) {
      auto a = Load(tx, req.params[0]);
      if (!a.hosts.empty()) {
        throw Error(Errc::kBadRequest,
                    "Cannot delete aggregate " + req.params[0] + ": host list not empty.");
      }
      store::DeleteAggregate(tx, a.id);
    });
    return Response{200, nullptr};
  });
  api.Route("POST", "/v2\\.1/os-aggregates/([^/]+)/action", Access::kAdmin,
            [&deps](Request& req) { return Action(deps, req); });
}

}  // namespace ferry::controller::api
