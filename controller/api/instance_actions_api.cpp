// GET /v2.1/servers/{id}/os-instance-actions[/{request_id}]: Nova's instance actions, built from
// the migration audit trail (store/instance_actions_store). One migration is one action; its
// migration_events rows are the action's events. Owner and admin may read, as Nova's
// PROJECT_READER_OR_ADMIN default. Microversions: 2.21 deleted servers, 2.51 events for
// non-admins, 2.58 updated_at and paging, 2.62 event host, 2.66 changes-before, 2.84 details.
#include <algorithm>
#include <cctype>
#include <limits>
#include <string>
#include <vector>

#include "common/errors.hpp"
#include "common/time_format.hpp"
#include "common/uuid.hpp"
#include "controller/api/api_server.hpp"
#include "controller/api/next_link.hpp"
#include "controller/api/validation.hpp"
#include "controller/store/database.hpp"
#include "controller/store/instance_actions_store.hpp"
#include "controller/store/servers_store.hpp"

namespace ferry::controller::api {
namespace {

using nlohmann::json;

constexpr int64_t kMaxLimit = 1000;  // Nova's [api] max_limit default

json OptJson(const std::optional<std::string>& v) { return v ? json(*v) : json(nullptr); }

// Nova's instance_actions constants for each migration type.
std::string ActionName(const std::string& migration_type) {
  if (migration_type == "migration") return "migrate";
  if (migration_type == "evacuation") return "evacuate";
  return migration_type;  // "live-migration", "resize" are Nova's names already
}

// A migration that ended in error or failed is an action that failed ("Error", as Nova's
// action finish sets the message); cancelled is an operator's choice, not an error.
bool IsErrorStatus(const std::string& status) { return status == "error" || status == "failed"; }

// The host an event ran on, when the actor names one: agents act as "agent:<host>", and an
// actor equal to either end of the move is that host. Users and the conductor name no host.
std::optional<std::string> EventHost(const store::InstanceAction& a, const std::string& actor) {
  static const std::string kAgentPrefix = "agent:";
  if (actor.rfind(kAgentPrefix, 0) == 0) return actor.substr(kAgentPrefix.size());
  if (actor == a.source_compute || actor == a.dest_compute) return actor;
  return std::nullopt;
}

json ActionView(const Request& req, const store::InstanceAction& a) {
  json o = {{"action", ActionName(a.migration_type)},
            {"instance_uuid", a.instance_uuid},
            {"request_id", a.request_id},
            {"user_id", OptJson(a.user_id)},
            {"project_id", OptJson(a.project_id)},
            {"start_time", FormatNovaTime(a.start_time)},
            {"message", IsErrorStatus(a.status) ? json("Error") : json(nullptr)}};
  if (req.mv.AtLeast(58)) o["updated_at"] = FormatNovaTime(a.updated_at);
  return o;
}

// Events arrive newest first; an event spans the time its from_status lasted, i.e. from the
// previous (older) event to this one. The first event (the request) is an instant.
json EventsView(const Request& req, const store::InstanceAction& a,
                const std::vector<store::InstanceActionEvent>& events) {
  json out = json::array();
  for (size_t i = 0; i < events.size(); ++i) {
    const auto& e = events[i];
    const TimePoint start = i + 1 < events.size() ? events[i + 1].at : e.at;
    json o = {{"event", e.event},
              {"start_time", FormatNovaTime(start)},
              {"finish_time", FormatNovaTime(e.at)},
              {"result", IsErrorStatus(e.to_status) ? "Error" : "Success"}};
    // ferry keeps no tracebacks; Nova shows the key to admins only, so do we.
    if (req.IsAdmin()) o["traceback"] = nullptr;
    if (req.mv.AtLeast(62)) {
      // Nova: host (a string, so only when known) for admins only; hostId is "" where ferry
      // computes none (as servers show it).
      if (auto host = EventHost(a, e.actor); host && req.IsAdmin()) o["host"] = *host;
      o["hostId"] = "";
    }
    if (req.mv.AtLeast(84)) o["details"] = OptJson(e.reason);
    out.push_back(std::move(o));
  }
  return out;
}

// Nova looks the instance up first (404), reading deleted ones from 2.21. ferry deletes server
// rows, so a deleted server is known by its migration records and their project.
void CheckInstanceVisible(store::Tx& tx, const Request& req, const std::string& uuid) {
  const Error not_found(Errc::kNotFound, "Instance " + uuid + " could not be found.");
  if (!IsUuid(uuid)) throw not_found;
  if (auto s = store::FindServer(tx, uuid)) {
    if (!req.IsAdmin() && s->project_id != req.principal.project_id) throw not_found;
    return;
  }
  if (!req.mv.AtLeast(21)) throw not_found;
  auto migrated = store::FindMigratedInstance(tx, uuid);
  if (!migrated || (!req.IsAdmin() && migrated->project_id != req.principal.project_id))
    throw not_found;
}

std::optional<TimePoint> TimeParam(const Request& req, const char* key) {
  auto v = req.Query(key);
  if (!v) return std::nullopt;
  return ParseTimeParam(key, *v);
}

// From 2.58 Nova's query schema names every parameter once (additionalProperties: false).
void CheckQueryKeys(const Request& req) {
  std::vector<std::string> allowed = {"limit", "marker", "changes-since"};
  if (req.mv.AtLeast(66)) allowed.push_back("changes-before");
  for (const auto& [key, value] : req.query) {
    if (std::find(allowed.begin(), allowed.end(), key) == allowed.end()) {
      throw Error(Errc::kBadRequest,
                  "Additional properties are not allowed ('" + key + "' was unexpected)");
    }
    if (req.query.count(key) > 1) {
      throw Error(Errc::kBadRequest, "Invalid input for query parameters " + key +
                                         ". Value: " + value + ". It may be given only once.");
    }
  }
}

store::InstanceActionFilter ParseFilter(const Request& req, const std::string& uuid) {
  store::InstanceActionFilter f;
  f.instance_uuid = uuid;
  // Below 2.58 Nova neither pages nor filters: every action.
  if (!req.mv.AtLeast(58)) {
    f.limit = std::numeric_limits<int64_t>::max();
    return f;
  }
  CheckQueryKeys(req);
  f.limit = kMaxLimit;
  if (auto limit = req.Query("limit")) f.limit = std::min(ParseLimitParam(*limit), kMaxLimit);
  f.marker = req.Query("marker");
  f.changes_since = TimeParam(req, "changes-since");
  if (req.mv.AtLeast(66)) {
    f.changes_before = TimeParam(req, "changes-before");
    if (f.changes_since && f.changes_before && *f.changes_since > *f.changes_before) {
      throw Error(Errc::kBadRequest,
                  "The value of changes-since must be less than or equal to changes-before.");
    }
  }
  return f;
}

Response List(Deps& deps, Request& req) {
  const std::string& uuid = req.params[0];
  json list = json::array();
  std::optional<std::string> last;  // request id of the page's last action
  store::InstanceActionFilter f;
  deps.db.Transact([&](store::Tx& tx) {
    CheckInstanceVisible(tx, req, uuid);
    f = ParseFilter(req, uuid);
    if (f.marker && !store::FindInstanceAction(tx, uuid, *f.marker)) {
      throw Error(Errc::kBadRequest, "Marker " + *f.marker + " could not be found.");
    }
    for (const auto& a : store::ListInstanceActions(tx, f)) {
      list.push_back(ActionView(req, a));
      last = a.request_id;
    }
  });
  json body = {{"instanceActions", list}};
  if (req.mv.AtLeast(58) && last && static_cast<int64_t>(list.size()) == f.limit) {
    body["links"] = {{{"rel", "next"}, {"href", NextLink(req, f.limit, *last)}}};
  }
  return {200, body};
}

Response Show(Deps& deps, Request& req) {
  const std::string& uuid = req.params[0];
  const std::string& request_id = req.params[1];
  json action;
  deps.db.Transact([&](store::Tx& tx) {
    CheckInstanceVisible(tx, req, uuid);
    auto a = store::FindInstanceAction(tx, uuid, request_id);
    if (!a) {
      throw Error(Errc::kNotFound,
                  "Action for request_id " + request_id + " on instance " + uuid + " not found");
    }
    action = ActionView(req, *a);
    // Nova's events policy: admins always; other readers from 2.51.
    if (req.IsAdmin() || req.mv.AtLeast(51)) {
      action["events"] = EventsView(req, *a, store::ListInstanceActionEvents(tx, a->migration_id));
    }
  });
  return {200, {{"instanceAction", action}}};
}

}  // namespace

void RegisterInstanceActionRoutes(ApiServer& api, Deps& deps) {
  api.Route("GET", "/v2\\.1/servers/([^/]+)/os-instance-actions", Access::kUser,
            [&deps](Request& req) { return List(deps, req); });
  api.Route("GET", "/v2\\.1/servers/([^/]+)/os-instance-actions/([^/]+)", Access::kUser,
            [&deps](Request& req) { return Show(deps, req); });
}

}  // namespace ferry::controller::api
