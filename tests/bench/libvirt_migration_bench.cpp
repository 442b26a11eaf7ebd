// Live migration of a real QEMU guest (issue 4, "Benchmark"): ferry end to end — REST
// os-migrateLive, controller and PostgreSQL, two ferry-agent --driver libvirt, libvirt p2p —
// against `virsh migrate` run directly inside the source host with the flags the driver used
// (--live --p2p --persistent --undefinesource --migrateuri tcp://<dest mig0> --bandwidth N, and
// --unsafe / --auto-converge / --postcopy / --copy-storage-all exactly when the driver's
// VIR_MIGRATE_* flags, read from the source agent's "libvirt: migrating ... (flags 0x..)" line of
// the ferry run just before, have them) at the same bandwidth, alternated run by run between the
// two hosts of deploy/testbed/libvirt-hosts.
//
// ferry's guest is a server created through the API; virsh moves its twin, defined from the
// domain XML the driver made for the server (another name and uuid), which ferry does not
// manage: the agents report it as an unmanaged domain and the controller never adopts it, so
// ferry's records stay true. Both run all along, so each run has the same neighbour.
//
// Per run: the wall time (ferry: from the API call until a poll every 100 ms sees the migration
// `completed`; virsh: the process's wall time) and libvirt's own job time (`Time elapsed` of
// the destination's completed job, which libvirt counts from the source job's start to the
// destination's finish). The controller's added latency is measured from the API call to the
// start of the libvirt job on the source as libvirt itself dates it: a sampler asks the source
// libvirtd (`virsh domjobinfo` over its UNIX socket, every 20 ms from the API call until the job
// shows up) and takes the sample's time minus the job's `Time elapsed` (within half a virsh
// call, ~10-30 ms). The same sampler on the virsh runs dates virsh's own start-up (exec,
// connect, lookup). The migration_events timestamps (accepted; running, committed just before
// the agent is told to start) and the source agent's log line just before it calls
// virDomainMigrateToURI3 show where ferry's time goes.
//
// Max downtime: the controller gets --live-migration-downtime 900 --live-migration-downtime-steps
// 3, whose first step (900 / 3 = 300 ms, the next one 150 s later) equals QEMU's default that virsh
// leaves in place, so both copies converge against the same target.
//
// Run (root): FERRY_TEST_PG_DIR=<deploy/pg dir> libvirt_migration_bench [alternations=5]
//             [bandwidth_mibps=8]
// FERRY_TESTBED_DIR / FERRY_TESTBED_NETNS_PREFIX choose the testbed instance. Exit 77 (ctest:
// skipped) without root, PostgreSQL or a testbed; under CI=true that is a failure (exit 1).
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <fstream>
#include <optional>
#include <pqxx/pqxx>
#include <regex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "tests/support/libvirt_testbed.hpp"
#include "tests/support/live_migration_stack.hpp"

