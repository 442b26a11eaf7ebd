// The reporter against a small controller stand-in served by httplib on 127.0.0.1 (port 0).
#include <gtest/gtest.h>
#include <httplib.h>
#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>
#include <stdlib.h>

#include <condition_variable>
#include <filesystem>
#include <functional>
#include <memory>
#include <sstream>

#include "agent/drivers/sim/sim_driver.hpp"
#include "agent/reporter.hpp"
#include "common/errors.hpp"

namespace ferry::agent {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;

constexpr const char* kAgentToken = "agent-token-1";
constexpr const char* kUuid1 = "44444444-4444-4444-8444-444444444444";
constexpr const char* kUuid2 = "55555555-5555-4555-8555-555555555555";
constexpr auto kPatience = 2s;  // far above what any step needs; only a broken reporter waits it

struct Call {
  std::string path;
  std::string token;
  json body;
};

// Records every register/heartbeat and answers as told.
class FakeController {
 public:
  explicit FakeController(int port = 0) {
    server_.Post("/agent/v1/register", [this](const auto& req, auto& res) {
      Record(req);
      json answer{{"host_uuid", "hu-1"}, {"heartbeat_interval_s", register_interval_s}};
      std::lock_guard lock(mu_);
      AddFencedLocked(answer);
      res.set_content(answer.dump(), "application/json");
    });
    server_.Post("/agent/v1/heartbeat", [this](const auto& req, auto& res) {
      Record(req);
      std::lock_guard lock(mu_);
      if (heartbeat_404s_ > 0) {
        --heartbeat_404s_;
        res.status = 404;
        return;
      }
      json answer{{"heartbeat_interval_s", 0}};
      AddFencedLocked(answer);
      res.set_content(answer.dump(), "application/json");
    });
    port_ = port == 0 ? server_.bind_to_any_port("127.0.0.1")
                      : (server_.bind_to_port("127.0.0.1", port) ? port : -1);
    if (port_ < 0) throw std::runtime_error("fake controller cannot bind");
    thread_ = std::thread([this] { server_.listen_after_bind(); });
    while (!server_.is_running()) std::this_thread::sleep_for(1ms);
  }
  ~FakeController() {
    server_.stop();
    thread_.join();
  }

  std::string Url() const { return "http://127.0.0.1:" + std::to_string(port_); }
  int port() const { return port_; }
  // What register and heartbeat answers carry as fenced_domains (null: no such key, as an older
  // controller answers).
  void AnswerFenced(json fenced) {
    std::lock_guard lock(mu_);
    fenced_ = std::move(fenced);
  }
  void AnswerHeartbeatsWith404(int count) {
    std::lock_guard lock(mu_);
    heartbeat_404s_ = count;
  }
  // Waits until `done(calls)` holds; false after kPatience.
  bool WaitFor(const std::function<bool(const std::vector<Call>&)>& done) {
    std::unique_lock lock(mu_);
    return changed_.wait_for(lock, kPatience, [&] { return done(calls_); });
  }
  std::vector<Call> Calls() {
    std::lock_guard lock(mu_);
    return calls_;
  }

  int register_interval_s = 0;  // 0: keep the agent's own interval

 private:
  void AddFencedLocked(json& answer) {
    if (!fenced_.is_null()) answer["fenced_domains"] = fenced_;
  }
  void Record(const httplib::Request& req) {
    {
      std::lock_guard lock(mu_);
      calls_.push_back({req.path, req.get_header_value("X-Auth-Token"), json::parse(req.body)});
    }
    changed_.notify_all();
  }

