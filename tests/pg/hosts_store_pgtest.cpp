// hosts_store against a real PostgreSQL: registration, admin settings surviving re-registration,
// heartbeats and liveness with explicit times, and the inventory of unmanaged domains.
#include <gtest/gtest.h>

#include <algorithm>
#include <pqxx/pqxx>

#include "common/uuid.hpp"
#include "controller/store/hosts_store.hpp"
#include "controller/store/servers_store.hpp"
#include "tests/pg/store_test.hpp"

namespace ferry::controller::store {
namespace {

using Strings = std::vector<std::string>;

HostRegistration Reg(const std::string& name) {
  HostRegistration r;
  r.name = name;
  r.cell = "cell1";
  r.hypervisor_type = "QEMU";
  r.hypervisor_version = 8002000;
  r.host_ip = "10.0.0.1";
  r.migration_address = "192.168.0.1";
  r.agent_url = "http://10.0.0.1:8780";
  r.vcpus = 8;
  r.memory_mb = 16384;
  r.local_gb = 200;
  r.cpu_info = {{"model", "Skylake"}};
  return r;
}

ReportedDomain Dom(const std::string& uuid, const std::string& name) {
  return ReportedDomain{uuid, name, 1, 512, 10, 1};
}

const std::string kA = "aaaaaaaa-0000-4000-8000-000000000001";
const std::string kB = "bbbbbbbb-0000-4000-8000-000000000002";
const std::string kC = "cccccccc-0000-4000-8000-000000000003";
const std::string kServer = "dddddddd-0000-4000-8000-000000000004";

class HostsStoreTest : public StoreTest {
 protected:
  Host Register(const HostRegistration& r, TimePoint at) {
    Host h;
    db_->Transact([&](Tx& tx) { h = RegisterHost(tx, r, at); });
    return h;
  }
  Host Get(const std::string& name) {
    std::optional<Host> h;
    db_->Transact([&](Tx& tx) {
      HostFilter f;
      f.name = name;
      h = FindHost(tx, f);
    });
    EXPECT_TRUE(h) << name;
    return h.value_or(Host{});
  }
  Strings Sync(int64_t host_id, const std::vector<ReportedDomain>& domains, TimePoint at) {
    Strings fresh;
    db_->Transact([&](Tx& tx) { fresh = SyncUnmanagedDomains(tx, host_id, domains, at); });
    std::sort(fresh.begin(), fresh.end());
    return fresh;
  }
  std::vector<UnmanagedDomain> Unmanaged() {
    std::vector<UnmanagedDomain> all;
    db_->Transact([&](Tx& tx) { all = ListUnmanagedDomains(tx); });
    return all;
  }
  Strings UnmanagedUuids(int64_t host_id) {
    Strings out;
    for (const auto& d : Unmanaged()) {
      if (d.host_id == host_id) out.push_back(d.uuid);
    }
    std::sort(out.begin(), out.end());
    return out;
  }
  void Exec(const std::string& sql) {
    pqxx::connection c(schema_->dsn());
    pqxx::work w(c);
    w.exec(sql);
    w.commit();
  }
  int64_t Count(const std::string& sql) {
    pqxx::connection c(schema_->dsn());
    pqxx::work w(c);
    return w.exec(sql)[0][0].as<int64_t>();
  }
};

TEST_F(HostsStoreTest, RegisterHostCreatesAnUpHostWithNovaDefaults) {
  auto h = Register(Reg("compute-1"), T(0));
  EXPECT_GT(h.id, 0);
  EXPECT_TRUE(IsUuid(h.service_uuid));
  EXPECT_TRUE(IsUuid(h.node_uuid));
  EXPECT_NE(h.service_uuid, h.node_uuid);
  EXPECT_EQ(h.name, "compute-1");
  EXPECT_EQ(h.hypervisor_type, "QEMU");
  EXPECT_EQ(h.hypervisor_version, 8002000);
  EXPECT_EQ(h.agent_url, "http://10.0.0.1:8780");
  EXPECT_EQ(h.migration_address, "192.168.0.1");
  EXPECT_EQ(h.state, "up");
  EXPECT_TRUE(h.IsUp());
  ASSERT_TRUE(h.last_heartbeat_at);  // PostgreSQL's now(), not the controller's clock (T(0))
  EXPECT_EQ(Count("SELECT count(*) FROM hosts WHERE last_heartbeat_at = now()"), 0)
      << "written by the registering transaction, which has ended";
  EXPECT_EQ(
      Count("SELECT count(*) FROM hosts WHERE last_heartbeat_at > now() - interval '1 minute'"), 1);
  EXPECT_FALSE(h.disabled);
  EXPECT_FALSE(h.disabled_reason);
  EXPECT_FALSE(h.forced_down);
  EXPECT_EQ(h.vcpus, 8);
  EXPECT_EQ(h.memory_mb, 16384);
  EXPECT_EQ(h.local_gb, 200);
  EXPECT_EQ(h.cpu_allocation_ratio, 4.0);
  EXPECT_EQ(h.ram_allocation_ratio, 1.0);
  EXPECT_EQ(h.disk_allocation_ratio, 1.0);
  EXPECT_EQ(h.cpu_info["model"], "Skylake");
  EXPECT_EQ(h.availability_zone, kDefaultAvailabilityZone);
  EXPECT_EQ(h.vcpus_used, 0);
  EXPECT_EQ(h.running_vms, 0);
}

TEST_F(HostsStoreTest, ReRegisteringUpdatesInventoryButKeepsAdminSettings) {
  auto first = Register(Reg("compute-1"), T(0));
  db_->Transact([&](Tx& tx) {
    ServiceUpdate u;
    u.disabled = true;
    u.disabled_reason = std::optional<std::string>("maintenance");
    u.forced_down = true;
    UpdateService(tx, first.id, u, T(5));
  });
  Exec(
      "UPDATE hosts SET cpu_allocation_ratio = 2.0, ram_allocation_ratio = 1.5, "
      "reserved_host_memory_mb = 512");
  auto reg = Reg("compute-1");
  reg.vcpus = 16;
  reg.memory_mb = 32768;
  reg.hypervisor_version = 9000000;
  reg.agent_url = "http://10.0.0.99:8780";
  auto again = Register(reg, T(10));

  EXPECT_EQ(again.id, first.id);
  EXPECT_EQ(again.service_uuid, first.service_uuid);
  EXPECT_EQ(again.node_uuid, first.node_uuid);
  EXPECT_EQ(again.vcpus, 16);
  EXPECT_EQ(again.memory_mb, 32768);
  EXPECT_EQ(again.hypervisor_version, 9000000);
  EXPECT_EQ(again.agent_url, "http://10.0.0.99:8780");
  EXPECT_GE(again.last_heartbeat_at, first.last_heartbeat_at);
  EXPECT_EQ(again.state, "up");
  EXPECT_TRUE(again.disabled);
  EXPECT_EQ(again.disabled_reason, "maintenance");
  EXPECT_TRUE(again.forced_down);
  EXPECT_FALSE(again.IsUp()) << "forced_down wins over a fresh registration";
  EXPECT_EQ(again.cpu_allocation_ratio, 2.0);
  EXPECT_EQ(again.ram_allocation_ratio, 1.5);
  EXPECT_EQ(again.reserved_host_memory_mb, 512);
  EXPECT_EQ(Count("SELECT count(*) FROM hosts"), 1);
}

TEST_F(HostsStoreTest, UpdateServiceChangesOnlyWhatItNames) {
  auto h = Register(Reg("compute-1"), T(0));
  db_->Transact([&](Tx& tx) {
    ServiceUpdate u;
    u.disabled = true;
    u.disabled_reason = std::optional<std::string>("draining");
    UpdateService(tx, h.id, u, T(1));
  });
  db_->Transact([&](Tx& tx) {
    ServiceUpdate u;
    u.forced_down = true;
    UpdateService(tx, h.id, u, T(2));
  });
  auto got = Get("compute-1");
  EXPECT_TRUE(got.disabled);
  EXPECT_EQ(got.disabled_reason, "draining");
  EXPECT_TRUE(got.forced_down);
  EXPECT_EQ(got.updated_at, T(2));
  db_->Transact([&](Tx& tx) {
    ServiceUpdate u;
    u.disabled = false;
    u.disabled_reason = std::optional<std::string>();  // clear it
    UpdateService(tx, h.id, u, T(3));
  });
  got = Get("compute-1");
  EXPECT_FALSE(got.disabled);
  EXPECT_FALSE(got.disabled_reason);
  EXPECT_TRUE(got.forced_down);
}

TEST_F(HostsStoreTest, ReRegisteringReplacesTheHostsDatastoreLinks) {
  auto reg = Reg("compute-1");
  reg.datastores = {{"nfs-1", "shared", 1000, 500}, {"local-1", "local", 100, 50}};
  Register(reg, T(0));
  EXPECT_EQ(Count("SELECT count(*) FROM host_datastores"), 2);
  reg.datastores = {{"nfs-1", "shared", 1000, 400}};
  Register(reg, T(1));
  EXPECT_EQ(Count("SELECT count(*) FROM host_datastores"), 1);
  EXPECT_EQ(Count("SELECT free_gb FROM datastores WHERE name = 'nfs-1'"), 400);
}

TEST_F(HostsStoreTest, ListHostsFiltersByNamePatternAndIds) {
  auto a = Register(Reg("rack1-compute-1"), T(0));
  Register(Reg("rack1-compute-2"), T(0));
  Register(Reg("rack2-compute-1"), T(0));
  db_->Transact([&](Tx& tx) {
    HostFilter f;
    f.name_pattern = "rack1";
    EXPECT_EQ(ListHosts(tx, f).size(), 2u);
    f = {};
    f.service_uuid = a.service_uuid;
    auto by_service = ListHosts(tx, f);
    ASSERT_EQ(by_service.size(), 1u);
    EXPECT_EQ(by_service[0].name, "rack1-compute-1");
    f = {};
    f.node_uuid = a.node_uuid;
    EXPECT_EQ(ListHosts(tx, f).size(), 1u);
    EXPECT_EQ(ListHosts(tx).size(), 3u);
  });
}

// Silence is measured on PostgreSQL's clock: heartbeats are backdated in SQL, and the
// controller's time passed along only stamps updated_at.
TEST_F(HostsStoreTest, SilentHostsGoDownAndTheirNextHeartbeatReportsTheReturn) {
  Register(Reg("quiet"), T(0));
  Register(Reg("chatty"), T(0));
  Exec("UPDATE hosts SET last_heartbeat_at = now() - interval '100 seconds' WHERE name = 'quiet'");
  Exec("UPDATE hosts SET last_heartbeat_at = now() - interval '20 seconds' WHERE name = 'chatty'");
  Strings down;
  db_->Transact([&](Tx& tx) { down = MarkSilentHostsDown(tx, std::chrono::seconds(30), T(500)); });
  EXPECT_EQ(down, Strings{"quiet"});
  EXPECT_EQ(Get("quiet").state, "down");
  EXPECT_FALSE(Get("quiet").IsUp());
  EXPECT_EQ(Get("quiet").updated_at, T(500));
  EXPECT_EQ(Get("chatty").state, "up");

  std::optional<HeartbeatOutcome> back;
  db_->Transact([&](Tx& tx) { back = RecordHeartbeat(tx, "quiet"); });
  ASSERT_TRUE(back);
  EXPECT_EQ(back->host_id, Get("quiet").id);
  EXPECT_TRUE(back->was_down);
  EXPECT_EQ(Get("quiet").state, "up");
  EXPECT_EQ(Count("SELECT count(*) FROM hosts WHERE name = 'quiet' "
                  "AND last_heartbeat_at > now() - interval '10 seconds'"),
            1);

  std::optional<HeartbeatOutcome> again;
  db_->Transact([&](Tx& tx) { again = RecordHeartbeat(tx, "quiet"); });
  ASSERT_TRUE(again);
  EXPECT_FALSE(again->was_down);
}

TEST_F(HostsStoreTest, AlreadyDownHostsAreNotReportedAgain) {
  Register(Reg("quiet"), T(0));
  Exec("UPDATE hosts SET last_heartbeat_at = now() - interval '100 seconds'");
  Strings first, second;
  db_->Transact([&](Tx& tx) { first = MarkSilentHostsDown(tx, std::chrono::seconds(30), T(1)); });
  db_->Transact([&](Tx& tx) { second = MarkSilentHostsDown(tx, std::chrono::seconds(30), T(2)); });
  EXPECT_EQ(first, Strings{"quiet"});
  EXPECT_TRUE(second.empty());
}

// A controller whose clock is far ahead (or behind) changes nothing: only PostgreSQL's counts.
TEST_F(HostsStoreTest, TheControllersClockDoesNotDecideWhoIsSilent) {
  Register(Reg("fresh"), T(0));
  Strings down;
  db_->Transact(
      [&](Tx& tx) { down = MarkSilentHostsDown(tx, std::chrono::seconds(30), T(1'000'000'000)); });
  EXPECT_TRUE(down.empty());
}

TEST_F(HostsStoreTest, HeartbeatOfAnUnknownHostIsNullopt) {
  Register(Reg("known"), T(0));
  std::optional<HeartbeatOutcome> r;
  db_->Transact([&](Tx& tx) { r = RecordHeartbeat(tx, "stranger"); });
  EXPECT_FALSE(r);
  EXPECT_EQ(Count("SELECT count(*) FROM hosts"), 1);
}

TEST_F(HostsStoreTest, SyncRecordsUnknownDomainsAndReturnsThemAsNew) {
  auto h = Register(Reg("compute-1"), T(0));
  EXPECT_EQ(Sync(h.id, {Dom(kA, "a"), Dom(kB, "b")}, T(1)), (Strings{kA, kB}));
  auto all = Unmanaged();
  ASSERT_EQ(all.size(), 2u);
  EXPECT_EQ(all[0].host, "compute-1");
  EXPECT_EQ(all[0].host_id, h.id);
  EXPECT_EQ(all[0].uuid, kA);
  EXPECT_EQ(all[0].name, "a");
  EXPECT_EQ(all[0].vcpus, 1);
  EXPECT_EQ(all[0].memory_mb, 512);
  EXPECT_EQ(all[0].disk_gb, 10);
  EXPECT_EQ(all[0].power_state, 1);
  EXPECT_EQ(all[0].first_seen_at, T(1));
  // Last seen: the host's last heartbeat (rows are rewritten only on change), on PostgreSQL's
  // clock, which is later than the test's fixed times.
  EXPECT_GE(all[0].last_seen_at, T(1));
}

TEST_F(HostsStoreTest, SyncDoesNotRecordDomainsThatAreServers) {
  auto h = Register(Reg("compute-1"), T(0));
  db_->Transact([&](Tx& tx) {
    Server s;
    s.uuid = kServer;
    s.name = "managed";
    s.host_id = h.id;
    s.flavorid = "1";
    s.flavor_name = "m1.tiny";
    s.vcpus = 1;
    s.memory_mb = 512;
    s.root_gb = 1;
    s.vm_state = "active";
    s.storage_kind = "local";
    s.user_id = "u";
    s.project_id = "p";
    s.created_at = T(0);
    InsertServer(tx, s);
  });
  EXPECT_EQ(Sync(h.id, {Dom(kServer, "managed"), Dom(kA, "a")}, T(1)), Strings{kA});
  EXPECT_EQ(UnmanagedUuids(h.id), Strings{kA});
}

TEST_F(HostsStoreTest, SyncForgetsDomainsNoLongerReportedAndReturnsOnlyNewlySeen) {
  auto h = Register(Reg("compute-1"), T(0));
  Sync(h.id, {Dom(kA, "a"), Dom(kB, "b")}, T(1));
  auto renamed = Dom(kB, "b-renamed");
  renamed.power_state = 4;
  EXPECT_EQ(Sync(h.id, {renamed, Dom(kC, "c")}, T(2)), Strings{kC});
  EXPECT_EQ(UnmanagedUuids(h.id), (Strings{kB, kC}));
  std::optional<UnmanagedDomain> b;
  db_->Transact([&](Tx& tx) { b = FindUnmanagedDomain(tx, kB); });
  ASSERT_TRUE(b);
  EXPECT_EQ(b->name, "b-renamed");
  EXPECT_EQ(b->power_state, 4);
  EXPECT_EQ(b->first_seen_at, T(1));
  EXPECT_GE(b->last_seen_at, T(2));
  // Reporting the same set again is nothing new.
  EXPECT_TRUE(Sync(h.id, {renamed, Dom(kC, "c")}, T(3)).empty());
  // An empty report forgets them all.
  EXPECT_TRUE(Sync(h.id, {}, T(4)).empty());
  EXPECT_TRUE(UnmanagedUuids(h.id).empty());
}

TEST_F(HostsStoreTest, SyncOfOneHostLeavesOtherHostsDomainsAlone) {
  auto one = Register(Reg("compute-1"), T(0));
  auto two = Register(Reg("compute-2"), T(0));
  Sync(one.id, {Dom(kA, "a")}, T(1));
  Sync(two.id, {Dom(kB, "b")}, T(1));
  Sync(one.id, {}, T(2));
  EXPECT_TRUE(UnmanagedUuids(one.id).empty());
  EXPECT_EQ(UnmanagedUuids(two.id), Strings{kB});
}

// Agents may spell uuids in upper case (IsUuid accepts any case); the row must survive the
// "forget what was not reported" step of the same sync and not be reported new every time.
TEST_F(HostsStoreTest, SyncTreatsUuidsCaseInsensitively) {
  auto h = Register(Reg("compute-1"), T(0));
  std::string upper = "AAAAAAAA-0000-4000-8000-0000000000FF";
  std::string lower = "aaaaaaaa-0000-4000-8000-0000000000ff";
  EXPECT_EQ(Sync(h.id, {Dom(upper, "shouty")}, T(1)), Strings{upper});
  EXPECT_EQ(UnmanagedUuids(h.id), Strings{lower});
  EXPECT_TRUE(Sync(h.id, {Dom(upper, "shouty")}, T(2)).empty());
  EXPECT_EQ(UnmanagedUuids(h.id), Strings{lower});
}

TEST_F(HostsStoreTest, DeleteUnmanagedDomainRemovesOnlyThatDomain) {
  auto h = Register(Reg("compute-1"), T(0));
  Sync(h.id, {Dom(kA, "a"), Dom(kB, "b")}, T(1));
  db_->Transact([&](Tx& tx) { DeleteUnmanagedDomain(tx, h.id, kA); });
  EXPECT_EQ(UnmanagedUuids(h.id), Strings{kB});
  std::optional<UnmanagedDomain> gone;
  db_->Transact([&](Tx& tx) { gone = FindUnmanagedDomain(tx, kA); });
  EXPECT_FALSE(gone);
}

}  // namespace
}  // namespace ferry::controller::store
