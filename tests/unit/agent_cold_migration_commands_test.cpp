// Cold migration through the agent's HTTP face: the eight command kinds decode and validate
// their ColdMigrationSpec before the driver runs (400, not remembered, so a corrected retry of
// the same id runs; a disk shrink is one of them), prepare answers the receive URI in
// CommandResult.data, the copy is read as a job at GET /v1/migrations/{uuid} and the monitor is
// told about it, and a stale lease epoch is refused as for live migration.
#include <gtest/gtest.h>
#include <httplib.h>
#include <stdlib.h>

#include <chrono>
#include <filesystem>
#include <memory>
#include <thread>

#include "agent/command_server.hpp"
#include "agent/commands.hpp"
#include "agent/drivers/sim/sim_driver.hpp"
#include "common/errors.hpp"

namespace ferry::agent {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;

constexpr const char* kToken = "command-token";
constexpr const char* kGuest = "77777777-7777-4777-8777-777777777777";
constexpr const char* kMigration = "88888888-8888-4888-8888-888888888888";
constexpr const char* kColdKinds[] = {
    "prepare_cold_migration_destination", "power_off_for_cold_migration",
    "start_cold_migration_copy",          "abort_cold_migration_copy",
    "finish_cold_migration_destination",  "confirm_cold_migration_source",
    "revert_cold_migration_destination",  "revert_cold_migration_source"};

json Spec() {
  wire::ColdMigrationSpec s;
  s.migration_uuid = kMigration;
  s.domain = wire::Domain{kGuest, "web", 1, 128, 1, wire::PowerState::kRunning};
  s.new_vcpus = 2;
  s.new_memory_mb = 256;
  s.new_disk_gb = 2;
  s.source_host = "src";
  s.dest_host = "dst";
  s.transfer_token = "a-random-per-move-secret";
  s.receive_uri = "tcp:127.0.0.1:1";
  s.monitor_interval_s = 1;
  return s;
}

std::string RefusalOf(const std::string& kind, const json& args) {
  try {
    DecodeColdMigrationSpec(kind, args);
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), Errc::kBadRequest);
    return e.what();
  } catch (const json::exception& e) {
    return e.what();  // the command server answers it 400 as well
  }
  return "";
}

TEST(ColdMigrationDecode, EveryKindIsInTheCommandTable) {
  for (const char* kind : kColdKinds) EXPECT_NE(FindCommand(kind), nullptr) << kind;
}

TEST(ColdMigrationDecode, AValidSpecDecodesAndTheNewFlavorDefaultsToTheOld) {
  auto spec = DecodeColdMigrationSpec("start_cold_migration_copy", Spec());
  EXPECT_EQ(spec.new_vcpus, 2);
  EXPECT_EQ(spec.new_disk_gb, 2);
  json cold_migration = Spec();  // no new flavor: a plain cold migration
  cold_migration.erase("new_vcpus");
  cold_migration.erase("new_memory_mb");
  cold_migration.erase("new_disk_gb");
  auto same = DecodeColdMigrationSpec("prepare_cold_migration_destination", cold_migration);
  EXPECT_EQ(same.new_vcpus, 1);
  EXPECT_EQ(same.new_memory_mb, 128);
  EXPECT_EQ(same.new_disk_gb, 1);
}

TEST(ColdMigrationDecode, ADiskShrinkIsRefused) {
  json shrink = Spec();
  shrink["domain"]["disk_gb"] = 20;
  shrink["new_disk_gb"] = 10;
  for (const char* kind : kColdKinds) {
    EXPECT_NE(RefusalOf(kind, shrink).find("never shrunk"), std::string::npos) << kind;
  }
}

