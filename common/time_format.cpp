#include "common/time_format.hpp"

#include <cctype>
#include <cstdio>
#include <ctime>

namespace ferry {

std::string FormatNovaTime(TimePoint t) {
  auto us = std::chrono::duration_cast<std::chrono::microseconds>(t.time_since_epoch()).count();
  std::time_t secs = static_cast<std::time_t>(us / 1000000);
  long frac = static_cast<long>(us % 1000000);
  if (frac < 0) {
    frac += 1000000;
    --secs;
  }
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[96];  // generous: the compiler cannot bound tm fields
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%06ld", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, frac);
  return buf;
}

std::optional<TimePoint> ParseIsoTime(const std::string& s) {
  // Exactly "YYYY-MM-DDTHH:MM:SS" first: sscanf alone would take " 2016", "2016-1-2" or ":-1".
  static constexpr char kShape[] = "dddd-dd-ddTdd:dd:dd";
  if (s.size() < sizeof kShape - 1) return std::nullopt;
  for (size_t i = 0; i + 1 < sizeof kShape; ++i) {
    bool ok =
        kShape[i] == 'd' ? std::isdigit(static_cast<unsigned char>(s[i])) != 0 : s[i] == kShape[i];
    if (!ok) return std::nullopt;
  }
  std::tm tm{};
  int consumed = 0;
  if (std::sscanf(s.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d%n", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
                  &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &consumed) != 6) {
    return std::nullopt;
  }
  tm.tm_year -= 1900;
  tm.tm_mon -= 1;
  long micros = 0;
  size_t pos = static_cast<size_t>(consumed);
  if (pos < s.size() && s[pos] == '.') {
    if (pos + 1 >= s.size() || !std::isdigit(static_cast<unsigned char>(s[pos + 1]))) {
      return std::nullopt;  // "12:00:00." has no fraction
    }
    long scale = 100000;
    for (++pos; pos < s.size() && std::isdigit(static_cast<unsigned char>(s[pos])); ++pos) {
      micros += (s[pos] - '0') * scale;
      scale /= 10;
    }
  }
  std::string rest = s.substr(pos);
  if (!(rest.empty() || rest == "Z" || rest == "+00:00" || rest == "+0000")) return std::nullopt;
  const std::tm given = tm;
  std::time_t secs = timegm(&tm);  // normalises tm: 2016-02-30 becomes 2016-03-01
  if (tm.tm_year != given.tm_year || tm.tm_mon != given.tm_mon || tm.tm_mday != given.tm_mday ||
      tm.tm_hour != given.tm_hour || tm.tm_min != given.tm_min || tm.tm_sec != given.tm_sec) {
    return std::nullopt;  // a field was out of range
  }
  // TimePoint counts nanoseconds in 64 bits: 1677-09-21 to 2262-04-11. A time beyond that
  // ("9999-12-31", a far "changes-since", a token that never expires) is the nearest end, not
  // an overflow that wraps into the past.
  using std::chrono::duration_cast;
  constexpr auto kLast = duration_cast<std::chrono::seconds>(TimePoint::max().time_since_epoch());
  constexpr auto kFirst = duration_cast<std::chrono::seconds>(TimePoint::min().time_since_epoch());
  if (secs >= kLast.count()) return TimePoint::max();
  if (secs <= kFirst.count()) return TimePoint::min();
  return TimePoint(std::chrono::seconds(secs)) + std::chrono::microseconds(micros);
}

}  // namespace ferry
