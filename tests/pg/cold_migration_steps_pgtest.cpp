// Cold migration and resize steps against a real PostgreSQL, with agents written in the test
// (agent_client::AgentClient is an interface): no processes. What users rely on: the claims
// (new flavor on the destination, old on the source until confirm) commit with each status; the
// server shows RESIZE, then VERIFY_RESIZE on its destination with the new flavor, then ACTIVE;
// revert brings it back to its source with the old flavor; a failed copy rolls back and leaves
// the guest on its source; a destination that does not answer is never raced by a restart on
// the source; the resize_confirm_window confirms on its own.
#include <gtest/gtest.h>

#include <algorithm>
#include <mutex>
#include <set>

#include "common/clock.hpp"
#include "common/uuid.hpp"
#include "controller/agent_client/agent_answer.hpp"
#include "controller/cold_migration/states.hpp"
#include "controller/cold_migration/steps.hpp"
#include "controller/conductor/host_snapshot.hpp"
#include "controller/moves/status_waiters.hpp"
#include "controller/store/claims_store.hpp"
#include "controller/store/cold_migrations_store.hpp"
#include "controller/store/hosts_store.hpp"
#include "controller/store/live_migrations_store.hpp"
#include "controller/store/servers_store.hpp"
#include "tests/pg/store_test.hpp"

namespace ferry::controller::cold_migration {
namespace {

using store::ColdStep;
using store::MigrationStatus;
using store::Tx;

// Answers every command "done" (prepare with a receive uri) unless told to refuse a kind or to
// be unreachable for it; remembers what it got, in order.
class TestAgents final : public agent_client::AgentClient {
 public:
  wire::CommandResult Send(const std::string& agent_url,
                           const wire::Command& command) const override {
    std::lock_guard lock(mu_);
    sent_.push_back(command.kind + "@" + agent_url);
    if (reuse_once_.erase(command.kind)) {
      // The agent ran this id before with other arguments (a renamed server): 409.
      throw agent_client::AgentError(agent_client::AgentAnswer::kConflict,
                                     "command id " + command.id + " was used for another command");
    }
    if (unreachable_.count(command.kind)) {
      throw agent_client::AgentError(agent_client::AgentAnswer::kUnreachable, "connection refused");
    }
    wire::CommandResult r;
    r.id = command.id;
    r.status = refuse_.count(command.kind) ? "failed" : "done";
    if (r.status == "failed") r.error = command.kind + " refused";
    if (command.kind == "prepare_cold_migration_destination") {
      // On shared storage the sim's destination gives no address; libvirt's still does (the
      // guest's disk layout goes there): shared_storage_uri_ says which this agent is.
      const bool shared = command.args.value("shared_storage", false);
      r.data = {{"receive_uri", shared && !shared_storage_uri_ ? "" : "tcp:127.0.0.1:4000"}};
    }
    if (command.kind == "finish_cold_migration_destination" ||
        command.kind == "revert_cold_migration_source") {
      wire::Domain d;
      d.uuid = command.args.at("domain").at("uuid").get<std::string>();
      d.power_state = wire::PowerState::kRunning;
      r.domain = d;
    }
    return r;
  }
  // Every guest the test made, except on a host told to have none.
  wire::Inventory FetchInventory(const std::string& agent_url) const override {
    std::lock_guard lock(mu_);
    wire::Inventory inv;
    if (empty_.count(agent_url)) return inv;
    for (const auto& uuid : guests_) {
      wire::Domain d;
      d.uuid = uuid;
      inv.domains.push_back(d);
    }
    return inv;
  }
  void AddGuest(const std::string& uuid) {
    std::lock_guard lock(mu_);
    guests_.push_back(uuid);
  }
  std::optional<wire::LiveMigrationJob> FetchMigrationJob(const std::string&,
                                                          const std::string&) const override {
    std::lock_guard lock(mu_);
    return job_;
  }
  std::vector<std::string> sent() const {
    std::lock_guard lock(mu_);
    return sent_;
  }
  bool Sent(const std::string& kind) const {
    for (const auto& s : sent()) {
      if (s.rfind(kind + "@", 0) == 0) return true;
    }
    return false;
  }
  std::set<std::string> refuse_;              // command kinds
  std::set<std::string> unreachable_;         // command kinds
  mutable std::set<std::string> reuse_once_;  // command kinds answered 409 once
  std::set<std::string> empty_;               // agent urls whose inventory has no guest
  std::optional<wire::LiveMigrationJob> job_;
  bool shared_storage_uri_ = false;  // prepare answers an address on shared storage too

