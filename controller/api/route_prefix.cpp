#include "controller/api/route_prefix.hpp"

#include <string_view>

namespace ferry::controller::api {

std::string RoutePrefix(const std::string& pattern) {
  // An alternation anywhere could make any prefix optional: no shortcut for such a pattern.
  if (pattern.find('|') != std::string::npos) return "";
  std::string out;
  size_t i = 0;
  for (; i < pattern.size(); ++i) {
    const char c = pattern[i];
    if (c == '\\' && i + 1 < pattern.size() &&
        std::string_view("./-").find(pattern[i + 1]) != std::string_view::npos) {
      out += pattern[++i];  // an escaped literal: \. \/ \-
    } else if (std::string_view("\\.[](){}*+?^$").find(c) != std::string_view::npos) {
      break;
    } else {
      out += c;
    }
  }
  // A quantifier applies to the character before it, which is then not certain either.
  if (i < pattern.size() && std::string_view("*?{").find(pattern[i]) != std::string_view::npos &&
      !out.empty()) {
    out.pop_back();
  }
  return out;
}

std::string RouteLabel(const std::string& pattern) {
  std::string out;
  int depth = 0;
  for (size_t i = 0; i < pattern.size(); ++i) {
    const char c = pattern[i];
    if (c == '\\' && i + 1 < pattern.size()) {
      if (depth == 0) out += pattern[i + 1];
      ++i;
    } else if (c == '(') {
      if (depth++ == 0) out += "{id}";
    } else if (c == ')') {
      if (depth > 0) --depth;
    } else if (depth == 0 && std::string_view("?*+^$").find(c) == std::string_view::npos) {
      out += c;
    }
  }
  return out;
}

}  // namespace ferry::controller::api
