// os-availability-zone: the zones of the compute hosts, as Nova's availability_zone controller
// shows them. A zone with an enabled host is available; a zone whose hosts are all disabled is
// listed as unavailable. The detail (admin) names each available zone's enabled hosts with
// their nova-compute service. ferry runs no internal services (conductor, scheduler), so
// there is no "internal" zone.
#include <map>
#include <string>

#include "common/time_format.hpp"
#include "controller/api/api_server.hpp"
#include "controller/store/database.hpp"
#include "controller/store/hosts_store.hpp"

namespace ferry::controller::api {
namespace {

using nlohmann::json;

// Zone name -> its enabled hosts; zones whose hosts are all disabled map to an empty list.
std::map<std::string, std::vector<store::Host>> ZonesByHost(Deps& deps) {
  std::map<std::string, std::vector<store::Host>> zones;
  deps.db.Transact([&](store::Tx& tx) {
    for (const auto& h : store::ListHosts(tx)) {
      auto& enabled = zones[h.availability_zone];
      if (!h.disabled) enabled.push_back(h);
    }
  });
  return zones;
}

json ServiceView(const store::Host& h) {
  return {{"available", h.IsUp()},
          {"active", !h.disabled},
          {"updated_at",
           h.last_heartbeat_at ? json(FormatNovaTime(*h.last_heartbeat_at)) : json(nullptr)}};
}

// Available zones first, then the unavailable ones, as Nova lists them.
Response List(Deps& deps, bool detail) {
  const auto zones = ZonesByHost(deps);
  json info = json::array();
  for (const auto& [name, hosts] : zones) {
    if (hosts.empty()) continue;
    json view = {{"zoneName", name}, {"zoneState", {{"available", true}}}, {"hosts", nullptr}};
    if (detail) {
      view["hosts"] = json::object();
      for (const auto& h : hosts) view["hosts"][h.name] = {{"nova-compute", ServiceView(h)}};
    }
    info.push_back(view);
  }
  for (const auto& [name, hosts] : zones) {
    if (!hosts.empty()) continue;
    info.push_back({{"zoneName", name}, {"zoneState", {{"available", false}}}, {"hosts", nullptr}});
  }
  return {200, {{"availabilityZoneInfo", info}}};
}

}  // namespace

void RegisterAvailabilityZoneRoutes(ApiServer& api, Deps& deps) {
  api.Route("GET", "/v2\\.1/os-availability-zone", Access::kUser,
            [&deps](Request&) { return List(deps, false); });
  api.Route("GET", "/v2\\.1/os-availability-zone/detail", Access::kAdmin,
            [&deps](Request&) { return List(deps, true); });
}

}  // namespace ferry::controller::api
