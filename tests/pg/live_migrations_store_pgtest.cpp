// live_migrations_store against a real PostgreSQL: what the engine and the progress ingest rely
// on. Reports land only from the source and only while running, newest wins, the ETA does not
// rise while the copy converges, and a report is a HOT update that leaves updated_at alone.
// Writes are fenced by the lease and the state version; leases are taken over only once
// expired and rewritten only once half has run out; the queue is fair across requesters.
#include <gtest/gtest.h>

#include <pqxx/pqxx>

#include "controller/store/live_migrations_store.hpp"
#include "controller/store/moves_store.hpp"
#include "controller/store/progress_store.hpp"
#include "controller/store/tx.hpp"
#include "tests/pg/store_test.hpp"

namespace ferry::controller::store {
namespace {

using std::chrono::seconds;

constexpr int64_t kGiB = 1LL << 30;
const std::vector<std::string> kLive = {"live-migration"};

std::vector<MoveRef> Refs(const std::vector<std::string>& uuids) {
  std::vector<MoveRef> out;
  for (const auto& u : uuids) out.push_back({"live-migration", u});
  return out;
}
constexpr int64_t kRate = 100'000'000;  // 100 MB/s on the wire

class LiveMigrationsStoreTest : public StoreTest {
 protected:
  // A live migration sim-1 -> sim-2 in `status`, leased to `owner`.
  LiveMigration Insert(const std::string& status, const std::string& owner = "ctl-a",
                       const std::string& user = "u1", seconds lease = seconds(30),
                       const std::optional<std::string>& drain = std::nullopt) {
    LiveMigration m;
    m.drain_uuid = drain;
    m.uuid = NewUuid();
    m.instance_uuid = NewUuid();
    m.status = ParseMigrationStatus(status).value();
    m.source_compute = "sim-1";
    m.source_node = "sim-1";
    m.dest_compute = "sim-2";
    m.dest_node = "sim-2";
    m.user_id = user;
    m.project_id = "p1";
    m.memory_total = 4 * kGiB;
    db_->Transact([&](Tx& tx) {
      InsertLiveMigration(
          tx, m,
          MigrationEvent{std::nullopt, m.status, "requested", std::nullopt, owner, std::nullopt},
          owner, lease);
    });
    return m;
  }

  LiveMigration Find(const std::string& uuid) {
    std::optional<LiveMigration> m;
    db_->Transact([&](Tx& tx) { m = FindLiveMigration(tx, uuid); });
    EXPECT_TRUE(m.has_value());
    return m.value_or(LiveMigration{});
  }

  int Apply(const std::string& host, const wire::LiveMigrationJob& job) {
    int landed = 0;
    db_->Transact([&](Tx& tx) { landed = ApplyProgress(tx, host, {job}); });
    return landed;
  }

  static wire::LiveMigrationJob Report(const LiveMigration& m, double at, int64_t remaining,
                                       int64_t rate, const std::string& state = "running") {
    wire::LiveMigrationJob j;
    j.migration_uuid = m.uuid;
    j.domain_uuid = m.instance_uuid;
    j.state = state;
    j.phase = "precopy";
    j.memory_total = 4 * kGiB;
    j.memory_remaining = remaining;
    j.memory_processed = 4 * kGiB - remaining;
    j.transfer_rate_bps = rate;
    j.sampled_at = at;
    return j;
  }

