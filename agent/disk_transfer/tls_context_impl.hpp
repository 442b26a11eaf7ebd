#pragma once
// What TlsContext holds (internal to agent/disk_transfer): one SSL_CTX per role, both requiring
// and verifying the peer's certificate against the deployment CA only.
#include <openssl/ssl.h>

#include <string>

#include "agent/disk_transfer/tls_context.hpp"

namespace ferry::agent::transfer {

struct TlsContext::Impl {
  SSL_CTX* server = nullptr;  // the receiver's end: accepts, requires a client certificate
  SSL_CTX* client = nullptr;  // the sender's end: connects, requires a server certificate
  ~Impl();
};

// True when the peer's (verified) certificate names `host` among its subjectAltName DNS names.
bool PeerCertificateNames(SSL* ssl, const std::string& host);

// The oldest OpenSSL error of this thread as text ("" when none), and the queue cleared.
std::string TakeOpenSslError();

}  // namespace ferry::agent::transfer
