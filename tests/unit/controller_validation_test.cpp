// Request-body and query-parameter checks: a 400 that names the field.
#include <gtest/gtest.h>

#include "common/errors.hpp"
#include "controller/api/validation.hpp"

namespace ferry::controller::api {
namespace {

// The message of the ferry::Error(kBadRequest) fn throws; fails the test otherwise.
template <typename Fn>
std::string BadRequest(Fn&& fn) {
  try {
    fn();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), Errc::kBadRequest) << e.what();
    return e.what();
  } catch (const std::exception& e) {
    ADD_FAILURE() << "not a ferry::Error: " << e.what();
    return "";
  }
  ADD_FAILURE() << "no error thrown";
  return "";
}

bool Contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

TEST(Validation, UnknownKeyIsRejectedWithNovasMessage) {
  json body = {{"name", "a"}, {"colour", "blue"}};
  EXPECT_EQ(BadRequest([&] {
              RejectUnknownKeys(body, {"name", "ram"});
            }),
            "Additional properties are not allowed ('colour' was unexpected)");
}

TEST(Validation, KnownKeysPass) {
  EXPECT_NO_THROW(RejectUnknownKeys(json{{"name", "a"}, {"ram", 1}}, {"name", "ram", "disk"}));
  EXPECT_NO_THROW(RejectUnknownKeys(json::object(), {"name"}));
}

TEST(Validation, RequireMemberNeedsAnObjectBodyHoldingAnObject) {
  EXPECT_EQ(BadRequest([] { RequireMember(json::array(), "flavor"); }),
            "The request body must be a JSON object.");
  EXPECT_EQ(BadRequest([] { RequireMember(json(nullptr), "flavor"); }),
            "The request body must be a JSON object.");
  EXPECT_EQ(BadRequest([] {
              RequireMember(json{{"server", json::object()}}, "flavor");
            }),
            "'flavor' is a required property");
  auto msg = BadRequest([] { RequireMember(json{{"flavor", "x"}}, "flavor"); });
  EXPECT_TRUE(Contains(msg, "flavor")) << msg;
  EXPECT_TRUE(Contains(msg, "is not of type 'object'")) << msg;
  json ok = {{"flavor", {{"name", "x"}}}};
  EXPECT_EQ(RequireMember(ok, "flavor").at("name"), "x");
}

TEST(Validation, NameWithinLimitsIsReturned) {
  EXPECT_EQ(RequireName(json{{"name", "web 1"}}, "name"), "web 1");
  EXPECT_EQ(RequireName(json{{"name", std::string(255, 'a')}}, "name"), std::string(255, 'a'));
  EXPECT_EQ(RequireName(json{{"name", "ünï"}}, "name"), "ünï");
}

TEST(Validation, NameTooLongIsRejected) {
  auto msg = BadRequest([] { RequireName(json{{"name", std::string(256, 'a')}}, "name"); });
  EXPECT_TRUE(Contains(msg, "Invalid input for field/attribute name.")) << msg;
  EXPECT_TRUE(Contains(msg, "too long")) << msg;
  EXPECT_TRUE(Contains(BadRequest([] { RequireName(json{{"n", "abcd"}}, "n", 3); }), "max 3"));
}

TEST(Validation, NameMissingEmptyOrNotAStringIsRejected) {
  EXPECT_EQ(BadRequest([] { RequireName(json::object(), "name"); }),
            "'name' is a required property");
  EXPECT_TRUE(Contains(BadRequest([] { RequireName(json{{"name", ""}}, "name"); }), "too short"));
  EXPECT_TRUE(Contains(BadRequest([] {
                         RequireName(json{{"name", 5}}, "name");
                       }),
                       "is not of type 'string'"));
  EXPECT_TRUE(Contains(BadRequest([] {
                         RequireName(json{{"name", nullptr}}, "name");
                       }),
                       "is not of type 'string'"));
}

TEST(Validation, NameWithLeadingOrTrailingWhitespaceIsRejected) {
  for (const char* bad : {" web", "web ", "\tweb", "web\n", " "}) {
    auto msg = BadRequest([&] { RequireName(json{{"name", bad}}, "name"); });
    EXPECT_TRUE(Contains(msg, "whitespace")) << bad << ": " << msg;
  }
}

TEST(Validation, NameWithControlCharactersIsRejected) {
  for (const std::string& bad : {std::string("we\tb"), std::string("we\nb"), std::string("a\x01z"),
                                 std::string("a\x7fz"), std::string("a\0z", 3)}) {
    auto msg = BadRequest([&] { RequireName(json{{"name", bad}}, "name"); });
    EXPECT_TRUE(Contains(msg, "Control characters")) << msg;
  }
}

