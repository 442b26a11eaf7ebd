// inventory_store against a real PostgreSQL: a heartbeat's inventory costs a fixed number of
// statements whatever its size and rewrites only what changed; managed servers reported by
// another host (running twice) or missing from their own are flagged with an instance action,
// except while a move involving that host is under way; power states follow the hypervisor.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <pqxx/pqxx>

#include "common/errors.hpp"
#include "common/uuid.hpp"
#include "controller/conductor/host_registry.hpp"
#include "controller/store/instance_actions_store.hpp"
#include "controller/store/inventory_store.hpp"
#include "tests/pg/store_test.hpp"

namespace ferry::controller::store {
namespace {

using namespace std::chrono_literals;

constexpr auto kSettle = 20s;

ReportedDomain Dom(const std::string& uuid, int power_state = 1) {
  return ReportedDomain{uuid, "vm-" + uuid.substr(0, 8), 1, 512, 10, power_state};
}

class InventoryStoreTest : public StoreTest {
 protected:
  void SetUp() override {
    StoreTest::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    one_ = AddHost("compute-1");
    two_ = AddHost("compute-2");
  }
  pqxx::result Sql(const std::string& sql) {
    pqxx::connection c(schema_->dsn());
    pqxx::work w(c);
    auto r = w.exec(sql);
    w.commit();
    return r;
  }
  // An active, running server on `host_id`, last changed at T(0).
  std::string AddServer(int64_t host_id, const std::string& task_state = "") {
    std::string uuid = NewUuid();
    Sql("INSERT INTO servers (uuid, name, host_id, flavorid, flavor_name, vcpus, memory_mb, "
        "root_gb, vm_state, task_state, power_state, user_id, project_id, updated_at) VALUES ('" +
        uuid + "', 's', " + std::to_string(host_id) + ", '1', 'm1.tiny', 1, 512, 1, 'active', " +
        (task_state.empty() ? "NULL" : "'" + task_state + "'") +
        ", 1, 'u', 'p', to_timestamp(1700000000))");
    return uuid;
  }
  std::vector<MisplacedFlag> Misplaced(int64_t host, const std::vector<ReportedDomain>& d,
                                       TimePoint at) {
    std::vector<MisplacedFlag> out;
    db_->Transact([&](Tx& tx) { out = SyncMisplacedDomains(tx, host, d, at, kSettle); });
    return out;
  }
  std::vector<PowerStateChange> Power(int64_t host, const std::vector<ReportedDomain>& d,
                                      TimePoint at) {
    std::vector<PowerStateChange> out;
    db_->Transact([&](Tx& tx) { out = SyncPowerStates(tx, host, d, at, kSettle); });
    return out;
  }
  std::vector<MisplacedDomain> Listed() {
    std::vector<MisplacedDomain> out;
    db_->Transact([&](Tx& tx) { out = ListMisplacedDomains(tx); });
    return out;
  }
  std::vector<InstanceAction> Actions(const std::string& uuid) {
    std::vector<InstanceAction> out;
    InstanceActionFilter filter;
    filter.instance_uuid = uuid;
    db_->Transact([&](Tx& tx) { out = ListInstanceActions(tx, filter); });
    return out;
  }
  std::string ServerField(const std::string& uuid, const std::string& column) {
    return Sql("SELECT " + column + "::text FROM servers WHERE uuid = '" + uuid + "'")[0][0]
        .as<std::string>();
  }
  int64_t one_ = 0;
  int64_t two_ = 0;
};

// Statement-level triggers count the statements that reach unmanaged_domains: the old
// per-domain upsert fired one INSERT (and one UPDATE) statement per domain.
TEST_F(InventoryStoreTest, FiveThousandDomainsCostAsManyStatementsAsTen) {
  Sql(R"sql(
CREATE TABLE statement_count (op text);
CREATE FUNCTION count_statement() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN INSERT INTO statement_count VALUES (TG_OP); RETURN NULL; END; $$;
CREATE TRIGGER count_statements AFTER INSERT OR UPDATE OR DELETE ON unmanaged_domains
  FOR EACH STATEMENT EXECUTE FUNCTION count_statement();)sql");
  auto statements_for = [&](int n) {
    Sql("DELETE FROM statement_count");
    std::vector<wire::Domain> domains;
    for (int i = 0; i < n; ++i) {
      wire::Domain d;
      d.uuid = NewUuid();
      d.name = "vm-" + std::to_string(i);
      d.vcpus = 1;
      d.memory_mb = 512;
      d.power_state = wire::PowerState::kRunning;
      domains.push_back(d);
    }
    conductor::HostRegistry registry(*db_, DefaultClock(), 10s, n);
    wire::Heartbeat hb;
    hb.host = "compute-1";
    hb.domains = domains;
    auto start = std::chrono::steady_clock::now();
    registry.Heartbeat(hb);
    auto first = std::chrono::steady_clock::now() - start;
    start = std::chrono::steady_clock::now();
    registry.Heartbeat(hb);  // the same inventory again: the steady state every 10 s
    auto again = std::chrono::steady_clock::now() - start;
    std::printf("heartbeat with %d new domains: %lld ms; unchanged again: %lld ms\n", n,
                static_cast<long long>(
                    std::chrono::duration_cast<std::chrono::milliseconds>(first).count()),
                static_cast<long long>(
                    std::chrono::duration_cast<std::chrono::milliseconds>(again).count()));
    return Sql("SELECT count(*) FROM statement_count")[0][0].as<int64_t>();
  };
  int64_t ten = statements_for(10);
  int64_t five_thousand = statements_for(5000);
  EXPECT_EQ(five_thousand, ten);
  // Per heartbeat: one INSERT ... ON CONFLICT (fires INSERT and UPDATE) and one DELETE.
  EXPECT_LE(five_thousand, 2 * 3);
  EXPECT_EQ(Sql("SELECT count(*) FROM unmanaged_domains")[0][0].as<int64_t>(), 5000);
}

// A disk's text fields are stored (jsonb refuses NUL) and a datastore name ties a server to the
// hosts that see it: each is bounded and printable, else the report is refused (400) and
// nothing of it is kept.
TEST_F(InventoryStoreTest, ADiskFieldTooLongOrWithAControlCharacterIsRefused) {
  conductor::HostRegistry registry(*db_, DefaultClock(), 10s, 10);
  auto report = [&](const wire::Disk& disk) {
    wire::Domain d;
    d.uuid = NewUuid();
    d.name = "vm";
    d.power_state = wire::PowerState::kRunning;
    d.disks.push_back(disk);
    wire::Heartbeat hb;
    hb.host = "compute-1";
    hb.domains = {d};
    registry.Heartbeat(hb);
  };
  const wire::Disk fine{"vda", "/srv/shared/a.qcow2", "shared", 1, "qcow2", "/srv/shared"};
  EXPECT_NO_THROW(report(fine));
  for (int field = 0; field < 4; ++field) {
    for (const std::string& bad : {std::string(300, 'x') + std::string(4000, 'y'),
                                   std::string("nfs\0-1", 6), std::string("a\nb")}) {
      auto disk = fine;
      (field == 0   ? disk.target
       : field == 1 ? disk.path
       : field == 2 ? disk.format
                    : disk.datastore) = bad;
      try {
        report(disk);
        ADD_FAILURE() << "field " << field << " accepted " << bad.size() << " bytes";
      } catch (const Error& e) {
        EXPECT_EQ(e.code(), Errc::kBadRequest) << field << ": " << e.what();
      }
    }
  }
  EXPECT_EQ(Sql("SELECT count(*) FROM unmanaged_domains")[0][0].as<int64_t>(), 1)
      << "only the fine report's domain";
}

TEST_F(InventoryStoreTest, AnUnchangedInventoryRewritesNoRowAndAChangedDomainIsRewritten) {
  std::string a = NewUuid(), b = NewUuid();
  db_->Transact([&](Tx& tx) { SyncUnmanagedDomains(tx, one_, {Dom(a), Dom(b)}, T(1)); });
  auto versions = [&] {
    return Sql("SELECT string_agg(domain_uuid::text || '@' || xmin::text, ',' ORDER BY "
               "domain_uuid) "
               "FROM unmanaged_domains")[0][0]
        .as<std::string>();
  };
  std::string before = versions();
  db_->Transact([&](Tx& tx) { SyncUnmanagedDomains(tx, one_, {Dom(a), Dom(b)}, T(2)); });
  EXPECT_EQ(versions(), before);
  db_->Transact([&](Tx& tx) { SyncUnmanagedDomains(tx, one_, {Dom(a, 4), Dom(b)}, T(3)); });
  EXPECT_NE(versions(), before);
  EXPECT_EQ(Sql("SELECT power_state FROM unmanaged_domains WHERE domain_uuid = '" + a + "'")[0][0]
                .as<int>(),
            4);
}

TEST_F(InventoryStoreTest, ServerReportedByAnotherHostIsFlaggedOnceUntilThatHostStopsReportingIt) {
  std::string s = AddServer(one_);
  auto flags = Misplaced(two_, {Dom(s, 1)}, T(100));
  ASSERT_EQ(flags.size(), 1u);
  EXPECT_EQ(flags[0].server_uuid, s);
  EXPECT_EQ(flags[0].kind, "elsewhere");
  EXPECT_EQ(flags[0].recorded_host, "compute-1");
  EXPECT_TRUE(Misplaced(two_, {Dom(s, 1)}, T(110)).empty()) << "flagged again";
  auto listed = Listed();
  ASSERT_EQ(listed.size(), 1u);
  EXPECT_EQ(listed[0].host, "compute-2");
  EXPECT_EQ(listed[0].recorded_host, "compute-1");
  EXPECT_EQ(listed[0].power_state, 1);
  EXPECT_EQ(listed[0].first_seen_at, T(100));
  auto actions = Actions(s);
  ASSERT_EQ(actions.size(), 1u);
  EXPECT_EQ(actions[0].migration_type, "ferry-running-elsewhere");
  EXPECT_EQ(actions[0].status, "error");
  std::vector<InstanceActionEvent> events;
  db_->Transact([&](Tx& tx) { events = ListInstanceActionEvents(tx, actions[0].migration_id); });
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].actor, "compute-2");
  EXPECT_NE(events[0].reason.value_or("").find("recorded on compute-1"), std::string::npos);
  Misplaced(two_, {}, T(120));
  EXPECT_TRUE(Listed().empty());
  EXPECT_EQ(ServerField(s, "host_id"), std::to_string(one_)) << "nothing acted on";
}

