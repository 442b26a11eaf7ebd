// What a user sets on a server besides its flavor and placement: accessIPv4, accessIPv6,
// description (2.19) and hostname (2.90), on create and with PUT /servers/{id}, checked as
// Nova's schemas (servers.py base_update, parameter_types) check them.
#include <arpa/inet.h>

#include "common/errors.hpp"
#include "controller/api/nova_schema.hpp"
#include "controller/api/request_bodies.hpp"
#include "controller/api/validation.hpp"

namespace ferry::controller::api {
namespace {

// Nova's "ipv4" and "ipv6" formats: what inet_pton reads (a dotted quad; RFC 4291 text). Nova
// keeps the address, not the text, and shows it in its canonical form (RFC 5952: lower case,
// the longest run of zero groups as "::"), which inet_ntop writes.
std::optional<std::string> AccessIp(const json& server, const char* key, int family) {
  auto it = server.find(key);
  if (it == server.end()) return std::nullopt;
  unsigned char address[sizeof(in6_addr)];
  char text[INET6_ADDRSTRLEN];
  if (!it->is_string() || inet_pton(family, it->get<std::string>().c_str(), address) != 1 ||
      inet_ntop(family, address, text, sizeof text) == nullptr) {
    const char* format = family == AF_INET ? "ipv4" : "ipv6";
    nova_schema::Invalid(key, *it, nova_schema::Repr(*it) + " is not a '" + format + "'");
  }
  return std::string(text);
}

// parameter_types.description: a string of at most 255 printable characters, or null.
std::optional<std::string> Description(const json& server) {
  return OptionalString(server, "description", 255, true);
}

// parameter_types.hostname (2.90): 2 to 63 of [a-zA-Z0-9-._]; from 2.94 parameter_types.fqdn,
// a fully qualified name: 1 to 255 of the same.
std::string Hostname(const Request& req, const json& server) {
  const json& v = server.at("hostname");
  const size_t min = req.mv.AtLeast(94) ? 1 : 2;
  const size_t max = req.mv.AtLeast(94) ? 255 : 63;
  const bool ok =
      v.is_string() && v.get<std::string>().size() >= min && v.get<std::string>().size() <= max &&
      v.get<std::string>().find_first_not_of(
          "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._") == std::string::npos;
  if (!ok) {
    nova_schema::Invalid("hostname", v,
                         nova_schema::Repr(v) + " does not match '^[a-zA-Z0-9-._]*$'");
  }
  return v.get<std::string>();
}

void RejectBefore(const Request& req, const json& server, const char* key, int minor) {
  if (server.contains(key) && !req.mv.AtLeast(minor)) {
    throw Error(Errc::kBadRequest, std::string("Additional properties are not allowed ('") + key +
                                       "' was unexpected)");
  }
}

// The attributes a create or an update body names; `into` keeps the others.
void ApplyAttributes(const Request& req, const json& server, store::ServerAttributes& into) {
  RejectBefore(req, server, "description", 19);
  RejectBefore(req, server, "hostname", 90);
  if (auto v4 = AccessIp(server, "accessIPv4", AF_INET)) into.access_ip_v4 = v4;
  if (auto v6 = AccessIp(server, "accessIPv6", AF_INET6)) into.access_ip_v6 = v6;
  if (server.contains("description")) into.description = Description(server);
  if (server.contains("hostname")) into.hostname = Hostname(req, server);
}

}  // namespace

store::ServerAttributes ParseServerAttributes(const Request& req, const json& server) {
  store::ServerAttributes out;
  ApplyAttributes(req, server, out);
  // "" is Nova's imageRef of a server booted from a volume: no image.
  out.image_ref = OptionalString(server, "imageRef", 255, false);
  if (out.image_ref && out.image_ref->empty()) out.image_ref.reset();
  return out;
}

void ApplyServerUpdate(const Request& req, store::Server& s) {
  const json& server = RequireMember(req.body, "server");
  if (req.body.is_object()) RejectUnknownKeys(req.body, {"server"});
  RejectUnknownKeys(
      server, {"name", "accessIPv4", "accessIPv6", "OS-DCF:diskConfig", "description", "hostname"});
  if (server.contains("OS-DCF:diskConfig")) {
    const json& disk = server["OS-DCF:diskConfig"];
    if (disk != "AUTO" && disk != "MANUAL") {
      nova_schema::Invalid("OS-DCF:diskConfig", disk,
                           nova_schema::Repr(disk) + " is not one of ['AUTO', 'MANUAL']");
    }
  }
  if (server.contains("name")) s.name = RequireName(server, "name");
  ApplyAttributes(req, server, s.attributes);
}

}  // namespace ferry::controller::api
