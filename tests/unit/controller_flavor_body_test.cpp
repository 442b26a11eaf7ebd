// POST /flavors bodies as Nova's flavors.create schema accepts them: the id as a string, a
// number (stored as the text Python prints) or null; rxtx_factor as a number or a decimal
// string; os-flavor-access:is_public as parameter_types.boolean.
#include <gtest/gtest.h>

#include "common/errors.hpp"
#include "common/uuid.hpp"
#include "controller/api/request_bodies.hpp"

namespace ferry::controller::api {
namespace {

using nlohmann::json;

Request WithFlavor(json extra, int minor = 1) {
  Request r;
  r.mv = Microversion{2, minor};
  json flavor = {{"name", "f"}, {"ram", 512}, {"vcpus", 1}, {"disk", 1}};
  for (auto it = extra.begin(); it != extra.end(); ++it) flavor[it.key()] = it.value();
  r.body = {{"flavor", flavor}};
  return r;
}

std::string Refusal(const json& extra, int minor = 1) {
  try {
    ParseFlavorCreate(WithFlavor(extra, minor));
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), Errc::kBadRequest) << e.what();
    return e.what();
  }
  ADD_FAILURE() << "accepted " << extra.dump();
  return "";
}

TEST(FlavorCreateBody, NumericIdIsStoredAsPythonPrintsIt) {
  // Tempest's flavor tests create with random integer ids.
  EXPECT_EQ(ParseFlavorCreate(WithFlavor({{"id", 12345}})).flavorid, "12345");
  EXPECT_EQ(ParseFlavorCreate(WithFlavor({{"id", -7}})).flavorid, "-7");
  EXPECT_EQ(ParseFlavorCreate(WithFlavor({{"id", 1.5}})).flavorid, "1.5");
  EXPECT_EQ(ParseFlavorCreate(WithFlavor({{"id", 12.0}})).flavorid, "12.0");
}

TEST(FlavorCreateBody, NullMissingOrZeroIdGetsAUuid) {
  EXPECT_TRUE(IsUuid(ParseFlavorCreate(WithFlavor({{"id", nullptr}})).flavorid));
  EXPECT_TRUE(IsUuid(ParseFlavorCreate(WithFlavor(json::object())).flavorid));
  EXPECT_TRUE(IsUuid(ParseFlavorCreate(WithFlavor({{"id", 0}})).flavorid));  // `if not flavorid`
}

TEST(FlavorCreateBody, StringIdFollowsNovasPattern) {
  EXPECT_EQ(ParseFlavorCreate(WithFlavor({{"id", "m1 tiny.x_y-z"}})).flavorid, "m1 tiny.x_y-z");
  EXPECT_EQ(ParseFlavorCreate(WithFlavor({{"id", std::string(255, 'a')}})).flavorid.size(), 255u);
  EXPECT_EQ(Refusal({{"id", " x"}}),
            "Invalid input for field/attribute id. Value:  x. ' x' does not match "
            "'^(?! )[a-zA-Z0-9. _-]+(?<! )$'");
  EXPECT_NE(Refusal({{"id", "x "}}).find("does not match"), std::string::npos);
  EXPECT_NE(Refusal({{"id", "a/b"}}).find("does not match"), std::string::npos);
  EXPECT_NE(Refusal({{"id", ""}}).find("'' is too short"), std::string::npos);
  EXPECT_NE(Refusal({{"id", std::string(256, 'a')}}).find("is too long"), std::string::npos);
  EXPECT_EQ(Refusal({{"id", true}}),
            "Invalid input for field/attribute id. Value: True. True is not of type 'string', "
            "'number', 'null'");
}

TEST(FlavorCreateBody, RxtxFactorIsAPositiveNumberOrDecimalString) {
  EXPECT_DOUBLE_EQ(ParseFlavorCreate(WithFlavor({{"rxtx_factor", 2.5}})).rxtx_factor, 2.5);
  EXPECT_DOUBLE_EQ(ParseFlavorCreate(WithFlavor({{"rxtx_factor", "1.25"}})).rxtx_factor, 1.25);
  EXPECT_DOUBLE_EQ(ParseFlavorCreate(WithFlavor({{"rxtx_factor", 3}})).rxtx_factor, 3.0);
  EXPECT_NE(Refusal({{"rxtx_factor", 0}}).find("less than or equal to the minimum of 0"),
            std::string::npos);
  EXPECT_NE(Refusal({{"rxtx_factor", "-1"}}).find("does not match"), std::string::npos);
  EXPECT_NE(Refusal({{"rxtx_factor", "0.0"}}).find("must be a float between 0"), std::string::npos);
  EXPECT_NE(Refusal({{"rxtx_factor", 4e38}}).find("greater than the maximum"), std::string::npos);
}

TEST(FlavorCreateBody, IsPublicTakesNovasBooleanSpellingsOnly) {
  EXPECT_FALSE(ParseFlavorCreate(WithFlavor({{"os-flavor-access:is_public", false}})).is_public);
  EXPECT_FALSE(ParseFlavorCreate(WithFlavor({{"os-flavor-access:is_public", "False"}})).is_public);
  EXPECT_TRUE(ParseFlavorCreate(WithFlavor({{"os-flavor-access:is_public", "yes"}})).is_public);
  EXPECT_TRUE(ParseFlavorCreate(WithFlavor(json::object())).is_public);
  EXPECT_NE(Refusal({{"os-flavor-access:is_public", "t"}}).find("is not one of"),
            std::string::npos);
}

TEST(FlavorCreateBody, DescriptionFrom255) {
  EXPECT_EQ(ParseFlavorCreate(WithFlavor({{"description", "small"}}, 55)).description, "small");
  EXPECT_NE(Refusal({{"description", "small"}}, 54).find("'description' was unexpected"),
            std::string::npos);
}

}  // namespace
}  // namespace ferry::controller::api