namespace {

using ferry::testing::GuestTick;
using ferry::testing::LibvirtTestbed;
using ferry::testing::LiveMigrationStack;
using nlohmann::json;

constexpr int kSkip = 77;  // ctest SKIP_RETURN_CODE
// The e2e tests' converging guest: 4 MiB/s dirtied over a 32 MiB working set.
const std::string kGuestArgs = "dirty_mbps=4 wss_mib=32";
constexpr int kGuestMemoryMib = 128;
constexpr int kTicksBeforeFirstRun = 16;                 // 8 s at 500 ms: the working set is dirty
constexpr auto kPoll = std::chrono::milliseconds(100);   // how often the bench asks the API
constexpr auto kRunTimeout = std::chrono::seconds(180);  // far above a converging copy at 8 MiB/s
constexpr double kGoal = 1.05;                           // issue 4: ferry within 5 % of virsh

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// "2026-11-29T19:49:58.123Z" (common/log.cpp's pattern, UTC) -> epoch ms; -1 if not a stamp.
int64_t ParseLogStamp(const std::string& s) {
  std::tm tm{};
  int ms = 0;
  if (std::sscanf(s.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d.%3dZ", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
                  &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &ms) != 7) {
    return -1;
  }
  tm.tm_year -= 1900;
  tm.tm_mon -= 1;
  return static_cast<int64_t>(timegm(&tm)) * 1000 + ms;
}

// The time stamp of the last line of `log` that contains `needle`; -1 if none.
int64_t LastLineStamp(const std::string& log, const std::string& needle) {
  auto at = log.rfind(needle);
  if (at == std::string::npos) return -1;
  auto begin = log.rfind('\n', at);
  begin = begin == std::string::npos ? 0 : begin + 1;
  return ParseLogStamp(log.substr(begin, 24));
}

// The agent's "libvirt: migrating ... (flags 0x..." value; 0 if the line is not there.
unsigned long LoggedFlags(const std::string& log, const std::string& domain_uuid) {
  auto at = log.rfind("libvirt: migrating " + domain_uuid);
  if (at == std::string::npos) return 0;
  auto f = log.find("(flags 0x", at);
  if (f == std::string::npos || f > log.find('\n', at)) return 0;
  return std::stoul(log.substr(f + 9), nullptr, 16);
}

// virsh migrate options for virDomainMigrateToURI3 flags (libvirt-domain.h values).
std::string VirshFlags(unsigned long flags) {
  static const std::vector<std::pair<unsigned long, const char*>> kMap = {
      {1UL << 0, "--live"},
      {1UL << 1, "--p2p"},
      {1UL << 2, "--tunnelled"},
      {1UL << 3, "--persistent"},
      {1UL << 4, "--undefinesource"},
      {1UL << 5, "--suspend"},
      {1UL << 6, "--copy-storage-all"},
      {1UL << 7, "--copy-storage-inc"},
      {1UL << 8, "--change-protection"},
      {1UL << 9, "--unsafe"},
      {1UL << 11, "--compressed"},
      {1UL << 12, "--abort-on-error"},
      {1UL << 13, "--auto-converge"},
      {1UL << 15, "--postcopy"}};
  std::string out;
  unsigned long known = 0;
  for (const auto& [bit, option] : kMap) {
    known |= bit;
    if (flags & bit) out += std::string(out.empty() ? "" : " ") + option;
  }
  if (flags & ~known)
    throw std::runtime_error("the driver used flags virsh has no option for: " +
                             std::to_string(flags));
  return out;
}

std::string Other(const std::string& host) { return host == "kvm-1" ? "kvm-2" : "kvm-1"; }

double Median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  size_t n = v.size();
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

struct Run {
  std::string tool, from, to;
  double total_ms = -1;  // wall: API call -> completed seen / virsh process
  double job_ms = -1;    // libvirt's completed job: Time elapsed
  // ferry only, from the API call:
  double accepted_ms = -1;  // migration_events: the row exists (accepted)
  double running_ms = -1;   // migration_events: -> running (committed before start is sent)
  double call_ms = -1;      // source agent: the line before virDomainMigrateToURI3
  double returned_ms = -1;  // source agent: virDomainMigrateToURI3 returned
  // both: the source's libvirt job started, by libvirt's own clock (see the top)
  double job_start_ms = -1;
};

// Dates the start of `name`'s job on `uri`'s libvirtd relative to t0 (ms since the epoch).
class JobStartSampler {
 public:
  JobStartSampler(std::string uri, std::string name, int64_t t0)
      : thread_([this, uri = std::move(uri), name = std::move(name), t0] { Run(uri, name, t0); }) {}
  ~JobStartSampler() { Stop(); }
  double Stop() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
    return start_ms_;
  }

 private:
  void Run(const std::string& uri, const std::string& name, int64_t t0) {
    const std::string cmd = "virsh -c '" + uri + "' domjobinfo " + name + " 2>/dev/null";
    static const std::regex elapsed("Time elapsed:\\s+([0-9]+)\\s+ms");
    for (auto until = std::chrono::steady_clock::now() + std::chrono::seconds(60);
         !stop_ && std::chrono::steady_clock::now() < until;
         std::this_thread::sleep_for(std::chrono::milliseconds(20))) {
      const int64_t before = NowMs();
      std::string out;
      if (FILE* p = popen(cmd.c_str(), "r")) {
        char buf[4096];
        for (size_t n; (n = fread(buf, 1, sizeof buf, p)) > 0;) out.append(buf, n);
        pclose(p);
      }
      const int64_t after = NowMs();
      std::smatch sm;
      if (out.find("Unbounded") != std::string::npos && std::regex_search(out, sm, elapsed)) {
        start_ms_ =
            static_cast<double>(before + after) / 2 - std::stod(sm[1]) - static_cast<double>(t0);
        return;
      }
    }
  }
  std::atomic<bool> stop_{false};
  double start_ms_ = -1;
  std::thread thread_;
};

