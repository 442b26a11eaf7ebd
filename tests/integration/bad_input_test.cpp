// Bad input gets a clear 4xx in Nova's error body and changes nothing: each case below is sent
// to the real controller and the tables that could have changed are fingerprinted around it.
#include <gtest/gtest.h>

#include <pqxx/pqxx>

#include "tests/support/stack.hpp"

namespace ferry::testing {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;

struct BadCase {
  std::string name;
  std::string method;
  std::string path;
  std::string body;  // raw, so malformed JSON can be sent
  int status;
  std::string fault;
  std::string microversion = "";
};

std::string Fingerprint(const std::string& dsn) {
  pqxx::connection c(dsn);
  pqxx::work w(c);
  std::string out;
  for (const char* table : {"flavors", "aggregates", "aggregate_hosts", "aggregate_metadata",
                            "servers", "claims", "unmanaged_domains"}) {
    // Without what only agents' reports write (a server's reported disks, set by the first
    // heartbeat after it was built, whenever that lands).
    out += w.exec1(std::string("SELECT count(*)::text || ':' || coalesce(md5(string_agg("
                               "(to_jsonb(t) - 'reported_disks')::text, '|' ORDER BY "
                               "(to_jsonb(t) - 'reported_disks')::text)), '') FROM ") +
                   table + " t")[0]
               .as<std::string>() +
           ";";
  }
  // Hosts: only what an API call could change (heartbeats move last_heartbeat_at).
  out += w.exec1(
              "SELECT coalesce(md5(string_agg(name || disabled::text || coalesce(disabled_reason, "
              "'') || forced_down::text, '|' ORDER BY name)), '') FROM hosts")[0]
             .as<std::string>();
  return out;
}

class BadInput : public ::testing::TestWithParam<BadCase> {
 public:
  static void SetUpTestSuite() {
    std::string why;
    auto dsn = ClusterDsn(&why);
    if (!dsn) return;
    stack_ = new Stack(*dsn);
    stack_->StartController();
    stack_->StartAgent("sim-1");
    stack_->WaitUntilUp({"sim-1"});
    stack_->EnsureFlavor("1", 1, 512, 1);
    auto agg = stack_->Admin().Post("/v2.1/os-aggregates", {{"aggregate", {{"name", "rack-1"}}}});
    stack_->Admin().Post("/v2.1/os-aggregates/" + agg.body["aggregate"]["id"].dump() + "/action",
                         {{"add_host", {{"host", "sim-1"}}}});
    server_ = stack_->CreateServer("existing", "1");
    stack_->WaitServerSettled(server_);
  }
  static void TearDownTestSuite() {
    delete stack_;
    stack_ = nullptr;
  }
  static Stack* stack_;
  static std::string server_;
};
Stack* BadInput::stack_ = nullptr;
std::string BadInput::server_;

TEST_P(BadInput, IsRejectedWithNovaFaultAndWritesNothing) {
  FERRY_REQUIRE_PG(dsn);
  ASSERT_NE(stack_, nullptr);
  const BadCase& c = GetParam();
  std::string path = c.path;
  if (auto at = path.find("{server}"); at != std::string::npos) path.replace(at, 8, server_);
  auto before = Fingerprint(stack_->dsn());
  auto client = stack_->Admin();
  if (!c.microversion.empty()) client.SetMicroversion(c.microversion);
  HttpResult r;
  if (c.method == "POST") {
    r = client.PostRaw(path, c.body);
  } else if (c.method == "PUT") {
    r = client.Put(path, json::parse(c.body));
  } else if (c.method == "DELETE") {
    r = client.Delete(path);
  } else {
    r = client.Get(path);
  }
  EXPECT_EQ(r.status, c.status) << r.raw;
  ASSERT_TRUE(r.body.is_object()) << r.raw;
  ASSERT_TRUE(r.body.contains(c.fault)) << r.raw;
  EXPECT_EQ(r.body[c.fault]["code"], c.status);
  EXPECT_FALSE(r.body[c.fault]["message"].get<std::string>().empty());
  EXPECT_EQ(Fingerprint(stack_->dsn()), before) << "a rejected request changed the database";
}

const std::string kLong(256, 'x');

INSTANTIATE_TEST_SUITE_P(
    Cases, BadInput,
    ::testing::Values(
        BadCase{"MalformedJson", "POST", "/v2.1/flavors", "{\"flavor\": {", 400, "badRequest"},
        BadCase{"BodyNotObject", "POST", "/v2.1/os-aggregates", "[1,2]", 400, "badRequest"},
        BadCase{"FlavorRamWrongType", "POST", "/v2.1/flavors",
                R"({"flavor":{"name":"f","ram":"lots","vcpus":1,"disk":1}})", 400, "badRequest"},
        BadCase{"FlavorNegativeVcpus", "POST", "/v2.1/flavors",
                R"({"flavor":{"name":"f","ram":1,"vcpus":-1,"disk":1}})", 400, "badRequest"},
        BadCase{"FlavorUnknownField", "POST", "/v2.1/flavors",
                R"({"flavor":{"name":"f","ram":1,"vcpus":1,"disk":1,"gpu":1}})", 400, "badRequest"},
        BadCase{"FlavorNameTooLong", "POST", "/v2.1/flavors",
                R"({"flavor":{"name":")" + kLong + R"(","ram":1,"vcpus":1,"disk":1}})", 400,
                "badRequest"},
        BadCase{"FlavorDuplicateName", "POST", "/v2.1/flavors",
                R"({"flavor":{"name":"flavor-1","ram":1,"vcpus":1,"disk":1}})", 409,
                "conflictingRequest"},
        BadCase{"FlavorDuplicateId", "POST", "/v2.1/flavors",
                R"({"flavor":{"name":"other","id":"1","ram":1,"vcpus":1,"disk":1}})", 409,
                "conflictingRequest"},
        BadCase{"FlavorDuplicateNumericId", "POST", "/v2.1/flavors",
                R"({"flavor":{"name":"other","id":1,"ram":1,"vcpus":1,"disk":1}})", 409,
                "conflictingRequest"},
        BadCase{"FlavorIdLeadingSpace", "POST", "/v2.1/flavors",
                R"({"flavor":{"name":"other","id":" 9","ram":1,"vcpus":1,"disk":1}})", 400,
                "badRequest"},
        BadCase{"FlavorIdBoolean", "POST", "/v2.1/flavors",
                R"({"flavor":{"name":"other","id":true,"ram":1,"vcpus":1,"disk":1}})", 400,
                "badRequest"},
        BadCase{"FlavorRxtxFactorZero", "POST", "/v2.1/flavors",
                R"({"flavor":{"name":"other","ram":1,"vcpus":1,"disk":1,"rxtx_factor":0}})", 400,
                "badRequest"},
        BadCase{"FlavorUnknownId", "GET", "/v2.1/flavors/nope", "", 404, "itemNotFound"},
        BadCase{"FlavorDeleteUnknown", "DELETE", "/v2.1/flavors/nope", "", 404, "itemNotFound"},
        BadCase{"AggregateMissingName", "POST", "/v2.1/os-aggregates", R"({"aggregate":{}})", 400,
                "badRequest"},
        BadCase{"AggregateNameTooLong", "POST", "/v2.1/os-aggregates",
                R"({"aggregate":{"name":")" + kLong + R"("}})", 400, "badRequest"},
        BadCase{"AggregateNameWrongType", "POST", "/v2.1/os-aggregates",
                R"({"aggregate":{"name":5}})", 400, "badRequest"},
        BadCase{"AggregateUnknownField", "POST", "/v2.1/os-aggregates",
                R"({"aggregate":{"name":"x","color":"red"}})", 400, "badRequest"},
        BadCase{"AggregateDuplicateName", "POST", "/v2.1/os-aggregates",
                R"({"aggregate":{"name":"rack-1"}})", 409, "conflictingRequest"},
        BadCase{"AggregateUnknownId", "GET", "/v2.1/os-aggregates/999999", "", 404, "itemNotFound"},
        BadCase{"AggregateAddUnknownHost", "POST", "/v2.1/os-aggregates/1/action",
                R"({"add_host":{"host":"ghost"}})", 404, "itemNotFound"},
        BadCase{"AggregateAddHostTwice", "POST", "/v2.1/os-aggregates/1/action",
                R"({"add_host":{"host":"sim-1"}})", 409, "conflictingRequest"},
        BadCase{"AggregateZoneMoveWithServers", "POST", "/v2.1/os-aggregates/1/action",
                R"({"set_metadata":{"metadata":{"availability_zone":"az9"}}})", 409,
                "conflictingRequest"},
        BadCase{"AggregateUnknownAction", "POST", "/v2.1/os-aggregates/1/action",
                R"({"explode":{}})", 400, "badRequest"},
        BadCase{"AggregateDeleteWithHosts", "DELETE", "/v2.1/os-aggregates/1", "", 400,
                "badRequest"},
        BadCase{"ServerMissingFlavor", "POST", "/v2.1/servers", R"({"server":{"name":"s"}})", 400,
                "badRequest"},
        BadCase{"ServerUnknownFlavor", "POST", "/v2.1/servers",
                R"({"server":{"name":"s","flavorRef":"nope"}})", 400, "badRequest"},
        BadCase{"ServerUnknownField", "POST", "/v2.1/servers",
                R"({"server":{"name":"s","flavorRef":"1","colour":"red"}})", 400, "badRequest"},
        BadCase{"ServerNameTooLong", "POST", "/v2.1/servers",
                R"({"server":{"name":")" + kLong + R"(","flavorRef":"1"}})", 400, "badRequest"},
        BadCase{"ServerNameWrongType", "POST", "/v2.1/servers",
                R"({"server":{"name":["s"],"flavorRef":"1"}})", 400, "badRequest"},
        BadCase{"ServerUnknownForcedHost", "POST", "/v2.1/servers",
                R"({"server":{"name":"s","flavorRef":"1","availability_zone":"nova:ghost"}})", 400,
                "badRequest"},
        BadCase{"ServerUnknownZone", "POST", "/v2.1/servers",
                R"({"server":{"name":"s","flavorRef":"1","availability_zone":"atlantis"}})", 400,
                "badRequest"},
        BadCase{"ServerHostBefore274", "POST", "/v2.1/servers",
                R"({"server":{"name":"s","flavorRef":"1","host":"sim-1"}})", 400, "badRequest",
                "2.73"},
        BadCase{"ServerMaxCountAboveOne", "POST", "/v2.1/servers",
                R"({"server":{"name":"s","flavorRef":"1","max_count":2}})", 400, "badRequest"},
        BadCase{"ServerUnknownId", "GET", "/v2.1/servers/5b0e8f4c-1111-4222-8333-444455556666", "",
                404, "itemNotFound"},
        BadCase{"ServerDeleteUnknown", "DELETE",
                "/v2.1/servers/5b0e8f4c-1111-4222-8333-444455556666", "", 404, "itemNotFound"},
        BadCase{"ServerListBadMarker", "GET",
                "/v2.1/servers?marker=5b0e8f4c-1111-4222-8333-444455556666", "", 400, "badRequest"},
        BadCase{"ServerListBadLimit", "GET", "/v2.1/servers?limit=-3", "", 400, "badRequest"},
        BadCase{"ServerIdInvalidUtf8", "GET", "/v2.1/servers/%FF", "", 404, "itemNotFound"},
        BadCase{"ServerListBadNameRegex", "GET", "/v2.1/servers?name=(", "", 400, "badRequest"},
        BadCase{"ServiceUnknownUuid", "PUT",
                "/v2.1/os-services/5b0e8f4c-1111-4222-8333-444455556666",
                R"({"status":"disabled"})", 404, "itemNotFound", "2.53"},
        BadCase{"ServiceBadStatus", "PUT", "/v2.1/os-services/5b0e8f4c-1111-4222-8333-444455556666",
                R"({"status":"asleep"})", 400, "badRequest", "2.53"},
        BadCase{"ServiceReasonWithoutDisable", "PUT",
                "/v2.1/os-services/5b0e8f4c-1111-4222-8333-444455556666",
                R"({"disabled_reason":"x"})", 400, "badRequest", "2.53"},
        BadCase{"ServiceForcedDownWrongType", "PUT",
                "/v2.1/os-services/5b0e8f4c-1111-4222-8333-444455556666",
                R"({"forced_down":"maybe"})", 400, "badRequest", "2.53"},
        BadCase{"ServiceNotUuid", "PUT", "/v2.1/os-services/12", R"({"status":"disabled"})", 400,
                "badRequest", "2.53"},
        BadCase{"HypervisorUnknown", "GET",
                "/v2.1/os-hypervisors/5b0e8f4c-1111-4222-8333-444455556666", "", 404,
                "itemNotFound", "2.53"},
        BadCase{"HypervisorNotUuid", "GET", "/v2.1/os-hypervisors/1", "", 400, "badRequest",
                "2.53"},
        BadCase{"HypervisorUnknownParam", "GET", "/v2.1/os-hypervisors?bogus=1", "", 400,
                "badRequest", "2.53"},
        BadCase{"HypervisorBadWithServers", "GET", "/v2.1/os-hypervisors?with_servers=perhaps", "",
                400, "badRequest", "2.53"},
        BadCase{"MicroversionTooNew", "GET", "/v2.1/flavors", "", 406, "computeFault", "2.999"},
        BadCase{"MicroversionMalformed", "GET", "/v2.1/flavors", "", 400, "badRequest", "two.five"},
        BadCase{"UnknownPath", "GET", "/v2.1/os-nothing", "", 404, "itemNotFound"},
        BadCase{"AdoptUnknownDomain", "POST",
                "/v2.1/ferry/unmanaged-domains/5b0e8f4c-1111-4222-8333-444455556666/action",
                R"({"adopt":{"flavorRef":"1"}})", 404, "itemNotFound"},
        BadCase{"AgentRegisterWithUserToken", "POST", "/agent/v1/register", R"({"host":"x"})", 403,
                "forbidden"}),
    [](const ::testing::TestParamInfo<BadCase>& info) { return info.param.name; });

// H3: dump() and json copies recurse once per level; a member's 200,000-deep name used to
// overflow a worker's stack inside the 400's message and kill the controller.
TEST_F(BadInput, ServerNameDeeplyNested) {
  FERRY_REQUIRE_PG(dsn);
  ASSERT_NE(stack_, nullptr);
  const pid_t pid = stack_->ControllerPid();
  const int kLevels = 200000;
  const std::string body = R"({"server":{"name":)" + std::string(kLevels, '[') + "\"s\"" +
                           std::string(kLevels, ']') + R"(,"flavorRef":"1"}})";
  auto before = Fingerprint(stack_->dsn());
  auto r = stack_->Member().PostRaw("/v2.1/servers", body);
  EXPECT_EQ(r.status, 400) << r.raw.substr(0, 200);
  ASSERT_TRUE(r.body.contains("badRequest")) << r.raw.substr(0, 200);
  EXPECT_EQ(r.body["badRequest"]["code"], 400);
  EXPECT_EQ(Fingerprint(stack_->dsn()), before);
  // The same process keeps serving.
  EXPECT_TRUE(stack_->ControllerRunning());
  EXPECT_EQ(stack_->ControllerPid(), pid);
  EXPECT_EQ(stack_->Member().Get("/v2.1").status, 200);
}

}  // namespace
}  // namespace ferry::testing
