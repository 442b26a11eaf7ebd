// ferryctl's cold-move commands against a recording HTTP server: the migrate and resize bodies
// per microversion, confirm and revert, and --wait drawing progress until the move waits for
// confirm (exit 0) or ends otherwise (exit 1).
#include <gtest/gtest.h>

#include <atomic>

#include "tests/unit/ferryctl_recording_server.hpp"

namespace ferry::client {
namespace {

using nlohmann::json;
using testing::CliResult;
using testing::RecordingServer;
using testing::RunCli;

constexpr const char* kServer = "9128d044-7b61-403e-b766-7547076ff6c1";
const std::string kServerPath = std::string("/v2.1/servers/") + kServer;

json Server(const std::string& status, const json& task_state, const std::string& host) {
  return {{"server",
           {{"id", kServer},
            {"status", status},
            {"OS-EXT-STS:task_state", task_state},
            {"OS-EXT-SRV-ATTR:host", host}}}};
}

json Move(const std::string& status, const json& phase, const json& percent,
          const json& error = nullptr) {
  return {{"migrations",
           {{{"id", 9},
             {"status", status},
             {"phase", phase},
             {"progress_percent", percent},
             {"error", error}}}}};
}

class FerryctlColdMove : public ::testing::Test {
 protected:
  CliResult Run(std::vector<std::string> args) { return RunCli(std::move(args), env_); }

  // The move is in progress for `polls` polls of the server, then the server shows `end`.
  void Script(int polls, const json& end_server, const json& end_move) {
    server_.On("POST", kServerPath + "/action", 202, nullptr);
    server_.OnFn("GET", kServerPath, [this, polls, end_server](const httplib::Request&) {
      const int n = polls_++;
      if (n >= polls) return testing::Canned{200, end_server.dump()};
      return testing::Canned{200, Server("RESIZE", "resize_migrating", "h1").dump()};
    });
    server_.OnFn("GET", "/v2.1/os-migrations", [this, polls, end_move](const httplib::Request&) {
      if (polls_ >= polls) return testing::Canned{200, end_move.dump()};
      return testing::Canned{200, Move("migrating", "copying", 40).dump()};
    });
  }

  RecordingServer server_;
  Env env_{server_.Url(), "env-token"};
  std::atomic<int> polls_{0};
};

TEST_F(FerryctlColdMove, MigrateWithoutLiveSendsNovasMigrateBody) {
  server_.On("POST", kServerPath + "/action", 202, nullptr);
  CliResult r = Run({"server", "migrate", kServer});
  ASSERT_EQ(r.code, 0) << r.err;
  ASSERT_EQ(Run({"server", "migrate", kServer, "--host", "h2"}).code, 0);
  auto changes = server_.Changes();
  ASSERT_EQ(changes.size(), 2u);
  EXPECT_EQ(changes[0].path, kServerPath + "/action");
  EXPECT_EQ(changes[0].Json(), (json{{"migrate", nullptr}}));
  EXPECT_EQ(changes[1].Json(), (json{{"migrate", {{"host", "h2"}}}}));
  EXPECT_NE(r.out.find("Request to migrate server " + std::string(kServer) + " has been accepted"),
            std::string::npos)
      << r.out;
}

// Nova ignores a host before 2.56; ferryctl refuses rather than let the scheduler pick.
TEST_F(FerryctlColdMove, MigrateToAHostBefore256IsAUsageErrorAndSendsNothing) {
  server_.On("POST", kServerPath + "/action", 202, nullptr);
  EXPECT_EQ(
      Run({"--os-compute-api-version", "2.55", "server", "migrate", kServer, "--host", "h2"}).code,
      2);
  EXPECT_TRUE(server_.Changes().empty());
  ASSERT_EQ(Run({"--os-compute-api-version", "2.55", "server", "migrate", kServer}).code, 0);
  EXPECT_EQ(server_.Changes()[0].Json(), (json{{"migrate", nullptr}}));
}

TEST_F(FerryctlColdMove, ResizeResolvesTheFlavorNameAndSendsItsId) {
  server_.On("POST", kServerPath + "/action", 202, nullptr);
  server_.On("GET", "/v2.1/flavors/m1.large", 404, json{{"itemNotFound", {{"code", 404}}}});
  server_.On(
      "GET", "/v2.1/flavors/detail", 200,
      json{{"flavors", {{{"id", "3"}, {"name", "m1.large"}}, {{"id", "2"}, {"name", "x"}}}}});
  CliResult r = Run({"server", "resize", kServer, "m1.large"});
  ASSERT_EQ(r.code, 0) << r.err << r.out;
  auto changes = server_.Changes();
  ASSERT_EQ(changes.size(), 1u);
  EXPECT_EQ(changes[0].Json(), (json{{"resize", {{"flavorRef", "3"}}}}));
  EXPECT_NE(r.out.find("Request to resize server"), std::string::npos) << r.out;
}

TEST_F(FerryctlColdMove, ResizeWithoutAFlavorIsAUsageError) {
  EXPECT_EQ(Run({"server", "resize", kServer}).code, 2);
  EXPECT_EQ(Run({"server", "resize"}).code, 2);
  EXPECT_TRUE(server_.Changes().empty());
}

TEST_F(FerryctlColdMove, ConfirmAndRevertSendNovasActions) {
  server_.On("POST", kServerPath + "/action", 204, nullptr);
  CliResult r = Run({"server", "resize", "confirm", kServer});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("confirm the resize of server"), std::string::npos) << r.out;
  r = Run({"server", "resize", "revert", kServer});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("revert the resize of server"), std::string::npos) << r.out;
  auto changes = server_.Changes();
  ASSERT_EQ(changes.size(), 2u);
  EXPECT_EQ(changes[0].Json(), (json{{"confirmResize", nullptr}}));
  EXPECT_EQ(changes[1].Json(), (json{{"revertResize", nullptr}}));
  EXPECT_EQ(Run({"server", "resize", "confirm"}).code, 2);
}

