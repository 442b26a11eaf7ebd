// /v2.1/ferry/unmanaged-domains: domains agents report that ferry does not manage. They are
// shown, never adopted silently; an admin adopts one explicitly with a flavor that matches it.
// /v2.1/ferry/misplaced-domains: managed servers a host reports that are recorded on another
// (running twice), or that their own host no longer reports. Shown, never acted on.
// /v2.1/ferry/domains-to-reap: servers deleted while their host was down; their claims stay
// until the host reports again and its agent has deleted the domain.
#include "common/errors.hpp"
#include "common/time_format.hpp"
#include "common/uuid.hpp"
#include "controller/api/api_server.hpp"
#include "controller/api/server_view.hpp"
#include "controller/api/validation.hpp"
#include "controller/conductor/server_lifecycle.hpp"
#include "controller/store/database.hpp"
#include "controller/store/flavors_store.hpp"
#include "controller/store/hosts_store.hpp"
#include "controller/store/inventory_store.hpp"
#include "controller/store/reap_store.hpp"

namespace ferry::controller::api {
namespace {

using nlohmann::json;

json View(const store::UnmanagedDomain& d) {
  return {{"uuid", d.uuid},
          {"name", d.name},
          {"host", d.host},
          {"vcpus", d.vcpus},
          {"memory_mb", d.memory_mb},
          {"disk_gb", d.disk_gb},
          {"power_state", d.power_state},
          {"first_seen_at", FormatNovaTime(d.first_seen_at)},
          {"last_seen_at", FormatNovaTime(d.last_seen_at)}};
}

json View(const store::MisplacedDomain& d) {
  return {{"server_uuid", d.server_uuid},
          {"kind", d.kind},
          {"host", d.host},
          {"recorded_host", d.recorded_host ? json(*d.recorded_host) : json(nullptr)},
          {"power_state", d.power_state},
          {"first_seen_at", FormatNovaTime(d.first_seen_at)},
          {"last_seen_at", FormatNovaTime(d.last_seen_at)}};
}

Response Adopt(Deps& deps, Request& req) {
  const std::string& uuid = req.params[0];
  if (!IsUuid(uuid))
    throw Error(Errc::kNotFound, "Unmanaged domain " + uuid + " could not be found.");
  const json& body = RequireMember(req.body, "adopt");
  RejectUnknownKeys(body, {"flavorRef"});
  if (!body.contains("flavorRef"))
    throw Error(Errc::kBadRequest, "'flavorRef' is a required property");
  std::string ref = body["flavorRef"].is_number_integer()
                        ? std::to_string(body["flavorRef"].get<int64_t>())
                        : *OptionalString(body, "flavorRef", 255, false);
  store::Flavor flavor;
  deps.db.Transact([&](store::Tx& tx) {
    auto f = store::FindFlavor(tx, ref);
    if (!f) throw Error(Errc::kBadRequest, "Flavor " + ref + " could not be found.");
    flavor = *f;
  });
  auto server = deps.servers.Adopt(uuid, flavor, req.principal.user_id, req.principal.project_id);
  return {202, {{"server", ServerDetail(req, server)}}};
}

}  // namespace

void RegisterUnmanagedRoutes(ApiServer& api, Deps& deps) {
  api.Route("GET", "/v2\\.1/ferry/unmanaged-domains", Access::kAdmin, [&deps](Request&) {
    json list = json::array();
    deps.db.Transact([&](store::Tx& tx) {
      for (const auto& d : store::ListUnmanagedDomains(tx)) list.push_back(View(d));
    });
    return Response{200, {{"unmanaged_domains", list}}};
  });
  api.Route("GET", "/v2\\.1/ferry/misplaced-domains", Access::kAdmin, [&deps](Request&) {
    json list = json::array();
    deps.db.Transact([&](store::Tx& tx) {
      for (const auto& d : store::ListMisplacedDomains(tx)) list.push_back(View(d));
    });
    return Response{200, {{"misplaced_domains", list}}};
  });
  api.Route("GET", "/v2\\.1/ferry/domains-to-reap", Access::kAdmin, [&deps](Request&) {
    json list = json::array();
    deps.db.Transact([&](store::Tx& tx) {
      for (const auto& r : store::ListDomainsToReap(tx)) {
        list.push_back({{"server_uuid", r.server_uuid},
                        {"host", r.host},
                        {"host_up", r.host_up},
                        {"deleted_at", FormatNovaTime(r.deleted_at)}});
      }
    });
    return Response{200, {{"domains_to_reap", list}}};
  });
  api.Route("POST", "/v2\\.1/ferry/unmanaged-domains/([^/]+)/action", Access::kAdmin,
            [&deps](Request& req) { return Adopt(deps, req); });
}

}  // namespace ferry::controller::api