  httplib::Server server_;
  std::thread thread_;
  int port_ = 0;
  std::mutex mu_;
  std::condition_variable changed_;
  std::vector<Call> calls_;
  int heartbeat_404s_ = 0;
  json fenced_;
};

size_t Count(const std::vector<Call>& calls, const std::string& suffix) {
  size_t n = 0;
  for (const auto& c : calls) n += c.path.ends_with(suffix) ? 1 : 0;
  return n;
}

// The hypervisor boundary with a switch to make listing fail, as a broken libvirt would.
class FlakyDriver final : public Driver {
 public:
  explicit FlakyDriver(Driver& real) : real_(real) {}
  DriverInfo Info() override { return real_.Info(); }
  std::vector<wire::Domain> ListDomains() override {
    if (failing) throw Error(Errc::kUnavailable, "hypervisor connection lost");
    return real_.ListDomains();
  }
  wire::Domain CreateDomain(const wire::Domain& d) override { return real_.CreateDomain(d); }
  void DeleteDomain(const std::string& uuid) override { real_.DeleteDomain(uuid); }
  void CheckLiveMigrationDestination(const wire::LiveMigrationSpec& s) override {
    real_.CheckLiveMigrationDestination(s);
  }
  std::string PrepareLiveMigrationDestination(const wire::LiveMigrationSpec& s) override {
    return real_.PrepareLiveMigrationDestination(s);
  }
  void StartLiveMigration(const wire::LiveMigrationSpec& s) override {
    real_.StartLiveMigration(s);
  }
  std::optional<wire::LiveMigrationJob> LiveMigrationJobStats(const std::string& m) override {
    return real_.LiveMigrationJobStats(m);
  }
  std::vector<wire::LiveMigrationJob> LiveMigrationJobsToReport() override {
    return real_.LiveMigrationJobsToReport();
  }
  void LiveMigrationJobReported(const std::string& m) override {
    real_.LiveMigrationJobReported(m);
  }
  void SetLiveMigrationJobEndListener(std::function<void(const std::string&)> l) override {
    real_.SetLiveMigrationJobEndListener(std::move(l));
  }
  void AbortLiveMigration(const std::string& m) override { real_.AbortLiveMigration(m); }
  void ForceCompleteLiveMigration(const std::string& m, bool post_copy) override {
    real_.ForceCompleteLiveMigration(m, post_copy);
  }
  wire::Domain FinishLiveMigrationDestination(const wire::LiveMigrationSpec& s) override {
    return real_.FinishLiveMigrationDestination(s);
  }
  void CleanupLiveMigrationSource(const wire::LiveMigrationSpec& s) override {
    real_.CleanupLiveMigrationSource(s);
  }
  void RollbackLiveMigrationDestination(const wire::LiveMigrationSpec& s) override {
    real_.RollbackLiveMigrationDestination(s);
  }
  std::string PrepareColdMigrationDestination(const wire::ColdMigrationSpec& s) override {
    return real_.PrepareColdMigrationDestination(s);
  }
  void PowerOffForColdMigration(const wire::ColdMigrationSpec& s) override {
    real_.PowerOffForColdMigration(s);
  }
  void StartColdMigrationCopy(const wire::ColdMigrationSpec& s) override {
    real_.StartColdMigrationCopy(s);
  }
  void AbortColdMigrationCopy(const std::string& m) override { real_.AbortColdMigrationCopy(m); }
  wire::Domain FinishColdMigrationDestination(const wire::ColdMigrationSpec& s) override {
    return real_.FinishColdMigrationDestination(s);
  }
  void ConfirmColdMigrationSource(const wire::ColdMigrationSpec& s) override {
    real_.ConfirmColdMigrationSource(s);
  }
  void RevertColdMigrationDestination(const wire::ColdMigrationSpec& s) override {
    real_.RevertColdMigrationDestination(s);
  }
  wire::Domain RevertColdMigrationSource(const wire::ColdMigrationSpec& s) override {
    return real_.RevertColdMigrationSource(s);
  }
  wire::Domain RebuildEvacuatedDomain(const wire::EvacuationSpec&) override {
    throw Error(Errc::kConflict, "not supported by this test driver");
  }
  void RevertEvacuationDestination(const wire::EvacuationSpec&) override {
    throw Error(Errc::kConflict, "not supported by this test driver");
  }
  void CleanUpEvacuatedSource(const wire::EvacuationSpec&) override {
    throw Error(Errc::kConflict, "not supported by this test driver");
  }
  // The reporter's own call: through to the sim, failing while fence_failures lasts.
  void FenceEvacuatedDomain(const std::string& uuid) override {
    {
      std::lock_guard lock(mu_);
      fence_calls_.push_back(uuid);
    }
    if (fence_failures > 0) {
      --fence_failures;
      throw Error(Errc::kUnavailable, "hypervisor connection lost");
    }
    real_.FenceEvacuatedDomain(uuid);
  }
  std::vector<std::string> FenceCalls() {
    std::lock_guard lock(mu_);
    return fence_calls_;
  }
  std::atomic<bool> failing{false};
  std::atomic<int> fence_failures{0};

