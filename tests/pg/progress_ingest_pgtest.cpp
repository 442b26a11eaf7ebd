// Progress ingest against a real PostgreSQL (M6, M8): one agent's malformed report (a NUL) is
// refused alone while another agent's report in the same moment lands; a post waits a bounded
// time; only migrations a write updated are woken; and timeouts run on the receive time
// (PostgreSQL's clock), never on the agent's sample time.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <latch>
#include <limits>
#include <mutex>
#include <pqxx/pqxx>
#include <thread>

#include "common/errors.hpp"
#include "controller/live_migration/progress_ingest.hpp"
#include "controller/store/live_migrations_store.hpp"
#include "controller/store/progress_store.hpp"
#include "controller/store/tx.hpp"
#include "tests/pg/store_test.hpp"

namespace ferry::controller::store {
namespace {

using namespace std::chrono_literals;
using live_migration::ProgressIngest;
constexpr int64_t kGiB = 1LL << 30;

class ProgressIngestTest : public StoreTest {
 protected:
  // A running live migration `source` -> sim-9.
  LiveMigration Insert(const std::string& source) {
    LiveMigration m;
    m.uuid = Uuid();
    m.instance_uuid = Uuid();
    m.status = MigrationStatus::kRunning;
    m.source_compute = m.source_node = source;
    m.dest_compute = m.dest_node = "sim-9";
    m.user_id = "u1";
    m.project_id = "p1";
    m.memory_total = 4 * kGiB;
    db_->Transact([&](Tx& tx) {
      InsertLiveMigration(tx, m,
                          MigrationEvent{std::nullopt, MigrationStatus::kRunning, "requested",
                                         std::nullopt, "ctl", std::nullopt},
                          "ctl", std::chrono::seconds(30));
    });
    return m;
  }
  LiveMigration Find(const std::string& uuid) {
    std::optional<LiveMigration> m;
    db_->Transact([&](Tx& tx) { m = FindLiveMigration(tx, uuid); });
    return m.value_or(LiveMigration{});
  }
  static wire::MigrationProgressBatch Batch(const std::string& host, const LiveMigration& m,
                                            int64_t remaining, double sampled_at,
                                            const std::string& state = "running") {
    wire::LiveMigrationJob j;
    j.migration_uuid = m.uuid;
    j.domain_uuid = m.instance_uuid;
    j.state = state;
    j.memory_total = 4 * kGiB;
    j.memory_remaining = remaining;
    j.transfer_rate_bps = 100'000'000;
    j.sampled_at = sampled_at;
    wire::MigrationProgressBatch b;
    b.host = host;
    b.reports.push_back(j);
    return b;
  }
  static std::string Uuid() {
    static int n = 0;
    char buf[40];
    std::snprintf(buf, sizeof(buf), "00000000-0000-4000-8000-%012d", ++n);
    return buf;
  }
  static double Now() {
    return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch())
        .count();
  }
  double DbAgeSeconds(const std::string& column, const std::string& uuid) {
    pqxx::connection c(schema_->dsn());
    pqxx::work w(c);
    return w
        .exec1("SELECT extract(epoch from now() - " + column +
               ")::float8 FROM migrations WHERE uuid = '" + uuid + "'")[0]
        .as<double>();
  }
};

TEST_F(ProgressIngestTest, ANulFromOneHostIsRefusedAloneWhileAnotherHostsReportLands) {
  auto a = Insert("host-a");
  auto b = Insert("host-b");
  ProgressIngest ingest(*db_, [](const store::MoveRef&) {});
  ingest.Start();
  std::latch go(2);
  Errc a_code = Errc::kInternal;
  bool a_refused = false, b_ok = false;
  std::thread ta([&] {
    go.arrive_and_wait();
    try {
      ingest.Submit(Batch("host-a", a, kGiB, Now(), std::string("x\0", 2)));
    } catch (const Error& e) {
      a_refused = true;
      a_code = e.code();
    }
  });
  std::thread tb([&] {
    go.arrive_and_wait();
    ingest.Submit(Batch("host-b", b, 2 * kGiB, Now()));
    b_ok = true;
  });
  ta.join();
  tb.join();
  ingest.Stop();
  EXPECT_TRUE(a_refused);
  EXPECT_EQ(a_code, Errc::kBadRequest);
  EXPECT_TRUE(b_ok);
  EXPECT_EQ(Find(b.uuid).memory_remaining, 2 * kGiB);
  EXPECT_FALSE(Find(a.uuid).memory_remaining.has_value()) << "nothing of the refused post landed";
}

TEST_F(ProgressIngestTest, ControlCharactersInAnyTextFieldAreRefused) {
  auto m = Insert("host-a");
  for (int field = 0; field < 4; ++field) {
    auto batch = Batch("host-a", m, kGiB, Now());
    auto& r = batch.reports[0];
    std::string bad("x\x01", 2);
    if (field == 0) batch.host = bad;
    if (field == 1) r.phase = bad;
    if (field == 2) r.domain_uuid = bad;
    if (field == 3) r.error = std::string("boom\0", 5);
    EXPECT_THROW(ProgressIngest::Prepare(batch), Error) << field;
  }
  auto multi_line = Batch("host-a", m, kGiB, Now(), "failed");
  multi_line.reports[0].error = "libvirt said:\n\tno";
  EXPECT_NO_THROW(ProgressIngest::Prepare(multi_line));
}

// The table's constraints and the statement's arithmetic would refuse these, but only when the
// batch is written, failing every other agent's reports written with it: each is refused at
// the door (an unknown state, a sample time that is no time), dropped (an unknown phase: a
// newer agent may know more) or clamped (numbers past what the columns hold).
TEST_F(ProgressIngestTest, NoReportCanFailABatchSharedWithOtherAgents) {
  auto a = Insert("host-a");
  auto b = Insert("host-b");
  auto bad_state = Batch("host-a", a, kGiB, Now(), "exploded");
  EXPECT_THROW(ProgressIngest::Prepare(bad_state), Error);
  auto no_time = Batch("host-a", a, kGiB, Now());
  no_time.reports[0].sampled_at = 1e300;
  EXPECT_THROW(ProgressIngest::Prepare(no_time), Error);

  auto odd = Batch("host-a", a, kGiB, Now());
  odd.reports[0].phase = "warp";
  odd.reports[0].downtime_ms = 3'000'000'000LL;
  odd.reports[0].memory_remaining = std::numeric_limits<int64_t>::max();
  odd.reports[0].disk_remaining = std::numeric_limits<int64_t>::max();
  auto fine = Batch("host-b", b, kGiB, Now());
  fine.reports[0].phase = "postcopy";
  // Both in one statement, as concurrent posts are written.
  auto post = ProgressIngest::Prepare(odd);
  post.rows.Append(ProgressIngest::Prepare(fine).rows);
  int landed = 0;
  store::ProgressWriter writer(schema_->dsn());
  ASSERT_NO_THROW(landed = writer.Write(post.rows));
  EXPECT_EQ(landed, 2);
  EXPECT_EQ(Find(b.uuid).job_phase, wire::JobPhase::kPostcopy);
  EXPECT_EQ(Find(a.uuid).job_phase, std::nullopt) << "an unknown phase leaves the last one";
  EXPECT_EQ(Find(a.uuid).downtime_ms, std::numeric_limits<int32_t>::max());
}

TEST_F(ProgressIngestTest, APostWaitsABoundedTime) {
  auto m = Insert("host-a");
  ProgressIngest ingest(
      *db_, [](const store::MoveRef&) {}, 1, 300ms);  // never started: no writer
  auto start = std::chrono::steady_clock::now();
  try {
    ingest.Submit(Batch("host-a", m, kGiB, Now()));
    ADD_FAILURE() << "answered without a writer";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), Errc::kUnavailable);
  }
  EXPECT_LT(std::chrono::steady_clock::now() - start, 2s);
}

