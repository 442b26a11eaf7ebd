#include "agent/drivers/sim/sim_cold_disks.hpp"

#include <openssl/evp.h>

#include <algorithm>
#include <array>

#include "common/errors.hpp"
#include "common/uuid.hpp"

namespace ferry::agent::sim {
namespace {

constexpr int64_t kBytesPerGiB = int64_t{1} << 30;

}  // namespace

std::vector<ColdDisk> ColdDisksOf(const wire::Domain& domain) {
  std::vector<ColdDisk> out;
  if (domain.disks.empty()) {
    if (domain.disk_gb > 0) out.push_back({"vda", domain.disk_gb * kBytesPerGiB});
    return out;
  }
  for (const auto& d : domain.disks) {
    if (d.kind == "shared" || d.kind == "volume") continue;
    out.push_back({d.target, d.capacity_bytes});
  }
  return out;
}

std::string Sha256Hex(std::string_view data) {
  std::array<unsigned char, EVP_MAX_MD_SIZE> md{};
  unsigned int length = 0;
  if (EVP_Digest(data.data(), data.size(), md.data(), &length, EVP_sha256(), nullptr) != 1) {
    throw Error(Errc::kInternal, "SHA-256 failed");
  }
  static constexpr char kHex[] = "0123456789abcdef";
  std::string hex;
  hex.reserve(2 * length);
  for (unsigned int i = 0; i < length; ++i) {
    hex += kHex[md[i] >> 4];
    hex += kHex[md[i] & 0xf];
  }
  return hex;
}

std::string ColdDiskDigest(const std::string& domain_uuid, const std::vector<ColdDisk>& disks,
                           int64_t generation) {
  // One line per field: no two different inputs give the same text.
  std::string content = "ferry-sim cold copy\n" + domain_uuid + "\n";
  for (const auto& d : disks) content += d.target + "=" + std::to_string(d.bytes) + "\n";
  content += "generation=" + std::to_string(generation) + "\n";
  return Sha256Hex(content);
}

bool ConstantTimeEquals(std::string_view a, std::string_view b) {
  unsigned char diff = a.size() == b.size() ? 0 : 1;
  const size_t n = std::min(a.size(), b.size());
  for (size_t i = 0; i < n; ++i) diff |= static_cast<unsigned char>(a[i] ^ b[i]);
  return diff == 0;
}

void ValidateColdSpec(const wire::ColdMigrationSpec& spec) {
  if (!IsUuid(spec.migration_uuid)) {
    throw Error(Errc::kBadRequest, "migration_uuid '" + spec.migration_uuid + "' is not a uuid");
  }
  if (!IsUuid(spec.domain.uuid)) {
    throw Error(Errc::kBadRequest, "domain uuid '" + spec.domain.uuid + "' is not a uuid");
  }
}

}  // namespace ferry::agent::sim
