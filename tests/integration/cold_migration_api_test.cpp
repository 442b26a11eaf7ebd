// The cold migration and resize API against a real controller and two sim agents: Nova's
// synchronous answers (codes and error bodies of migrate_server.py, servers.py _resize /
// _confirm_resize / _revert_resize and compute/api.py, in Nova's order), proof that a refused
// request changed nothing, the server's status right after an accepted request, and the whole
// move: VERIFY_RESIZE, confirm (ACTIVE on the new host, new flavor) and revert (back on the
// source with the old flavor).
//
// One stack for the file: sim-1 and sim-2 in one cell, sim-3 in another; sim-1 copies slowly
// (its dirty rate beats its bandwidth), so a live migration out of it holds sim-1's outbound
// slot as long as a test needs.
#include <gtest/gtest.h>

#include "tests/support/live_migration_stack.hpp"

namespace ferry::testing {
namespace {

constexpr const char* kUnknownServer = "8a4f1b2c-0d3e-4f5a-9b6c-7d8e9f0a1b2c";

std::string FaultName(int code) {
  switch (code) {
    case 400:
      return "badRequest";
    case 403:
      return "forbidden";
    case 404:
      return "itemNotFound";
    case 409:
      return "conflictingRequest";
  }
  return "?";
}

void ExpectFault(const HttpResult& r, int code, const std::string& message) {
  EXPECT_EQ(r.status, code) << r.raw;
  EXPECT_EQ(r.body, (json{{FaultName(code), {{"code", code}, {"message", message}}}})) << r.raw;
}

class ColdMigrationApi : public ::testing::Test {
 protected:
  static void TearDownTestSuite() { shared_.reset(); }

  void SetUp() override {
    FERRY_REQUIRE_PG(dsn);
    if (!shared_) {
      shared_ = std::make_unique<LiveMigrationStack>(dsn);
      shared_->StartHosts(
          {{"sim-1", {"--sim-bandwidth-mbps", "100", "--sim-dirty-rate-mbps", "150"}},
           {"sim-2", {}},
           {"sim-3", {"--cell", "cell2"}}});
      auto& s = *shared_->stack;
      s.EnsureFlavor("1", 1, 512, 1);
      s.EnsureFlavor("2", 2, 1024, 2);
      s.EnsureFlavor("3", 1, 512, 0);  // no root disk
      auto r = s.Admin().Post("/v2.1/flavors", {{"flavor",
                                                 {{"name", "private"},
                                                  {"id", "9"},
                                                  {"vcpus", 1},
                                                  {"ram", 512},
                                                  {"disk", 2},
                                                  {"os-flavor-access:is_public", false}}}});
      ASSERT_EQ(r.status, 200) << r.raw;
    }
    lm_ = shared_.get();
  }

  HttpClient Admin(const std::string& mv = "2.80") const {
    auto c = lm_->stack->Admin();
    c.SetMicroversion(mv);
    return c;
  }
  HttpClient Member(const std::string& mv = "2.80") const {
    auto c = lm_->stack->Member();
    c.SetMicroversion(mv);
    return c;
  }
  HttpResult Act(const HttpClient& c, const std::string& server, const json& body) {
    return c.Post("/v2.1/servers/" + server + "/action", body);
  }

  // A server on `host` that the member alice owns (the token file's member is user and
  // project "alice").
  std::string AlicesServer(const std::string& host, const std::string& name,
                           const std::string& flavor = "1") {
    auto id = lm_->ServerOn(host, name, flavor);
    lm_->Sql("UPDATE servers SET project_id = 'alice', user_id = 'alice' WHERE uuid = '" + id +
             "'");
    return id;
  }

  // What a refused request must leave alone: the move records, their trail, the server's
  // host, states and flavor.
  std::string State(const std::string& server) {
    pqxx::connection c(lm_->stack->dsn());
    pqxx::work w(c);
    auto row = w.exec_params1(
        "SELECT coalesce(h.name, '') || '/' || s.vm_state || '/' || coalesce(s.task_state, '') "
        "|| '/' || s.flavor_id || '/' || (SELECT count(*) FROM migrations) || '/' || "
        "(SELECT count(*) FROM migration_events) FROM servers s LEFT JOIN hosts h ON h.id = "
        "s.host_id WHERE s.uuid = $1::uuid",
        server);
    return row[0].as<std::string>();
  }

  void Refused(const HttpClient& c, const std::string& server, const json& body, int code,
               const std::string& message) {
    const std::string before = State(server);
    ExpectFault(Act(c, server, body), code, message);
    EXPECT_EQ(State(server), before) << "the refused request changed state";
  }