  static std::string NewUuid() {
    static int n = 0;
    char buf[40];
    std::snprintf(buf, sizeof(buf), "00000000-0000-4000-8000-%012d", ++n);
    return buf;
  }
};

TEST_F(LiveMigrationsStoreTest, ReportsLandOnlyFromTheSourceWhileRunningAndNewestWins) {
  auto m = Insert("running");
  EXPECT_EQ(Apply("sim-2", Report(m, 100, 3 * kGiB, 100'000'000)), 0) << "destination's report";
  EXPECT_EQ(Apply("sim-1", Report(m, 100, 3 * kGiB, 100'000'000)), 1);
  EXPECT_EQ(Apply("sim-1", Report(m, 99, 3'500'000'000, 100'000'000)), 0) << "older than the last";
  EXPECT_EQ(Find(m.uuid).memory_remaining, 3 * kGiB);

  auto queued = Insert("queued");
  EXPECT_EQ(Apply("sim-1", Report(queued, 100, kGiB, 1)), 0) << "not running yet";

  // Once the job said it completed, a late "running" report cannot reopen it.
  EXPECT_EQ(Apply("sim-1", Report(m, 101, 0, 100'000'000, "completed")), 1);
  EXPECT_EQ(Apply("sim-1", Report(m, 102, kGiB, 100'000'000)), 0);
  EXPECT_EQ(Find(m.uuid).job_state, wire::JobState::kCompleted);
}

// An agent may post again before the previous batch was written: one statement then holds two
// reports of one migration from one host, and UPDATE ... FROM alone would apply either.
TEST_F(LiveMigrationsStoreTest, OfTwoReportsInOneBatchTheNewestLandsWhateverTheirOrder) {
  auto m = Insert("running");
  int landed = 0;
  db_->Transact([&](Tx& tx) {
    landed = ApplyProgress(tx, "sim-1",
                           {Report(m, 101, 2 * kGiB, kRate), Report(m, 100, 3 * kGiB, kRate)});
  });
  EXPECT_EQ(landed, 1) << "one row, updated once";
  EXPECT_EQ(Find(m.uuid).memory_remaining, 2 * kGiB) << "the later sample, though it came first";
  // Equal samples: the one that arrived last (what the per-report updates did).
  db_->Transact([&](Tx& tx) {
    landed =
        ApplyProgress(tx, "sim-1", {Report(m, 102, kGiB, kRate), Report(m, 102, kGiB / 2, kRate)});
  });
  EXPECT_EQ(landed, 1);
  EXPECT_EQ(Find(m.uuid).memory_remaining, kGiB / 2);
}

// The ingest's writer sends a batch without BEGIN/COMMIT: once Write returns, another
// connection sees it (it committed), and a later batch still cannot be overtaken by an older one.
TEST_F(LiveMigrationsStoreTest, TheWritersSingleStatementCommitsByItself) {
  auto m = Insert("running");
  ProgressWriter writer(schema_->dsn());
  ProgressRows rows;
  rows.Add("sim-1", Report(m, 100, 3 * kGiB, kRate));
  EXPECT_EQ(writer.Write(rows), 1);
  EXPECT_EQ(Find(m.uuid).memory_remaining, 3 * kGiB);
  rows.clear();
  rows.Add("sim-1", Report(m, 99, kGiB, kRate));
  EXPECT_EQ(writer.Write(rows), 0) << "older than the last";
  EXPECT_EQ(Find(m.uuid).memory_remaining, 3 * kGiB);
  // A stalled copy (1 byte/s) gives an ETA past int's range: clamped, the batch still lands.
  rows.clear();
  rows.Add("sim-1", Report(m, 101, 3 * kGiB, 1));
  EXPECT_EQ(writer.Write(rows), 1);
  EXPECT_EQ(Find(m.uuid).eta_seconds, 2147483647);
}

TEST(ProgressRowsTest, OnlyTheTextualUuidFormIsAccepted) {
  EXPECT_TRUE(IsUuidText("0123abcd-ef01-4a2b-8c3d-0123456789AB"));
  EXPECT_FALSE(IsUuidText(""));
  EXPECT_FALSE(IsUuidText("0123abcd-ef01-4a2b-8c3d-0123456789a"));   // 35 characters
  EXPECT_FALSE(IsUuidText("0123abcd-ef01-4a2b-8c3d-0123456789ag"));  // not hex
  EXPECT_FALSE(IsUuidText("0123abcdef01-4a2b-8c3d--0123456789ab"));  // dash misplaced
  EXPECT_FALSE(IsUuidText("0123abcd-ef01-4a2b-8c3d-01234567\"}a"));  // would escape the literal
}

TEST_F(LiveMigrationsStoreTest, EtaNeverRisesWhileTheCopyConvergesAndFollowsItWhenItDoesNot) {
  auto m = Insert("running");
  ASSERT_EQ(Apply("sim-1", Report(m, 100, 4 * kGiB, 400'000'000)), 1);
  const int64_t first = Find(m.uuid).eta_seconds.value_or(-1);
  EXPECT_EQ(first, (4 * kGiB + 399'999'999) / 400'000'000);
  // A new low of remaining at a much lower rate: the raw estimate would jump up; it may not.
  ASSERT_EQ(Apply("sim-1", Report(m, 105, 3 * kGiB, 50'000'000)), 1);
  EXPECT_LE(Find(m.uuid).eta_seconds.value_or(-1), first);
  // Remaining grows (the guest dirties faster than the copy): not converging, the raw estimate.
  ASSERT_EQ(Apply("sim-1", Report(m, 110, 3 * kGiB + kGiB / 2, 50'000'000)), 1);
  EXPECT_EQ(Find(m.uuid).eta_seconds, (3 * kGiB + kGiB / 2 + 49'999'999) / 50'000'000);
}

TEST_F(LiveMigrationsStoreTest, AReportIsAHotUpdateThatLeavesUpdatedAtAlone) {
  auto m = Insert("running");
  const auto before = Find(m.uuid).updated_at;
  // A few reports: each new row version must fit the page for its update to be HOT, and old
  // versions are pruned only once no transaction of the cluster (other tests run beside this
  // one) can see them, so twenty could fill the page whatever the statement does.
  for (int i = 0; i < 5; ++i)
    ASSERT_EQ(Apply("sim-1", Report(m, 100 + i, 4 * kGiB - i * kGiB / 32, 100'000'000)), 1);
  EXPECT_EQ(Find(m.uuid).updated_at, before) << "changes-since follows status changes, not reports";
  // The row's current version is a heap-only tuple exactly when the update that made it was
  // HOT (pg_stat counters would only arrive asynchronously).
  pqxx::connection c(schema_->dsn());
  pqxx::work w(c);
  w.exec("CREATE EXTENSION IF NOT EXISTS pageinspect");
  const auto row = w.exec_params1(
      "SELECT (t_infomask2 & 32768) <> 0 FROM migrations m, "
      "LATERAL heap_page_items(get_raw_page('migrations', (m.ctid::text::point)[0]::int)) "
      "WHERE m.uuid = $1::uuid AND lp = (m.ctid::text::point)[1]::int",
      m.uuid);
  EXPECT_TRUE(row[0].as<bool>()) << "HEAP_ONLY_TUPLE: no index was written";
}

TEST_F(LiveMigrationsStoreTest, WritesAreFencedByTheLeaseAndTheStateVersion) {
  auto m = Insert("preparing", "ctl-a");
  auto mine = Find(m.uuid);
  auto theirs = mine;
  mine.step = LiveStep::kCopying;
  bool saved = true;
  db_->Transact([&](Tx& tx) { saved = SaveLiveMigration(tx, theirs, "ctl-b", std::nullopt); });
  EXPECT_FALSE(saved) << "not the lease owner";
  db_->Transact([&](Tx& tx) { saved = SaveLiveMigration(tx, mine, "ctl-a", std::nullopt); });
  EXPECT_TRUE(saved);
  auto stale = Find(m.uuid);
  stale.state_version -= 1;
  db_->Transact([&](Tx& tx) { saved = SaveLiveMigration(tx, stale, "ctl-a", std::nullopt); });
  EXPECT_FALSE(saved) << "someone moved it on since this copy was read";
}

// The move engine's retry budget counts failures at one status: a save that keeps the status
// keeps the count, a status change starts it over.
TEST_F(LiveMigrationsStoreTest, AStatusChangeResetsTheStepFailureCount) {
  auto m = Insert("preparing", "ctl-a");
  auto failures = [&] {
    std::optional<StepFailures> n;
    db_->Transact([&](Tx& tx) { n = RecordStepFailure(tx, m.uuid, "ctl-a", "boom"); });
    return n ? n->count : -1;
  };
  EXPECT_EQ(failures(), 1);
  auto same = Find(m.uuid);
  same.step = LiveStep::kPreparingDestination;
  db_->Transact([&](Tx& tx) { ASSERT_TRUE(SaveLiveMigration(tx, same, "ctl-a", std::nullopt)); });
  EXPECT_EQ(failures(), 2) << "the same status keeps counting";
  auto next = Find(m.uuid);
  next.status = MigrationStatus::kRunning;
  db_->Transact([&](Tx& tx) { ASSERT_TRUE(SaveLiveMigration(tx, next, "ctl-a", std::nullopt)); });
  EXPECT_EQ(failures(), 1) << "a new status starts over";
}

TEST_F(LiveMigrationsStoreTest, LeasesAreTakenOverOnlyOnceExpiredAndRenewedAtHalfLife) {
  auto live = Insert("running", "ctl-a", "u1", seconds(30));
  auto expired = Insert("running", "ctl-a", "u1", seconds(30));
  {
    pqxx::connection c(schema_->dsn());
    pqxx::work w(c);
    w.exec_params(
        "UPDATE migrations SET lease_until = now() - interval '1 second' WHERE uuid = $1::uuid",
        expired.uuid);
    w.commit();
  }
  std::vector<MoveRef> taken;
  db_->Transact([&](Tx& tx) { taken = AcquireLeases(tx, "ctl-b", seconds(30), kLive, 100); });
  EXPECT_EQ(taken, Refs({expired.uuid}));
  EXPECT_EQ(Find(live.uuid).lease_owner, "ctl-a");

  // A fresh lease is reported as ours but not rewritten; one past half its length is.
  const auto fresh_until = Find(live.uuid).lease_until;
  std::vector<MoveRef> renewed;
  db_->Transact([&](Tx& tx) { renewed = RenewLeases(tx, "ctl-a", seconds(30), kLive); });
  EXPECT_EQ(renewed, Refs({live.uuid}));
  EXPECT_EQ(Find(live.uuid).lease_until, fresh_until);
  db_->Transact([&](Tx& tx) { renewed = RenewLeases(tx, "ctl-a", seconds(70), kLive); });
  EXPECT_GT(Find(live.uuid).lease_until.value(), fresh_until.value());
}

// Review M2: the fencing token agents check. A new migration is epoch 1; renewals keep it; a
// takeover raises it; the old owner's re-check before it sends fails from then on.
TEST_F(LiveMigrationsStoreTest, ATakeoverStartsANewLeaseEpochAndTheOldOwnerSeesItsLeaseGone) {
  auto m = Insert("running", "ctl-a", "u1", seconds(30));
  EXPECT_EQ(m.lease_epoch, 1);
  EXPECT_EQ(Find(m.uuid).lease_epoch, 1);
  auto held = [&](const std::string& owner, int64_t epoch) {
    bool out = false;
    db_->Transact([&](Tx& tx) { out = LeaseStillHeld(tx, m.uuid, owner, epoch); });
    return out;
  };
  EXPECT_TRUE(held("ctl-a", 1));
  EXPECT_FALSE(held("ctl-b", 1)) << "not the owner";

  db_->Transact(
      [&](Tx& tx) { RenewLeases(tx, "ctl-a", seconds(70), kLive); });  // rewritten (past half)
  EXPECT_EQ(Find(m.uuid).lease_epoch, 1) << "a renewal by the same owner keeps the epoch";

  auto expire = [&] {
    pqxx::connection c(schema_->dsn());
    pqxx::work w(c);
    w.exec_params(
        "UPDATE migrations SET lease_until = now() - interval '1 second' WHERE uuid = $1::uuid",
        m.uuid);
    w.commit();
  };
  expire();
  EXPECT_FALSE(held("ctl-a", 1)) << "lapsed by PostgreSQL's clock, even before anyone took it";
  std::vector<MoveRef> taken;
  db_->Transact([&](Tx& tx) { taken = AcquireLeases(tx, "ctl-b", seconds(30), kLive, 100); });
  ASSERT_EQ(taken, Refs({m.uuid}));
  auto now = Find(m.uuid);
  EXPECT_EQ(now.lease_owner, "ctl-b");
  EXPECT_EQ(now.lease_epoch, 2);
  EXPECT_TRUE(held("ctl-b", 2));
  EXPECT_FALSE(held("ctl-a", 1));
  EXPECT_FALSE(held("ctl-b", 1)) << "an older epoch of the same owner is not this lease";

  // Released, then taken again (by anyone, its former owner too): a new epoch each time.
  db_->Transact([&](Tx& tx) { ReleaseLease(tx, m.uuid, "ctl-b"); });
  db_->Transact([&](Tx& tx) { taken = AcquireLeases(tx, "ctl-b", seconds(30), kLive, 100); });
  ASSERT_EQ(taken, Refs({m.uuid}));
  EXPECT_EQ(Find(m.uuid).lease_epoch, 3);
  EXPECT_FALSE(held("ctl-b", 2));
}

TEST_F(LiveMigrationsStoreTest, QueuedMigrationsTakeTurnsAcrossRequesters) {
  auto a1 = Insert("queued", "ctl-a", "alice");
  auto a2 = Insert("queued", "ctl-a", "alice");
  auto a3 = Insert("queued", "ctl-a", "alice");
  auto b1 = Insert("queued", "ctl-a", "bob");
  std::map<std::string, int> positions;
  db_->Transact([&](Tx& tx) { positions = QueuePositions(tx); });
  EXPECT_EQ(positions[a1.uuid], 1);
  EXPECT_EQ(positions[b1.uuid], 2) << "bob's first before alice's second";
  EXPECT_EQ(positions[a2.uuid], 3);
  EXPECT_EQ(positions[a3.uuid], 4);
}

// A drain's move is its drain's from its insert on, not its user's for a moment: the drain takes
// its own turn, whoever started it.
TEST_F(LiveMigrationsStoreTest, ADrainsMoveTakesItsDrainsTurnFromItsInsert) {
  const std::string drain = "11111111-1111-4111-8111-111111111111";
  auto a1 = Insert("queued", "ctl-a", "alice");
  auto a2 = Insert("queued", "ctl-a", "alice");
  auto d1 = Insert("queued", "ctl-a", "alice", seconds(30), drain);
  EXPECT_EQ(Sql("SELECT drain_uuid::text FROM migrations WHERE uuid = $1::uuid", d1.uuid)[0][0]
                .as<std::string>(),
            drain);
  std::map<std::string, int> positions;
  db_->Transact([&](Tx& tx) { positions = QueuePositions(tx); });
  EXPECT_EQ(positions[a1.uuid], 1);
  EXPECT_EQ(positions[d1.uuid], 2) << "the drain's first before alice's second";
  EXPECT_EQ(positions[a2.uuid], 3);
}

}  // namespace
}  // namespace ferry::controller::store
