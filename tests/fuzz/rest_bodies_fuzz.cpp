// The REST request bodies of the main user and admin routes, read the way the API reads them:
// the bounded JSON parse of ApiServer::Dispatch, the microversion negotiation, then the route's
// body validators (controller/api/request_bodies.hpp), which run before any lookup.
//
// Input: one header line, then the body:  "<route> <role> <OpenStack-API-Version value>\n{...}"
//   route: server_create | server_action | server_group_create | flavor_create |
//          aggregate_create | aggregate_update | aggregate_action
//   role:  admin | member
// Findings: a sanitizer report, an exception other than ferry::Error(4xx), an error body that
// does not serialize, or an accepted body that breaks what the route promises (below).
#include <cstdint>
#include <functional>
#include <map>
#include <string>

#include "common/json_limits.hpp"
#include "common/uuid.hpp"
#include "controller/api/microversion.hpp"
#include "controller/api/request_bodies.hpp"
#include "tests/fuzz/fuzz_support.hpp"

namespace {

using ferry::fuzz::Finding;
using nlohmann::json;
namespace api = ferry::controller::api;

bool ValidName(const std::string& name) {
  if (name.empty() || name.size() > 255) return false;
  for (unsigned char c : name) {
    if (c < 0x20 || c == 0x7f) return false;
  }
  return name.front() != ' ' && name.back() != ' ';
}

void ServerCreate(const api::Request& req) {
  auto body = api::ParseServerCreate(req);
  if (!ValidName(body.request.name)) Finding("server name accepted: " + body.request.name);
  if (body.forced_host && !req.IsAdmin()) Finding("a member forced a host");
  if (body.request.group_uuid && !ferry::IsUuid(*body.request.group_uuid)) {
    Finding("group hint accepted that is not a uuid");
  }
}

constexpr const char* kServer = "6f1a7a4e-1c1e-4b8e-9a55-3f0c6a9e2b11";

// migrate and resize: what is accepted is a host Nova's fqdn pattern admits (2.56+ only), a
// non-empty flavor id, a disk config of Nova's two.
void ColdAction(const api::Request& req, const std::string& action) {
  auto r = action == "migrate" ? api::ParseMigrate(req, kServer) : api::ParseResize(req, kServer);
  if (r.host && (r.host->empty() || r.host->size() > 255 || !req.mv.AtLeast(56) ||
                 r.host->find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                           "0123456789-._") != std::string::npos)) {
    Finding("migrate host accepted: " + *r.host);
  }
  if ((action == "resize") != r.flavor_ref.has_value()) Finding("flavor_ref for " + action);
  if (r.flavor_ref && r.flavor_ref->empty()) Finding("empty flavorRef accepted");
  if (r.disk_config && *r.disk_config != "AUTO" && *r.disk_config != "MANUAL") {
    Finding("disk config accepted: " + *r.disk_config);
  }
}

void ServerAction(const api::Request& req) {
  const std::string action = api::ServerActionName(req);
  if (action == "migrate" || action == "resize") return ColdAction(req, action);
  if (action != "os-migrateLive") return;
  api::ValidateMigrateLive(req);
  auto r = api::ParseMigrateLive(req, kServer);
  if (r.block_migration != "auto" && r.block_migration != "true" && r.block_migration != "false") {
    Finding("block_migration " + r.block_migration);
  }
  if (r.force && !r.host) Finding("force without a host accepted");
}

void ServerGroupCreate(const api::Request& req) {
  auto g = api::ParseServerGroupCreate(req);
  if (!ValidName(g.name)) Finding("server group name accepted: " + g.name);
  const bool soft = g.policy == "soft-affinity" || g.policy == "soft-anti-affinity";
  if (g.policy != "affinity" && g.policy != "anti-affinity" && !(soft && req.mv.AtLeast(15))) {
    Finding("policy accepted: " + g.policy);
  }
}

void FlavorCreate(const api::Request& req) {
  auto f = api::ParseFlavorCreate(req);
  if (f.memory_mb < 1 || f.vcpus < 1 || f.root_gb < 0 || !(f.rxtx_factor > 0)) {
    Finding("flavor sizes accepted out of range");
  }
  if (f.flavorid.empty() || f.flavorid.find_first_of("/ ?#") != std::string::npos) {
    Finding("flavor id accepted: " + f.flavorid);
  }
}

void CheckZone(const std::optional<std::string>& az) {
  if (az && (az->empty() || az->find(':') != std::string::npos)) Finding("zone accepted: " + *az);
}

void AggregateCreate(const api::Request& req) {
  auto a = api::ParseAggregateCreate(req);
  if (!a.name || !ValidName(*a.name)) Finding("aggregate name accepted");
  CheckZone(a.availability_zone);
}

void AggregateUpdate(const api::Request& req) {
  auto a = api::ParseAggregateUpdate(req);
  if (a.name && !ValidName(*a.name)) Finding("aggregate name accepted: " + *a.name);
  CheckZone(a.availability_zone);
}

void AggregateAction(const api::Request& req) {
  auto a = api::ParseAggregateAction(req);
  if (a.action != "set_metadata" && !ValidName(a.host)) Finding("host name accepted: " + a.host);
  for (const auto& [key, value] : a.metadata) {
    if (key.empty() || key.size() > 255 || (value && value->size() > 255)) {
      Finding("metadata accepted: " + key);
    }
  }
}

const std::map<std::string, std::function<void(const api::Request&)>>& Routes() {
  static const std::map<std::string, std::function<void(const api::Request&)>> kRoutes = {
      {"server_create", ServerCreate},
      {"server_action", ServerAction},
      {"server_group_create", ServerGroupCreate},
      {"flavor_create", FlavorCreate},
      {"aggregate_create", AggregateCreate},
      {"aggregate_update", AggregateUpdate},
      {"aggregate_action", AggregateAction},
  };
  return kRoutes;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input = ferry::fuzz::AsText(data, size);
  const size_t eol = input.find('\n');
  if (eol == std::string_view::npos) return 0;
  const std::string header(input.substr(0, eol));
  const std::string_view body = input.substr(eol + 1);
  const size_t sp1 = header.find(' ');
  const size_t sp2 = sp1 == std::string::npos ? sp1 : header.find(' ', sp1 + 1);
  if (sp2 == std::string::npos) return 0;
  const auto route = Routes().find(header.substr(0, sp1));
  if (route == Routes().end()) return 0;
  const std::string role = header.substr(sp1 + 1, sp2 - sp1 - 1);

  api::Request req;
  req.principal = {role == "admin" ? ferry::Role::kAdmin : ferry::Role::kMember, "project-a"};
  req.request_id = "req-fuzz";
  try {
    req.mv = api::NegotiateMicroversion(header.substr(sp2 + 1), std::nullopt);
    // As ApiServer::Dispatch: an empty body stays null, a malformed one (or a number too large
    // for a double) is a 400.
    if (!body.empty()) {
      try {
        req.body = ferry::ParseBoundedJson(body);
      } catch (const json::exception&) {
        return 0;
      }
    }
    route->second(req);
  } catch (const ferry::Error& e) {
    ferry::fuzz::ExpectClientError(e);
  } catch (const std::exception& e) {
    Finding(std::string("unexpected exception (a 500 or a library message as the answer): ") +
            e.what());
  }
  return 0;
}
