// The move engine (controller/moves) against a real PostgreSQL, driven with kinds of move
// written here (no controller, no agents): what every kind relies on. Leases are taken only
// for the kinds a controller drives; admission counts the slots of every kind (a cold move
// occupies the same ones as a live one) and keeps requesters' turns across kinds; a step that
// keeps throwing ends its move through GiveUp after the budget, counted only while the lease
// is ours and reset by a status change; the database's unavailability is never counted.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <functional>
#include <mutex>
#include <thread>

#include "common/errors.hpp"
#include "controller/moves/engine.hpp"
#include "controller/store/moves_store.hpp"
#include "controller/store/tx.hpp"
#include "tests/pg/store_test.hpp"

namespace ferry::controller::moves {
namespace {

using namespace std::chrono_literals;
using store::MoveRef;
using store::Tx;

bool WaitFor(const std::function<bool()>& done, std::chrono::milliseconds within) {
  const auto until = std::chrono::steady_clock::now() + within;
  while (!done()) {
    if (std::chrono::steady_clock::now() > until) return false;
    std::this_thread::sleep_for(20ms);
  }
  return true;
}

// A kind whose steps do what the test says, and which remembers what the engine asked.
class ScriptedKind final : public MoveKind {
 public:
  explicit ScriptedKind(std::string type) : type_(std::move(type)) {}
  std::string_view type() const override { return type_; }
  StepOutcome Step(const std::string& uuid) override {
    ++steps_;
    if (throw_) throw_(uuid);
    return {StepResult::kWait, false, true};
  }
  bool Admit(Tx& tx, const std::string& uuid) override {
    if (admit_throws_for_ == uuid) throw std::runtime_error("cannot admit this one");
    // A statement the database refuses (as a kind's store might meet a constraint).
    if (admit_refused_by_database_for_ == uuid) tx.work().exec0("SELECT 1 / 0");
    std::lock_guard lock(mu_);
    admitted_.push_back(uuid);
    return true;
  }
  void Admitted(const std::string&) override {}
  void GiveUp(const std::string& uuid, const std::string& reason) override {
    std::lock_guard lock(mu_);
    given_up_.emplace_back(uuid, reason);
  }

  std::vector<std::string> admitted() {
    std::lock_guard lock(mu_);
    return admitted_;
  }
  std::vector<std::pair<std::string, std::string>> given_up() {
    std::lock_guard lock(mu_);
    return given_up_;
  }

  std::function<void(const std::string&)> throw_;
  std::string admit_throws_for_;
  std::string admit_refused_by_database_for_;
  std::atomic<int> steps_{0};

 private:
  std::string type_;
  std::mutex mu_;
  std::vector<std::string> admitted_;
  std::vector<std::pair<std::string, std::string>> given_up_;
};

class MoveEngineTest : public store::StoreTest {
 protected:
  void SetUp() override {
    StoreTest::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    options_.owner = "ctl-a";
    options_.lease = 30s;
    options_.tick = 50ms;
    options_.workers = 2;
    options_.step_retry_budget = 3;
    options_.step_retry_window = 0s;
    options_.limits = {1, 1, 0};
  }

  // A move row of `type` as a kind's store would write it, leased to `owner` (or unleased).
  std::string Insert(const std::string& type, const std::string& status, const std::string& source,
                     const std::string& dest, const std::optional<std::string>& owner,
                     const std::string& user = "alice") {
    return Sql("INSERT INTO migrations (uuid, instance_uuid, migration_type, status, "
               "source_compute, dest_compute, user_id, lease_owner, lease_until, created_at, "
               "updated_at) VALUES (gen_random_uuid(), gen_random_uuid(), $1, $2, $3, $4, $5, "
               "$6::text, CASE WHEN $6::text IS NULL THEN NULL ELSE now() + interval '30 s' END, "
               "clock_timestamp(), now()) RETURNING uuid::text",
               type, status, source, dest, user, owner)[0][0]
        .as<std::string>();
  }
  int StepFailures(const std::string& uuid) {
    return Sql("SELECT step_failures FROM migrations WHERE uuid = $1::uuid", uuid)[0][0].as<int>();
  }