TEST_F(InventoryStoreTest, AMoveUnderWayBetweenTheHostsIsNotAFalseFlag) {
  std::string s = AddServer(one_, "migrating");
  Sql("INSERT INTO migrations (uuid, instance_uuid, migration_type, status, source_compute, "
      "dest_compute) VALUES (gen_random_uuid(), '" +
      s +
      "', 'live-migration', 'running', "
      "'compute-1', 'compute-2')");
  EXPECT_TRUE(Misplaced(two_, {Dom(s, 3)}, T(100)).empty());
  EXPECT_TRUE(Misplaced(one_, {}, T(100)).empty());
  // Once it ended (and settled), a copy left on the other host is running twice.
  Sql("UPDATE migrations SET status = 'completed', updated_at = to_timestamp(1700000100)");
  Sql("UPDATE servers SET task_state = NULL");
  EXPECT_TRUE(Misplaced(two_, {Dom(s, 1)}, T(110)).empty()) << "within the settle time";
  EXPECT_EQ(Misplaced(two_, {Dom(s, 1)}, T(130)).size(), 1u);
}

TEST_F(InventoryStoreTest, ServerItsOwnHostNoLongerReportsIsFlaggedAndShowsNoState) {
  std::string s = AddServer(one_);
  std::string busy = AddServer(one_, "deleting");
  auto flags = Misplaced(one_, {}, T(100));
  ASSERT_EQ(flags.size(), 1u);
  EXPECT_EQ(flags[0].server_uuid, s);
  EXPECT_EQ(flags[0].kind, "missing");
  auto changes = Power(one_, {}, T(100));
  ASSERT_EQ(changes.size(), 1u);
  EXPECT_EQ(changes[0].new_power_state, 0);
  EXPECT_EQ(ServerField(s, "power_state"), "0");
  EXPECT_EQ(ServerField(s, "vm_state"), "active") << "Nova only logs NOSTATE; so do we";
  EXPECT_EQ(ServerField(busy, "power_state"), "1") << "a task in progress owns the state";
  EXPECT_EQ(Actions(s).size(), 1u);
  EXPECT_EQ(Actions(s)[0].migration_type, "ferry-domain-missing");
  // Reported again: the flag goes and the power state follows.
  Misplaced(one_, {Dom(s, 1), Dom(busy, 1)}, T(200));
  Power(one_, {Dom(s, 1), Dom(busy, 1)}, T(200));
  EXPECT_TRUE(Listed().empty());
  EXPECT_EQ(ServerField(s, "power_state"), "1");
}