 private:
  Driver& real_;
  std::mutex mu_;
  std::vector<std::string> fence_calls_;
};

// Routes spdlog's default logger into a string for the test's lifetime.
class CapturedLog {
 public:
  CapturedLog() : previous_(spdlog::default_logger()) {
    auto sink = std::make_shared<spdlog::sinks::ostream_sink_mt>(out_);
    auto logger = std::make_shared<spdlog::logger>("captured", sink);
    logger->set_level(spdlog::level::info);
    spdlog::set_default_logger(logger);
  }
  ~CapturedLog() { spdlog::set_default_logger(previous_); }
  size_t CountLines(const std::string& needle) {
    std::istringstream lines(Text());
    size_t n = 0;
    for (std::string line; std::getline(lines, line);) n += line.find(needle) != line.npos;
    return n;
  }
  std::string Text() {
    spdlog::default_logger()->flush();
    return out_.str();
  }

 private:
  std::shared_ptr<spdlog::logger> previous_;
  std::ostringstream out_;
};

class ReporterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (std::filesystem::temp_directory_path() / "ferry-rep-test-XXXXXX").string();
    ASSERT_NE(mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
    sim::SimConfig config;
    config.state_dir = dir_ + "/state";
    config.foreign_domains.push_back(sim::ParseSimDomainSpec(std::string("pet:1:512:5:") + kUuid1));
    driver_ = std::make_unique<sim::SimDriver>(config);
  }
  void TearDown() override {
    driver_.reset();
    std::filesystem::remove_all(dir_);
  }
  ReporterConfig Config(const std::string& url) {
    ReporterConfig c;
    c.controller_url = url;
    c.agent_token = kAgentToken;
    c.host = "host-a";
    c.cell = "cell2";
    c.host_ip = "127.0.0.1";
    c.migration_address = "10.0.0.5";
    c.command_url = "http://127.0.0.1:9999";
    c.heartbeat_interval = 30ms;
    c.retry_initial = 20ms;
    c.retry_max = 80ms;
    return c;
  }

