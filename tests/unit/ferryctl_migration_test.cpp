// ferryctl's live-migration commands against a recording HTTP server: the os-migrateLive body
// for each microversion range, --wait polling until the migration ends (exit code, final host,
// progress lines on and off a terminal), the server migration verbs and `migration list`.
#include <gtest/gtest.h>

#include <atomic>

#include "api/client/commands/migration_progress.hpp"
#include "tests/unit/ferryctl_recording_server.hpp"

namespace ferry::client {
namespace {

using nlohmann::json;
using testing::CliResult;
using testing::RecordingServer;
using testing::RunCli;

constexpr const char* kServer = "9128d044-7b61-403e-b766-7547076ff6c1";
const std::string kServerPath = std::string("/v2.1/servers/") + kServer;

json Server(const std::string& host, const json& task_state) {
  return {
      {"server",
       {{"id", kServer}, {"OS-EXT-SRV-ATTR:host", host}, {"OS-EXT-STS:task_state", task_state}}}};
}

json Running(int64_t processed, int64_t total, const std::string& status = "running") {
  return {{"id", 7},
          {"status", status},
          {"phase", "copying"},
          {"memory_total_bytes", total},
          {"memory_processed_bytes", processed},
          {"memory_remaining_bytes", total - processed},
          {"disk_total_bytes", nullptr},
          {"disk_processed_bytes", nullptr},
          {"progress_percent", processed * 100 / total},
          {"transfer_rate_bps", 128 << 20},
          {"eta_seconds", 12},
          {"queue_position", nullptr}};
}

class FerryctlMigration : public ::testing::Test {
 protected:
  CliResult Run(std::vector<std::string> args) { return RunCli(std::move(args), env_); }

  // A migration that is listed for `polls` polls, then ends with `final_status` on `final_host`.
  void ScriptMigration(int polls, const std::string& final_status, const std::string& final_host,
                       const std::string& error = "") {
    server_.On("POST", kServerPath + "/action", 202, nullptr);
    server_.OnFn("GET", kServerPath + "/migrations", [this, polls](const httplib::Request&) {
      const int n = polls_++;
      json list = json::array();
      if (n < polls) list.push_back(Running((n + 1) * 1024LL * 1024 * 1024, 4LL << 30));
      return testing::Canned{200, json{{"migrations", list}}.dump()};
    });
    server_.OnFn("GET", kServerPath, [this, polls, final_host](const httplib::Request&) {
      const bool done = polls_ > polls;
      return testing::Canned{
          200, Server(done ? final_host : "h1", done ? json(nullptr) : json("migrating")).dump()};
    });
    server_.On("GET", "/v2.1/os-migrations", 200,
               json{{"migrations",
                     {{{"id", 6}, {"status", "completed"}, {"error", nullptr}},
                      {{"id", 7},
                       {"status", final_status},
                       {"error", error.empty() ? json(nullptr) : json(error)}}}}});
  }