  EngineOptions options_;
};

TEST_F(MoveEngineTest, LeasesOnlyTheKindsItDrives) {
  ScriptedKind live("live-migration");
  const auto mine = Insert("live-migration", "running", "h1", "h2", std::nullopt);
  const auto cold = Insert("migration", "migrating", "h1", "h3", std::nullopt);
  Engine engine(options_, *db_, *db_);
  engine.AddKind(live);
  engine.RenewLeases();
  auto owner = [&](const std::string& uuid) {
    auto r = Sql("SELECT coalesce(lease_owner, '') FROM migrations WHERE uuid = $1::uuid", uuid);
    return r[0][0].as<std::string>();
  };
  EXPECT_EQ(owner(mine), "ctl-a");
  EXPECT_EQ(owner(cold), "") << "a kind this controller does not drive is left to one that does";
}

TEST_F(MoveEngineTest, AColdMoveOccupiesTheSameSlotsAsALiveOne) {
  ScriptedKind live("live-migration");
  ScriptedKind cold("migration");
  // h1's one outbound slot is taken by a cold move copying its disk.
  const auto copying = Insert("migration", "migrating", "h1", "h2", "ctl-a");
  const auto waiting = Insert("live-migration", "queued", "h1", "h3", "ctl-a");
  Engine engine(options_, *db_, *db_);
  engine.AddKind(live);
  engine.AddKind(cold);
  engine.AdmitQueued();
  EXPECT_TRUE(live.admitted().empty()) << "h1's outbound slot is the cold move's";

  // A resize waiting for confirm holds claims on its destination but no slot.
  Sql("UPDATE migrations SET status = 'finished' WHERE uuid = $1::uuid", copying);
  engine.AdmitQueued();
  EXPECT_EQ(live.admitted(), std::vector<std::string>{waiting});
}

TEST_F(MoveEngineTest, RequestersTakeTurnsAcrossKinds) {
  ScriptedKind live("live-migration");
  ScriptedKind cold("migration");
  options_.limits = {10, 10, 2};  // two moves in the whole cluster
  const auto a1 = Insert("live-migration", "queued", "h1", "h2", "ctl-a", "alice");
  Insert("migration", "queued", "h3", "h4", "ctl-a", "alice");
  const auto b1 = Insert("migration", "queued", "h5", "h6", "ctl-a", "bob");
  Engine engine(options_, *db_, *db_);
  engine.AddKind(live);
  engine.AddKind(cold);
  engine.AdmitQueued();
  EXPECT_EQ(live.admitted(), std::vector<std::string>{a1});
  EXPECT_EQ(cold.admitted(), std::vector<std::string>{b1}) << "bob's first before alice's second";
}

// A host drain takes its own turn: its many queued moves (all the admin's) do not starve the
// same admin's single move, and two drains share the slots.
TEST_F(MoveEngineTest, EachDrainTakesItsOwnTurnBesideSingleMoves) {
  ScriptedKind live("live-migration");
  options_.limits = {10, 10, 3};  // three moves in the whole cluster
  std::vector<std::string> drain_a, drain_b;
  for (int i = 0; i < 3; ++i) {
    drain_a.push_back(
        Insert("live-migration", "queued", "a" + std::to_string(i), "x", "ctl-a", "admin"));
    Sql("UPDATE migrations SET drain_uuid = '11111111-1111-4111-8111-111111111111' "
        "WHERE uuid = $1::uuid",
        drain_a.back());
  }
  for (int i = 0; i < 3; ++i) {
    drain_b.push_back(
        Insert("live-migration", "queued", "b" + std::to_string(i), "y", "ctl-a", "admin"));
    Sql("UPDATE migrations SET drain_uuid = '22222222-2222-4222-8222-222222222222' "
        "WHERE uuid = $1::uuid",
        drain_b.back());
  }
  const auto single = Insert("live-migration", "queued", "s", "z", "ctl-a", "admin");
  Engine engine(options_, *db_, *db_);
  engine.AddKind(live);
  engine.AdmitQueued();
  auto admitted = live.admitted();
  std::sort(admitted.begin(), admitted.end());
  std::vector<std::string> want = {drain_a[0], drain_b[0], single};
  std::sort(want.begin(), want.end());
  EXPECT_EQ(admitted, want) << "each drain's first move and the admin's single one";
}

// The turns count what each requester already has in slots: a drain whose next queued move is
// older than an admin's single one does not take each slot that frees up (its moves admitted
// before were its turns).
TEST_F(MoveEngineTest, MovesAlreadyInSlotsAreTurnsTaken) {
  ScriptedKind live("live-migration");
  options_.limits = {10, 10, 2};  // two moves in the whole cluster, one taken
  Insert("live-migration", "running", "h1", "h2", "ctl-a", "alice");
  Insert("live-migration", "queued", "h3", "h4", "ctl-a", "alice");
  const auto bob = Insert("live-migration", "queued", "h5", "h6", "ctl-a", "bob");
  Engine engine(options_, *db_, *db_);
  engine.AddKind(live);
  engine.AdmitQueued();
  EXPECT_EQ(live.admitted(), std::vector<std::string>{bob}) << "alice has had her first turn";
}

// An evacuation's source is a dead host: it sends nothing and holds no outbound slot, so the
// evacuations of one dead host (and of two) are not admitted one at a time.
TEST_F(MoveEngineTest, EvacuationsTakeNoOutboundSlotOfTheirDeadSource) {
  ScriptedKind evacuation("evacuation");
  options_.limits = {1, 10, 0};  // one outbound move per host
  std::vector<std::string> queued;
  for (int i = 0; i < 3; ++i) {
    queued.push_back(Insert("evacuation", "queued", "dead-1", "d" + std::to_string(i), "ctl-a"));
  }
  queued.push_back(Insert("evacuation", "queued", "dead-2", "d9", "ctl-a"));
  Engine engine(options_, *db_, *db_);
  engine.AddKind(evacuation);
  engine.AdmitQueued();
  auto admitted = evacuation.admitted();
  std::sort(admitted.begin(), admitted.end());
  std::sort(queued.begin(), queued.end());
  EXPECT_EQ(admitted, queued);
}

TEST_F(MoveEngineTest, AStepThatKeepsThrowingEndsItsMoveAfterTheBudget) {
  ScriptedKind live("live-migration");
  live.throw_ = [](const std::string&) { throw std::runtime_error("cannot read the record"); };
  const auto uuid = Insert("live-migration", "running", "h1", "h2", "ctl-a");
  Engine engine(options_, *db_, *db_);
  engine.AddKind(live);
  engine.Start();
  ASSERT_TRUE(WaitFor([&] { return !live.given_up().empty(); }, 10s));
  engine.Stop();
  auto given_up = live.given_up();
  ASSERT_EQ(given_up.size(), 1u);
  EXPECT_EQ(given_up[0].first, uuid);
  EXPECT_NE(given_up[0].second.find("cannot read the record"), std::string::npos);
  EXPECT_NE(given_up[0].second.find("3 failures"), std::string::npos) << given_up[0].second;
  EXPECT_EQ(StepFailures(uuid), 3);
}

TEST_F(MoveEngineTest, ACleanStepStartsTheCountOver) {
  ScriptedKind live("live-migration");
  std::atomic<int> throws{0};
  // Two failures, a clean step, two failures, a clean step, ...: never three in a row.
  live.throw_ = [&](const std::string&) {
    if (throws++ % 3 < 2) throw std::runtime_error("flaky");
  };
  const auto uuid = Insert("live-migration", "running", "h1", "h2", "ctl-a");
  Engine engine(options_, *db_, *db_);
  engine.AddKind(live);
  engine.Start();
  ASSERT_TRUE(WaitFor([&] { return live.steps_ >= 12; }, 10s));
  engine.Stop();
  EXPECT_TRUE(live.given_up().empty()) << "failures that are not in a row used up the budget";
  EXPECT_LT(StepFailures(uuid), 3);
}

TEST_F(MoveEngineTest, TheBudgetWaitsForItsWindow) {
  ScriptedKind live("live-migration");
  live.throw_ = [](const std::string&) { throw std::runtime_error("cannot read the record"); };
  options_.step_retry_window = 3600s;  // a burst of failures (wakes by API calls) is not enough
  const auto uuid = Insert("live-migration", "running", "h1", "h2", "ctl-a");
  Engine engine(options_, *db_, *db_);
  engine.AddKind(live);
  engine.Start();
  ASSERT_TRUE(WaitFor([&] { return live.steps_ >= 6; }, 10s));
  engine.Stop();
  EXPECT_TRUE(live.given_up().empty());
  EXPECT_GE(StepFailures(uuid), 6);
}

TEST_F(MoveEngineTest, AMoveThatCannotBeAdmittedNeitherBlocksNorTakesASlot) {
  ScriptedKind live("live-migration");
  options_.limits = {1, 1, 0};
  const auto broken = Insert("live-migration", "queued", "h1", "h2", "ctl-a", "alice");
  const auto next = Insert("live-migration", "queued", "h1", "h3", "ctl-a", "bob");
  live.admit_throws_for_ = broken;
  Engine engine(options_, *db_, *db_);
  engine.AddKind(live);
  engine.AdmitQueued();
  EXPECT_EQ(live.admitted(), std::vector<std::string>{next})
      << "h1's one outbound slot goes to the next in turn";
  EXPECT_EQ(StepFailures(broken), 1) << "counted against the budget of the one that threw";
}

TEST_F(MoveEngineTest, AStatementTheDatabaseRefusesForOneMoveSpoilsOnlyThatMovesAdmission) {
  ScriptedKind live("live-migration");
  options_.limits = {1, 1, 0};
  const auto broken = Insert("live-migration", "queued", "h1", "h2", "ctl-a", "alice");
  const auto next = Insert("live-migration", "queued", "h1", "h3", "ctl-a", "bob");
  live.admit_refused_by_database_for_ = broken;
  Engine engine(options_, *db_, *db_);
  engine.AddKind(live);
  engine.AdmitQueued();
  EXPECT_EQ(live.admitted(), std::vector<std::string>{next})
      << "the pass goes on past the refused statement (a savepoint per move)";
  EXPECT_EQ(StepFailures(broken), 1) << "counted against the move whose statement was refused";
}

TEST_F(MoveEngineTest, TheDatabasesUnavailabilityIsNeverCounted) {
  ScriptedKind live("live-migration");
  live.throw_ = [](const std::string&) { throw Error(Errc::kUnavailable, "database timed out"); };
  const auto uuid = Insert("live-migration", "running", "h1", "h2", "ctl-a");
  Engine engine(options_, *db_, *db_);
  engine.AddKind(live);
  engine.Start();
  ASSERT_TRUE(WaitFor([&] { return live.steps_ >= 10; }, 10s));
  engine.Stop();
  EXPECT_TRUE(live.given_up().empty());
  EXPECT_EQ(StepFailures(uuid), 0);
}

TEST_F(MoveEngineTest, FailuresCountOnlyUnderTheLeaseAndAStatusChangeResetsThem) {
  const auto uuid = Insert("live-migration", "running", "h1", "h2", "ctl-a");
  std::optional<store::StepFailures> n;
  db_->Transact([&](Tx& tx) { n = store::RecordStepFailure(tx, uuid, "ctl-a", "boom"); });
  ASSERT_TRUE(n.has_value());
  EXPECT_EQ(n->count, 1);
  db_->Transact([&](Tx& tx) { n = store::RecordStepFailure(tx, uuid, "ctl-b", "boom"); });
  EXPECT_FALSE(n.has_value()) << "a controller whose lease is gone counts nothing";
  EXPECT_EQ(StepFailures(uuid), 1);
  EXPECT_EQ(Sql("SELECT last_step_error FROM migrations WHERE uuid = $1::uuid", uuid)[0][0]
                .as<std::string>(),
            "boom");
}

}  // namespace
}  // namespace ferry::controller::moves
