#include "agent/disk_transfer/disk_receiver.hpp"

#include <arpa/inet.h>
#include <netdb.h>
#include <poll.h>
#include <spdlog/spdlog.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <list>
#include <mutex>
#include <thread>

#include "agent/disk_transfer/receiver_moves.hpp"
#include "agent/disk_transfer/receiver_session.hpp"
#include "agent/disk_transfer/tls_context_impl.hpp"
#include "agent/disk_transfer/tls_stream.hpp"
#include "agent/disk_transfer/transfer_uri.hpp"
#include "common/errors.hpp"

namespace ferry::agent::transfer {
namespace {

// 64: pending connections beyond max_connections are accepted and closed at once anyway.
constexpr int kListenBacklog = 64;
// 100 ms: out of file descriptors, accept fails at once; wait rather than spin.
constexpr std::chrono::milliseconds kAcceptBackoff{100};

int Listen(const std::string& address, int port, int* bound_port) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  addrinfo* found = nullptr;
  const std::string where = FormatTransferUri(address, port);
  const int rc = ::getaddrinfo(address.empty() ? nullptr : address.c_str(),
                               std::to_string(port).c_str(), &hints, &found);
  if (rc != 0) {
    throw Error(Errc::kUnavailable,
                "disk transfer: cannot resolve " + where + ": " + ::gai_strerror(rc));
  }
  const int fd = ::socket(found->ai_family, found->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
                          found->ai_protocol);
  const int one = 1;
  const bool ok = fd >= 0 && ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) == 0 &&
                  ::bind(fd, found->ai_addr, found->ai_addrlen) == 0 &&
                  ::listen(fd, kListenBacklog) == 0;
  const int saved = errno;
  ::freeaddrinfo(found);
  if (!ok) {
    if (fd >= 0) ::close(fd);
    throw Error(Errc::kUnavailable,
                "disk transfer: cannot listen on " + where + ": " + std::strerror(saved));
  }
  sockaddr_storage addr{};
  socklen_t len = sizeof addr;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  *bound_port =
      ntohs(addr.ss_family == AF_INET6 ? reinterpret_cast<const sockaddr_in6*>(&addr)->sin6_port
                                       : reinterpret_cast<const sockaddr_in*>(&addr)->sin_port);
  return fd;
}

}  // namespace

struct DiskReceiver::Impl {
  struct Connection {
    std::thread thread;
    int fd = -1;  // while open: the destructor shuts it down; -1 once its thread closes it
    bool done = false;
  };

  Impl(const TlsContext& t, DiskStore& s, const std::string& state_dir, ReceiverLimits l)
      : tls(t), store(s), limits(l), moves(state_dir, l.max_disks) {}

  void AcceptLoop();
  void Serve(Connection* connection, int fd);
  void Reap();  // joins finished connections; with mu held

  const TlsContext& tls;
  DiskStore& store;
  const ReceiverLimits limits;
  ReceiverMoves moves;
  std::string address;
  int port = 0;
  int listen_fd = -1;
  int wake_fd = -1;  // an eventfd: the destructor wakes the accept loop with it
  std::atomic<bool> stopping{false};
  std::thread acceptor;
  std::mutex mu;
  std::list<Connection> connections;  // a list: a Connection does not move while served
};

void DiskReceiver::Impl::AcceptLoop() {
  pollfd fds[2] = {{listen_fd, POLLIN, 0}, {wake_fd, POLLIN, 0}};
  while (!stopping) {
    if (::poll(fds, 2, -1) < 0 && errno != EINTR) break;
    if (stopping) break;
    const int fd = ::accept4(listen_fd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
        std::this_thread::sleep_for(kAcceptBackoff);
      }
      continue;
    }
    std::lock_guard lock(mu);
    Reap();
    if (connections.size() >= static_cast<size_t>(limits.max_connections)) {
      spdlog::warn("disk transfer: connection from {} closed: {} connections already",
                   PeerAddress(fd), connections.size());
      ::close(fd);
      continue;
    }
    Connection& c = connections.emplace_back();
    c.fd = fd;
    c.thread = std::thread([this, &c, fd] { Serve(&c, fd); });
  }
}

void DiskReceiver::Impl::Serve(Connection* connection, int fd) {
  std::unique_ptr<TlsStream> stream;
  try {
    stream = std::make_unique<TlsStream>(tls.impl().server, fd, true, PeerAddress(fd));
  } catch (const std::exception& e) {  // the stream closed fd
    spdlog::error("disk transfer: {}", e.what());
    std::lock_guard lock(mu);
    connection->fd = -1;
    connection->done = true;
    return;
  }
  ServeConnection(*stream, moves, store, limits, stopping);
  {
    std::lock_guard lock(mu);
    connection->fd = -1;  // from here nobody shuts the socket down: it is closed below
  }
  stream.reset();
  std::lock_guard lock(mu);
  connection->done = true;
}

void DiskReceiver::Impl::Reap() {
  for (auto it = connections.begin(); it != connections.end();) {
    if (it->done) {
      it->thread.join();  // it set done as its last act: the join is immediate
      it = connections.erase(it);
    } else {
      ++it;
    }
  }
}

DiskReceiver::DiskReceiver(const TlsContext& tls, DiskStore& store, std::string state_dir,
                           const std::string& address, int port, ReceiverLimits limits)
    : impl_(std::make_unique<Impl>(tls, store, state_dir, limits)) {
  impl_->address = address;
  impl_->listen_fd = Listen(address, port, &impl_->port);
  impl_->wake_fd = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (impl_->wake_fd < 0) {
    ::close(impl_->listen_fd);
    throw Error(Errc::kUnavailable, std::string("disk transfer: eventfd: ") + std::strerror(errno));
  }
  impl_->acceptor = std::thread([impl = impl_.get()] { impl->AcceptLoop(); });
  spdlog::info("disk transfer: listening on {}", Uri());
}

DiskReceiver::~DiskReceiver() {
  impl_->stopping = true;
  const uint64_t one = 1;
  [[maybe_unused]] const ssize_t n = ::write(impl_->wake_fd, &one, sizeof one);
  impl_->acceptor.join();
  std::list<Impl::Connection> connections;
  {
    std::lock_guard lock(impl_->mu);
    for (Impl::Connection& c : impl_->connections) {
      if (c.fd >= 0) ::shutdown(c.fd, SHUT_RDWR);  // every read and write fails now
    }
    connections.swap(impl_->connections);
  }
  for (Impl::Connection& c : connections) c.thread.join();
  ::close(impl_->listen_fd);
  ::close(impl_->wake_fd);
}

std::string DiskReceiver::Uri() const { return FormatTransferUri(impl_->address, impl_->port); }

void DiskReceiver::Expect(const std::string& migration_uuid, const std::string& token,
                          const std::string& source_host, const std::vector<std::string>& targets) {
  impl_->moves.Expect(migration_uuid, token, source_host, targets);
}

std::optional<IncomingTransfer> DiskReceiver::Find(const std::string& migration_uuid) const {
  return impl_->moves.Find(migration_uuid);
}

void DiskReceiver::Forget(const std::string& migration_uuid) {
  impl_->moves.Forget(migration_uuid);
}

}  // namespace ferry::agent::transfer
