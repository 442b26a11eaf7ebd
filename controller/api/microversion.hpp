#pragma once
#include <map>
#include <optional>
#include <string>

namespace ferry::controller::api {

struct Microversion {
  int major = 2;
  int minor = 1;
  bool AtLeast(int min_minor) const { return minor >= min_minor; }
  std::string ToString() const { return std::to_string(major) + "." + std::to_string(minor); }
};

// 2.1 .. 2.95. Debian's novaclient and openstackclient speak up to 2.92; 2.93 (a rebuild of a
// volume-backed server: ferry has no rebuild action), 2.94 (a hostname may be an FQDN) and 2.95
// (an evacuated server stays stopped) are what host evacuation needs of the newer API.
inline constexpr Microversion kMinVersion{2, 1};
inline constexpr Microversion kMaxVersion{2, 95};

// From `OpenStack-API-Version: compute 2.NN` (preferred) or `X-OpenStack-Nova-API-Version:
// 2.NN`; no header means 2.1, "latest" means the maximum. Throws ferry::Error kBadRequest for a
// malformed value and kNotAcceptable (406) outside the supported range.
Microversion NegotiateMicroversion(const std::optional<std::string>& openstack_header,
                                   const std::optional<std::string>& nova_header);

}  // namespace ferry::controller::api