  // The server's cold move of `type`, newest first, from os-migrations with ferry's fields.
  json LatestMove(const std::string& server, const std::string& type) {
    auto c = lm_->stack->FerryAdmin();
    c.SetMicroversion("2.80");
    auto list = c.Get("/v2.1/os-migrations?instance_uuid=" + server + "&migration_type=" + type)
                    .body["migrations"];
    return list.empty() ? json() : list[0];
  }

  bool WaitServerStatus(const std::string& server, const std::string& status,
                        std::chrono::milliseconds t = 60s) {
    return Stack::WaitFor([&] { return lm_->Server(server)["status"] == status; }, t);
  }

  static std::unique_ptr<LiveMigrationStack> shared_;
  LiveMigrationStack* lm_ = nullptr;
};

std::unique_ptr<LiveMigrationStack> ColdMigrationApi::shared_;

const json kMigrate = {{"migrate", nullptr}};
const json kResizeTo2 = {{"resize", {{"flavorRef", "2"}}}};
const json kConfirm = {{"confirmResize", nullptr}};
const json kRevert = {{"revertResize", nullptr}};

std::string NotFound(const std::string& uuid) {
  return "Instance " + uuid + " could not be found.";
}

TEST_F(ColdMigrationApi, EveryActionOnAnUnknownServerIs404) {
  for (const json& body : {kMigrate, kResizeTo2, kConfirm, kRevert}) {
    ExpectFault(Act(Admin(), kUnknownServer, body), 404, NotFound(kUnknownServer));
  }
}

TEST_F(ColdMigrationApi, MigrateIsAdminOnlyAfterTheServerLookup) {
  auto mine = AlicesServer("sim-1", "alice-migrate");
  Refused(Member(), mine, kMigrate, 403,
          "Policy doesn't allow os_compute_api:os-migrate-server:migrate to be performed.");
  // Nova has a rule of its own for a migrate naming its host.
  Refused(Member("2.56"), mine, {{"migrate", {{"host", "sim-2"}}}}, 403,
          "Policy doesn't allow os_compute_api:os-migrate-server:migrate:host to be performed.");
  // Another project's server is not found, before any policy.
  auto theirs = lm_->ServerOn("sim-1", "admins-migrate");
  Refused(Member(), theirs, kMigrate, 404, NotFound(theirs));
  Refused(Member(), theirs, kResizeTo2, 404, NotFound(theirs));
}

TEST_F(ColdMigrationApi, MigrateHostErrorsAre400) {
  auto id = lm_->ServerOn("sim-1", "migrate-host");
  Refused(Admin("2.56"), id, {{"migrate", {{"host", "sim-1"}}}}, 400,
          "Cannot migrate to the host where the server exists.");
  Refused(Admin("2.56"), id, {{"migrate", {{"host", "no-such-host"}}}}, 400,
          "Compute host no-such-host could not be found.");
  // Looked up in the server's cell, as Nova does.
  Refused(Admin("2.80"), id, {{"migrate", {{"host", "sim-3"}}}}, 400,
          "Compute host sim-3 could not be found.");
  Refused(Admin("2.56"), id, {{"migrate", {{"host", 1}}}}, 400,
          "Invalid input for field/attribute host. Value: 1. 1 is not of type 'string', 'null'");
  Refused(Admin("2.56"), id, {{"migrate", {{"hots", "sim-2"}}}}, 400,
          "Invalid input for field/attribute migrate. Value: {'hots': 'sim-2'}. Additional "
          "properties are not allowed ('hots' was unexpected)");
}

TEST_F(ColdMigrationApi, ResizeFlavorErrorsAre400) {
  auto id = AlicesServer("sim-1", "resize-flavors");
  Refused(Member(), id, {{"resize", {{"flavorRef", "1"}}}}, 400,
          "When resizing, instances must change flavor!");
  Refused(Member(), id, {{"resize", {{"flavorRef", "404"}}}}, 400,
          "Flavor 404 could not be found.");
  // A private flavor alice's project was not given is not found for her.
  Refused(Member(), id, {{"resize", {{"flavorRef", "9"}}}}, 400, "Flavor 9 could not be found.");
  Refused(Member(), id, {{"resize", {{"flavorRef", "3"}}}}, 400,
          "Server disk was unable to be resized because: Resize to zero disk flavor is not "
          "allowed.");
  Refused(Member(), id, {{"resize", json::object()}}, 400,
          "Invalid input for field/attribute resize. Value: {}. 'flavorRef' is a required "
          "property");
  Refused(Member(), id, {{"resize", {{"flavorRef", "2"}, {"OS-DCF:diskConfig", "auto"}}}}, 400,
          "Invalid input for field/attribute OS-DCF:diskConfig. Value: auto. 'auto' is not one of "
          "['AUTO', 'MANUAL']");
}

TEST_F(ColdMigrationApi, ResizingToASmallerRootDiskIs400) {
  auto id = lm_->ServerOn("sim-1", "shrink", "2");
  Refused(Admin(), id, {{"resize", {{"flavorRef", "1"}}}}, 400,
          "Resize error: Unable to resize disk down.");
}

TEST_F(ColdMigrationApi, ALockedServerIs409ForItsOwnerOnly) {
  auto id = AlicesServer("sim-1", "locked");
  lm_->Sql("UPDATE servers SET locked = true WHERE uuid = '" + id + "'");
  for (const json& body : {kResizeTo2, kConfirm, kRevert}) {
    Refused(Member(), id, body, 409, "Instance " + id + " is locked");
  }
  // An admin is not bound by the lock: the request passes the lock check and meets the next.
  Refused(Admin(), id, kConfirm, 409,
          "Cannot 'confirmResize' instance " + id + " while it is in vm_state active");
}

TEST_F(ColdMigrationApi, WrongStatesAre409WithNovasText) {
  auto id = AlicesServer("sim-1", "states");
  lm_->Sql("UPDATE servers SET vm_state = 'paused' WHERE uuid = '" + id + "'");
  Refused(Member(), id, kResizeTo2, 409,
          "Cannot 'resize' instance " + id + " while it is in vm_state paused");
  Refused(Admin(), id, kMigrate, 409,
          "Cannot 'migrate' instance " + id + " while it is in vm_state paused");
  lm_->Sql("UPDATE servers SET vm_state = 'active', task_state = 'rebooting' WHERE uuid = '" + id +
           "'");
  Refused(Member(), id, kResizeTo2, 409,
          "Cannot 'resize' instance " + id + " while it is in task_state rebooting");
  lm_->Sql("UPDATE servers SET task_state = NULL WHERE uuid = '" + id + "'");
}

// Nova's check_instance_host(check_is_up=True): a server whose host is down cannot move.
TEST_F(ColdMigrationApi, AServerOnAHostThatIsDownIs409) {
  auto id = lm_->ServerOn("sim-3", "host-down");
  lm_->Sql("UPDATE hosts SET forced_down = true WHERE name = 'sim-3'");
  Refused(Admin(), id, kResizeTo2, 409, "Service is unavailable at this time.");
  Refused(Admin(), id, kMigrate, 409, "Service is unavailable at this time.");
  lm_->Sql("UPDATE hosts SET forced_down = false WHERE name = 'sim-3'");
}

// Nova checks the vm_state before it looks for the migration: an unresized server is 409; a
// resized one without a move waiting for confirm is "Instance has not been resized." (400).
TEST_F(ColdMigrationApi, ConfirmOrRevertOfAnUnresizedServerIsRefused) {
  auto id = AlicesServer("sim-1", "unresized");
  Refused(Member(), id, kConfirm, 409,
          "Cannot 'confirmResize' instance " + id + " while it is in vm_state active");
  Refused(Member(), id, kRevert, 409,
          "Cannot 'revertResize' instance " + id + " while it is in vm_state active");
  lm_->Sql("UPDATE servers SET vm_state = 'resized' WHERE uuid = '" + id + "'");
  Refused(Member(), id, kConfirm, 400, "Instance has not been resized.");
  Refused(Member(), id, kRevert, 400, "Instance has not been resized.");
  lm_->Sql("UPDATE servers SET vm_state = 'active' WHERE uuid = '" + id + "'");
}

TEST_F(ColdMigrationApi, AnAcceptedResizeShowsResizeAtOnceAndRefusesASecondMove) {
  auto id = AlicesServer("sim-2", "accepted");
  auto r = Act(Member(), id, kResizeTo2);
  ASSERT_EQ(r.status, 202) << r.raw;
  EXPECT_TRUE(r.raw.empty()) << r.raw;
  const json s = lm_->Server(id);
  // Until the move waits for confirm the server is RESIZE with one of Nova's resize tasks.
  if (s["status"] != "VERIFY_RESIZE") {
    EXPECT_EQ(s["status"], "RESIZE") << s.dump();
    EXPECT_EQ(s["OS-EXT-STS:task_state"].get<std::string>().rfind("resize_", 0), 0u) << s.dump();
  }
  auto again = Act(Admin("2.56"), id, {{"migrate", {{"host", "sim-1"}}}});
  EXPECT_EQ(again.status, 409) << again.raw;
  auto m = LatestMove(id, "resize");
  ASSERT_FALSE(m.is_null());
  EXPECT_EQ(m["migration_type"], "resize");
  EXPECT_EQ(m["source_compute"], "sim-2");
  EXPECT_EQ(m["user_id"], "alice");
  EXPECT_EQ(m["project_id"], "alice");
  EXPECT_NE(m["old_instance_type_id"], m["new_instance_type_id"]) << m.dump();
  // The request is the resize action, under the request's id.
  auto actions = Member("2.80").Get("/v2.1/servers/" + id + "/os-instance-actions");
  ASSERT_EQ(actions.status, 200) << actions.raw;
  bool found = false;
  for (const auto& a : actions.body["instanceActions"]) found = found || a["action"] == "resize";
  EXPECT_TRUE(found) << actions.raw;
}

// A retried request with the same Idempotency-Key returns the first answer and starts nothing
// more; the key is not for another server.
TEST_F(ColdMigrationApi, ARetriedResizeWithItsIdempotencyKeyCreatesOneMove) {
  auto id = AlicesServer("sim-2", "idempotent");
  auto c = Member();
  c.SetHeader("Idempotency-Key", "resize-" + id);
  ASSERT_EQ(Act(c, id, kResizeTo2).status, 202);
  // The server is busy now: without the key this would be a 409.
  EXPECT_EQ(Act(c, id, kResizeTo2).status, 202);
  EXPECT_EQ(lm_->Count("SELECT count(*) FROM migrations WHERE instance_uuid = '" + id + "'"), 1);
  auto other = AlicesServer("sim-2", "idempotent-other");
  auto r = Act(c, other, kResizeTo2);
  ExpectFault(r, 409, "Idempotency-Key resize-" + id + " was already used for another request");
  EXPECT_EQ(lm_->Count("SELECT count(*) FROM migrations WHERE instance_uuid = '" + other + "'"), 0);
}

// ferry's extension: a cold move that has not started can be aborted with Nova's DELETE of a
// server migration. A live migration out of sim-1 holds its one outbound slot, so a cold
// migration behind it stays queued.
TEST_F(ColdMigrationApi, AQueuedColdMigrationCanBeAborted) {
  auto blocker = lm_->ServerOn("sim-1", "slot-holder");
  ASSERT_EQ(lm_->MigrateLive(blocker, {{"host", "sim-2"}, {"block_migration", "auto"}}).status,
            202);
  ASSERT_TRUE(lm_->WaitStatus(blocker, "running"));
  auto id = lm_->ServerOn("sim-1", "queued-cold");
  ASSERT_EQ(Act(Admin(), id, kMigrate).status, 202);
  ASSERT_TRUE(
      Stack::WaitFor([&] { return LatestMove(id, "migration")["status"] == "queued"; }, 20s));
  const auto mid = LatestMove(id, "migration")["id"].get<int64_t>();
  auto r = Admin("2.24").Delete("/v2.1/servers/" + id + "/migrations/" + std::to_string(mid));
  EXPECT_EQ(r.status, 202) << r.raw;
  EXPECT_TRUE(
      Stack::WaitFor([&] { return LatestMove(id, "migration")["status"] == "cancelled"; }, 30s));
  auto s = lm_->Server(id);
  EXPECT_EQ(s["status"], "ACTIVE") << s.dump();
  EXPECT_EQ(s["OS-EXT-SRV-ATTR:host"], "sim-1");
  // Aborting it again: it is no longer in a state that can be aborted.
  ExpectFault(Admin("2.24").Delete("/v2.1/servers/" + id + "/migrations/" + std::to_string(mid)),
              400,
              "Migration " + std::to_string(mid) + " state of instance " + id +
                  " is cancelled. Cannot abort migration while the migration is in this state.");
  auto live = lm_->LatestMigration(blocker)["id"].get<int64_t>();
  EXPECT_EQ(Admin("2.24")
                .Delete("/v2.1/servers/" + blocker + "/migrations/" + std::to_string(live))
                .status,
            202);
  EXPECT_TRUE(lm_->WaitTerminal(blocker, 30s));
}

// The whole move (needs the agents' cold-migration side).
TEST_F(ColdMigrationApi, MigrateWaitsInVerifyResizeThenConfirmLeavesItActiveOnTheNewHost) {
  auto id = lm_->ServerOn("sim-2", "migrate-confirm");
  ASSERT_EQ(Act(Admin("2.56"), id, {{"migrate", {{"host", "sim-1"}}}}).status, 202);
  ASSERT_TRUE(WaitServerStatus(id, "VERIFY_RESIZE")) << LatestMove(id, "migration").dump();
  auto s = lm_->Server(id);
  EXPECT_EQ(s["OS-EXT-SRV-ATTR:host"], "sim-1");
  EXPECT_EQ(s["OS-EXT-STS:vm_state"], "resized");
  const json move = LatestMove(id, "migration");
  EXPECT_EQ(move["status"], "finished");
  EXPECT_FALSE(move.contains("links")) << move.dump();  // Nova: live migrations in progress only
  // The server-migrations resource stays live-only, as Nova's.
  const std::string mid = std::to_string(move["id"].get<int64_t>());
  EXPECT_EQ(Admin().Get("/v2.1/servers/" + id + "/migrations").body["migrations"], json::array());
  ExpectFault(Admin().Get("/v2.1/servers/" + id + "/migrations/" + mid), 404,
              "Migration " + mid + " for server " + id + " is not live-migration.");
  auto r = Act(Admin(), id, kConfirm);
  EXPECT_EQ(r.status, 204) << r.raw;
  ASSERT_TRUE(WaitServerStatus(id, "ACTIVE"));
  ASSERT_TRUE(
      Stack::WaitFor([&] { return LatestMove(id, "migration")["status"] == "confirmed"; }, 30s));
  EXPECT_EQ(lm_->Server(id)["OS-EXT-SRV-ATTR:host"], "sim-1");
  EXPECT_TRUE(lm_->RunsOn("sim-1", id));
  EXPECT_FALSE(lm_->RunsOn("sim-2", id));
  ExpectFault(Act(Admin(), id, kConfirm), 409,
              "Cannot 'confirmResize' instance " + id + " while it is in vm_state active");
  auto actions = Admin().Get("/v2.1/servers/" + id + "/os-instance-actions").body;
  std::set<std::string> names;
  for (const auto& a : actions["instanceActions"]) names.insert(a["action"]);
  EXPECT_TRUE(names.count("migrate")) << actions.dump();
  EXPECT_TRUE(names.count("confirmResize")) << actions.dump();
}

TEST_F(ColdMigrationApi, ResizeConfirmedShowsTheNewFlavor) {
  auto id = AlicesServer("sim-2", "resize-confirm");
  ASSERT_EQ(Act(Member(), id, kResizeTo2).status, 202);
  ASSERT_TRUE(WaitServerStatus(id, "VERIFY_RESIZE")) << LatestMove(id, "resize").dump();
  auto flavor = Member("2.47").Get("/v2.1/servers/" + id).body["server"]["flavor"];
  EXPECT_EQ(flavor["vcpus"], 2) << flavor.dump();
  EXPECT_EQ(flavor["disk"], 2) << flavor.dump();
  EXPECT_EQ(Act(Member(), id, kConfirm).status, 204);
  ASSERT_TRUE(WaitServerStatus(id, "ACTIVE"));
  auto s = Member("2.1").Get("/v2.1/servers/" + id).body["server"];
  EXPECT_EQ(s["flavor"]["id"], "2") << s.dump();
}

TEST_F(ColdMigrationApi, RevertShowsRevertResizeAtOnceThenRestoresHostAndFlavor) {
  auto id = AlicesServer("sim-2", "resize-revert");
  ASSERT_EQ(Act(Member(), id, kResizeTo2).status, 202);
  ASSERT_TRUE(WaitServerStatus(id, "VERIFY_RESIZE")) << LatestMove(id, "resize").dump();
  auto r = Act(Member(), id, kRevert);
  ASSERT_EQ(r.status, 202) << r.raw;
  // Set in the request's own transaction: no window where GET still shows VERIFY_RESIZE.
  auto s = Member().Get("/v2.1/servers/" + id).body["server"];
  if (s["status"] != "ACTIVE") {
    EXPECT_EQ(s["status"], "REVERT_RESIZE") << s.dump();
    EXPECT_EQ(s["OS-EXT-STS:task_state"], "resize_reverting") << s.dump();
  }
  ASSERT_TRUE(WaitServerStatus(id, "ACTIVE"));
  EXPECT_TRUE(
      Stack::WaitFor([&] { return LatestMove(id, "resize")["status"] == "reverted"; }, 30s));
  s = Admin("2.47").Get("/v2.1/servers/" + id).body["server"];
  EXPECT_EQ(s["OS-EXT-SRV-ATTR:host"], "sim-2") << s.dump();
  EXPECT_EQ(s["flavor"]["vcpus"], 1) << s.dump();
  EXPECT_TRUE(lm_->RunsOn("sim-2", id));
  EXPECT_EQ(lm_->LeakedClaims(), 0);
}

}  // namespace
}  // namespace ferry::testing