class Bench {
 public:
  Bench(LibvirtTestbed& bed, const std::string& dsn, int bandwidth)
      : bed_(bed), bandwidth_(bandwidth) {
    lm_ = std::make_unique<LiveMigrationStack>(
        dsn, std::vector<std::string>{"--live-migration-bandwidth", std::to_string(bandwidth),
                                      "--live-migration-downtime", "900",
                                      "--live-migration-downtime-steps", "3"});
    lm_->StartHosts({{"kvm-1", bed.AgentArgs("kvm-1", kGuestArgs)},
                     {"kvm-2", bed.AgentArgs("kvm-2", kGuestArgs)}},
                    "libvirt");
    for (const char* h : {"kvm-1", "kvm-2"}) {
      if (lm_->stack->HostState(h) != "up") throw std::runtime_error(std::string(h) + " is not up");
    }
    lm_->stack->EnsureFlavor("1", 1, kGuestMemoryMib, 0);  // disk 0: the kernel boots directly
  }

  ~Bench() {
    lm_.reset();  // agents and controller first, so nobody reports the guests going away
  }

  // ferry's server on kvm-1 and its unmanaged twin, both ticking with a dirty working set.
  void CreateGuests() {
    server_ = lm_->stack->CreateServer(kFerryGuest, "1", "nova:kvm-1");
    auto s = lm_->stack->WaitServerSettled(server_, std::chrono::seconds(90));
    if (s["status"] != "ACTIVE") throw std::runtime_error("server not ACTIVE: " + s.dump());
    domain_ = "ferry-" + server_;  // the agent names domains (and serial logs) by uuid only
    std::string xml = bed_.Script("virsh kvm-1 dumpxml --inactive " + domain_);
    if (xml.find("<domain") == std::string::npos) throw std::runtime_error("no XML for " + domain_);
    xml = std::regex_replace(xml, std::regex("<uuid>[^<]*</uuid>\n?"), "");
    xml = std::regex_replace(xml, std::regex(domain_), kTwin);  // <name> and the serial log
    const std::string file = bed_.dir() + "/state/" + kTwin + ".bench.xml";
    std::ofstream(file) << xml;
    int status = 0;
    bed_.Script("virsh kvm-1 define '" + file + "' >&2", &status);
    if (status == 0) bed_.Script("virsh kvm-1 start " + std::string(kTwin) + " >&2", &status);
    std::remove(file.c_str());
    if (status != 0)
      throw std::runtime_error("cannot define and start the twin " + std::string(kTwin));
    for (const std::string& name : {domain_, std::string(kTwin)}) {
      if (!WaitTicks("kvm-1", name, kTicksBeforeFirstRun)) {
        throw std::runtime_error(name + " does not tick on kvm-1");
      }
    }
  }

