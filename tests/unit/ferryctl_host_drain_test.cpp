// `ferryctl host drain HOST` against a recording HTTP server: the request body and headers, the
// plan and verdict a dry run prints, --wait polling to a final status (progress lines on and off
// a terminal, the report), --json, attaching to a drain that already runs, every exit code a
// cron job acts on, and the API's error bodies.
#include <gtest/gtest.h>

#include <atomic>

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

class FerryctlHostDrain : public ::testing::Test {
 protected:
  CliResult Run(std::vector<std::string> args) { return RunCli(std::move(args), env_); }

  // GET of the drain answers `views` in turn, then the last one for ever.
  void ScriptPolls(std::vector<json> views) {
    server_.OnFn("GET", kDrainPath, [this, views](const httplib::Request&) {
      const std::size_t n = std::min<std::size_t>(polls_++, views.size() - 1);
      return testing::Canned{200, DrainBody(views[n]).dump()};
    });
  }

  // A drain of three servers, accepted running, polled through `final_status`.
  void ScriptThreeServerDrain(const std::string& final_status, const std::string& last_state) {
    auto s = [](const char* a, const char* b, const char* c) {
      return std::vector<json>{DrainServer(1, "web-1", a, 1 << 20),
                               DrainServer(2, "web-2", b, 1 << 20),
                               DrainServer(3, "web-3", c, 2 << 20)};
    };
    server_.On("POST", kDrains, 202,
               DrainBody(DrainView("running", s("pending", "pending", "pending"))));
    ScriptPolls({DrainView("running", s("moving", "moving", "pending"), kDrainId, 30),
                 DrainView("running", s("moving", "moving", "pending"), kDrainId, 30),
                 DrainView("running", s("moved", "moving", "moving"), kDrainId, 12),
                 DrainView("running", s("moved", "moved", "moving"), kDrainId, 4),
                 DrainView(final_status, s("moved", "moved", last_state.c_str()))});
  }

  RecordingServer server_;
  Env env_{server_.Url(), "env-token"};
  std::atomic<int> polls_{0};
};

TEST_F(FerryctlHostDrain, DryRunSendsOnlyWhatWasGivenAndPrintsThePlanAndVerdict) {
  server_.On("POST", kDrains, 200,
             DrainBody(DrainView("planned",
                                 {DrainServer(1, "web-1", "pending", 1536),
                                  DrainServer(2, "db-1", "pending", int64_t{6} << 30, "h3")},
                                 nullptr)));
  CliResult r = Run({"host", "drain", "h1", "--dry-run"});
  ASSERT_EQ(r.code, 0) << r.err << r.out;
  auto changes = server_.Changes();
  ASSERT_EQ(changes.size(), 1u);
  EXPECT_EQ(changes[0].path, kDrains);
  EXPECT_EQ(changes[0].Json(), (json{{"drain", {{"host", "h1"}, {"dry_run", true}}}}));
  EXPECT_EQ(changes[0].Header("X-Ferry-Extensions"), "true");
  EXPECT_EQ(changes[0].Header("X-Auth-Token"), "env-token");
  EXPECT_FALSE(changes[0].headers.count("Idempotency-Key"));
  EXPECT_EQ(r.out,
            "Plan to drain h1 (dry run, nothing was changed):\n"
            "+---+--------+------+---------------------+---------+-----------+\n"
            "| # | Server | Kind | Planned Destination | Size    | Predicted |\n"
            "+---+--------+------+---------------------+---------+-----------+\n"
            "| 1 | web-1  | live | h2                  | 1.5 KiB |      0:05 |\n"
            "| 2 | db-1   | live | h3                  | 6.0 GiB |      0:05 |\n"
            "+---+--------+------+---------------------+---------+-----------+\n"
            "Verdict: everything fits on the remaining hosts.\n");
  EXPECT_EQ(polls_.load(), 0);
}

