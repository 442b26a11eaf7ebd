#include "common/nova_fault.hpp"

namespace ferry {

NovaFaultShape NovaFault(Errc code) {
  switch (code) {
    case Errc::kBadRequest: return {400, "badRequest"};
    case Errc::kUnauthorized: return {401, "unauthorized"};
    case Errc::kForbidden: return {403, "forbidden"};
    case Errc::kNotFound: return {404, "itemNotFound"};
    case Errc::kNotAcceptable: return {406, "notAcceptable"};
    case Errc::kConflict: return {409, "conflictingRequest"};
    case Errc::kUnavailable: return {503, "serviceUnavailable"};
    case Errc::kInternal: return {500, "computeFault"};
  }
  return {500, "computeFault"};
}

nlohmann::json NovaFaultBody(Errc code, const std::string& message) {
  auto shape = NovaFault(code);
  return {{shape.name, {{"code", shape.status}, {"message", message}}}};
}

}  // namespace ferry
