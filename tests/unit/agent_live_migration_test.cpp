// Live migration through the agent's HTTP face: the eight command kinds validate their
// LiveMigrationSpec (400, not remembered), prepare answers the incoming URI in
// CommandResult.data, GET /v1/migrations/{uuid} answers the job (404 Nova fault when unknown),
// and the job monitor posts progress batches to the controller and never loses a final report.
#include <gtest/gtest.h>
#include <httplib.h>
#include <stdlib.h>

#include <chrono>
#include <filesystem>
#include <memory>
#include <thread>

#include "agent/command_server.hpp"
#include "agent/drivers/sim/sim_driver.hpp"
#include "agent/live_migration_monitor.hpp"
#include "ferryctl_recording_server.hpp"

namespace ferry::agent {
namespace {

using namespace std::chrono_literals;
using client::testing::RecordingServer;
using nlohmann::json;

constexpr const char* kToken = "command-token";
constexpr const char* kAgentToken = "agent-token";
constexpr const char* kGuest = "77777777-7777-4777-8777-777777777777";
constexpr const char* kMigration = "88888888-8888-4888-8888-888888888888";

// One simulated host: sim driver + command server on 127.0.0.1:0.
struct Host {
  Host(const std::string& dir, JobStartedFn job_started = nullptr) {
    sim::SimConfig c;
    c.state_dir = dir;
    c.link_bandwidth_bytes_per_s = 200 * sim::kBytesPerMb;  // 128 MiB in ~0.7 s
    driver = std::make_unique<sim::SimDriver>(c);
    server = std::make_unique<CommandServer>(*driver, "host", kToken, std::move(job_started));
    client = std::make_unique<httplib::Client>("127.0.0.1", server->Start("127.0.0.1", 0));
  }
  ~Host() { server->Stop(); }
  httplib::Result Post(const std::string& id, const std::string& kind, const json& args) {
    return client->Post("/v1/commands", {{"X-Auth-Token", kToken}},
                        json{{"id", id}, {"kind", kind}, {"args", args}}.dump(),
                        "application/json");
  }
  json Run(const std::string& id, const std::string& kind, const json& args) {
    auto res = Post(id, kind, args);
    EXPECT_TRUE(res);
    if (!res) return json();
    EXPECT_EQ(res->status, 200) << res->body;
    return json::parse(res->body);
  }
  httplib::Result GetMigration(const std::string& uuid, const std::string& token = kToken) {
    httplib::Headers h;
    if (!token.empty()) h.emplace("X-Auth-Token", token);
    return client->Get("/v1/migrations/" + uuid, h);
  }
  std::unique_ptr<sim::SimDriver> driver;
  std::unique_ptr<CommandServer> server;
  std::unique_ptr<httplib::Client> client;
};

class AgentLiveMigrationTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (std::filesystem::temp_directory_path() / "ferry-alm-XXXXXX").string();
    ASSERT_NE(mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  json Spec() {
    wire::LiveMigrationSpec s;
    s.migration_uuid = kMigration;
    s.domain = wire::Domain{kGuest, "web", 1, 128, 1, wire::PowerState::kRunning};
    s.source_host = "src";
    s.dest_host = "dst";
    s.monitor_interval_s = 1;
    return s;
  }
  void CreateGuest(Host& h) {
    h.Run(
        "c", "create_domain",
        json{{"uuid", kGuest}, {"name", "web"}, {"vcpus", 1}, {"memory_mb", 128}, {"disk_gb", 1}});
  }

  std::string dir_;
};

void ExpectFault(const httplib::Result& res, int status, const std::string& name) {
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, status) << res->body;
  json body = json::parse(res->body);
  ASSERT_TRUE(body.contains(name)) << res->body;
  EXPECT_EQ(body[name]["code"], status);
}

TEST_F(AgentLiveMigrationTest, InvalidSpecsAreBadRequestsForEveryKind) {
  Host h(dir_ + "/a");
  for (const char* kind :
       {"check_live_migration_destination", "prepare_live_migration_destination",
        "start_live_migration", "abort_live_migration", "force_complete_live_migration",
        "finish_live_migration_destination", "cleanup_live_migration_source",
        "rollback_live_migration_destination"}) {
    SCOPED_TRACE(kind);
    json no_domain = Spec();
    no_domain.erase("domain");
    json bad_uuid = Spec();
    bad_uuid["migration_uuid"] = "not-a-uuid";
    json bad_steps = Spec();
    bad_steps["downtime_steps"] = 0;
    json bad_bandwidth = Spec();
    bad_bandwidth["bandwidth_mibps"] = -1;
    json bad_interval = Spec();
    bad_interval["monitor_interval_s"] = 0;
    json wrong_type = Spec();
    wrong_type["permit_post_copy"] = "yes";
    for (const json& args :
         {json::array(), no_domain, bad_uuid, bad_steps, bad_bandwidth, bad_interval, wrong_type}) {
      ExpectFault(h.Post(std::string("id-") + kind, kind, args), 400, "badRequest");
    }
  }
  // start needs prepare's incoming_uri.
  ExpectFault(h.Post("s1", "start_live_migration", Spec()), 400, "badRequest");
  EXPECT_EQ(h.GetMigration(kMigration)->status, 404) << "nothing was started";
}

TEST_F(AgentLiveMigrationTest, MigrationEndpointNeedsTheTokenAndAnswers404ForUnknownJobs) {
  Host h(dir_ + "/a");
  ExpectFault(h.GetMigration(kMigration, ""), 401, "unauthorized");
  ExpectFault(h.GetMigration(kMigration, "wrong"), 401, "unauthorized");
  ExpectFault(h.GetMigration(kMigration), 404, "itemNotFound");
}

TEST_F(AgentLiveMigrationTest, CommandsDriveAMigrationAndTheJobIsQueryable) {
  std::vector<std::string> started;
  Host src(dir_ + "/src",
           [&](const wire::LiveMigrationSpec& s) { started.push_back(s.migration_uuid); });
  Host dst(dir_ + "/dst");
  CreateGuest(src);

  json check =
      dst.Run(std::string(kMigration) + ":check:1", "check_live_migration_destination", Spec());
  EXPECT_EQ(check["status"], "done") << check;
  json prep =
      dst.Run(std::string(kMigration) + ":prepare:1", "prepare_live_migration_destination", Spec());
  ASSERT_EQ(prep["status"], "done") << prep;
  std::string uri = prep["data"]["incoming_uri"];
  EXPECT_EQ(uri.rfind("tcp:127.0.0.1:", 0), 0u) << uri;

  json spec = Spec();
  spec["incoming_uri"] = uri;
  json start = src.Run(std::string(kMigration) + ":start:1", "start_live_migration", spec);
  EXPECT_EQ(start["status"], "done") << start;
  EXPECT_EQ(started, std::vector<std::string>{kMigration}) << "the monitor is told";

  json job;
  for (int i = 0; i < 100; ++i) {
    auto res = src.GetMigration(kMigration);
    ASSERT_TRUE(res);
    ASSERT_EQ(res->status, 200) << res->body;
    job = json::parse(res->body);
    if (job["state"] != "running") break;
    std::this_thread::sleep_for(50ms);
  }
  EXPECT_EQ(job["state"], "completed") << job;
  EXPECT_EQ(job["migration_uuid"], kMigration);
  EXPECT_EQ(job["domain_uuid"], kGuest);
  EXPECT_EQ(job["memory_total"], 128 * sim::kBytesPerMiB);

  json fin =
      dst.Run(std::string(kMigration) + ":finish:1", "finish_live_migration_destination", Spec());
  EXPECT_EQ(fin["status"], "done") << fin;
  EXPECT_EQ(fin["domain"]["uuid"], kGuest);
  EXPECT_EQ(fin["domain"]["power_state"], 1);
  json clean =
      src.Run(std::string(kMigration) + ":cleanup:1", "cleanup_live_migration_source", Spec());
  EXPECT_EQ(clean["status"], "done") << clean;
  json abort = src.Run(std::string(kMigration) + ":abort:1", "abort_live_migration", Spec());
  EXPECT_EQ(abort["status"], "failed") << "a completed migration cannot be aborted";
  json rollback = dst.Run(std::string(kMigration) + ":rollback:1",
                          "rollback_live_migration_destination", Spec());
  EXPECT_EQ(rollback["status"], "failed") << "the guest runs there now";
}

TEST_F(AgentLiveMigrationTest, FailedDriverStepsAnswerFailedWithTheReason) {
  Host dst(dir_ + "/dst");
  CreateGuest(dst);  // already defined here: not a valid destination
  json check = dst.Run("m:check:1", "check_live_migration_destination", Spec());
  EXPECT_EQ(check["status"], "failed");
  EXPECT_NE(check["error"].get<std::string>().find("already defined"), std::string::npos) << check;
  json force = dst.Run("m:force:1", "force_complete_live_migration", Spec());
  EXPECT_EQ(force["status"], "failed") << "no such job here";
}

// ---- the monitor ---------------------------------------------------------------------------

class MonitorTest : public AgentLiveMigrationTest {
 protected:
  void StartMigration(Host& src, Host& dst, bool stall_forever) {
    CreateGuest(src);
    json prep = dst.Run("p", "prepare_live_migration_destination", Spec());
    json spec = Spec();
    spec["incoming_uri"] = prep["data"]["incoming_uri"];
    if (stall_forever) spec["bandwidth_mibps"] = 1;  // 128 s for one pass: runs past the test
    ASSERT_EQ(src.Run("s", "start_live_migration", spec)["status"], "done");
  }
  std::unique_ptr<LiveMigrationMonitor> MakeMonitor(Driver& driver, const std::string& url,
                                                    std::chrono::milliseconds poll = 100ms) {
    MonitorConfig c{url, kAgentToken, "src-host", poll};
    return std::make_unique<LiveMigrationMonitor>(c, driver, DefaultClock());
  }
  static std::vector<json> Batches(const RecordingServer& controller) {
    std::vector<json> out;
    for (const auto& r : controller.Requests()) {
      if (r.path == "/agent/v1/migration-progress") out.push_back(r.Json());
    }
    return out;
  }
  static bool WaitFor(const std::function<bool()>& ok, std::chrono::milliseconds timeout) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      if (ok()) return true;
      std::this_thread::sleep_for(20ms);
    }
    return ok();
  }
};