TEST_F(ProgressIngestTest, OnlyMigrationsTheWriteUpdatedAreWoken) {
  auto m = Insert("host-a");
  std::mutex mu;
  std::vector<std::string> woken;
  ProgressIngest ingest(*db_, [&](const store::MoveRef& move) {
    std::lock_guard lock(mu);
    EXPECT_EQ(move.type, "live-migration");
    woken.push_back(move.uuid);
  });
  ingest.Start();
  LiveMigration stranger = m;
  stranger.uuid = Uuid();  // no such migration
  ingest.Submit(Batch("host-a", stranger, 0, Now(), "completed"));
  ingest.Submit(Batch("host-x", m, 0, Now(), "completed"));  // not the source
  EXPECT_TRUE(woken.empty());
  ingest.Submit(Batch("host-a", m, 0, Now(), "completed"));
  ingest.Stop();
  ASSERT_EQ(woken.size(), 1u);
  EXPECT_EQ(woken[0], m.uuid);
}

// M8: an agent whose clock is 120 s behind. Its reports land, keep landing, and the times the
// controller's timeouts read are the receive times.
TEST_F(ProgressIngestTest, AnAgentClockBehindStillLandsAndTimeoutsUseReceiveTime) {
  auto m = Insert("host-a");
  ProgressIngest ingest(*db_, [](const store::MoveRef&) {});
  ingest.Start();
  const double behind = Now() - 120;
  ingest.Submit(Batch("host-a", m, 3 * kGiB, behind));
  EXPECT_LT(DbAgeSeconds("progress_at", m.uuid), 5.0);
  EXPECT_LT(DbAgeSeconds("lowest_remaining_at", m.uuid), 5.0);
  EXPECT_NEAR(DbAgeSeconds("sampled_at", m.uuid), 120.0, 5.0) << "the agent's time, for display";
  // A controller-made report (sampled_at 0: the "reports stopped" fallback) lands and does not
  // push the agent's later samples out.
  int landed = 0;
  auto made = Batch("host-a", m, 3 * kGiB, 0).reports[0];
  db_->Transact([&](Tx& tx) { landed = ApplyProgress(tx, "host-a", {made}); });
  EXPECT_EQ(landed, 1);
  ingest.Submit(Batch("host-a", m, 2 * kGiB, behind + 1));
  ingest.Stop();
  EXPECT_EQ(Find(m.uuid).memory_remaining, 2 * kGiB) << "progress keeps landing";
  EXPECT_NEAR(DbAgeSeconds("sampled_at", m.uuid), 119.0, 5.0);
}

}  // namespace
}  // namespace ferry::controller::store