 private:
  std::vector<std::string> guests_;
  mutable std::mutex mu_;
  mutable std::vector<std::string> sent_;
};

class ColdMigrationStepsTest : public store::StoreTest {
 protected:
  void SetUp() override {
    StoreTest::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    engine_.owner = "ctl-test";
    snapshot_ = std::make_unique<conductor::HostSnapshot>(*db_, clock_);
    ctx_ = std::make_unique<Context>(
        Context{*db_, agents_, clock_, scheduler_, *snapshot_, engine_, options_, waiters_});
    steps_ = std::make_unique<Steps>(*ctx_);
    AddHost("src");
    AddHost("dst");
  }

  void AddHost(const std::string& name) {
    store::HostRegistration r;
    r.name = name;
    r.cell = "cell1";
    r.hypervisor_type = "QEMU";
    r.hypervisor_version = 8002000;
    r.agent_url = "agent://" + name;
    r.vcpus = 16;
    r.memory_mb = 16384;
    r.local_gb = 100;
    r.cpu_info = nlohmann::json::object();
    db_->Transact([&](Tx& tx) { store::RegisterHost(tx, r, clock_.Now()); });
  }

  store::Host Host(const std::string& name) {
    std::optional<store::Host> h;
    db_->Transact([&](Tx& tx) {
      store::HostFilter f;
      f.name = name;
      h = store::FindHost(tx, f);
    });
    return h.value();
  }

  // An active server on src (1 vCPU, 1 GiB, 10 GB local disk) claimed there, and a cold move
  // of it (a resize to 2 vCPU / 2 GiB / 20 GB unless `to` says otherwise), accepted and leased
  // here, its server in resize_prep as the API leaves it.
  store::ColdMigration ServerAndMove(store::ColdType type = store::ColdType::kResize,
                                     const std::string& storage = "local",
                                     const std::optional<std::string>& drain = std::nullopt) {
    store::Server s;
    s.uuid = NewUuid();
    s.name = "web";
    s.flavorid = "1";
    s.flavor_name = "m1.tiny";
    s.vcpus = 1;
    s.memory_mb = 1024;
    s.root_gb = 10;
    s.vm_state = "active";
    s.task_state = "resize_prep";
    s.power_state = 1;
    s.storage_kind = storage;
    s.user_id = "alice";
    s.project_id = "p1";
    s.created_at = clock_.Now();
    store::ColdMigration m;
    db_->Transact([&](Tx& tx) {
      const auto src = Host("src");
      s.host_id = src.id;
      s.host = s.node = "src";
      store::InsertServer(tx, s);
      agents_.AddGuest(s.uuid);
      store::ClaimUnconditionally(tx, s.uuid, src.id, {1, 1024, storage == "local" ? 10 : 0});
      m.uuid = NewUuid();
      m.instance_uuid = s.uuid;
      m.type = type;
      m.source_compute = m.source_node = "src";
      m.user_id = "alice";
      m.project_id = "p1";
      m.old_flavor = store::FlavorOf(s);
      m.new_flavor = m.old_flavor;
      if (type == store::ColdType::kResize)
        m.new_flavor = {std::nullopt, "2", "m1.small", 2, 2048, 20};
      m.transfer_token = "secret-token";
      m.drain_uuid = drain;
      store::InsertColdMigration(tx, m,
                                 store::MigrationEvent{std::nullopt, m.status, "requested",
                                                       std::nullopt, "test", std::nullopt},
                                 engine_.owner, std::chrono::seconds(60));
    });
    return Find(m.uuid);
  }

