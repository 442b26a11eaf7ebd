// flavors: list, detail, show for every user; create, update (2.55: description) and delete
// for admins. Extra specs: flavor_extra_specs_api.cpp.
#include <spdlog/spdlog.h>

#include "common/errors.hpp"
#include "common/uuid.hpp"
#include "controller/api/api_server.hpp"
#include "controller/api/flavor_visibility.hpp"
#include "controller/api/next_link.hpp"
#include "controller/api/request_bodies.hpp"
#include "controller/api/validation.hpp"
#include "controller/store/database.hpp"
#include "controller/store/flavors_store.hpp"

namespace ferry::controller::api {
namespace {

using nlohmann::json;

json Links(const Request& req, const std::string& id) {
  return {{{"href", req.base_url + "/v2.1/flavors/" + id}, {"rel", "self"}},
          {{"href", req.base_url + "/flavors/" + id}, {"rel", "bookmark"}}};
}

json View(const Request& req, const store::Flavor& f, bool detail) {
  json v = {{"id", f.flavorid}, {"name", f.name}, {"links", Links(req, f.flavorid)}};
  if (req.mv.AtLeast(55)) v["description"] = f.description ? json(*f.description) : json(nullptr);
  if (!detail) return v;
  v["ram"] = f.memory_mb;
  v["vcpus"] = f.vcpus;
  v["disk"] = f.root_gb;
  v["OS-FLV-EXT-DATA:ephemeral"] = f.ephemeral_gb;
  v["swap"] = f.swap_mb == 0 && !req.mv.AtLeast(75) ? json("") : json(f.swap_mb);
  v["rxtx_factor"] = f.rxtx_factor;
  v["os-flavor-access:is_public"] = f.is_public;
  v["OS-FLV-DISABLED:disabled"] = false;
  if (req.mv.AtLeast(61)) v["extra_specs"] = f.extra_specs;
  return v;
}

constexpr int64_t kMaxLimit = 1000;  // Nova's [api] max_limit default

// GET /flavors?minRam=&minDisk=&limit=&marker= as Nova reads them.
struct FlavorQuery {
  int64_t min_ram_mb = 0;
  int64_t min_disk_gb = 0;
  int64_t limit = kMaxLimit;
  std::optional<std::string> marker;
  // Nova: an admin sees public flavors unless is_public says otherwise ("false": private only,
  // "none": all); everyone else sees the public ones and those shared with their project.
  std::optional<bool> is_public = true;
};

// Nova: "Invalid minRam filter [x]" for anything but a non-negative integer.
int64_t MinFilter(const Request& req, const char* name) {
  auto value = req.Query(name);
  if (!value) return 0;
  if (value->empty() || value->size() > 18 ||
      value->find_first_not_of("0123456789") != std::string::npos) {
    throw Error(Errc::kBadRequest, std::string("Invalid ") + name + " filter [" + *value + "]");
  }
  return std::stoll(*value);
}

FlavorQuery ParseFlavorQuery(const Request& req) {
  FlavorQuery q;
  q.min_ram_mb = MinFilter(req, "minRam");
  q.min_disk_gb = MinFilter(req, "minDisk");
  if (auto limit = req.Query("limit")) q.limit = std::min(ParseLimitParam(*limit), kMaxLimit);
  q.marker = req.Query("marker");
  if (auto is_public = req.Query("is_public"); is_public && req.IsAdmin()) {
    if (*is_public == "none" || *is_public == "None") {
      q.is_public.reset();
    } else {
      q.is_public = ParseBoolParam("is_public", *is_public);
    }
  }
  return q;
}

// The visible flavors that pass the filters, after the marker (in the store's order), at most
// limit of them. An unknown marker is Nova's 400.
std::vector<store::Flavor> Page(store::Tx& tx, const Request& req, const FlavorQuery& q) {
  std::vector<store::Flavor> out;
  bool after_marker = !q.marker;
  for (const auto& f : store::ListFlavors(tx)) {
    if (req.IsAdmin() ? q.is_public && f.is_public != *q.is_public : !FlavorVisible(tx, req, f)) {
      continue;
    }
    if (!after_marker) {
      after_marker = f.flavorid == *q.marker;
      continue;
    }
    if (f.memory_mb < q.min_ram_mb || f.root_gb < q.min_disk_gb) continue;
    if (static_cast<int64_t>(out.size()) == q.limit) break;
    out.push_back(f);
  }
  if (!after_marker) throw Error(Errc::kBadRequest, "marker [" + *q.marker + "] not found");
  return out;
}

Response List(Deps& deps, Request& req, bool detail) {
  const FlavorQuery q = ParseFlavorQuery(req);
  std::vector<store::Flavor> page;
  deps.db.Transact([&](store::Tx& tx) { page = Page(tx, req, q); });
  json list = json::array();
  for (const auto& f : page) list.push_back(View(req, f, detail));
  json body = {{"flavors", list}};
  if (req.Query("limit") && static_cast<int64_t>(page.size()) == q.limit && !page.empty()) {
    body["flavors_links"] = {
        {{"rel", "next"}, {"href", NextLink(req, q.limit, page.back().flavorid)}}};
  }
  return {200, body};
}

Response Create(Deps& deps, Request& req) {
  store::Flavor f = ParseFlavorCreate(req);
  json view;
  deps.db.Transact([&](store::Tx& tx) { view = View(req, store::CreateFlavor(tx, f), true); });
  spdlog::info("flavor created id={} name={} by={}", f.flavorid, f.name, req.principal.name);
  return {200, {{"flavor", view}}};
}

// PUT /flavors/{id} (2.55): only the description changes; the answer is the whole flavor.
Response Update(Deps& deps, Request& req) {
  if (!req.mv.AtLeast(55)) throw Error(Errc::kNotFound, "The resource could not be found.");
  const json& body = RequireMember(req.body, "flavor");
  RejectUnknownKeys(body, {"description"});
  if (!body.contains("description")) {
    throw Error(Errc::kBadRequest, "'description' is a required property");
  }
  // 65535: Nova's _flavor_description maxLength (a TEXT column).
  auto description = OptionalString(body, "description", 65535);
  json view;
  deps.db.Transact([&](store::Tx& tx) {
    if (!store::SetFlavorDescription(tx, req.params[0], description)) {
      throw Error(Errc::kNotFound, "Flavor " + req.params[0] + " could not be found.");
    }
    view = View(req, *store::FindFlavor(tx, req.params[0]), true);
  });
  return {200, {{"flavor", view}}};
}

}  // namespace

void RegisterFlavorRoutes(ApiServer& api, Deps& deps) {
  RegisterFlavorExtraSpecRoutes(api, deps);
  RegisterFlavorAccessRoutes(api, deps);
  api.Route("GET", "/v2\\.1/flavors", Access::kUser,
            [&deps](Request& req) { return List(deps, req, false); });
  api.Route("GET", "/v2\\.1/flavors/detail", Access::kUser,
            [&deps](Request& req) { return List(deps, req, true); });
  api.Route("POST", "/v2\\.1/flavors", Access::kAdmin,
            [&deps](Request& req) { return Create(deps, req); });
  api.Route("GET", "/v2\\.1/flavors/([^/]+)", Access::kUser, [&deps](Request& req) {
    json view;
    deps.db.Transact([&](store::Tx& tx) {
      auto f = store::FindFlavor(tx, req.params[0]);
      if (!f || !FlavorVisible(tx, req, *f)) {
        throw Error(Errc::kNotFound, "Flavor " + req.params[0] + " could not be found.");
      }
      view = View(req, *f, true);
    });
    return Response{200, {{"flavor", view}}};
  });
  api.Route("PUT", "/v2\\.1/flavors/([^/]+)", Access::kAdmin,
            [&deps](Request& req) { return Update(deps, req); });
  api.Route("DELETE", "/v2\\.1/flavors/([^/]+)", Access::kAdmin, [&deps](Request& req) {
    bool deleted = false;
    deps.db.Transact([&](store::Tx& tx) { deleted = store::DeleteFlavor(tx, req.params[0]); });
    if (!deleted) throw Error(Errc::kNotFound, "Flavor " + req.params[0] + " could not be found.");
    spdlog::info("flavor deleted id={} by={}", req.params[0], req.principal.name);
    return Response{202, nullptr};
  });
}

}  // namespace ferry::controller::api
