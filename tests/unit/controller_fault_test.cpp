// The one table from Errc to HTTP status and Nova's fault body.
#include <gtest/gtest.h>

#include "controller/api/fault.hpp"

namespace ferry::controller::api {
namespace {

struct Row {
  Errc code;
  int status;
  const char* name;
};

class FaultMapping : public ::testing::TestWithParam<Row> {};

TEST_P(FaultMapping, ErrcMapsToStatusAndNovaFaultBody) {
  const Row& row = GetParam();
  EXPECT_EQ(HttpStatus(row.code), row.status);
  auto body = FaultBody(row.code, "Something went wrong.");
  ASSERT_TRUE(body.is_object());
  ASSERT_EQ(body.size(), 1u) << body.dump();
  ASSERT_TRUE(body.contains(row.name)) << body.dump();
  const auto& fault = body[row.name];
  EXPECT_EQ(fault.size(), 2u) << body.dump();
  EXPECT_EQ(fault.at("code"), row.status);
  EXPECT_EQ(fault.at("message"), "Something went wrong.");
}

INSTANTIATE_TEST_SUITE_P(EveryErrc, FaultMapping,
                         ::testing::Values(Row{Errc::kBadRequest, 400, "badRequest"},
                                           Row{Errc::kUnauthorized, 401, "unauthorized"},
                                           Row{Errc::kForbidden, 403, "forbidden"},
                                           Row{Errc::kNotFound, 404, "itemNotFound"},
                                           Row{Errc::kNotAcceptable, 406, "computeFault"},
                                           Row{Errc::kConflict, 409, "conflictingRequest"},
                                           Row{Errc::kUnavailable, 503, "serviceUnavailable"},
                                           Row{Errc::kInternal, 500, "computeFault"}),
                         [](const auto& info) {
                           return std::string(info.param.name) + std::to_string(info.param.status);
                         });

TEST(Fault, MessageIsCarriedVerbatimIncludingQuotesAndUnicode) {
  auto body = FaultBody(Errc::kConflict, "Aggregate \"a\" already exists – ünïcode");
  EXPECT_EQ(body["conflictingRequest"]["message"], "Aggregate \"a\" already exists – ünïcode");
}

}  // namespace
}  // namespace ferry::controller::api
