// common/time_format: Nova's timestamp form out, ISO 8601 in.
#include <gtest/gtest.h>

#include "common/time_format.hpp"

namespace ferry {
namespace {

using std::chrono::microseconds;
using std::chrono::seconds;

TimePoint At(int64_t secs, int64_t micros = 0) {
  return TimePoint(seconds(secs)) + microseconds(micros);
}

TEST(TimeFormat, FormatsAsNovaDoesInUtcWithSixFractionDigitsAndNoZone) {
  EXPECT_EQ(FormatNovaTime(At(1454074922)), "2016-01-29T13:42:02.000000");
  EXPECT_EQ(FormatNovaTime(At(1454074922, 123456)), "2016-01-29T13:42:02.123456");
  EXPECT_EQ(FormatNovaTime(At(0)), "1970-01-01T00:00:00.000000");
}

TEST(TimeFormat, FormatsTimesBeforeTheEpochWithAPositiveFraction) {
  EXPECT_EQ(FormatNovaTime(At(-1, 500000)), "1969-12-31T23:59:59.500000");
  EXPECT_EQ(FormatNovaTime(At(0, -1)), "1969-12-31T23:59:59.999999");
}

TEST(TimeFormat, FormatThenParseIsTheIdentityAtMicrosecondPrecision) {
  for (TimePoint t : {At(0), At(1454074922, 1), At(1454074922, 999999), At(1767225599, 500000),
                      At(-86400 * 365, 250000), At(4102444800, 42)}) {
    auto back = ParseIsoTime(FormatNovaTime(t));
    ASSERT_TRUE(back.has_value()) << FormatNovaTime(t);
    EXPECT_EQ(*back, t) << FormatNovaTime(t);
  }
}

TEST(TimeFormat, ParseAcceptsZuluAndZeroOffsetSuffixes) {
  const TimePoint want = At(1454074922);
  EXPECT_EQ(ParseIsoTime("2016-01-29T13:42:02"), want);
  EXPECT_EQ(ParseIsoTime("2016-01-29T13:42:02Z"), want);
  EXPECT_EQ(ParseIsoTime("2016-01-29T13:42:02+00:00"), want);
  EXPECT_EQ(ParseIsoTime("2016-01-29T13:42:02+0000"), want);
  EXPECT_EQ(ParseIsoTime("2016-01-29T13:42:02.000000Z"), want);
}

TEST(TimeFormat, ParseReadsFractionsOfAnyLengthUpToMicroseconds) {
  EXPECT_EQ(ParseIsoTime("2016-01-29T13:42:02.5"), At(1454074922, 500000));
  EXPECT_EQ(ParseIsoTime("2016-01-29T13:42:02.05Z"), At(1454074922, 50000));
  EXPECT_EQ(ParseIsoTime("2016-01-29T13:42:02.123456Z"), At(1454074922, 123456));
  // Digits beyond microseconds are dropped, not rounded into the next second.
  EXPECT_EQ(ParseIsoTime("2016-01-29T13:42:02.9999999"), At(1454074922, 999999));
}

TEST(TimeFormat, ParseRejectsMalformedText) {
  for (const char* bad : {"", "garbage", "2016-01-29", "2016-01-29 13:42:02x", "2016-01-29T13:42",
                          "2016-01-29T13:42:02+01:00", "2016-01-29T13:42:02-05:00",
                          "2016-01-29T13:42:02Zjunk", "2016-01-29T13:42:02.123abc",
                          "2016-01-29T13:42:02.", "2016-01-29T13:42:02.Z", "16-01-29T13:42:02"}) {
    EXPECT_EQ(ParseIsoTime(bad), std::nullopt) << bad;
  }
}

TEST(TimeFormat, ParseClampsTimesBeyondTheClocksRangeInsteadOfWrapping) {
  // A 64-bit nanosecond clock ends in 2262 and starts in 1677; later is "the end", not 1700.
  EXPECT_EQ(ParseIsoTime("9999-12-31T23:59:59Z"), TimePoint::max());
  EXPECT_EQ(ParseIsoTime("2263-01-01T00:00:00Z"), TimePoint::max());
  EXPECT_EQ(ParseIsoTime("0001-01-01T00:00:00Z"), TimePoint::min());
  EXPECT_LT(*ParseIsoTime("2262-01-01T00:00:00Z"), TimePoint::max());
  EXPECT_GT(*ParseIsoTime("2262-01-01T00:00:00Z"), *ParseIsoTime("2200-01-01T00:00:00Z"));
}

TEST(TimeFormat, ParseAcceptsTheSecondBeforeTheEpoch) {
  EXPECT_EQ(ParseIsoTime("1969-12-31T23:59:59Z"), At(-1));
  EXPECT_EQ(ParseIsoTime("1969-12-31T23:59:59.5"), At(-1, 500000));
}

TEST(TimeFormat, ParseRejectsFieldsOutOfRangeInsteadOfRollingThemOver) {
  for (const char* bad :
       {"2016-13-01T00:00:00", "2016-00-10T00:00:00", "2016-02-30T00:00:00", "2015-02-29T00:00:00",
        "2016-01-32T00:00:00", "2016-01-29T24:00:00", "2016-01-29T13:60:00", "2016-01-29T13:42:61",
        "2016-01-29T13:42:-1", " 2016-01-29T13:42:02", "2016-1-29T13:42:02"}) {
    EXPECT_EQ(ParseIsoTime(bad), std::nullopt) << bad;
  }
  EXPECT_EQ(ParseIsoTime("2016-02-29T00:00:00"), At(1456704000));  // a real leap day
}

}  // namespace
}  // namespace ferry
