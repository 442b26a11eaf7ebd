// GET /v2.1/os-migrations against the real controller: admin only, fields by microversion
// (migration_type 2.23, uuid and paging 2.59, changes-before 2.66, user/project 2.80), links
// only for an in-progress live migration, Nova's 400s for a bad marker and bad dates, and
// ferry's phase / attempt / error / progress_percent only with X-Ferry-Extensions: true.
#include <gtest/gtest.h>

#include <pqxx/pqxx>

#include "tests/support/stack.hpp"

namespace ferry::testing {
namespace {

using nlohmann::json;

constexpr const char* kServer = "4cfba335-03d8-49b2-8c52-e69043d1e8fe";
constexpr const char* kLive = "12341d4b-346a-40d0-83c6-5f4f6892b650";    // running, newest
constexpr const char* kCold = "42341d4b-346a-40d0-83c6-5f4f6892b651";    // completed
constexpr const char* kFailed = "52341d4b-346a-40d0-83c6-5f4f6892b652";  // failed live, oldest

class OsMigrations : public ::testing::Test {
 protected:
  void SetUp() override {
    FERRY_REQUIRE_PG(dsn);
    stack_ = std::make_unique<Stack>(dsn);
    stack_->StartController();
    pqxx::connection c(stack_->dsn());
    pqxx::work w(c);
    const char* insert =
        "INSERT INTO migrations (uuid, instance_uuid, migration_type, status, source_compute, "
        "source_node, dest_compute, dest_node, dest_host, old_instance_type_id, "
        "new_instance_type_id, memory_total, memory_remaining, user_id, project_id, created_at, "
        "updated_at, step, attempt, error_reason) VALUES ($1, $2, $3, $4, $5, $5, $6, $6, "
        "'10.0.0.2', 1, $7, $8, $9, $10, $11, $12::timestamptz, $12::timestamptz, $13, $14, $15) "
        "RETURNING id";
    live_id_ = w.exec_params1(insert, kLive, kServer, "live-migration", "running", "sim-1", "sim-2",
                              1, 1000, 250, "u1", "p1", "2026-01-01T00:00:03Z", "copying", 1,
                              std::optional<std::string>())[0]
                   .as<int64_t>();
    w.exec_params(insert, kCold, kServer, "migration", "completed", "sim-2", "sim-3", 2,
                  std::optional<int64_t>(), std::optional<int64_t>(), "u2", "p2",
                  "2026-01-01T00:00:02Z", std::optional<std::string>(), 0,
                  std::optional<std::string>());
    w.exec_params(insert, kFailed, kServer, "live-migration", "failed", "sim-1", "sim-3", 1,
                  std::optional<int64_t>(), std::optional<int64_t>(), "u1", "p1",
                  "2026-01-01T00:00:01Z", "done", 2, "destination refused");
    // The running row is held by another controller's live lease: this controller's engine
    // must not take it over and drive it (it would fail it for want of agents, and the rows
    // these tests read would change under them).
    w.exec_params(
        "UPDATE migrations SET lease_owner = 'another-controller', "
        "lease_until = now() + interval '1 hour' WHERE id = $1",
        live_id_);
    w.commit();
  }

  HttpResult Get(const std::string& mv, const std::string& query = "",
                 bool ferry_extensions = false) const {
    auto admin = ferry_extensions ? stack_->FerryAdmin() : stack_->Admin();
    admin.SetMicroversion(mv);
    return admin.Get("/v2.1/os-migrations" + query);
  }
  static std::vector<std::string> Uuids(const HttpResult& r) {
    std::vector<std::string> out;
    for (const auto& m : r.body["migrations"]) out.push_back(m["uuid"]);
    return out;
  }
  static const json& Find(const HttpResult& r, const std::string& instance_status) {
    for (const auto& m : r.body["migrations"]) {
      if (m["status"] == instance_status) return m;
    }
    static const json kNone;
    ADD_FAILURE() << "no migration in status " << instance_status << ": " << r.raw;
    return kNone;
  }

