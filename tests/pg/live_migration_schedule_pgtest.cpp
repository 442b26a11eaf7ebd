// Steps::Schedule against a real PostgreSQL with an agent written in the test
// (agent_client::AgentClient is an interface): no controller or agent processes. What a user
// relies on when a move is scheduled: a server on a shared datastore goes only to a host that
// sees it, even when another has more room, and `force` cannot send it elsewhere; a destination
// whose pre-check refuses is skipped for the next; the destination claim and the source claim's
// move to the migration commit with the status.
#include <gtest/gtest.h>

#include <mutex>

#include "common/clock.hpp"
#include "common/uuid.hpp"
#include "controller/conductor/host_snapshot.hpp"
#include "controller/live_migration/steps.hpp"
#include "controller/live_migration/steps_parties.hpp"
#include "controller/moves/status_waiters.hpp"
#include "controller/store/claims_store.hpp"
#include "controller/store/live_migrations_store.hpp"
#include "controller/store/servers_store.hpp"
#include "tests/pg/store_test.hpp"

namespace ferry::controller::live_migration {
namespace {

using store::MigrationStatus;
using store::Tx;

// Answers every command "done" unless told to refuse it for a host; remembers what it got.
class TestAgents final : public agent_client::AgentClient {
 public:
  wire::CommandResult Send(const std::string& agent_url,
                           const wire::Command& command) const override {
    std::lock_guard lock(mu_);
    sent_.push_back(command.kind + "@" + agent_url);
    wire::CommandResult r;
    r.id = command.id;
    r.status = refuse_.count(agent_url) ? "failed" : "done";
    if (r.status == "failed") r.error = "pre-check refused on " + agent_url;
    return r;
  }
  wire::Inventory FetchInventory(const std::string&) const override { return {}; }
  std::optional<wire::LiveMigrationJob> FetchMigrationJob(const std::string&,
                                                          const std::string&) const override {
    return std::nullopt;
  }
  std::vector<std::string> sent() const {
    std::lock_guard lock(mu_);
    return sent_;
  }
  std::set<std::string> refuse_;  // agent urls

 private:
  mutable std::mutex mu_;
  mutable std::vector<std::string> sent_;
};

class LiveMigrationScheduleTest : public store::StoreTest {
 protected:
  void SetUp() override {
    StoreTest::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    engine_.owner = "ctl-test";
    snapshot_ = std::make_unique<conductor::HostSnapshot>(*db_, clock_);
    ctx_ = std::make_unique<Context>(
        Context{*db_, agents_, clock_, scheduler_, *snapshot_, engine_, options_, waiters_});
  }

  // Registers `name` (up, 16 vCPU) with `memory_mb` and the shared datastores it sees.
  void AddSharedHost(const std::string& name, int64_t memory_mb,
                     const std::vector<std::string>& datastores) {
    store::HostRegistration r;
    r.name = name;
    r.cell = "cell1";
    r.hypervisor_type = "QEMU";
    r.hypervisor_version = 8002000;
    r.agent_url = "agent://" + name;
    r.vcpus = 16;
    r.memory_mb = memory_mb;
    r.local_gb = 100;
    r.cpu_info = nlohmann::json::object();
    for (const auto& d : datastores) r.datastores.push_back({d, "shared", 1000, 500});
    db_->Transact([&](Tx& tx) { store::RegisterHost(tx, r, clock_.Now()); });
  }

  // An active server on `host` whose disks are on the shared datastore `datastore`, claimed
  // there, and a live migration of it, accepted and leased here.
  store::LiveMigration ServerAndMigration(const std::string& host, const std::string& datastore,
                                          std::optional<std::string> requested = std::nullopt,
                                          bool force = false) {
    store::Server s;
    s.uuid = NewUuid();
    s.name = "web";
    s.vcpus = 1;
    s.memory_mb = 1024;
    s.root_gb = 10;
    s.vm_state = "active";
    s.task_state = "migrating";
    s.power_state = 1;
    s.storage_kind = "shared";
    s.datastore = datastore;
    s.user_id = "alice";
    s.project_id = "p1";
    s.created_at = clock_.Now();
    store::LiveMigration m;
    db_->Transact([&](Tx& tx) {
      auto h = store::FindHostNamed(tx, host).value();
      s.host_id = h.id;
      s.host = s.node = host;
      store::InsertServer(tx, s);
      store::ClaimUnconditionally(tx, s.uuid, h.id, {1, 1024, 0});
      m.uuid = NewUuid();
      m.instance_uuid = s.uuid;
      m.status = MigrationStatus::kAccepted;
      m.source_compute = m.source_node = host;
      m.user_id = "alice";
      m.project_id = "p1";
      m.requested_host = requested;
      m.forced = force;
      store::InsertLiveMigration(tx, m,
                                 store::MigrationEvent{std::nullopt, m.status, "requested",
                                                       std::nullopt, "test", std::nullopt},
                                 engine_.owner, std::chrono::seconds(60));
    });
    return Find(m.uuid);
  }

