// Evacuation through the agent's HTTP face: the three command kinds decode and bound their
// EvacuationSpec before the driver runs (400, not remembered, so a corrected retry of the same
// id runs), a command id is answered once (a replay never acts twice), the fence must name the
// spec's migration and a stale lease epoch is refused, and the sim's rebuild-fails scenario is a
// failed (remembered) command with nothing defined.
#include <gtest/gtest.h>
#include <httplib.h>
#include <stdlib.h>

#include <filesystem>
#include <functional>
#include <memory>

#include "agent/command_server.hpp"
#include "agent/commands.hpp"
#include "agent/drivers/sim/sim_driver.hpp"
#include "agent/evacuation_commands.hpp"
#include "common/errors.hpp"

namespace ferry::agent {
namespace {

using nlohmann::json;

constexpr const char* kToken = "command-token";
constexpr const char* kGuest = "77777777-7777-4777-8777-777777777777";
constexpr const char* kMigration = "99999999-9999-4999-8999-999999999999";
constexpr const char* kKinds[] = {"rebuild_evacuated_domain", "revert_evacuation_destination",
                                  "clean_up_evacuated_source"};

json Spec() {
  wire::EvacuationSpec s;
  s.migration_uuid = kMigration;
  s.domain = wire::Domain{kGuest, "web", 1, 128, 1, wire::PowerState::kRunning};
  s.domain.disks.push_back(
      {"vda", "/shared/web.img", "shared", int64_t{1} << 30, "raw", "/shared"});
  s.source_host = "src";
  s.dest_host = "dst";
  s.image_ref = "155d900f-4e14-4e4c-a73d-069cbf4541e6";
  return s;
}

std::string RefusalOf(const std::string& kind, const json& args) {
  try {
    DecodeEvacuationSpec(kind, args);
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), Errc::kBadRequest);
    return e.what();
  } catch (const json::exception& e) {
    return e.what();  // the command server answers it 400 as well
  }
  return "";
}

json Disks(size_t n) {
  json disks = json::array();
  for (size_t i = 0; i < n; ++i) {
    disks.push_back({{"target", "vd" + std::to_string(i)},
                     {"path", "/shared/d" + std::to_string(i)},
                     {"kind", "shared"}});
  }
  return disks;
}

TEST(EvacuationDecode, EveryKindIsInTheCommandTable) {
  for (const char* kind : kKinds) EXPECT_NE(FindCommand(kind), nullptr) << kind;
}

TEST(EvacuationDecode, AValidSpecDecodesAndTheOptionalFieldsDefault) {
  auto spec = DecodeEvacuationSpec("rebuild_evacuated_domain", Spec());
  EXPECT_EQ(spec.domain.disks.at(0).path, "/shared/web.img");
  EXPECT_TRUE(spec.power_on);
  json bare = {{"migration_uuid", kMigration},
               {"domain", {{"uuid", kGuest}, {"vcpus", 1}, {"memory_mb", 64}}}};
  auto minimal = DecodeEvacuationSpec("clean_up_evacuated_source", bare);
  EXPECT_FALSE(minimal.delete_local_disks);
  EXPECT_EQ(RefusalOf("rebuild_evacuated_domain", Spec()), "");
  json most = Spec();
  most["domain"]["disks"] = Disks(64);
  EXPECT_EQ(RefusalOf("rebuild_evacuated_domain", most), "") << "64 disks are allowed";
}

