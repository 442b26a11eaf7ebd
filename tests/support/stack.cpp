#include "tests/support/stack.hpp"

#include <gtest/gtest.h>
#include <sys/wait.h>

#include <algorithm>
#include <csignal>
#include <cstdlib>
#include <fstream>
#include <stdexcept>
#include <thread>

namespace ferry::testing {

std::string ControllerBinary() {
  return std::string(FERRY_BINARY_DIR) + "/controller/ferry-controller";
}
std::string AgentBinary() { return std::string(FERRY_BINARY_DIR) + "/agent/ferry-agent"; }

namespace {

void WriteFile(const std::string& path, const std::string& text) {
  std::ofstream out(path);
  out << text;
}

}  // namespace

Stack::Stack(const std::string& cluster_dsn, StackOptions options)
    : options_(options), schema_(cluster_dsn), dir_(TempDir("ferry-it")) {
  WriteFile(dir_ + "/tokens", std::string(kAdminToken) + " admin admin\n" + kMemberToken +
                                  " member alice\n" + kAgentToken + " agent\n" + kMetricsToken +
                                  " metrics prometheus\n");
  WriteFile(dir_ + "/command-token", std::string(kCommandToken) + "\n");
  WriteFile(dir_ + "/agent-token", std::string(kAgentToken) + "\n");
  Process upgrade(ControllerBinary(), {"db", "upgrade", "--db", schema_.dsn()},
                  dir_ + "/upgrade.log");
  int status = upgrade.Wait(std::chrono::seconds(60));
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    throw std::runtime_error("db upgrade failed: " + upgrade.Log());
  }
}

Stack::~Stack() {
  for (auto& [name, agent] : agents_) agent->Terminate(std::chrono::seconds(3));
  if (controller_) controller_->Terminate(std::chrono::seconds(3));
  if (::testing::Test::HasFailure()) {
    std::cerr << "---- controller log ----\n" << ControllerLog() << "\n";
  }
  std::system(("rm -rf '" + dir_ + "'").c_str());
}

namespace {

std::vector<std::string> ControllerArgs(const std::string& dsn, int port,
                                        const std::string& port_file, const std::string& dir,
                                        const StackOptions& o) {
  std::vector<std::string> args{"serve",
                                "--db",
                                dsn,
                                "--listen",
                                "127.0.0.1:" + std::to_string(port),
                                "--port-file",
                                port_file,
                                "--tokens",
                                dir + "/tokens",
                                "--agent-command-token-file",
                                dir + "/command-token",
                                "--service-down-time",
                                std::to_string(o.service_down_time_s),
                                "--heartbeat-interval",
                                std::to_string(o.heartbeat_interval_s),
                                "--log-level",
                                o.controller_log_level};
  args.insert(args.end(), o.controller_args.begin(), o.controller_args.end());
  return args;
}

}  // namespace

void Stack::StartController(const std::vector<std::string>& env) {
  std::string port_file = dir_ + "/controller.port";
  std::remove(port_file.c_str());
  controller_ = std::make_unique<Process>(
      ControllerBinary(), ControllerArgs(schema_.dsn(), port_, port_file, dir_, options_),
      dir_ + "/controller.log", env);
  std::string port = WaitForFile(port_file, std::chrono::seconds(20));
  if (port.empty()) throw std::runtime_error("controller did not start: " + ControllerLog());
  port_ = std::stoi(port);
  url_ = "http://127.0.0.1:" + std::to_string(port_);
}

void Stack::StartSecondController(const std::vector<std::string>& env) {
  std::string port_file = dir_ + "/controller2.port";
  std::remove(port_file.c_str());
  second_ = std::make_unique<Process>(ControllerBinary(),
                                      ControllerArgs(schema_.dsn(), 0, port_file, dir_, options_),
                                      dir_ + "/controller2.log", env);
  std::string port = WaitForFile(port_file, std::chrono::seconds(20));
  if (port.empty()) throw std::runtime_error("second controller did not start: " + second_->Log());
  second_url_ = "http://127.0.0.1:" + port;
}

void Stack::KillSecondController() {
  if (second_) second_->Kill();
}

pid_t Stack::SecondControllerPid() const { return second_ ? second_->pid() : -1; }

std::string Stack::SecondControllerLog() const { return second_ ? second_->Log() : ""; }

bool Stack::ControllerRunning() const { return controller_ && controller_->Running(); }
pid_t Stack::ControllerPid() const { return controller_ ? controller_->pid() : -1; }

