#pragma once
// ferry-agent's command line (also readable from --config FILE, TOML or INI, keys = long flags).
// Kept out of main.cpp so main stays wiring and the flag rules can be unit tested.
#include <CLI/CLI.hpp>
#include <cstdint>
#include <string>
#include <vector>

#include "agent/command_server.hpp"
#include "agent/drivers/libvirt/libvirt_config.hpp"
#include "agent/drivers/sim/sim_config.hpp"
#include "common/token_file.hpp"

namespace ferry::agent {

struct AgentOptions {
  std::string host;
  std::string driver = "sim";
  std::string controller_url;
  std::string controller_token_file;
  std::string command_token_file;
  // Loopback by default: nothing is exposed until the operator picks an interface. Port 0 works
  // because the agent tells the controller its command_url when it registers.
  std::string listen = "127.0.0.1:0";
  std::string advertise_url;             // default http://<listen host>:<bound port>
  std::string port_file;                 // written after binding, for tests and supervisors
  std::string migration_address;         // default: the listen host
  std::string cell = "cell1";            // Nova's default first cell name
  int heartbeat_interval_s = 10;         // Nova's report_interval; the controller's answer wins
  int controller_retry_max_ms = 30'000;  // kDefaultRetryMax (agent/reporter.hpp) says why
  std::string state_dir = "/var/lib/ferry-agent";  // FHS home of a daemon's persistent state
  int sim_vcpus = sim::kDefaultVcpus;
  int64_t sim_memory_mb = sim::kDefaultMemoryMb;
  int64_t sim_disk_gb = sim::kDefaultDiskGb;
  int64_t sim_bandwidth_mbps = sim::kDefaultBandwidthMbps;
  int64_t sim_dirty_rate_mbps = sim::kDefaultDirtyRateMbps;
  std::vector<std::string> sim_domains;
  int sim_clock_offset_s = 0;  // test only: the sim's clock runs this far off (clock skew)
  std::vector<std::string> sim_scenarios;              // NAME[:domain-uuid], see agent/README.md
  int sim_create_slow_ms = sim::kDefaultCreateSlowMs;  // scenario create-slow
  libvirt::LibvirtConfig libvirt;  // --libvirt-* flags (migration_address: see below)
  std::string log_level = "info";
  std::string log_file;                 // empty: stderr
  bool log_journal = false;             // systemd-journald's native socket (common/log.hpp)
  CommandServerOptions command_server;  // --max-body-bytes, --header-timeout, ...
};

void AddOptions(CLI::App& app, AgentOptions& options);

// Cross-flag rules CLI11 cannot express. Throws ferry::Error(kBadRequest) with a message that
// names the flag.
void ValidateOptions(const AgentOptions& options);

// The libvirt driver's images directory must exist (as the agent sees it) and be a directory
// statvfs can measure: a missing one would report 0 GB of local disk, and the scheduler would
// reject the host with no hint why. Throws ferry::Error(kBadRequest) naming the flag.
void CheckImagesDir(const std::string& dir);

// The host's inbound live-migration address: --migration-address, else the listen host, else
// (wildcard listen) the host of --advertise-url.
std::string InboundMigrationAddress(const AgentOptions& options);

// The SimConfig the flags describe (parses every --sim-domain; throws on a bad one).
sim::SimConfig MakeSimConfig(const AgentOptions& options);

// The LibvirtConfig the flags describe, with the inbound migration address filled in.
libvirt::LibvirtConfig MakeLibvirtConfig(const AgentOptions& options);

// Token files are read by ferry::ReadTokenFile (common/token_file.hpp), the controller's reader.
using ferry::ReadTokenFile;

// Writes "<port>\n" via temp file + rename, so a reader polling for it never sees half a number.
void WritePortFile(const std::string& path, int port);

}  // namespace ferry::agent