TEST(ColdMigrationDecode, EachFieldIsCheckedBeforeTheDriverRuns) {
  struct Case {
    const char* what;
    std::function<void(json&)> spoil;
    const char* kind = "start_cold_migration_copy";
  };
  const std::vector<Case> cases = {
      {"migration_uuid", [](json& j) { j["migration_uuid"] = "../../etc"; }},
      {"domain.uuid", [](json& j) { j["domain"]["uuid"] = "x"; }},
      {"domain.vcpus", [](json& j) { j["domain"]["vcpus"] = 0; }},
      {"domain.memory_mb", [](json& j) { j["domain"]["memory_mb"] = 0; }},
      {"new_vcpus", [](json& j) { j["new_vcpus"] = 5000; }},
      {"new_memory_mb", [](json& j) { j["new_memory_mb"] = -1; }},
      {"new_disk_gb", [](json& j) { j["new_disk_gb"] = int64_t{1} << 40; }},
      {"target",
       [](json& j) {
         j["domain"]["disks"] = json::array({{{"target", "../vda"}}});
       }},
      {"capacity_bytes",
       [](json& j) {
         j["domain"]["disks"] = json::array({{{"target", "vda"}, {"capacity_bytes", -1}}});
       }},
      {"source_host", [](json& j) { j["source_host"] = ""; }},
      {"dest_host", [](json& j) { j["dest_host"] = std::string(256, 'h'); }},
      {"receive_uri", [](json& j) { j["receive_uri"] = ""; }},
      {"receive_uri", [](json& j) { j["receive_uri"] = std::string(2000, 'u'); }},
      {"transfer_token", [](json& j) { j["transfer_token"] = ""; }},
      {"transfer_token", [](json& j) { j["transfer_token"] = ""; },
       "prepare_cold_migration_destination"},
      {"transfer_token", [](json& j) { j["transfer_token"] = std::string(513, 't'); },
       "confirm_cold_migration_source"},
      {"bandwidth_mibps", [](json& j) { j["bandwidth_mibps"] = -1; }},
      {"shutdown_timeout_s", [](json& j) { j["shutdown_timeout_s"] = 3601; },
       "power_off_for_cold_migration"},
      {"shutdown_timeout_s", [](json& j) { j["shutdown_timeout_s"] = -1; },
       "power_off_for_cold_migration"},
      {"monitor_interval_s", [](json& j) { j["monitor_interval_s"] = 0; }},
  };
  for (const auto& c : cases) {
    json args = Spec();
    c.spoil(args);
    EXPECT_NE(RefusalOf(c.kind, args).find(c.what), std::string::npos) << c.what << " " << c.kind;
  }
  EXPECT_NE(RefusalOf("abort_cold_migration_copy", json::array()), "");
  json wrong_type = Spec();
  wrong_type["power_on"] = "yes";
  EXPECT_NE(RefusalOf("finish_cold_migration_destination", wrong_type), "");
  // Where nothing moves, the token and the receive URI are not needed.
  json bare = Spec();
  bare["transfer_token"] = "";
  bare["receive_uri"] = "";
  EXPECT_EQ(RefusalOf("confirm_cold_migration_source", bare), "");
}

// One simulated host: sim driver + command server on 127.0.0.1:0.
struct Host {
  Host(const std::string& dir, JobStartedFn job_started = nullptr) {
    sim::SimConfig c;
    c.state_dir = dir;
    c.link_bandwidth_bytes_per_s = 1000 * sim::kBytesPerMb;  // 1 GiB in ~1.1 s
    driver = std::make_unique<sim::SimDriver>(c);
    CommandServerOptions options;
    options.lease_epochs_dir = dir + "/lease-epochs";
    server =
        std::make_unique<CommandServer>(*driver, "host", kToken, std::move(job_started), options);
    client = std::make_unique<httplib::Client>("127.0.0.1", server->Start("127.0.0.1", 0));
  }
  ~Host() { server->Stop(); }
  httplib::Result Post(const std::string& id, const std::string& kind, const json& args,
                       std::optional<int64_t> epoch = std::nullopt) {
    json body{{"id", id}, {"kind", kind}, {"args", args}};
    if (epoch) body["fence"] = {{"migration_uuid", kMigration}, {"lease_epoch", *epoch}};
    return client->Post("/v1/commands", {{"X-Auth-Token", kToken}}, body.dump(),
                        "application/json");
  }
  json Run(const std::string& id, const std::string& kind, const json& args,
           std::optional<int64_t> epoch = std::nullopt) {
    auto res = Post(id, kind, args, epoch);
    EXPECT_TRUE(res);
    if (!res) return json();
    EXPECT_EQ(res->status, 200) << res->body;
    return json::parse(res->body);
  }
  std::unique_ptr<sim::SimDriver> driver;
  std::unique_ptr<CommandServer> server;
  std::unique_ptr<httplib::Client> client;
};

class AgentColdMigrationTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (std::filesystem::temp_directory_path() / "ferry-acm-XXXXXX").string();
    ASSERT_NE(mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string dir_;
};

TEST_F(AgentColdMigrationTest, InvalidSpecsAre400AndNotRememberedForEveryKind) {
  Host h(dir_ + "/a");
  for (const char* kind : kColdKinds) {
    json shrink = Spec();
    shrink["new_disk_gb"] = 0;
    auto res = h.Post(std::string("id-") + kind, kind, shrink);
    ASSERT_TRUE(res);
    EXPECT_EQ(res->status, 400) << kind << " " << res->body;
    EXPECT_NE(res->body.find("badRequest"), std::string::npos) << res->body;
  }
  // The same id, corrected, runs: the 400 was not remembered.
  json fixed = h.Run("id-power_off_for_cold_migration", "power_off_for_cold_migration", Spec());
  EXPECT_EQ(fixed["status"], "failed") << "it ran: the guest is not on this host";
  EXPECT_NE(fixed["error"].get<std::string>().find("not here"), std::string::npos) << fixed;
}

TEST_F(AgentColdMigrationTest, CommandsDriveAResizeAndTheCopyIsReadAsAJob) {
  std::vector<std::pair<std::string, int>> started;
  Host src(dir_ + "/src", [&](const wire::LiveMigrationSpec& s) {
    started.emplace_back(s.migration_uuid, s.monitor_interval_s);
  });
  Host dst(dir_ + "/dst");
  src.Run(
      "c", "create_domain",
      json{{"uuid", kGuest}, {"name", "web"}, {"vcpus", 1}, {"memory_mb", 128}, {"disk_gb", 1}});
  json prep = dst.Run("m:prepare:1", "prepare_cold_migration_destination", Spec(), 1);
  ASSERT_EQ(prep["status"], "done") << prep;
  const std::string uri = prep["data"]["receive_uri"];
  EXPECT_EQ(uri.rfind("tcp:127.0.0.1:", 0), 0u) << uri;
  EXPECT_EQ(src.Run("m:off:1", "power_off_for_cold_migration", Spec(), 1)["status"], "done");
  json spec = Spec();
  spec["receive_uri"] = uri;
  EXPECT_EQ(src.Run("m:copy:1", "start_cold_migration_copy", spec, 1)["status"], "done");
  ASSERT_EQ(started.size(), 1u) << "the monitor is told";
  EXPECT_EQ(started[0], std::make_pair(std::string(kMigration), 1));

  json job;
  for (int i = 0; i < 200; ++i) {
    auto res =
        src.client->Get("/v1/migrations/" + std::string(kMigration), {{"X-Auth-Token", kToken}});
    ASSERT_TRUE(res);
    ASSERT_EQ(res->status, 200) << res->body;
    job = json::parse(res->body);
    if (job["state"] != "running") break;
    EXPECT_EQ(job["phase"], "copying");
    std::this_thread::sleep_for(50ms);
  }
  EXPECT_EQ(job["state"], "completed") << job;
  EXPECT_EQ(job["disk_total"], int64_t{1} << 30);

  // A controller that lost its lease cannot finish what the new owner drives.
  EXPECT_EQ(dst.Run("m:finish:1", "finish_cold_migration_destination", Spec(), 2)["status"],
            "done");
  auto stale = dst.Post("m:revert:1", "revert_cold_migration_destination", Spec(), 1);
  ASSERT_TRUE(stale);
  EXPECT_EQ(stale->status, 409);
  EXPECT_EQ(stale->get_header_value("X-Ferry-Fence"), "stale");
  json fin = dst.Run("m:finish:2", "finish_cold_migration_destination", Spec(), 2);
  EXPECT_EQ(fin["domain"]["vcpus"], 2);
  EXPECT_EQ(fin["domain"]["memory_mb"], 256);
  EXPECT_EQ(fin["domain"]["disk_gb"], 2);
  EXPECT_EQ(fin["domain"]["power_state"], 1);
  EXPECT_EQ(src.Run("m:confirm:1", "confirm_cold_migration_source", Spec(), 2)["status"], "done");
  json revert = src.Run("m:revert-src:1", "revert_cold_migration_source", Spec(), 2);
  EXPECT_EQ(revert["status"], "failed") << "confirmed: nothing to revert to";
}

}  // namespace
}  // namespace ferry::agent