  store::ColdMigration Find(const std::string& uuid) {
    std::optional<store::ColdMigration> m;
    db_->Transact([&](Tx& tx) { m = store::FindColdMigration(tx, uuid); });
    return m.value();
  }
  store::Server Server(const std::string& uuid) {
    std::optional<store::Server> s;
    db_->Transact([&](Tx& tx) { s = store::FindServer(tx, uuid); });
    return s.value();
  }
  store::Resources Claimed(const std::string& consumer) {
    store::Resources r;
    db_->Transact([&](Tx& tx) { r = store::ClaimedBy(tx, consumer); });
    return r;
  }

  // Runs steps (admitting a queued move as the engine would) until the move waits, ends, or
  // `until` is reached.
  store::ColdMigration Drive(const std::string& uuid,
                             std::optional<MigrationStatus> until = std::nullopt) {
    snapshot_->Tick();
    for (int i = 0; i < 30; ++i) {
      auto m = Find(uuid);
      if (until && m.status == *until) return m;
      if (m.status == MigrationStatus::kQueued) {
        bool admitted = false;
        db_->Transact([&](Tx& tx) { admitted = steps_->Admit(tx, uuid); });
        if (admitted) continue;
      }
      try {
        if (steps_->Run(m) != StepResult::kAgain) return Find(uuid);
      } catch (const std::exception& e) {
        last_error_ = e.what();  // what the engine would count against the retry budget
        return Find(uuid);
      }
    }
    ADD_FAILURE() << "the move never settled";
    return Find(uuid);
  }

  // The source's agent reports the copy job in `state`.
  void ReportCopy(const store::ColdMigration& m, const std::string& state,
                  const std::string& error = "") {
    wire::LiveMigrationJob job;
    job.migration_uuid = m.uuid;
    job.domain_uuid = m.instance_uuid;
    job.state = state;
    job.phase = state == "running" ? "copying" : "done";
    job.disk_total = 10LL << 30;
    job.disk_processed = state == "completed" ? job.disk_total : job.disk_total / 2;
    job.disk_remaining = job.disk_total - job.disk_processed;
    job.transfer_rate_bps = 100 << 20;
    job.error = error;
    job.sampled_at = EpochSeconds(clock_.Now());
    db_->Transact([&](Tx& tx) { store::ApplyProgress(tx, "src", {job}); });
  }

  static double EpochSeconds(TimePoint t) {
    return std::chrono::duration<double>(t.time_since_epoch()).count();
  }

