#include "controller/api/microversion.hpp"

#include <cctype>
#include <regex>
#include <sstream>

#include "common/errors.hpp"

namespace ferry::controller::api {
namespace {

std::string Trim(const std::string& s) {
  size_t b = s.find_first_not_of(" \t");
  size_t e = s.find_last_not_of(" \t");
  return b == std::string::npos ? "" : s.substr(b, e - b + 1);
}

Microversion Parse(const std::string& raw) {
  std::string v = Trim(raw);
  if (v == "latest") return kMaxVersion;
  // Nova's form: no leading zeros, minor may be 0 ("2.0" parses, then fails the range check).
  static const std::regex kForm("^([1-9][0-9]{0,3})\\.([1-9][0-9]{0,3}|0)$");
  std::smatch m;
  if (!std::regex_match(v, m, kForm)) {
    throw Error(Errc::kBadRequest, "Invalid API version request: '" + raw + "'");
  }
  return {std::stoi(m[1].str()), std::stoi(m[2].str())};
}

}  // namespace

Microversion NegotiateMicroversion(const std::optional<std::string>& openstack_header,
                                   const std::optional<std::string>& nova_header) {
  std::optional<Microversion> mv;
  if (openstack_header) {
    // "compute 2.53" possibly among other services: "compute 2.53, volume 3.0".
    std::string value = *openstack_header;
    std::istringstream parts(value);
    std::string item;
    while (std::getline(parts, item, ',')) {
      item = Trim(item);
      if (item.rfind("compute ", 0) == 0) mv = Parse(item.substr(8));
    }
  }
  if (!mv && nova_header) mv = Parse(*nova_header);
  if (!mv) return kMinVersion;
  if (mv->major != 2 || mv->minor < kMinVersion.minor || mv->minor > kMaxVersion.minor) {
    throw Error(Errc::kNotAcceptable,
                "Version " + mv->ToString() + " is not supported by the API. Minimum is " +
                    kMinVersion.ToString() + " and maximum is " + kMaxVersion.ToString() + ".");
  }
  return *mv;
}

}  // namespace ferry::controller::api
