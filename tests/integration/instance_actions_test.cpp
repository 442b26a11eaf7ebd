// GET /v2.1/servers/{id}/os-instance-actions[/{request_id}] against the real controller: one
// action per migration, built from its migration_events rows; Nova's fields per microversion
// (2.21 deleted servers, 2.51 events for owners, 2.58 updated_at and paging, 2.62 host, 2.66
// changes-before, 2.84 details), owner-or-admin access and Nova's 400s and 404s.
#include <gtest/gtest.h>

#include <pqxx/pqxx>

#include "tests/support/stack.hpp"

namespace ferry::testing {
namespace {

using nlohmann::json;

constexpr const char* kServer = "4cfba335-03d8-49b2-8c52-e69043d1e8fe";      // project alice
constexpr const char* kOther = "5cfba335-03d8-49b2-8c52-e69043d1e8fe";       // project bob
constexpr const char* kGone = "6cfba335-03d8-49b2-8c52-e69043d1e8fe";        // deleted, was alice's
constexpr const char* kReqOld = "req-11111111-0000-4000-8000-000000000001";  // failed live move
constexpr const char* kReqNew = "req-22222222-0000-4000-8000-000000000002";  // completed

class InstanceActions : public ::testing::Test {
 protected:
  void SetUp() override {
    FERRY_REQUIRE_PG(dsn);
    stack_ = std::make_unique<Stack>(dsn);
    stack_->StartController();
    pqxx::connection c(stack_->dsn());
    pqxx::work w(c);
    AddServer(w, kServer, "alice");
    AddServer(w, kOther, "bob");
    // The older one failed while copying; the newer one completed.
    int64_t old_id = AddMigration(w, kServer, "failed", "2026-01-01T00:00:00Z", "alice");
    AddEvent(w, old_id, std::nullopt, "accepted", "requested", std::nullopt, "user-a", kReqOld,
             "2026-01-01T00:00:00Z");
    AddEvent(w, old_id, "accepted", "queued", "queued", std::nullopt, "conductor", std::nullopt,
             "2026-01-01T00:00:01Z");
    AddEvent(w, old_id, "queued", "failed", "start_failed", "source agent unreachable",
             "agent:sim-1", std::nullopt, "2026-01-01T00:00:05Z");
    int64_t new_id = AddMigration(w, kServer, "completed", "2026-01-02T00:00:00Z", "alice");
    AddEvent(w, new_id, std::nullopt, "accepted", "requested", std::nullopt, "user-b", kReqNew,
             "2026-01-02T00:00:00Z");
    AddEvent(w, new_id, "accepted", "completed", "cleaned_up", std::nullopt, "sim-2", std::nullopt,
             "2026-01-02T00:00:30Z");
    int64_t gone_id = AddMigration(w, kGone, "completed", "2026-01-03T00:00:00Z", "alice");
    AddEvent(w, gone_id, std::nullopt, "accepted", "requested", std::nullopt, "user-a", "req-gone",
             "2026-01-03T00:00:00Z");
    w.commit();
  }

