#pragma once
// The fixture of the end-to-end tests: REST API -> real controller and PostgreSQL -> two
// ferry-agent --driver libvirt processes -> the two libvirtds of deploy/testbed -> QEMU (TCG)
// guests that dirty memory and tick on their serial port. Each test gets its own controller
// (its policy in the command line), its own schema and its own agents; the testbed is shared by
// the tests of one process and left as it was found.
#include <gtest/gtest.h>

#include <set>
#include <thread>

#include "tests/support/libvirt_testbed.hpp"
#include "tests/support/live_migration_stack.hpp"

namespace ferry::testing {

class LibvirtE2E : public ::testing::Test {
 protected:
  static void TearDownTestSuite() { LibvirtTestbed::Shared().TearDown(); }

  void SetUp() override {
    FERRY_REQUIRE_TESTBED(bed());
    FERRY_REQUIRE_PG(dsn);
    dsn_ = dsn;
  }

  void TearDown() override {
    if (HasFailure() && lm_) {
      for (const char* h : {"kvm-1", "kvm-2"}) {
        std::cerr << "---- agent " << h << " log ----\n" << lm_->stack->AgentLog(h) << "\n";
      }
    }
    lm_.reset();  // agents and controller first, so nobody reports the guests going away
    bed().RemoveAllGuests();
  }

  static LibvirtTestbed& bed() { return LibvirtTestbed::Shared(); }

  // A controller with `policy` flags (on top of the fast monitor/lease settings) and both agents,
  // whose guests run with `guest_args`. Flavor "1": 1 vCPU, 128 MiB, no disk.
  void Start(std::vector<std::string> policy, const std::string& guest_args) {
    lm_ = std::make_unique<LiveMigrationStack>(dsn_, policy);
    lm_->StartHosts({{"kvm-1", bed().AgentArgs("kvm-1", guest_args)},
                     {"kvm-2", bed().AgentArgs("kvm-2", guest_args)}},
                    "libvirt");
    lm_->stack->EnsureFlavor("1", 1, 128, 0);
  }

  // The libvirt name (and serial file name) of a server ferry created: from its uuid, never
  // from its display name (agent/drivers/libvirt/libvirt_domain_xml.hpp).
  static std::string DomainName(const std::string& server_id) { return "ferry-" + server_id; }

  // A server named `name` created through the API on `host`, ACTIVE, whose guest has ticked
  // `ticks` times. Its domain on the host is DomainName(id).
  std::string GuestOn(const std::string& host, const std::string& name, int ticks) {
    auto id = lm_->ServerOn(host, name);
    GuestTick first;
    EXPECT_TRUE(Stack::WaitFor(
        [&] { return (first = bed().LastTick(host, DomainName(id))).n >= ticks; }, 90s))
        << name << " never ticked " << ticks << " times on " << host;
    return id;
  }

  // Defines and starts a testbed guest on kvm-1 (disk options as `libvirt-hosts guest define`
  // takes them, as an operator's existing VM), adopts it through the API as flavor "1" once it
  // is reported running, waits until it has ticked 4 times, and returns the server's uuid.
  std::string AdoptTestbedGuest(const std::string& name, const std::string& disk_options) {
    int status = 0;
    bed().Script("guest define " + name +
                     " --host kvm-1 --memory-mb 128 --dirty-mbps 4 --tick-ms 500 " + disk_options +
                     " >&2",
                 &status);
    EXPECT_EQ(status, 0) << "libvirt-hosts guest define failed";
    std::string uuid;
    auto admin = lm_->stack->Admin();
    EXPECT_TRUE(Stack::WaitFor(
        [&] {
          const nlohmann::json list =
              admin.Get("/v2.1/ferry/unmanaged-domains").body["unmanaged_domains"];
          for (const auto& d : list) {
            // Adopted as it is reported: wait until it runs (libvirt starts QEMU paused first).
            if (d["name"] == name && d["host"] == "kvm-1" && d["power_state"] == 1)
              uuid = d["uuid"].get<std::string>();
          }
          return !uuid.empty();
        },
        30s))
        << name << " never reported running as an unmanaged domain";
    auto r = admin.Post("/v2.1/ferry/unmanaged-domains/" + uuid + "/action",
                        {{"adopt", {{"flavorRef", "1"}}}});
    EXPECT_EQ(r.status, 202) << r.raw;
    auto s = lm_->stack->WaitServerSettled(uuid);
    EXPECT_EQ(s["status"], "ACTIVE") << s.dump();
    EXPECT_TRUE(Stack::WaitFor([&] { return bed().LastTick("kvm-1", name).n >= 4; }, 60s));
    return uuid;
  }