TEST_F(FerryctlHostDrain, EveryOptionGoesIntoTheBodyAndTheKeyIntoItsHeader) {
  server_.On("POST", kDrains, 200, DrainBody(DrainView("planned", {}, nullptr)));
  CliResult r = Run({"host", "drain", "h1", "--dry-run", "--mode", "live", "--max-parallel", "4",
                     "--target", "h2", "--target", "h3", "--deadline", "2026-12-06T02:00:00Z",
                     "--idempotency-key", "drain-h1-2026-12-06"});
  ASSERT_EQ(r.code, 0) << r.err;
  auto changes = server_.Changes();
  ASSERT_EQ(changes.size(), 1u);
  EXPECT_EQ(changes[0].Json(), (json{{"drain",
                                      {{"host", "h1"},
                                       {"dry_run", true},
                                       {"mode", "live"},
                                       {"max_parallel", 4},
                                       {"target_hosts", {"h2", "h3"}},
                                       {"deadline", "2026-12-06T02:00:00Z"}}}}));
  EXPECT_EQ(changes[0].Header("Idempotency-Key"), "drain-h1-2026-12-06");
}

TEST_F(FerryctlHostDrain, DryRunThatLeavesSomeServersSaysWhoAndWhyAndExitsPartial) {
  server_.On("POST", kDrains, 200,
             DrainBody(DrainView("planned",
                                 {DrainServer(1, "web-1", "pending", 1024),
                                  DrainServer(2, "db-1", "skipped", 1024)},
                                 nullptr)));
  CliResult r = Run({"host", "drain", "h1", "--dry-run"});
  EXPECT_EQ(r.code, 5) << r.err;
  EXPECT_TRUE(Has(r.out,
                  "Verdict: 1 server cannot move:\n"
                  "  db-1 (uuid-db-1): No valid host: not enough RAM on h2, h3\n"))
      << r.out;
}

TEST_F(FerryctlHostDrain, NothingFitsExits3DryRunOrNot) {
  const std::vector<json> left = {DrainServer(1, "db-1", "skipped", 1),
                                  DrainServer(2, "db-2", "skipped", 1)};
  server_.On("POST", kDrains, 200, DrainBody(DrainView("planned", left, nullptr)));
  CliResult dry = Run({"host", "drain", "h1", "--dry-run"});
  EXPECT_EQ(dry.code, 3) << dry.err;
  EXPECT_TRUE(Has(dry.out, "Verdict: 2 servers cannot move:\n")) << dry.out;

  server_.On("POST", kDrains, 202, DrainBody(DrainView("running", left)));
  EXPECT_EQ(Run({"host", "drain", "h1"}).code, 3);
}

TEST_F(FerryctlHostDrain, AcceptedWithoutWaitExits0EvenIfTheVerdictLeavesSome) {
  server_.On("POST", kDrains, 202,
             DrainBody(DrainView("running", {DrainServer(1, "web-1", "pending", 1),
                                             DrainServer(2, "db-1", "skipped", 1)})));
  CliResult r = Run({"host", "drain", "h1"});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_TRUE(Has(r.out, std::string("Drain ") + kDrainId + " of h1 started.\n")) << r.out;
  EXPECT_TRUE(Has(r.out, "| 1 | web-1  | live | h2 ")) << r.out;
  EXPECT_TRUE(Has(r.out, "Verdict: 1 server cannot move:\n")) << r.out;
  EXPECT_EQ(server_.Requests().size(), 1u);  // no polling without --wait
}

TEST_F(FerryctlHostDrain, WaitPrintsAPlainLinePerChangeThenTheReport) {
  ScriptThreeServerDrain("done", "moved");
  CliResult r = Run({"host", "drain", "h1", "--wait", "--poll-interval", "0.01"});
  ASSERT_EQ(r.code, 0) << r.err << r.out;
  EXPECT_EQ(polls_.load(), 5);
  // Not a terminal: no carriage return, no escape sequence; the repeated poll prints nothing.
  EXPECT_FALSE(Has(r.out, "\r"));
  EXPECT_FALSE(Has(r.out, "\x1b"));
  EXPECT_TRUE(Has(r.out,
                  "[....................]   0%  0/3 moved  0 B/4.0 MiB  ETA 0:30  running "
                  "(2 moving, 1 pending)\n"
                  "[#####...............]  25%  1/3 moved  1.0 MiB/4.0 MiB  ETA 0:12  running "
                  "(2 moving)\n"
                  "[##########..........]  50%  2/3 moved  2.0 MiB/4.0 MiB  ETA 0:04  running "
                  "(1 moving)\n"
                  "[####################] 100%  3/3 moved  4.0 MiB/4.0 MiB  done\n"
                  "+--------+-------+-------------+---------+---------+--------+\n"
                  "| Server | State | Destination | Seconds | Size    | Reason |\n"))
      << r.out;
  EXPECT_TRUE(Has(r.out, "| web-3  | moved | h2          |     3.4 | 2.0 MiB |        |\n"))
      << r.out;
  EXPECT_TRUE(Has(r.out, std::string("Drain ") + kDrainId + " of h1 done: 3 of 3 servers moved.\n"))
      << r.out;
}