void Stack::KillController() { controller_->Kill(); }
void Stack::StopController() { controller_->Terminate(); }

void Stack::StartAgent(const std::string& host, std::vector<std::string> extra,
                       const std::string& driver) {
  std::string port_file = dir_ + "/agent-" + host + ".port";
  std::remove(port_file.c_str());
  std::string state = dir_ + "/state-" + host;
  std::system(("mkdir -p '" + state + "'").c_str());
  const bool own_listen = std::find(extra.begin(), extra.end(), "--listen") != extra.end();
  const bool own_controller =
      std::find(extra.begin(), extra.end(), "--controller-url") != extra.end();
  std::vector<std::string> args{"--host",
                                host,
                                "--driver",
                                driver,
                                "--controller-token-file",
                                dir_ + "/agent-token",
                                "--command-token-file",
                                dir_ + "/command-token",
                                "--port-file",
                                port_file,
                                "--state-dir",
                                state,
                                "--heartbeat-interval",
                                std::to_string(options_.heartbeat_interval_s),
                                "--log-level",
                                "debug"};
  if (!own_listen) args.insert(args.end(), {"--listen", "127.0.0.1:0"});
  if (!own_controller) args.insert(args.end(), {"--controller-url", url_});
  args.insert(args.end(), extra.begin(), extra.end());
  agents_[host] = std::make_unique<Process>(AgentBinary(), args, dir_ + "/agent-" + host + ".log");
  std::string port = WaitForFile(port_file, std::chrono::seconds(20));
  if (port.empty()) throw std::runtime_error("agent " + host + " did not start: " + AgentLog(host));
  agent_ports_[host] = std::stoi(port);
}

void Stack::KillAgent(const std::string& host) { agents_.at(host)->Kill(); }

void Stack::SignalAgent(const std::string& host, int signal) {
  ::kill(agents_.at(host)->pid(), signal);
}

HttpClient Stack::AgentApi(const std::string& host) const {
  return HttpClient("http://127.0.0.1:" + std::to_string(agent_ports_.at(host)), kCommandToken);
}

std::string Stack::ControllerLog() const { return controller_ ? controller_->Log() : ""; }
std::string Stack::AgentLog(const std::string& host) const {
  auto it = agents_.find(host);
  return it == agents_.end() ? "" : it->second->Log();
}

bool Stack::WaitFor(const std::function<bool()>& done, std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (done()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return done();
}

bool Stack::WaitUntilUp(std::initializer_list<std::string> hosts,
                        std::chrono::milliseconds timeout) const {
  return WaitFor(
      [&] {
        for (const auto& h : hosts) {
          if (HostState(h) != "up") return false;
        }
        return true;
      },
      timeout);
}

std::string Stack::HostState(const std::string& host) const {
  auto r = Admin().Get("/v2.1/os-hypervisors/detail");
  if (r.status != 200) return "";
  for (const auto& h : r.body["hypervisors"]) {
    if (h["hypervisor_hostname"] == host) return h["state"].get<std::string>();
  }
  return "";
}

void Stack::EnsureFlavor(const std::string& id, int vcpus, int ram_mb, int disk_gb) {
  if (Admin().Get("/v2.1/flavors/" + id).status == 200) return;
  auto r = Admin().Post("/v2.1/flavors", {{"flavor",
                                           {{"name", "flavor-" + id},
                                            {"id", id},
                                            {"vcpus", vcpus},
                                            {"ram", ram_mb},
                                            {"disk", disk_gb}}}});
  if (r.status != 200) throw std::runtime_error("flavor create failed: " + r.raw);
}

std::string Stack::CreateServer(const std::string& name, const std::string& flavor,
                                const std::string& az) {
  nlohmann::json server = {{"name", name}, {"flavorRef", flavor}};
  if (!az.empty()) server["availability_zone"] = az;
  auto r = Admin().Post("/v2.1/servers", {{"server", server}});
  if (r.status != 202)
    throw std::runtime_error("server create failed: " + std::to_string(r.status) + " " + r.raw);
  return r.body["server"]["id"].get<std::string>();
}

nlohmann::json Stack::WaitServerSettled(const std::string& uuid,
                                        std::chrono::milliseconds timeout) {
  nlohmann::json last;
  WaitFor(
      [&] {
        auto r = Admin().Get("/v2.1/servers/" + uuid);
        if (r.status != 200) return false;
        last = r.body["server"];
        return last["status"] != "BUILD";
      },
      timeout);
  return last;
}

}  // namespace ferry::testing
