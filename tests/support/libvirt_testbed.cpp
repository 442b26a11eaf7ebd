#include "tests/support/libvirt_testbed.hpp"

#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <regex>
#include <sstream>
#include <thread>

namespace ferry::testing {
namespace {

std::string EnvOr(const char* name, const std::string& fallback) {
  const char* v = std::getenv(name);
  return v && *v ? v : fallback;
}

std::string Quote(const std::string& s) { return "'" + s + "'"; }

int HostNumber(const std::string& host) {
  if (host == "kvm-1") return 1;
  if (host == "kvm-2") return 2;
  throw std::invalid_argument("the testbed has kvm-1 and kvm-2, not " + host);
}

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    if (!line.empty()) out.push_back(line);
  }
  return out;
}

}  // namespace

std::string TestTestbedDir() {
  return EnvOr("FERRY_TESTBED_DIR", std::string(FERRY_SOURCE_DIR) + "/var/testbed-tests");
}

std::string TestTestbedNetnsPrefix() {
  const std::string prefix = EnvOr("FERRY_TESTBED_NETNS_PREFIX", "ferry-tt-");
  setenv("FERRY_TESTBED_NETNS_PREFIX", prefix.c_str(), 0);
  return prefix;
}

LibvirtTestbed& LibvirtTestbed::Shared() {
  static LibvirtTestbed bed;
  return bed;
}

