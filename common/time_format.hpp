#pragma once
#include <optional>
#include <string>

#include "common/clock.hpp"

namespace ferry {

// Nova's timestamp form: "2016-01-29T13:42:02.000000" (UTC, no zone suffix).
std::string FormatNovaTime(TimePoint t);
// Accepts ISO 8601 with optional fraction and optional Z / +00:00; nullopt when malformed.
std::optional<TimePoint> ParseIsoTime(const std::string& s);

}  // namespace ferry
