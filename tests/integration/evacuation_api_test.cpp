// Evacuation through Nova's API against a real controller and sim agents: Nova's synchronous
// answers (evacuate.py and compute/api.py evacuate, in Nova's order, codes and texts; every
// refusal changes nothing), then the whole evacuation of a server whose host died: rebuilt on
// another host, the dead host's agent told to keep its stale copy off when it comes back (the
// evacuation record is its tombstone) and then to remove it, so the guest runs exactly once.
//
// Each test has its own stack (sim-1 dies in most of them): sim-1, sim-2, and sim-3, which
// refuses every rebuild (the sim's rebuild-fails scenario).
#include <gtest/gtest.h>

#include "tests/support/live_migration_stack.hpp"

namespace ferry::testing {
namespace {

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

class EvacuationApi : public ::testing::Test {
 protected:
  void SetUp() override {
    FERRY_REQUIRE_PG(dsn);
    lm_ = std::make_unique<LiveMigrationStack>(dsn);
    lm_->StartHosts({{"sim-1", {}}, {"sim-2", {}}, {"sim-3", {"--sim-scenario", "rebuild-fails"}}});
    lm_->stack->EnsureFlavor("1", 1, 512, 1);
  }

  HttpClient Admin(const std::string& mv) const {
    auto c = lm_->stack->Admin();
    c.SetMicroversion(mv);
    return c;
  }
  HttpResult Evacuate(const std::string& server, const json& body, const std::string& mv) {
    return Admin(mv).Post("/v2.1/servers/" + server + "/action", {{"evacuate", body}});
  }

  // An ACTIVE server on `host` booted from an image (what a rebuild of local disks needs).
  std::string ImageServer(const std::string& host, const std::string& name) {
    auto id = lm_->ServerOn(host, name, "1");
    lm_->Sql(
        "UPDATE servers SET image_ref = '70a599e0-31e7-49b7-b260-868f441e862b' WHERE uuid = '" +
        id + "'");
    return id;
  }

  // The host's agent dies and an admin declares it down (Nova 2.53 os-services).
  void KillAndForceDown(const std::string& host) {
    lm_->stack->KillAgent(host);
    SetForcedDown(host, true);
  }
  void SetForcedDown(const std::string& host, bool down) {
    auto admin = Admin("2.53");
    auto list = admin.Get("/v2.1/os-services?host=" + host).body["services"];
    ASSERT_EQ(list.size(), 1u) << list.dump();
    auto r =
        admin.Put("/v2.1/os-services/" + list[0]["id"].get<std::string>(), {{"forced_down", down}});
    ASSERT_EQ(r.status, 200) << r.raw;
  }

  // What a refused request must leave alone.
  std::string State(const std::string& server) {
    pqxx::connection c(lm_->stack->dsn());
    pqxx::work w(c);
    return w
        .exec_params1(
            "SELECT coalesce(h.name, '') || '/' || s.vm_state || '/' || "
            "coalesce(s.task_state, '') || '/' || (SELECT count(*) FROM migrations) || '/' || "
            "(SELECT count(*) FROM claims) FROM servers s LEFT JOIN hosts h ON h.id = s.host_id "
            "WHERE s.uuid = $1::uuid",
            server)[0]
        .as<std::string>();
  }
  void Refused(const std::string& server, const json& body, const std::string& mv, int code,
               const std::string& message) {
    const auto before = State(server);
    auto r = Evacuate(server, body, mv);
    EXPECT_EQ(r.status, code) << r.raw;
    EXPECT_EQ(r.body, (json{{FaultName(code), {{"code", code}, {"message", message}}}})) << r.raw;
    EXPECT_EQ(State(server), before) << "a refused evacuate changed something";
  }

  json Evacuation(const std::string& server) {
    auto c = lm_->stack->FerryAdmin();
    c.SetMicroversion("2.80");
    auto list = c.Get("/v2.1/os-migrations?instance_uuid=" + server + "&migration_type=evacuation")
                    .body["migrations"];
    return list.empty() ? json() : list[0];
  }
  bool WaitEvacuation(const std::string& server, const std::string& status,
                      std::chrono::milliseconds t = 60s) {
    return Stack::WaitFor(
        [&] {
          auto m = Evacuation(server);
          return !m.is_null() && m["status"] == status;
        },
        t);
  }
  // The guest's copies as the live agents report them: host -> running.
  std::map<std::string, bool> Copies(const std::string& server,
                                     const std::vector<std::string>& hosts) {
    std::map<std::string, bool> out;
    for (const auto& h : hosts) {
      auto r = lm_->stack->AgentApi(h).Get("/v1/inventory");
      for (const auto& d : r.body["domains"]) {
        if (d["uuid"] == server) out[h] = d["power_state"] == 1;
      }
    }
    return out;
  }

