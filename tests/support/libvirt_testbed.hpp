#pragma once
// The two libvirt hosts of deploy/testbed/libvirt-hosts, for tests that drive real QEMU guests
// through the whole stack. One instance per test process: it brings the testbed up when it is
// not up and, at the end, takes down only what it brought up.
//
// Agents run in the root namespaces next to the controller (they reach it on loopback) and talk
// to their host's libvirtd over its private UNIX socket; the libvirtds migrate peer-to-peer over
// the hosts' own control and migration networks, which exist only inside the namespaces.
#include <string>
#include <vector>

#include "tests/support/pg_fixture.hpp"  // InCi

namespace ferry::testing {

// Tests run a testbed of their own, never the one `deploy/quickstart --libvirt` runs (var/testbed,
// netns prefix ferry-tb-): they remove every guest on it. FERRY_TESTBED_DIR and
// FERRY_TESTBED_NETNS_PREFIX override both; the prefix is exported so the script agrees.
std::string TestTestbedDir();
std::string TestTestbedNetnsPrefix();

// One heartbeat line of the testbed guest: "ferry-guest tick=N boot=XXXXXXXX ...".
struct GuestTick {
  long n = -1;
  std::string boot;  // random per boot: the same id on both hosts means the same running guest
};

class LibvirtTestbed {
 public:
  // Brings the testbed up (or finds it up). problem() is empty when it is usable.
  static LibvirtTestbed& Shared();
  const std::string& problem() const { return problem_; }
  bool usable() const { return problem_.empty(); }
  void TearDown();  // `down` when this process brought it up

  const std::string& dir() const { return dir_; }
  std::string SharedDir() const { return dir_ + "/shared"; }
  // ferry-agent flags for host "kvm-1" / "kvm-2". guest_args: the testbed guest's command line
  // ("dirty_mbps=N wss_mib=M", see deploy/testbed/guest); it ticks every 500 ms.
  std::vector<std::string> AgentArgs(const std::string& host, const std::string& guest_args) const;
  std::string MigrationAddress(const std::string& host) const;
  // A host's local images (its images pool): from this process, and as its libvirtd sees them
  // (FERRY_TESTBED_IMAGES_POOL_PATH of `libvirt-hosts env`; the same path on both hosts).
  std::string ImagesDir(const std::string& host) const;
  static constexpr const char* kImagesPoolPath = "/var/lib/libvirt/images";

  // The guest's serial heartbeats as written on `host` (the file a domain of that name logs to).
  std::vector<GuestTick> Ticks(const std::string& host, const std::string& name) const;
  GuestTick LastTick(const std::string& host, const std::string& name) const;
  // Waits until the guest ticks on `host` past `after` (same boot when after.boot is set).
  bool TicksPast(const std::string& host, const std::string& name, const GuestTick& after,
                 int seconds) const;
  // Domain names (any state) on `host`, and whether `name` is running there, by libvirt itself.
  std::vector<std::string> Domains(const std::string& host) const;
  bool Running(const std::string& host, const std::string& name) const;
  // Bytes sent on an interface of a host (ctl0: control network, mig0: migration network).
  long long TxBytes(const std::string& host, const std::string& ifname) const;
  // Destroys and undefines every domain on both hosts and removes their serial logs.
  void RemoveAllGuests() const;
  // Runs the testbed script with `args`; returns its stdout (stderr goes to ours).
  std::string Script(const std::string& args, int* status = nullptr) const;

 private:
  LibvirtTestbed();
  std::string script_;
  std::string dir_;
  std::string problem_;
  bool brought_up_ = false;
};

// Under CI=true an unusable testbed fails the test; elsewhere it skips with the reason.
#define FERRY_REQUIRE_TESTBED(bed)                                            \
  do {                                                                        \
    if (!(bed).usable()) {                                                    \
      if (::ferry::testing::InCi()) FAIL() << "CI=true: " << (bed).problem(); \
      GTEST_SKIP() << "libvirt testbed not usable: " << (bed).problem();      \
    }                                                                         \
  } while (0)

}  // namespace ferry::testing