  // Real time: the resize_confirm_window and the copy's silence compare it with PostgreSQL's.
  ManualClockForTest clock_{SystemNow()};
  static TimePoint SystemNow() {
    return TimePoint(std::chrono::duration_cast<TimePoint::duration>(
        std::chrono::system_clock::now().time_since_epoch()));
  }
  TestAgents agents_;
  scheduler::Scheduler scheduler_;
  moves::EngineOptions engine_;
  Options options_;
  moves::StatusWaiters waiters_;
  std::unique_ptr<conductor::HostSnapshot> snapshot_;
  std::unique_ptr<Context> ctx_;
  std::unique_ptr<Steps> steps_;
  std::string last_error_;
};

TEST_F(ColdMigrationStepsTest,
       AResizeClaimsTheNewFlavorOnTheDestinationAndKeepsTheOldUntilConfirm) {
  auto m = ServerAndMove();
  m = Drive(m.uuid);
  ASSERT_EQ(m.status, MigrationStatus::kMigrating) << m.error_reason.value_or("");
  EXPECT_EQ(m.step, ColdStep::kCopyingDisks);
  EXPECT_EQ(m.dest_compute, "dst");
  EXPECT_EQ(m.receive_uri, "tcp:127.0.0.1:4000");
  EXPECT_EQ(Server(m.instance_uuid).task_state, "resize_migrating");
  EXPECT_EQ(Claimed(m.uuid).memory_mb, 1024) << "the source's old flavor, held by the move";
  EXPECT_EQ(Claimed(m.instance_uuid).memory_mb, 2048) << "the new flavor on the destination";
  EXPECT_EQ(Claimed(m.instance_uuid).disk_gb, 20);
  EXPECT_EQ(agents_.sent(),
            (std::vector<std::string>{"prepare_cold_migration_destination@agent://dst",
                                      "power_off_for_cold_migration@agent://src",
                                      "start_cold_migration_copy@agent://src"}));

  ReportCopy(m, "running");
  m = Drive(m.uuid);
  EXPECT_EQ(m.status, MigrationStatus::kMigrating) << "a running copy is waited for";
  EXPECT_EQ(Server(m.instance_uuid).progress, 50) << "the server's progress follows the disks";

  ReportCopy(m, "completed");
  m = Drive(m.uuid);
  ASSERT_EQ(m.status, MigrationStatus::kFinished) << m.error_reason.value_or("");
  auto s = Server(m.instance_uuid);
  EXPECT_EQ(s.host, "dst");
  EXPECT_EQ(s.vm_state, "resized");
  EXPECT_EQ(s.task_state, std::nullopt);
  EXPECT_EQ(s.vcpus, 2);
  EXPECT_EQ(s.flavorid, "2");
  EXPECT_EQ(Claimed(m.uuid).memory_mb, 1024) << "the source's claim stays until confirm";

  db_->Transact([&](Tx& tx) {
    EXPECT_TRUE(store::RequestConfirm(tx, m.uuid, clock_.Now(), "requested"));
    EXPECT_FALSE(store::RequestRevert(tx, m.uuid, clock_.Now())) << "one decision only";
  });
  m = Drive(m.uuid);
  ASSERT_EQ(m.status, MigrationStatus::kConfirmed);
  EXPECT_TRUE(agents_.Sent("confirm_cold_migration_source"));
  EXPECT_EQ(Claimed(m.uuid).memory_mb, 0) << "the source's claim released";
  EXPECT_EQ(Claimed(m.instance_uuid).memory_mb, 2048);
  EXPECT_EQ(Server(m.instance_uuid).vm_state, "active");
  EXPECT_EQ(m.lease_owner, std::nullopt);
}

// A drain's cold move is its drain's from its insert (the fair queue's requester), and its
// steps' saves keep it so.
TEST_F(ColdMigrationStepsTest, ADrainsMoveIsTaggedAtItsInsertAndKeepsItsTag) {
  const std::string drain = "22222222-2222-4222-8222-222222222222";
  auto m = ServerAndMove(store::ColdType::kMigration, "local", drain);
  const std::string tag_sql = "SELECT drain_uuid::text FROM migrations WHERE uuid = $1::uuid";
  EXPECT_EQ(Sql(tag_sql, m.uuid)[0][0].as<std::string>(), drain);
  m = Drive(m.uuid);
  ASSERT_EQ(m.status, MigrationStatus::kMigrating) << m.error_reason.value_or("");
  EXPECT_EQ(Sql(tag_sql, m.uuid)[0][0].as<std::string>(), drain);
}

TEST_F(ColdMigrationStepsTest, RevertBringsTheServerBackToItsSourceWithItsOldFlavor) {
  auto m = ServerAndMove();
  Drive(m.uuid);
  ReportCopy(m, "completed");
  m = Drive(m.uuid);
  ASSERT_EQ(m.status, MigrationStatus::kFinished);
  db_->Transact([&](Tx& tx) { EXPECT_TRUE(store::RequestRevert(tx, m.uuid, clock_.Now())); });
  m = Drive(m.uuid);
  ASSERT_EQ(m.status, MigrationStatus::kReverted) << m.last_step_error.value_or("");
  auto sent = agents_.sent();
  auto at = [&](const std::string& s) {
    return std::find(sent.begin(), sent.end(), s) - sent.begin();
  };
  EXPECT_LT(at("revert_cold_migration_destination@agent://dst"),
            at("revert_cold_migration_source@agent://src"))
      << "the destination lets go before the source restarts: never two running copies";
  auto s = Server(m.instance_uuid);
  EXPECT_EQ(s.host, "src");
  EXPECT_EQ(s.vcpus, 1);
  EXPECT_EQ(s.flavorid, "1");
  EXPECT_EQ(s.vm_state, "active");
  EXPECT_EQ(Claimed(m.instance_uuid).memory_mb, 1024) << "only the old flavor, on the source";
  EXPECT_EQ(Claimed(m.uuid).memory_mb, 0);
  EXPECT_FALSE(agents_.Sent("confirm_cold_migration_source")) << "the source copy was kept";
}

TEST_F(ColdMigrationStepsTest, AFailedCopyRollsBackAndLeavesTheGuestOnItsSource) {
  auto m = ServerAndMove();
  Drive(m.uuid);
  ReportCopy(m, "failed", "connection reset at 48%");
  m = Drive(m.uuid);
  ASSERT_EQ(m.status, MigrationStatus::kError);
  EXPECT_NE(m.error_reason.value_or("").find("connection reset at 48%"), std::string::npos);
  EXPECT_TRUE(agents_.Sent("revert_cold_migration_destination"));
  EXPECT_TRUE(agents_.Sent("revert_cold_migration_source")) << "the guest started again";
  auto s = Server(m.instance_uuid);
  EXPECT_EQ(s.host, "src");
  EXPECT_EQ(s.vm_state, "active");
  EXPECT_EQ(s.task_state, std::nullopt);
  EXPECT_EQ(Claimed(m.instance_uuid).memory_mb, 1024) << "claims back as before the move";
  EXPECT_EQ(Claimed(m.uuid).memory_mb, 0);
  db_->Transact([&](Tx& tx) {
    auto events = store::ListMigrationEvents(tx, m.id);
    ASSERT_FALSE(events.empty());
    EXPECT_EQ(events.back().event, "copy_failed");
  });
}

TEST_F(ColdMigrationStepsTest, AnUnreachableDestinationIsNeverRacedByARestartOnTheSource) {
  auto m = ServerAndMove();
  Drive(m.uuid);
  ReportCopy(m, "completed");
  agents_.unreachable_.insert("finish_cold_migration_destination");
  m = Drive(m.uuid);
  EXPECT_EQ(m.status, MigrationStatus::kPostMigrating) << "it waits for the destination's word";
  EXPECT_FALSE(agents_.Sent("revert_cold_migration_source"));
  agents_.unreachable_.clear();
  m = Drive(m.uuid);
  EXPECT_EQ(m.status, MigrationStatus::kFinished);
}

TEST_F(ColdMigrationStepsTest, ARefusedFinishRollsBackOnlyOnceTheDestinationLetGo) {
  auto m = ServerAndMove();
  Drive(m.uuid);
  ReportCopy(m, "completed");
  agents_.refuse_.insert("finish_cold_migration_destination");
  agents_.unreachable_.insert("revert_cold_migration_destination");
  m = Drive(m.uuid);
  EXPECT_EQ(m.step, ColdStep::kRollingBackDestination);
  EXPECT_FALSE(agents_.Sent("revert_cold_migration_source"));
  agents_.unreachable_.clear();
  m = Drive(m.uuid);
  EXPECT_EQ(m.status, MigrationStatus::kError);
  EXPECT_TRUE(agents_.Sent("revert_cold_migration_source"));
  EXPECT_EQ(Server(m.instance_uuid).host, "src");
}

TEST_F(ColdMigrationStepsTest, TheConfirmWindowConfirmsOnItsOwn) {
  options_.resize_confirm_window = std::chrono::seconds(60);
  auto m = ServerAndMove(store::ColdType::kMigration);
  Drive(m.uuid);
  ReportCopy(m, "completed");
  m = Drive(m.uuid);
  ASSERT_EQ(m.status, MigrationStatus::kFinished);
  m = Drive(m.uuid);
  EXPECT_EQ(m.status, MigrationStatus::kFinished) << "not before the window";
  clock_.Advance(std::chrono::seconds(61));
  m = Drive(m.uuid);
  EXPECT_EQ(m.status, MigrationStatus::kConfirmed);
  db_->Transact([&](Tx& tx) {
    auto events = store::ListMigrationEvents(tx, m.id);
    bool seen = false;
    for (const auto& e : events) {
      if (e.event == "confirm_requested") {
        EXPECT_EQ(e.reason, "resize_confirm_window");
        seen = true;
      }
    }
    EXPECT_TRUE(seen);
  });
}

TEST_F(ColdMigrationStepsTest, SharedStorageCopiesNothing) {
  auto m = ServerAndMove(store::ColdType::kMigration, "shared");
  m = Drive(m.uuid);
  ASSERT_EQ(m.status, MigrationStatus::kFinished) << m.error_reason.value_or("");
  EXPECT_FALSE(agents_.Sent("start_cold_migration_copy"));
  EXPECT_EQ(Claimed(m.instance_uuid).disk_gb, 0) << "no local disk claimed on the destination";
}

// A destination that gives an address on shared storage too (libvirt: the source's manifest
// tells it the guest's disks) gets a copy of no disks, which the move waits for like any copy.
TEST_F(ColdMigrationStepsTest, SharedStorageStillSendsTheCopyWhenTheDestinationGaveAnAddress) {
  agents_.shared_storage_uri_ = true;
  auto m = ServerAndMove(store::ColdType::kMigration, "shared");
  m = Drive(m.uuid);
  EXPECT_TRUE(agents_.Sent("start_cold_migration_copy"));
  EXPECT_EQ(m.status, MigrationStatus::kMigrating);
  ReportCopy(m, "completed");
  m = Drive(m.uuid);
  ASSERT_EQ(m.status, MigrationStatus::kFinished) << m.error_reason.value_or("");
  EXPECT_EQ(Claimed(m.instance_uuid).disk_gb, 0) << "no local disk claimed on the destination";
}

TEST_F(ColdMigrationStepsTest, AnAbortBeforeTheGuestIsTouchedCancelsIt) {
  auto m = ServerAndMove();
  m = Drive(m.uuid, MigrationStatus::kQueued);
  db_->Transact([&](Tx& tx) { EXPECT_TRUE(store::RequestAbort(tx, m.uuid, clock_.Now())); });
  m = Drive(m.uuid);
  EXPECT_EQ(m.status, MigrationStatus::kCancelled);
  EXPECT_FALSE(agents_.Sent("power_off_for_cold_migration"));
  EXPECT_EQ(Claimed(m.instance_uuid).memory_mb, 1024);
  EXPECT_EQ(Claimed(m.uuid).memory_mb, 0);
  EXPECT_EQ(Server(m.instance_uuid).task_state, std::nullopt);
}

TEST_F(ColdMigrationStepsTest, ASilentCopyIsAskedAboutAndAGoneOneRollsBack) {
  auto m = ServerAndMove();
  m = Drive(m.uuid);
  ASSERT_EQ(m.step, ColdStep::kCopyingDisks);
  clock_.Advance(std::chrono::seconds(31));
  wire::LiveMigrationJob done;
  done.migration_uuid = m.uuid;
  done.state = "completed";
  agents_.job_ = done;
  m = Drive(m.uuid);
  EXPECT_EQ(m.status, MigrationStatus::kFinished) << "the agent's answer stands for its reports";

  // An agent that knows no copy at all (its record lost): rolled back, never waited on forever.
  auto gone = ServerAndMove();
  gone = Drive(gone.uuid);
  ASSERT_EQ(gone.step, ColdStep::kCopyingDisks);
  agents_.job_.reset();
  clock_.Advance(std::chrono::seconds(31));
  gone = Drive(gone.uuid);
  EXPECT_EQ(gone.status, MigrationStatus::kError);
  EXPECT_NE(gone.error_reason.value_or("").find("knows no copy job"), std::string::npos);
  EXPECT_EQ(Server(gone.instance_uuid).host, "src");
}

TEST_F(ColdMigrationStepsTest, AServerDeletedInVerifyResizeIsConfirmedAndItsSourceCopyDeleted) {
  auto m = ServerAndMove();
  Drive(m.uuid);
  ReportCopy(m, "completed");
  m = Drive(m.uuid);
  ASSERT_EQ(m.status, MigrationStatus::kFinished);
  // What ServerLifecycle::RequestDelete does for a resized server, then its delete finishing.
  db_->Transact([&](Tx& tx) {
    EXPECT_TRUE(store::RequestConfirm(tx, m.uuid, clock_.Now(), "server deleted"));
    store::ReleaseClaims(tx, m.instance_uuid);
    store::DeleteServerRow(tx, m.instance_uuid);
  });
  m = Drive(m.uuid);
  EXPECT_EQ(m.status, MigrationStatus::kConfirmed);
  EXPECT_TRUE(agents_.Sent("confirm_cold_migration_source")) << "the source's copy goes too";
  EXPECT_EQ(Claimed(m.uuid).memory_mb, 0);
}

TEST_F(ColdMigrationStepsTest, ARevertNeverRemovesTheRunningCopyWhileTheSourceHasNone) {
  auto m = ServerAndMove();
  Drive(m.uuid);
  ReportCopy(m, "completed");
  m = Drive(m.uuid);
  ASSERT_EQ(m.status, MigrationStatus::kFinished);
  agents_.empty_.insert("agent://src");  // the source host was reinstalled meanwhile
  db_->Transact([&](Tx& tx) { EXPECT_TRUE(store::RequestRevert(tx, m.uuid, clock_.Now())); });
  m = Drive(m.uuid);
  EXPECT_EQ(m.status, MigrationStatus::kReverting);
  EXPECT_NE(last_error_.find("no longer has the guest"), std::string::npos) << last_error_;
  EXPECT_FALSE(agents_.Sent("revert_cold_migration_destination"))
      << "the destination's copy is the only one";
}

TEST_F(ColdMigrationStepsTest, AConfirmNeverDeletesTheSourceCopyWhileTheDestinationHasNone) {
  options_.resize_confirm_window = std::chrono::seconds(1);
  auto m = ServerAndMove();
  Drive(m.uuid);
  ReportCopy(m, "completed");
  m = Drive(m.uuid);
  ASSERT_EQ(m.status, MigrationStatus::kFinished);
  agents_.empty_.insert("agent://dst");  // the destination host lost the guest
  clock_.Advance(std::chrono::seconds(2));
  m = Drive(m.uuid);
  EXPECT_EQ(m.status, MigrationStatus::kConfirming);
  EXPECT_FALSE(agents_.Sent("confirm_cold_migration_source")) << "the source's copy is kept";
  agents_.empty_.clear();
  m = Drive(m.uuid);
  EXPECT_EQ(m.status, MigrationStatus::kConfirmed);
}

TEST_F(ColdMigrationStepsTest, ARevertAskedWhileAStepHoldsAnOlderReadIsNotLost) {
  options_.resize_confirm_window = std::chrono::seconds(1);
  auto m = ServerAndMove();
  Drive(m.uuid);
  ReportCopy(m, "completed");
  m = Drive(m.uuid);
  ASSERT_EQ(m.status, MigrationStatus::kFinished);
  clock_.Advance(std::chrono::seconds(2));  // the window has elapsed: a step would confirm...
  auto stale = Find(m.uuid);
  db_->Transact([&](Tx& tx) { EXPECT_TRUE(store::RequestRevert(tx, m.uuid, clock_.Now())); });
  steps_->Run(stale);  // ... from its read made before the revert: its commit must lose
  m = Drive(m.uuid);
  EXPECT_EQ(m.status, MigrationStatus::kReverted) << "the accepted revert wins";
  EXPECT_FALSE(agents_.Sent("confirm_cold_migration_source"));
}

TEST_F(ColdMigrationStepsTest, AnAbortIsRecordedOnlyBeforeTheGuestIsTouched) {
  auto m = ServerAndMove();
  m = Drive(m.uuid);
  ASSERT_EQ(m.status, MigrationStatus::kMigrating);
  db_->Transact([&](Tx& tx) {
    EXPECT_FALSE(store::RequestColdAbort(tx, m.uuid, clock_.Now())) << "too late: shut down";
  });
  EXPECT_EQ(Find(m.uuid).abort_requested_at, std::nullopt);
}

TEST_F(ColdMigrationStepsTest, ACommandIdReusedWithOtherArgumentsIsSentAgainNotRolledBack) {
  auto m = ServerAndMove();
  Drive(m.uuid);
  ReportCopy(m, "completed");
  agents_.reuse_once_.insert("finish_cold_migration_destination");  // e.g. renamed meanwhile
  m = Drive(m.uuid);
  EXPECT_EQ(m.status, MigrationStatus::kFinished) << m.error_reason.value_or("");
  EXPECT_FALSE(agents_.Sent("revert_cold_migration_destination"));
  EXPECT_GE(m.attempt, 1) << "sent again under a new id";
}

TEST_F(ColdMigrationStepsTest, ADestinationDownBeforeTheCopyDoesNotHoldTheMoveHostage) {
  auto m = ServerAndMove();
  agents_.unreachable_.insert("prepare_cold_migration_destination");
  agents_.unreachable_.insert("revert_cold_migration_destination");
  m = Drive(m.uuid);
  ASSERT_EQ(m.status, MigrationStatus::kPreMigrating);
  Sql("UPDATE hosts SET state = 'down' WHERE name = 'dst'");
  m = Drive(m.uuid);
  EXPECT_EQ(m.status, MigrationStatus::kError);
  EXPECT_FALSE(agents_.Sent("power_off_for_cold_migration"));
  EXPECT_EQ(Claimed(m.instance_uuid).memory_mb, 1024) << "claims back with the server";
  EXPECT_EQ(Claimed(m.uuid).memory_mb, 0);
}

TEST_F(ColdMigrationStepsTest, ARollbackStopsTheCopyBeforeTheGuestStartsAgain) {
  auto m = ServerAndMove();
  m = Drive(m.uuid);
  ASSERT_EQ(m.step, ColdStep::kCopyingDisks);
  steps_->GiveUp(m, "a step kept throwing");  // the retry budget, mid-copy
  m = Drive(m.uuid);
  EXPECT_EQ(m.status, MigrationStatus::kError);
  auto sent = agents_.sent();
  auto at = [&](const std::string& s) {
    return std::find(sent.begin(), sent.end(), s) - sent.begin();
  };
  EXPECT_LT(at("abort_cold_migration_copy@agent://src"),
            at("revert_cold_migration_source@agent://src"));
  EXPECT_LT(at("abort_cold_migration_copy@agent://src"), static_cast<long>(sent.size()));
}

TEST(ColdMigrationStates, TheTableIsClosed) {
  for (auto s : kAllStatuses) {
    bool out = false;
    for (const auto& t : Transitions()) {
      EXPECT_TRUE(IsColdStatus(t.from) && IsColdStatus(t.to)) << t.event;
      if (t.from == s) out = true;
    }
    EXPECT_EQ(out, !store::IsTerminal(s)) << store::ToString(s);
  }
}

}  // namespace
}  // namespace ferry::controller::cold_migration