  Run Ferry(const std::string& from, const std::string& to) {
    Run r{"ferry", from, to};
    const GuestTick before = bed_.LastTick(from, domain_);
    const int64_t t0 = NowMs();
    JobStartSampler sampler(SourceUri(from), domain_, t0);
    auto res = lm_->MigrateLive(server_, {{"host", to}, {"block_migration", "auto"}});
    if (res.status != 202) throw std::runtime_error("os-migrateLive: " + res.raw);
    json m;
    std::string status;
    for (auto until = std::chrono::steady_clock::now() + kRunTimeout;
         std::chrono::steady_clock::now() < until; std::this_thread::sleep_for(kPoll)) {
      m = lm_->LatestMigration(server_);
      status = m.is_null() ? "" : m["status"].get<std::string>();
      if (status == "completed" || status == "failed" || status == "error" || status == "cancelled")
        break;
    }
    r.total_ms = static_cast<double>(NowMs() - t0);
    r.job_start_ms = sampler.Stop();
    if (status != "completed")
      throw std::runtime_error("ferry's migration ended " + status + ": " + m.dump());
    if (lm_->Server(server_)["OS-EXT-SRV-ATTR:host"] != to)
      throw std::runtime_error("server not on " + to);
    r.job_ms = JobElapsedMs(to, domain_);
    const std::string uuid = m["uuid"];
    for (const auto& [event, at] : Events(uuid)) {
      if (event == "accepted" && r.accepted_ms < 0) r.accepted_ms = static_cast<double>(at - t0);
      if (event == "running" && r.running_ms < 0) r.running_ms = static_cast<double>(at - t0);
    }
    const std::string log = lm_->stack->AgentLog(from);
    if (int64_t at = LastLineStamp(log, "libvirt: migrating " + server_); at >= 0)
      r.call_ms = static_cast<double>(at - t0);
    driver_flags_ = LoggedFlags(log, server_);
    if (driver_flags_ == 0)
      throw std::runtime_error("no 'libvirt: migrating' line with flags in the agent log of " +
                               from);
    if (int64_t at = LastLineStamp(log, "libvirt: migration " + uuid + " completed"); at >= 0) {
      r.returned_ms = static_cast<double>(at - t0);
    }
    ExpectMoved(domain_, from, to, before);
    return r;
  }

  Run Virsh(const std::string& from, const std::string& to) {
    Run r{"virsh", from, to};
    const GuestTick before = bed_.LastTick(from, kTwin);
    // What `libvirt-hosts exec FROM -- virsh ...` runs, without the script's own start-up.
    const std::string virsh = "virsh -q -c qemu:///system migrate " + VirshFlags(driver_flags_) +
                              " --migrateuri tcp://" + bed_.MigrationAddress(to) + " --bandwidth " +
                              std::to_string(bandwidth_) + " " + kTwin + " qemu+tcp://" + to +
                              "/system";
    if (virsh != last_virsh_)
      std::fprintf(stderr, "virsh (inside %s): %s\n", from.c_str(), virsh.c_str());
    last_virsh_ = virsh;
    const std::string cmd = "nsenter -t " + LibvirtdPid(from) + " -n -m -u -- " + virsh;
    JobStartSampler sampler(SourceUri(from), kTwin, NowMs());
    const auto t0 = std::chrono::steady_clock::now();
    int rc = std::system(cmd.c_str());
    r.total_ms =
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    r.job_start_ms = sampler.Stop();
    if (rc != 0)
      throw std::runtime_error("virsh migrate failed (" + std::to_string(rc) + "): " + cmd);
    r.job_ms = JobElapsedMs(to, kTwin);
    ExpectMoved(kTwin, from, to, before);
    return r;
  }

  void DumpAgentLogs() const {
    for (const char* h : {"kvm-1", "kvm-2"}) {
      std::fprintf(stderr, "---- agent %s log ----\n%s\n", h, lm_->stack->AgentLog(h).c_str());
    }
  }

 private:
  static constexpr const char* kFerryGuest = "bench-ferry";  // the server's display name
  static constexpr const char* kTwin = "bench-virsh";

  bool WaitTicks(const std::string& host, const std::string& name, long n) {
    return ferry::testing::Stack::WaitFor([&] { return bed_.LastTick(host, name).n >= n; },
                                          std::chrono::seconds(90));
  }

  // The guest runs on `to` (same boot, later tick) and is gone from `from`: it moved. Also the
  // pause between runs: the next copy starts from a guest that has run on its new host.
  void ExpectMoved(const std::string& name, const std::string& from, const std::string& to,
                   const GuestTick& before) {
    if (!bed_.TicksPast(to, name, before, 30)) {
      throw std::runtime_error(name + " does not tick on " + to + " after its migration");
    }
    auto left = bed_.Domains(from);
    if (std::count(left.begin(), left.end(), name))
      throw std::runtime_error(name + " still on " + from);
    const GuestTick now = bed_.LastTick(to, name);
    bed_.TicksPast(to, name, now, 10);  // one more heartbeat on the new host
  }

