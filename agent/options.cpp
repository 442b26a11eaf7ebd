#include "agent/options.hpp"

#include <sys/stat.h>
#include <sys/statvfs.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>

#include "agent/address.hpp"
#include "agent/command_server_flags.hpp"
#include "common/errors.hpp"

namespace ferry::agent {

void AddOptions(CLI::App& app, AgentOptions& o) {
  app.set_config("--config", "", "Read flags from this TOML/INI file (keys are the long flags)");
  app.add_option("--host", o.host, "This host's name, as the controller knows it")->required();
  app.add_option("--driver", o.driver, "Hypervisor driver: sim | libvirt")->capture_default_str();
  app.add_option("--controller-url", o.controller_url, "Controller base URL, http(s)://host:port")
      ->required();
  app.add_option("--controller-token-file", o.controller_token_file,
                 "File holding this agent's token for the controller")
      ->required()
      ->check(CLI::ExistingFile);
  app.add_option("--command-token-file", o.command_token_file,
                 "File holding the token the controller must present to this agent")
      ->required()
      ->check(CLI::ExistingFile);
  app.add_option("--listen", o.listen, "Command server address host:port (port 0 = any)")
      ->capture_default_str();
  app.add_option("--advertise-url", o.advertise_url,
                 "URL the controller uses to reach this agent (default http://<listen>:<port>)");
  app.add_option("--port-file", o.port_file, "Write the bound command port to this file");
  app.add_option("--migration-address", o.migration_address,
                 "Inbound live-migration address (default: the listen host)");
  app.add_option("--cell", o.cell, "Cell this host belongs to")->capture_default_str();
  app.add_option("--heartbeat-interval", o.heartbeat_interval_s,
                 "Seconds between heartbeats until the controller says otherwise")
      ->capture_default_str()
      ->check(CLI::Range(1, 3600));
  app.add_option("--controller-retry-max-ms", o.controller_retry_max_ms,
                 "Longest wait between retries of a failed registration or heartbeat")
      ->capture_default_str()
      ->check(CLI::Range(1'000, 3'600'000));
  app.add_option("--state-dir", o.state_dir, "Directory for the driver's persistent state")
      ->capture_default_str();
  app.add_option("--sim-vcpus", o.sim_vcpus, "sim: host vCPUs")
      ->capture_default_str()
      ->check(CLI::Range(1, 1 << 20));
  app.add_option("--sim-memory-mb", o.sim_memory_mb, "sim: host RAM in MB")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  app.add_option("--sim-disk-gb", o.sim_disk_gb, "sim: host local disk in GB")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  app.add_option("--sim-bandwidth-mbps", o.sim_bandwidth_mbps,
                 "sim: migration link bandwidth in MB/s (1250 = 10 GbE)")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  app.add_option("--sim-dirty-rate-mbps", o.sim_dirty_rate_mbps,
                 "sim: memory dirty rate of each new domain in MB/s")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  app.add_option("--sim-domain", o.sim_domains,
                 "sim: pre-create a foreign domain name:vcpus:memory_mb:disk_gb[:uuid] at first "
                 "start (repeatable)")
      ->allow_extra_args(false);
  app.add_option("--sim-clock-offset-seconds", o.sim_clock_offset_s,
                 "sim, tests only: the driver's clock (its samples' times) runs this many seconds "
                 "off, like a host whose clock is wrong")
      ->check(CLI::Range(-86400, 86400));
  app.add_option("--sim-scenario", o.sim_scenarios,
                 "sim: a named failure scenario NAME[:domain-uuid] (repeatable): precheck-fails, "
                 "prepare-fails, stall, switchover-fails, agent-dies-mid-copy, postcopy-fails, "
                 "finish-fails, finish-fails-paused, lost-switchover, start-refused, create-slow "
                 "(agent/README.md)")
      ->allow_extra_args(false);
  app.add_option("--sim-create-slow-ms", o.sim_create_slow_ms,
                 "sim: how long create_domain takes under the create-slow scenario")
      ->capture_default_str()
      ->check(CLI::Range(0, 3'600'000));
  auto& lv = o.libvirt;
  app.add_option("--libvirt-uri", lv.uri, "libvirt: this host's libvirtd")->capture_default_str();
  app.add_option("--libvirt-peer-uri", lv.peer_uri_template,
                 "libvirt: the destination libvirtd as the source libvirtd reaches it "
                 "(peer-to-peer migration); {host} = the destination's host name")
      ->capture_default_str();
  app.add_option("--libvirt-shared-dir", lv.shared_dir,
                 "libvirt: a directory every host mounts at this path (reported as the shared "
                 "datastore; migrations add VIR_MIGRATE_UNSAFE unless it is a network filesystem)");
  app.add_option("--libvirt-images-dir", lv.images_dir,
                 "libvirt: local image directory as the agent sees it (local_gb is its "
                 "filesystem's size); must exist at start")
      ->capture_default_str();
  app.add_option("--libvirt-images-pool-path", lv.images_pool_path,
                 "libvirt: the same directory as libvirtd sees it (the images pool's path); "
                 "default: --libvirt-images-dir (libvirtd in the agent's mount namespace)");
  app.add_option("--libvirt-guest-kernel", lv.guest_kernel,
                 "libvirt: kernel every created guest boots directly (path as libvirtd sees it)");
  app.add_option("--libvirt-guest-cmdline", lv.guest_cmdline,
                 "libvirt: kernel command line of created guests");
  app.add_option("--libvirt-serial-dir", lv.serial_dir,
                 "libvirt: created guests log their serial console to DIR/ferry-<uuid>.log")
      ->capture_default_str();
  app.add_option("--libvirt-domain-type", lv.domain_type,
                 "libvirt: <domain type> of created guests (qemu = TCG, kvm)")
      ->capture_default_str()
      ->check(CLI::IsMember({"qemu", "kvm"}));
  app.add_option("--tls-ca", lv.tls.ca_file,
                 "Deployment CA (PEM) every agent's disk-transfer certificate is signed by "
                 "(deploy/tls/ferry-ca)");
  app.add_option("--tls-cert", lv.tls.cert_file,
                 "This host's certificate (PEM, subjectAltName DNS:<--host>) for disk transfers");
  app.add_option("--tls-key", lv.tls.key_file, "Its private key (PEM)");
  app.add_option("--disk-transfer-address", lv.disk_transfer_address,
                 "Address where cold migrations' disks arrive (default: --migration-address)");
  app.add_option("--disk-transfer-port", lv.disk_transfer_port,
                 "Port on --migration-address where cold migrations' disks arrive (TLS; 0 = any)")
      ->capture_default_str()
      ->check(CLI::Range(0, 65535));
  app.add_option("--log-level", o.log_level, "trace|debug|info|warn|error")
      ->capture_default_str()
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error"}));
  app.add_option("--log-file", o.log_file, "Log to this file instead of stderr");
  app.add_flag("--log-journal", o.log_journal,
               "Log to systemd-journald's native socket, key=value pairs as fields of their own "
               "(the systemd unit sets it; --log-file is then ignored)");
  AddCommandServerFlags(app, o.command_server);
}

void CheckImagesDir(const std::string& dir) {
  auto refuse = [&](const std::string& why) {
    throw Error(Errc::kBadRequest,
                "--libvirt-images-dir " + dir + ": " + why +
                    " (the agent reports its filesystem's size as local_gb; give the directory "
                    "that holds this host's local images as the agent sees it)");
  };
  struct stat st {};
  if (stat(dir.c_str(), &st) != 0) refuse(std::strerror(errno));
  if (!S_ISDIR(st.st_mode)) refuse("not a directory");
  struct statvfs fs {};
  if (statvfs(dir.c_str(), &fs) != 0) refuse(std::string("statvfs: ") + std::strerror(errno));
}

void ValidateOptions(const AgentOptions& o) {
  if (o.driver != "sim" && o.driver != "libvirt") {
    throw Error(Errc::kBadRequest, "--driver " + o.driver +
                                       ": not available yet; only 'sim' and 'libvirt' are "
                                       "implemented (vmware and xenapi come in later releases)");
  }
  if (o.driver == "libvirt" && o.libvirt.uri.empty()) {
    throw Error(Errc::kBadRequest, "--libvirt-uri must not be empty");
  }
  if (o.driver == "libvirt") CheckImagesDir(o.libvirt.images_dir);
  ParseUrl(o.controller_url);
  HostPort listen = ParseHostPort(o.listen);
  if (!o.advertise_url.empty()) ParseUrl(o.advertise_url);
  if (IsWildcardHost(listen.host) && o.advertise_url.empty()) {
    throw Error(Errc::kBadRequest, "--listen " + o.listen +
                                       " accepts on every interface; give --advertise-url so "
                                       "the controller knows which address reaches this agent");
  }
  if (o.state_dir.empty()) throw Error(Errc::kBadRequest, "--state-dir must not be empty");
  for (const auto& spec : o.sim_domains) sim::ParseSimDomainSpec(spec);
  for (const auto& spec : o.sim_scenarios) sim::ParseSimScenario(spec);
}

std::string InboundMigrationAddress(const AgentOptions& o) {
  if (!o.migration_address.empty()) return o.migration_address;
  HostPort listen = ParseHostPort(o.listen);
  if (!IsWildcardHost(listen.host)) return listen.host;
  return ParseUrl(o.advertise_url).host;
}

sim::SimConfig MakeSimConfig(const AgentOptions& o) {
  sim::SimConfig c;
  c.state_dir = o.state_dir;
  c.vcpus = o.sim_vcpus;
  c.memory_mb = o.sim_memory_mb;
  c.disk_gb = o.sim_disk_gb;
  c.link_bandwidth_bytes_per_s = o.sim_bandwidth_mbps * sim::kBytesPerMb;
  c.dirty_rate_bytes_per_s = o.sim_dirty_rate_mbps * sim::kBytesPerMb;
  for (const auto& spec : o.sim_domains) c.foreign_domains.push_back(sim::ParseSimDomainSpec(spec));
  for (const auto& spec : o.sim_scenarios) c.scenarios.push_back(sim::ParseSimScenario(spec));
  c.create_slow_ms = o.sim_create_slow_ms;
  c.migration_address = InboundMigrationAddress(o);
  return c;
}

libvirt::LibvirtConfig MakeLibvirtConfig(const AgentOptions& o) {
  libvirt::LibvirtConfig c = o.libvirt;
  if (c.images_pool_path.empty()) c.images_pool_path = c.images_dir;
  c.migration_address = InboundMigrationAddress(o);
  c.state_dir = o.state_dir;  // migration job outcomes survive an agent restart
  return c;
}

void WritePortFile(const std::string& path, int port) {
  std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << port << "\n";
    if (!out.flush()) throw Error(Errc::kInternal, "cannot write " + tmp);
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    throw Error(Errc::kInternal, "cannot rename " + tmp + " to " + path);
  }
}

}  // namespace ferry::agent