  std::string dir_;
  std::unique_ptr<sim::SimDriver> driver_;
  ManualClockForTest clock_{TimePoint(std::chrono::seconds(1'700'000'000))};
};

TEST_F(ReporterTest, RegistersWithHostFactsAndTheAgentToken) {
  FakeController controller;
  Reporter reporter(Config(controller.Url()), *driver_, clock_);
  reporter.Start();
  // Waiting for the heartbeat proves the register answer arrived, not just the request.
  ASSERT_TRUE(controller.WaitFor([](const auto& c) { return Count(c, "/heartbeat") >= 1; }));
  EXPECT_TRUE(reporter.Registered());
  Call reg = controller.Calls().at(0);
  ASSERT_TRUE(reg.path.ends_with("/register"));
  EXPECT_EQ(reg.token, kAgentToken);
  auto req = reg.body.get<wire::RegisterRequest>();
  EXPECT_EQ(req.host, "host-a");
  EXPECT_EQ(req.hypervisor_type, "ferry-sim");
  EXPECT_TRUE(req.simulated);
  EXPECT_EQ(req.cell, "cell2");
  EXPECT_EQ(req.command_url, "http://127.0.0.1:9999");
  EXPECT_EQ(req.migration_address, "10.0.0.5");
  EXPECT_EQ(req.vcpus, sim::kDefaultVcpus);
  ASSERT_EQ(req.domains.size(), 1u);
  EXPECT_EQ(req.domains[0].uuid, kUuid1);
  EXPECT_EQ(req.datastores.size(), 1u);
  reporter.Stop();
}

TEST_F(ReporterTest, HeartbeatsCarryTheFullDomainInventory) {
  FakeController controller;
  Reporter reporter(Config(controller.Url()), *driver_, clock_);
  reporter.Start();
  ASSERT_TRUE(controller.WaitFor([](const auto& c) { return Count(c, "/heartbeat") >= 1; }));
  wire::Domain d{kUuid2, "new", 2, 2048, 20, wire::PowerState::kNoState};
  driver_->CreateDomain(d);
  ASSERT_TRUE(controller.WaitFor([](const auto& calls) {
    const Call& last = calls.back();
    return last.path.ends_with("/heartbeat") && last.body["domains"].size() == 2;
  }));
  reporter.Stop();
  for (const auto& call : controller.Calls()) {
    EXPECT_EQ(call.token, kAgentToken) << call.path;
    if (call.path.ends_with("/heartbeat")) {
      auto hb = call.body.get<wire::Heartbeat>();
      EXPECT_EQ(hb.host, "host-a");
      EXPECT_FALSE(hb.domains.empty());
    }
  }
}

TEST_F(ReporterTest, HeartbeatAnswered404RegistersAgain) {
  FakeController controller;
  controller.AnswerHeartbeatsWith404(1);
  Reporter reporter(Config(controller.Url()), *driver_, clock_);
  reporter.Start();
  ASSERT_TRUE(controller.WaitFor(
      [](const auto& c) { return Count(c, "/register") == 2 && Count(c, "/heartbeat") >= 2; }));
  reporter.Stop();
  auto calls = controller.Calls();
  EXPECT_TRUE(calls[0].path.ends_with("/register"));
  EXPECT_TRUE(calls[1].path.ends_with("/heartbeat"));  // the one answered 404
  EXPECT_TRUE(calls[2].path.ends_with("/register"));
}

TEST_F(ReporterTest, ControllerHeartbeatIntervalWinsOverTheFlag) {
  FakeController controller;
  controller.register_interval_s = 1;
  ReporterConfig config = Config(controller.Url());
  config.heartbeat_interval = 60s;
  Reporter reporter(config, *driver_, clock_);
  reporter.Start();
  ASSERT_TRUE(controller.WaitFor([](const auto& c) { return Count(c, "/heartbeat") == 1; }));
  EXPECT_EQ(reporter.HeartbeatInterval(), 1s);
  reporter.Stop();
}

TEST_F(ReporterTest, KeepsRetryingUntilTheControllerComesUpAndLogsOncePerStateChange) {
  CapturedLog log;
  int port = FakeController().port();  // a port nothing listens on once the probe is gone
  Reporter reporter(Config("http://127.0.0.1:" + std::to_string(port)), *driver_, clock_);
  reporter.Start();
  std::this_thread::sleep_for(150ms);  // several refused attempts (20, 40, 80 ms backoff)
  EXPECT_FALSE(reporter.Registered());
  clock_.Advance(42s);  // the outage length the recovery line reports comes from the clock
  FakeController controller(port);
  ASSERT_TRUE(controller.WaitFor([](const auto& c) { return Count(c, "/heartbeat") >= 1; }));
  reporter.Stop();
  EXPECT_TRUE(reporter.Registered());
  EXPECT_EQ(log.CountLines("cannot report to controller"), 1u) << log.Text();
  EXPECT_EQ(log.CountLines("controller reachable again"), 1u) << log.Text();
  EXPECT_EQ(log.CountLines("after_s=42"), 1u) << log.Text();
}

TEST_F(ReporterTest, NeverHeartbeatsAGuessWhenTheHypervisorCannotList) {
  FakeController controller;
  FlakyDriver flaky(*driver_);
  Reporter reporter(Config(controller.Url()), flaky, clock_);
  reporter.Start();
  ASSERT_TRUE(controller.WaitFor([](const auto& c) { return Count(c, "/heartbeat") >= 1; }));
  flaky.failing = true;
  size_t before = Count(controller.Calls(), "/heartbeat");
  std::this_thread::sleep_for(150ms);  // several intervals with a broken hypervisor
  EXPECT_LE(Count(controller.Calls(), "/heartbeat"), before + 1);  // at most one already in flight
  flaky.failing = false;
  ASSERT_TRUE(
      controller.WaitFor([&](const auto& c) { return Count(c, "/heartbeat") > before + 1; }));
  reporter.Stop();
  for (const auto& call : controller.Calls()) EXPECT_EQ(call.body["domains"].size(), 1u);
}

TEST_F(ReporterTest, StopIsPromptMidInterval) {
  FakeController controller;
  ReporterConfig config = Config(controller.Url());
  config.heartbeat_interval = 60s;
  Reporter reporter(config, *driver_, clock_);
  reporter.Start();
  ASSERT_TRUE(controller.WaitFor([](const auto& c) { return Count(c, "/register") == 1; }));
  auto start = std::chrono::steady_clock::now();
  reporter.Stop();
  EXPECT_LT(std::chrono::steady_clock::now() - start, 500ms);
}

TEST_F(ReporterTest, StopIsPromptDuringBackoff) {
  int port = FakeController().port();
  ReporterConfig config = Config("http://127.0.0.1:" + std::to_string(port));
  config.retry_initial = 60s;
  config.retry_max = 60s;
  Reporter reporter(config, *driver_, clock_);
  reporter.Start();
  std::this_thread::sleep_for(50ms);  // first attempt refused, now in a 30-60 s backoff
  auto start = std::chrono::steady_clock::now();
  reporter.Stop();
  EXPECT_LT(std::chrono::steady_clock::now() - start, 500ms);
}

// Evacuation: the controller lists the guests it rebuilt elsewhere; the agent powers each off
// at once, before it reports anything else, and says so once.
TEST_F(ReporterTest, ARegisterAnswerFencesItsGuestsBeforeTheFirstHeartbeat) {
  CapturedLog log;
  FakeController controller;
  controller.AnswerFenced(json::array({kUuid1, "../not-a-uuid", 42, kUuid2}));
  Reporter reporter(Config(controller.Url()), *driver_, clock_);
  reporter.Start();
  ASSERT_TRUE(controller.WaitFor([](const auto& c) { return Count(c, "/heartbeat") >= 3; }));
  reporter.Stop();
  auto calls = controller.Calls();
  ASSERT_TRUE(calls.at(0).path.ends_with("/register"));
  EXPECT_EQ(calls.at(0).body["domains"][0]["power_state"], 1) << "it ran when it registered";
  for (size_t i = 1; i < calls.size(); ++i) {
    auto hb = calls[i].body.get<wire::Heartbeat>();
    ASSERT_EQ(hb.domains.size(), 1u);
    EXPECT_EQ(hb.domains[0].power_state, wire::PowerState::kShutdown)
        << "heartbeat " << i << " reports the fenced guest running";
  }
  auto listed = driver_->ListDomains();
  ASSERT_EQ(listed.size(), 1u) << "fenced, not deleted";
  EXPECT_EQ(listed[0].power_state, wire::PowerState::kShutdown);
  // Said once although every answer repeats it; kUuid2 is not here: nothing to do, no failure.
  EXPECT_EQ(log.CountLines(std::string("fenced evacuated guest domain=") + kUuid1), 1u)
      << log.Text();
  EXPECT_EQ(log.CountLines("cannot fence"), 0u) << log.Text();
  EXPECT_GE(log.CountLines("skipped 2 entries that are not uuids"), 1u) << log.Text();
}

TEST_F(ReporterTest, AFenceThatFailsIsTriedAgainAtTheNextAnswer) {
  CapturedLog log;
  FakeController controller;
  FlakyDriver flaky(*driver_);
  flaky.fence_failures = 2;
  controller.AnswerFenced(json::array({kUuid1}));
  Reporter reporter(Config(controller.Url()), flaky, clock_);
  reporter.Start();
  ASSERT_TRUE(controller.WaitFor([&](const auto&) {
    return driver_->ListDomains().at(0).power_state == wire::PowerState::kShutdown;
  }));
  reporter.Stop();
  EXPECT_GE(flaky.FenceCalls().size(), 3u) << "two failures, then the fence that worked";
  EXPECT_EQ(log.CountLines("cannot fence evacuated guest"), 2u) << log.Text();
  EXPECT_TRUE(reporter.Registered()) << "a failed fence is not a failed report";
}

TEST_F(ReporterTest, AnAnswerWithoutFencedDomainsFencesNothing) {
  FakeController controller;
  FlakyDriver flaky(*driver_);
  Reporter reporter(Config(controller.Url()), flaky, clock_);
  reporter.Start();
  ASSERT_TRUE(controller.WaitFor([](const auto& c) { return Count(c, "/heartbeat") >= 2; }));
  reporter.Stop();
  EXPECT_TRUE(flaky.FenceCalls().empty());
  EXPECT_EQ(driver_->ListDomains().at(0).power_state, wire::PowerState::kRunning);
}

TEST(FencedDomainsOf, ReadsUuidsOnlyAndAtMostTheBound) {
  std::vector<std::string> problems;
  EXPECT_TRUE(FencedDomainsOf(json{{"heartbeat_interval_s", 1}}, &problems).empty());
  EXPECT_TRUE(problems.empty());
  EXPECT_TRUE(FencedDomainsOf(json{{"fenced_domains", "all"}}, &problems).empty());
  ASSERT_EQ(problems.size(), 1u);
  EXPECT_NE(problems[0].find("not a list"), std::string::npos);

  problems.clear();
  json many = json::array();
  for (size_t i = 0; i <= kMaxFencedDomainsPerAnswer; ++i) many.push_back(kUuid1);
  auto read = FencedDomainsOf(json{{"fenced_domains", many}}, &problems);
  EXPECT_EQ(read.size(), kMaxFencedDomainsPerAnswer);
  ASSERT_EQ(problems.size(), 1u);
  EXPECT_NE(problems[0].find("only the first 100000"), std::string::npos) << problems[0];

  problems.clear();
  read = FencedDomainsOf(
      json{{"fenced_domains", json::array({kUuid2, "", nullptr, json::object(), kUuid1})}},
      &problems);
  EXPECT_EQ(read, (std::vector<std::string>{kUuid2, kUuid1}));
  ASSERT_EQ(problems.size(), 1u);
  EXPECT_NE(problems[0].find("skipped 3 entries"), std::string::npos) << problems[0];
}

TEST(RetryDelay, DoublesFromInitialUpToTheCapWithEqualJitter) {
  struct Case {
    int failures;
    double jitter;
    Millis want;
  };
  for (const Case& c : {Case{0, 0.0, 500ms}, Case{0, 1.0, 1000ms}, Case{1, 1.0, 2000ms},
                        Case{2, 0.5, 3000ms}, Case{4, 1.0, 16000ms}, Case{5, 1.0, 30000ms},
                        Case{1000, 0.0, 15000ms}, Case{3, 7.0, 8000ms}, Case{3, -1.0, 4000ms}}) {
    EXPECT_EQ(RetryDelay(c.failures, 1s, 30s, c.jitter), c.want)
        << "failures=" << c.failures << " jitter=" << c.jitter;
  }
}

TEST(Reporter, RefusesAnUnusableControllerUrl) {
  struct NoDriver final : Driver {
    DriverInfo Info() override { return {}; }
    std::vector<wire::Domain> ListDomains() override { return {}; }
    wire::Domain CreateDomain(const wire::Domain& d) override { return d; }
    void DeleteDomain(const std::string&) override {}
    // The reporter never migrates; these are unreachable here.
    void CheckLiveMigrationDestination(const wire::LiveMigrationSpec&) override {}
    std::string PrepareLiveMigrationDestination(const wire::LiveMigrationSpec&) override {
      return "";
    }
    void StartLiveMigration(const wire::LiveMigrationSpec&) override {}
    std::optional<wire::LiveMigrationJob> LiveMigrationJobStats(const std::string&) override {
      return std::nullopt;
    }
    std::vector<wire::LiveMigrationJob> LiveMigrationJobsToReport() override { return {}; }
    void LiveMigrationJobReported(const std::string&) override {}
    void SetLiveMigrationJobEndListener(std::function<void(const std::string&)>) override {}
    void AbortLiveMigration(const std::string&) override {}
    void ForceCompleteLiveMigration(const std::string&, bool) override {}
    wire::Domain FinishLiveMigrationDestination(const wire::LiveMigrationSpec& s) override {
      return s.domain;
    }
    void CleanupLiveMigrationSource(const wire::LiveMigrationSpec&) override {}
    void RollbackLiveMigrationDestination(const wire::LiveMigrationSpec&) override {}
    std::string PrepareColdMigrationDestination(const wire::ColdMigrationSpec&) override {
      return "";
    }
    void PowerOffForColdMigration(const wire::ColdMigrationSpec&) override {}
    void StartColdMigrationCopy(const wire::ColdMigrationSpec&) override {}
    void AbortColdMigrationCopy(const std::string&) override {}
    wire::Domain FinishColdMigrationDestination(const wire::ColdMigrationSpec& s) override {
      return s.domain;
    }
    void ConfirmColdMigrationSource(const wire::ColdMigrationSpec&) override {}
    void RevertColdMigrationDestination(const wire::ColdMigrationSpec&) override {}
    wire::Domain RevertColdMigrationSource(const wire::ColdMigrationSpec& s) override {
      return s.domain;
    }
    wire::Domain RebuildEvacuatedDomain(const wire::EvacuationSpec& s) override { return s.domain; }
    void RevertEvacuationDestination(const wire::EvacuationSpec&) override {}
    void CleanUpEvacuatedSource(const wire::EvacuationSpec&) override {}
    void FenceEvacuatedDomain(const std::string&) override {}
  } driver;
  ReporterConfig config;
  config.agent_token = kAgentToken;
  config.controller_url = "ftp://controller";
  EXPECT_THROW(Reporter(config, driver, DefaultClock()), Error);
}

}  // namespace
}  // namespace ferry::agent
