// GET /v2.1/os-migrations (admin; members get the policy's 403 after the query schema's 400):
// every move's record, as Nova's migrations controller serves
// it: filters, from 2.59 paging newest first with `migrations_links`, 2.66 changes-before,
// 2.80 user_id / project_id; plus, with X-Ferry-Extensions: true, ferry's fields phase,
// attempt, error and progress_percent.
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
#include "controller/api/nova_schema.hpp"
#include "controller/store/database.hpp"
#include "controller/store/migrations_store.hpp"

namespace ferry::controller::api {
namespace {

using nlohmann::json;

constexpr int64_t kMaxLimit = 1000;  // Nova's [api] max_limit default

json OptJson(const std::optional<std::string>& v) { return v ? json(*v) : json(nullptr); }
json OptJson(const std::optional<int64_t>& v) { return v ? json(*v) : json(nullptr); }

std::optional<TimePoint> TimeParam(const Request& req, const char* key) {
  auto v = req.Query(key);
  if (!v) return std::nullopt;
  auto t = ParseIsoTime(*v);
  if (!t) {
    throw Error(Errc::kBadRequest, std::string("Invalid input for query parameters ") + key +
                                       ". Value: " + *v + ". '" + *v + "' is not a 'date-time'");
  }
  return t;
}

// Share of what the move copies already copied: a live migration's memory, a cold move's
// disks (its guest is off); null until the copy reports a total.
json ProgressPercent(const store::Migration& m) {
  const bool live = m.migration_type == "live-migration";
  const auto& total = live ? m.memory_total : m.disk_total;
  const auto& left = live ? m.memory_remaining : m.disk_remaining;
  if (!total || *total <= 0 || !left) return nullptr;
  int64_t remaining = std::clamp<int64_t>(*left, 0, *total);
  return (*total - remaining) * 100 / *total;
}

json MigrationView(const Request& req, const store::Migration& m) {
  json o = {{"id", m.id},
            {"instance_uuid", m.instance_uuid},
            {"status", m.status},
            {"source_compute", OptJson(m.source_compute)},
            {"source_node", OptJson(m.source_node)},
            {"dest_compute", OptJson(m.dest_compute)},
            {"dest_node", OptJson(m.dest_node)},
            {"dest_host", OptJson(m.dest_host)},
            {"old_instance_type_id", OptJson(m.old_instance_type_id)},
            {"new_instance_type_id", OptJson(m.new_instance_type_id)},
            {"created_at", FormatNovaTime(m.created_at)},
            {"updated_at", m.updated_at ? json(FormatNovaTime(*m.updated_at)) : json(nullptr)}};
  if (req.ferry_extensions) {
    o["phase"] = OptJson(m.phase);
    o["attempt"] = m.attempt;
    o["error"] = OptJson(m.error_reason);
    o["progress_percent"] = ProgressPercent(m);
  }
  if (req.mv.AtLeast(23)) {
    o["migration_type"] = m.migration_type;
    // Only an in-progress live migration has a server-migrations resource to point at.
    if (m.migration_type == "live-migration" && m.api_in_progress) {
      std::string rel = "/servers/" + m.instance_uuid + "/migrations/" + std::to_string(m.id);
      o["links"] = {{{"href", req.base_url + "/v2.1" + rel}, {"rel", "self"}},
                    {{"href", req.base_url + rel}, {"rel", "bookmark"}}};
    }
  }
  if (req.mv.AtLeast(59)) o["uuid"] = m.uuid;
  if (req.mv.AtLeast(80)) {
    o["user_id"] = OptJson(m.user_id);
    o["project_id"] = OptJson(m.project_id);
  }
  return o;
}

// From 2.59 Nova's query schema lists every parameter (additionalProperties: false); paging,
// time and owner parameters are single_param (an array of at most one item). jsonschema
// reports the properties in the schema's order, each one's items before its maxItems, and
// the unexpected keys last. Older versions ignore extras and do not page.
void CheckQuery(const Request& req) {
  if (!req.mv.AtLeast(59)) return;
  namespace ns = nova_schema;
  std::vector<std::pair<std::string, bool>> properties = {
      // name, single
      {"hidden", false},         {"host", false},   {"instance_uuid", false},
      {"source_compute", false}, {"status", false}, {"migration_type", false},
      {"limit", true},           {"marker", true},  {"changes-since", true}};
  if (req.mv.AtLeast(66)) properties.push_back({"changes-before", true});
  if (req.mv.AtLeast(80))
    properties.insert(properties.end(), {{"user_id", true}, {"project_id", true}});
  auto invalid = [](const std::string& key, const json& value, const std::string& reason) {
    throw Error(Errc::kBadRequest, "Invalid input for query parameters " + key +
                                       ". Value: " + ns::Str(value) + ". " + reason);
  };
  for (const auto& [key, single] : properties) {
    auto [first, last] = req.query.equal_range(key);
    if (first == last) continue;
    json values = json::array();
    for (auto it = first; it != last; ++it) values.push_back(it->second);
    for (const auto& v : values) {
      const std::string text = v.get<std::string>();
      if (key == "limit") {  // parameter_types.non_negative_integer
        if (text.find_first_not_of("0123456789") != std::string::npos) {
          invalid(key, v, ns::Repr(v) + " does not match '^[0-9]*$'");
        }
        if (text.empty()) invalid(key, v, ns::Repr(v) + " is too short");
      }
      if ((key == "changes-since" || key == "changes-before") && !ParseIsoTime(text)) {
        invalid(key, v, ns::Repr(v) + " is not a 'date-time'");
      }
    }
    if (single && values.size() > 1) invalid(key, values, ns::Repr(values) + " is too long");
  }
  std::vector<std::string> extra;
  for (const auto& [key, value] : req.query) {
    bool known = std::any_of(properties.begin(), properties.end(),
                             [&](const auto& p) { return p.first == key; });
    if (!known && std::find(extra.begin(), extra.end(), key) == extra.end()) extra.push_back(key);
  }
  if (!extra.empty()) {
    std::string list;
    for (const auto& k : extra) list += (list.empty() ? "" : ", ") + ns::Repr(json(k));
    throw Error(Errc::kBadRequest, "Additional properties are not allowed (" + list +
                                       (extra.size() == 1 ? " was" : " were") + " unexpected)");
  }
}

store::MigrationFilter ParseFilter(const Request& req) {
  CheckQuery(req);
  store::MigrationFilter f;
  f.host = req.Query("host");
  f.source_compute = req.Query("source_compute");
  f.instance_uuid = req.Query("instance_uuid");
  f.migration_type = req.Query("migration_type");
  auto [first, last] = req.query.equal_range("status");
  if (first != last) {
    f.statuses.emplace();
    for (auto it = first; it != last; ++it) f.statuses->push_back(it->second);
  }
  // Below 2.59 Nova neither pages nor sorts: it returns every record.
  f.limit = std::numeric_limits<int64_t>::max();
  if (req.mv.AtLeast(59)) {
    f.limit = kMaxLimit;
    // Digits only (CheckQuery); anything past max_limit is max_limit.
    if (auto limit = req.Query("limit")) {
      f.limit = limit->size() > 6 ? kMaxLimit : std::min<int64_t>(std::stoll(*limit), kMaxLimit);
    }
    f.marker = req.Query("marker");
    f.changes_since = TimeParam(req, "changes-since");
  }
  if (req.mv.AtLeast(66)) {
    f.changes_before = TimeParam(req, "changes-before");
    if (f.changes_since && f.changes_before && *f.changes_since > *f.changes_before) {
      throw Error(Errc::kBadRequest,
                  "The value of changes-since must be less than or equal to changes-before.");
    }
  }
  if (req.mv.AtLeast(80)) {
    f.user_id = req.Query("user_id");
    f.project_id = req.Query("project_id");
  }
  return f;
}

Response List(Deps& deps, Request& req) {
  // The query schema (a decorator) first, then the policy, as Nova's index does.
  store::MigrationFilter f = ParseFilter(req);
  if (!req.IsAdmin()) {
    throw Error(Errc::kForbidden,
                "Policy doesn't allow os_compute_api:os-migrations:index to be performed.");
  }
  json list = json::array();
  std::string last;
  deps.db.Transact([&](store::Tx& tx) {
    if (f.marker && (!IsUuid(*f.marker) || !store::MigrationExists(tx, *f.marker))) {
      throw Error(Errc::kBadRequest, "Marker " + *f.marker + " could not be found.");
    }
    // A malformed instance uuid matches no record.
    if (f.instance_uuid && !IsUuid(*f.instance_uuid)) return;
    for (const auto& m : store::ListMigrations(tx, f)) {
      list.push_back(MigrationView(req, m));
      last = m.uuid;
    }
  });
  json body = {{"migrations", list}};
  if (req.mv.AtLeast(59) && !list.empty() && static_cast<int64_t>(list.size()) == f.limit) {
    body["migrations_links"] = {{{"rel", "next"}, {"href", NextLink(req, f.limit, last)}}};
  }
  return {200, body};
}

}  // namespace

void RegisterMigrationRoutes(ApiServer& api, Deps& deps) {
  api.Route("GET", "/v2\\.1/os-migrations", Access::kUser,
            [&deps](Request& req) { return List(deps, req); });
}

}  // namespace ferry::controller::api
