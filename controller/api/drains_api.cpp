// /v2.1/ferry/drains (admin): host drains, planned before they start (controller/drains).
//   POST   /v2.1/ferry/drains              {"drain": {"host", "mode", "max_parallel", "dry_run",
//                                           "target_hosts", "deadline"}}; Idempotency-Key
//          dry run: 200 the plan (nothing changes); new: 202; the host's running drain or the
//          key's: 200 that drain (a cron re-run attaches instead of starting another)
//   GET    /v2.1/ferry/drains              {"drains": [...]} newest first
//   GET    /v2.1/ferry/drains/{id}         {"drain": ...}: plan, progress, ETA, per server
//   POST   /v2.1/ferry/drains/{id}/action  {"pause"|"resume"|"cancel": null} -> 202
#include <algorithm>
#include <cmath>
#include <set>

#include "common/errors.hpp"
#include "common/time_format.hpp"
#include "common/uuid.hpp"
#include "controller/api/api_server.hpp"
#include "controller/drains/service.hpp"

namespace ferry::controller::api {
namespace {

using nlohmann::json;

constexpr size_t kMaxTargetHosts = 1000;

json OptTime(const std::optional<TimePoint>& t) {
  return t ? json(FormatNovaTime(*t)) : json(nullptr);
}
json OptText(const std::optional<std::string>& s) { return s ? json(*s) : json(nullptr); }

json View(const store::Drain& d) {
  json servers = json::array();
  std::map<std::string, int> counts = {{"moved", 0},  {"moving", 0},  {"pending", 0},
                                       {"failed", 0}, {"skipped", 0}, {"cancelled", 0}};
  int64_t bytes_total = 0, bytes_moved = 0;
  double seconds_left = 0;
  const json& starts =
      d.plan.contains("starts_after_seconds") ? d.plan["starts_after_seconds"] : json::object();
  for (const auto& s : d.servers) {
    // "starting" (the move's request being made) shows as moving.
    ++counts[s.state == "starting" ? "moving" : s.state];
    bytes_total += s.bytes;
    if (s.state == "moved") bytes_moved += s.bytes;
    if (s.state == "pending" || s.state == "starting" || s.state == "moving") {
      seconds_left += s.predicted_seconds;
    }
    json seconds = nullptr;
    if (s.started_at && s.finished_at && s.state == "moved") {
      seconds = std::chrono::duration<double>(*s.finished_at - *s.started_at).count();
    }
    servers.push_back({{"server", s.server_uuid},
                       {"name", s.name},
                       {"position", s.position},
                       {"kind", s.kind},
                       {"planned_destination", OptText(s.planned_dest)},
                       {"destination", OptText(s.dest)},
                       {"state", s.state},
                       {"bytes", s.bytes},
                       {"predicted_seconds", s.predicted_seconds},
                       {"starts_after_seconds", starts.value(s.server_uuid, 0.0)},
                       {"migration", OptText(s.migration_uuid)},
                       {"attempts", s.attempts},
                       {"started_at", OptTime(s.started_at)},
                       {"finished_at", OptTime(s.finished_at)},
                       {"seconds", seconds},
                       {"reason", OptText(s.reason)}});
  }
  // The ETA of what is left: the predictions of the moves not finished (each its bytes at the
  // rate its kind may go), max_parallel at a time (or fewer when fewer are left). Null once
  // nothing is left, or for a drain that is not moving.
  json eta = nullptr;
  const int left = counts["pending"] + counts["moving"];
  if (left > 0 && (d.status == "running" || d.status == "planned")) {
    const int lanes = std::max(1, std::min(d.plan.value("lanes", d.max_parallel), left));
    eta = static_cast<int64_t>(std::ceil(seconds_left / lanes));
  }
  json left_servers = json::array();
  for (const auto& s : d.servers) {
    if (s.state == "skipped") {
      left_servers.push_back(
          {{"server", s.server_uuid}, {"name", s.name}, {"reason", OptText(s.reason)}});
    }
  }
  return {{"id", d.uuid.empty() ? json(nullptr) : json(d.uuid)},
          {"host", d.host},
          {"mode", d.mode},
          {"status", d.status},
          {"max_parallel", d.max_parallel},
          {"target_hosts", d.target_hosts},
          {"deadline", OptTime(d.deadline)},
          {"host_down", d.plan.value("host_down", false)},
          {"created_at", FormatNovaTime(d.created_at)},
          {"updated_at", FormatNovaTime(d.updated_at)},
          {"finished_at", OptTime(d.finished_at)},
          {"verdict", {{"fits", d.plan.value("fits", true)}, {"left", left_servers}}},
          {"predicted_seconds", d.plan.value("predicted_seconds", 0.0)},
          {"progress",
           {{"total", d.servers.size()},
            {"moved", counts["moved"]},
            {"moving", counts["moving"]},
            {"pending", counts["pending"]},
            {"failed", counts["failed"]},
            {"skipped", counts["skipped"]},
            {"cancelled", counts["cancelled"]},
            {"bytes_total", bytes_total},
            {"bytes_moved", bytes_moved},
            {"eta_seconds", eta}}},
          {"servers", servers}};
}

std::string HostName(const json& v, const std::string& field) {
  if (!v.is_string()) throw Error(Errc::kBadRequest, "'" + field + "' must be a host name.");
  const auto& s = v.get_ref<const std::string&>();
  const bool ok = !s.empty() && s.size() <= 255 && std::all_of(s.begin(), s.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '.' || c == '_';
  });
  if (!ok)
    throw Error(Errc::kBadRequest,
                "'" + field + "' must be a host name (1-255 of [a-zA-Z0-9-._]).");
  return s;
}

drains::DrainRequest Parse(const Request& req, TimePoint now) {
  if (!req.body.is_object() || !req.body.contains("drain") || req.body.size() != 1 ||
      !req.body.at("drain").is_object()) {
    throw Error(Errc::kBadRequest, "The body must be {\"drain\": {...}}.");
  }
  const json& b = req.body.at("drain");
  static const std::set<std::string> known = {"host",    "mode",         "max_parallel",
                                              "dry_run", "target_hosts", "deadline"};
  for (auto it = b.begin(); it != b.end(); ++it) {
    if (!known.count(it.key())) {
      throw Error(Errc::kBadRequest, "Unknown drain field '" + it.key() + "'.");
    }
  }
  drains::DrainRequest r;
  if (!b.contains("host")) throw Error(Errc::kBadRequest, "'host' is required.");
  r.host = HostName(b.at("host"), "host");
  if (b.contains("mode")) {
    const json& m = b.at("mode");
    if (!m.is_string() || (m != "live" && m != "cold" && m != "auto")) {
      throw Error(Errc::kBadRequest, "'mode' must be one of live, cold, auto.");
    }
    r.mode = m;
  }
  if (b.contains("max_parallel")) {
    const json& p = b.at("max_parallel");
    if (!p.is_number_integer() || p.get<int64_t>() < 1 || p.get<int64_t>() > 64) {
      throw Error(Errc::kBadRequest, "'max_parallel' must be an integer from 1 to 64.");
    }
    r.max_parallel = p.get<int>();
  }
  if (b.contains("dry_run")) {
    if (!b.at("dry_run").is_boolean())
      throw Error(Errc::kBadRequest, "'dry_run' must be a boolean.");
    r.dry_run = b.at("dry_run");
  }
  if (b.contains("target_hosts")) {
    const json& t = b.at("target_hosts");
    if (!t.is_array() || t.size() > kMaxTargetHosts) {
      throw Error(Errc::kBadRequest, "'target_hosts' must be a list of at most 1000 host names.");
    }
    for (const auto& h : t) r.target_hosts.push_back(HostName(h, "target_hosts"));
  }
  if (b.contains("deadline") && !b.at("deadline").is_null()) {
    const json& d = b.at("deadline");
    std::optional<TimePoint> t;
    if (d.is_string() && d.get_ref<const std::string&>().size() <= 64) {
      t = ParseIsoTime(d.get<std::string>());
    }
    if (!t) throw Error(Errc::kBadRequest, "'deadline' must be an ISO 8601 time.");
    if (*t <= now) throw Error(Errc::kBadRequest, "'deadline' has passed.");
    r.deadline = t;
  }
  if (req.idempotency_key && (req.idempotency_key->empty() || req.idempotency_key->size() > 200)) {
    throw Error(Errc::kBadRequest, "Idempotency-Key must be 1 to 200 characters.");
  }
  r.idempotency_key = req.idempotency_key;
  r.user_id = req.principal.user_id;
  r.project_id = req.principal.project_id;
  return r;
}

std::string DrainId(const Request& req) {
  const std::string& id = req.params.at(0);
  if (!IsUuid(id)) throw Error(Errc::kNotFound, "Drain " + id + " could not be found.");
  return id;
}

}  // namespace