  store::LiveMigration Find(const std::string& uuid) {
    std::optional<store::LiveMigration> m;
    db_->Transact([&](Tx& tx) { m = store::FindLiveMigration(tx, uuid); });
    return m.value();
  }

  StepResult Schedule(store::LiveMigration& m) {
    Steps steps(*ctx_);
    snapshot_->Tick();
    return steps.Run(m);
  }

  ManualClockForTest clock_{TimePoint(std::chrono::seconds(1'700'000'000))};
  TestAgents agents_;
  scheduler::Scheduler scheduler_;
  moves::EngineOptions engine_;
  Options options_;
  moves::StatusWaiters waiters_;
  std::unique_ptr<conductor::HostSnapshot> snapshot_;
  std::unique_ptr<Context> ctx_;
};

TEST_F(LiveMigrationScheduleTest, ASharedStorageServerGoesOnlyWhereItsDatastoreIsSeen) {
  // The source sees both datastores, so sharing one with it makes no candidate preferred.
  AddSharedHost("src", 8192, {"nfs-1", "nfs-2"});
  AddSharedHost("roomy", 65536, {"nfs-2"});  // the most room; the disks are not there
  AddSharedHost("narrow", 4096, {"nfs-1"});
  auto m = ServerAndMigration("src", "nfs-1");
  Schedule(m);
  auto now = Find(m.uuid);
  ASSERT_EQ(now.status, MigrationStatus::kQueued) << now.error_reason.value_or("");
  EXPECT_EQ(now.dest_compute, "narrow");
  for (const auto& sent : agents_.sent()) {
    EXPECT_EQ(sent.find("@agent://roomy"), std::string::npos) << sent;
  }
  db_->Transact([&](Tx& tx) {
    EXPECT_EQ(store::ClaimedBy(tx, m.uuid).memory_mb, 1024) << "the source claim moved";
    EXPECT_EQ(store::ClaimedBy(tx, m.instance_uuid).memory_mb, 1024) << "the destination's";
  });
}

TEST_F(LiveMigrationScheduleTest, ForceCannotSendItWhereItsDisksAreNot) {
  AddSharedHost("src", 8192, {"nfs-1"});
  AddSharedHost("roomy", 65536, {"nfs-2"});
  auto m = ServerAndMigration("src", "nfs-1", "roomy", /*force=*/true);
  Schedule(m);
  auto now = Find(m.uuid);
  EXPECT_EQ(now.status, MigrationStatus::kError);
  EXPECT_EQ(now.error_reason,
            "roomy does not see datastore nfs-1, where the disks of " + m.instance_uuid + " are.");
  EXPECT_TRUE(agents_.sent().empty()) << "nothing is asked of a host that cannot take it";
}

TEST_F(LiveMigrationScheduleTest, ARefusedPreCheckSkipsToTheNextDestination) {
  AddSharedHost("src", 8192, {"nfs-1"});
  AddSharedHost("first", 65536, {"nfs-1"});
  AddSharedHost("second", 4096, {"nfs-1"});
  agents_.refuse_.insert("agent://first");
  auto m = ServerAndMigration("src", "nfs-1");
  Schedule(m);
  auto now = Find(m.uuid);
  ASSERT_EQ(now.status, MigrationStatus::kQueued) << now.error_reason.value_or("");
  EXPECT_EQ(now.dest_compute, "second");
  EXPECT_EQ(now.ignore_hosts, std::vector<std::string>{"first"});
  ASSERT_EQ(now.precheck_failures.size(), 1u);
  EXPECT_NE(now.precheck_failures[0].find("pre-check refused on agent://first"), std::string::npos);
}

}  // namespace
}  // namespace ferry::controller::live_migration
