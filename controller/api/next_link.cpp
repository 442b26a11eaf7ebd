#include "controller/api/next_link.hpp"

#include <cctype>

namespace ferry::controller::api {

std::string UrlEncode(const std::string& s) {
  static const char* kHex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

std::string NextLink(const Request& req, int64_t limit, const std::string& marker) {
  std::string href =
      req.base_url + req.path + "?limit=" + std::to_string(limit) + "&marker=" + UrlEncode(marker);
  for (const auto& [key, value] : req.query) {
    if (key == "limit" || key == "marker") continue;
    href += "&" + UrlEncode(key) + "=" + UrlEncode(value);
  }
  return href;
}

}  // namespace ferry::controller::api