  std::unique_ptr<LiveMigrationStack> lm_;
};

TEST_F(EvacuationApi, RefusalsFollowNovasOrderAndChangeNothing) {
  auto id = ImageServer("sim-1", "refused");
  // The schema first (2.1 needs onSharedStorage; force only 2.29-2.67), then the API layer.
  Refused(id, json::object(), "2.1", 400,
          "Invalid input for field/attribute evacuate. Value: {}. 'onSharedStorage' is a "
          "required property");
  Refused(id, {{"force", true}, {"host", "sim-2"}}, "2.14", 400,
          "Invalid input for field/attribute evacuate. Value: {'force': True, 'host': 'sim-2'}. "
          "Additional properties are not allowed ('force' was unexpected)");
  Refused(id, {{"host", nullptr}}, "2.29", 400,
          "Invalid input for field/attribute host. Value: None. None is not of type 'string'");
  Refused(id, {{"force", true}}, "2.29", 400, "Can't force to a non-provided destination");
  Refused(id, {{"onSharedStorage", true}, {"adminPass", "x"}}, "2.1", 400,
          "admin password can't be changed on existing disk");
  Refused(id, {{"host", "nowhere"}}, "2.29", 404, "Compute host nowhere not found.");
  Refused(id, {{"host", "sim-1"}}, "2.29", 400, "The target host can't be the same one.");
  // The source's service is up: Nova's ComputeServiceInUse.
  Refused(id, json::object(), "2.68", 400, "Compute service of sim-1 is still in use.");
  auto member = lm_->stack->Member();
  member.SetMicroversion("2.68");
  lm_->Sql("UPDATE servers SET project_id = 'alice' WHERE uuid = '" + id + "'");
  auto r = member.Post("/v2.1/servers/" + id + "/action", {{"evacuate", json::object()}});
  EXPECT_EQ(r.status, 403) << r.raw;
  // The policy comes before evacuate.py's own 400s.
  member.SetMicroversion("2.29");
  r = member.Post("/v2.1/servers/" + id + "/action", {{"evacuate", {{"force", true}}}});
  EXPECT_EQ(r.status, 403) << r.raw;

  KillAndForceDown("sim-1");
  // 2.1's onSharedStorage must say where the disks really are (local here).
  Refused(id, {{"onSharedStorage", "True"}}, "2.1", 400,
          "Invalid state of instance files on shared storage: the server's disks are local to "
          "sim-1, not as onSharedStorage says.");
  // A server with local disks and no image cannot be rebuilt: never an empty disk.
  auto bare = lm_->ServerOn("sim-2", "bare", "1");
  KillAndForceDown("sim-2");
  Refused(bare, json::object(), "2.68", 409,
          "Cannot 'evacuate' instance " + bare +
              ": its disks were local to sim-2 and it has no image to rebuild from.");
  // The wrong state: Nova's check_instance_state.
  lm_->Sql("UPDATE servers SET task_state = 'powering-off' WHERE uuid = '" + id + "'");
  Refused(id, json::object(), "2.68", 409,
          "Cannot 'evacuate' instance " + id + " while it is in task_state powering-off");
}

// The whole story: the host dies, the server is rebuilt on sim-2 (ACTIVE, REBUILD meanwhile),
// the source's claim is held until the source is back; the source's agent returns with the
// guest still "running" in its hypervisor, is told it was evacuated, powers it off and then
// removes it; the guest runs exactly once.
TEST_F(EvacuationApi, RebuildsElsewhereAndTheReturningSourceRemovesItsStaleCopy) {
  auto id = ImageServer("sim-1", "evacuee");
  KillAndForceDown("sim-1");
  auto r = Evacuate(id, {{"host", "sim-2"}}, "2.29");
  ASSERT_EQ(r.status, 200) << r.raw;
  EXPECT_TRUE(r.raw.empty()) << "2.14+ answers no body: " << r.raw;
  ASSERT_TRUE(WaitEvacuation(id, "done")) << Evacuation(id).dump();
  auto s = lm_->Server(id);
  EXPECT_EQ(s["status"], "ACTIVE");
  EXPECT_EQ(s["OS-EXT-SRV-ATTR:host"], "sim-2");
  EXPECT_EQ(Copies(id, {"sim-2"}), (std::map<std::string, bool>{{"sim-2", true}}));
  auto m = Evacuation(id);
  EXPECT_EQ(m["source_compute"], "sim-1");
  EXPECT_EQ(m["dest_compute"], "sim-2");
  // The source's claim stays with the evacuation until the source is clean.
  EXPECT_EQ(lm_->ClaimHosts(m["uuid"]), std::set<std::string>{"sim-1"});
  EXPECT_EQ(lm_->ClaimHosts(id), std::set<std::string>{"sim-2"});

  lm_->stack->StartAgent("sim-1");
  ASSERT_TRUE(WaitEvacuation(id, "completed")) << Evacuation(id).dump();
  EXPECT_EQ(Copies(id, {"sim-1", "sim-2"}), (std::map<std::string, bool>{{"sim-2", true}}))
      << "the guest must run exactly once, on sim-2";
  EXPECT_TRUE(lm_->ClaimHosts(m["uuid"]).empty());
  EXPECT_EQ(lm_->ClaimHosts(id), std::set<std::string>{"sim-2"});
  EXPECT_EQ(lm_->EventPath(m["uuid"]),
            (std::vector<std::string>{"accepted", "queued", "pre-migrating", "done", "completed"}));
  // Nova's instance action.
  auto actions = Admin("2.84").Get("/v2.1/servers/" + id + "/os-instance-actions").body;
  bool found = false;
  for (const auto& a : actions["instanceActions"]) found = found || a["action"] == "evacuate";
  EXPECT_TRUE(found) << actions.dump();
}

// Forced down while its agent still runs and heartbeats (the admin's word, not the truth): the
// destination starts its copy only once the source shows its own off (the heartbeat answer
// fences it), so the guest never runs on both.
TEST_F(EvacuationApi, AForcedDownSourceThatStillRunsIsFencedBeforeTheRebuild) {
  auto id = ImageServer("sim-1", "alive");
  SetForcedDown("sim-1", true);
  ASSERT_EQ(Evacuate(id, {{"host", "sim-2"}}, "2.29").status, 200);
  int most_running = 0;
  Stack::WaitFor(
      [&] {
        int running = 0;
        for (const auto& [host, on] : Copies(id, {"sim-1", "sim-2"})) running += on ? 1 : 0;
        most_running = std::max(most_running, running);
        auto m = Evacuation(id);
        return !m.is_null() && m["status"] == "completed";
      },
      60s);
  EXPECT_EQ(Evacuation(id)["status"], "completed") << Evacuation(id).dump();
  EXPECT_LE(most_running, 1) << "the guest ran on sim-1 and sim-2 at once";
  EXPECT_EQ(Copies(id, {"sim-1", "sim-2"}), (std::map<std::string, bool>{{"sim-2", true}}));
}

// While the evacuation has not finished (its destination hangs), the source comes back: it is
// told at registration and powers the guest off, keeping it (it is still the only copy); once
// the destination answers, the evacuation completes and the stale copy goes.
TEST_F(EvacuationApi, ASourceBackMidEvacuationKeepsTheGuestOffUntilItIsCleanedUp) {
  auto id = ImageServer("sim-1", "fenced");
  KillAndForceDown("sim-1");
  lm_->stack->SignalAgent("sim-2", SIGSTOP);
  auto r = Evacuate(id, {{"host", "sim-2"}}, "2.29");
  ASSERT_EQ(r.status, 200) << r.raw;
  ASSERT_TRUE(WaitEvacuation(id, "pre-migrating")) << Evacuation(id).dump();
  EXPECT_EQ(lm_->Server(id)["status"], "REBUILD");
  lm_->stack->StartAgent("sim-1");
  ASSERT_TRUE(Stack::WaitFor(
      [&] {
        return Copies(id, {"sim-1"}) == std::map<std::string, bool>{{"sim-1", false}};
      },
      20s))
      << "the returning source must power the evacuated guest off and keep it";
  EXPECT_EQ(Evacuation(id)["status"], "pre-migrating");
  lm_->stack->SignalAgent("sim-2", SIGCONT);
  ASSERT_TRUE(WaitEvacuation(id, "completed")) << Evacuation(id).dump();
  EXPECT_EQ(Copies(id, {"sim-1", "sim-2"}), (std::map<std::string, bool>{{"sim-2", true}}));
}

// A destination that refuses the rebuild: undone there, the evacuation "failed", the server in
// ERROR on its dead host with the reason; it can be evacuated again, elsewhere.
TEST_F(EvacuationApi, ARefusedRebuildFailsAndTheServerCanBeEvacuatedAgain) {
  auto id = ImageServer("sim-1", "refused-rebuild");
  KillAndForceDown("sim-1");
  ASSERT_EQ(Evacuate(id, {{"host", "sim-3"}}, "2.29").status, 200);
  ASSERT_TRUE(WaitEvacuation(id, "failed")) << Evacuation(id).dump();
  auto s = lm_->Server(id);
  EXPECT_EQ(s["status"], "ERROR");
  EXPECT_EQ(s["OS-EXT-SRV-ATTR:host"], "sim-1");
  EXPECT_NE(s["fault"]["message"].get<std::string>().find("sim-3 refused"), std::string::npos)
      << s.dump();
  EXPECT_TRUE(Copies(id, {"sim-3"}).empty()) << "the refused rebuild left a guest on sim-3";
  EXPECT_EQ(lm_->ClaimHosts(id), std::set<std::string>{"sim-1"});

  ASSERT_EQ(Evacuate(id, {{"host", "sim-2"}}, "2.29").status, 200);
  ASSERT_TRUE(WaitEvacuation(id, "done")) << Evacuation(id).dump();
  EXPECT_EQ(lm_->Server(id)["status"], "ACTIVE");
  EXPECT_EQ(Copies(id, {"sim-2"}), (std::map<std::string, bool>{{"sim-2", true}}));
}

// 2.1-2.13 answer the rebuilt guest's password; a stopped server stays stopped on its
// destination (Nova before 2.95); from 2.95 every evacuated server lands stopped; no host named:
// the scheduler picks one that is up (never the dead source, and not sim-3 here: disabled).
TEST_F(EvacuationApi, MicroversionFormsAnswerAndLandAsNovaDoes) {
  auto legacy = ImageServer("sim-1", "legacy");
  auto stopped = ImageServer("sim-1", "stopped");
  auto landed_stopped = ImageServer("sim-1", "v295");
  lm_->Sql("UPDATE servers SET vm_state = 'stopped', power_state = 4 WHERE uuid = '" + stopped +
           "'");
  auto admin = Admin("2.53");
  auto svc = admin.Get("/v2.1/os-services?host=sim-3").body["services"][0]["id"];
  ASSERT_EQ(
      admin.Put("/v2.1/os-services/" + svc.get<std::string>(), {{"status", "disabled"}}).status,
      200);
  KillAndForceDown("sim-1");
  auto r = Evacuate(legacy, {{"onSharedStorage", false}}, "2.1");
  ASSERT_EQ(r.status, 200) << r.raw;
  ASSERT_TRUE(r.body["adminPass"].is_string()) << r.raw;
  EXPECT_EQ(r.body["adminPass"].get<std::string>().size(), 12u);
  r = Evacuate(stopped, {{"adminPass", "chosen"}, {"onSharedStorage", "no"}}, "2.13");
  ASSERT_EQ(r.status, 200) << r.raw;
  EXPECT_EQ(r.body, (json{{"adminPass", "chosen"}}));
  r = Evacuate(landed_stopped, json::object(), "2.95");
  ASSERT_EQ(r.status, 200) << r.raw;
  EXPECT_TRUE(r.body.is_null() || r.body.empty()) << "no body from 2.14 on: " << r.raw;
  ASSERT_TRUE(WaitEvacuation(legacy, "done")) << Evacuation(legacy).dump();
  ASSERT_TRUE(WaitEvacuation(stopped, "done")) << Evacuation(stopped).dump();
  EXPECT_EQ(lm_->Server(legacy)["status"], "ACTIVE");
  EXPECT_EQ(lm_->Server(legacy)["OS-EXT-SRV-ATTR:host"], "sim-2");
  EXPECT_EQ(lm_->Server(stopped)["status"], "SHUTOFF") << "a stopped server stays stopped";
  EXPECT_EQ(Copies(stopped, {"sim-2"}), (std::map<std::string, bool>{{"sim-2", false}}));
  ASSERT_TRUE(WaitEvacuation(landed_stopped, "done")) << Evacuation(landed_stopped).dump();
  EXPECT_EQ(lm_->Server(landed_stopped)["status"], "SHUTOFF") << "2.95: an active server too";
  EXPECT_EQ(Copies(landed_stopped, {"sim-2"}), (std::map<std::string, bool>{{"sim-2", false}}));
  // The request is kept as made, never with the password.
  EXPECT_EQ(lm_->Count("SELECT count(*) FROM migrations WHERE request_params ? 'adminPass'"), 0);
}

}  // namespace
}  // namespace ferry::testing
