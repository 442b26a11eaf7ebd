#pragma once
// Parsing of the agent's network flags (--listen, --controller-url, --advertise-url).
#include <string>

namespace ferry::agent {

struct HostPort {
  std::string host;  // without IPv6 brackets
  int port = 0;
};

// "127.0.0.1:0", "[::1]:8080", "agent1.example:9000". Throws ferry::Error(kBadRequest).
HostPort ParseHostPort(const std::string& text);
// Adds brackets around IPv6 literals, so the result can go into a URL.
std::string FormatHostPort(const std::string& host, int port);
// 0.0.0.0 / :: accept on every interface but mean nothing to a peer.
bool IsWildcardHost(const std::string& host);

struct Url {
  std::string scheme;  // "http" or "https"
  std::string host;    // without IPv6 brackets
  int port = 0;        // explicit or the scheme's default
  std::string path;    // prefix without trailing '/', "" for none
  // "scheme://host:port", the form httplib::Client takes.
  std::string Origin() const;
};

// http(s)://host[:port][/prefix]. Throws ferry::Error(kBadRequest).
Url ParseUrl(const std::string& text);

}  // namespace ferry::agent
