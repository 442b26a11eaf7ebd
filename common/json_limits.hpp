#pragma once
// Bounded handling of JSON that comes from the network (API bodies, agent commands, agent and
// controller answers). nlohmann's parser is iterative, but dump() and the copy constructor
// recurse once per nesting level: a 200,000-deep array in a 400 KB body overflows an 8 MB
// thread stack. Every untrusted body is therefore parsed with ParseBoundedJson, and error
// messages quote values with BoundedDump, which never serialises more than it prints.
#include <cstddef>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

namespace ferry {

// 64 levels: Nova's deepest request schema (server create: server → block_device_mapping_v2 →
// [ ] → { }) and ferry's wire messages need at most 6, so 64 leaves a wide margin for
// metadata-like free objects; at a few hundred bytes of stack per recursive dump()/copy frame,
// 64 levels use well under 100 KB of a worker's stack (the 8 MB default, httplib's threads).
inline constexpr int kMaxJsonDepth = 64;

// Parses `text`, refusing nesting deeper than `max_depth` objects/arrays (the top-level value
// counts as level 1). Throws nlohmann::json::parse_error for malformed or too-deep input, so
// callers keep one catch for both.
nlohmann::json ParseBoundedJson(std::string_view text, int max_depth = kMaxJsonDepth);

// Like ParseBoundedJson but returns a discarded value instead of throwing.
nlohmann::json ParseBoundedJsonOrDiscarded(std::string_view text, int max_depth = kMaxJsonDepth);

// JSON text of `v`, cut after about `max_chars` characters (then ending in "..."), built without
// recursion and without serialising the part that is not printed. The cut never splits a UTF-8
// sequence, so the result is always valid inside an error message that is dumped again.
std::string BoundedDump(const nlohmann::json& v, std::size_t max_chars = 64);

// The longest prefix of `s` no longer than `max_bytes` that ends on a UTF-8 character boundary.
std::string Utf8Prefix(std::string_view s, std::size_t max_bytes);

}  // namespace ferry
