#include "agent/disk_transfer/transfer_uri.hpp"

#include "common/errors.hpp"

namespace ferry::agent::transfer {
namespace {

constexpr const char* kScheme = "ferry-disk://";
// 253: the longest DNS name.
constexpr size_t kMaxHost = 253;

[[noreturn]] void Bad(const std::string& uri, const std::string& why) {
  throw Error(Errc::kBadRequest, "disk transfer uri '" + uri.substr(0, 300) + "': " + why);
}

}  // namespace

std::string FormatTransferUri(const std::string& host, int port) {
  const bool v6 = host.find(':') != std::string::npos;
  return std::string(kScheme) + (v6 ? "[" + host + "]" : host) + ":" + std::to_string(port);
}

TransferUri ParseTransferUri(const std::string& uri) {
  const std::string scheme = kScheme;
  if (uri.compare(0, scheme.size(), scheme) != 0) Bad(uri, "not ferry-disk://host:port");
  const std::string rest = uri.substr(scheme.size());
  TransferUri out;
  std::string port;
  if (!rest.empty() && rest[0] == '[') {
    const auto close = rest.find(']');
    if (close == std::string::npos || rest.compare(close + 1, 1, ":") != 0) {
      Bad(uri, "an IPv6 address is [address]:port");
    }
    out.host = rest.substr(1, close - 1);
    port = rest.substr(close + 2);
  } else {
    const auto colon = rest.find(':');
    if (colon == std::string::npos) Bad(uri, "no port");
    out.host = rest.substr(0, colon);
    port = rest.substr(colon + 1);
  }
  if (out.host.empty() || out.host.size() > kMaxHost) Bad(uri, "no host");
  for (char c : out.host) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '.' || c == '-' || c == ':' || c == '_';
    if (!ok) Bad(uri, "a host name or address has no such character");
  }
  if (port.empty() || port.size() > 5 ||
      port.find_first_not_of("0123456789") != std::string::npos) {
    Bad(uri, "the port is not a number");
  }
  out.port = std::stoi(port);
  if (out.port < 1 || out.port > 65535) Bad(uri, "the port is not in 1..65535");
  return out;
}

}  // namespace ferry::agent::transfer
