#pragma once
// Request-target decoding exactly as cpp-httplib 0.11.4 did it, so the routes and their tests
// see the same path and query values as before the move to Boost.Beast (tests/unit/http_url_test
// compares these with httplib's own functions on tricky inputs).
#include <map>
#include <string>
#include <string_view>

namespace ferry::http {

using QueryParams = std::multimap<std::string, std::string>;

// %XX and %uXXXX (as UTF-8) are decoded; a '%' not followed by valid hex stays as is. '+'
// becomes a space only in query text.
std::string DecodeUrl(std::string_view s, bool plus_as_space);

// "a=1&b=2": '&'-separated, blank-trimmed, empty parts skipped, a repeated identical "k=v" part
// counted once, the last '='-part is the value, keys and values decoded with '+' as space.
void ParseQuery(std::string_view s, QueryParams& out);

// Splits a target into its decoded path and query; false when it has more than one '?'
// (httplib answered 400 to those).
bool SplitTarget(std::string_view target, std::string& path, QueryParams& query);

}  // namespace ferry::http