TEST_F(MonitorTest, PostsRunningJobsEveryIntervalWithTheAgentToken) {
  RecordingServer controller;
  controller.On("POST", "/agent/v1/migration-progress", 204, nullptr);
  std::unique_ptr<LiveMigrationMonitor> monitor;
  Host src(dir_ + "/src", [&](const wire::LiveMigrationSpec& s) {
    monitor->Watch(s.migration_uuid, std::chrono::seconds(s.monitor_interval_s));
  });
  Host dst(dir_ + "/dst");
  monitor = MakeMonitor(*src.driver, controller.Url());
  monitor->Start();
  StartMigration(src, dst, true);

  ASSERT_TRUE(WaitFor([&] { return Batches(controller).size() >= 3; }, 5s));
  auto batches = Batches(controller);
  EXPECT_LE(batches.size(), 4u) << "one per 1 s interval, not one per 100 ms poll";
  for (const auto& r : controller.Requests()) {
    EXPECT_EQ(r.Header("X-Auth-Token"), kAgentToken);
  }
  auto batch = batches.back().get<wire::MigrationProgressBatch>();
  EXPECT_EQ(batch.host, "src-host");
  ASSERT_EQ(batch.reports.size(), 1u);
  EXPECT_EQ(batch.reports[0].migration_uuid, kMigration);
  EXPECT_EQ(batch.reports[0].state, "running");
  EXPECT_GT(batch.reports[0].memory_processed, 0);
  EXPECT_LT(batch.reports[0].memory_remaining, batch.reports[0].memory_total);
  monitor->Stop();
}

