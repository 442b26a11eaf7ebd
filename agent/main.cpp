// ferry-agent: one per hypervisor host. Wiring only: flags -> driver -> job monitor -> command
// server -> reporter, then wait for SIGTERM/SIGINT and stop in reverse order.
#include <signal.h>

#include <cstdio>
#include <iostream>
#include <memory>

#include "agent/address.hpp"
#include "agent/command_server.hpp"
#include "agent/drivers/libvirt/libvirt_driver.hpp"
#include "agent/drivers/sim/sim_driver.hpp"
#include "agent/live_migration_monitor.hpp"
#include "agent/options.hpp"
#include "agent/reporter.hpp"
#include "common/clock.hpp"
#include "common/errors.hpp"
#include "common/log.hpp"
#include "common/stop_signals.hpp"

namespace {

using namespace ferry::agent;

constexpr int kExitRuntimeError = 1;
constexpr int kExitBadFlags = 2;  // the usual "usage error" status, as CLI11 and getopt tools use

ReporterConfig MakeReporterConfig(const AgentOptions& o, const HostPort& listen, int port) {
  ReporterConfig c;
  c.controller_url = o.controller_url;
  c.agent_token = ReadTokenFile(o.controller_token_file);
  c.host = o.host;
  c.cell = o.cell;
  c.command_url =
      o.advertise_url.empty() ? "http://" + FormatHostPort(listen.host, port) : o.advertise_url;
  c.host_ip = ParseUrl(c.command_url).host;
  c.migration_address = InboundMigrationAddress(o);  // where the driver receives migrations
  c.heartbeat_interval = std::chrono::seconds(o.heartbeat_interval_s);
  c.retry_max = std::chrono::milliseconds(o.controller_retry_max_ms);
  return c;
}

int Run(const AgentOptions& o, const sigset_t& stop_signals) {
  ferry::InitLogging("ferry-agent", o.log_level, o.log_file, o.log_journal);
  HostPort listen = ParseHostPort(o.listen);
  std::string command_token = ReadTokenFile(o.command_token_file);

  std::unique_ptr<Driver> driver;
  ferry::OffsetClockForTest sim_clock(ferry::DefaultClock(),
                                      std::chrono::seconds(o.sim_clock_offset_s));
  if (o.driver == "libvirt") {
    driver = std::make_unique<libvirt::LibvirtDriver>(MakeLibvirtConfig(o));
  } else {
    driver = std::make_unique<sim::SimDriver>(MakeSimConfig(o), sim_clock);
  }
  std::string agent_token = ReadTokenFile(o.controller_token_file);
  LiveMigrationMonitor monitor(MonitorConfig{o.controller_url, agent_token, o.host}, *driver,
                               ferry::DefaultClock());
  monitor.Start();
  CommandServerOptions server_options = o.command_server;
  server_options.lease_epochs_dir = o.state_dir + "/lease-epochs";  // survives restarts
  CommandServer server(
      *driver, o.host, command_token,
      [&monitor](const ferry::wire::LiveMigrationSpec& spec) {
        monitor.Watch(spec.migration_uuid, std::chrono::seconds(spec.monitor_interval_s));
      },
      server_options);
  int port = server.Start(listen.host, listen.port);
  if (!o.port_file.empty()) WritePortFile(o.port_file, port);

  Reporter reporter(MakeReporterConfig(o, listen, port), *driver, ferry::DefaultClock());
  reporter.Start();
  spdlog::info("ferry-agent started host={} driver={}{} port={}", o.host, o.driver,
               o.driver == "sim" ? " (simulated hypervisor)" : " uri=" + o.libvirt.uri, port);

  int signal = 0;
  sigwait(&stop_signals, &signal);
  spdlog::info("ferry-agent stopping signal={}", signal);
  reporter.Stop();
  server.Stop();
  monitor.Stop();
  spdlog::info("ferry-agent stopped host={}", o.host);
  return 0;
}

int Main(int argc, char** argv) {
  CLI::App app{"ferry-agent: runs on each hypervisor host, executes the controller's commands"};
  AgentOptions options;
  AddOptions(app, options);
  try {
    app.parse(argc, argv);
    ValidateOptions(options);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  } catch (const ferry::Error& e) {
    std::cerr << "ferry-agent: " << e.what() << "\n";
    return kExitBadFlags;
  }
  sigset_t stop_signals = ferry::BlockStopSignals();
  try {
    return Run(options, stop_signals);
  } catch (const std::exception& e) {
    spdlog::critical("ferry-agent failed: {}", e.what());
    throw;
  }
}

}  // namespace

int main(int argc, char** argv) {
  try {
    return Main(argc, argv);
  } catch (const std::exception& e) {
    std::fputs(("ferry-agent: " + std::string(e.what()) + "\n").c_str(), stderr);
  } catch (...) {
    std::fputs("ferry-agent: unknown error\n", stderr);
  }
  return kExitRuntimeError;
}
