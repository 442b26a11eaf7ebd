#pragma once
// The wire between a source sim and a destination sim: a real TCP connection carrying small
// framed messages (4-byte big-endian length, then JSON), so the controller's incoming_uri is
// used exactly as a real hypervisor would use it, and a wrong address or a dead destination
// fails the way it would. Frames: {"type": "start" | "round" | "postcopy" | "switchover" |
// "cancel" | "ack" | "refuse", ...}.
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

namespace ferry::agent::sim {

// "tcp:<address>:<port>", brackets around an IPv6 literal.
std::string FormatIncomingUri(const std::string& address, int port);

// An open socket; closes it when destroyed. Movable, not copyable.
class LinkSocket {
 public:
  LinkSocket() = default;
  explicit LinkSocket(int fd) : fd_(fd) {}
  ~LinkSocket();
  LinkSocket(LinkSocket&& other) noexcept : fd_(other.fd_) { other.fd_ = -1; }
  LinkSocket& operator=(LinkSocket&& other) noexcept;
  LinkSocket(const LinkSocket&) = delete;
  LinkSocket& operator=(const LinkSocket&) = delete;
  int fd() const { return fd_; }
  bool open() const { return fd_ >= 0; }

 private:
  int fd_ = -1;
};

class LinkConnection {
 public:
  explicit LinkConnection(LinkSocket socket) : socket_(std::move(socket)) {}
  // Connects to "tcp:<host>:<port>". Throws ferry::Error(kUnavailable) naming the URI and the
  // reason, or kBadRequest for a URI that is not of that form.
  static LinkConnection Connect(const std::string& uri, int timeout_ms);

  // Throws ferry::Error(kUnavailable) when the peer is gone.
  void Send(const nlohmann::json& frame);
  // nullopt when nothing arrived within timeout_ms; throws ferry::Error(kUnavailable) when the
  // peer closed the connection or sent garbage.
  std::optional<nlohmann::json> Receive(int timeout_ms);

 private:
  LinkSocket socket_;
};

class LinkListener {
 public:
  // Listens on <address>:<port> (0: chosen by the kernel; a given port is reused even while
  // connections of an earlier listener on it linger in TIME_WAIT, so an agent restarted
  // listens where it did). Throws ferry::Error(kUnavailable).
  explicit LinkListener(const std::string& address, int port = 0);
  int Port() const { return port_; }
  const std::string& Address() const { return address_; }
  std::string Uri() const { return FormatIncomingUri(address_, port_); }
  // nullopt when no connection arrived within timeout_ms.
  std::optional<LinkConnection> Accept(int timeout_ms);

 private:
  std::string address_;
  int port_ = 0;
  LinkSocket socket_;
};

}  // namespace ferry::agent::sim
