#include "agent/disk_transfer/tls_stream.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>

#include "agent/disk_transfer/tls_context_impl.hpp"
#include "common/errors.hpp"

namespace ferry::agent::transfer {
namespace {

int FdOf(BIO* b) { return static_cast<int>(reinterpret_cast<intptr_t>(BIO_get_data(b))); }

// OpenSSL's socket BIO writes with write(2), which raises SIGPIPE when the peer has gone and
// would kill the agent; this one sends with MSG_NOSIGNAL and is otherwise the same.
int BioWrite(BIO* b, const char* data, int len) {
  BIO_clear_retry_flags(b);
  const ssize_t n = ::send(FdOf(b), data, static_cast<size_t>(len), MSG_NOSIGNAL);
  if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
    BIO_set_retry_write(b);
  }
  return static_cast<int>(n);
}

int BioRead(BIO* b, char* data, int len) {
  BIO_clear_retry_flags(b);
  const ssize_t n = ::recv(FdOf(b), data, static_cast<size_t>(len), 0);
  if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
    BIO_set_retry_read(b);
  }
  return static_cast<int>(n);
}

long BioCtrl(BIO*, int cmd, long, void*) {  // NOLINT(google-runtime-int): OpenSSL's signature
  return cmd == BIO_CTRL_FLUSH ? 1 : 0;
}

int BioCreate(BIO* b) {
  BIO_set_init(b, 1);
  return 1;
}

BIO_METHOD* SocketMethod() {
  static BIO_METHOD* method = [] {
    BIO_METHOD* m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "ferry socket");
    BIO_meth_set_write(m, BioWrite);
    BIO_meth_set_read(m, BioRead);
    BIO_meth_set_ctrl(m, BioCtrl);
    BIO_meth_set_create(m, BioCreate);
    return m;
  }();
  return method;
}

[[noreturn]] void Unavailable(const std::string& peer, const std::string& what) {
  throw Error(Errc::kUnavailable, "disk transfer with " + peer + ": " + what);
}

int PollMs(Deadline deadline) {
  const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
      deadline - std::chrono::steady_clock::now());
  // +1: poll rounds down, and waking 1 ms early would look like an early timeout.
  return left.count() <= 0 ? 0 : static_cast<int>(std::min<int64_t>(left.count() + 1, 1 << 30));
}

void SetNonBlocking(int fd) {
  const int flags = ::fcntl(fd, F_GETFL, 0);
  ::fcntl(fd, F_SETFL, flags | O_NONBLOCK);
}

// A connected non-blocking socket to one of the addresses, or -1 with *error set.
int ConnectTcp(const std::string& host, int port, Deadline deadline, std::string* error) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICSERV;
  addrinfo* found = nullptr;
  // getaddrinfo has no deadline: migration addresses are numeric or in /etc/hosts.
  const int rc = ::getaddrinfo(host.c_str(), std::to_string(port).c_str(), &hints, &found);
  if (rc != 0) {
    *error = std::string("cannot resolve: ") + ::gai_strerror(rc);
    return -1;
  }
  int fd = -1;
  for (addrinfo* a = found; a != nullptr && fd < 0; a = a->ai_next) {
    fd = ::socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, a->ai_protocol);
    if (fd < 0) continue;
    int err = 0;
    if (::connect(fd, a->ai_addr, a->ai_addrlen) != 0) {
      err = errno;
      if (err == EINPROGRESS) {
        pollfd p{fd, POLLOUT, 0};
        const int n = ::poll(&p, 1, PollMs(deadline));
        socklen_t len = sizeof err;
        if (n == 0) {
          err = ETIMEDOUT;
        } else if (n < 0 || ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0) {
          err = errno;
        }
      }
    }
    if (err != 0) {
      *error = std::string("cannot connect: ") + std::strerror(err);
      ::close(fd);
      fd = -1;
    }
  }
  ::freeaddrinfo(found);
  return fd;
}

}  // namespace

Deadline DeadlineIn(std::chrono::milliseconds d) { return std::chrono::steady_clock::now() + d; }

std::string PeerAddress(int fd) {
  sockaddr_storage addr{};
  socklen_t len = sizeof addr;
  if (::getpeername(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) return "?";
  char host[INET6_ADDRSTRLEN] = "?";
  int port = 0;
  if (addr.ss_family == AF_INET) {
    const auto* in = reinterpret_cast<const sockaddr_in*>(&addr);
    ::inet_ntop(AF_INET, &in->sin_addr, host, sizeof host);
    port = ntohs(in->sin_port);
    return std::string(host) + ":" + std::to_string(port);
  }
  if (addr.ss_family == AF_INET6) {
    const auto* in6 = reinterpret_cast<const sockaddr_in6*>(&addr);
    ::inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof host);
    port = ntohs(in6->sin6_port);
    return "[" + std::string(host) + "]:" + std::to_string(port);
  }
  return "?";
}

