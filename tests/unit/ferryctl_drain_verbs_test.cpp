// `ferryctl host drain list|show|pause|resume|cancel` against a recording HTTP server, and the
// exit codes `host drain --help` documents for cron jobs.
#include <gtest/gtest.h>

#include "tests/unit/ferryctl_drain_views.hpp"
#include "tests/unit/ferryctl_recording_server.hpp"

namespace ferry::client {
namespace {

using nlohmann::json;
using testing::CliResult;
using testing::DrainBody;
using testing::DrainServer;
using testing::DrainView;
using testing::kDrainId;
using testing::RecordingServer;
using testing::RunCli;

const std::string kDrains = "/v2.1/ferry/drains";
const std::string kDrainPath = kDrains + "/" + kDrainId;

bool Has(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

class FerryctlDrainVerbs : public ::testing::Test {
 protected:
  CliResult Run(std::vector<std::string> args) { return RunCli(std::move(args), env_); }

  RecordingServer server_;
  Env env_{server_.Url(), "env-token"};
};

TEST_F(FerryctlDrainVerbs, ListShowsEveryDrainWithItsProgress) {
  json older = DrainView(
      "partial", {DrainServer(1, "web-1", "moved", 1), DrainServer(2, "db-1", "failed", 1)});
  older["id"] = "11111111-2222-3333-4444-555555555555";
  older["host"] = "h2";
  const json body = {
      {"drains", {DrainView("running", {DrainServer(1, "web-1", "moving", 1)}), older}}};
  server_.On("GET", kDrains, 200, body);
  CliResult r = Run({"host", "drain", "list"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out,
            "+--------------------------------------+------+------+---------+-------+--------+"
            "----------------------+----------------------+\n"
            "| ID                                   | Host | Mode | Status  | Moved | Failed | "
            "Created At           | Finished At          |\n"
            "+--------------------------------------+------+------+---------+-------+--------+"
            "----------------------+----------------------+\n"
            "| " +
                std::string(kDrainId) +
                " | h1   | auto | running |   0/1 |      0 | 2026-12-06T01:00:00Z |           "
                "           |\n"
                "| 11111111-2222-3333-4444-555555555555 | h2   | auto | partial |   1/2 |      1 | "
                "2026-12-06T01:00:00Z | 2026-12-06T01:10:00Z |\n"
                "+--------------------------------------+------+------+---------+-------+--------+"
                "----------------------+----------------------+\n");

  CliResult as_json = Run({"host", "drain", "list", "--json"});
  ASSERT_EQ(as_json.code, 0);
  EXPECT_EQ(json::parse(as_json.out), body);
}

TEST_F(FerryctlDrainVerbs, ShowPrintsTheDrainEveryServerAndTheVerdict) {
  server_.On("GET", kDrainPath, 200,
             DrainBody(DrainView("running", {DrainServer(1, "web-1", "moved", 1 << 20),
                                             DrainServer(2, "db-1", "skipped", 0)})));
  CliResult r = Run({"host", "drain", "show", kDrainId});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_TRUE(Has(r.out, "| status       | running ")) << r.out;
  EXPECT_TRUE(Has(r.out,
                  "| progress     | [####################] 100%  1/2 moved  1.0 MiB/1.0 "
                  "MiB  running (1 skipped) |\n"))
      << r.out;
  EXPECT_TRUE(Has(r.out, "| web-1  | moved   | h2          |     3.4 | 1.0 MiB |")) << r.out;
  EXPECT_TRUE(Has(r.out, "Verdict: 1 server cannot move:\n  db-1 (uuid-db-1): No valid host"))
      << r.out;
  EXPECT_EQ(server_.Requests().back().path, kDrainPath);
}

TEST_F(FerryctlDrainVerbs, PauseResumeAndCancelPostTheirActionAndSayTheNewStatus) {
  for (const auto& [verb, status] : {std::pair{"pause", "paused"}, std::pair{"resume", "running"},
                                     std::pair{"cancel", "cancelling"}}) {
    server_.On("POST", kDrainPath + "/action", 202,
               DrainBody(DrainView(status, {DrainServer(1, "web-1", "pending", 1)})));
    CliResult r = Run({"host", "drain", verb, kDrainId});
    ASSERT_EQ(r.code, 0) << verb << r.err;
    EXPECT_EQ(r.out, std::string("Request to ") + verb + " drain " + kDrainId +
                         " has been accepted; it is " + status + ".\n");
    EXPECT_EQ(server_.Changes().back().Json(), (json{{verb, nullptr}}));
  }
  EXPECT_EQ(server_.Changes().size(), 3u);
}

TEST_F(FerryctlDrainVerbs, AnActionNotAllowedInTheStatusIsA409Exit1) {
  server_.On("POST", kDrainPath + "/action", 409,
             json{{"conflictingRequest",
                   {{"code", 409}, {"message", "Cannot resume a drain that is done."}}}});
  CliResult r = Run({"host", "drain", "resume", kDrainId});
  EXPECT_EQ(r.code, 1);
  EXPECT_EQ(r.err, "ERROR (conflictingRequest HTTP 409): Cannot resume a drain that is done.\n");
}

TEST_F(FerryctlDrainVerbs, HelpDocumentsTheExitCodes) {
  CliResult r = Run({"host", "drain", "--help"});
  EXPECT_EQ(r.code, 0);
  for (const char* line :
       {"Exit codes", "  0  done;", "  1  the API refused", "  2  the command line was wrong",
        "  3  nothing fits", "  4  the drain failed or was cancelled", "  5  partial"}) {
    EXPECT_TRUE(Has(r.out, line)) << line << "\n" << r.out;
  }
  EXPECT_TRUE(server_.Requests().empty());
}

}  // namespace
}  // namespace ferry::client
