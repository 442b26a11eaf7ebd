// Version discovery: novaclient GETs /v2.1 before every command, openstacksdk GETs /v2.1/;
// both are unauthenticated in ferry so discovery works before a token is known.
#include "controller/api/api_server.hpp"

namespace ferry::controller::api {
namespace {

// The version as GET / lists it: no media-types (Nova shows those for a single version only).
nlohmann::json VersionSummary(const Request& req) {
  return {{"id", "v2.1"},
          {"status", "CURRENT"},
          {"version", kMaxVersion.ToString()},
          {"min_version", kMinVersion.ToString()},
          {"updated", "2013-07-23T11:33:21Z"},
          {"links", {{{"href", req.base_url + "/v2.1/"}, {"rel", "self"}}}}};
}

// GET /v2.1: the version with Nova's describedby link and its media types.
nlohmann::json VersionDoc(const Request& req) {
  nlohmann::json v = VersionSummary(req);
  v["links"].push_back(
      {{"href", "http://docs.openstack.org/"}, {"rel", "describedby"}, {"type", "text/html"}});
  v["media-types"] = {{{"base", "application/json"},
                       {"type", "application/vnd.openstack.compute+json;version=2.1"}}};
  return v;
}

}  // namespace

void RegisterVersionRoutes(ApiServer& api) {
  api.Route("GET", "/", Access::kPublic, [](Request& req) {
    return Response{200, {{"versions", {VersionSummary(req)}}}};
  });
  api.Route("GET", "/v2\\.1/?", Access::kPublic, [](Request& req) {
    return Response{200, {{"version", VersionDoc(req)}}};
  });
}

}  // namespace ferry::controller::api