void RegisterDrainRoutes(ApiServer& api, Deps& deps) {
  api.Route("POST", "/v2\\.1/ferry/drains", Access::kAdmin, [&deps](Request& req) {
    auto answer = deps.drains.Request(Parse(req, deps.clock.Now()));
    const int code = answer.created ? 202 : 200;
    return Response{code, {{"drain", View(answer.drain)}}};
  });
  api.Route("GET", "/v2\\.1/ferry/drains", Access::kAdmin, [&deps](Request&) {
    json list = json::array();
    for (const auto& d : deps.drains.List()) list.push_back(View(d));
    return Response{200, {{"drains", list}}};
  });
  api.Route("GET", "/v2\\.1/ferry/drains/([^/]+)", Access::kAdmin, [&deps](Request& req) {
    return Response{200, {{"drain", View(deps.drains.Get(DrainId(req)))}}};
  });
  api.Route("POST", "/v2\\.1/ferry/drains/([^/]+)/action", Access::kAdmin, [&deps](Request& req) {
    const auto id = DrainId(req);
    if (!req.body.is_object() || req.body.size() != 1) {
      throw Error(Errc::kBadRequest, "The body must name one action: pause, resume or cancel.");
    }
    const std::string action = req.body.begin().key();
    if (action != "pause" && action != "resume" && action != "cancel") {
      throw Error(Errc::kBadRequest, "Unknown drain action '" + action + "'.");
    }
    return Response{202, {{"drain", View(deps.drains.Act(id, action))}}};
  });
}

}  // namespace ferry::controller::api
