#pragma once
// The agent's TLS identity for host-to-host disk transfers: a certificate for this host signed
// by the deployment's CA (deploy/tls/ferry-ca makes both), and that CA as the only trust anchor.
// Both ends present a certificate and check the other's: the destination takes disks only from
// the move's source host, the source sends only to the move's destination host (names checked
// against the certificate's subjectAltName DNS names). TLS 1.3 only.
#include <memory>
#include <string>

namespace ferry::agent::transfer {

struct TlsFiles {
  std::string ca_file;    // PEM: the deployment CA
  std::string cert_file;  // PEM: this host's certificate (subjectAltName DNS:<host name>)
  std::string key_file;   // PEM: its private key (readable by the agent only)
  bool configured() const { return !ca_file.empty() || !cert_file.empty() || !key_file.empty(); }
};

class TlsContext {
 public:
  // Loads and checks the files (the key matches the certificate, the certificate is signed by
  // the CA); throws ferry::Error(kBadRequest) with what is wrong.
  explicit TlsContext(const TlsFiles& files);
  ~TlsContext();
  TlsContext(const TlsContext&) = delete;
  TlsContext& operator=(const TlsContext&) = delete;

  struct Impl;
  Impl& impl() const { return *impl_; }

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace ferry::agent::transfer
