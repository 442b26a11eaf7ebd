#pragma once
// A real ferry stack for integration tests: the ferry-controller and ferry-agent binaries as
// processes on loopback (port 0), against the test PostgreSQL in a schema of their own.
#include <chrono>
#include <functional>
#include <initializer_list>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "tests/support/http.hpp"
#include "tests/support/pg_fixture.hpp"
#include "tests/support/process.hpp"

namespace ferry::testing {

inline constexpr const char* kAdminToken = "admin-token-for-tests";
inline constexpr const char* kMemberToken = "member-token-for-tests";
inline constexpr const char* kAgentToken = "agent-token-for-tests";
inline constexpr const char* kCommandToken = "command-token-for-tests";
// Role "metrics" (Prometheus): GET /metrics and nothing else.
inline constexpr const char* kMetricsToken = "metrics-token-for-tests";

struct StackOptions {
  int service_down_time_s = 60;
  int heartbeat_interval_s = 1;
  std::vector<std::string> controller_args;    // appended to every controller's command line
  std::string controller_log_level = "debug";  // tests read the request log; benches use info
  // What Admin() and the helpers below send: a Keystone token with --auth keystone.
  std::string admin_token = kAdminToken;
};

class Stack {
 public:
  Stack(const std::string& cluster_dsn, StackOptions options = {});
  ~Stack();

  // first start picks a port; restarts reuse it. env: extra "NAME=value" for the process.
  void StartController(const std::vector<std::string>& env = {});
  void KillController();  // SIGKILL: a crash
  void StopController();  // SIGTERM
  bool ControllerRunning() const;
  pid_t ControllerPid() const;  // -1 when not started
  // A second controller on the same database (its own port), for lease tests.
  void StartSecondController(const std::vector<std::string>& env = {});
  void KillSecondController();
  pid_t SecondControllerPid() const;  // -1 when not started
  HttpClient SecondAdmin() const { return HttpClient(second_url_, kAdminToken); }
  const std::string& SecondUrl() const { return second_url_; }
  std::string SecondControllerLog() const;
  // driver "sim" or "libvirt"; extra_args carry the driver's own flags. A "--listen" among them
  // replaces the default 127.0.0.1:0 (a restart on the same port, as a real host's agent does);
  // a "--controller-url" the first controller's (an agent that reports to the second).
  void StartAgent(const std::string& host, std::vector<std::string> extra_args = {},
                  const std::string& driver = "sim");
  void KillAgent(const std::string& host);
  // kill(2) of the agent's process: SIGSTOP/SIGCONT stall and resume it (a hung host).
  void SignalAgent(const std::string& host, int signal);
  int AgentPort(const std::string& host) const { return agent_ports_.at(host); }
  pid_t AgentPid(const std::string& host) const { return agents_.at(host)->pid(); }
  // The sim driver's state dir of that agent (domains.json): tests edit it while the agent is
  // stopped to model what happens on a hypervisor behind ferry's back.
  std::string AgentStateDir(const std::string& host) const { return dir_ + "/state-" + host; }

  HttpClient Admin() const { return HttpClient(url_, options_.admin_token); }
  // An admin that asks for ferry's own fields beside Nova's (X-Ferry-Extensions: true), as
  // ferryctl does: for tests that read a migration's phase or error, a server's storage kind.
  HttpClient FerryAdmin() const {
    HttpClient c = Admin();
    c.SetHeader("X-Ferry-Extensions", "true");
    return c;
  }
  HttpClient Member() const { return HttpClient(url_, kMemberToken); }
  HttpClient Anonymous() const { return HttpClient(url_, ""); }
  HttpClient AgentApi(const std::string& host) const;  // the agent's command server
  const std::string& url() const { return url_; }
  const std::string& dsn() const { return schema_.dsn(); }
  std::string ControllerLog() const;
  std::string AgentLog(const std::string& host) const;

  // Polls `done` every 50 ms until it holds or `timeout` passes.
  static bool WaitFor(const std::function<bool()>& done, std::chrono::milliseconds timeout);
  // The hypervisor's state ("up"/"down") as the API shows it, "" if not listed.
  std::string HostState(const std::string& host) const;
  // Whether every host is "up" within `timeout` (20 s: a sim agent registers and heartbeats
  // within a second or two even on a loaded machine).
  bool WaitUntilUp(std::initializer_list<std::string> hosts,
                   std::chrono::milliseconds timeout = std::chrono::seconds(20)) const;
  // Creates flavor id "1" (m1.tiny: 1 vCPU, 512 MB, 1 GB) unless it exists.
  void EnsureFlavor(const std::string& id = "1", int vcpus = 1, int ram_mb = 512, int disk_gb = 1);
  // Creates a server; returns its uuid.
  std::string CreateServer(const std::string& name, const std::string& flavor = "1",
                           const std::string& availability_zone = "");
  // Waits until the server leaves BUILD; returns its detail.
  nlohmann::json WaitServerSettled(const std::string& uuid,
                                   std::chrono::milliseconds timeout = std::chrono::seconds(30));

 private:
  StackOptions options_;
  PgSchema schema_;
  std::string dir_;
  std::string url_;
  int port_ = 0;
  std::unique_ptr<Process> controller_;
  std::unique_ptr<Process> second_;
  std::string second_url_;
  std::map<std::string, std::unique_ptr<Process>> agents_;
  std::map<std::string, int> agent_ports_;
};

std::string ControllerBinary();
std::string AgentBinary();

}  // namespace ferry::testing
