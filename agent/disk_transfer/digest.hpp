#pragma once
// SHA-256 as the transfer uses it (internal to agent/disk_transfer): disks hashed whole, holes as
// the zeros they read as, without allocating a buffer the size of a hole.
#include <openssl/evp.h>

#include <cstddef>
#include <cstdint>
#include <string>

namespace ferry::agent::transfer {

class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;

  void Update(const char* data, size_t n);
  void UpdateZeros(int64_t n);
  std::string HexDigest();  // ends the hash

 private:
  EVP_MD_CTX* ctx_;
};

std::string Sha256Hex(const std::string& data);

}  // namespace ferry::agent::transfer
