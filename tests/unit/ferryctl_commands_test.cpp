// ferryctl end to end: the real command line against a real HTTP server on 127.0.0.1 that
// records what it receives. Each test pins the requests a command sends and what it prints.
#include <gtest/gtest.h>

#include "tests/unit/ferryctl_recording_server.hpp"

namespace ferry::client {
namespace {

using nlohmann::json;
using testing::CliResult;
using testing::RecordingServer;
using testing::RunCli;

constexpr const char* kServiceUuid = "6f1c2e7a-0000-4000-8000-000000000001";
constexpr const char* kServerUuid = "9128d044-7b61-403e-b766-7547076ff6c1";

class FerryctlCommands : public ::testing::Test {
 protected:
  CliResult Run(std::vector<std::string> args) { return RunCli(std::move(args), env_); }
  RecordingServer server_;  // declared first: env_ needs its URL
  Env env_{server_.Url(), "env-token"};
};

json Services(const std::string& host) {
  return {{"services",
           {{{"id", kServiceUuid},
             {"binary", "nova-compute"},
             {"host", host},
             {"zone", "nova"},
             {"status", "enabled"},
             {"state", "up"},
             {"forced_down", false}}}}};
}

TEST_F(FerryctlCommands, ServiceSetDisableWithReasonFindsServiceByHostThenPutsOnItsUuid) {
  server_.On("GET", "/v2.1/os-services", 200, Services("cmp1"));
  server_.On("PUT", std::string("/v2.1/os-services/") + kServiceUuid, 200,
             json{{"service",
                   {{"id", kServiceUuid},
                    {"host", "cmp1"},
                    {"status", "disabled"},
                    {"disabled_reason", "disk swap"}}}});
  const CliResult r = Run({"service", "set", "cmp1", "--disable", "--reason", "disk swap"});
  ASSERT_EQ(r.code, 0) << r.err;
  const auto requests = server_.Requests();
  ASSERT_EQ(requests.size(), 2u);
  EXPECT_EQ(requests[0].Param("host"), "cmp1");
  EXPECT_EQ(requests[0].Param("binary"), "nova-compute");
  EXPECT_EQ(requests[1].method, "PUT");
  EXPECT_EQ(requests[1].Json(), (json{{"status", "disabled"}, {"disabled_reason", "disk swap"}}));
  EXPECT_NE(r.out.find("| disabled "), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("disk swap"), std::string::npos) << r.out;
}

TEST_F(FerryctlCommands, ServiceSetEnableAndForceDownBodies) {
  server_.On("GET", "/v2.1/os-services", 200, Services("cmp1"));
  server_.On("PUT", std::string("/v2.1/os-services/") + kServiceUuid, 200,
             json{{"service", {{"id", kServiceUuid}}}});
  ASSERT_EQ(Run({"service", "set", "cmp1", "--enable"}).code, 0);
  ASSERT_EQ(Run({"service", "set", "cmp1", "--force-down"}).code, 0);
  ASSERT_EQ(Run({"service", "set", "cmp1", "--no-force-down"}).code, 0);
  const auto changes = server_.Changes();
  ASSERT_EQ(changes.size(), 3u);
  EXPECT_EQ(changes[0].Json(), (json{{"status", "enabled"}}));
  EXPECT_EQ(changes[1].Json(), (json{{"forced_down", true}}));
  EXPECT_EQ(changes[2].Json(), (json{{"forced_down", false}}));
}

TEST_F(FerryctlCommands, ServiceSetBelow253UsesNovasLegacyHostAndBinaryUrls) {
  server_.On("PUT", "/v2.1/os-services/disable-log-reason", 200,
             json{{"service", {{"host", "cmp1"}, {"status", "disabled"}}}});
  const CliResult r = Run(
      {"--os-compute-api-version", "2.52", "service", "set", "cmp1", "--disable", "--reason", "r"});
  ASSERT_EQ(r.code, 0) << r.err;
  const auto requests = server_.Requests();
  ASSERT_EQ(requests.size(), 1u);  // no uuid lookup before 2.53
  EXPECT_EQ(requests[0].Json(),
            (json{{"host", "cmp1"}, {"binary", "nova-compute"}, {"disabled_reason", "r"}}));
  EXPECT_EQ(requests[0].Header("OpenStack-API-Version"), "compute 2.52");
}

TEST_F(FerryctlCommands, ServiceSetOnUnknownHostFailsWithoutChangingAnything) {
  server_.On("GET", "/v2.1/os-services", 200, json{{"services", json::array()}});
  const CliResult r = Run({"service", "set", "ghost", "--disable"});
  EXPECT_EQ(r.code, 1);
  EXPECT_EQ(r.err, "ERROR: No nova-compute service on host 'ghost'.\n");
  EXPECT_TRUE(server_.Changes().empty());
}

TEST_F(FerryctlCommands, AggregateSetSendsSetMetadataWithNullForUnsetKeys) {
  server_.On("GET", "/v2.1/os-aggregates", 200,
             json{{"aggregates", {{{"id", 3}, {"name", "fast"}, {"hosts", json::array()}}}}});
  server_.On("POST", "/v2.1/os-aggregates/3/action", 200,
             json{{"aggregate", {{"id", 3}, {"name", "fast"}, {"metadata", {{"a", "b"}}}}}});
  const CliResult r =
      Run({"aggregate", "set", "fast", "--property", "a=b", "--unset-property", "c"});
  ASSERT_EQ(r.code, 0) << r.err;
  const auto changes = server_.Changes();
  ASSERT_EQ(changes.size(), 1u);
  EXPECT_EQ(changes[0].Json(), json::parse(R"({"set_metadata":{"metadata":{"a":"b","c":null}}})"));
  EXPECT_NE(r.out.find("| metadata | a=b "), std::string::npos) << r.out;
}

TEST_F(FerryctlCommands, AggregateAddHostByIdPostsAddHostWithoutALookup) {
  server_.On("POST", "/v2.1/os-aggregates/12/action", 200,
             json{{"aggregate", {{"id", 12}, {"hosts", {"cmp1"}}}}});
  ASSERT_EQ(Run({"aggregate", "add-host", "12", "cmp1"}).code, 0);
  const auto requests = server_.Requests();
  ASSERT_EQ(requests.size(), 1u);
  EXPECT_EQ(requests[0].Json(), (json{{"add_host", {{"host", "cmp1"}}}}));
}

TEST_F(FerryctlCommands, NovaErrorIsPrintedWithFaultNameAndStatusAndExitsOne) {
  server_.On(
      "GET", "/v2.1/os-aggregates/99", 404,
      json{{"itemNotFound", {{"code", 404}, {"message", "Aggregate 99 could not be found."}}}});
  const CliResult r = Run({"aggregate", "show", "99"});
  EXPECT_EQ(r.code, 1);
  EXPECT_EQ(r.err, "ERROR (itemNotFound HTTP 404): Aggregate 99 could not be found.\n");
  EXPECT_EQ(r.out, "");
}

TEST_F(FerryctlCommands, ConnectionFailureNamesTheUrlAndExitsOne) {
  std::string dead_url;
  {
    RecordingServer closed;
    dead_url = closed.Url();
  }
  const CliResult r = RunCli({"--url", dead_url, "hypervisor", "list"}, env_);
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("cannot reach " + dead_url), std::string::npos) << r.err;
  EXPECT_NE(r.err.find(dead_url + "/v2.1/os-hypervisors/detail"), std::string::npos) << r.err;
}

TEST_F(FerryctlCommands, UsageErrorsExitTwoWithoutCallingTheApi) {
  EXPECT_EQ(Run({}).code, 2);
  EXPECT_EQ(Run({"server"}).code, 2);
  EXPECT_EQ(Run({"service", "set", "cmp1"}).code, 2);  // nothing to change
  EXPECT_EQ(Run({"service", "set", "cmp1", "--enable", "--disable"}).code, 2);
  EXPECT_EQ(Run({"aggregate", "set", "a", "--property", "novalue"}).code, 2);
  EXPECT_EQ(Run({"flavor", "create", "f", "--vcpus", "1", "--ram", "512"}).code, 2);
  EXPECT_EQ(Run({"--os-compute-api-version", "3.0", "version"}).code, 2);
  EXPECT_EQ(RunCli({"version"}, Env{}).code, 2);  // no URL anywhere
  EXPECT_TRUE(server_.Requests().empty());
  EXPECT_EQ(Run({"--help"}).code, 0);
}

TEST_F(FerryctlCommands, TokenAndMicroversionFlagsOverrideTheEnvironmentAndDefaults) {
  server_.On("GET", "/v2.1", 200, json{{"version", {{"id", "v2.1"}, {"version", "2.92"}}}});
  ASSERT_EQ(Run({"version"}).code, 0);
  ASSERT_EQ(Run({"--token", "flag-token", "--os-compute-api-version", "2.60", "version"}).code, 0);
  const auto requests = server_.Requests();
  ASSERT_EQ(requests.size(), 2u);
  EXPECT_EQ(requests[0].Header("X-Auth-Token"), "env-token");
  EXPECT_EQ(requests[0].Header("OpenStack-API-Version"), "compute 2.92");
  EXPECT_EQ(requests[1].Header("X-Auth-Token"), "flag-token");
  EXPECT_EQ(requests[1].Header("OpenStack-API-Version"), "compute 2.60");
  EXPECT_EQ(requests[1].Header("X-OpenStack-Nova-API-Version"), "2.60");
}

TEST_F(FerryctlCommands, JsonFlagPrintsTheApiBodyUnchangedEvenAfterTheVerb) {
  const json body = {{"hypervisors",
                      {{{"id", "h-1"},
                        {"hypervisor_hostname", "sim1"},
                        {"hypervisor_type", "ferry-sim"},
                        {"state", "up"}}}}};
  server_.On("GET", "/v2.1/os-hypervisors/detail", 200, body);
  const CliResult r = Run({"hypervisor", "list", "--json"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(json::parse(r.out), body);  // no "(simulated)" label: JSON is for programs
}

TEST_F(FerryctlCommands, HypervisorListLabelsTheSimDriverAsSimulated) {
  server_.On("GET", "/v2.1/os-hypervisors/detail", 200,
             json{{"hypervisors",
                   {{{"id", "h-1"},
                     {"hypervisor_hostname", "sim1"},
                     {"hypervisor_type", "ferry-sim"},
                     {"state", "up"},
                     {"status", "enabled"},
                     {"host_ip", "10.0.0.1"}},
                    {{"id", "h-2"},
                     {"hypervisor_hostname", "kvm1"},
                     {"hypervisor_type", "QEMU"},
                     {"state", "down"},
                     {"status", "disabled"},
                     {"host_ip", "10.0.0.2"}}}}});
  const CliResult r = Run({"hypervisor", "list"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(
      r.out,
      "+-----+---------------------+-----------------------+-------+----------+----------+\n"
      "| ID  | Hypervisor Hostname | Hypervisor Type       | State | Status   | Host IP  |\n"
      "+-----+---------------------+-----------------------+-------+----------+----------+\n"
      "| h-1 | sim1                | ferry-sim (simulated) | up    | enabled  | 10.0.0.1 |\n"
      "| h-2 | kvm1                | QEMU                  | down  | disabled | 10.0.0.2 |\n"
      "+-----+---------------------+-----------------------+-------+----------+----------+\n");
}

TEST_F(FerryctlCommands, HypervisorShowByNameLooksUpTheIdThenShowsWithServers) {
  const std::string id = "1bb62a04-c576-402c-8147-9e89757a09e3";
  server_.On("GET", "/v2.1/os-hypervisors/detail", 200,
             json{{"hypervisors",
                   {{{"id", id}, {"hypervisor_hostname", "cmp1"}},
                    {{"id", "other"}, {"hypervisor_hostname", "cmp10"}}}}});
  server_.On("GET", "/v2.1/os-hypervisors/" + id, 200,
             json{{"hypervisor",
                   {{"id", id},
                    {"hypervisor_hostname", "cmp1"},
                    {"servers", {{{"name", "vm1"}, {"uuid", kServerUuid}}}}}}});
  const CliResult r = Run({"hypervisor", "show", "cmp1", "--with-servers"});
  ASSERT_EQ(r.code, 0) << r.err;
  const auto requests = server_.Requests();
  ASSERT_EQ(requests.size(), 2u);
  EXPECT_EQ(requests[0].Param("hypervisor_hostname_pattern"), "cmp1");
  EXPECT_EQ(requests[1].Param("with_servers"), "true");
  EXPECT_NE(r.out.find(std::string("vm1 (") + kServerUuid + ")"), std::string::npos) << r.out;
}

TEST_F(FerryctlCommands, ServerListSendsFiltersFollowsNextPagesAndShowsHostAndFlavor) {
  server_.OnFn("GET", "/v2.1/servers/detail", [this](const httplib::Request& req) {
    json server = {{"id", req.has_param("marker") ? "s2" : "s1"},
                   {"name", "vm"},
                   {"status", "ACTIVE"},
                   {"OS-EXT-STS:task_state", nullptr},
                   {"OS-EXT-STS:power_state", 1},
                   {"OS-EXT-SRV-ATTR:host", "cmp1"},
                   {"flavor", {{"original_name", "m1.small"}}}};
    json body = {{"servers", {server}}};
    if (!req.has_param("marker")) {
      body["servers_links"] = {
          {{"rel", "next"}, {"href", server_.Url() + "/v2.1/servers/detail?marker=s1"}}};
    }
    return testing::Canned{200, body.dump()};
  });
  const CliResult r = Run({"server", "list", "--host", "cmp1", "--status", "ACTIVE"});
  ASSERT_EQ(r.code, 0) << r.err;
  const auto requests = server_.Requests();
  ASSERT_EQ(requests.size(), 2u);
  EXPECT_EQ(requests[0].Param("host"), "cmp1");
  EXPECT_EQ(requests[0].Param("status"), "ACTIVE");
  EXPECT_EQ(requests[1].Param("marker"), "s1");
  EXPECT_NE(r.out.find("| s1 | vm   | ACTIVE |            | Running     | cmp1 | m1.small |"),
            std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("| s2 |"), std::string::npos) << r.out;
}

TEST_F(FerryctlCommands, ServerCreateOnHostUsesHostFieldFrom274AndForcedZoneBefore) {
  server_.On("GET", "/v2.1/flavors/m1.small", 404,
             json{{"itemNotFound", {{"code", 404}, {"message", "x"}}}});
  server_.On("GET", "/v2.1/flavors/detail", 200,
             json{{"flavors", {{{"id", "2"}, {"name", "m1.small"}}}}});
  server_.On("POST", "/v2.1/servers", 202, json{{"server", {{"id", kServerUuid}}}});
  ASSERT_EQ(Run({"server", "create", "vm1", "--flavor", "m1.small", "--host", "cmp1"}).code, 0);
  ASSERT_EQ(Run({"--os-compute-api-version", "2.73", "server", "create", "vm1", "--flavor",
                 "m1.small", "--host", "cmp1"})
                .code,
            0);
  const auto changes = server_.Changes();
  ASSERT_EQ(changes.size(), 2u);
  EXPECT_EQ(
      changes[0].Json(),
      (json{{"server",
             {{"name", "vm1"}, {"flavorRef", "2"}, {"networks", "none"}, {"host", "cmp1"}}}}));
  EXPECT_EQ(changes[1].Json(), (json{{"server",
                                      {{"name", "vm1"},
                                       {"flavorRef", "2"},
                                       {"networks", "none"},
                                       {"availability_zone", "nova:cmp1"}}}}));
}

TEST_F(FerryctlCommands, ServerDeleteByAmbiguousNameRefusesToGuess) {
  server_.On("GET", "/v2.1/servers/detail", 200,
             json{{"servers",
                   {{{"id", "a"}, {"name", "web"}},
                    {{"id", "b"}, {"name", "web"}},
                    {{"id", "c"}, {"name", "web2"}}}}});
  const CliResult r = Run({"server", "delete", "web"});
  EXPECT_EQ(r.code, 1);
  EXPECT_EQ(r.err, "ERROR: More than one server is named 'web'; use its ID.\n");
  EXPECT_TRUE(server_.Changes().empty());
  // An operator names any project's server: Nova lists only the admin's own without it.
  ASSERT_FALSE(server_.Requests().empty());
  EXPECT_EQ(server_.Requests()[0].Param("all_tenants"), "1");
}

TEST_F(FerryctlCommands, UnmanagedAdoptPostsAdoptActionAndListShowsDomains) {
  const std::string domain = "0e6e1b3a-2b5c-4a57-9d1c-6a4c1f1f0b11";
  server_.On("GET", "/v2.1/flavors/1", 200, json{{"flavor", {{"id", "1"}, {"name", "tiny"}}}});
  server_.On("POST", "/v2.1/ferry/unmanaged-domains/" + domain + "/action", 202,
             json{{"server", {{"id", domain}, {"status", "ACTIVE"}}}});
  server_.On("GET", "/v2.1/ferry/unmanaged-domains", 200,
             json{{"unmanaged_domains",
                   {{{"host", "cmp1"},
                     {"uuid", domain},
                     {"name", "legacy-db"},
                     {"vcpus", 4},
                     {"memory_mb", 8192},
                     {"disk_gb", 80},
                     {"power_state", 1},
                     {"first_seen_at", "2026-01-02T03:04:05.000000"},
                     {"last_seen_at", "2026-01-02T03:09:05.000000"}}}}});
  ASSERT_EQ(Run({"unmanaged", "adopt", domain, "--flavor", "1"}).code, 0);
  EXPECT_EQ(server_.Changes().at(0).Json(), (json{{"adopt", {{"flavorRef", "1"}}}}));
  const CliResult list = Run({"unmanaged", "list"});
  ASSERT_EQ(list.code, 0) << list.err;
  EXPECT_NE(
      list.out.find("| cmp1 | " + domain + " | legacy-db |     4 |     8192 |        80 | Running"),
      std::string::npos)
      << list.out;
}

TEST_F(FerryctlCommands, FlavorCreateSendsNovaFlavorBody) {
  server_.On("POST", "/v2.1/flavors", 200, json{{"flavor", {{"id", "f1"}, {"name", "big"}}}});
  ASSERT_EQ(Run({"flavor", "create", "big", "--vcpus", "8", "--ram", "16384", "--disk", "40",
                 "--id", "f1"})
                .code,
            0);
  EXPECT_EQ(server_.Changes().at(0).Json(),
            (json{{"flavor",
                   {{"name", "big"}, {"vcpus", 8}, {"ram", 16384}, {"disk", 40}, {"id", "f1"}}}}));
}

}  // namespace
}  // namespace ferry::client
