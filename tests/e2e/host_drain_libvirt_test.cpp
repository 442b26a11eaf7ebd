// Host drains and evacuation of real QEMU guests through the whole stack (see libvirt_e2e.hpp):
//   - a drain of kvm-1 with three running guests, one of them disk-backed (its local root disk
//     goes by block migration): the plan first (a dry run that changes nothing), then the drain,
//     which runs that plan: every guest keeps running, the same boot, on kvm-2 only, and the
//     disk's data arrives there;
//   - kvm-1 dies (its agent killed with SIGKILL, its guest gone with the host) and an admin
//     forces it down: Nova's evacuate rebuilds the shared-storage guest on kvm-2 from the very
//     same file; when kvm-1's agent returns it is told of the evacuation, removes its stale copy
//     and leaves the shared disk alone, and the guest runs exactly once, on kvm-2.
#include <filesystem>

#include "tests/e2e/libvirt_e2e.hpp"

namespace ferry::testing {
namespace {

const std::vector<std::string> kLink = {"--live-migration-bandwidth", "32"};
const std::string kGuest = "dirty_mbps=2";

class HostDrainLibvirt : public LibvirtE2E {
 protected:
  HttpResult PostDrain(const json& drain) {
    return lm_->stack->Admin().Post("/v2.1/ferry/drains", {{"drain", drain}});
  }
  json Drain(const std::string& id) {
    return lm_->stack->Admin().Get("/v2.1/ferry/drains/" + id).body["drain"];
  }
  std::string HostOf(const std::string& server) {
    return lm_->Server(server)["OS-EXT-SRV-ATTR:host"].get<std::string>();
  }
  // The testbed's copy of `name`'s data (16 MiB of 0x5a) read back from kvm-2's image.
  bool Kvm2ImageHoldsData(const std::string& name) {
    const std::string image = bed().ImagesDir("kvm-2") + "/" + name + ".qcow2";
    std::string out;
    if (FILE* p = popen(
            ("qemu-io -r -U -f qcow2 -c 'read -P 0x5a 0 16M' '" + image + "' 2>&1").c_str(), "r")) {
      char buf[512];
      while (fgets(buf, sizeof buf, p)) out += buf;
      if (pclose(p) != 0) return false;
    }
    return out.find("Pattern verification failed") == std::string::npos &&
           out.find("read ") != std::string::npos;
  }
  void SetForcedDown(const std::string& host, bool down) {
    auto admin = lm_->stack->Admin();
    admin.SetMicroversion("2.53");
    auto list = admin.Get("/v2.1/os-services?host=" + host).body["services"];
    ASSERT_EQ(list.size(), 1u) << list.dump();
    auto r =
        admin.Put("/v2.1/os-services/" + list[0]["id"].get<std::string>(), {{"forced_down", down}});
    ASSERT_EQ(r.status, 200) << r.raw;
  }
};

TEST_F(HostDrainLibvirt, DrainsKvm1WithThreeGuestsAsPlannedOneByBlockMigration) {
  Start(kLink, kGuest);
  const std::string disk_guest = "e2e-drain-disk";
  const auto disky = AdoptTestbedGuest(disk_guest, "--disk local --disk-mb 64 --disk-data-mb 16");
  const auto a = GuestOn("kvm-1", "e2e-drain-a", 4);
  const auto b = GuestOn("kvm-1", "e2e-drain-b", 4);
  const std::map<std::string, std::string> names = {
      {a, DomainName(a)}, {b, DomainName(b)}, {disky, disk_guest}};

  auto r = PostDrain({{"host", "kvm-1"}, {"dry_run", true}, {"max_parallel", 2}});
  ASSERT_EQ(r.status, 200) << r.raw;
  const json plan = r.body["drain"];
  std::fprintf(stderr, "plan: %s\n", plan.dump().c_str());
  EXPECT_EQ(plan["verdict"]["fits"], true) << plan.dump();
  ASSERT_EQ(plan["servers"].size(), 3u) << plan.dump();
  std::map<std::string, std::string> planned;
  for (const auto& s : plan["servers"]) {
    EXPECT_EQ(s["kind"], "live") << s.dump();
    ASSERT_TRUE(s["planned_destination"].is_string()) << s.dump();
    planned[s["server"]] = s["planned_destination"];
    // Every guest's RAM, and for the disk-backed one its disk too, is what the plan moves.
    EXPECT_GE(s["bytes"].get<int64_t>(), int64_t{128} << 20) << s.dump();
  }
  EXPECT_EQ(lm_->Count("SELECT count(*) FROM migrations"), 0) << "the dry run moved something";
  EXPECT_EQ(lm_->Count("SELECT count(*) FROM drains"), 0) << "the dry run stored a drain";

  std::map<std::string, GuestTick> before;
  for (const auto& [id, name] : names) before[id] = bed().LastTick("kvm-1", name);
  r = PostDrain({{"host", "kvm-1"}, {"max_parallel", 2}});
  ASSERT_EQ(r.status, 202) << r.raw;
  const std::string drain = r.body["drain"]["id"];
  json d;
  ASSERT_TRUE(Stack::WaitFor(
      [&] {
        d = Drain(drain);
        return d["status"] != "running";
      },
      240s))
      << d.dump();
  std::fprintf(stderr, "drain: %s\n", d.dump().c_str());
  ASSERT_EQ(d["status"], "done") << d.dump();
  EXPECT_EQ(d["progress"]["moved"], 3) << d.dump();

  for (const auto& [id, name] : names) {
    SCOPED_TRACE(name);
    EXPECT_EQ(HostOf(id), planned[id]) << "nothing changed, so what ran is the plan";
    EXPECT_EQ(lm_->Server(id)["status"], "ACTIVE");
    EXPECT_EQ(lm_->ClaimHosts(id), std::set<std::string>{"kvm-2"});
    ExpectRunsOnlyOn("kvm-2", "kvm-1", name, before[id]);
  }
  EXPECT_EQ(lm_->Count("SELECT count(*) FROM migrations WHERE instance_uuid = '" + disky +
                       "' AND status = 'completed' AND disk_total >= 16 * 1048576"),
            1)
      << "the disk-backed guest went by block migration";
  EXPECT_EQ(lm_->Count("SELECT count(*) FROM migrations WHERE instance_uuid <> '" + disky +
                       "' AND status = 'completed' AND coalesce(disk_total, 0) = 0"),
            2)
      << "the diskless guests copied no disk";
  EXPECT_TRUE(Kvm2ImageHoldsData(disk_guest)) << "the disk's data arrived on kvm-2";
  EXPECT_TRUE(bed().Domains("kvm-1").empty()) << "kvm-1 is empty";
  EXPECT_EQ(lm_->Count("SELECT count(*) FROM hosts WHERE name = 'kvm-1' AND disabled AND "
                       "disabled_reason = 'drain " +
                       drain + "'"),
            1)
      << "the drained host stays out of scheduling until an admin enables it";
  EXPECT_EQ(lm_->LeakedClaims(), 0);
}

TEST_F(HostDrainLibvirt, AnEvacuatedSharedStorageGuestRunsOnceOnKvm2AfterKvm1Returns) {
  Start(kLink, kGuest);
  const std::string name = "e2e-evacuee";
  const auto id = AdoptTestbedGuest(name, "--disk shared --disk-mb 64 --disk-data-mb 16");
  ASSERT_EQ(lm_->Server(id)["ferry:storage_kind"], "shared");
  const std::string shared_disk = bed().SharedDir() + "/" + name + ".qcow2";
  ASSERT_TRUE(std::filesystem::exists(shared_disk)) << shared_disk;

  // kvm-1 dies: its agent with SIGKILL, its guest with it (the definition stays, as after a
  // power loss). An admin declares the host down.
  lm_->stack->KillAgent("kvm-1");
  int rc = 0;
  bed().Script("virsh kvm-1 destroy " + name + " >/dev/null 2>&1", &rc);
  ASSERT_EQ(rc, 0) << "destroying kvm-1's guest";
  const GuestTick last_on_kvm1 = bed().LastTick("kvm-1", name);
  SetForcedDown("kvm-1", true);

  auto admin = lm_->stack->Admin();
  admin.SetMicroversion("2.68");
  auto r = admin.Post("/v2.1/servers/" + id + "/action", {{"evacuate", json::object()}});
  ASSERT_EQ(r.status, 200) << r.raw;
  json m;
  ASSERT_TRUE(Stack::WaitFor(
      [&] {
        m = lm_->LatestMigration(id);
        return m.is_object() &&
               (m["status"] == "done" || m["status"] == "failed" || m["status"] == "error");
      },
      120s))
      << m.dump();
  ASSERT_EQ(m["status"], "done") << m.dump();
  EXPECT_EQ(m["migration_type"], "evacuation");
  EXPECT_EQ(m["dest_compute"], "kvm-2");
  auto server = lm_->Server(id);
  EXPECT_EQ(server["OS-EXT-SRV-ATTR:host"], "kvm-2");
  EXPECT_EQ(server["status"], "ACTIVE") << server.dump();
  // The rebuilt domain is named from the server's uuid (names never become hypervisor
  // identifiers), whatever the operator's old domain on kvm-1 was called.
  const std::string rebuilt = DomainName(id);
  ASSERT_TRUE(Stack::WaitFor([&] { return bed().LastTick("kvm-2", rebuilt).n >= 2; }, 90s))
      << "the rebuilt guest never ticked on kvm-2: " << bed().Script("virsh kvm-2 list --all");
  const GuestTick on_kvm2 = bed().LastTick("kvm-2", rebuilt);
  const std::string xml = bed().Script("virsh kvm-2 dumpxml " + rebuilt);
  EXPECT_NE(xml.find(shared_disk), std::string::npos)
      << "rebuilt from the very same shared file: " << xml;

  // kvm-1's agent returns (still forced down): it is told of the evacuation and removes its
  // stale copy; the evacuation completes and kvm-1's claim goes.
  RestartAgent("kvm-1", kGuest);
  ASSERT_TRUE(Stack::WaitFor(
      [&] {
        m = lm_->LatestMigration(id);
        return m["status"] == "completed";
      },
      60s))
      << m.dump();
  const auto left = bed().Domains("kvm-1");
  EXPECT_EQ(std::count(left.begin(), left.end(), name), 0) << "the stale copy stays on kvm-1";
  EXPECT_TRUE(std::filesystem::exists(shared_disk)) << "the shared disk was removed";
  EXPECT_EQ(lm_->ClaimHosts(id), std::set<std::string>{"kvm-2"});
  EXPECT_EQ(lm_->LeakedClaims(), 0);
  SetForcedDown("kvm-1", false);
  // Exactly once: running on kvm-2, ticking on, nothing on kvm-1.
  EXPECT_TRUE(bed().Running("kvm-2", rebuilt));
  EXPECT_TRUE(bed().TicksPast("kvm-2", rebuilt, on_kvm2, 30));
  const GuestTick stopped = bed().LastTick("kvm-1", name);
  std::this_thread::sleep_for(1500ms);
  EXPECT_EQ(bed().LastTick("kvm-1", name).n, stopped.n) << name << " ticks on kvm-1";
  EXPECT_EQ(stopped.n, last_on_kvm1.n) << "the stale copy on kvm-1 ran again";
  EXPECT_EQ(lm_->Server(id)["status"], "ACTIVE");
}

}  // namespace
}  // namespace ferry::testing