  // libvirt's own duration of the job: the destination's completed-job statistics.
  double JobElapsedMs(const std::string& host, const std::string& name) {
    std::string out = bed_.Script("virsh " + host + " domjobinfo --completed " + name + " 2>&1");
    std::smatch sm;
    if (std::regex_search(out, sm, std::regex("Time elapsed:\\s+([0-9]+)\\s+ms")))
      return std::stod(sm[1]);
    std::fprintf(stderr, "no completed job on %s for %s: %s\n", host.c_str(), name.c_str(),
                 out.c_str());
    return -1;
  }

  std::vector<std::pair<std::string, int64_t>> Events(const std::string& migration_uuid) {
    pqxx::connection c(lm_->stack->dsn());
    pqxx::work w(c);
    std::vector<std::pair<std::string, int64_t>> out;
    for (const auto& row : w.exec_params(
             "SELECT e.to_status, (extract(epoch FROM e.at) * 1000)::bigint FROM migration_events "
             "e "
             "JOIN migrations m ON m.id = e.migration_id WHERE m.uuid = $1::uuid ORDER BY e.id",
             migration_uuid)) {
      out.emplace_back(row[0].as<std::string>(), row[1].as<int64_t>());
    }
    return out;
  }

  std::string SourceUri(const std::string& host) const {
    return "qemu+unix:///system?socket=" + bed_.dir() + "/" + host + "/run/libvirt-sock";
  }

  std::string LibvirtdPid(const std::string& host) {
    std::ifstream in(bed_.dir() + "/" + host + "/run/libvirtd.pid");
    std::string pid;
    in >> pid;
    if (pid.empty()) throw std::runtime_error("no libvirtd pid for " + host);
    return pid;
  }

  LibvirtTestbed& bed_;
  int bandwidth_;
  std::unique_ptr<LiveMigrationStack> lm_;
  std::string server_;
  std::string domain_;              // ferry-<server uuid>
  unsigned long driver_flags_ = 0;  // VIR_MIGRATE_* of ferry's last run, as its agent logged them
  std::string last_virsh_;
};

std::string Ms(double v) {
  if (v < 0) return "-";
  char b[32];
  std::snprintf(b, sizeof b, "%.0f", v);
  return b;
}

void Print(const std::vector<Run>& runs, int bandwidth) {
  std::printf("\n%-4s %-6s %-15s %9s %9s %9s %9s | %s\n", "run", "tool", "route", "total_ms",
              "job_ms", "other_ms", "start_ms",
              "ferry, ms after the API call: accepted running migrate-call returned");
  std::vector<double> ft, vt, fj, vj, fo, vo, fs, vs, call, running;
  for (size_t i = 0; i < runs.size(); ++i) {
    const Run& r = runs[i];
    const double other = r.job_ms >= 0 ? r.total_ms - r.job_ms : -1;
    std::printf("%-4zu %-6s %-15s %9s %9s %9s %9s", i / 2 + 1, r.tool.c_str(),
                (r.from + " -> " + r.to).c_str(), Ms(r.total_ms).c_str(), Ms(r.job_ms).c_str(),
                Ms(other).c_str(), Ms(r.job_start_ms).c_str());
    if (r.tool == "ferry") {
      std::printf(" | %s %s %s %s", Ms(r.accepted_ms).c_str(), Ms(r.running_ms).c_str(),
                  Ms(r.call_ms).c_str(), Ms(r.returned_ms).c_str());
      ft.push_back(r.total_ms);
      if (r.job_ms >= 0) fj.push_back(r.job_ms), fo.push_back(other);
      if (r.job_start_ms >= 0) fs.push_back(r.job_start_ms);
      if (r.call_ms >= 0) call.push_back(r.call_ms);
      if (r.running_ms >= 0) running.push_back(r.running_ms);
    } else {
      vt.push_back(r.total_ms);
      if (r.job_ms >= 0) vj.push_back(r.job_ms), vo.push_back(other);
      if (r.job_start_ms >= 0) vs.push_back(r.job_start_ms);
    }
    std::printf("\n");
  }
  const double ratio = Median(vt) > 0 ? Median(ft) / Median(vt) : 0;
  std::printf("\nbandwidth %d MiB/s, %d MiB guest (%s tick_ms=500), %zu runs each\n", bandwidth,
              kGuestMemoryMib, kGuestArgs.c_str(), ft.size());
  std::printf(
      "median wall:         ferry %s ms, virsh %s ms, ratio ferry/virsh %.3f (goal <= %.2f: %s)\n",
      Ms(Median(ft)).c_str(), Ms(Median(vt)).c_str(), ratio, kGoal,
      ratio <= kGoal ? "met" : "MISSED");
  std::printf("median libvirt job:  ferry %s ms, virsh %s ms (the copy itself)\n",
              Ms(Median(fj)).c_str(), Ms(Median(vj)).c_str());
  std::printf(
      "median outside job:  ferry %s ms, virsh %s ms (wall - job: API/controller/agents vs virsh's "
      "connect)\n",
      Ms(Median(fo)).c_str(), Ms(Median(vo)).c_str());
  std::printf(
      "controller's added latency, API call -> source libvirt job start (libvirt's clock): median "
      "%s ms\n"
      "  (of which -> controller commits running %s ms, -> agent calls virDomainMigrateToURI3 %s "
      "ms);\n"
      "  virsh, process start -> the same job start: median %s ms\n",
      Ms(Median(fs)).c_str(), Ms(Median(running)).c_str(), Ms(Median(call)).c_str(),
      Ms(Median(vs)).c_str());
}