TEST_F(InventoryStoreTest, RecentlyChangedServersAreNotJudgedByAnInventoryThatMayPredateTheChange) {
  std::string s = AddServer(one_);
  EXPECT_TRUE(Misplaced(one_, {}, T(10)).empty());
  EXPECT_TRUE(Power(one_, {}, T(10)).empty());
  EXPECT_EQ(ServerField(s, "power_state"), "1");
}

TEST_F(InventoryStoreTest, AGuestShutDownOutOfBandStopsTheServerRecordWithAnInstanceAction) {
  std::string s = AddServer(one_);
  auto changes = Power(one_, {Dom(s, 4)}, T(100));
  ASSERT_EQ(changes.size(), 1u);
  EXPECT_EQ(changes[0].old_vm_state, "active");
  EXPECT_EQ(changes[0].new_vm_state, "stopped");
  EXPECT_EQ(ServerField(s, "power_state"), "4");
  EXPECT_EQ(ServerField(s, "vm_state"), "stopped");
  auto actions = Actions(s);
  ASSERT_EQ(actions.size(), 1u);
  EXPECT_EQ(actions[0].migration_type, "stop");
  EXPECT_TRUE(Misplaced(one_, {Dom(s, 4)}, T(100)).empty()) << "shut off is not missing";
  // Paused out of band: power state follows, vm_state stays (Nova only logs this case).
  Sql("UPDATE servers SET vm_state = 'active', power_state = 1");
  Power(one_, {Dom(s, 3)}, T(200));
  EXPECT_EQ(ServerField(s, "power_state"), "3");
  EXPECT_EQ(ServerField(s, "vm_state"), "active");
}

}  // namespace
}  // namespace ferry::controller::store