  // Restarts one agent with the same flags (a crashed agent's supervisor would).
  void RestartAgent(const std::string& host, const std::string& guest_args) {
    lm_->stack->StartAgent(host, bed().AgentArgs(host, guest_args), "libvirt");
  }

  // The server's in-progress migration as GET /servers/{id}/migrations shows it (2.80: with
  // the memory and disk counters), null when there is none.
  nlohmann::json InProgress(const std::string& server) {
    auto admin = lm_->stack->FerryAdmin();
    admin.SetMicroversion("2.80");
    auto list = admin.Get("/v2.1/servers/" + server + "/migrations").body["migrations"];
    return list.is_array() && !list.empty() ? list[0] : nlohmann::json();
  }

  // What the API showed of the server's live migration until it ended.
  struct Watched {
    std::set<std::string> statuses;
    std::vector<int64_t> processed;  // memory_processed_bytes while running, each new value
    nlohmann::json running;          // the last sample while running (servers/{id}/migrations)
    nlohmann::json last;             // the migration as os-migrations shows it at the end
    bool ended = false;
    std::string last_line;  // the last sample printed (each change is logged)
  };
  Watched WatchUntilTerminal(const std::string& server, std::chrono::seconds timeout,
                             const std::function<void(const nlohmann::json&)>& on_sample = {}) {
    Watched w;
    auto admin = lm_->stack->FerryAdmin();  // the samples print the migration's phase
    admin.SetMicroversion("2.80");
    w.ended = Stack::WaitFor(
        [&] {
          const nlohmann::json list =
              admin.Get("/v2.1/servers/" + server + "/migrations").body["migrations"];
          for (const auto& m : list) {
            const std::string line = m.value("status", "") + " " + m.value("phase", "") + " " +
                                     m["memory_processed_bytes"].dump() + "/" +
                                     m["memory_total_bytes"].dump();
            if (line != w.last_line) std::fprintf(stderr, "%s\n", (w.last_line = line).c_str());
            if (m["status"] == "running" && m["memory_processed_bytes"].is_number()) {
              auto p = m["memory_processed_bytes"].get<int64_t>();
              if (w.processed.empty() || w.processed.back() != p) w.processed.push_back(p);
              w.running = m;
            }
            if (on_sample) on_sample(m);
          }
          w.last = lm_->LatestMigration(server);
          if (!w.last.is_null()) w.statuses.insert(w.last["status"].get<std::string>());
          const std::string s = w.last.is_null() ? "" : w.last["status"].get<std::string>();
          return s == "completed" || s == "failed" || s == "error" || s == "cancelled";
        },
        timeout);
    return w;
  }

  // The guest ran on exactly one host at the end: `host` runs it (libvirt says so and its
  // heartbeat goes on past `before` with the same boot id, so RAM and CPU state carried over),
  // while `other` has no such domain and its serial log has stopped.
  void ExpectRunsOnlyOn(const std::string& host, const std::string& other, const std::string& name,
                        const GuestTick& before) {
    EXPECT_TRUE(bed().Running(host, name)) << name << " is not running on " << host;
    auto on_other = bed().Domains(other);
    EXPECT_EQ(std::count(on_other.begin(), on_other.end(), name), 0)
        << name << " still defined on " << other;
    EXPECT_TRUE(bed().TicksPast(host, name, before, 30))
        << name << " does not tick on " << host << " past tick " << before.n << " of boot "
        << before.boot;
    const GuestTick last = bed().LastTick(host, name);
    EXPECT_EQ(last.boot, before.boot) << "the guest rebooted instead of moving";
    GuestTick stopped = bed().LastTick(other, name);
    std::this_thread::sleep_for(1500ms);  // three heartbeat periods
    EXPECT_EQ(bed().LastTick(other, name).n, stopped.n) << name << " still ticks on " << other;
  }

  std::string dsn_;
  std::unique_ptr<LiveMigrationStack> lm_;
};

}  // namespace ferry::testing
