#include "agent/disk_transfer/tls_context.hpp"

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include <cstdio>
#include <memory>

#include "agent/disk_transfer/tls_context_impl.hpp"
#include "common/errors.hpp"

namespace ferry::agent::transfer {
namespace {

struct X509Free {
  void operator()(X509* x) const { X509_free(x); }
};
struct StoreFree {
  void operator()(X509_STORE* s) const { X509_STORE_free(s); }
};
struct StoreCtxFree {
  void operator()(X509_STORE_CTX* c) const { X509_STORE_CTX_free(c); }
};
using X509Ptr = std::unique_ptr<X509, X509Free>;

[[noreturn]] void Fail(const std::string& what) {
  const std::string detail = TakeOpenSslError();
  throw Error(Errc::kBadRequest,
              "disk transfer TLS: " + what + (detail.empty() ? "" : ": ") + detail);
}

X509Ptr ReadCertificate(const std::string& path, const char* role) {
  FILE* f = std::fopen(path.c_str(), "r");
  if (f == nullptr) Fail(std::string("cannot open the ") + role + " file " + path);
  X509Ptr cert(PEM_read_X509(f, nullptr, nullptr, nullptr));
  std::fclose(f);
  if (!cert) Fail(std::string("no PEM certificate in the ") + role + " file " + path);
  return cert;
}

// The host certificate must chain to the CA: a mismatch found here names the files; found at
// the first migration it would only be a failed handshake on the other host.
void CheckSignedByCa(X509* ca, X509* cert, const std::string& cert_file) {
  std::unique_ptr<X509_STORE, StoreFree> store(X509_STORE_new());
  std::unique_ptr<X509_STORE_CTX, StoreCtxFree> ctx(X509_STORE_CTX_new());
  if (!store || !ctx || X509_STORE_add_cert(store.get(), ca) != 1 ||
      X509_STORE_CTX_init(ctx.get(), store.get(), cert, nullptr) != 1) {
    Fail("cannot set up certificate verification");
  }
  if (X509_verify_cert(ctx.get()) != 1) {
    const int code = X509_STORE_CTX_get_error(ctx.get());
    Fail("the certificate " + cert_file + " does not verify against the CA (" +
         X509_verify_cert_error_string(code) + ")");
  }
}

SSL_CTX* NewContext(const TlsFiles& files, bool server) {
  SSL_CTX* ctx = SSL_CTX_new(server ? TLS_server_method() : TLS_client_method());
  if (ctx == nullptr) Fail("cannot create an SSL context");
  // TLS 1.3 only: both ends are ferry agents of one deployment, no legacy peer to serve.
  SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION);
  SSL_CTX_set_max_proto_version(ctx, TLS1_3_VERSION);
  SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, nullptr);
  // One connection per transfer, never resumed: no tickets to send, keep or expire.
  SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
  SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET);
  if (server) SSL_CTX_set_num_tickets(ctx, 0);
  // The deployment CA is the only trust anchor (no system store).
  std::string failure;
  if (SSL_CTX_load_verify_locations(ctx, files.ca_file.c_str(), nullptr) != 1) {
    failure = "cannot load the CA file " + files.ca_file;
  } else if (SSL_CTX_use_certificate_chain_file(ctx, files.cert_file.c_str()) != 1) {
    failure = "cannot load the certificate file " + files.cert_file;
  } else if (SSL_CTX_use_PrivateKey_file(ctx, files.key_file.c_str(), SSL_FILETYPE_PEM) != 1 ||
             SSL_CTX_check_private_key(ctx) != 1) {
    failure = "the key " + files.key_file + " cannot be loaded or does not match the certificate " +
              files.cert_file;
  }
  if (!failure.empty()) {
    SSL_CTX_free(ctx);
    Fail(failure);
  }
  return ctx;
}

}  // namespace

std::string TakeOpenSslError() {
  const unsigned long code = ERR_get_error();  // NOLINT(google-runtime-int): OpenSSL's type
  ERR_clear_error();
  if (code == 0) return "";
  char text[256];
  ERR_error_string_n(code, text, sizeof text);
  return text;
}

TlsContext::Impl::~Impl() {
  SSL_CTX_free(server);
  SSL_CTX_free(client);
}

TlsContext::TlsContext(const TlsFiles& files) : impl_(std::make_unique<Impl>()) {
  ERR_clear_error();
  if (files.ca_file.empty() || files.cert_file.empty() || files.key_file.empty()) {
    throw Error(Errc::kBadRequest,
                "disk transfer TLS: the CA, certificate and key files are all required");
  }
  const X509Ptr ca = ReadCertificate(files.ca_file, "CA");
  const X509Ptr cert = ReadCertificate(files.cert_file, "certificate");
  CheckSignedByCa(ca.get(), cert.get(), files.cert_file);
  impl_->server = NewContext(files, true);
  impl_->client = NewContext(files, false);
}

TlsContext::~TlsContext() = default;

bool PeerCertificateNames(SSL* ssl, const std::string& host) {
  if (host.empty() || SSL_get_verify_result(ssl) != X509_V_OK) return false;
  X509* cert = SSL_get0_peer_certificate(ssl);
  if (cert == nullptr) return false;
  // subjectAltName DNS names only, exact: ferry-ca issues one exact name per host.
  const unsigned flags = X509_CHECK_FLAG_NEVER_CHECK_SUBJECT | X509_CHECK_FLAG_NO_WILDCARDS;
  return X509_check_host(cert, host.data(), host.size(), flags, nullptr) == 1;
}

}  // namespace ferry::agent::transfer