TlsStream::TlsStream(SSL_CTX* ctx, int fd, bool server, std::string peer)
    : fd_(fd), peer_(std::move(peer)) {
  SetNonBlocking(fd_);
  const int one = 1;
  ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);  // frames are written whole
  ssl_ = SSL_new(ctx);
  BIO* bio = ssl_ != nullptr ? BIO_new(SocketMethod()) : nullptr;
  if (bio == nullptr) {
    SSL_free(ssl_);
    ::close(fd_);
    Unavailable(peer_, "cannot create a TLS connection: " + TakeOpenSslError());
  }
  BIO_set_data(bio, reinterpret_cast<void*>(static_cast<intptr_t>(fd_)));
  SSL_set_bio(ssl_, bio, bio);
  if (server) {
    SSL_set_accept_state(ssl_);
  } else {
    SSL_set_connect_state(ssl_);
  }
}

TlsStream::~TlsStream() {
  SSL_free(ssl_);
  ::close(fd_);
}

std::unique_ptr<TlsStream> TlsStream::Connect(const TlsContext& tls, const std::string& host,
                                              int port, Deadline deadline) {
  const std::string peer =
      (host.find(':') != std::string::npos ? "[" + host + "]" : host) + ":" + std::to_string(port);
  std::string error;
  const int fd = ConnectTcp(host, port, deadline, &error);
  if (fd < 0) Unavailable(peer, error);
  return std::make_unique<TlsStream>(tls.impl().client, fd, false, peer);
}

void TlsStream::Wait(short events, Deadline deadline, const char* what) {
  pollfd p{fd_, events, 0};
  for (;;) {
    const int n = ::poll(&p, 1, PollMs(deadline));
    if (n > 0) return;  // ready, or an error/hangup the next call reports
    if (n == 0) Unavailable(peer_, std::string("timed out ") + what);
    if (errno != EINTR) Unavailable(peer_, std::string("poll: ") + std::strerror(errno));
  }
}

template <typename Call>
void TlsStream::Drive(Op op, Deadline deadline, Call call) {
  static constexpr const char* kWhat[] = {"in the TLS handshake", "reading", "writing", "closing"};
  const char* what = kWhat[static_cast<int>(op)];
  for (;;) {
    ERR_clear_error();
    errno = 0;
    const int rc = call();
    if (rc == 1) return;
    const int saved_errno = errno;
    switch (SSL_get_error(ssl_, rc)) {
      case SSL_ERROR_WANT_READ:
        Wait(POLLIN, deadline, what);
        continue;
      case SSL_ERROR_WANT_WRITE:
        Wait(POLLOUT, deadline, what);
        continue;
      case SSL_ERROR_ZERO_RETURN:
        Unavailable(peer_, std::string("the peer closed the connection ") + what);
      case SSL_ERROR_SYSCALL:
        if (saved_errno == 0) {
          const std::string detail = TakeOpenSslError();
          Unavailable(peer_, std::string("the connection ended ") + what +
                                 (detail.empty() ? "" : ": " + detail));
        }
        Unavailable(peer_, std::string(what) + ": " + std::strerror(saved_errno));
      default: {
        std::string detail = TakeOpenSslError();
        if (op == Op::kHandshake && SSL_get_verify_result(ssl_) != X509_V_OK) {
          detail += std::string(" (peer certificate: ") +
                    X509_verify_cert_error_string(SSL_get_verify_result(ssl_)) + ")";
        }
        Unavailable(peer_, std::string("TLS error ") + what + ": " + detail);
      }
    }
  }
}

void TlsStream::Handshake(Deadline deadline) {
  Drive(Op::kHandshake, deadline, [&] { return SSL_do_handshake(ssl_); });
}

void TlsStream::ReadExact(char* buf, size_t n, Deadline deadline) {
  while (n > 0) {
    size_t got = 0;
    Drive(Op::kRead, deadline, [&] { return SSL_read_ex(ssl_, buf, n, &got); });
    buf += got;
    n -= got;
  }
}

void TlsStream::WriteAll(const char* buf, size_t n, Deadline deadline) {
  while (n > 0) {
    size_t put = 0;
    // A retried SSL_write must be given the same buffer: it is, until it succeeds.
    Drive(Op::kWrite, deadline, [&] { return SSL_write_ex(ssl_, buf, n, &put); });
    buf += put;
    n -= put;
  }
}

void TlsStream::Shutdown(Deadline deadline) {
  try {
    // 0 means "sent, the peer's not yet seen": enough, the peer's answer is not waited for.
    Drive(Op::kShutdown, deadline, [&] { return SSL_shutdown(ssl_) >= 0 ? 1 : -1; });
  } catch (const Error&) {
  }
}

bool TlsStream::PeerNamed(const std::string& host) const {
  return PeerCertificateNames(ssl_, host);
}

long TlsStream::VerifyResult() const {  // NOLINT(google-runtime-int)
  return SSL_get_verify_result(ssl_);
}

}  // namespace ferry::agent::transfer
