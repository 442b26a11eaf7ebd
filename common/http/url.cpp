#include "common/http/url.hpp"

#include <functional>
#include <set>

namespace ferry::http {
namespace {

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// `count` hex digits starting at s[at]; false when any is missing or not hex.
bool ReadHex(std::string_view s, size_t at, size_t count, int& value) {
  if (at + count > s.size()) return false;
  value = 0;
  for (size_t i = at; i < at + count; ++i) {
    int v = HexValue(s[i]);
    if (v < 0) return false;
    value = value * 16 + v;
  }
  return true;
}

// A BMP code point as UTF-8; surrogates (D800-DFFF) give nothing, as in httplib.
void AppendUtf8(int code, std::string& out) {
  if (code < 0x80) {
    out += static_cast<char>(code);
  } else if (code < 0x800) {
    out += static_cast<char>(0xC0 | ((code >> 6) & 0x1F));
    out += static_cast<char>(0x80 | (code & 0x3F));
  } else if (code < 0xD800 || (code >= 0xE000 && code < 0x10000)) {
    out += static_cast<char>(0xE0 | ((code >> 12) & 0x0F));
    out += static_cast<char>(0x80 | ((code >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (code & 0x3F));
  }
}

bool IsBlank(char c) { return c == ' ' || c == '\t'; }

// Calls fn for each non-empty, blank-trimmed part of s between delimiters.
void SplitTrimmed(std::string_view s, char delimiter,
                  const std::function<void(std::string_view)>& fn) {
  size_t begin = 0;
  while (begin <= s.size()) {
    size_t end = s.find(delimiter, begin);
    if (end == std::string_view::npos) end = s.size();
    std::string_view part = s.substr(begin, end - begin);
    while (!part.empty() && IsBlank(part.front())) part.remove_prefix(1);
    while (!part.empty() && IsBlank(part.back())) part.remove_suffix(1);
    if (!part.empty()) fn(part);
    begin = end + 1;
  }
}

}  // namespace

std::string DecodeUrl(std::string_view s, bool plus_as_space) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    int value = 0;
    if (s[i] == '%' && i + 1 < s.size() && s[i + 1] == 'u') {
      if (ReadHex(s, i + 2, 4, value)) {
        AppendUtf8(value, out);
        i += 5;
      } else {
        out += s[i];
      }
    } else if (s[i] == '%' && i + 1 < s.size()) {
      if (ReadHex(s, i + 1, 2, value)) {
        out += static_cast<char>(value);
        i += 2;
      } else {
        out += s[i];
      }
    } else if (plus_as_space && s[i] == '+') {
      out += ' ';
    } else {
      out += s[i];
    }
  }
  return out;
}

void ParseQuery(std::string_view s, QueryParams& out) {
  std::set<std::string_view> seen;
  SplitTrimmed(s, '&', [&](std::string_view pair) {
    if (!seen.insert(pair).second) return;
    std::string_view key;
    std::string_view value;
    SplitTrimmed(pair, '=', [&](std::string_view part) {
      if (key.empty()) {
        key = part;
      } else {
        value = part;
      }
    });
    if (!key.empty()) out.emplace(DecodeUrl(key, true), DecodeUrl(value, true));
  });
}

bool SplitTarget(std::string_view target, std::string& path, QueryParams& query) {
  int parts = 0;
  SplitTrimmed(target, '?', [&](std::string_view part) {
    if (parts == 0) path = DecodeUrl(part, false);
    if (parts == 1) ParseQuery(part, query);
    ++parts;
  });
  return parts <= 2;
}

}  // namespace ferry::http