TEST(Validation, OptionalStringChecksTypeAndLength) {
  EXPECT_EQ(OptionalString(json::object(), "d"), std::nullopt);
  EXPECT_EQ(OptionalString(json{{"d", nullptr}}, "d"), std::nullopt);
  EXPECT_EQ(OptionalString(json{{"d", "x"}}, "d"), "x");
  BadRequest([] { OptionalString(json{{"d", nullptr}}, "d", 255, false); });
  BadRequest([] { OptionalString(json{{"d", 1}}, "d"); });
  BadRequest([] { OptionalString(json{{"d", "abcd"}}, "d", 3); });
}

TEST(Validation, IntegersMayBeNumbersOrDigitStrings) {
  EXPECT_EQ(RequireInt(json{{"ram", 512}}, "ram", 1, 1000), 512);
  EXPECT_EQ(RequireInt(json{{"ram", "512"}}, "ram", 1, 1000), 512);
  EXPECT_EQ(OptionalInt(json{{"disk", "0"}}, "disk", 0, 10), 0);
  EXPECT_EQ(OptionalInt(json{{"disk", "123456789012345678"}}, "disk", 0, INT64_MAX),
            123456789012345678);
  EXPECT_EQ(OptionalInt(json::object(), "disk", 0, 10), std::nullopt);
}

TEST(Validation, NonIntegersAreRejectedNamingTheField) {
  for (const json& bad : {json("12a"), json("-1"), json(""), json(" 5"), json("5.0"), json(5.5),
                          json(true), json(nullptr), json::array(), json("99999999999999999999")}) {
    auto msg = BadRequest([&] { RequireInt(json{{"vcpus", bad}}, "vcpus", 0, INT64_MAX); });
    EXPECT_TRUE(Contains(msg, "Invalid input for field/attribute vcpus."))
        << bad.dump() << ": " << msg;
  }
}

TEST(Validation, IntegersOutsideTheRangeAreRejected) {
  auto low = BadRequest([] { RequireInt(json{{"ram", 0}}, "ram", 1, 100); });
  EXPECT_TRUE(Contains(low, "less than the minimum of 1")) << low;
  auto high = BadRequest([] { RequireInt(json{{"ram", "101"}}, "ram", 1, 100); });
  EXPECT_TRUE(Contains(high, "greater than the maximum of 100")) << high;
  EXPECT_EQ(RequireInt(json{{"ram", 100}}, "ram", 1, 100), 100);
  EXPECT_EQ(RequireInt(json{{"ram", 1}}, "ram", 1, 100), 1);
}

TEST(Validation, MissingRequiredIntegerIsRejected) {
  EXPECT_EQ(BadRequest([] { RequireInt(json::object(), "ram", 1, 100); }),
            "'ram' is a required property");
}

TEST(Validation, BoolParamsAcceptOsloSpellingsInAnyCase) {
  for (const char* t : {"true", "True", "TRUE", "1", "yes", "Yes", "on", "ON", "t", "y"}) {
    EXPECT_TRUE(ParseBoolParam("all_tenants", t)) << t;
  }
  for (const char* f : {"false", "False", "0", "no", "NO", "off", "Off", "f", "n"}) {
    EXPECT_FALSE(ParseBoolParam("all_tenants", f)) << f;
  }
}

TEST(Validation, BoolParamOtherwiseIsBadRequestNamingParameterAndValue) {
  EXPECT_EQ(
      BadRequest([] { ParseBoolParam("all_tenants", "maybe"); }),
      "Invalid input for query parameters all_tenants. Value: maybe. Value must be a boolean");
  BadRequest([] { ParseBoolParam("with_servers", ""); });
  BadRequest([] { ParseBoolParam("with_servers", "2"); });
  BadRequest([] { ParseBoolParam("with_servers", "true "); });
}

TEST(Validation, OptionalBoolTakesBooleansOrBoolStrings) {
  EXPECT_EQ(OptionalBool(json::object(), "forced_down"), std::nullopt);
  EXPECT_EQ(OptionalBool(json{{"forced_down", true}}, "forced_down"), true);
  EXPECT_EQ(OptionalBool(json{{"forced_down", false}}, "forced_down"), false);
  EXPECT_EQ(OptionalBool(json{{"forced_down", "False"}}, "forced_down"), false);
  EXPECT_EQ(OptionalBool(json{{"forced_down", "on"}}, "forced_down"), true);
  auto msg = BadRequest([] { OptionalBool(json{{"forced_down", 1}}, "forced_down"); });
  EXPECT_TRUE(Contains(msg, "forced_down")) << msg;
  BadRequest([] { OptionalBool(json{{"forced_down", nullptr}}, "forced_down"); });
  BadRequest([] { OptionalBool(json{{"forced_down", "sure"}}, "forced_down"); });
}

TEST(Validation, LimitParamIsANonNegativeInteger) {
  EXPECT_EQ(ParseLimitParam("10"), 10);
  EXPECT_EQ(ParseLimitParam("0"), 0);
  for (const char* bad : {"", "-1", "ten", "1.5", " 1", "9999999999999999999"}) {
    EXPECT_EQ(BadRequest([&] { ParseLimitParam(bad); }), "limit param must be an integer") << bad;
  }
}

}  // namespace
}  // namespace ferry::controller::api
