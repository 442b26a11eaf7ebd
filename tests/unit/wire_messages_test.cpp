// Controller <-> agent messages: every struct survives a JSON round trip field by field, and a
// message missing a required field is refused rather than read as zeros.
#include <gtest/gtest.h>

#include "api/wire/evacuation_messages.hpp"
#include "api/wire/live_migration_messages.hpp"
#include "api/wire/messages.hpp"

namespace ferry::wire {
namespace {

using nlohmann::json;

Domain SampleDomain(int n) {
  Domain d;
  d.uuid = "0000000" + std::to_string(n) + "-1111-4222-8333-444444444444";
  d.name = "instance-" + std::to_string(n);
  d.vcpus = 2 + n;
  d.memory_mb = 4096 + n;
  d.disk_gb = 40 + n;
  d.power_state = PowerState::kPaused;
  d.disks.push_back(
      Disk{"vda", "/var/lib/libvirt/images/i.qcow2", "local", 1073741824, "qcow2", ""});
  d.disks.push_back(Disk{"vdb", "/shared/volumes/v.qcow2", "volume", int64_t{1} << 40, "raw", ""});
  return d;
}

void ExpectSame(const Domain& a, const Domain& b) {
  EXPECT_EQ(a.uuid, b.uuid);
  EXPECT_EQ(a.name, b.name);
  EXPECT_EQ(a.vcpus, b.vcpus);
  EXPECT_EQ(a.memory_mb, b.memory_mb);
  EXPECT_EQ(a.disk_gb, b.disk_gb);
  EXPECT_EQ(a.power_state, b.power_state);
  ASSERT_EQ(a.disks.size(), b.disks.size());
  for (size_t i = 0; i < a.disks.size(); ++i) {
    EXPECT_EQ(a.disks[i].target, b.disks[i].target);
    EXPECT_EQ(a.disks[i].path, b.disks[i].path);
    EXPECT_EQ(a.disks[i].kind, b.disks[i].kind);
    EXPECT_EQ(a.disks[i].capacity_bytes, b.disks[i].capacity_bytes);
    EXPECT_EQ(a.disks[i].format, b.disks[i].format);
  }
}

void ExpectSame(const std::vector<Domain>& a, const std::vector<Domain>& b) {
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) ExpectSame(a[i], b[i]);
}

// Through text, as on the wire.
template <typename T>
T RoundTrip(const T& v) {
  return json::parse(json(v).dump()).get<T>();
}

// Every required key of `full`, removed one at a time, makes parsing throw.
template <typename T>
void ExpectEachRequiredKeyIsRequired(const json& full,
                                     std::initializer_list<const char*> required) {
  EXPECT_NO_THROW(full.get<T>());
  for (const char* key : required) {
    json missing = full;
    ASSERT_EQ(missing.erase(key), 1u) << key << " not in " << full.dump();
    EXPECT_THROW(missing.get<T>(), json::exception) << "without " << key;
  }
}

TEST(WirePowerState, NovaIntegersRoundTrip) {
  for (auto p : {PowerState::kNoState, PowerState::kRunning, PowerState::kPaused,
                 PowerState::kShutdown, PowerState::kCrashed, PowerState::kSuspended}) {
    EXPECT_EQ(RoundTrip(p), p);
  }
  EXPECT_EQ(json(PowerState::kRunning), json(1));
  EXPECT_EQ(json(PowerState::kShutdown), json(4));
  EXPECT_EQ(json(PowerState::kSuspended), json(7));
}

TEST(WireDomain, RoundTripsEveryField) {
  auto d = SampleDomain(1);
  ExpectSame(RoundTrip(d), d);
  auto j = json(d);
  EXPECT_EQ(j["power_state"], 3);
  EXPECT_EQ(j["memory_mb"], 4097);
}

TEST(WireDomain, UuidIsRequiredAndTheRestDefault) {
  ExpectEachRequiredKeyIsRequired<Domain>(json(SampleDomain(1)), {"uuid"});
  auto d = json{{"uuid", "u"}}.get<Domain>();
  EXPECT_EQ(d.name, "");
  EXPECT_EQ(d.vcpus, 0);
  EXPECT_EQ(d.memory_mb, 0);
  EXPECT_EQ(d.power_state, PowerState::kNoState);
  EXPECT_TRUE(d.disks.empty()) << "an agent older than disks sends none";
}

TEST(WireDisk, RoundTripsEveryFieldNeedsTheTargetAndDefaultsToLocal) {
  Disk d{"vdb", "nbd://10.0.0.1:10809/v", "volume", 5368709120, "raw", "nfs-1"};
  auto back = RoundTrip(d);
  EXPECT_EQ(back.datastore, "nfs-1");
  EXPECT_EQ(back.target, "vdb");
  EXPECT_EQ(back.path, "nbd://10.0.0.1:10809/v");
  EXPECT_EQ(back.kind, "volume");
  EXPECT_EQ(back.capacity_bytes, 5368709120);
  EXPECT_EQ(back.format, "raw");
  ExpectEachRequiredKeyIsRequired<Disk>(json(d), {"target"});
  auto minimal = json{{"target", "vda"}}.get<Disk>();
  EXPECT_EQ(minimal.kind, "local");
  EXPECT_EQ(minimal.capacity_bytes, 0);
  EXPECT_EQ(minimal.datastore, "") << "agents older than datastores name none";
}

TEST(WireDomain, WrongTypesAreRefused) {
  json j = SampleDomain(1);
  j["vcpus"] = "two";
  EXPECT_THROW(j.get<Domain>(), json::exception);
}

TEST(WireDomain, LargeMemoryIsNotTruncated) {
  auto d = SampleDomain(1);
  d.memory_mb = int64_t{1} << 40;
  EXPECT_EQ(RoundTrip(d).memory_mb, int64_t{1} << 40);
}

TEST(WireDatastore, RoundTripsEveryFieldAndNeedsNameAndKind) {
  Datastore d{"ds-1", "shared", 2000, 750};
  auto back = RoundTrip(d);
  EXPECT_EQ(back.name, "ds-1");
  EXPECT_EQ(back.kind, "shared");
  EXPECT_EQ(back.capacity_gb, 2000);
  EXPECT_EQ(back.free_gb, 750);
  ExpectEachRequiredKeyIsRequired<Datastore>(json(d), {"name", "kind"});
}

TEST(WireCpuInfo, RoundTripsEveryFieldAndEverythingIsOptional) {
  CpuInfo c{"x86_64", "Intel", "Skylake-Server", {"avx2", "vmx"}};
  auto back = RoundTrip(c);
  EXPECT_EQ(back.arch, "x86_64");
  EXPECT_EQ(back.vendor, "Intel");
  EXPECT_EQ(back.model, "Skylake-Server");
  EXPECT_EQ(back.features, (std::vector<std::string>{"avx2", "vmx"}));
  auto empty = json::object().get<CpuInfo>();
  EXPECT_TRUE(empty.features.empty());
  EXPECT_EQ(empty.model, "");
}

TEST(WireInventory, RoundTripsDomainsAndNeedsThem) {
  Inventory inv{{SampleDomain(1), SampleDomain(2)}};
  ExpectSame(RoundTrip(inv).domains, inv.domains);
  ExpectSame(RoundTrip(Inventory{}).domains, std::vector<Domain>{});
  ExpectEachRequiredKeyIsRequired<Inventory>(json(inv), {"domains"});
}

RegisterRequest SampleRegister() {
  RegisterRequest r;
  r.host = "compute-1";
  r.hypervisor_type = "QEMU";
  r.hypervisor_version = 8002000;
  r.simulated = true;
  r.cell = "cell7";
  r.host_ip = "10.0.0.1";
  r.migration_address = "192.168.50.1";
  r.command_url = "https://10.0.0.1:8780";
  r.vcpus = 64;
  r.memory_mb = 262144;
  r.local_gb = 1800;
  r.cpu = CpuInfo{"x86_64", "AMD", "EPYC", {"svm"}};
  r.datastores = {Datastore{"nfs-1", "shared", 10000, 5000}, Datastore{"local", "local", 500, 100}};
  r.domains = {SampleDomain(3)};
  return r;
}

TEST(WireRegisterRequest, RoundTripsEveryField) {
  auto r = SampleRegister();
  auto b = RoundTrip(r);
  EXPECT_EQ(b.host, r.host);
  EXPECT_EQ(b.hypervisor_type, r.hypervisor_type);
  EXPECT_EQ(b.hypervisor_version, r.hypervisor_version);
  EXPECT_EQ(b.simulated, true);
  EXPECT_EQ(b.cell, "cell7");
  EXPECT_EQ(b.host_ip, r.host_ip);
  EXPECT_EQ(b.migration_address, r.migration_address);
  EXPECT_EQ(b.command_url, r.command_url);
  EXPECT_EQ(b.vcpus, 64);
  EXPECT_EQ(b.memory_mb, 262144);
  EXPECT_EQ(b.local_gb, 1800);
  EXPECT_EQ(b.cpu.vendor, "AMD");
  EXPECT_EQ(b.cpu.features, std::vector<std::string>{"svm"});
  ASSERT_EQ(b.datastores.size(), 2u);
  EXPECT_EQ(b.datastores[1].name, "local");
  EXPECT_EQ(b.datastores[1].kind, "local");
  EXPECT_EQ(b.datastores[1].capacity_gb, 500);
  EXPECT_EQ(b.datastores[1].free_gb, 100);
  ExpectSame(b.domains, r.domains);
}

TEST(WireRegisterRequest, IdentityAndCapacityAreRequired) {
  ExpectEachRequiredKeyIsRequired<RegisterRequest>(
      json(SampleRegister()), {"host", "hypervisor_type", "hypervisor_version", "command_url",
                               "vcpus", "memory_mb", "local_gb"});
}

TEST(WireRegisterRequest, OptionalFieldsTakeTheirDefaults) {
  json j = json(SampleRegister());
  for (const char* k :
       {"simulated", "cell", "host_ip", "migration_address", "cpu", "datastores", "domains"}) {
    j.erase(k);
  }
  auto r = j.get<RegisterRequest>();
  EXPECT_FALSE(r.simulated);
  EXPECT_EQ(r.cell, "cell1");
  EXPECT_EQ(r.host_ip, "");
  EXPECT_EQ(r.migration_address, "");
  EXPECT_TRUE(r.cpu.features.empty());
  EXPECT_TRUE(r.datastores.empty());
  EXPECT_TRUE(r.domains.empty());
}

TEST(WireRegisterRequest, AMalformedNestedDomainIsRefused) {
  json j = json(SampleRegister());
  j["domains"][0].erase("uuid");
  EXPECT_THROW(j.get<RegisterRequest>(), json::exception);
}

TEST(WireRegisterResponse, RoundTripsAndNeedsBothFields) {
  RegisterResponse r{"5a1e0b5e-0000-4000-8000-000000000001", 10};
  auto b = RoundTrip(r);
  EXPECT_EQ(b.host_uuid, r.host_uuid);
  EXPECT_EQ(b.heartbeat_interval_s, 10);
  ExpectEachRequiredKeyIsRequired<RegisterResponse>(json(r), {"host_uuid", "heartbeat_interval_s"});
}

TEST(WireHeartbeat, RoundTripsAndNeedsHostAndDomains) {
  Heartbeat h{"compute-2", {SampleDomain(4), SampleDomain(5)}};
  auto b = RoundTrip(h);
  EXPECT_EQ(b.host, "compute-2");
  ExpectSame(b.domains, h.domains);
  ExpectEachRequiredKeyIsRequired<Heartbeat>(json(h), {"host", "domains"});
}

TEST(WireHeartbeatResponse, RoundTripsAndNeedsTheInterval) {
  HeartbeatResponse h{15};
  EXPECT_EQ(RoundTrip(h).heartbeat_interval_s, 15);
  ExpectEachRequiredKeyIsRequired<HeartbeatResponse>(json(h), {"heartbeat_interval_s"});
}

TEST(WireCommand, RoundTripsArgsVerbatimAndNeedsIdAndKind) {
  Command c{"srv:create:1", "create_domain", json(SampleDomain(6))};
  auto b = RoundTrip(c);
  EXPECT_EQ(b.id, "srv:create:1");
  EXPECT_EQ(b.kind, "create_domain");
  EXPECT_EQ(b.args, json(SampleDomain(6)));
  ExpectSame(b.args.get<Domain>(), SampleDomain(6));
  ExpectEachRequiredKeyIsRequired<Command>(json(c), {"id", "kind"});
  json no_args = json(c);
  no_args.erase("args");
  EXPECT_EQ(no_args.get<Command>().args, json::object());
}

TEST(WireCommand, CarriesALeaseFenceOnlyWhenSet) {
  Command plain{"srv:create:1", "create_domain", json(SampleDomain(6))};
  EXPECT_FALSE(json(plain).contains("fence")) << "older agents see the command they knew";
  EXPECT_FALSE(json(plain).get<Command>().fence);
  Command fenced{"m:finish:0", "finish_live_migration_destination", json::object(),
                 LeaseFence{"44444444-4444-4444-8444-444444444444", 3}};
  auto j = json(fenced);
  EXPECT_EQ(j["fence"],
            (json{{"migration_uuid", "44444444-4444-4444-8444-444444444444"}, {"lease_epoch", 3}}));
  auto back = j.get<Command>();
  ASSERT_TRUE(back.fence);
  EXPECT_EQ(back.fence->migration_uuid, fenced.fence->migration_uuid);
  EXPECT_EQ(back.fence->lease_epoch, 3);
  j["fence"]["lease_epoch"] = 1e300;
  EXPECT_THROW(j.get<Command>(), json::exception);
}

TEST(WireCommandResult, RoundTripsWithAndWithoutADomain) {
  CommandResult done{"srv:create:1", "done", "", SampleDomain(7), nullptr};
  auto b = RoundTrip(done);
  EXPECT_EQ(b.id, "srv:create:1");
  EXPECT_EQ(b.status, "done");
  EXPECT_EQ(b.error, "");
  ASSERT_TRUE(b.domain);
  ExpectSame(*b.domain, SampleDomain(7));

  CommandResult failed{"srv:delete:1", "failed", "domain not found", std::nullopt, nullptr};
  EXPECT_FALSE(json(failed).contains("domain"));
  auto f = RoundTrip(failed);
  EXPECT_EQ(f.status, "failed");
  EXPECT_EQ(f.error, "domain not found");
  EXPECT_FALSE(f.domain);

  json null_domain = json(failed);
  null_domain["domain"] = nullptr;
  EXPECT_FALSE(null_domain.get<CommandResult>().domain);
}

TEST(WireCommandResult, NeedsIdAndStatus) {
  CommandResult done{"srv:create:1", "done", "", SampleDomain(7), nullptr};
  ExpectEachRequiredKeyIsRequired<CommandResult>(json(done), {"id", "status"});
}

TEST(WireCommandResult, CarriesKindSpecificDataOnlyWhenSet) {
  CommandResult prepared{"m:prepare:1", "done", "", std::nullopt,
                         json{{"incoming_uri", "tcp:10.0.0.2:49152"}}};
  auto p = RoundTrip(prepared);
  EXPECT_EQ(p.data.at("incoming_uri"), "tcp:10.0.0.2:49152");
  CommandResult none{"m:check:1", "done", "", std::nullopt, nullptr};
  EXPECT_FALSE(json(none).contains("data"));
  EXPECT_TRUE(RoundTrip(none).data.is_null());
}

LiveMigrationSpec SampleSpec() {
  LiveMigrationSpec s;
  s.migration_uuid = "12341d4b-346a-40d0-83c6-5f4f6892b650";
  s.domain = SampleDomain(3);
  s.source_host = "compute1";
  s.dest_host = "compute2";
  s.dest_migration_address = "192.168.50.2";
  s.incoming_uri = "tcp:192.168.50.2:49152";
  s.block_migration = true;
  s.bandwidth_mibps = 800;
  s.max_downtime_ms = 700;
  s.downtime_steps = 7;
  s.downtime_delay_s = 30;
  s.permit_post_copy = true;
  s.permit_auto_converge = true;
  s.monitor_interval_s = 1;
  s.source_cpu = CpuInfo{"x86_64", "AMD", "EPYC-Rome", {"svm", "avx2"}};
  return s;
}

TEST(WireLiveMigrationSpec, RoundTripsEveryField) {
  LiveMigrationSpec b = RoundTrip(SampleSpec());
  LiveMigrationSpec a = SampleSpec();
  EXPECT_EQ(b.migration_uuid, a.migration_uuid);
  ExpectSame(b.domain, a.domain);
  EXPECT_EQ(b.source_host, a.source_host);
  EXPECT_EQ(b.dest_host, a.dest_host);
  EXPECT_EQ(b.dest_migration_address, a.dest_migration_address);
  EXPECT_EQ(b.incoming_uri, a.incoming_uri);
  EXPECT_EQ(b.block_migration, a.block_migration);
  EXPECT_EQ(b.bandwidth_mibps, a.bandwidth_mibps);
  EXPECT_EQ(b.max_downtime_ms, a.max_downtime_ms);
  EXPECT_EQ(b.downtime_steps, a.downtime_steps);
  EXPECT_EQ(b.downtime_delay_s, a.downtime_delay_s);
  EXPECT_EQ(b.permit_post_copy, a.permit_post_copy);
  EXPECT_EQ(b.permit_auto_converge, a.permit_auto_converge);
  EXPECT_EQ(b.monitor_interval_s, a.monitor_interval_s);
  EXPECT_EQ(b.source_cpu.model, a.source_cpu.model);
  EXPECT_EQ(b.source_cpu.vendor, a.source_cpu.vendor);
  EXPECT_EQ(b.source_cpu.features, a.source_cpu.features);
}

TEST(WireLiveMigrationSpec, NeedsMigrationAndDomainAndDefaultsTheRestLikeNova) {
  ExpectEachRequiredKeyIsRequired<LiveMigrationSpec>(json(SampleSpec()),
                                                     {"migration_uuid", "domain"});
  auto s = json{{"migration_uuid", "m"}, {"domain", SampleDomain(1)}}.get<LiveMigrationSpec>();
  EXPECT_EQ(s.max_downtime_ms, 500);
  EXPECT_EQ(s.downtime_steps, 10);
  EXPECT_EQ(s.downtime_delay_s, 75);
  EXPECT_EQ(s.monitor_interval_s, 5);
  EXPECT_FALSE(s.permit_post_copy);
  EXPECT_TRUE(s.incoming_uri.empty());
  EXPECT_TRUE(s.source_cpu.model.empty()) << "a controller older than source_cpu sends none";
}

TEST(WireLiveMigrationJob, RoundTripsEveryFieldInABatch) {
  LiveMigrationJob j;
  j.migration_uuid = "m1";
  j.domain_uuid = "d1";
  j.state = "running";
  j.phase = "postcopy";
  j.iteration = 4;
  j.memory_total = int64_t{64} << 30;  // beyond 32 bits
  j.memory_processed = 5;
  j.memory_remaining = 6;
  j.disk_total = 7;
  j.disk_processed = 8;
  j.disk_remaining = 9;
  j.transfer_rate_bps = 10;
  j.dirty_rate_bps = 11;
  j.downtime_ms = 12;
  j.throttle_percent = 30;
  j.error = "e";
  j.sampled_at = 1700000000.25;
  MigrationProgressBatch batch{"compute1", {j}};
  auto b = RoundTrip(batch);
  EXPECT_EQ(b.host, "compute1");
  ASSERT_EQ(b.reports.size(), 1u);
  const auto& r = b.reports[0];
  EXPECT_EQ(r.migration_uuid, "m1");
  EXPECT_EQ(r.domain_uuid, "d1");
  EXPECT_EQ(r.state, "running");
  EXPECT_EQ(r.phase, "postcopy");
  EXPECT_EQ(r.iteration, 4);
  EXPECT_EQ(r.memory_total, int64_t{64} << 30);
  EXPECT_EQ(r.memory_processed, 5);
  EXPECT_EQ(r.memory_remaining, 6);
  EXPECT_EQ(r.disk_total, 7);
  EXPECT_EQ(r.disk_processed, 8);
  EXPECT_EQ(r.disk_remaining, 9);
  EXPECT_EQ(r.transfer_rate_bps, 10);
  EXPECT_EQ(r.dirty_rate_bps, 11);
  EXPECT_EQ(r.downtime_ms, 12);
  EXPECT_EQ(r.throttle_percent, 30);
  EXPECT_EQ(r.error, "e");
  EXPECT_DOUBLE_EQ(r.sampled_at, 1700000000.25);
  ExpectEachRequiredKeyIsRequired<LiveMigrationJob>(json(j), {"migration_uuid", "state"});
  ExpectEachRequiredKeyIsRequired<MigrationProgressBatch>(json(batch), {"host", "reports"});
}

TEST(WireRegisterResponse, CarriesTheFencedDomainsAndAnOlderControllerSendsNone) {
  RegisterResponse r{
      "5a1e0b5e-0000-4000-8000-000000000001",
      10,
      {"00000001-1111-4222-8333-444444444444", "00000002-1111-4222-8333-444444444444"}};
  EXPECT_EQ(RoundTrip(r).fenced_domains, r.fenced_domains);
  json older = json(r);
  older.erase("fenced_domains");
  EXPECT_TRUE(older.get<RegisterResponse>().fenced_domains.empty());
}

TEST(WireHeartbeatResponse, CarriesTheFencedDomainsAndAnOlderControllerSendsNone) {
  HeartbeatResponse h{15, {"00000003-1111-4222-8333-444444444444"}};
  auto b = RoundTrip(h);
  EXPECT_EQ(b.heartbeat_interval_s, 15);
  EXPECT_EQ(b.fenced_domains, h.fenced_domains);
  const json older = {{"heartbeat_interval_s", 15}};
  EXPECT_TRUE(older.get<HeartbeatResponse>().fenced_domains.empty());
}

EvacuationSpec SampleEvacuation() {
  EvacuationSpec s;
  s.migration_uuid = "0b9c1d7e-22aa-4f3b-8c11-5e6d7f8a9b0c";
  s.domain = SampleDomain(7);
  s.domain.disks[0].kind = "shared";
  s.domain.disks[0].datastore = "/srv/shared";
  s.source_host = "kvm-1";
  s.dest_host = "kvm-2";
  s.rebuild_from_image = true;
  s.image_ref = "155d900f-4e14-4e4c-a73d-069cbf4541e6";
  s.power_on = false;
  s.delete_local_disks = true;
  return s;
}

TEST(WireEvacuationSpec, RoundTripsEveryField) {
  const EvacuationSpec a = SampleEvacuation();
  const EvacuationSpec b = RoundTrip(a);
  EXPECT_EQ(b.migration_uuid, a.migration_uuid);
  ExpectSame(b.domain, a.domain);
  EXPECT_EQ(b.domain.disks[0].datastore, "/srv/shared");
  EXPECT_EQ(b.source_host, a.source_host);
  EXPECT_EQ(b.dest_host, a.dest_host);
  EXPECT_EQ(b.rebuild_from_image, a.rebuild_from_image);
  EXPECT_EQ(b.image_ref, a.image_ref);
  EXPECT_EQ(b.power_on, a.power_on);
  EXPECT_EQ(b.delete_local_disks, a.delete_local_disks);
}

TEST(WireEvacuationSpec, NeedsMigrationAndDomainAndDefaultsTheRest) {
  ExpectEachRequiredKeyIsRequired<EvacuationSpec>(json(SampleEvacuation()),
                                                  {"migration_uuid", "domain"});
  auto s = json{{"migration_uuid", "m"}, {"domain", SampleDomain(1)}}.get<EvacuationSpec>();
  EXPECT_FALSE(s.rebuild_from_image);
  EXPECT_TRUE(s.power_on) << "an evacuated guest runs again unless told otherwise";
  EXPECT_FALSE(s.delete_local_disks) << "disks are deleted only when asked";
  EXPECT_TRUE(s.source_host.empty());
  json wrong = json(SampleEvacuation());
  wrong["power_on"] = "yes";
  EXPECT_THROW(wrong.get<EvacuationSpec>(), json::exception);
}

}  // namespace
}  // namespace ferry::wire