TEST(EvacuationDecode, EachFieldIsCheckedBeforeTheDriverRuns) {
  struct Case {
    const char* what;
    std::function<void(json&)> spoil;
  };
  auto disk = [](json& j) -> json& { return j["domain"]["disks"][0]; };
  const std::vector<Case> cases = {
      {"migration_uuid", [](json& j) { j["migration_uuid"] = "../../etc"; }},
      {"domain.uuid", [](json& j) { j["domain"]["uuid"] = "x"; }},
      {"domain.name", [](json& j) { j["domain"]["name"] = "web\nFAKE LOG LINE"; }},
      {"domain.name", [](json& j) { j["domain"]["name"] = std::string(256, 'n'); }},
      {"domain.vcpus", [](json& j) { j["domain"]["vcpus"] = 0; }},
      {"domain.vcpus", [](json& j) { j["domain"]["vcpus"] = 4097; }},
      {"domain.memory_mb", [](json& j) { j["domain"]["memory_mb"] = 0; }},
      {"domain.disk_gb", [](json& j) { j["domain"]["disk_gb"] = -1; }},
      {"domain.disk_gb", [](json& j) { j["domain"]["disk_gb"] = int64_t{1} << 40; }},
      {"at most 64", [](json& j) { j["domain"]["disks"] = Disks(65); }},
      {"target", [&](json& j) { disk(j)["target"] = "../vda"; }},
      {"target", [&](json& j) { disk(j)["target"] = ""; }},
      {"listed twice", [](json& j) { j["domain"]["disks"].push_back(j["domain"]["disks"][0]); }},
      {"path", [&](json& j) { disk(j)["path"] = ""; }},
      {"path", [&](json& j) { disk(j)["path"] = "/shared/a\x01.img"; }},
      {"path", [&](json& j) { disk(j)["path"] = "/shared/" + std::string(4096, 'p'); }},
      {"kind", [&](json& j) { disk(j)["kind"] = "nfs"; }},
      {"format", [&](json& j) { disk(j)["format"] = std::string(33, 'f'); }},
      {"format", [&](json& j) { disk(j)["format"] = "raw\r"; }},
      {"datastore", [&](json& j) { disk(j)["datastore"] = "\x1b[31m"; }},
      {"capacity_bytes", [&](json& j) { disk(j)["capacity_bytes"] = -1; }},
      {"source_host", [](json& j) { j["source_host"] = std::string(256, 'h'); }},
      {"dest_host", [](json& j) { j["dest_host"] = "dst\n"; }},
      {"must differ", [](json& j) { j["dest_host"] = "src"; }},
      {"image_ref", [](json& j) { j["image_ref"] = std::string(1025, 'i'); }},
  };
  for (const char* kind : kKinds) {
    for (const auto& c : cases) {
      json args = Spec();
      c.spoil(args);
      EXPECT_NE(RefusalOf(kind, args).find(c.what), std::string::npos) << c.what << " " << kind;
    }
    EXPECT_NE(RefusalOf(kind, json::array()), "") << kind;
    json wrong_type = Spec();
    wrong_type["rebuild_from_image"] = "yes";
    EXPECT_NE(RefusalOf(kind, wrong_type), "") << kind;
    json no_domain = Spec();
    no_domain.erase("domain");
    EXPECT_NE(RefusalOf(kind, no_domain), "") << kind;
  }
}