  static void AddServer(pqxx::work& w, const char* uuid, const char* project) {
    w.exec_params(
        "INSERT INTO servers (uuid, name, flavorid, flavor_name, vcpus, memory_mb, "
        "root_gb, vm_state, user_id, project_id) "
        "VALUES ($1, 'vm', '1', 'm1.tiny', 1, 512, 1, 'active', 'u', $2)",
        uuid, project);
  }
  static int64_t AddMigration(pqxx::work& w, const char* server, const char* status, const char* at,
                              const char* project) {
    return w
        .exec_params1(
            "INSERT INTO migrations (uuid, instance_uuid, migration_type, status, "
            "source_compute, dest_compute, project_id, created_at) "
            "VALUES (gen_random_uuid(), $1, 'live-migration', $2, 'sim-1', 'sim-2', $3, $4) "
            "RETURNING id",
            server, status, project, at)[0]
        .as<int64_t>();
  }
  static void AddEvent(pqxx::work& w, int64_t id, std::optional<std::string> from, const char* to,
                       const char* event, std::optional<std::string> reason, const char* actor,
                       std::optional<std::string> request_id, const char* at) {
    w.exec_params(
        "INSERT INTO migration_events (migration_id, from_status, to_status, event, "
        "reason, actor, request_id, at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        id, from, to, event, reason, actor, request_id, at);
  }

  HttpResult Get(const HttpClient& client, const std::string& mv, const std::string& path) const {
    HttpClient c = client;
    c.SetMicroversion(mv);
    return c.Get(path);
  }
  HttpResult AdminGet(const std::string& mv, const std::string& path) const {
    return Get(stack_->Admin(), mv, path);
  }
  static std::string Actions(const std::string& server) {
    return "/v2.1/servers/" + server + "/os-instance-actions";
  }
  static std::vector<std::string> RequestIds(const HttpResult& r) {
    std::vector<std::string> out;
    for (const auto& a : r.body["instanceActions"]) out.push_back(a["request_id"]);
    return out;
  }

  std::unique_ptr<Stack> stack_;
};

TEST_F(InstanceActions, ListIsNewestFirstWithNovasFieldsAndErrorMessage) {
  auto r = Get(stack_->Member(), "2.58", Actions(kServer));
  ASSERT_EQ(r.status, 200) << r.raw;
  ASSERT_EQ(RequestIds(r), (std::vector<std::string>{kReqNew, kReqOld}));
  const json& done = r.body["instanceActions"][0];
  EXPECT_EQ(done, (json{{"action", "live-migration"},
                        {"instance_uuid", kServer},
                        {"request_id", kReqNew},
                        {"user_id", "user-b"},
                        {"project_id", "alice"},
                        {"start_time", "2026-01-02T00:00:00.000000"},
                        {"updated_at", "2026-01-02T00:00:30.000000"},
                        {"message", nullptr}}));
  const json& failed = r.body["instanceActions"][1];
  EXPECT_EQ(failed["message"], "Error");
  EXPECT_EQ(failed["updated_at"], "2026-01-01T00:00:05.000000");
  EXPECT_FALSE(r.body.contains("links"));
}

TEST_F(InstanceActions, Before258NoUpdatedAtAndNoPaging) {
  auto r = AdminGet("2.57", Actions(kServer) + "?limit=1&whatever=1");
  ASSERT_EQ(r.status, 200) << r.raw;
  ASSERT_EQ(r.body["instanceActions"].size(), 2u);
  EXPECT_FALSE(r.body["instanceActions"][0].contains("updated_at"));
}

TEST_F(InstanceActions, PagesWithNextLinkAndRefusesUnknownMarker) {
  auto r = AdminGet("2.58", Actions(kServer) + "?limit=1");
  ASSERT_EQ(r.status, 200) << r.raw;
  EXPECT_EQ(RequestIds(r), std::vector<std::string>{kReqNew});
  ASSERT_EQ(r.body["links"].size(), 1u);
  EXPECT_EQ(r.body["links"][0]["rel"], "next");
  const std::string next = Actions(kServer) + "?limit=1&marker=" + kReqNew;
  EXPECT_EQ(r.body["links"][0]["href"], stack_->url() + next);
  r = AdminGet("2.58", next);
  EXPECT_EQ(RequestIds(r), std::vector<std::string>{kReqOld});
  r = AdminGet("2.58", Actions(kServer) + "?marker=" + kReqOld);
  EXPECT_TRUE(r.body["instanceActions"].empty());
  r = AdminGet("2.58", Actions(kServer) + "?marker=req-nope");
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(r.body["badRequest"]["message"], "Marker req-nope could not be found.");
  // Another server's request id is not a marker here.
  EXPECT_EQ(AdminGet("2.58", Actions(kServer) + "?marker=req-gone").status, 400);
}

TEST_F(InstanceActions, ChangesSinceAndBeforeFilterOnUpdatedAt) {
  EXPECT_EQ(RequestIds(AdminGet("2.58", Actions(kServer) + "?changes-since=2026-01-01T00:00:06Z")),
            std::vector<std::string>{kReqNew});
  EXPECT_EQ(RequestIds(AdminGet("2.66", Actions(kServer) + "?changes-before=2026-01-01T00:00:05Z")),
            std::vector<std::string>{kReqOld});
  EXPECT_EQ(AdminGet("2.65", Actions(kServer) + "?changes-before=2026-01-01T00:00:05Z").status,
            400);
  auto r = AdminGet(
      "2.66",
      Actions(kServer) + "?changes-since=2026-01-02T00:00:00Z&changes-before=2026-01-01T00:00:00Z");
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(AdminGet("2.58", Actions(kServer) + "?changes-since=soon").status, 400);
  EXPECT_EQ(AdminGet("2.58", Actions(kServer) + "?colour=blue").status, 400);
  EXPECT_EQ(AdminGet("2.58", Actions(kServer) + "?limit=1&limit=2").status, 400);
}

TEST_F(InstanceActions, AdminShowHasEventsNewestFirstWithHostTracebackAndDetails) {
  auto r = AdminGet("2.84", Actions(kServer) + "/" + kReqOld);
  ASSERT_EQ(r.status, 200) << r.raw;
  const json& a = r.body["instanceAction"];
  EXPECT_EQ(a["request_id"], kReqOld);
  EXPECT_EQ(a["message"], "Error");
  ASSERT_EQ(a["events"].size(), 3u);
  EXPECT_EQ(a["events"][0], (json{{"event", "start_failed"},
                                  {"start_time", "2026-01-01T00:00:01.000000"},
                                  {"finish_time", "2026-01-01T00:00:05.000000"},
                                  {"result", "Error"},
                                  {"traceback", nullptr},
                                  {"host", "sim-1"},
                                  {"hostId", ""},
                                  {"details", "source agent unreachable"}}));
  EXPECT_EQ(a["events"][1]["event"], "queued");
  EXPECT_EQ(a["events"][1]["result"], "Success");
  EXPECT_FALSE(a["events"][1].contains("host"));  // the conductor is no host (host is a string)
  EXPECT_EQ(a["events"][2]["event"], "requested");
  EXPECT_EQ(a["events"][2]["start_time"], a["events"][2]["finish_time"]);
  // An actor equal to an end of the move is that host.
  r = AdminGet("2.84", Actions(kServer) + "/" + kReqNew);
  EXPECT_EQ(r.body["instanceAction"]["events"][0]["host"], "sim-2");
}

TEST_F(InstanceActions, EventFieldsFollowMicroversionAndRole) {
  auto r = AdminGet("2.61", Actions(kServer) + "/" + kReqOld);
  ASSERT_EQ(r.status, 200) << r.raw;
  const json& e = r.body["instanceAction"]["events"][0];
  EXPECT_FALSE(e.contains("host"));
  EXPECT_FALSE(e.contains("details"));
  EXPECT_TRUE(e.contains("traceback"));

  r = Get(stack_->Member(), "2.84", Actions(kServer) + "/" + kReqOld);
  ASSERT_EQ(r.status, 200) << r.raw;
  const json& m = r.body["instanceAction"]["events"][0];
  EXPECT_FALSE(m.contains("traceback"));
  EXPECT_FALSE(m.contains("host"));
  EXPECT_EQ(m["hostId"], "");
  EXPECT_EQ(m["details"], "source agent unreachable");
  // Before 2.51 only admins see events.
  r = Get(stack_->Member(), "2.50", Actions(kServer) + "/" + kReqOld);
  ASSERT_EQ(r.status, 200) << r.raw;
  EXPECT_FALSE(r.body["instanceAction"].contains("events"));
}

TEST_F(InstanceActions, NotFoundForUnknownServerOtherProjectOrUnknownRequest) {
  auto r = AdminGet("2.84", Actions("ffffffff-03d8-49b2-8c52-e69043d1e8fe"));
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(r.body["itemNotFound"]["code"], 404);
  EXPECT_EQ(AdminGet("2.84", Actions("not-a-uuid")).status, 404);
  EXPECT_EQ(Get(stack_->Member(), "2.84", Actions(kOther)).status, 404);
  EXPECT_EQ(AdminGet("2.84", Actions(kOther)).status, 200);
  r = AdminGet("2.84", Actions(kServer) + "/req-nope");
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(r.body["itemNotFound"]["message"],
            std::string("Action for request_id req-nope on instance ") + kServer + " not found");
  EXPECT_EQ(stack_->Anonymous().Get(Actions(kServer)).status, 401);
}

TEST_F(InstanceActions, DeletedServerFrom221ByItsMigrationRecords) {
  EXPECT_EQ(AdminGet("2.20", Actions(kGone)).status, 404);
  auto r = AdminGet("2.21", Actions(kGone));
  ASSERT_EQ(r.status, 200) << r.raw;
  EXPECT_EQ(RequestIds(r), std::vector<std::string>{"req-gone"});
  EXPECT_EQ(Get(stack_->Member(), "2.21", Actions(kGone) + "/req-gone").status, 200);
}

}  // namespace
}  // namespace ferry::testing
