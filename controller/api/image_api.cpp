// /image: the read side of the Image service v2 API (Glance), for the catalog's `image` entry.
// ferry stores no images: a server's imageRef is kept as given and never resolved. But
// openstackclient opens an image client before `server list`, `server show` and `server
// create`, and fails outright ("public endpoint for image service ... not found") when the
// catalog has none, so a ferry-only cloud (deploy/keystone register-compute adds the entry when
// the catalog has no image service of its own) answers here: an empty image list, 404 for any
// image. Clients then show a server's image by its id, as they do for an image that was deleted.
// Where a real Glance is in the catalog this endpoint is simply not used.
#include "common/errors.hpp"
#include "controller/api/api_server.hpp"

namespace ferry::controller::api {
namespace {

// The only version served; 2.0 is Glance's oldest v2 and all that listing needs.
nlohmann::json VersionsDoc(const Request& req) {
  return {{"versions",
           {{{"id", "v2.0"},
             {"status", "CURRENT"},
             {"links", {{{"rel", "self"}, {"href", req.base_url + "/image/v2/"}}}}}}}};
}

}  // namespace

void RegisterImageRoutes(ApiServer& api) {
  // Discovery is unauthenticated, as Glance's is and as ferry's compute versions are.
  api.Route("GET", "/image/?", Access::kPublic, [](Request& req) {
    return Response{200, VersionsDoc(req)};
  });
  api.Route("GET", "/image/v2/images", Access::kUser, [](Request&) {
    return Response{200,
                    {{"images", nlohmann::json::array()},
                     {"first", "/v2/images"},
                     {"schema", "/v2/schemas/images"}}};
  });
  api.Route("GET", "/image/v2/images/([^/]+)", Access::kUser, [](Request&) -> Response {
    throw Error(Errc::kNotFound, "No image found: ferry keeps no images.");
  });
}

}  // namespace ferry::controller::api
