#pragma once
// What a sim cold migration copies and how both ends prove they agree on it. The sim has no disk
// files: a disk is a name and a size, its content a per-guest generation the sim bumps whenever
// the guest runs (it writes to its disks). The digest is a real SHA-256 over the guest's uuid,
// each copied disk's name and size, and that generation: the destination computes it over what
// it received (the generation each chunk carried) and compares it with the one the source sent,
// so a copy that mixes two contents, misses bytes or names other disks never verifies.
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "api/wire/cold_migration_messages.hpp"

namespace ferry::agent::sim {

struct ColdDisk {
  std::string target;  // "vda"
  int64_t bytes = 0;
};

// The generation a destination records when its chunks carried more than one: no source
// digest ever matches it.
inline constexpr int64_t kMixedGeneration = -2;
// Before the first chunk arrived.
inline constexpr int64_t kNoGeneration = -1;

// The disks a cold migration copies: the local ones (shared disks and volumes stay where they
// are). A domain that reports no disks has one local root disk "vda" of disk_gb GiB.
std::vector<ColdDisk> ColdDisksOf(const wire::Domain& domain);

// Lowercase hex SHA-256 of the copy's content (see above).
std::string ColdDiskDigest(const std::string& domain_uuid, const std::vector<ColdDisk>& disks,
                           int64_t generation);

// Lowercase hex SHA-256 of a secret: what the destination keeps of the transfer token.
std::string Sha256Hex(std::string_view data);

// Time depends only on the lengths, never on where the first difference is.
bool ConstantTimeEquals(std::string_view a, std::string_view b);

// The uuids a sim cold-migration step turns into keys; throws ferry::Error(kBadRequest).
void ValidateColdSpec(const wire::ColdMigrationSpec& spec);

}  // namespace ferry::agent::sim
