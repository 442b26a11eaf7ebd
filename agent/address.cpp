#include "agent/address.hpp"

#include <charconv>

#include "common/errors.hpp"

namespace ferry::agent {
namespace {

constexpr int kMaxPort = 65535;
constexpr int kHttpPort = 80;
constexpr int kHttpsPort = 443;

int ParsePort(const std::string& text, const std::string& whole) {
  int port = -1;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), port);
  if (text.empty() || ec != std::errc() || end != text.data() + text.size() || port < 0 ||
      port > kMaxPort) {
    throw Error(Errc::kBadRequest, "'" + whole + "': port '" + text + "' is not 0-65535");
  }
  return port;
}

// Splits "host:port" or "[v6]:port" (port optional when allowed) at the right colon.
HostPort SplitHostPort(const std::string& text, const std::string& whole, bool port_required) {
  HostPort hp;
  std::string rest;
  if (!text.empty() && text.front() == '[') {
    auto close = text.find(']');
    if (close == std::string::npos) throw Error(Errc::kBadRequest, "'" + whole + "': missing ']'");
    hp.host = text.substr(1, close - 1);
    rest = text.substr(close + 1);
  } else {
    auto colon = text.rfind(':');
    hp.host = text.substr(0, colon);
    rest = colon == std::string::npos ? "" : text.substr(colon);
  }
  if (hp.host.empty()) throw Error(Errc::kBadRequest, "'" + whole + "': missing host");
  if (rest.empty()) {
    if (port_required) throw Error(Errc::kBadRequest, "'" + whole + "': missing ':port'");
    hp.port = -1;
    return hp;
  }
  if (rest.front() != ':') throw Error(Errc::kBadRequest, "'" + whole + "': expected ':port'");
  hp.port = ParsePort(rest.substr(1), whole);
  return hp;
}

}  // namespace

HostPort ParseHostPort(const std::string& text) { return SplitHostPort(text, text, true); }

std::string FormatHostPort(const std::string& host, int port) {
  bool v6 = host.find(':') != std::string::npos;
  return (v6 ? "[" + host + "]" : host) + ":" + std::to_string(port);
}

bool IsWildcardHost(const std::string& host) {
  return host == "0.0.0.0" || host == "::" || host == "[::]";
}

std::string Url::Origin() const { return scheme + "://" + FormatHostPort(host, port); }

Url ParseUrl(const std::string& text) {
  Url url;
  auto sep = text.find("://");
  if (sep == std::string::npos) {
    throw Error(Errc::kBadRequest, "'" + text + "': expected http://host[:port][/path]");
  }
  url.scheme = text.substr(0, sep);
  if (url.scheme != "http" && url.scheme != "https") {
    throw Error(Errc::kBadRequest, "'" + text + "': scheme must be http or https");
  }
  std::string rest = text.substr(sep + 3);
  auto slash = rest.find('/');
  std::string authority = rest.substr(0, slash);
  url.path = slash == std::string::npos ? "" : rest.substr(slash);
  while (!url.path.empty() && url.path.back() == '/') url.path.pop_back();
  HostPort hp = SplitHostPort(authority, text, false);
  url.host = hp.host;
  url.port = hp.port >= 0 ? hp.port : (url.scheme == "https" ? kHttpsPort : kHttpPort);
  return url;
}

}  // namespace ferry::agent
