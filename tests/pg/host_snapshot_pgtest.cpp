// conductor::HostSnapshot on a real PostgreSQL: what a full load sees, that MarkDirty re-reads
// exactly the hosts whose claims changed, that Tick() finds what other controllers changed, and
// that the full reload catches released claims; and that placement re-reads a view that has
// nothing for the request before it reports no valid host.
#include <gtest/gtest.h>

#include <pqxx/pqxx>

#include "controller/conductor/host_snapshot.hpp"
#include "controller/conductor/server_placement.hpp"
#include "controller/store/aggregates_store.hpp"
#include "controller/store/claims_store.hpp"
#include "controller/store/hosts_store.hpp"
#include "tests/pg/store_test.hpp"

namespace ferry::controller {
namespace {

using conductor::HostSnapshot;
using store::Tx;

class HostSnapshotTest : public store::StoreTest {
 protected:
  void SetUp() override {
    StoreTest::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    snapshot_ = std::make_unique<HostSnapshot>(*db_, clock_);
  }

  void Sql(const std::string& statement) {
    pqxx::connection c(schema_->dsn());
    pqxx::work w(c);
    w.exec(statement);
    w.commit();
  }

  void Claim(const std::string& consumer, int64_t host_id, int64_t memory_mb) {
    db_->Transact([&](Tx& tx) {
      ASSERT_TRUE(store::ClaimIfFits(tx, consumer, host_id, {1, memory_mb, 0}));
    });
  }

  int64_t FreeRam(const std::string& host) {
    const auto* h = snapshot_->Current()->Find(host);
    EXPECT_NE(h, nullptr) << host;
    return h ? h->free_memory_mb : -1;
  }

