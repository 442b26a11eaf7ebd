#include "agent/disk_transfer/digest.hpp"

#include <algorithm>
#include <new>

namespace ferry::agent::transfer {
namespace {

// 64 KiB of zeros in .bss: costs no memory until read, and hashes a hole in few calls.
constexpr size_t kZeroBlock = 64 << 10;
const char kZeros[kZeroBlock] = {};

}  // namespace

Sha256::Sha256() : ctx_(EVP_MD_CTX_new()) {
  if (ctx_ == nullptr || EVP_DigestInit_ex(ctx_, EVP_sha256(), nullptr) != 1) {
    EVP_MD_CTX_free(ctx_);
    throw std::bad_alloc();
  }
}

Sha256::~Sha256() { EVP_MD_CTX_free(ctx_); }

void Sha256::Update(const char* data, size_t n) { EVP_DigestUpdate(ctx_, data, n); }

void Sha256::UpdateZeros(int64_t n) {
  while (n > 0) {
    const auto step = static_cast<size_t>(std::min<int64_t>(n, kZeroBlock));
    EVP_DigestUpdate(ctx_, kZeros, step);
    n -= static_cast<int64_t>(step);
  }
}

std::string Sha256::HexDigest() {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_DigestFinal_ex(ctx_, md, &len);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (unsigned int i = 0; i < len; ++i) {
    out += kHex[md[i] >> 4];
    out += kHex[md[i] & 0xf];
  }
  return out;
}

std::string Sha256Hex(const std::string& data) {
  Sha256 h;
  h.Update(data.data(), data.size());
  return h.HexDigest();
}

}  // namespace ferry::agent::transfer
