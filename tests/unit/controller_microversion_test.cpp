// Microversion negotiation: OpenStack-API-Version (preferred) or X-OpenStack-Nova-API-Version.
#include <gtest/gtest.h>

#include "common/errors.hpp"
#include "controller/api/microversion.hpp"

namespace ferry::controller::api {
namespace {

using std::nullopt;
using std::optional;
using std::string;

Microversion Negotiate(optional<string> openstack, optional<string> nova = nullopt) {
  return NegotiateMicroversion(openstack, nova);
}

Errc CodeOf(optional<string> openstack, optional<string> nova = nullopt) {
  try {
    Negotiate(openstack, nova);
  } catch (const Error& e) {
    return e.code();
  }
  ADD_FAILURE() << "no error for openstack=" << openstack.value_or("-")
                << " nova=" << nova.value_or("-");
  return Errc::kInternal;
}

std::string MessageOf(optional<string> openstack, optional<string> nova = nullopt) {
  try {
    Negotiate(openstack, nova);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TEST(Microversion, MissingHeadersMeanTwoPointOne) {
  auto mv = Negotiate(nullopt, nullopt);
  EXPECT_EQ(mv.major, 2);
  EXPECT_EQ(mv.minor, 1);
  EXPECT_EQ(mv.ToString(), "2.1");
}

TEST(Microversion, OpenStackHeaderGivesTheComputeVersion) {
  EXPECT_EQ(Negotiate("compute 2.53").ToString(), "2.53");
  EXPECT_EQ(Negotiate("  compute   2.60 ").ToString(), "2.60");
  EXPECT_EQ(Negotiate("volume 3.0, compute 2.47").ToString(), "2.47");
  EXPECT_EQ(Negotiate("compute 2.47,image 2.5").ToString(), "2.47");
}

TEST(Microversion, LegacyNovaHeaderIsReadWhenTheNewOneIsAbsent) {
  EXPECT_EQ(Negotiate(nullopt, "2.20").ToString(), "2.20");
}

TEST(Microversion, NewHeaderWinsOverLegacyHeader) {
  EXPECT_EQ(Negotiate("compute 2.30", "2.10").ToString(), "2.30");
}

TEST(Microversion, NewHeaderWithoutComputeFallsBackToLegacyThenDefault) {
  EXPECT_EQ(Negotiate("volume 3.0", "2.15").ToString(), "2.15");
  EXPECT_EQ(Negotiate("volume 3.0").ToString(), "2.1");
}

TEST(Microversion, LatestMeansTheMaximumInEitherHeader) {
  EXPECT_EQ(Negotiate("compute latest").ToString(), kMaxVersion.ToString());
  EXPECT_EQ(Negotiate(nullopt, "latest").ToString(), kMaxVersion.ToString());
  EXPECT_EQ(kMaxVersion.ToString(), "2.95");
}

TEST(Microversion, BoundsAreAccepted) {
  EXPECT_EQ(Negotiate("compute 2.1").ToString(), "2.1");
  EXPECT_EQ(Negotiate("compute 2.95").ToString(), "2.95");
}

TEST(Microversion, AtLeastComparesTheMinor) {
  auto mv = Negotiate("compute 2.53");
  EXPECT_TRUE(mv.AtLeast(53));
  EXPECT_TRUE(mv.AtLeast(1));
  EXPECT_FALSE(mv.AtLeast(54));
}

TEST(Microversion, MalformedValueIsBadRequest) {
  for (const char* bad :
       {"2", "2.", ".5", "abc", "2.x", "2.5.1", "-2.5", "2,5", "+2.5", "2 .5", "", "compute",
        "2.99999999999999999999", "2.01", "02.5", "0.9"}) {  // Nova: no leading zeros
    EXPECT_EQ(CodeOf(nullopt, string(bad)), Errc::kBadRequest) << "legacy '" << bad << "'";
    if (string(bad) != "compute" && !string(bad).empty()) {
      EXPECT_EQ(CodeOf("compute " + string(bad)), Errc::kBadRequest) << "new '" << bad << "'";
    }
  }
}

TEST(Microversion, MalformedMessageQuotesTheValue) {
  EXPECT_NE(MessageOf("compute 2.x").find("2.x"), string::npos) << MessageOf("compute 2.x");
}

TEST(Microversion, OutOfRangeIsNotAcceptable) {
  for (const char* v : {"2.96", "2.1000", "3.0", "1.1", "2.0"}) {
    EXPECT_EQ(CodeOf("compute " + string(v)), Errc::kNotAcceptable) << v;
    EXPECT_EQ(CodeOf(nullopt, string(v)), Errc::kNotAcceptable) << v;
  }
}

TEST(Microversion, OutOfRangeMessageIsNovas) {
  EXPECT_EQ(MessageOf("compute 2.96"),
            "Version 2.96 is not supported by the API. Minimum is 2.1 and maximum is 2.95.");
  EXPECT_EQ(MessageOf(nullopt, "3.0"),
            "Version 3.0 is not supported by the API. Minimum is 2.1 and maximum is 2.95.");
}

}  // namespace
}  // namespace ferry::controller::api
