// os-services: each host's compute service. Disabling removes a host from scheduling (the
// first step of a drain); forced_down declares it dead without waiting for heartbeats to stop.
#include <spdlog/spdlog.h>

#include "common/errors.hpp"
#include "common/time_format.hpp"
#include "common/uuid.hpp"
#include "controller/api/api_server.hpp"
#include "controller/api/validation.hpp"
#include "controller/store/database.hpp"
#include "controller/store/hosts_store.hpp"

namespace ferry::controller::api {
namespace {

using nlohmann::json;

// Nova's clients filter on this binary name (`--binary nova-compute`); ferry answers to it.
constexpr const char* kBinary = "nova-compute";

json View(const Request& req, const store::Host& h) {
  json v = {{"id", req.mv.AtLeast(53) ? json(h.service_uuid) : json(h.id)},
            {"binary", kBinary},
            {"host", h.name},
            {"zone", h.availability_zone},
            {"status", h.disabled ? "disabled" : "enabled"},
            {"state", h.IsUp() ? "up" : "down"},
            {"updated_at",
             h.last_heartbeat_at ? json(FormatNovaTime(*h.last_heartbeat_at)) : json(nullptr)},
            {"disabled_reason", h.disabled_reason ? json(*h.disabled_reason) : json(nullptr)}};
  if (req.mv.AtLeast(11)) v["forced_down"] = h.forced_down;
  return v;
}

Response List(Deps& deps, Request& req) {
  auto host = req.Query("host");
  auto binary = req.Query("binary");
  json list = json::array();
  if (binary && *binary != kBinary) return {200, {{"services", list}}};
  deps.db.Transact([&](store::Tx& tx) {
    store::HostFilter f;
    f.name = host;
    for (const auto& h : store::ListHosts(tx, f)) list.push_back(View(req, h));
  });
  return {200, {{"services", list}}};
}

void LogChange(const store::Host& h, const store::ServiceUpdate& u, const Request& req) {
  spdlog::info("service updated host={} disabled={} forced_down={} reason={} by={}", h.name,
               u.disabled ? (*u.disabled ? "true" : "false") : "-",
               u.forced_down ? (*u.forced_down ? "true" : "false") : "-",
               u.disabled_reason && *u.disabled_reason ? **u.disabled_reason : "-",
               req.principal.name);
}

// 2.53+: PUT /os-services/{service_uuid}.
Response Update(Deps& deps, Request& req) {
  const std::string& id = req.params[0];
  if (!req.mv.AtLeast(53)) throw Error(Errc::kNotFound, "The resource could not be found.");
  if (!IsUuid(id)) throw Error(Errc::kBadRequest, "Invalid uuid " + id);
  if (!req.body.is_object())
    throw Error(Errc::kBadRequest, "The request body must be a JSON object.");
  RejectUnknownKeys(req.body, {"status", "disabled_reason", "forced_down"});
  auto status = OptionalString(req.body, "status", 255, false);
  auto reason = OptionalString(req.body, "disabled_reason", 255, false);
  auto forced_down = OptionalBool(req.body, "forced_down");
  if (status && *status != "enabled" && *status != "disabled") {
    throw Error(Errc::kBadRequest, "Invalid input for field/attribute status. Value: " + *status +
                                       ". '" + *status + "' is not one of ['enabled', 'disabled']");
  }
  if (!status && !forced_down) {
    throw Error(Errc::kBadRequest,
                "At least one of 'status' or 'forced_down' must be specified in the request body.");
  }
  if (reason && status != "disabled") {
    throw Error(
        Errc::kBadRequest,
        "Specifying 'disabled_reason' with status 'enabled' or without 'status' is invalid.");
  }
  store::ServiceUpdate u;
  if (status) {
    u.disabled = *status == "disabled";
    // Enabling clears the reason; disabling sets it (or clears a stale one).
    u.disabled_reason = std::optional<std::string>(*status == "disabled" ? reason : std::nullopt);
  }
  u.forced_down = forced_down;
  json view;
  deps.db.Transact([&](store::Tx& tx) {
    store::HostFilter f;
    f.service_uuid = id;
    auto host = store::FindHost(tx, f);
    if (!host) throw Error(Errc::kNotFound, "Service " + id + " not found.");
    store::UpdateService(tx, host->id, u, deps.clock.Now());
    LogChange(*host, u, req);
    view = View(req, *store::FindHost(tx, f));
  });
  return {200, {{"service", view}}};
}

// Before 2.53: PUT /os-services/{enable|disable|disable-log-reason|force-down} {host, binary}.
Response LegacyAction(Deps& deps, Request& req) {
  if (req.mv.AtLeast(53)) throw Error(Errc::kNotFound, "The resource could not be found.");
  const std::string& action = req.params[0];
  if (!req.body.is_object())
    throw Error(Errc::kBadRequest, "The request body must be a JSON object.");
  RejectUnknownKeys(req.body, {"host", "binary", "disabled_reason", "forced_down"});
  std::string host_name = RequireName(req.body, "host");
  std::string binary = RequireName(req.body, "binary");
  store::ServiceUpdate u;
  if (action == "enable") {
    u.disabled = false;
    u.disabled_reason = std::optional<std::string>();
  } else if (action == "disable") {
    u.disabled = true;
  } else if (action == "disable-log-reason") {
    u.disabled = true;
    u.disabled_reason = std::optional<std::string>(RequireName(req.body, "disabled_reason"));
  } else if (action == "force-down" && req.mv.AtLeast(11)) {
    auto fd = OptionalBool(req.body, "forced_down");
    if (!fd) throw Error(Errc::kBadRequest, "'forced_down' is a required property");
    u.forced_down = *fd;
  } else {
    throw Error(Errc::kNotFound, "Unknown action");
  }
  json out = {{"host", host_name}, {"binary", binary}};
  deps.db.Transact([&](store::Tx& tx) {
    store::HostFilter f;
    f.name = host_name;
    auto host = binary == kBinary ? store::FindHost(tx, f) : std::nullopt;
    if (!host) throw Error(Errc::kNotFound, "Host '" + host_name + "' is not mapped to any cell");
    store::UpdateService(tx, host->id, u, deps.clock.Now());
    LogChange(*host, u, req);
    auto now = *store::FindHost(tx, f);
    if (action == "force-down") {
      out["forced_down"] = now.forced_down;
    } else {
      out["status"] = now.disabled ? "disabled" : "enabled";
      if (action == "disable-log-reason") out["disabled_reason"] = *now.disabled_reason;
    }
  });
  return {200, {{"service", out}}};
}

}  // namespace

void RegisterServiceRoutes(ApiServer& api, Deps& deps) {
  api.Route("GET", "/v2\\.1/os-services", Access::kAdmin,
            [&deps](Request& req) { return List(deps, req); });
  api.Route("PUT", "/v2\\.1/os-services/(enable|disable|disable-log-reason|force-down)",
            Access::kAdmin, [&deps](Request& req) {
              return req.mv.AtLeast(53) ? Update(deps, req) : LegacyAction(deps, req);
            });
  api.Route("PUT", "/v2\\.1/os-services/([^/]+)", Access::kAdmin,
            [&deps](Request& req) { return Update(deps, req); });
}

}  // namespace ferry::controller::api
