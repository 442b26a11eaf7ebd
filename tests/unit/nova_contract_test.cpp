// The Nova contract index (tests/nova_schemas): every schema it names loads, and bodies shaped as
// Nova's API reference shows them pass while ferry's extra or missing members fail, at the
// microversion the response negotiated.
#include "tests/support/nova_contract.hpp"

#include <gtest/gtest.h>

#include <fstream>

#include "tests/support/json_schema.hpp"

namespace ferry::testing {
namespace {

using nlohmann::json;
using Strings = std::vector<std::string>;

HttpResult Answer(int status, json body, const std::string& version = "") {
  HttpResult r;
  r.status = status;
  r.body = std::move(body);
  r.raw = r.body.is_null() ? "" : r.body.dump();
  if (!version.empty()) r.headers.emplace("OpenStack-API-Version", "compute " + version);
  return r;
}

// The violations without the "[file]" suffix.
Strings Violations(const ContractRequest& req, const HttpResult& res,
                   ContractCheck check = ContractCheck::kFull) {
  Strings out;
  for (auto v : NovaContractViolations(req, res, check)) out.push_back(v.substr(0, v.find("  [")));
  return out;
}

json Hypervisor(json id) {
  return {{"id", id}, {"hypervisor_hostname", "h1"}, {"state", "up"}, {"status", "enabled"}};
}

TEST(NovaContract, EverySchemaInTheIndexLoadsAndItsRefsResolve) {
  std::ifstream in(FERRY_SOURCE_DIR "/tests/nova_schemas/index.json");
  const json index = json::parse(in);
  SchemaStore store(FERRY_SOURCE_DIR "/tests/nova_schemas");
  ASSERT_GT(index["routes"].size(), 30u);
  for (const auto& entry : index["routes"]) {
    if (entry["schema"].is_null()) continue;
    // Walks every $ref the document reaches: an empty object meets every required list.
    EXPECT_NO_THROW(store.Validate(entry["schema"], json::object(), {.microversion = "2.1"}))
        << entry.dump();
  }
}

TEST(NovaContract, OnlyNovaPathsAreChecked) {
  EXPECT_TRUE(IsNovaPath("/"));
  EXPECT_TRUE(IsNovaPath("/v2.1"));
  EXPECT_TRUE(IsNovaPath("/v2.1/servers?limit=1"));
  EXPECT_FALSE(IsNovaPath("/v2.1/ferry/unmanaged-domains"));
  EXPECT_FALSE(IsNovaPath("/agent/v1/heartbeat"));
  EXPECT_FALSE(IsNovaPath("/v1/inventory"));
}

TEST(NovaContract, TheMicroversionIsTheResponsesElseTheRequestsElse21) {
  ContractRequest req{"GET", "/v2.1/os-hypervisors", {{"OpenStack-API-Version", "compute 2.60"}}};
  EXPECT_EQ(NegotiatedMicroversion(req, Answer(200, nullptr, "2.53")), "2.53");
  EXPECT_EQ(NegotiatedMicroversion(req, Answer(200, nullptr)), "2.60");
  req.headers = {{"X-OpenStack-Nova-API-Version", "latest"}};
  EXPECT_EQ(NegotiatedMicroversion(req, Answer(200, nullptr)), "2.95");
  EXPECT_EQ(NegotiatedMicroversion({"GET", "/", {}}, Answer(200, nullptr)), "2.1");
}

TEST(NovaContract, HypervisorIdsAreIntegersBefore253AndUuidsFrom) {
  ContractRequest req{"GET", "/v2.1/os-hypervisors", {}};
  EXPECT_EQ(Violations(req, Answer(200, {{"hypervisors", {Hypervisor(1)}}}, "2.52")), Strings{});
  const std::string uuid = "6ba7b810-9dad-11d1-80b4-00c04fd430c8";
  EXPECT_EQ(Violations(req, Answer(200, {{"hypervisors", {Hypervisor(uuid)}}}, "2.53")), Strings{});
  EXPECT_EQ(Violations(req, Answer(200, {{"hypervisors", {Hypervisor(1)}}}, "2.53")).size(), 1u);
}

TEST(NovaContract, FerrysFieldsFailUnlessTheRequestAskedForExtensions) {
  json h = Hypervisor(1);
  h["ferry:simulated"] = true;
  ContractRequest req{"GET", "/v2.1/os-hypervisors", {}};
  EXPECT_EQ(Violations(req, Answer(200, {{"hypervisors", {h}}})),
            Strings{"/hypervisors/0/ferry:simulated: additional property not allowed"});
  req.headers["X-Ferry-Extensions"] = "true";
  EXPECT_EQ(Violations(req, Answer(200, {{"hypervisors", {h}}})), Strings{});
  h.erase("state");  // Nova's members stay required
  EXPECT_EQ(Violations(req, Answer(200, {{"hypervisors", {h}}})),
            Strings{"/hypervisors/0/state: required property missing"});
}

TEST(NovaContract, ErrorBodiesAreNovaFaults) {
  ContractRequest req{"GET", "/v2.1/servers/nope", {}};
  EXPECT_EQ(Violations(req, Answer(404, {{"itemNotFound", {{"code", 404}, {"message", "x"}}}})),
            Strings{});
  EXPECT_EQ(Violations(req, Answer(404, {{"itemNotFound", {{"code", 400}, {"message", "x"}}}})),
            Strings{"/itemNotFound/code: 400 is not one of [404]"});
  EXPECT_EQ(Violations(req, Answer(406, {{"computeFault", {{"code", 406}, {"message", "x"}}}})),
            Strings{});
  EXPECT_EQ(Violations(req, Answer(400, {{"error", "bad"}}), ContractCheck::kErrorBodiesOnly),
            Strings{"/error: additional property not allowed"});
  // Under kErrorBodiesOnly a success is not looked at.
  EXPECT_EQ(Violations(req, Answer(200, {{"anything", 1}}), ContractCheck::kErrorBodiesOnly),
            Strings{});
}

TEST(NovaContract, BodylessAnswersAndUnknownRoutes) {
  EXPECT_EQ(Violations({"DELETE", "/v2.1/servers/x", {}}, Answer(204, nullptr)), Strings{});
  EXPECT_EQ(Violations({"DELETE", "/v2.1/servers/x", {}}, Answer(204, {{"a", 1}})).size(), 1u);
  EXPECT_EQ(Violations({"GET", "/v2.1/os-keypairs", {}}, Answer(200, json::object())),
            Strings{"no schema for this Nova route, status and microversion"});
  // statistics left the API at 2.88: a 200 there is no longer Nova's contract
  EXPECT_EQ(Violations({"GET", "/v2.1/os-hypervisors/statistics", {}},
                       Answer(200, json::object(), "2.88")),
            Strings{"no schema for this Nova route, status and microversion"});
}

}  // namespace
}  // namespace ferry::testing
