// The real OpenStack clients (Debian's openstackclient and novaclient) against the real
// controller: what operators type must work, not only what our own client sends.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <pqxx/pqxx>
#include <set>

#include "tests/support/stack.hpp"

namespace ferry::testing {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;

constexpr const char* kOpenstack = "/usr/bin/openstack";
constexpr const char* kNova = "/usr/bin/nova";

struct CliResult {
  int status = -1;
  std::string out;
};

// Runs a client with its arguments (no shell), stdout+stderr captured.
CliResult RunCli(const std::vector<std::string>& argv) {
  std::string cmd;
  for (const auto& a : argv) cmd += "'" + a + "' ";  // arguments here never contain quotes
  cmd += "2>&1";
  CliResult r;
  FILE* p = popen(cmd.c_str(), "r");
  if (!p) return r;
  std::array<char, 4096> buf{};
  size_t n;
  while ((n = fread(buf.data(), 1, buf.size(), p)) > 0) r.out.append(buf.data(), n);
  int st = pclose(p);
  r.status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  return r;
}

class OpenstackCli : public ::testing::Test {
 protected:
  void SetUp() override {
    FERRY_REQUIRE_PG(dsn);
    if (access(kOpenstack, X_OK) != 0 || access(kNova, X_OK) != 0) {
      if (InCi())
        FAIL() << "python3-openstackclient/novaclient required under CI (deploy/install-deps)";
      GTEST_SKIP() << "openstack/nova CLIs not installed; run deploy/install-deps";
    }
    stack_ = std::make_unique<Stack>(dsn);
    stack_->StartController();
    stack_->StartAgent("sim-1");
    stack_->StartAgent("sim-2");
    ASSERT_TRUE(stack_->WaitUntilUp({"sim-1", "sim-2"}));
    stack_->EnsureFlavor("1", 1, 512, 1);
  }
  CliResult Openstack(std::vector<std::string> args) {
    std::vector<std::string> argv{
        kOpenstack,  "--os-auth-type", "admin_token",          "--os-token",
        kAdminToken, "--os-endpoint",  stack_->url() + "/v2.1"};
    argv.insert(argv.end(), args.begin(), args.end());
    return RunCli(argv);
  }
  json OpenstackJson(std::vector<std::string> args) {
    args.insert(args.end(), {"-f", "json"});
    auto r = Openstack(args);
    EXPECT_EQ(r.status, 0) << r.out;
    return json::parse(r.out, nullptr, false);
  }
  std::unique_ptr<Stack> stack_;
};

std::set<std::string> Column(const json& rows, const char* key) {
  std::set<std::string> out;
  for (const auto& r : rows) out.insert(r[key].get<std::string>());
  return out;
}

TEST_F(OpenstackCli, HypervisorServiceFlavorAndServerListsWork) {
  auto hyp = OpenstackJson({"hypervisor", "list"});
  EXPECT_EQ(Column(hyp, "Hypervisor Hostname"), (std::set<std::string>{"sim-1", "sim-2"}));
  EXPECT_EQ(Column(hyp, "State"), (std::set<std::string>{"up"}));
  auto services = OpenstackJson({"compute", "service", "list"});
  EXPECT_EQ(Column(services, "Host"), (std::set<std::string>{"sim-1", "sim-2"}));
  auto flavors = OpenstackJson({"flavor", "list"});
  EXPECT_EQ(Column(flavors, "ID").count("1"), 1u);
  std::string id = stack_->CreateServer("cli-vm");
  stack_->WaitServerSettled(id);
  auto servers = OpenstackJson({"server", "list"});
  EXPECT_EQ(Column(servers, "Name"), (std::set<std::string>{"cli-vm"}));
  auto shown = OpenstackJson({"server", "show", "cli-vm"});  // name lookup: 404, ?name=, then uuid
  EXPECT_EQ(shown["id"], id);
  EXPECT_EQ(shown["status"], "ACTIVE");
}

TEST_F(OpenstackCli, AggregateWithZoneAndHost) {
  auto created = OpenstackJson({"aggregate", "create", "rack-9", "--zone", "az9"});
  EXPECT_EQ(created["name"], "rack-9");
  ASSERT_EQ(Openstack({"aggregate", "add", "host", "rack-9", "sim-2"}).status, 0);
  auto shown = OpenstackJson({"aggregate", "show", "rack-9"});
  EXPECT_EQ(shown["availability_zone"], "az9");
  EXPECT_NE(shown["hosts"].dump().find("sim-2"), std::string::npos) << shown.dump();
  auto services = OpenstackJson({"compute", "service", "list"});
  for (const auto& s : services) {
    if (s["Host"] == "sim-2") {
      EXPECT_EQ(s["Zone"], "az9");
    }
  }
}

TEST_F(OpenstackCli, ServiceDisableWithReasonInOldAndNewMicroversions) {
  auto r = Openstack({"compute", "service", "set", "--disable", "--disable-reason", "maintenance",
                      "sim-2", "nova-compute"});
  ASSERT_EQ(r.status, 0) << r.out;
  auto services = stack_->Admin().Get("/v2.1/os-services?host=sim-2").body["services"];
  EXPECT_EQ(services[0]["status"], "disabled");
  EXPECT_EQ(services[0]["disabled_reason"], "maintenance");
  r = Openstack({"--os-compute-api-version", "2.53", "compute", "service", "set", "--enable",
                 "sim-2", "nova-compute"});
  ASSERT_EQ(r.status, 0) << r.out;
  EXPECT_EQ(stack_->Admin().Get("/v2.1/os-services?host=sim-2").body["services"][0]["status"],
            "enabled");
}

// openstack server migrate / resize / resize confirm|revert: the bodies OSC 6.0 sends
// ({"migrate": {}} at 2.1, {"migrate": {"host": h}} from 2.56, {"resize": {"flavorRef": id}},
// {"confirmResize": null}, {"revertResize": null}) are accepted and the moves run.
TEST_F(OpenstackCli, ServerMigrateResizeConfirmAndRevert) {
  stack_->EnsureFlavor("2", 2, 1024, 2);
  std::string id = stack_->CreateServer("cold-vm", "1", "nova:sim-1");
  stack_->WaitServerSettled(id);
  auto status_is = [&](const std::string& status, const std::string& host) {
    return Stack::WaitFor(
        [&] {
          auto s = stack_->Admin().Get("/v2.1/servers/" + id).body["server"];
          return s["status"] == status && s["OS-EXT-SRV-ATTR:host"] == host;
        },
        60s);
  };
  auto r = Openstack({"server", "migrate", id});
  ASSERT_EQ(r.status, 0) << r.out;
  ASSERT_TRUE(status_is("VERIFY_RESIZE", "sim-2"));
  r = Openstack({"server", "resize", "confirm", id});
  ASSERT_EQ(r.status, 0) << r.out;
  ASSERT_TRUE(status_is("ACTIVE", "sim-2"));

  r = Openstack({"--os-compute-api-version", "2.56", "server", "migrate", "--host", "sim-1", id});
  ASSERT_EQ(r.status, 0) << r.out;
  ASSERT_TRUE(status_is("VERIFY_RESIZE", "sim-1"));
  r = Openstack({"server", "resize", "revert", id});
  ASSERT_EQ(r.status, 0) << r.out;
  ASSERT_TRUE(status_is("ACTIVE", "sim-2"));

  r = Openstack({"server", "resize", "--flavor", "flavor-2", id});
  ASSERT_EQ(r.status, 0) << r.out;
  ASSERT_TRUE(Stack::WaitFor(
      [&] {
        return stack_->Admin().Get("/v2.1/servers/" + id).body["server"]["status"] ==
               "VERIFY_RESIZE";
      },
      60s));
  r = Openstack({"server", "resize", "confirm", id});
  ASSERT_EQ(r.status, 0) << r.out;
  auto shown = OpenstackJson({"server", "show", id});
  EXPECT_NE(shown.dump().find("flavor-2"), std::string::npos) << shown.dump();
  // A refusal reaches the operator with Nova's text and a non-zero exit.
  r = Openstack({"server", "resize", "confirm", id});
  EXPECT_NE(r.status, 0) << r.out;
  EXPECT_NE(r.out.find("Cannot 'confirmResize' instance " + id), std::string::npos) << r.out;
}

TEST_F(OpenstackCli, NovaClientNegotiatesAndListsHypervisorServers) {
  std::string id = stack_->CreateServer("nova-vm", "1", "nova:sim-1");
  stack_->WaitServerSettled(id);
  // novaclient needs these set even in auth-type none/admin_token mode; it never contacts them.
  setenv("OS_USERNAME", "x", 1);
  setenv("OS_PROJECT_ID", "p", 1);
  setenv("OS_AUTH_URL", "http://127.0.0.1:1/unused", 1);
  auto r = RunCli({kNova, "--os-auth-type", "admin_token", "--os-token", kAdminToken,
                   "--os-endpoint", stack_->url() + "/v2.1", "hypervisor-servers", "sim-1"});
  ASSERT_EQ(r.status, 0) << r.out;
  EXPECT_NE(r.out.find(id), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("nova-vm"), std::string::npos) << r.out;
}

// novaclient's host-level loops (migration-anchors.md §1.9) empty a host against ferry: each
// finds the host's servers through os-hypervisors?with_servers and sends one request per server.
class NovaHostLoops : public OpenstackCli {
 protected:
  CliResult Nova(std::vector<std::string> args) {
    setenv("OS_USERNAME", "x", 1);
    setenv("OS_PROJECT_ID", "p", 1);
    setenv("OS_AUTH_URL", "http://127.0.0.1:1/unused", 1);
    std::vector<std::string> argv{
        kNova,       "--os-auth-type", "admin_token",          "--os-token",
        kAdminToken, "--os-endpoint",  stack_->url() + "/v2.1"};
    argv.insert(argv.end(), args.begin(), args.end());
    return RunCli(argv);
  }
  std::string ServerOn(const std::string& host, const std::string& name) {
    auto id = stack_->CreateServer(name, "1", "nova:" + host);
    EXPECT_EQ(stack_->WaitServerSettled(id)["status"], "ACTIVE");
    return id;
  }
  bool WaitOn(const std::string& id, const std::string& host, const std::string& status) {
    return Stack::WaitFor(
        [&] {
          auto s = stack_->Admin().Get("/v2.1/servers/" + id).body["server"];
          return s["OS-EXT-SRV-ATTR:host"] == host && s["status"] == status;
        },
        60s);
  }
};

TEST_F(NovaHostLoops, HostEvacuateLiveEmptiesAHostThatRuns) {
  auto a = ServerOn("sim-1", "live-a");
  auto b = ServerOn("sim-1", "live-b");
  auto r = Nova({"host-evacuate-live", "--strict", "sim-1"});
  ASSERT_EQ(r.status, 0) << r.out;
  EXPECT_EQ(r.out.find("False"), std::string::npos) << "a live migration was not accepted\n"
                                                    << r.out;
  EXPECT_TRUE(WaitOn(a, "sim-2", "ACTIVE")) << r.out;
  EXPECT_TRUE(WaitOn(b, "sim-2", "ACTIVE")) << r.out;
}

TEST_F(NovaHostLoops, HostServersMigrateMovesEveryServerCold) {
  auto a = ServerOn("sim-1", "cold-a");
  auto r = Nova({"host-servers-migrate", "--strict", "sim-1"});
  ASSERT_EQ(r.status, 0) << r.out;
  EXPECT_NE(r.out.find(a), std::string::npos) << r.out;
  ASSERT_TRUE(WaitOn(a, "sim-2", "VERIFY_RESIZE")) << r.out;
  r = Nova({"resize-confirm", a});
  ASSERT_EQ(r.status, 0) << r.out;
  EXPECT_TRUE(WaitOn(a, "sim-2", "ACTIVE"));
}

TEST_F(NovaHostLoops, HostEvacuateRebuildsTheServersOfADeadHost) {
  auto a = ServerOn("sim-1", "dead-a");
  auto b = ServerOn("sim-1", "dead-b");
  pqxx::connection c(stack_->dsn());
  pqxx::work w(c);
  w.exec("UPDATE servers SET image_ref = 'img' WHERE uuid IN ('" + a + "', '" + b + "')");
  w.exec("UPDATE hosts SET forced_down = true WHERE name = 'sim-1'");
  w.commit();
  stack_->KillAgent("sim-1");
  auto r = Nova({"host-evacuate", "--strict", "sim-1"});
  ASSERT_EQ(r.status, 0) << r.out;
  EXPECT_EQ(r.out.find("False"), std::string::npos) << "an evacuation was not accepted\n" << r.out;
  EXPECT_TRUE(WaitOn(a, "sim-2", "ACTIVE")) << r.out;
  EXPECT_TRUE(WaitOn(b, "sim-2", "ACTIVE")) << r.out;
}

}  // namespace
}  // namespace ferry::testing