TEST_F(MonitorTest, FinalReportIsPostedAtOnceAndRepeatedUntilAcknowledged) {
  RecordingServer controller;
  std::atomic<int> refusals{2};  // the controller is down for the first two posts of the end
  controller.OnFn("POST", "/agent/v1/migration-progress", [&](const httplib::Request& req) {
    auto batch = json::parse(req.body).get<wire::MigrationProgressBatch>();
    bool final_report = !batch.reports.empty() && batch.reports[0].state != "running";
    if (final_report && refusals-- > 0) return client::testing::Canned{503, "{}"};
    return client::testing::Canned{204, ""};
  });
  std::unique_ptr<LiveMigrationMonitor> monitor;
  Host src(dir_ + "/src", [&](const wire::LiveMigrationSpec& s) {
    monitor->Watch(s.migration_uuid, std::chrono::seconds(s.monitor_interval_s));
  });
  Host dst(dir_ + "/dst");
  monitor = MakeMonitor(*src.driver, controller.Url());
  monitor->Start();
  StartMigration(src, dst, true);
  ASSERT_TRUE(WaitFor([&] { return !Batches(controller).empty(); }, 3s));

  auto ended_at = std::chrono::steady_clock::now();
  ASSERT_EQ(src.Run("a", "abort_live_migration", Spec())["status"], "done");
  auto finals = [&] {
    size_t n = 0;
    for (const auto& b : Batches(controller)) n += b["reports"][0]["state"] == "cancelled";
    return n;
  };
  ASSERT_TRUE(WaitFor([&] { return finals() >= 1; }, 1s)) << "not one interval later: at once";
  EXPECT_LT(std::chrono::steady_clock::now() - ended_at, 900ms);
  ASSERT_TRUE(WaitFor([&] { return finals() >= 3; }, 5s)) << "re-posted until a 2xx";
  ASSERT_TRUE(WaitFor([&] { return monitor->Watched().empty(); }, 1s));
  size_t after_ack = Batches(controller).size();
  std::this_thread::sleep_for(1500ms);
  EXPECT_EQ(Batches(controller).size(), after_ack) << "nothing more once acknowledged";
  EXPECT_EQ(finals(), 3u);
  monitor->Stop();
}

