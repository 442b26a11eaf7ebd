// What the fuzz targets (tests/fuzz) found, kept as plain unit tests so every preset runs them.
// Each input is also in the targets' seed corpus (tests/fuzz/corpus/*/regress_*).
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "agent/commands.hpp"
#include "api/wire/live_migration_messages.hpp"
#include "api/wire/messages.hpp"
#include "api/wire/progress_batch_parser.hpp"
#include "common/errors.hpp"
#include "common/nova_fault.hpp"

namespace ferry {
namespace {

using nlohmann::json;

// dump() throws on invalid UTF-8: the API's error answer must never hold any.
bool Serializes(const json& j) {
  try {
    (void)j.dump();
    return true;
  } catch (const json::exception&) {
    return false;
  }
}

TEST(FuzzFindings, AnErrorMessageQuotingInvalidUtf8StillMakesANovaFaultBody) {
  // The microversion header "2.\xff" is quoted in its 400; so is the start of a long name
  // whose 61st byte falls inside a character.
  const auto body = NovaFaultBody(Errc::kBadRequest, "Invalid API version request: '2.\xff'");
  ASSERT_TRUE(Serializes(body));
  EXPECT_EQ(body["badRequest"]["message"], "Invalid API version request: '2.\xEF\xBF\xBD'");
  EXPECT_EQ(NovaFaultBody(Errc::kBadRequest, "plain")["badRequest"]["message"], "plain");
}

TEST(FuzzFindings, TheAgentNamesWhereItsJsonIsMalformedWithoutQuotingTheBytes) {
  try {
    agent::DecodeCommand("{\"id\":\"x\",\"kind\":\xff\xfe}");
    FAIL() << "malformed JSON was decoded";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), Errc::kBadRequest);
    EXPECT_EQ(std::string(e.what()), "malformed JSON at byte 18");
    EXPECT_TRUE(Serializes(json(e.what())));
  }
}

TEST(FuzzFindings, AnIntegerFieldRefusesAFloatItCannotHold) {
  // 1e300 into an int64 (or 4e9 into an int) was a conversion with undefined behaviour.
  EXPECT_THROW(json::parse(R"({"uuid":"u","memory_mb":1e300})").get<wire::Domain>(),
               json::out_of_range);
  EXPECT_THROW(json::parse(R"({"uuid":"u","vcpus":4e9})").get<wire::Domain>(), json::out_of_range);
  EXPECT_THROW(json::parse(R"({"heartbeat_interval_s":-1e300})").get<wire::HeartbeatResponse>(),
               json::out_of_range);
  // A float that fits still gives its integral part, as before.
  auto d = json::parse(R"({"uuid":"u","vcpus":2.0,"memory_mb":512.9})").get<wire::Domain>();
  EXPECT_EQ(d.vcpus, 2);
  EXPECT_EQ(d.memory_mb, 512);
  EXPECT_THROW(json::parse(R"({"migration_uuid":"m","state":"r","downtime_ms":1e19})")
                   .get<wire::LiveMigrationJob>(),
               json::out_of_range);
}

TEST(FuzzFindings, TheProgressParserRefusesAFloatAnIntegerFieldCannotHold) {
  const std::string report = R"({"host":"h","reports":[{"migration_uuid":"u","state":"r",)";
  EXPECT_THROW(wire::ParseMigrationProgressBatch(report + R"("memory_total":-1e300}]})"), Error);
  // sampled_at is a double: any finite value is kept.
  auto batch =
      wire::ParseMigrationProgressBatch(report + R"("sampled_at":1e300,"iteration":3.7}]})");
  ASSERT_EQ(batch.reports.size(), 1u);
  EXPECT_EQ(batch.reports[0].sampled_at, 1e300);
  EXPECT_EQ(batch.reports[0].iteration, 3);
}

}  // namespace
}  // namespace ferry
