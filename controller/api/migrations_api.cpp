// GET /v2.1/os-migrations (admin): every move's record, as Nova's migrations controller serves
// it: filters, from 2.59 paging newest first with `migrations_links`, 2.66 changes-before,
// 2.80 user_id / project_id; plus ferry's additive fields phase, attempt, error and
// progress_percent.
#include <algorithm>
#include <cctype>
#include <limits>
#include <string>
#include <vector>

#include "common/errors.hpp"
#include "common/time_format.hpp"
#include "common/uuid.hpp"
#include "controller/api/api_server.hpp"
#include "controller/api/validation.hpp"
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

// Share of the guest's memory already copied; null until the copy reports a total.
json ProgressPercent(const store::Migration& m) {
  if (!m.memory_total || *m.memory_total <= 0 || !m.memory_remaining) return nullptr;
  int64_t remaining = std::clamp<int64_t>(*m.memory_remaining, 0, *m.memory_total);
  return (*m.memory_total - remaining) * 100 / *m.memory_total;
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
            {"updated_at", m.updated_at ? json(FormatNovaTime(*m.updated_at)) : json(nullptr)},
            // ferry's additive fields
            {"phase", OptJson(m.phase)},
            {"attempt", m.attempt},
            {"error", OptJson(m.error_reason)},
            {"progress_percent", ProgressPercent(m)}};
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

std::string UrlEncode(const std::string& s) {
  static const char* kHex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

// The next page keeps the request's filters, as Nova's _get_next_link copies request.params.
std::string NextLink(const Request& req, int64_t limit, const std::string& marker) {
  std::string href = req.base_url + req.path + "?limit=" + std::to_string(limit) + "&marker=" + marker;
  for (const auto& [key, value] : req.query) {
    if (key == "limit" || key == "marker") continue;
    href += "&" + UrlEncode(key) + "=" + UrlEncode(value);
  }
  return href;
}

// From 2.59 Nova's query schema lists every parameter (additionalProperties: false) and takes
// paging, time and owner parameters once each (single_param); older versions ignore extras.
void CheckQueryKeys(const Request& req) {
  if (!req.mv.AtLeast(59)) return;
  std::vector<std::string> single = {"limit", "marker", "changes-since"};
  if (req.mv.AtLeast(66)) single.push_back("changes-before");
  if (req.mv.AtLeast(80)) single.insert(single.end(), {"user_id", "project_id"});
  const std::vector<std::string> multi = {"hidden", "host", "instance_uuid", "source_compute",
                                          "status", "migration_type"};
  auto in = [](const std::vector<std::string>& v, const std::string& k) {
    return std::find(v.begin(), v.end(), k) != v.end();
  };
  for (const auto& [key, value] : req.query) {
    if (in(single, key)) {
      if (req.query.count(key) > 1) {
        throw Error(Errc::kBadRequest, "Invalid input for query parameters " + key +
                                           ". Value: " + value + ". It may be given only once.");
      }
    } else if (!in(multi, key)) {
      throw Error(Errc::kBadRequest,
                  "Additional properties are not allowed ('" + key + "' was unexpected)");
    }
  }
}

store::MigrationFilter ParseFilter(const Request& req) {
  CheckQueryKeys(req);
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
    if (auto limit = req.Query("limit")) f.limit = std::min(ParseLimitParam(*limit), kMaxLimit);
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
  store::MigrationFilter f = ParseFilter(req);
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
  api.Route("GET", "/v2\\.1/os-migrations", Access::kAdmin,
            [&deps](Request& req) { return List(deps, req); });
}

}  // namespace ferry::controller::api