// One simulated host: sim driver + command server on 127.0.0.1:0.
struct Host {
  explicit Host(const std::string& dir, std::vector<sim::SimScenario> scenarios = {}) {
    sim::SimConfig c;
    c.state_dir = dir;
    c.scenarios = std::move(scenarios);
    driver = std::make_unique<sim::SimDriver>(c);
    CommandServerOptions options;
    options.lease_epochs_dir = dir + "/lease-epochs";
    server = std::make_unique<CommandServer>(*driver, "host", kToken, nullptr, options);
    client = std::make_unique<httplib::Client>("127.0.0.1", server->Start("127.0.0.1", 0));
  }
  ~Host() { server->Stop(); }
  httplib::Result Post(const std::string& id, const std::string& kind, const json& args,
                       std::optional<int64_t> epoch = std::nullopt,
                       const std::string& fence_migration = kMigration) {
    json body{{"id", id}, {"kind", kind}, {"args", args}};
    if (epoch) body["fence"] = {{"migration_uuid", fence_migration}, {"lease_epoch", *epoch}};
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
  bool Has(const std::string& uuid) {
    for (const auto& d : driver->ListDomains()) {
      if (d.uuid == uuid) return true;
    }
    return false;
  }
  std::unique_ptr<sim::SimDriver> driver;
  std::unique_ptr<CommandServer> server;
  std::unique_ptr<httplib::Client> client;
};

class AgentEvacuationTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (std::filesystem::temp_directory_path() / "ferry-aev-XXXXXX").string();
    ASSERT_NE(mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string dir_;
};

TEST_F(AgentEvacuationTest, InvalidSpecsAre400AndNotRememberedForEveryKind) {
  Host h(dir_ + "/a");
  for (const char* kind : kKinds) {
    json bad = Spec();
    bad["domain"]["disks"][0]["path"] = "/shared/x\n";
    auto res = h.Post(std::string("id-") + kind, kind, bad, 1);
    ASSERT_TRUE(res);
    EXPECT_EQ(res->status, 400) << kind << " " << res->body;
    EXPECT_NE(res->body.find("badRequest"), std::string::npos) << res->body;
  }
  EXPECT_FALSE(h.Has(kGuest));
  // The same id, corrected, runs: the 400 was not remembered.
  json fixed = h.Run("id-rebuild_evacuated_domain", "rebuild_evacuated_domain", Spec(), 1);
  EXPECT_EQ(fixed["status"], "done") << fixed;
  EXPECT_EQ(fixed["domain"]["uuid"], kGuest);
  EXPECT_EQ(fixed["domain"]["power_state"], 1);
  EXPECT_TRUE(h.Has(kGuest));
}

TEST_F(AgentEvacuationTest, ACommandIdIsAnsweredOnceAndNeverActsTwice) {
  Host dst(dir_ + "/dst");
  EXPECT_EQ(dst.Run("ev:rebuild:1", "rebuild_evacuated_domain", Spec(), 1)["status"], "done");
  dst.driver->DeleteDomain(kGuest);  // behind the controller's back
  json replay = dst.Run("ev:rebuild:1", "rebuild_evacuated_domain", Spec(), 1);
  EXPECT_EQ(replay["status"], "done");
  EXPECT_FALSE(dst.Has(kGuest)) << "a replayed id ran the rebuild again";
  json other = Spec();
  other["power_on"] = false;
  auto mismatch = dst.Post("ev:rebuild:1", "rebuild_evacuated_domain", other, 1);
  ASSERT_TRUE(mismatch);
  EXPECT_EQ(mismatch->status, 409) << "one id, two different commands";
}

TEST_F(AgentEvacuationTest, TheFenceMustNameTheMigrationAndAStaleEpochIsRefused) {
  Host dst(dir_ + "/dst");
  auto unnamed = dst.Post("ev:rebuild:1", "rebuild_evacuated_domain", Spec(), 1,
                          "11111111-1111-4111-8111-111111111111");
  ASSERT_TRUE(unnamed);
  EXPECT_EQ(unnamed->status, 400) << unnamed->body;
  EXPECT_EQ(dst.Run("ev:rebuild:2", "rebuild_evacuated_domain", Spec(), 3)["status"], "done");
  auto stale = dst.Post("ev:revert:1", "revert_evacuation_destination", Spec(), 2);
  ASSERT_TRUE(stale);
  EXPECT_EQ(stale->status, 409);
  EXPECT_EQ(stale->get_header_value("X-Ferry-Fence"), "stale");
  EXPECT_TRUE(dst.Has(kGuest)) << "a stale controller's revert removed the guest";
  EXPECT_EQ(dst.Run("ev:revert:2", "revert_evacuation_destination", Spec(), 3)["status"], "done");
  EXPECT_FALSE(dst.Has(kGuest));
}

TEST_F(AgentEvacuationTest, RebuildRevertAndCleanUpDriveTheSimAcrossTwoHosts) {
  Host src(dir_ + "/src");
  Host dst(dir_ + "/dst");
  src.driver->CreateDomain(wire::Domain{kGuest, "web", 1, 128, 1, wire::PowerState::kRunning});
  src.driver->FenceEvacuatedDomain(kGuest);  // what the reporter does once the host is back
  json rebuilt = dst.Run("ev:rebuild:1", "rebuild_evacuated_domain", Spec(), 1);
  ASSERT_EQ(rebuilt["status"], "done") << rebuilt;
  EXPECT_EQ(rebuilt["domain"]["disks"][0]["path"], "/shared/web.img");
  // Sent to the wrong host, a clean-up must not destroy the copy the evacuation rebuilt.
  EXPECT_EQ(dst.Run("ev:clean:0", "clean_up_evacuated_source", Spec(), 1)["status"], "failed");
  EXPECT_TRUE(dst.Has(kGuest));
  EXPECT_EQ(src.Run("ev:clean:1", "clean_up_evacuated_source", Spec(), 1)["status"], "done");
  EXPECT_FALSE(src.Has(kGuest));
  EXPECT_TRUE(dst.Has(kGuest));
}

TEST_F(AgentEvacuationTest, RebuildFailsScenarioIsAFailedCommandWithNothingDefined) {
  Host dst(dir_ + "/dst", {sim::ParseSimScenario("rebuild-fails")});
  json failed = dst.Run("ev:rebuild:1", "rebuild_evacuated_domain", Spec(), 1);
  EXPECT_EQ(failed["status"], "failed");
  EXPECT_NE(failed["error"].get<std::string>().find("rebuild-fails"), std::string::npos);
  EXPECT_FALSE(dst.Has(kGuest));
  // A failed command is remembered: its retry under the same id is the same answer.
  EXPECT_EQ(dst.Run("ev:rebuild:1", "rebuild_evacuated_domain", Spec(), 1)["status"], "failed");
  EXPECT_EQ(dst.Run("ev:revert:1", "revert_evacuation_destination", Spec(), 1)["status"], "done");
}

}  // namespace
}  // namespace ferry::agent
