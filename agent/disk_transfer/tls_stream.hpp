#pragma once
// One TLS connection over a non-blocking socket, every operation bounded by a deadline (poll):
// a peer that stops reading or writing costs a thread only until then. Failures and timeouts
// throw ferry::Error(kUnavailable) naming the peer.
#include <openssl/ssl.h>

#include <chrono>
#include <cstddef>
#include <memory>
#include <string>

#include "agent/disk_transfer/tls_context.hpp"

namespace ferry::agent::transfer {

// Deadlines are on the monotonic clock: a wall-clock step must not cut or stretch a transfer.
using Deadline = std::chrono::steady_clock::time_point;
Deadline DeadlineIn(std::chrono::milliseconds d);

class TlsStream {
 public:
  // Takes ownership of `fd` (a connected socket, made non-blocking here).
  TlsStream(SSL_CTX* ctx, int fd, bool server, std::string peer);
  ~TlsStream();  // closes the socket (no close_notify: call Shutdown for that)
  TlsStream(const TlsStream&) = delete;
  TlsStream& operator=(const TlsStream&) = delete;

  // A TCP connection to host:port (a numeric address or a name), as the TLS client; the caller
  // runs Handshake (and so can tell a certificate that does not verify from a broken link).
  static std::unique_ptr<TlsStream> Connect(const TlsContext& tls, const std::string& host,
                                            int port, Deadline deadline);

  void Handshake(Deadline deadline);
  void ReadExact(char* buf, size_t n, Deadline deadline);
  void WriteAll(const char* buf, size_t n, Deadline deadline);
  // Sends close_notify (best effort: errors and timeouts are ignored).
  void Shutdown(Deadline deadline);

  bool PeerNamed(const std::string& host) const;  // the verified certificate's DNS names
  long VerifyResult() const;  // NOLINT(google-runtime-int): X509_V_OK or why the peer failed
  int fd() const { return fd_; }
  const std::string& peer() const { return peer_; }

 private:
  enum class Op { kHandshake, kRead, kWrite, kShutdown };
  // Runs `call` (an SSL_* operation returning 1 on success) until it succeeds, waiting on the
  // socket as OpenSSL asks; throws on error or at the deadline.
  template <typename Call>
  void Drive(Op op, Deadline deadline, Call call);
  void Wait(short events, Deadline deadline, const char* what);

  int fd_;
  SSL* ssl_ = nullptr;
  std::string peer_;  // "address:port", for messages and logs
};

// "address:port" of a connected socket's other end ("?" when unknown).
std::string PeerAddress(int fd);

}  // namespace ferry::agent::transfer
