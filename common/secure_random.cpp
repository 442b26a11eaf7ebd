#include "common/secure_random.hpp"

#include <sys/random.h>

#include <cerrno>

#include "common/errors.hpp"

namespace ferry {

std::string SecureRandomBytes(size_t n) {
  std::string raw(n, '\0');
  size_t got = 0;
  while (got < n) {
    const ssize_t r = getrandom(raw.data() + got, n - got, 0);
    if (r < 0) {
      if (errno == EINTR) continue;
      throw Error(Errc::kInternal, "no random bytes from the kernel");
    }
    got += static_cast<size_t>(r);
  }
  return raw;
}

std::string SecureRandomHex(size_t bytes) {
  static constexpr std::string_view kHex = "0123456789abcdef";
  std::string out;
  out.reserve(bytes * 2);
  for (unsigned char c : SecureRandomBytes(bytes)) {
    out.push_back(kHex[c >> 4]);
    out.push_back(kHex[c & 0xf]);
  }
  return out;
}

std::string SecureRandomString(size_t length, std::string_view alphabet) {
  if (alphabet.empty() || alphabet.size() > 256) {
    throw Error(Errc::kInternal, "a random string needs an alphabet of 1 to 256 characters");
  }
  // The largest multiple of the alphabet's size that fits in a byte: bytes at or above it are
  // dropped, so every character is equally likely.
  const unsigned limit = 256 - 256 % static_cast<unsigned>(alphabet.size());
  std::string out;
  out.reserve(length);
  while (out.size() < length) {
    for (unsigned char c : SecureRandomBytes(length - out.size() + 8)) {
      if (c >= limit) continue;
      out.push_back(alphabet[c % alphabet.size()]);
      if (out.size() == length) break;
    }
  }
  return out;
}

}  // namespace ferry
