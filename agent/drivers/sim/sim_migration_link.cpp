#include "agent/drivers/sim/sim_migration_link.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "common/errors.hpp"
#include "common/json_limits.hpp"

namespace ferry::agent::sim {
namespace {

// 64 KiB: frames are a few hundred bytes; anything larger is not a sim peer.
constexpr uint32_t kMaxFrameBytes = 64 * 1024;
// 5 s to receive the rest of a frame whose first byte arrived: loopback or a LAN delivers a
// few hundred bytes in microseconds, so this only trips on a peer that hung mid-frame.
constexpr int kFrameTailTimeoutMs = 5000;

[[noreturn]] void Unavailable(const std::string& what) {
  throw Error(Errc::kUnavailable, what + ": " + std::strerror(errno));
}

struct AddrInfo {
  addrinfo* list = nullptr;
  ~AddrInfo() {
    if (list != nullptr) freeaddrinfo(list);
  }
};

void Resolve(const std::string& host, int port, bool passive, AddrInfo& out) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICSERV | (passive ? AI_PASSIVE : 0);
  int rc = getaddrinfo(host.c_str(), std::to_string(port).c_str(), &hints, &out.list);
  if (rc != 0) {
    throw Error(Errc::kUnavailable, "cannot resolve " + host + ": " + gai_strerror(rc));
  }
}

// True when fd became ready for `events` within timeout_ms.
bool WaitFor(int fd, short events, int timeout_ms) {
  pollfd p{fd, events, 0};
  for (;;) {
    int rc = ::poll(&p, 1, timeout_ms);
    if (rc < 0 && errno == EINTR) continue;
    if (rc < 0) Unavailable("poll");
    return rc > 0;
  }
}

void ReadExactly(int fd, char* buf, size_t n) {
  size_t done = 0;
  while (done < n) {
    if (!WaitFor(fd, POLLIN, kFrameTailTimeoutMs)) {
      throw Error(Errc::kUnavailable, "migration peer stalled mid-frame");
    }
    ssize_t got = ::recv(fd, buf + done, n - done, 0);
    if (got < 0 && errno == EINTR) continue;
    if (got < 0) Unavailable("receive from migration peer");
    if (got == 0) throw Error(Errc::kUnavailable, "migration peer closed the connection");
    done += static_cast<size_t>(got);
  }
}

}  // namespace

std::string FormatIncomingUri(const std::string& address, int port) {
  bool v6 = address.find(':') != std::string::npos;
  return "tcp:" + (v6 ? "[" + address + "]" : address) + ":" + std::to_string(port);
}

LinkSocket::~LinkSocket() {
  if (fd_ >= 0) ::close(fd_);
}

LinkSocket& LinkSocket::operator=(LinkSocket&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = other.fd_;
    other.fd_ = -1;
  }
  return *this;
}

LinkConnection LinkConnection::Connect(const std::string& uri, int timeout_ms) {
  const std::string prefix = "tcp:";
  auto colon = uri.rfind(':');
  if (uri.rfind(prefix, 0) != 0 || colon == std::string::npos || colon < prefix.size()) {
    throw Error(Errc::kBadRequest, "incoming_uri '" + uri + "' is not tcp:<address>:<port>");
  }
  std::string host = uri.substr(prefix.size(), colon - prefix.size());
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  int port = 0;
  try {
    port = std::stoi(uri.substr(colon + 1));
  } catch (const std::exception&) {
    throw Error(Errc::kBadRequest, "incoming_uri '" + uri + "' has no port");
  }
  AddrInfo ai;
  Resolve(host, port, false, ai);
  std::string last_error = "no address";
  for (addrinfo* a = ai.list; a != nullptr; a = a->ai_next) {
    LinkSocket s(::socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
    if (!s.open()) continue;
    int rc = ::connect(s.fd(), a->ai_addr, a->ai_addrlen);
    if (rc != 0 && errno == EINPROGRESS) {
      if (!WaitFor(s.fd(), POLLOUT, timeout_ms)) {
        last_error = "timed out";
        continue;
      }
      int err = 0;
      socklen_t len = sizeof(err);
      ::getsockopt(s.fd(), SOL_SOCKET, SO_ERROR, &err, &len);
      rc = err == 0 ? 0 : -1;
      errno = err;
    }
    if (rc != 0) {
      last_error = std::strerror(errno);
      continue;
    }
    // Back to blocking: sends are tiny, and reads go through poll() with their own timeout.
    ::fcntl(s.fd(), F_SETFL, ::fcntl(s.fd(), F_GETFL) & ~O_NONBLOCK);
    return LinkConnection(std::move(s));
  }
  throw Error(Errc::kUnavailable, "cannot connect to " + uri + ": " + last_error);
}

void LinkConnection::Send(const nlohmann::json& frame) {
  std::string body = frame.dump();
  uint32_t len = htonl(static_cast<uint32_t>(body.size()));
  std::string data(reinterpret_cast<const char*>(&len), sizeof(len));
  data += body;
  size_t done = 0;
  while (done < data.size()) {
    ssize_t n = ::send(socket_.fd(), data.data() + done, data.size() - done, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) Unavailable("send to migration peer");
    done += static_cast<size_t>(n);
  }
}

std::optional<nlohmann::json> LinkConnection::Receive(int timeout_ms) {
  if (!WaitFor(socket_.fd(), POLLIN, timeout_ms)) return std::nullopt;
  uint32_t len = 0;
  ReadExactly(socket_.fd(), reinterpret_cast<char*>(&len), sizeof(len));
  len = ntohl(len);
  if (len > kMaxFrameBytes)
    throw Error(Errc::kUnavailable, "migration peer sent an oversized frame");
  std::string body(len, '\0');
  ReadExactly(socket_.fd(), body.data(), len);
  try {
    return ParseBoundedJson(body);
  } catch (const nlohmann::json::exception& e) {
    throw Error(Errc::kUnavailable, std::string("migration peer sent garbage: ") + e.what());
  }
}

LinkListener::LinkListener(const std::string& address, int port) : address_(address) {
  AddrInfo ai;
  Resolve(address, port, true, ai);
  for (addrinfo* a = ai.list; a != nullptr && !socket_.open(); a = a->ai_next) {
    LinkSocket s(::socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, 0));
    if (!s.open()) continue;
    const int on = 1;
    ::setsockopt(s.fd(), SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on));
    if (::bind(s.fd(), a->ai_addr, a->ai_addrlen) != 0 || ::listen(s.fd(), 4) != 0) continue;
    sockaddr_storage bound{};
    socklen_t len = sizeof(bound);
    ::getsockname(s.fd(), reinterpret_cast<sockaddr*>(&bound), &len);
    port_ = bound.ss_family == AF_INET6 ? ntohs(reinterpret_cast<sockaddr_in6*>(&bound)->sin6_port)
                                        : ntohs(reinterpret_cast<sockaddr_in*>(&bound)->sin_port);
    socket_ = std::move(s);
  }
  if (!socket_.open()) {
    Unavailable("cannot listen for incoming migrations on " + address + ":" + std::to_string(port));
  }
}

std::optional<LinkConnection> LinkListener::Accept(int timeout_ms) {
  if (!WaitFor(socket_.fd(), POLLIN, timeout_ms)) return std::nullopt;
  int fd = ::accept4(socket_.fd(), nullptr, nullptr, SOCK_CLOEXEC);
  if (fd < 0) return std::nullopt;  // the peer gave up between poll and accept
  return LinkConnection(LinkSocket(fd));
}

}  // namespace ferry::agent::sim