  std::unique_ptr<Stack> stack_;
  int64_t live_id_ = 0;
};

TEST_F(OsMigrations, MemberIsForbidden) {
  auto member = stack_->Member();
  member.SetMicroversion("2.80");
  auto r = member.Get("/v2.1/os-migrations");
  EXPECT_EQ(r.status, 403);
  EXPECT_EQ(r.body["forbidden"]["code"], 403);
}

TEST_F(OsMigrations, NovaBodyHasNoFerryFieldsAtAnyVersion) {
  for (const char* mv : {"2.1", "2.23", "2.59", "2.80"}) {
    auto r = Get(mv);
    ASSERT_EQ(r.status, 200) << r.raw;
    ASSERT_EQ(r.body["migrations"].size(), 3u) << mv;
    for (const auto& m : r.body["migrations"]) {
      for (const char* key : {"phase", "attempt", "error", "progress_percent"}) {
        EXPECT_FALSE(m.contains(key)) << mv << " " << key << ": " << m.dump();
      }
    }
  }
  // Only the exact word (any case) asks for them.
  auto admin = stack_->Admin();
  admin.SetHeader("X-Ferry-Extensions", "yes please");
  EXPECT_FALSE(admin.Get("/v2.1/os-migrations").body["migrations"][0].contains("phase"));
  admin.SetHeader("X-Ferry-Extensions", "TRUE");
  EXPECT_EQ(admin.Get("/v2.1/os-migrations").body["migrations"][0]["phase"], "copying");
}

TEST_F(OsMigrations, At21NoTypeUuidOwnerOrLinksFerryFieldsWhenAsked) {
  auto r = Get("2.1", "", true);
  ASSERT_EQ(r.status, 200) << r.raw;
  ASSERT_EQ(r.body["migrations"].size(), 3u);
  const json& live = r.body["migrations"][0];
  EXPECT_EQ(live["id"], live_id_);
  EXPECT_EQ(live["instance_uuid"], kServer);
  EXPECT_EQ(live["status"], "running");
  EXPECT_EQ(live["source_compute"], "sim-1");
  EXPECT_EQ(live["source_node"], "sim-1");
  EXPECT_EQ(live["dest_compute"], "sim-2");
  EXPECT_EQ(live["dest_node"], "sim-2");
  EXPECT_EQ(live["dest_host"], "10.0.0.2");
  EXPECT_EQ(live["old_instance_type_id"], 1);
  EXPECT_EQ(live["new_instance_type_id"], 1);
  EXPECT_EQ(live["created_at"], "2026-01-01T00:00:03.000000");
  EXPECT_EQ(live["updated_at"], "2026-01-01T00:00:03.000000");
  EXPECT_EQ(live["phase"], "copying");
  EXPECT_EQ(live["attempt"], 1);
  EXPECT_TRUE(live["error"].is_null());
  EXPECT_EQ(live["progress_percent"], 75);
  for (const auto& m : r.body["migrations"]) {
    for (const char* key : {"migration_type", "uuid", "user_id", "project_id", "links"}) {
      EXPECT_FALSE(m.contains(key)) << key;
    }
  }
  EXPECT_TRUE(Find(r, "completed")["progress_percent"].is_null());
  EXPECT_EQ(Find(r, "failed")["error"], "destination refused");
  EXPECT_FALSE(r.body.contains("migrations_links"));
}

TEST_F(OsMigrations, At223TypeAndLinksOnlyForTheInProgressLiveMigration) {
  auto r = Get("2.23", "?limit=1");  // paging is 2.59: the limit is ignored
  ASSERT_EQ(r.status, 200) << r.raw;
  ASSERT_EQ(r.body["migrations"].size(), 3u);
  const json& live = Find(r, "running");
  EXPECT_EQ(live["migration_type"], "live-migration");
  std::string rel = std::string("/servers/") + kServer + "/migrations/" + std::to_string(live_id_);
  EXPECT_EQ(live["links"], (json{{{"href", stack_->url() + "/v2.1" + rel}, {"rel", "self"}},
                                 {{"href", stack_->url() + rel}, {"rel", "bookmark"}}}));
  EXPECT_EQ(Find(r, "completed")["migration_type"], "migration");
  EXPECT_FALSE(Find(r, "completed").contains("links"));
  EXPECT_FALSE(Find(r, "failed").contains("links"));  // live, but over
  EXPECT_FALSE(live.contains("uuid"));
}

TEST_F(OsMigrations, At259UuidAndPagesWithNextLinkKeepingFilters) {
  auto r = Get("2.59", "?limit=1&migration_type=live-migration");
  ASSERT_EQ(r.status, 200) << r.raw;
  EXPECT_EQ(Uuids(r), std::vector<std::string>{kLive});
  EXPECT_FALSE(r.body["migrations"][0].contains("user_id"));
  ASSERT_EQ(r.body["migrations_links"].size(), 1u);
  EXPECT_EQ(r.body["migrations_links"][0]["rel"], "next");
  EXPECT_EQ(r.body["migrations_links"][0]["href"],
            stack_->url() + "/v2.1/os-migrations?limit=1&marker=" + kLive +
                "&migration_type=live-migration");

  r = Get("2.59", "?limit=2");
  EXPECT_EQ(Uuids(r), (std::vector<std::string>{kLive, kCold}));
  r = Get("2.59", std::string("?limit=2&marker=") + kCold);
  EXPECT_EQ(Uuids(r), std::vector<std::string>{kFailed});
  EXPECT_FALSE(r.body.contains("migrations_links"));  // not a full page
}

TEST_F(OsMigrations, At280OwnerFieldsAndFilters) {
  auto r = Get("2.80", "?user_id=u1");
  ASSERT_EQ(r.status, 200) << r.raw;
  EXPECT_EQ(Uuids(r), (std::vector<std::string>{kLive, kFailed}));
  EXPECT_EQ(r.body["migrations"][0]["user_id"], "u1");
  EXPECT_EQ(r.body["migrations"][0]["project_id"], "p1");
  EXPECT_EQ(Uuids(Get("2.80", "?project_id=p2")), std::vector<std::string>{kCold});
  EXPECT_EQ(Get("2.79", "?project_id=p2").status, 400);  // not a parameter yet
}

TEST_F(OsMigrations, NovaFilters) {
  EXPECT_EQ(Uuids(Get("2.59", "?status=failed&status=completed")),
            (std::vector<std::string>{kCold, kFailed}));
  EXPECT_EQ(Uuids(Get("2.59", "?host=sim-2")), (std::vector<std::string>{kLive, kCold}));
  EXPECT_EQ(Uuids(Get("2.59", "?source_compute=sim-1")),
            (std::vector<std::string>{kLive, kFailed}));
  EXPECT_EQ(Uuids(Get("2.59", std::string("?instance_uuid=") + kServer)).size(), 3u);
  EXPECT_EQ(Get("2.59", "?instance_uuid=not-a-uuid").body["migrations"].size(), 0u);
  EXPECT_EQ(Uuids(Get("2.59", "?migration_type=migration")), std::vector<std::string>{kCold});
  EXPECT_EQ(Uuids(Get("2.59", "?changes-since=2026-01-01T00:00:02Z")),
            (std::vector<std::string>{kLive, kCold}));
  EXPECT_EQ(Uuids(Get("2.66", "?changes-before=2026-01-01T00:00:02")),
            (std::vector<std::string>{kCold, kFailed}));
  // changes-before is 2.66: unknown at 2.65, where the schema refuses extra parameters.
  EXPECT_EQ(Get("2.65", "?changes-before=2026-01-01T00:00:02").status, 400);
}

TEST_F(OsMigrations, BadMarkerAndDatesAreBadRequests) {
  const std::string unknown = "ffffffff-346a-40d0-83c6-5f4f6892b650";
  auto r = Get("2.59", "?marker=" + unknown);
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(r.body["badRequest"]["message"], "Marker " + unknown + " could not be found.");
  EXPECT_EQ(Get("2.59", "?marker=junk").status, 400);
  r = Get("2.59", "?changes-since=yesterday");
  EXPECT_EQ(r.status, 400);
  EXPECT_NE(r.body["badRequest"]["message"].get<std::string>().find("changes-since"),
            std::string::npos);
  EXPECT_EQ(Get("2.66", "?changes-before=2026-13-45T99:00:00Z").status, 400);
  r = Get("2.66", "?changes-since=2026-01-01T00:00:03Z&changes-before=2026-01-01T00:00:01Z");
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(r.body["badRequest"]["message"],
            "The value of changes-since must be less than or equal to changes-before.");
  EXPECT_EQ(Get("2.58", "?marker=junk").status, 200);  // no paging before 2.59
}

TEST_F(OsMigrations, From259UnknownOrRepeatedParametersAreBadRequests) {
  EXPECT_EQ(Get("2.58", "?colour=blue").status, 200);  // schema open before 2.59
  auto r = Get("2.59", "?colour=blue");
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(r.body["badRequest"]["message"],
            "Additional properties are not allowed ('colour' was unexpected)");
  EXPECT_EQ(Get("2.59", "?limit=1&limit=2").status, 400);
  EXPECT_EQ(Get("2.59", "?hidden=0&status=running&status=failed").status, 200);
}

}  // namespace
}  // namespace ferry::testing