namespace ferry::controller::store {
namespace {

// A drain's plan reads each server's local disks as its host reported them: summed, and bounded
// whatever an agent claims (a size past bigint, a string, a negative one), never an error that
// would stop the plan of the whole host.
TEST_F(InventoryStoreTest, ReportedLocalDiskBytesAreSummedAndBoundedWhateverTheAgentSays) {
  const auto plain = AddServer(one_);
  const auto huge = AddServer(one_);
  const auto unreported = AddServer(one_);
  Sql("UPDATE servers SET reported_disks = '[{\"kind\":\"local\",\"capacity_bytes\":1048576},"
      "{\"kind\":\"local\",\"capacity_bytes\":2097152},{\"kind\":\"shared\",\"capacity_bytes\":"
      "9}]' WHERE uuid = '" +
      plain + "'");
  Sql("UPDATE servers SET reported_disks = '[{\"kind\":\"local\",\"capacity_bytes\":"
      "99999999999999999999999999},{\"kind\":\"local\",\"capacity_bytes\":\"12\"},"
      "{\"kind\":\"local\",\"capacity_bytes\":-5}]' WHERE uuid = '" +
      huge + "'");
  std::map<std::string, int64_t> bytes;
  db_->Transact([&](Tx& tx) { bytes = ReportedLocalDiskBytes(tx, "compute-1"); });
  EXPECT_EQ(bytes.at(plain), 3 * 1048576) << "local disks only";
  EXPECT_EQ(bytes.at(huge), int64_t{1} << 62) << "bounded";
  EXPECT_EQ(bytes.count(unreported), 0u) << "never reported: the flavor's size is used";
}

}  // namespace
}  // namespace ferry::controller::store