  ManualClockForTest clock_{T(100)};
  std::unique_ptr<HostSnapshot> snapshot_;
};

TEST_F(HostSnapshotTest, FullLoadSeesCapacityZoneAggregatesDatastoresCpuAndMovesOfEveryKind) {
  store::HostRegistration r;
  r.name = "h1";
  r.cell = "cell2";
  r.hypervisor_type = "QEMU";
  r.hypervisor_version = 8002000;
  r.vcpus = 8;
  r.memory_mb = 16384;
  r.local_gb = 100;
  r.cpu_info = {{"arch", "x86_64"},
                {"vendor", "Intel"},
                {"model", "Skylake"},
                {"features", {"avx", "sse4.2"}}};
  r.datastores = {{"nfs-1", "shared", 1000, 500}, {"local-h1", "local", 100, 50}};
  int64_t h1 = 0;
  db_->Transact([&](Tx& tx) { h1 = store::RegisterHost(tx, r, T(0)).id; });
  AddHost("h2", {4, 4096, 10, store::HostAdminSettings{2.0, 1.5, 1.0, 512}});
  db_->Transact([&](Tx& tx) {
    auto agg = store::CreateAggregate(tx, "rack-1", std::string("az1"), T(1));
    store::AddAggregateHost(tx, agg.id, h1, T(1));
    store::SetAggregateMetadata(tx, agg.id, {{"disk", std::string("ssd, nvme")}}, T(1));
  });
  Claim("11111111-1111-1111-1111-111111111111", h1, 2048);
  Sql("INSERT INTO migrations (uuid, instance_uuid, migration_type, status, source_compute, "
      "dest_compute) VALUES (gen_random_uuid(), gen_random_uuid(), 'live-migration', 'running', "
      "'h2', 'h1'), (gen_random_uuid(), gen_random_uuid(), 'live-migration', 'completed', 'h2', "
      "'h1'), (gen_random_uuid(), gen_random_uuid(), 'migration', 'migrating', 'h2', 'h1'), "
      "(gen_random_uuid(), gen_random_uuid(), 'resize', 'confirmed', 'h2', 'h1')");

  auto index = snapshot_->Current();
  ASSERT_EQ(index->size(), 2u);
  const auto* a = index->Find("h1");
  ASSERT_NE(a, nullptr);
  EXPECT_EQ(a->id, h1);
  EXPECT_EQ(a->cell, "cell2");
  EXPECT_EQ(a->hypervisor_version, 8002000);
  EXPECT_TRUE(a->up);
  EXPECT_TRUE(a->enabled);
  EXPECT_EQ(a->availability_zone, "az1");
  EXPECT_EQ(a->free_memory_mb, 16384 - 2048);
  EXPECT_EQ(a->free_vcpus, 8 * 4 - 1);  // the schema's default cpu_allocation_ratio is 4.0
  EXPECT_EQ(a->cpu.vendor, "Intel");
  EXPECT_EQ(a->cpu.features, (std::set<std::string>{"avx", "sse4.2"}));
  EXPECT_EQ(a->aggregate_metadata.at("disk"), (std::set<std::string>{"nvme", "ssd"}));
  EXPECT_EQ(a->aggregate_metadata.at("availability_zone"), std::set<std::string>{"az1"});
  EXPECT_EQ(a->shared_datastores, std::set<std::string>{"nfs-1"});
  EXPECT_EQ(a->inbound_migrations, 2) << "moves of every kind under way count, finished ones not";
  EXPECT_EQ(a->outbound_migrations, 0);
  const auto* b = index->Find("h2");
  ASSERT_NE(b, nullptr);
  EXPECT_EQ(b->availability_zone, "nova");
  EXPECT_EQ(b->free_memory_mb, static_cast<int64_t>((4096 - 512) * 1.5));
  EXPECT_EQ(b->outbound_migrations, 2);
}

TEST_F(HostSnapshotTest, MarkDirtyRereadsOnlyThatHostAndOldReadersKeepTheirView) {
  const int64_t a = AddHost("a", {8, 8192, 100, std::nullopt});
  AddHost("b", {8, 8192, 100, std::nullopt});
  auto before = snapshot_->Current();
  Claim("22222222-2222-2222-2222-222222222222", a, 1024);
  EXPECT_EQ(FreeRam("a"), 8192) << "nothing re-read yet";
  snapshot_->MarkDirty(a);
  EXPECT_EQ(snapshot_->last_refresh_size(), 1u);
  EXPECT_EQ(FreeRam("a"), 8192 - 1024);
  EXPECT_EQ(FreeRam("b"), 8192);
  EXPECT_EQ(before->Find("a")->free_memory_mb, 8192) << "a published view never changes";
  EXPECT_NE(before.get(), snapshot_->Current().get());
}

TEST_F(HostSnapshotTest, TickFindsNewClaimsServiceChangesAndHostsComingBack) {
  const int64_t a = AddHost("a", {8, 8192, 100, std::nullopt});
  const int64_t b = AddHost("b", {8, 8192, 100, std::nullopt});
  AddHost("c", {8, 8192, 100, std::nullopt});
  snapshot_->Tick();  // first tick: full load
  ASSERT_EQ(snapshot_->Current()->size(), 3u);
  // Another controller claims on a and disables b; b is also marked down, then heartbeats.
  Claim("33333333-3333-3333-3333-333333333333", a, 4096);
  db_->Transact([&](Tx& tx) {
    store::ServiceUpdate u;
    u.disabled = true;
    // Controllers stamp updated_at with their own clock, which the watermark assumes is within
    // watermark_overlap of the database's: a real clock here, not the test's fixed one.
    store::UpdateService(tx, b, u, SystemClock().Now());
  });
  clock_.Advance(std::chrono::seconds(1));
  snapshot_->Tick();
  EXPECT_EQ(FreeRam("a"), 4096);
  EXPECT_FALSE(snapshot_->Current()->Find("b")->enabled);
  EXPECT_TRUE(snapshot_->Current()->Find("c")->up);

  Sql("UPDATE hosts SET state = 'down' WHERE name = 'c'");
  snapshot_->FullReload();
  EXPECT_FALSE(snapshot_->Current()->Find("c")->up);
  // A heartbeat brings c back without touching updated_at; Tick still sees it.
  db_->Transact([&](Tx& tx) { ASSERT_TRUE(store::RecordHeartbeat(tx, "c")); });
  clock_.Advance(std::chrono::seconds(1));
  snapshot_->Tick();
  EXPECT_TRUE(snapshot_->Current()->Find("c")->up);
}

TEST_F(HostSnapshotTest, TickRereadsOnlyChangedHosts) {
  for (int i = 0; i < 20; ++i) AddHost("h" + std::to_string(i), {8, 8192, 100, std::nullopt});
  snapshot_->Tick();
  // Registration wrote updated_at = T(0) (years ago by the database's clock): nothing changed.
  clock_.Advance(std::chrono::seconds(1));
  snapshot_->Tick();
  EXPECT_EQ(snapshot_->last_refresh_size(), 0u);
  const int64_t h7 = snapshot_->Current()->Find("h7")->id;
  Claim("44444444-4444-4444-4444-444444444444", h7, 100);
  snapshot_->Tick();
  EXPECT_EQ(snapshot_->last_refresh_size(), 1u);
  EXPECT_EQ(FreeRam("h7"), 8092);
}

TEST_F(HostSnapshotTest, FullReloadWhenDueCatchesReleasedClaimsAndDeletedHosts) {
  const int64_t a = AddHost("a", {8, 8192, 100, std::nullopt});
  AddHost("gone", {8, 8192, 100, std::nullopt});
  Claim("55555555-5555-5555-5555-555555555555", a, 4096);
  snapshot_->Tick();
  EXPECT_EQ(FreeRam("a"), 4096);
  db_->Transact([&](Tx& tx) { store::ReleaseClaims(tx, "55555555-5555-5555-5555-555555555555"); });
  Sql("DELETE FROM host_datastores WHERE host_id = (SELECT id FROM hosts WHERE name = 'gone');"
      "DELETE FROM hosts WHERE name = 'gone'");
  clock_.Advance(std::chrono::seconds(61));  // past full_reload_every (60 s)
  snapshot_->Tick();
  EXPECT_EQ(FreeRam("a"), 8192);
  EXPECT_EQ(snapshot_->Current()->Find("gone"), nullptr);
  EXPECT_EQ(snapshot_->Current()->size(), 1u);
}

TEST_F(HostSnapshotTest, PlacementSeesAHostThatRegisteredAfterTheLastRefresh) {
  snapshot_->Tick();  // loaded before any host exists, like a controller that just started
  ASSERT_EQ(snapshot_->Current()->size(), 0u);
  // The host registers (another thread of this controller, or another controller) and the API
  // shows it up at once; no tick has run since. A server created now must land there, not fail
  // with "No valid host" because the scheduler's view is milliseconds behind.
  store::HostRegistration r;
  r.name = "new";
  r.cell = "cell1";
  r.hypervisor_type = "QEMU";
  r.agent_url = "http://127.0.0.1:1";
  r.vcpus = 4;
  r.memory_mb = 4096;
  r.local_gb = 10;
  r.cpu_info = nlohmann::json::object();
  db_->Transact([&](Tx& tx) { store::RegisterHost(tx, r, SystemClock().Now()); });

  conductor::PlacementRequest request;
  request.consumer_uuid = "44444444-4444-4444-4444-444444444444";
  request.spec.vcpus = 1;
  request.spec.memory_mb = 512;
  const scheduler::Scheduler scheduler;
  conductor::Placement placement;
  db_->Transact([&](Tx& tx) { placement = PlaceAndClaim(tx, scheduler, *snapshot_, request); });
  ASSERT_TRUE(placement.host) << placement.failure;
  EXPECT_EQ(placement.host->name, "new");
}

}  // namespace
}  // namespace ferry::controller
