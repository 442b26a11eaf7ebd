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

namespace {

// A message may quote what a client sent (a microversion header, the start of a long value cut
// inside a character). dump() throws on bytes that are not UTF-8, which turned such a 400 into
// a 500 (found by tests/fuzz/rest_bodies_fuzz): they become U+FFFD here.
std::string ValidUtf8(const std::string& s) {
  const std::string quoted =
      nlohmann::json(s).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  return nlohmann::json::parse(quoted).get<std::string>();
}

}  // namespace

nlohmann::json NovaFaultBody(Errc code, const std::string& message) {
  auto shape = NovaFault(code);
  return {{shape.name, {{"code", shape.status}, {"message", ValidUtf8(message)}}}};
}

}  // namespace ferry
