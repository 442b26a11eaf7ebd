// The progress batch read straight from JSON text must accept and refuse exactly what the
// generic from_json path does for the shapes agents send, and read every field.
#include "api/wire/progress_batch_parser.hpp"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "common/errors.hpp"

namespace ferry::wire {
namespace {

using nlohmann::json;

LiveMigrationJob Job(int i) {
  LiveMigrationJob j;
  j.migration_uuid = "00000000-0000-4000-8000-00000000000" + std::to_string(i);
  j.domain_uuid = "11111111-0000-4000-8000-00000000000" + std::to_string(i);
  j.state = i % 2 ? "running" : "completed";
  j.phase = "precopy";
  j.iteration = 3 + i;
  j.memory_total = 1LL << 33;
  j.memory_processed = 123456789 + i;
  j.memory_remaining = 987654321;
  j.disk_total = 5;
  j.disk_processed = 6;
  j.disk_remaining = 7;
  j.transfer_rate_bps = 1250000000;
  j.dirty_rate_bps = 4194304;
  j.downtime_ms = 300;
  j.throttle_percent = 20;
  j.error = i == 2 ? "boom \"quoted\"" : "";
  j.sampled_at = 1764450000.25 + i;
  return j;
}

TEST(ProgressBatchParser, ReadsWhatToJsonWrites) {
  MigrationProgressBatch b;
  b.host = "kvm-1";
  for (int i = 0; i < 3; ++i) b.reports.push_back(Job(i));
  const std::string text = json(b).dump();
  auto got = ParseMigrationProgressBatch(text);
  auto want = json::parse(text).get<MigrationProgressBatch>();
  EXPECT_EQ(json(got), json(want));
  EXPECT_EQ(json(got), json(b));
}

TEST(ProgressBatchParser, IgnoresUnknownKeysAtAnyDepth) {
  auto got = ParseMigrationProgressBatch(
      R"({"extra":{"a":[1,{"b":2}]},"host":"h","reports":[{"x":[{"migration_uuid":"no"}],)"
      R"("migration_uuid":"u","state":"running","memory_total":10,"y":null}],"z":[1,2]})");
  ASSERT_EQ(got.reports.size(), 1u);
  EXPECT_EQ(got.host, "h");
  EXPECT_EQ(got.reports[0].migration_uuid, "u");
  EXPECT_EQ(got.reports[0].memory_total, 10);
}

TEST(ProgressBatchParser, AcceptsAnEmptyBatch) {
  auto got = ParseMigrationProgressBatch(R"({"host":"h","reports":[]})");
  EXPECT_TRUE(got.reports.empty());
}

TEST(ProgressBatchParser, RefusesWhatFromJsonRefuses) {
  const char* bad[] = {
      "",                                                    // not JSON
      "{",                                                   // truncated
      "[]",                                                  // not an object
      "5",                                                   //
      R"({"reports":[]})",                                   // no host
      R"({"host":"h"})",                                     // no reports
      R"({"host":5,"reports":[]})",                          // host not a string
      R"({"host":"h","reports":{}})",                        // reports not an array
      R"({"host":"h","reports":[5]})",                       // a report not an object
      R"({"host":"h","reports":[[]]})",                      //
      R"({"host":"h","reports":[{"state":"running"}]})",     // no migration_uuid
      R"({"host":"h","reports":[{"migration_uuid":"u"}]})",  // no state
      R"({"host":"h","reports":[{"migration_uuid":1,"state":"r"}]})",
      R"({"host":"h","reports":[{"migration_uuid":"u","state":"r","memory_total":"x"}]})",
      R"({"host":"h","reports":[{"migration_uuid":"u","state":"r","sampled_at":null}]})",
  };
  for (const char* text : bad) {
    bool generic_refuses = false;
    try {
      json::parse(text).get<MigrationProgressBatch>();
    } catch (const json::exception&) {
      generic_refuses = true;
    }
    EXPECT_TRUE(generic_refuses) << "the generic path accepts " << text;
    try {
      ParseMigrationProgressBatch(text);
      ADD_FAILURE() << "accepted: " << text;
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), Errc::kBadRequest) << text;
    }
  }
}

}  // namespace
}  // namespace ferry::wire
