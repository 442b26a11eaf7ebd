#pragma once
// Secrets from the kernel's CSPRNG (getrandom): bearer tokens and passwords. Never from a seeded
// generator such as the uuid one's mt19937, whose next output its past outputs give away.
#include <cstddef>
#include <string>
#include <string_view>

namespace ferry {

// `n` random bytes; throws Errc::kInternal when the kernel has none to give.
std::string SecureRandomBytes(size_t n);

// `bytes` random bytes as 2 * bytes lower-case hex digits.
std::string SecureRandomHex(size_t bytes);

// `length` characters drawn uniformly from `alphabet` (1..256 characters): bytes that would
// favour the alphabet's first characters are drawn again.
std::string SecureRandomString(size_t length, std::string_view alphabet);

}  // namespace ferry
