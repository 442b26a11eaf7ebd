// /flavors/{id}/os-extra_specs: every user reads a visible flavor's extra specs; admins set,
// update and delete them, as Nova's flavors_extraspecs controller does. Values arrive as
// strings or numbers and are kept as strings (a number as Python's str() prints it); create and
// update answer with the body as sent. ferry checks the schema only: the 2.86 validation of
// known namespaces (hw:, ...) is not done, so such a spec is accepted at any version.
#include <spdlog/spdlog.h>

#include <string>

#include "common/errors.hpp"
#include "controller/api/api_server.hpp"
#include "controller/api/flavor_visibility.hpp"
#include "controller/api/nova_schema.hpp"
#include "controller/api/validation.hpp"
#include "controller/store/database.hpp"
#include "controller/store/flavors_store.hpp"

namespace ferry::controller::api {
namespace {

using nlohmann::json;
namespace ns = nova_schema;

// 255: the schema's key pattern ^[a-zA-Z0-9-_:. ]{1,255}$ and the value's maxLength (the
// flavor_extra_specs columns are String(255)).
constexpr size_t kMaxSpecChars = 255;

bool ValidKey(const std::string& key) {
  return !key.empty() && key.size() <= kMaxSpecChars &&
         key.find_first_not_of(
             "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_:. ") ==
             std::string::npos;
}

// The schema's _metadata: keys by the pattern, values strings or numbers of at most 255
// characters. Returns the specs as stored (numbers as text).
json SpecsToStore(const json& specs) {
  if (!specs.is_object())
    ns::Invalid("extra_specs", specs, ns::Repr(specs) + " is not of type 'object'");
  std::string unexpected;
  for (auto it = specs.begin(); it != specs.end(); ++it) {
    if (!ValidKey(it.key()))
      unexpected += (unexpected.empty() ? "" : ", ") + ns::Repr(json(it.key()));
  }
  if (!unexpected.empty()) {
    throw Error(Errc::kBadRequest,
                "Additional properties are not allowed (" + unexpected + " was unexpected)");
  }
  json out = json::object();
  for (auto it = specs.begin(); it != specs.end(); ++it) {
    const json& v = it.value();
    if (!v.is_string() && !v.is_number()) {
      ns::Invalid(it.key(), v, ns::Repr(v) + " is not of type 'string', 'number'");
    }
    const std::string text = v.is_string() ? v.get<std::string>() : v.dump();
    if (text.size() > kMaxSpecChars) {
      if (v.is_string()) ns::Invalid(it.key(), v, ns::Repr(v) + " is too long");
      throw Error(Errc::kBadRequest,
                  "Invalid input received: extra_specs value has more than 255 characters.");
    }
    out[it.key()] = text;
  }
  return out;
}

store::Flavor LoadVisible(store::Tx& tx, const Request& req, const std::string& id) {
  auto f = store::FindFlavor(tx, id);
  if (!f || !FlavorVisible(tx, req, *f)) {
    throw Error(Errc::kNotFound, "Flavor " + id + " could not be found.");
  }
  return *f;
}

Response Index(Deps& deps, Request& req) {
  json specs;
  deps.db.Transact([&](store::Tx& tx) { specs = LoadVisible(tx, req, req.params[0]).extra_specs; });
  return {200, {{"extra_specs", specs}}};
}

Response Show(Deps& deps, Request& req) {
  const std::string& key = req.params[1];
  json out;
  deps.db.Transact([&](store::Tx& tx) {
    auto specs = LoadVisible(tx, req, req.params[0]).extra_specs;
    if (!specs.contains(key)) {
      throw Error(Errc::kNotFound,
                  "Flavor " + req.params[0] + " has no extra specs with key " + key + ".");
    }
    out = {{key, specs[key]}};
  });
  return {200, out};
}

void Merge(Deps& deps, const std::string& flavorid, const json& specs) {
  bool found = false;
  deps.db.Transact(
      [&](store::Tx& tx) { found = store::MergeFlavorExtraSpecs(tx, flavorid, specs); });
  if (!found) throw Error(Errc::kNotFound, "Flavor " + flavorid + " could not be found.");
  spdlog::info("flavor extra specs set flavor={} keys={}", flavorid, specs.size());
}

Response Create(Deps& deps, Request& req) {
  if (req.body.is_object()) RejectUnknownKeys(req.body, {"extra_specs"});
  if (!req.body.is_object() || !req.body.contains("extra_specs")) {
    throw Error(Errc::kBadRequest, "'extra_specs' is a required property");
  }
  Merge(deps, req.params[0], SpecsToStore(req.body["extra_specs"]));
  return {200, req.body};
}

Response Update(Deps& deps, Request& req) {
  const std::string& key = req.params[1];
  if (!req.body.is_object() || req.body.size() != 1) {
    throw Error(Errc::kBadRequest, "The request body must hold exactly one extra spec.");
  }
  json stored = SpecsToStore(req.body);
  if (!req.body.contains(key)) throw Error(Errc::kBadRequest, "Request body and URI mismatch");
  Merge(deps, req.params[0], stored);
  return {200, req.body};
}

Response Delete(Deps& deps, Request& req) {
  const std::string& key = req.params[1];
  deps.db.Transact([&](store::Tx& tx) {
    LoadVisible(tx, req, req.params[0]);
    if (!store::DeleteFlavorExtraSpec(tx, req.params[0], key)) {
      throw Error(Errc::kNotFound,
                  "Flavor " + req.params[0] + " has no extra specs with key " + key + ".");
    }
  });
  spdlog::info("flavor extra spec deleted flavor={} key={}", req.params[0], key);
  return {200, nullptr};  // Nova: 200 and no body (flavors_extraspecs.delete)
}

}  // namespace

void RegisterFlavorExtraSpecRoutes(ApiServer& api, Deps& deps) {
  // openstackclient reads every flavor's extra specs when listing flavors.
  api.Route("GET", "/v2\\.1/flavors/([^/]+)/os-extra_specs", Access::kUser,
            [&deps](Request& req) { return Index(deps, req); });
  api.Route("POST", "/v2\\.1/flavors/([^/]+)/os-extra_specs", Access::kAdmin,
            [&deps](Request& req) { return Create(deps, req); });
  api.Route("GET", "/v2\\.1/flavors/([^/]+)/os-extra_specs/([^/]+)", Access::kUser,
            [&deps](Request& req) { return Show(deps, req); });
  api.Route("PUT", "/v2\\.1/flavors/([^/]+)/os-extra_specs/([^/]+)", Access::kAdmin,
            [&deps](Request& req) { return Update(deps, req); });
  api.Route("DELETE", "/v2\\.1/flavors/([^/]+)/os-extra_specs/([^/]+)", Access::kAdmin,
            [&deps](Request& req) { return Delete(deps, req); });
}

}  // namespace ferry::controller::api