LibvirtTestbed::LibvirtTestbed()
    : script_(std::string(FERRY_SOURCE_DIR) + "/deploy/testbed/libvirt-hosts"),
      dir_(TestTestbedDir()) {
  TestTestbedNetnsPrefix();
  if (geteuid() != 0) {
    problem_ = "the libvirt testbed needs root";
    return;
  }
  int status = 0;
  Script("status >/dev/null", &status);
  if (status != 0) {
    auto t0 = std::chrono::steady_clock::now();
    Script("up >&2", &status);
    if (status != 0) {
      problem_ = "deploy/testbed/libvirt-hosts up failed (its output is above)";
      return;
    }
    brought_up_ = true;
    std::fprintf(stderr, "testbed up in %.1f s\n",
                 std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  } else {
    Script("up >&2", &status);  // a no-op when up, but for the TLS files an older `up` lacked
  }
  RemoveAllGuests();  // a previous run's leftovers would show up as unmanaged domains
}

void LibvirtTestbed::TearDown() {
  if (!usable()) return;
  RemoveAllGuests();
  if (brought_up_) {
    int status = 0;
    Script("down >&2", &status);
    if (status != 0) std::fprintf(stderr, "testbed down failed (exit %d)\n", status);
    brought_up_ = false;
  }
}

std::string LibvirtTestbed::Script(const std::string& args, int* status) const {
  std::string cmd = Quote(script_) + " --dir " + Quote(dir_) + " " + args;
  std::string out;
  FILE* p = popen(cmd.c_str(), "r");
  if (p == nullptr) {
    if (status) *status = -1;
    return out;
  }
  char buf[4096];
  for (size_t n; (n = fread(buf, 1, sizeof buf, p)) > 0;) out.append(buf, n);
  int rc = pclose(p);
  if (status) *status = WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
  return out;
}

std::vector<std::string> LibvirtTestbed::AgentArgs(const std::string& host,
                                                   const std::string& guest_args) const {
  return {"--libvirt-uri", "qemu+unix:///system?socket=" + dir_ + "/" + host + "/run/libvirt-sock",
          // The source libvirtd dials the destination by name: each host's /etc/hosts has both.
          "--libvirt-peer-uri", "qemu+tcp://{host}/system", "--migration-address",
          MigrationAddress(host), "--libvirt-shared-dir", SharedDir(), "--libvirt-guest-kernel",
          dir_ + "/guest/ferry-guest.elf", "--libvirt-guest-cmdline", guest_args + " tick_ms=500",
          // The path as libvirtd sees it inside its host: DIR/kvm-N/serial from outside.
          "--libvirt-serial-dir", "/var/log/libvirt/serial",
          // The host's own images: the agent (root namespace) sees them under the testbed's
          // directory, libvirtd (the host's mount namespace) at the images pool path.
          "--libvirt-images-dir", ImagesDir(host), "--libvirt-images-pool-path", kImagesPoolPath,
          // Cold migration's disks, agent to agent over TLS under the testbed's CA (`up` makes
          // it): on loopback, where the agents run, each on a fixed port of its own, so an agent
          // restarted mid-copy is found again where its source was told to send.
          "--tls-ca", dir_ + "/tls/ca.crt", "--tls-cert", dir_ + "/tls/hosts/" + host + ".crt",
          "--tls-key", dir_ + "/tls/hosts/" + host + ".key", "--disk-transfer-address", "127.0.0.1",
          "--disk-transfer-port", std::to_string(16550 + HostNumber(host))};
}

std::string LibvirtTestbed::ImagesDir(const std::string& host) const {
  HostNumber(host);  // kvm-1 or kvm-2, else throws
  return dir_ + "/" + host + "/lib/images";
}

std::string LibvirtTestbed::MigrationAddress(const std::string& host) const {
  return "10.77.2." + std::to_string(HostNumber(host));
}

std::vector<GuestTick> LibvirtTestbed::Ticks(const std::string& host,
                                             const std::string& name) const {
  std::ifstream in(dir_ + "/" + host + "/serial/" + name + ".log", std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  const std::string text = ss.str();
  // A line is complete once its trailing space is written; a torn last line never matches.
  static const std::regex re("ferry-guest tick=([0-9]+) boot=([0-9a-f]{8}) ");
  std::vector<GuestTick> out;
  for (std::sregex_iterator it(text.begin(), text.end(), re), end; it != end; ++it) {
    out.push_back(GuestTick{std::stol((*it)[1].str()), (*it)[2].str()});
  }
  return out;
}

GuestTick LibvirtTestbed::LastTick(const std::string& host, const std::string& name) const {
  auto t = Ticks(host, name);
  return t.empty() ? GuestTick{} : t.back();
}

bool LibvirtTestbed::TicksPast(const std::string& host, const std::string& name,
                               const GuestTick& after, int seconds) const {
  auto until = std::chrono::steady_clock::now() + std::chrono::seconds(seconds);
  do {
    GuestTick t = LastTick(host, name);
    if (t.n > after.n && (after.boot.empty() || t.boot == after.boot)) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  } while (std::chrono::steady_clock::now() < until);
  return false;
}

std::vector<std::string> LibvirtTestbed::Domains(const std::string& host) const {
  return Lines(Script("virsh " + host + " list --all --name"));
}

bool LibvirtTestbed::Running(const std::string& host, const std::string& name) const {
  for (const auto& n : Lines(Script("virsh " + host + " list --state-running --name"))) {
    if (n == name) return true;
  }
  return false;
}

long long LibvirtTestbed::TxBytes(const std::string& host, const std::string& ifname) const {
  std::string ns = TestTestbedNetnsPrefix() + host;
  std::string cmd =
      "ip netns exec " + Quote(ns) + " cat /sys/class/net/" + ifname + "/statistics/tx_bytes";
  FILE* p = popen(cmd.c_str(), "r");
  long long v = -1;
  if (p != nullptr) {
    if (std::fscanf(p, "%lld", &v) != 1) v = -1;
    pclose(p);
  }
  return v;
}

void LibvirtTestbed::RemoveAllGuests() const {
  for (const std::string host : {"kvm-1", "kvm-2"}) {
    for (const auto& name : Domains(host)) {
      Script("virsh " + host + " destroy " + Quote(name) + " >/dev/null 2>&1");
      Script("virsh " + host + " undefine " + Quote(name) + " >/dev/null 2>&1");
    }
    std::system(("rm -f " + Quote(dir_ + "/" + host + "/serial") + "/*.log").c_str());
  }
}

}  // namespace ferry::testing
