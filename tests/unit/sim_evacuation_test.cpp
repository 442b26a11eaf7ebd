// Evacuation on the sim driver: rebuild defines the guest marked with the evacuation from its
// shared disks and volumes (a local one is refused) or with a fresh local root disk from its
// image, a repeat returns it, and a guest of that uuid the evacuation did not rebuild is never
// replaced; revert removes only what rebuild made; clean-up removes the stale copy on the source;
// fence powers a running guest off and keeps it; the mark and the fence survive an agent
// restart; the rebuild-fails scenario refuses with nothing defined.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <functional>
#include <memory>
#include <optional>

#include "agent/drivers/sim/sim_driver.hpp"
#include "common/errors.hpp"

namespace ferry::agent::sim {
namespace {

constexpr const char* kGuest = "45454545-4545-4545-8545-454545454545";
constexpr const char* kOther = "46464646-4646-4646-8646-464646464646";
constexpr const char* kMigration = "67676767-6767-4767-8767-676767676767";
constexpr const char* kAnotherMigration = "68686868-6868-4868-8868-686868686868";
constexpr int64_t kGiB = int64_t{1} << 30;

class SimEvacuationTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (std::filesystem::temp_directory_path() / "ferry-sev-XXXXXX").string();
    ASSERT_NE(mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::unique_ptr<SimDriver> Driver(const std::string& host,
                                    std::vector<SimScenario> scenarios = {},
                                    std::vector<wire::Domain> foreign = {}) {
    SimConfig c;
    c.state_dir = dir_ + "/" + host;
    c.scenarios = std::move(scenarios);
    c.foreign_domains = std::move(foreign);
    return std::make_unique<SimDriver>(c);
  }

  // A guest whose root disk is on shared storage, as `--sim-domain web:...:shared` reports it.
  static wire::EvacuationSpec SharedSpec() {
    wire::EvacuationSpec s;
    s.migration_uuid = kMigration;
    s.domain = ParseSimDomainSpec(std::string("web:2:512:10:") + kGuest + ":shared");
    s.domain.power_state = wire::PowerState::kNoState;  // the controller's last word: unknown
    s.source_host = "sim-1";
    s.dest_host = "sim-2";
    return s;
  }

  static std::optional<wire::Domain> Find(SimDriver& d, const std::string& uuid) {
    for (const auto& dom : d.ListDomains()) {
      if (dom.uuid == uuid) return dom;
    }
    return std::nullopt;
  }

  static Errc CodeOf(const std::function<void()>& step, std::string* message = nullptr) {
    try {
      step();
    } catch (const Error& e) {
      if (message != nullptr) *message = e.what();
      return e.code();
    }
    ADD_FAILURE() << "expected ferry::Error";
    return Errc::kInternal;
  }

  std::string dir_;
};

TEST_F(SimEvacuationTest, ASharedDiskOfASimDomainNamesNoDatastore) {
  // What the controller receives from a sim host and passes back in spec.domain.disks.
  auto d = ParseSimDomainSpec(std::string("web:2:512:10:") + kGuest + ":shared");
  ASSERT_EQ(d.disks.size(), 1u);
  EXPECT_EQ(d.disks[0].kind, "shared");
  EXPECT_EQ(d.disks[0].path, "/shared/web.img");
  EXPECT_EQ(d.disks[0].datastore, "") << "sim hosts register no shared datastore";
  EXPECT_EQ(Driver("a")->Info().datastores.size(), 1u);
}

TEST_F(SimEvacuationTest, RebuildFromSharedDisksDefinesTheGuestAndARepeatReturnsIt) {
  auto dst = Driver("dst");
  auto spec = SharedSpec();
  auto rebuilt = dst->RebuildEvacuatedDomain(spec);
  EXPECT_EQ(rebuilt.uuid, kGuest);
  EXPECT_EQ(rebuilt.vcpus, 2);
  EXPECT_EQ(rebuilt.memory_mb, 512);
  EXPECT_EQ(rebuilt.power_state, wire::PowerState::kRunning);
  ASSERT_EQ(rebuilt.disks.size(), 1u);
  EXPECT_EQ(rebuilt.disks[0].path, "/shared/web.img") << "the very same shared disk";
  EXPECT_EQ(rebuilt.disks[0].kind, "shared");
  auto again = dst->RebuildEvacuatedDomain(spec);
  EXPECT_EQ(again.uuid, kGuest);
  EXPECT_EQ(dst->ListDomains().size(), 1u);
  // A shared disk needs no local room: the host's free disk is untouched.
  EXPECT_EQ(dst->Info().datastores[0].free_gb, kDefaultDiskGb - 10);
}

TEST_F(SimEvacuationTest, PowerOnFalseLeavesItOff) {
  auto dst = Driver("dst");
  auto spec = SharedSpec();
  spec.power_on = false;
  EXPECT_EQ(dst->RebuildEvacuatedDomain(spec).power_state, wire::PowerState::kShutdown);
  EXPECT_EQ(Find(*dst, kGuest)->power_state, wire::PowerState::kShutdown);
}

TEST_F(SimEvacuationTest, RebuildFromImageMakesAFreshLocalRootDisk) {
  auto dst = Driver("dst");
  auto spec = SharedSpec();
  spec.domain.disks[0].kind = "local";  // its disks died with the source
  spec.rebuild_from_image = true;
  spec.image_ref = "155d900f-4e14-4e4c-a73d-069cbf4541e6";
  auto rebuilt = dst->RebuildEvacuatedDomain(spec);
  ASSERT_EQ(rebuilt.disks.size(), 1u);
  EXPECT_EQ(rebuilt.disks[0].target, "vda");
  EXPECT_EQ(rebuilt.disks[0].kind, "local");
  EXPECT_EQ(rebuilt.disks[0].capacity_bytes, 10 * kGiB);
  EXPECT_NE(rebuilt.disks[0].path, "/shared/web.img");
  dst->RevertEvacuationDestination(spec);
  EXPECT_FALSE(Find(*dst, kGuest).has_value());
}

TEST_F(SimEvacuationTest, ALocalDiskIsRefusedWithNothingDefined) {
  auto dst = Driver("dst");
  auto spec = SharedSpec();
  spec.domain.disks.push_back({"vdb", "/var/lib/ferry-sim/eph.img", "local", kGiB, "raw", ""});
  std::string why;
  EXPECT_EQ(CodeOf([&] { dst->RebuildEvacuatedDomain(spec); }, &why), Errc::kConflict);
  EXPECT_NE(why.find("vdb"), std::string::npos) << why;
  // A sim guest that reports no disks has a local root disk: the same.
  spec.domain.disks.clear();
  EXPECT_EQ(CodeOf([&] { dst->RebuildEvacuatedDomain(spec); }), Errc::kConflict);
  EXPECT_TRUE(dst->ListDomains().empty());
}

TEST_F(SimEvacuationTest, AGuestNotRebuiltByThisEvacuationIsNeverReplacedNorReverted) {
  auto dst = Driver("dst");
  auto spec = SharedSpec();
  dst->CreateDomain(wire::Domain{kGuest, "there-before", 1, 64, 0, wire::PowerState::kNoState});
  EXPECT_EQ(CodeOf([&] { dst->RebuildEvacuatedDomain(spec); }), Errc::kConflict);
  dst->RevertEvacuationDestination(spec);
  auto still = Find(*dst, kGuest);
  ASSERT_TRUE(still.has_value()) << "revert removed a guest the evacuation never made";
  EXPECT_EQ(still->name, "there-before");

  auto other = Driver("other");
  other->RebuildEvacuatedDomain(spec);
  auto another = spec;
  another.migration_uuid = kAnotherMigration;
  EXPECT_EQ(CodeOf([&] { other->RebuildEvacuatedDomain(another); }), Errc::kConflict);
  other->RevertEvacuationDestination(another);
  EXPECT_TRUE(Find(*other, kGuest).has_value()) << "another evacuation's revert removed it";
  other->RevertEvacuationDestination(spec);
  EXPECT_FALSE(Find(*other, kGuest).has_value());
  other->RevertEvacuationDestination(spec);  // nothing left: success
}

TEST_F(SimEvacuationTest, TheSourceFencesThenCleansUpItsStaleCopy) {
  // A guest that ran here when the host went down: running again as the host comes back.
  wire::Domain stale = ParseSimDomainSpec(std::string("web:2:512:10:") + kGuest + ":shared");
  auto src = Driver("src", {}, {stale});
  ASSERT_EQ(Find(*src, kGuest)->power_state, wire::PowerState::kRunning);
  src->FenceEvacuatedDomain(kGuest);
  auto fenced = Find(*src, kGuest);
  ASSERT_TRUE(fenced.has_value()) << "fencing keeps the definition";
  EXPECT_EQ(fenced->power_state, wire::PowerState::kShutdown);
  src->FenceEvacuatedDomain(kGuest);  // off already: success
  src->FenceEvacuatedDomain(kOther);  // not here: success
  EXPECT_EQ(CodeOf([&] { src->FenceEvacuatedDomain("../x"); }), Errc::kBadRequest);

  auto spec = SharedSpec();
  spec.delete_local_disks = true;
  src->CleanUpEvacuatedSource(spec);
  EXPECT_FALSE(Find(*src, kGuest).has_value());
  src->CleanUpEvacuatedSource(spec);  // already gone: success
}

TEST_F(SimEvacuationTest, CleanUpRefusesTheCopyThisEvacuationRebuilt) {
  auto dst = Driver("dst");
  auto spec = SharedSpec();
  dst->RebuildEvacuatedDomain(spec);
  EXPECT_EQ(CodeOf([&] { dst->CleanUpEvacuatedSource(spec); }), Errc::kConflict);
  EXPECT_TRUE(Find(*dst, kGuest).has_value());
}

TEST_F(SimEvacuationTest, TheMarkAndTheFenceSurviveAnAgentRestart) {
  auto spec = SharedSpec();
  {
    auto dst = Driver("dst");
    dst->RebuildEvacuatedDomain(spec);
  }
  {
    auto dst = Driver("dst");  // the agent restarted: the state file is all it has
    EXPECT_EQ(dst->RebuildEvacuatedDomain(spec).uuid, kGuest) << "the repeat lost its mark";
    auto another = spec;
    another.migration_uuid = kAnotherMigration;
    EXPECT_EQ(CodeOf([&] { dst->RebuildEvacuatedDomain(another); }), Errc::kConflict);
    EXPECT_EQ(CodeOf([&] { dst->CleanUpEvacuatedSource(spec); }), Errc::kConflict);
    dst->FenceEvacuatedDomain(kGuest);
  }
  {
    auto dst = Driver("dst");
    EXPECT_EQ(Find(*dst, kGuest)->power_state, wire::PowerState::kShutdown)
        << "a fenced guest runs again after an agent restart";
    dst->RevertEvacuationDestination(spec);
  }
  EXPECT_FALSE(Find(*Driver("dst"), kGuest).has_value());
}

TEST_F(SimEvacuationTest, RebuildFailsScenarioRefusesWithNothingDefined) {
  EXPECT_EQ(ParseSimScenario("rebuild-fails").name, kScenarioRebuildFails);
  auto dst = Driver("dst", {ParseSimScenario(std::string("rebuild-fails:") + kGuest)});
  auto spec = SharedSpec();
  std::string why;
  EXPECT_EQ(CodeOf([&] { dst->RebuildEvacuatedDomain(spec); }, &why), Errc::kConflict);
  EXPECT_NE(why.find("rebuild-fails"), std::string::npos) << why;
  EXPECT_TRUE(dst->ListDomains().empty());
  // Scoped to its uuid: another guest rebuilds.
  auto other = spec;
  other.domain.uuid = kOther;
  EXPECT_EQ(dst->RebuildEvacuatedDomain(other).uuid, kOther);
}

}  // namespace
}  // namespace ferry::agent::sim