TEST_F(MonitorTest, AnEndIsPushedWhenTheDriverSeesItNotAtTheNextPoll) {
  RecordingServer controller;
  controller.On("POST", "/agent/v1/migration-progress", 204, nullptr);
  std::unique_ptr<LiveMigrationMonitor> monitor;
  Host src(dir_ + "/src", [&](const wire::LiveMigrationSpec& s) {
    monitor->Watch(s.migration_uuid, std::chrono::seconds(s.monitor_interval_s));
  });
  Host dst(dir_ + "/dst");
  monitor = MakeMonitor(*src.driver, controller.Url(), 60s);  // polls once, at start
  monitor->Start();
  StartMigration(src, dst, false);  // 128 MiB at the sim link's rate: ends in about a second
  auto completed = [&] {
    for (const auto& b : Batches(controller)) {
      if (b["reports"][0]["state"] == "completed") return true;
    }
    return false;
  };
  ASSERT_TRUE(WaitFor(completed, 10s)) << "pushed on the driver's end, not a minute later";
  ASSERT_TRUE(WaitFor([&] { return src.driver->LiveMigrationJobsToReport().empty(); }, 2s))
      << "acknowledged";
  monitor->Stop();
}

TEST_F(MonitorTest, UnreachableControllerIsRetriedWithoutCrashing) {
  int closed_port = 0;
  {
    RecordingServer gone;
    closed_port = gone.Port();
  }
  std::unique_ptr<LiveMigrationMonitor> monitor;
  Host src(dir_ + "/src", [&](const wire::LiveMigrationSpec& s) {
    monitor->Watch(s.migration_uuid, std::chrono::seconds(s.monitor_interval_s));
  });
  Host dst(dir_ + "/dst");
  monitor = MakeMonitor(*src.driver, "http://127.0.0.1:" + std::to_string(closed_port));
  monitor->Start();
  StartMigration(src, dst, false);
  // The job completes; its final report stays pending while nobody listens.
  ASSERT_TRUE(WaitFor(
      [&] { return src.driver->LiveMigrationJobStats(kMigration)->state == "completed"; }, 5s));
  std::this_thread::sleep_for(300ms);
  EXPECT_EQ(monitor->Watched(), std::vector<std::string>{kMigration});
  monitor->Stop();
  // Unacknowledged, the outcome is still to report: a monitor started after an agent restart
  // posts it again.
  auto to_report = src.driver->LiveMigrationJobsToReport();
  ASSERT_EQ(to_report.size(), 1u);
  EXPECT_EQ(to_report[0].state, "completed");
}

TEST_F(MonitorTest, AdoptsJobsStillRunningWhenItStarts) {
  RecordingServer controller;
  controller.On("POST", "/agent/v1/migration-progress", 204, nullptr);
  Host src(dir_ + "/src");
  Host dst(dir_ + "/dst");
  StartMigration(src, dst, true);
  auto monitor = MakeMonitor(*src.driver, controller.Url());
  monitor->Start();
  EXPECT_EQ(monitor->Watched(), std::vector<std::string>{kMigration});
  ASSERT_TRUE(WaitFor([&] { return !Batches(controller).empty(); }, 2s));
  monitor->Stop();
}

TEST_F(MonitorTest, ReportsAJobInterruptedByAnAgentRestartOnceItStarts) {
  RecordingServer controller;
  controller.On("POST", "/agent/v1/migration-progress", 204, nullptr);
  auto src = std::make_unique<Host>(dir_ + "/src");
  Host dst(dir_ + "/dst");
  StartMigration(*src, dst, true);
  src.reset();  // the agent stops mid-copy
  Host restarted(dir_ + "/src");
  auto monitor = MakeMonitor(*restarted.driver, controller.Url());
  monitor->Start();
  ASSERT_TRUE(WaitFor([&] { return !Batches(controller).empty(); }, 1s));
  auto batch = Batches(controller)[0].get<wire::MigrationProgressBatch>();
  ASSERT_EQ(batch.reports.size(), 1u);
  EXPECT_EQ(batch.reports[0].migration_uuid, kMigration);
  EXPECT_EQ(batch.reports[0].state, "failed");
  ASSERT_TRUE(WaitFor([&] { return monitor->Watched().empty(); }, 1s)) << "acknowledged";
  ASSERT_TRUE(WaitFor([&] { return restarted.driver->LiveMigrationJobsToReport().empty(); }, 2s))
      << "an acknowledged outcome is not reported again";
  monitor->Stop();
  EXPECT_EQ(restarted.driver->LiveMigrationJobStats(kMigration)->state, "failed")
      << "but still answered when asked";
}

}  // namespace
}  // namespace ferry::agent