TEST_F(FerryctlHostDrain, WaitRedrawsOneLineOnATerminal) {
  ScriptThreeServerDrain("done", "moved");
  env_.stdout_is_tty = true;
  CliResult r = Run({"host", "drain", "h1", "--wait", "--poll-interval", "0.01"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_TRUE(Has(r.out, "\r[#####...............]  25%  1/3 moved")) << r.out;
  EXPECT_TRUE(Has(r.out, "\x1b[K\r[##########")) << r.out;
  EXPECT_TRUE(Has(r.out, "100%  3/3 moved  4.0 MiB/4.0 MiB  done\x1b[K\n+--")) << r.out;
}

TEST_F(FerryctlHostDrain, WaitExitsWithTheFinalOutcome) {
  struct Case {
    const char* final_status;
    const char* last_state;
    int code;
  };
  for (const Case& c : {Case{"partial", "failed", 5}, Case{"failed", "failed", 4},
                        Case{"cancelled", "cancelled", 4}, Case{"done", "failed", 5}}) {
    polls_ = 0;
    ScriptThreeServerDrain(c.final_status, c.last_state);
    CliResult r = Run({"host", "drain", "h1", "--wait", "--poll-interval", "0.01"});
    EXPECT_EQ(r.code, c.code) << c.final_status << "/" << c.last_state << "\n" << r.out << r.err;
    EXPECT_TRUE(Has(r.out, std::string(" of h1 ") + c.final_status + ": 2 of 3 servers moved, 1 " +
                               c.last_state + "."))
        << r.out;
  }
}

TEST_F(FerryctlHostDrain, AnotherDrainOfTheHostIsAttachedToAndWaitedFor) {
  server_.On("POST", kDrains, 200,
             DrainBody(DrainView("running", {DrainServer(1, "web-1", "moving", 1024)})));
  ScriptPolls({DrainView("done", {DrainServer(1, "web-1", "moved", 1024)})});
  CliResult r = Run({"host", "drain", "h1", "--wait", "--poll-interval", "0.01",
                     "--idempotency-key", "drain-h1-2026-12-06"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_TRUE(Has(r.out, std::string("Drain ") + kDrainId +
                             " of h1 already exists (running, created 2026-12-06T01:00:00Z); "
                             "attached to it.\n"))
      << r.out;
  EXPECT_EQ(server_.Changes().size(), 1u);  // one POST: nothing started twice
  EXPECT_EQ(polls_.load(), 1);
}

TEST_F(FerryctlHostDrain, AKeyOfADrainThatEndedReportsItsOutcomeWithoutWaiting) {
  server_.On("POST", kDrains, 200,
             DrainBody(DrainView("partial", {DrainServer(1, "web-1", "moved", 1024),
                                             DrainServer(2, "db-1", "failed", 1024)})));
  CliResult r = Run({"host", "drain", "h1", "--wait", "--idempotency-key", "k"});
  EXPECT_EQ(r.code, 5) << r.err;
  EXPECT_TRUE(Has(r.out, "| db-1   | failed |")) << r.out;
  EXPECT_TRUE(Has(r.out, " of h1 partial: 1 of 2 servers moved, 1 failed.\n")) << r.out;
  EXPECT_EQ(polls_.load(), 0);
}

TEST_F(FerryctlHostDrain, JsonPrintsTheViewAndWithWaitOnlyTheFinalOne) {
  const json accepted = DrainBody(DrainView("running", {DrainServer(1, "web-1", "pending", 1)}));
  const json final = DrainBody(DrainView("done", {DrainServer(1, "web-1", "moved", 1)}));
  server_.On("POST", kDrains, 202, accepted);
  CliResult r = Run({"host", "drain", "h1", "--json"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(json::parse(r.out), accepted);

  ScriptPolls({DrainView("running", {DrainServer(1, "web-1", "moving", 1)}), final["drain"]});
  r = Run({"host", "drain", "h1", "--wait", "--poll-interval", "0.01", "--json"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(json::parse(r.out), final);  // the whole output is the one final view
}

TEST_F(FerryctlHostDrain, APollThatFindsTheControllerDownIsRetried) {
  server_.On("POST", kDrains, 202,
             DrainBody(DrainView("running", {DrainServer(1, "web-1", "pending", 1)})));
  server_.OnFn("GET", kDrainPath, [this](const httplib::Request&) {
    if (polls_++ == 0) return testing::Canned{503, ""};
    return testing::Canned{
        200, DrainBody(DrainView("done", {DrainServer(1, "web-1", "moved", 1)})).dump()};
  });
  CliResult r = Run({"host", "drain", "h1", "--wait", "--poll-interval", "0.01"});
  EXPECT_EQ(r.code, 0) << r.err << r.out;
  EXPECT_TRUE(Has(r.out, "(poll failed, retrying: HTTP 503 with no error body)\n")) << r.out;
  EXPECT_EQ(polls_.load(), 2);
}

TEST_F(FerryctlHostDrain, APollRefusedForGoodEndsTheWaitWithExit1) {
  server_.On("POST", kDrains, 202,
             DrainBody(DrainView("running", {DrainServer(1, "web-1", "pending", 1)})));
  server_.On("GET", kDrainPath, 404,
             json{{"itemNotFound", {{"code", 404}, {"message", "Drain not found."}}}});
  CliResult r = Run({"host", "drain", "h1", "--wait", "--poll-interval", "0.01"});
  EXPECT_EQ(r.code, 1);
  EXPECT_EQ(r.err, "ERROR (itemNotFound HTTP 404): Drain not found.\n");
}

TEST_F(FerryctlHostDrain, ApiErrorsArePrintedAndExit1) {
  struct Case {
    int status;
    const char* fault;
    const char* message;
  };
  for (const Case& c :
       {Case{404, "itemNotFound", "Compute host h9 could not be found."},
        Case{400, "badRequest", "Invalid input for field/attribute deadline."},
        Case{409, "conflictingRequest", "Host h1 is the only enabled host."},
        Case{403, "forbidden", "Policy doesn't allow ferry:drains:create to be performed."}}) {
    server_.On("POST", kDrains, c.status,
               json{{c.fault, {{"code", c.status}, {"message", c.message}}}});
    CliResult r = Run({"host", "drain", "h9"});
    EXPECT_EQ(r.code, 1) << c.fault;
    EXPECT_EQ(r.err, "ERROR (" + std::string(c.fault) + " HTTP " + std::to_string(c.status) +
                         "): " + c.message + "\n");
    EXPECT_EQ(r.out, "");
  }
}

TEST_F(FerryctlHostDrain, UsageErrorsExit2AndSendNothing) {
  for (const std::vector<std::string>& args : {std::vector<std::string>{"host", "drain"},
                                               {"host", "drain", "h1", "--max-parallel", "0"},
                                               {"host", "drain", "h1", "--max-parallel", "65"},
                                               {"host", "drain", "h1", "--mode", "fast"},
                                               {"host", "drain", "h1", "--dry-run", "--wait"},
                                               {"host", "drain", "h1", "--poll-interval", "0"},
                                               {"host", "drain", "show"}}) {
    CliResult r = Run(args);
    EXPECT_EQ(r.code, 2) << ::testing::PrintToString(args) << r.err;
  }
  EXPECT_TRUE(server_.Requests().empty());
}

}  // namespace
}  // namespace ferry::client