int Unusable(const std::string& why) {
  if (ferry::testing::InCi()) {
    std::fprintf(stderr, "libvirt_migration_bench: CI=true: %s\n", why.c_str());
    return 1;
  }
  std::fprintf(stderr, "libvirt_migration_bench: SKIPPED: %s\n", why.c_str());
  return kSkip;
}

}  // namespace

int main(int argc, char** argv) {
  const int alternations = argc > 1 ? std::atoi(argv[1]) : 5;
  const int bandwidth = argc > 2 ? std::atoi(argv[2]) : 8;  // MiB/s: the e2e tests' slow link
  if (alternations < 1 || bandwidth < 1) {
    std::fprintf(stderr, "usage: libvirt_migration_bench [alternations=5] [bandwidth_mibps=8]\n");
    return 2;
  }
  std::string why;
  auto dsn = ferry::testing::ClusterDsn(&why);
  if (!dsn)
    return Unusable("no PostgreSQL (" + why + "); set FERRY_TEST_PG_DIR or run through ctest");
  if (geteuid() != 0) return Unusable("needs root (the libvirt testbed: namespaces, libvirtd)");
  auto& bed = LibvirtTestbed::Shared();
  if (!bed.usable()) return Unusable("libvirt testbed not usable: " + bed.problem());

  int rc = 0;
  std::vector<Run> runs;
  {
    std::unique_ptr<Bench> bench;
    try {
      bench = std::make_unique<Bench>(bed, *dsn, bandwidth);
      bench->CreateGuests();
      std::string from = "kvm-1";
      for (int i = 0; i < alternations; ++i, from = Other(from)) {
        runs.push_back(bench->Ferry(from, Other(from)));
        std::fprintf(stderr, "run %d ferry %s -> %s: %s ms\n", i + 1, from.c_str(),
                     Other(from).c_str(), Ms(runs.back().total_ms).c_str());
        runs.push_back(bench->Virsh(from, Other(from)));
        std::fprintf(stderr, "run %d virsh %s -> %s: %s ms\n", i + 1, from.c_str(),
                     Other(from).c_str(), Ms(runs.back().total_ms).c_str());
      }
    } catch (const std::exception& e) {
      std::fprintf(stderr, "libvirt_migration_bench: FAILED: %s\n", e.what());
      if (bench) bench->DumpAgentLogs();
      rc = 1;
    }
    bench.reset();
  }
  if (!runs.empty()) Print(runs, bandwidth);
  bed.TearDown();
  return rc;
}
