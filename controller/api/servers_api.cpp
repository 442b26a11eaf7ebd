// servers: list (host, name, status filters; paging), detail, show, create, delete.
// Create commits the server with its claims (or in ERROR "No valid host") and returns 202; the
// conductor then has the agent build it. Delete returns 204 and the conductor removes it.
#include "common/errors.hpp"
#include "common/json_limits.hpp"
#include "common/uuid.hpp"
#include "controller/api/api_server.hpp"
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

store::Server LoadVisible(store::Tx& tx, const Request& req, const std::string& uuid) {
  std::optional<store::Server> s;
  if (IsUuid(uuid)) s = store::FindServer(tx, uuid);
  if (!s || (!req.IsAdmin() && s->project_id != req.principal.name)) {
    throw Error(Errc::kNotFound, "Instance " + uuid + " could not be found.");
  }
  return *s;
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
    for (const auto& s : store::ListServers(tx, f)) {
      list.push_back(detail ? ServerDetail(req, s) : ServerSummary(req, s));
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

// os:scheduler_hints {"group": "<uuid>"}: the server joins that server group and the scheduler
// honours its policy. Other hints are accepted and, for now, not used.
std::optional<std::string> GroupHint(const json& body) {
  for (const char* key : {"os:scheduler_hints", "OS-SCH-HNT:scheduler_hints"}) {
    if (!body.contains(key)) continue;
    const json& hints = body[key];
    if (!hints.is_object()) {
      throw Error(Errc::kBadRequest, std::string("Invalid input for field/attribute ") + key + ".");
    }
    if (!hints.contains("group")) continue;
    if (!hints["group"].is_string() || !IsUuid(hints["group"].get<std::string>())) {
      throw Error(Errc::kBadRequest, "Invalid input for field/attribute group. Value: " +
                                         BoundedDump(hints["group"]) + " is not a 'uuid'");
    }
    return hints["group"].get<std::string>();
  }
  return std::nullopt;
}

conductor::CreateServerRequest ParseCreate(Deps& deps, Request& req) {
  if (req.body.is_object()) RejectUnknownKeys(req.body, {"server", "os:scheduler_hints", "OS-SCH-HNT:scheduler_hints"});
  const json& body = RequireMember(req.body, "server");
  RejectUnknownKeys(body, {"name", "flavorRef", "imageRef", "availability_zone", "networks", "metadata",
                           "key_name", "user_data", "adminPass", "security_groups",
                           "block_device_mapping_v2", "config_drive", "host", "hypervisor_hostname",
                           "description", "min_count", "max_count", "OS-DCF:diskConfig", "accessIPv4",
                           "accessIPv6", "tags", "hostname", "return_reservation_id"});
  conductor::CreateServerRequest out;
  out.name = RequireName(body, "name");
  if (!body.contains("flavorRef")) throw Error(Errc::kBadRequest, "'flavorRef' is a required property");
  std::string flavor_ref = body["flavorRef"].is_number_integer() ? std::to_string(body["flavorRef"].get<int64_t>())
                                                                  : *OptionalString(body, "flavorRef", 255, false);
  // One server per request for now: a count above 1 is refused rather than silently ignored.
  OptionalInt(body, "min_count", 1, 1);
  OptionalInt(body, "max_count", 1, 1);
  if (body.contains("metadata")) {
    if (!body["metadata"].is_object()) throw Error(Errc::kBadRequest, "Invalid input for field/attribute metadata. It must be an object.");
    for (auto it = body["metadata"].begin(); it != body["metadata"].end(); ++it) {
      if (!it->is_string() || it.key().empty() || it.key().size() > 255 || it->get<std::string>().size() > 255) {
        throw Error(Errc::kBadRequest, "Invalid input for field/attribute metadata. Keys and values must be strings of at most 255 characters.");
      }
    }
    out.metadata = body["metadata"];
  }
  if (body.contains("block_device_mapping_v2")) {
    if (!body["block_device_mapping_v2"].is_array()) throw Error(Errc::kBadRequest, "Invalid input for field/attribute block_device_mapping_v2.");
    for (const auto& bdm : body["block_device_mapping_v2"]) {
      if (!bdm.is_object()) throw Error(Errc::kBadRequest, "Invalid input for field/attribute block_device_mapping_v2.");
      if (bdm.value("destination_type", "") == "volume") {
        out.volumes.push_back({{"id", bdm.value("uuid", "")}});
        // Compared in place: a copy of a member's value would cost its whole size.
        auto boot_index = bdm.find("boot_index");
        if (boot_index != bdm.end() && (*boot_index == 0 || *boot_index == "0"))
          out.storage_kind = "volume";
      }
    }
  }
  std::optional<std::string> forced;
  if (auto az = OptionalString(body, "availability_zone")) {
    auto colon = az->find(':');
    if (colon != std::string::npos) {
      forced = az->substr(colon + 1);
      if (auto second = forced->find(':'); second != std::string::npos) forced = forced->substr(0, second);
      if (colon > 0) out.availability_zone = az->substr(0, colon);
      if (forced->empty()) forced.reset();
    } else {
      out.availability_zone = *az;
    }
  }
  if (auto host = OptionalString(body, "host")) {
    if (!req.mv.AtLeast(74)) throw Error(Errc::kBadRequest, "Additional properties are not allowed ('host' was unexpected)");
    forced = host;
  }
  if (forced && !req.IsAdmin()) throw Error(Errc::kForbidden, "Policy doesn't allow os_compute_api:servers:create:forced_host to be performed.");
  deps.db.Transact([&](store::Tx& tx) {
    auto flavor = store::FindFlavor(tx, FlavorIdFromRef(flavor_ref));
    if (!flavor || (!flavor->is_public && !req.IsAdmin())) throw Error(Errc::kBadRequest, "Flavor " + flavor_ref + " could not be found.");
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
  out.group_uuid = GroupHint(req.body);
  out.forced_host = forced;
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
    deps.db.Transact([&](store::Tx& tx) { view = ServerDetail(req, LoadVisible(tx, req, req.params[0])); });
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
