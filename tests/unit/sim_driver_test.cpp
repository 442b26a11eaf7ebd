// The sim driver: a modelled hypervisor that must behave like a real one where the controller
// can tell (idempotency, persistence across agent restarts, foreign guests) and must never be
// mistaken for one.
#include "agent/drivers/sim/sim_driver.hpp"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>

#include "agent/jobs/job_journal.hpp"
#include "common/errors.hpp"

namespace ferry::agent::sim {
namespace {

class TempDir {
 public:
  TempDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "ferry-sim-test-XXXXXX").string();
    if (mkdtemp(tmpl.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
    path_ = tmpl;
  }
  ~TempDir() { std::filesystem::remove_all(path_); }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

constexpr const char* kUuid1 = "11111111-1111-4111-8111-111111111111";
constexpr const char* kUuid2 = "22222222-2222-4222-8222-222222222222";

wire::Domain MakeDomain(const std::string& uuid, const std::string& name = "vm") {
  wire::Domain d;
  d.uuid = uuid;
  d.name = name;
  d.vcpus = 2;
  d.memory_mb = 4096;
  d.disk_gb = 40;
  return d;
}

SimConfig Config(const TempDir& dir) {
  SimConfig c;
  c.state_dir = dir.path() + "/state";
  return c;
}

Errc CodeOf(const std::function<void()>& fn) {
  try {
    fn();
  } catch (const Error& e) {
    return e.code();
  }
  ADD_FAILURE() << "expected ferry::Error";
  return Errc::kInternal;
}

TEST(SimDriver, ReportsItselfAsASimulationWithConfiguredCapacity) {
  TempDir dir;
  SimConfig config = Config(dir);
  config.vcpus = 8;
  config.memory_mb = 16384;
  config.disk_gb = 100;
  SimDriver driver(config);
  DriverInfo info = driver.Info();
  EXPECT_EQ(info.hypervisor_type, "ferry-sim");
  EXPECT_TRUE(info.simulated);
  EXPECT_EQ(info.vcpus, 8);
  EXPECT_EQ(info.memory_mb, 16384);
  EXPECT_EQ(info.local_gb, 100);
  ASSERT_EQ(info.datastores.size(), 1u);
  EXPECT_EQ(info.datastores[0].kind, "local");
  EXPECT_EQ(info.datastores[0].free_gb, 100);
  driver.CreateDomain(MakeDomain(kUuid1));
  EXPECT_EQ(driver.Info().datastores[0].free_gb, 60);
}

TEST(SimDriver, CreateListDelete) {
  TempDir dir;
  SimDriver driver(Config(dir));
  EXPECT_TRUE(driver.ListDomains().empty());
  wire::Domain created = driver.CreateDomain(MakeDomain(kUuid1, "a"));
  EXPECT_EQ(created.power_state, wire::PowerState::kRunning);
  driver.CreateDomain(MakeDomain(kUuid2, "b"));
  auto domains = driver.ListDomains();
  ASSERT_EQ(domains.size(), 2u);
  EXPECT_EQ(domains[0].uuid, kUuid1);
  EXPECT_EQ(domains[0].name, "a");
  EXPECT_EQ(domains[0].memory_mb, 4096);
  driver.DeleteDomain(kUuid1);
  domains = driver.ListDomains();
  ASSERT_EQ(domains.size(), 1u);
  EXPECT_EQ(domains[0].uuid, kUuid2);
}

TEST(SimDriver, IdenticalCreateIsIdempotent) {
  TempDir dir;
  SimDriver driver(Config(dir));
  driver.CreateDomain(MakeDomain(kUuid1));
  wire::Domain again = driver.CreateDomain(MakeDomain(kUuid1));
  EXPECT_EQ(again.uuid, kUuid1);
  EXPECT_EQ(driver.ListDomains().size(), 1u);
}

TEST(SimDriver, CreateWithSameUuidButDifferentParametersConflicts) {
  TempDir dir;
  SimDriver driver(Config(dir));
  driver.CreateDomain(MakeDomain(kUuid1));
  wire::Domain bigger = MakeDomain(kUuid1);
  bigger.memory_mb = 8192;
  EXPECT_EQ(CodeOf([&] { driver.CreateDomain(bigger); }), Errc::kConflict);
  EXPECT_EQ(driver.ListDomains().at(0).memory_mb, 4096);
}

TEST(SimDriver, UuidsAreCaseInsensitive) {
  TempDir dir;
  SimDriver driver(Config(dir));
  driver.CreateDomain(MakeDomain("AAAAAAAA-AAAA-4AAA-8AAA-AAAAAAAAAAAA"));
  driver.CreateDomain(MakeDomain("aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa"));
  ASSERT_EQ(driver.ListDomains().size(), 1u);
  driver.DeleteDomain("Aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa");
  EXPECT_TRUE(driver.ListDomains().empty());
}

TEST(SimDriver, DeleteOfUnknownUuidSucceeds) {
  TempDir dir;
  SimDriver driver(Config(dir));
  EXPECT_NO_THROW(driver.DeleteDomain(kUuid1));
}

TEST(SimDriver, InvalidDomainIsABadRequest) {
  TempDir dir;
  SimDriver driver(Config(dir));
  EXPECT_EQ(CodeOf([&] { driver.CreateDomain(MakeDomain("not-a-uuid")); }), Errc::kBadRequest);
  wire::Domain no_cpu = MakeDomain(kUuid1);
  no_cpu.vcpus = 0;
  EXPECT_EQ(CodeOf([&] { driver.CreateDomain(no_cpu); }), Errc::kBadRequest);
  EXPECT_EQ(CodeOf([&] { driver.DeleteDomain("nope"); }), Errc::kBadRequest);
  EXPECT_TRUE(driver.ListDomains().empty());
}

TEST(SimDriver, DomainsSurviveADriverRestartOnTheSameStateDir) {
  TempDir dir;
  {
    SimDriver driver(Config(dir));
    driver.CreateDomain(MakeDomain(kUuid1, "keeper"));
    driver.CreateDomain(MakeDomain(kUuid2, "goner"));
    driver.DeleteDomain(kUuid2);
  }
  SimDriver restarted(Config(dir));
  auto domains = restarted.ListDomains();
  ASSERT_EQ(domains.size(), 1u);
  EXPECT_EQ(domains[0].uuid, kUuid1);
  EXPECT_EQ(domains[0].name, "keeper");
  EXPECT_EQ(domains[0].disk_gb, 40);
  EXPECT_EQ(domains[0].power_state, wire::PowerState::kRunning);
}

TEST(SimDriver, StateIsReplacedAtomicallyWithNoTempFileLeft) {
  TempDir dir;
  SimDriver driver(Config(dir));
  driver.CreateDomain(MakeDomain(kUuid1));
  std::string path = Config(dir).state_dir + "/domains.json";
  EXPECT_FALSE(std::filesystem::exists(path + ".tmp"));
  std::ifstream in(path);
  auto j = nlohmann::json::parse(in);
  EXPECT_EQ(j.at("domains").size(), 1u);
  EXPECT_NE(j.at("note").get<std::string>().find("simulated"), std::string::npos);
}

TEST(SimDriver, SecondDriverOnALockedStateDirIsRefused) {
  TempDir dir;
  SimDriver first(Config(dir));
  EXPECT_EQ(CodeOf([&] { SimDriver second(Config(dir)); }), Errc::kConflict);
}

TEST(SimDriver, CorruptStateFileIsAnErrorNotAnEmptyHost) {
  TempDir dir;
  { SimDriver driver(Config(dir)); }
  std::ofstream(Config(dir).state_dir + "/domains.json") << "{\"format\":1,\"domains\":[{";
  EXPECT_EQ(CodeOf([&] { SimDriver driver(Config(dir)); }), Errc::kInternal);
}

TEST(SimDriver, StateFileWrittenBeforeLiveMigrationStillLoads) {
  TempDir dir;
  { SimDriver driver(Config(dir)); }
  std::ofstream(Config(dir).state_dir + "/domains.json")
      << "{\"format\":1,\"domains\":[{\"uuid\":\"" << kUuid1
      << "\",\"name\":\"old\",\"vcpus\":1,\"memory_mb\":512,\"disk_gb\":1,"
         "\"power_state\":1}]}";
  SimDriver driver(Config(dir));
  ASSERT_EQ(driver.ListDomains().size(), 1u);
  EXPECT_EQ(driver.ListDomains()[0].name, "old");
  EXPECT_FALSE(driver.LiveMigrationJobStats("55555555-5555-4555-8555-555555555555"));
}

TEST(SimDriver, JobsOfAStateFileFromBeforeTheSharedRegistryMoveToItsJournal) {
  TempDir dir;
  { SimDriver driver(Config(dir)); }
  const std::string migration = "55555555-5555-4555-8555-555555555555";
  std::ofstream(Config(dir).state_dir + "/domains.json")
      << "{\"format\":1,\"domains\":[],\"live_migration_jobs\":[{\"migration_uuid\":\"" << migration
      << "\",\"domain_uuid\":\"" << kUuid1
      << "\",\"state\":\"completed\",\"phase\":\"done\",\"sampled_at\":"
      << std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count()
      << "}]}";  // ended now: older than a week it would be forgotten
  {
    SimDriver driver(Config(dir));
    ASSERT_TRUE(driver.LiveMigrationJobStats(migration));
    EXPECT_EQ(driver.LiveMigrationJobStats(migration)->state, "completed");
  }
  std::ifstream in(Config(dir).state_dir + "/domains.json");
  EXPECT_FALSE(nlohmann::json::parse(in).contains("live_migration_jobs")) << "moved, not copied";
  SimDriver again(Config(dir));
  EXPECT_EQ(again.LiveMigrationJobStats(migration)->state, "completed");
}

// A job recorded running whose thread died with the agent ends from what it journalled: a
// switch-over journalled (the agent died before recording the outcome) is completed whether or
// not the guest's entry was already forgotten here; post-copy is a failure past the
// switch once the destination confirmed it; a hand-over told but not confirmed is left to the
// destination's rollback; post-copy only asked, or a guest gone with nothing journalled, is not
// a move; a guest still here never left.
TEST(SimDriver, AJobRecordedRunningEndsFromWhatItJournalledAfterARestart) {
  TempDir dir;
  const std::string moved = "55555555-5555-4555-8555-555555555555";
  const std::string moved_not_forgotten = "56555555-5555-4555-8555-555555555555";
  const std::string postcopy = "57555555-5555-4555-8555-555555555555";
  const std::string vanished = "58555555-5555-4555-8555-555555555555";
  const std::string stayed = "66666666-6666-4666-8666-666666666666";
  const std::string asked_only = "59555555-5555-4555-8555-555555555555";
  const std::string handover = "5a555555-5555-4555-8555-555555555555";
  const std::string kUuid6 = "66666666-1111-4111-8111-666666666666";
  const std::string kUuid5 = "99999999-9999-4999-8999-999999999999";
  const std::string kUuid3 = "33333333-3333-4333-8333-333333333333";
  const std::string kUuid4 = "44444444-4444-4444-8444-444444444444";
  {
    SimDriver driver(Config(dir));
    driver.CreateDomain(MakeDomain(kUuid2, "stayed"));
    driver.CreateDomain(MakeDomain(kUuid3, "moved-not-forgotten"));
    driver.CreateDomain(MakeDomain(kUuid4, "in-postcopy"));
    driver.CreateDomain(MakeDomain(kUuid5, "postcopy-asked-only"));
    driver.CreateDomain(MakeDomain(kUuid6, "handed-over"));
  }
  JobJournal journal(Config(dir).state_dir + "/migration-jobs");
  auto put = [&](const std::string& migration, const std::string& domain, nlohmann::json facts,
                 bool postcopy_asked) {
    JobRecord r;
    r.spec.migration_uuid = migration;
    r.spec.domain.uuid = domain;
    r.last.migration_uuid = migration;
    r.last.state = "running";
    r.last.phase = "precopy";
    r.driver_facts = std::move(facts);
    r.forcing = r.post_copy = postcopy_asked;
    ASSERT_TRUE(journal.Put(r));
  };
  put(moved, kUuid1, {{"switched_over", true}}, false);
  put(moved_not_forgotten, kUuid3, {{"switched_over", true}}, false);
  put(postcopy, kUuid4, {{"postcopy_started", true}, {"postcopy_confirmed", true}}, true);
  // Told the destination, no answer journalled: the destination decides, this copy is kept.
  put(handover, kUuid6, {{"switchover_sent", true}}, false);
  // Post-copy asked but not started (the agent died between the two): the guest never left.
  put(asked_only, kUuid5, nlohmann::json::object(), true);
  put(vanished, "77777777-7777-4777-8777-777777777777", nlohmann::json::object(), false);
  put(stayed, kUuid2, nlohmann::json::object(), false);
  SimDriver driver(Config(dir));
  EXPECT_EQ(driver.LiveMigrationJobStats(moved)->state, "completed");
  EXPECT_EQ(driver.LiveMigrationJobStats(moved_not_forgotten)->state, "completed");
  auto post = driver.LiveMigrationJobStats(postcopy);
  EXPECT_EQ(post->state, "failed");
  EXPECT_EQ(post->phase, "postcopy") << "the controller must not roll this one back";
  auto gone = driver.LiveMigrationJobStats(vanished);
  EXPECT_EQ(gone->state, "failed") << "gone with no switch-over journalled is not a move";
  EXPECT_NE(gone->phase, "postcopy");
  auto handed = driver.LiveMigrationJobStats(handover);
  EXPECT_EQ(handed->state, "failed");
  EXPECT_NE(handed->phase, "postcopy") << "the destination's rollback decides, not a cleanup here";
  auto failed = driver.LiveMigrationJobStats(stayed);
  EXPECT_EQ(failed->state, "failed");
  EXPECT_NE(failed->phase, "postcopy");
  EXPECT_NE(failed->error.find("restarted"), std::string::npos) << failed->error;
  auto asked = driver.LiveMigrationJobStats(asked_only);
  EXPECT_EQ(asked->state, "failed");
  EXPECT_NE(asked->phase, "postcopy") << "asked is not moved: the controller rolls back";
  EXPECT_EQ(driver.LiveMigrationJobsToReport().size(), 7u) << "no outcome was heard yet";
  // Cleanup may remove exactly the entries whose guest moved on.
  wire::LiveMigrationSpec spec;
  spec.migration_uuid = moved_not_forgotten;
  spec.domain.uuid = kUuid3;
  driver.CleanupLiveMigrationSource(spec);
  // A copy still running here is never removed, whatever the record says (post-copy included:
  // only a paused or stopped copy is stale).
  for (const auto& [migration, domain] :
       {std::pair{stayed, std::string(kUuid2)}, std::pair{asked_only, kUuid5},
        std::pair{postcopy, kUuid4}, std::pair{handover, kUuid6}}) {
    spec.migration_uuid = migration;
    spec.domain.uuid = domain;
    EXPECT_EQ(CodeOf([&] { driver.CleanupLiveMigrationSource(spec); }), Errc::kConflict)
        << "the only copy of " << domain << " is kept";
  }
}

TEST(SimDriver, ForeignDomainsAreCreatedAtFirstStartOnly) {
  TempDir dir;
  SimConfig config = Config(dir);
  config.foreign_domains.push_back(ParseSimDomainSpec(std::string("hand-made:1:512:5:") + kUuid1));
  {
    SimDriver driver(config);
    auto domains = driver.ListDomains();
    ASSERT_EQ(domains.size(), 1u);
    EXPECT_EQ(domains[0].name, "hand-made");
    EXPECT_EQ(domains[0].power_state, wire::PowerState::kRunning);
    driver.DeleteDomain(kUuid1);  // an operator removed it while the agent ran
  }
  SimDriver restarted(config);
  EXPECT_TRUE(restarted.ListDomains().empty());
}

TEST(SimDriver, StoresLinkBandwidthAndPerDomainDirtyRateAcrossRestarts) {
  TempDir dir;
  SimConfig config = Config(dir);
  config.link_bandwidth_bytes_per_s = 125'000'000;
  config.dirty_rate_bytes_per_s = 50'000'000;
  {
    SimDriver driver(config);
    EXPECT_EQ(driver.LinkBandwidthBytesPerSecond(), 125'000'000);
    driver.CreateDomain(MakeDomain(kUuid1));
  }
  config.dirty_rate_bytes_per_s = 0;  // a new default applies to new domains only
  SimDriver restarted(config);
  EXPECT_EQ(restarted.DirtyRateBytesPerSecond(kUuid1), 50'000'000);
  restarted.CreateDomain(MakeDomain(kUuid2));
  EXPECT_EQ(restarted.DirtyRateBytesPerSecond(kUuid2), 0);
  EXPECT_EQ(CodeOf([&] { restarted.DirtyRateBytesPerSecond("unknown"); }), Errc::kNotFound);
}

TEST(SimDomainSpec, ParsesNameVcpusMemoryDiskAndOptionalUuid) {
  wire::Domain d = ParseSimDomainSpec("db:4:8192:80");
  EXPECT_EQ(d.name, "db");
  EXPECT_EQ(d.vcpus, 4);
  EXPECT_EQ(d.memory_mb, 8192);
  EXPECT_EQ(d.disk_gb, 80);
  EXPECT_EQ(d.uuid.size(), 36u);
  EXPECT_EQ(ParseSimDomainSpec(std::string("db:4:8192:0:") + kUuid2).uuid, kUuid2);
}

TEST(SimDomainSpec, RejectsMalformedSpecs) {
  for (const char* bad :
       {"", "db", "db:4:8192", ":4:8192:80", "db:0:8192:80", "db:x:8192:80", "db:4:8192:-1",
        "db:4:8192:80:not-a-uuid", "db:4:8192:80:", "db:4:8192:80:a:b", "db:99999999999:1:1"}) {
    EXPECT_EQ(CodeOf([&] { ParseSimDomainSpec(bad); }), Errc::kBadRequest) << bad;
  }
}

}  // namespace
}  // namespace ferry::agent::sim