TEST_F(FerryctlColdMove, ARefusedConfirmExitsOneWithNovasMessage) {
  server_.On("POST", kServerPath + "/action", 400,
             json{{"badRequest", {{"code", 400}, {"message", "Instance has not been resized."}}}});
  CliResult r = Run({"server", "resize", "confirm", kServer});
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("Instance has not been resized."), std::string::npos) << r.err;
}

TEST_F(FerryctlColdMove, WaitDrawsProgressUntilVerifyResize) {
  Script(3, Server("VERIFY_RESIZE", nullptr, "h2"), Move("finished", "waiting for confirm", 100));
  CliResult r = Run({"server", "migrate", kServer, "--wait", "--poll-interval", "0.01"});
  ASSERT_EQ(r.code, 0) << r.err << r.out;
  EXPECT_NE(r.out.find("[########............]  40%  migrating (copying)\n"), std::string::npos)
      << r.out;
  EXPECT_NE(
      r.out.find("Server " + std::string(kServer) + " is on h2 (migration 9), waiting for confirm"),
      std::string::npos)
      << r.out;
  // The progress came from the cold move's record of its own type.
  bool asked = false;
  for (const auto& q : server_.Requests()) {
    if (q.path == "/v2.1/os-migrations") {
      asked = true;
      EXPECT_EQ(q.Param("migration_type"), "migration");
      EXPECT_EQ(q.Param("instance_uuid"), kServer);
    }
  }
  EXPECT_TRUE(asked);
}

TEST_F(FerryctlColdMove, WaitExitsOneWhenTheMoveEndsWithoutFinishing) {
  Script(2, Server("ACTIVE", nullptr, "h1"), Move("error", "done", nullptr, "no valid host"));
  server_.On("GET", "/v2.1/flavors/2", 200, json{{"flavor", {{"id", "2"}, {"name", "x"}}}});
  CliResult r = Run({"server", "resize", kServer, "2", "--wait", "--poll-interval", "0.01"});
  EXPECT_EQ(r.code, 1) << r.out;
  EXPECT_NE(r.err.find("resize of server " + std::string(kServer) +
                       " ended error (no valid host); the server is ACTIVE on h1"),
            std::string::npos)
      << r.err;
}

// A member may not list /os-migrations (403): --wait follows the server's status alone.
TEST_F(FerryctlColdMove, WaitWithoutMigrationListAccessFollowsTheServer) {
  Script(2, Server("VERIFY_RESIZE", nullptr, "h2"), json::object());
  server_.On("GET", "/v2.1/os-migrations", 403,
             json{{"forbidden", {{"code", 403}, {"message", "Policy doesn't allow"}}}});
  server_.On("GET", "/v2.1/flavors/2", 200, json{{"flavor", {{"id", "2"}, {"name", "x"}}}});
  CliResult r = Run({"server", "resize", kServer, "2", "--wait", "--poll-interval", "0.01"});
  ASSERT_EQ(r.code, 0) << r.err << r.out;
  EXPECT_NE(r.out.find("is on h2, waiting for confirm"), std::string::npos) << r.out;
  int listed = 0;
  for (const auto& q : server_.Requests()) listed += q.path == "/v2.1/os-migrations";
  EXPECT_EQ(listed, 1);  // asked once, then no more
}

}  // namespace
}  // namespace ferry::client
