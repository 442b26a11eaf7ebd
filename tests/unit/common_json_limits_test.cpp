// ParseBoundedJson refuses nesting past its limit before anything recursive can touch the
// value; BoundedDump quotes any value in bounded time and space, without recursion.
#include <gtest/gtest.h>

#include <string>

#include "common/json_limits.hpp"

namespace ferry {
namespace {

using nlohmann::json;

std::string Nested(int levels, const std::string& inner = "1") {
  return std::string(levels, '[') + inner + std::string(levels, ']');
}

TEST(JsonLimits, SixtyFourLevelsParse) {
  json v = ParseBoundedJson(Nested(kMaxJsonDepth));
  EXPECT_TRUE(v.is_array());
  std::string objects;
  for (int i = 0; i < kMaxJsonDepth; ++i) objects += R"({"a":)";
  objects += "1" + std::string(kMaxJsonDepth, '}');
  EXPECT_TRUE(ParseBoundedJson(objects).is_object());
}

TEST(JsonLimits, SixtyFiveLevelsAreRefused) {
  EXPECT_THROW(ParseBoundedJson(Nested(kMaxJsonDepth + 1)), json::parse_error);
  EXPECT_THROW(ParseBoundedJson(R"({"a":)" + Nested(kMaxJsonDepth) + "}"), json::parse_error);
  EXPECT_TRUE(ParseBoundedJsonOrDiscarded(Nested(kMaxJsonDepth + 1)).is_discarded());
}

TEST(JsonLimits, TwoHundredThousandLevelsAreRefusedWithoutCrashing) {
  const std::string body = R"({"server":{"name":)" + Nested(200000) + R"(,"flavorRef":"1"}})";
  try {
    ParseBoundedJson(body);
    FAIL() << "parsed a 200,000-deep body";
  } catch (const json::parse_error& e) {
    EXPECT_NE(std::string(e.what()).find("nested deeper than 64"), std::string::npos) << e.what();
  }
}

TEST(JsonLimits, MalformedInputStillThrowsParseError) {
  EXPECT_THROW(ParseBoundedJson("{\"a\":"), json::parse_error);
  EXPECT_THROW(ParseBoundedJson(""), json::parse_error);
}

TEST(JsonLimits, HugeFlatArraysAreFine) {
  std::string text = "[";
  for (int i = 0; i < 100000; ++i) text += (i ? ",[1]" : "[1]");
  text += "]";
  json v = ParseBoundedJson(text);
  ASSERT_EQ(v.size(), 100000u);
  EXPECT_EQ(v[99999][0], 1);
}

TEST(JsonLimits, BoundedDumpPrintsSmallValuesExactly) {
  json v = json::parse(R"({"a":[1,"x",null,true,{"b":2.5}],"c":{}})");
  EXPECT_EQ(BoundedDump(v, 1000), v.dump());
  EXPECT_EQ(BoundedDump(json("web"), 64), "\"web\"");
  EXPECT_EQ(BoundedDump(json::array(), 64), "[]");
}

TEST(JsonLimits, BoundedDumpCutsLongValues) {
  std::string s = BoundedDump(json(std::string(1 << 20, 'x')), 64);
  EXPECT_LE(s.size(), 64u + 3);
  EXPECT_EQ(s.substr(s.size() - 3), "...");
  json many = json::array();
  for (int i = 0; i < 100000; ++i) many.push_back(i);
  std::string m = BoundedDump(many, 64);
  EXPECT_EQ(m.substr(0, 10), "[0,1,2,3,4");
  EXPECT_LE(m.size(), 64u + 3);
}

TEST(JsonLimits, BoundedDumpOfADeepValueBuiltInCodeDoesNotRecurse) {
  // 200,000 levels built in code (not parsed): dump() would overflow the stack; destroying the
  // value is iterative in nlohmann 3.11.
  json deep = 1;
  for (int i = 0; i < 200000; ++i) {
    json outer = json::array();
    outer.push_back(std::move(deep));
    deep = std::move(outer);
  }
  std::string s = BoundedDump(deep, 64);
  EXPECT_EQ(s, std::string(64, '[') + "...");
}

TEST(JsonLimits, BoundedDumpNeverSplitsAUtf8Character) {
  std::string word;
  for (int i = 0; i < 40; ++i) word += "\xc3\xa9";  // é
  std::string s = BoundedDump(json(word), 11);
  // The cut text is valid UTF-8: dumping it again (as an error body does) must not throw.
  EXPECT_NO_THROW(json(s).dump());
  EXPECT_EQ(Utf8Prefix("\xc3\xa9\xc3\xa9", 3), "\xc3\xa9");
}

}  // namespace
}  // namespace ferry