  RecordingServer server_;
  Env env_{server_.Url(), "env-token"};
  std::atomic<int> polls_{0};
};

TEST_F(FerryctlMigration, LiveBodyAtLatestHasHostAndBlockMigrationAutoOnly) {
  server_.On("POST", kServerPath + "/action", 202, nullptr);
  CliResult r = Run({"server", "migrate", "--live", kServer, "--host", "h2"});
  ASSERT_EQ(r.code, 0) << r.err;
  auto changes = server_.Changes();
  ASSERT_EQ(changes.size(), 1u);
  EXPECT_EQ(changes[0].path, kServerPath + "/action");
  EXPECT_EQ(changes[0].Json(),
            (json{{"os-migrateLive", {{"host", "h2"}, {"block_migration", "auto"}}}}));
  EXPECT_EQ(changes[0].Header("OpenStack-API-Version"), "compute 2.92");
  EXPECT_NE(r.out.find("accepted"), std::string::npos) << r.out;

  ASSERT_EQ(Run({"server", "migrate", "--live", kServer, "--block-migration", "false"}).code, 0);
  EXPECT_EQ(server_.Changes()[1].Json(),
            (json{{"os-migrateLive", {{"host", nullptr}, {"block_migration", false}}}}));
}

TEST_F(FerryctlMigration, LiveBodyFollowsOlderMicroversions) {
  server_.On("POST", kServerPath + "/action", 202, nullptr);
  ASSERT_EQ(Run({"--os-compute-api-version", "2.24", "server", "migrate", "--live", kServer}).code,
            0);
  ASSERT_EQ(Run({"--os-compute-api-version", "2.30", "server", "migrate", "--live", kServer,
                 "--host", "h2", "--force", "--block-migration", "true"})
                .code,
            0);
  auto changes = server_.Changes();
  ASSERT_EQ(changes.size(), 2u);
  EXPECT_EQ(changes[0].Json(),
            (json{{"os-migrateLive",
                   {{"host", nullptr}, {"block_migration", false}, {"disk_over_commit", false}}}}));
  EXPECT_EQ(
      changes[1].Json(),
      (json{{"os-migrateLive", {{"host", "h2"}, {"block_migration", true}, {"force", true}}}}));
}

TEST_F(FerryctlMigration, ImpossibleRequestsAreUsageErrorsAndSendNothing) {
  server_.On("POST", kServerPath + "/action", 202, nullptr);
  // --force and --block-migration are live-migration options: never sent as a cold migrate.
  EXPECT_EQ(Run({"server", "migrate", kServer, "--force"}).code, 2);
  EXPECT_EQ(Run({"server", "migrate", kServer, "--block-migration", "true"}).code, 2);
  EXPECT_EQ(Run({"server", "migrate", "--live", kServer, "--host", "h2", "--force"}).code, 2);
  EXPECT_EQ(
      Run({"--os-compute-api-version", "2.30", "server", "migrate", "--live", kServer, "--force"})
          .code,
      2);  // force needs a host
  EXPECT_EQ(Run({"server", "migrate", "--live", kServer, "--block-migration", "maybe"}).code, 2);
  EXPECT_TRUE(server_.Changes().empty());
}

TEST_F(FerryctlMigration, WaitPollsUntilDoneAndReportsTheNewHost) {
  ScriptMigration(3, "completed", "h2");
  CliResult r = Run({"server", "migrate", "--live", kServer, "--wait", "--poll-interval", "0.01"});
  ASSERT_EQ(r.code, 0) << r.err << r.out;
  EXPECT_NE(r.out.find("Migration 7 completed: server " + std::string(kServer) + " is on h2."),
            std::string::npos)
      << r.out;
  // Not a terminal: plain lines (the first poll's state), no carriage returns.
  EXPECT_EQ(r.out.find('\r'), std::string::npos);
  EXPECT_NE(r.out.find("[#####...............]  25%  1.0 GiB/4.0 GiB  128.0 MiB/s  ETA 0:12  "
                       "running (copying)\n"),
            std::string::npos)
      << r.out;
  EXPECT_GE(polls_.load(), 4);  // three listed polls and the one that found it gone
}

TEST_F(FerryctlMigration, WaitRedrawsOneLineOnATerminal) {
  env_.stdout_is_tty = true;
  ScriptMigration(2, "completed", "h2");
  CliResult r = Run({"server", "migrate", "--live", kServer, "--wait", "--poll-interval", "0.01"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("\r[#####"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("\r[##########..........]  50%"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("\x1b[K\nMigration 7 completed"), std::string::npos) << r.out;
}

TEST_F(FerryctlMigration, WaitExitsNonZeroWhenTheMigrationFails) {
  ScriptMigration(1, "failed", "h1", "destination refused");
  CliResult r = Run({"server", "migrate", "--live", kServer, "--wait", "--poll-interval", "0.01"});
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("migration 7 of server " + std::string(kServer) +
                       " ended failed (destination refused); the server is on h1"),
            std::string::npos)
      << r.err;
}

TEST_F(FerryctlMigration, WaitForAMigrationThatEndsBeforeItIsListed) {
  ScriptMigration(0, "cancelled", "h1");
  CliResult r = Run({"server", "migrate", "--live", kServer, "--wait", "--poll-interval", "0.01"});
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("ended cancelled"), std::string::npos) << r.err;
}

TEST_F(FerryctlMigration, ServerMigrationVerbsUseNovasPathsAndBodies) {
  server_.On("GET", kServerPath + "/migrations", 200, json{{"migrations", {Running(1, 4)}}});
  server_.On("GET", kServerPath + "/migrations/7", 200, json{{"migration", Running(1, 4)}});
  server_.On("DELETE", kServerPath + "/migrations/7", 202, nullptr);
  server_.On("POST", kServerPath + "/migrations/7/action", 202, nullptr);
  CliResult r = Run({"server", "migration", "list", kServer});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("running (copying)"), std::string::npos) << r.out;
  r = Run({"server", "migration", "show", kServer, "7"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("memory_total_bytes"), std::string::npos) << r.out;
  ASSERT_EQ(Run({"server", "migration", "abort", kServer, "7"}).code, 0);
  ASSERT_EQ(Run({"server", "migration", "force-complete", kServer, "7"}).code, 0);
  auto changes = server_.Changes();
  ASSERT_EQ(changes.size(), 2u);
  EXPECT_EQ(changes[0].method, "DELETE");
  EXPECT_EQ(changes[0].path, kServerPath + "/migrations/7");
  EXPECT_EQ(changes[1].path, kServerPath + "/migrations/7/action");
  EXPECT_EQ(changes[1].Json(), (json{{"force_complete", nullptr}}));
  server_.On("DELETE", kServerPath + "/migrations/8", 400,
             json{{"badRequest", {{"code", 400}, {"message", "not running"}}}});
  r = Run({"server", "migration", "abort", kServer, "8"});
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("not running"), std::string::npos);
}

TEST_F(FerryctlMigration, MigrationListSendsFiltersAndOnePageWithLimit) {
  server_.On("GET", "/v2.1/os-migrations", 200,
             json{{"migrations",
                   {{{"id", 3},
                     {"instance_uuid", kServer},
                     {"migration_type", "live-migration"},
                     {"status", "running"},
                     {"progress_percent", 40}}}},
                  {"migrations_links",
                   {{{"rel", "next"}, {"href", "http://x/v2.1/os-migrations?marker=m"}}}}});
  CliResult r = Run({"migration", "list", "--host", "h1", "--status", "running", "--server",
                     kServer, "--type", "live-migration", "--limit", "5"});
  ASSERT_EQ(r.code, 0) << r.err;
  auto requests = server_.Requests();
  ASSERT_EQ(requests.size(), 1u);  // --limit: that page only
  EXPECT_EQ(requests[0].Param("host"), "h1");
  EXPECT_EQ(requests[0].Param("status"), "running");
  EXPECT_EQ(requests[0].Param("instance_uuid"), kServer);
  EXPECT_EQ(requests[0].Param("migration_type"), "live-migration");
  EXPECT_EQ(requests[0].Param("limit"), "5");
  EXPECT_NE(r.out.find("40%"), std::string::npos) << r.out;
  EXPECT_EQ(Run({"migration", "list", "--type", "teleport"}).code, 2);
}

TEST(MigrationProgress, FormatsBytesDurationsAndPartialReports) {
  EXPECT_EQ(FormatBytes(512), "512 B");
  EXPECT_EQ(FormatBytes(1536), "1.5 KiB");
  EXPECT_EQ(FormatBytes(4LL << 30), "4.0 GiB");
  EXPECT_EQ(FormatDuration(75), "1:15");
  EXPECT_EQ(FormatDuration(3725), "1:02:05");
  EXPECT_EQ(FormatDuration(-3), "0:00");
  EXPECT_EQ(ProgressLine(json{{"status", "queued"}, {"queue_position", 2}, {"phase", nullptr}}),
            "[....................]   -%  queued #2");
  // No progress_percent from the server: computed from memory plus disk.
  EXPECT_EQ(ProgressLine(json{{"status", "running"},
                              {"memory_total_bytes", 1024},
                              {"memory_processed_bytes", 512},
                              {"disk_total_bytes", 1024},
                              {"disk_processed_bytes", 1024}}),
            "[###############.....]  75%  1.5 KiB/2.0 KiB  running");
}

}  // namespace
}  // namespace ferry::client
