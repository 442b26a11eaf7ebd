// Every Nova route ferry serves, at the microversions where Nova's bodies change, through the
// HttpClient whose contract check (tests/support/nova_contract.hpp) validates each answer against
// Nova's published schema: a body ferry shapes differently from Nova fails here even where no
// other test looks at that route and version.
#include <gtest/gtest.h>

#include "tests/support/stack.hpp"

namespace ferry::testing {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;

bool AtLeast(const std::string& mv, int minor) {
  return mv == "latest" || std::stoi(mv.substr(2)) >= minor;
}

class NovaContractSweep : public ::testing::TestWithParam<std::string> {
 protected:
  static void SetUpTestSuite() {
    std::string why;
    auto dsn = ClusterDsn(&why);
    if (!dsn) return;
    stack_ = new Stack(*dsn);
    stack_->StartController();
    stack_->StartAgent("sim-1");
    stack_->WaitUntilUp({"sim-1"});
    stack_->EnsureFlavor("1", 1, 512, 1);
    server_ = stack_->CreateServer("swept", "1");
    stack_->WaitServerSettled(server_);
  }
  static void TearDownTestSuite() {
    delete stack_;
    stack_ = nullptr;
  }
  HttpClient Api() const {
    auto c = stack_->Admin();
    c.SetMicroversion(GetParam());
    return c;
  }
  static Stack* stack_;
  static std::string server_;
};
Stack* NovaContractSweep::stack_ = nullptr;
std::string NovaContractSweep::server_;

TEST_P(NovaContractSweep, VersionsServersAndInstanceActions) {
  FERRY_REQUIRE_PG(dsn);
  ASSERT_NE(stack_, nullptr);
  auto api = Api();
  EXPECT_EQ(api.Get("/").status, 200);
  EXPECT_EQ(api.Get("/v2.1").status, 200);
  EXPECT_EQ(api.Get("/v2.1/servers").status, 200);
  EXPECT_EQ(api.Get("/v2.1/servers/detail").status, 200);
  EXPECT_EQ(api.Get("/v2.1/servers/" + server_).status, 200);
  EXPECT_EQ(api.Get("/v2.1/servers/" + server_ + "/os-instance-actions").status, 200);
  if (AtLeast(GetParam(), 23)) {
    EXPECT_EQ(api.Get("/v2.1/servers/" + server_ + "/migrations").status, 200);
  }
  EXPECT_EQ(api.Get("/v2.1/servers/5b0e8f4c-1111-4222-8333-444455556666").status, 404);
}

TEST_P(NovaContractSweep, FlavorsCreateShowListDelete) {
  FERRY_REQUIRE_PG(dsn);
  ASSERT_NE(stack_, nullptr);
  auto api = Api();
  const std::string id = "sweep-" + GetParam();
  auto created =
      api.Post("/v2.1/flavors",
               {{"flavor", {{"name", id}, {"id", id}, {"vcpus", 1}, {"ram", 256}, {"disk", 1}}}});
  EXPECT_EQ(created.status, 200) << created.raw;
  EXPECT_EQ(api.Get("/v2.1/flavors").status, 200);
  EXPECT_EQ(api.Get("/v2.1/flavors/detail").status, 200);
  EXPECT_EQ(api.Get("/v2.1/flavors/" + id).status, 200);
  EXPECT_EQ(api.Get("/v2.1/flavors/" + id + "/os-extra_specs").status, 200);
  EXPECT_EQ(api.Delete("/v2.1/flavors/" + id).status, 202);
}

TEST_P(NovaContractSweep, HypervisorsAndServices) {
  FERRY_REQUIRE_PG(dsn);
  ASSERT_NE(stack_, nullptr);
  auto api = Api();
  auto list = api.Get("/v2.1/os-hypervisors");
  ASSERT_EQ(list.status, 200);
  ASSERT_FALSE(list.body["hypervisors"].empty());
  const json id = list.body["hypervisors"][0]["id"];
  EXPECT_EQ(api.Get("/v2.1/os-hypervisors/detail").status, 200);
  const std::string id_text = id.is_string() ? id.get<std::string>() : id.dump();
  EXPECT_EQ(api.Get("/v2.1/os-hypervisors/" + id_text).status, 200);
  if (!AtLeast(GetParam(), 88)) {
    EXPECT_EQ(api.Get("/v2.1/os-hypervisors/statistics").status, 200);
  }
  auto services = api.Get("/v2.1/os-services");
  ASSERT_EQ(services.status, 200);
  if (AtLeast(GetParam(), 53)) {
    const std::string service = services.body["services"][0]["id"];
    EXPECT_EQ(api.Put("/v2.1/os-services/" + service, {{"status", "enabled"}}).status, 200);
  } else {
    EXPECT_EQ(
        api.Put("/v2.1/os-services/enable", {{"host", "sim-1"}, {"binary", "nova-compute"}}).status,
        200);
  }
  EXPECT_EQ(api.Get("/v2.1/os-migrations").status, 200);
}

TEST_P(NovaContractSweep, AggregatesLifecycle) {
  FERRY_REQUIRE_PG(dsn);
  ASSERT_NE(stack_, nullptr);
  auto api = Api();
  auto created =
      api.Post("/v2.1/os-aggregates", {{"aggregate", {{"name", "sweep-" + GetParam()}}}});
  ASSERT_EQ(created.status, 200) << created.raw;
  const std::string path = "/v2.1/os-aggregates/" + created.body["aggregate"]["id"].dump();
  EXPECT_EQ(api.Get("/v2.1/os-aggregates").status, 200);
  EXPECT_EQ(api.Get(path).status, 200);
  EXPECT_EQ(api.Put(path, {{"aggregate", {{"name", "swept-" + GetParam()}}}}).status, 200);
  EXPECT_EQ(api.Post(path + "/action", {{"set_metadata", {{"metadata", {{"k", "v"}}}}}}).status,
            200);
  EXPECT_EQ(api.Delete(path).status, 200);
}

TEST_P(NovaContractSweep, ServerGroupsLifecycle) {
  FERRY_REQUIRE_PG(dsn);
  ASSERT_NE(stack_, nullptr);
  auto api = Api();
  json group = {{"name", "sweep"}};
  if (AtLeast(GetParam(), 64)) {
    group["policy"] = "anti-affinity";
  } else {
    group["policies"] = {"anti-affinity"};
  }
  auto created = api.Post("/v2.1/os-server-groups", {{"server_group", group}});
  ASSERT_EQ(created.status, 200) << created.raw;
  const std::string path =
      "/v2.1/os-server-groups/" + created.body["server_group"]["id"].get<std::string>();
  EXPECT_EQ(api.Get("/v2.1/os-server-groups").status, 200);
  EXPECT_EQ(api.Get(path).status, 200);
  EXPECT_EQ(api.Delete(path).status, 204);
}

// 2.1 and each version where a body these routes answer changes, up to ferry's maximum.
INSTANTIATE_TEST_SUITE_P(Microversions, NovaContractSweep,
                         ::testing::Values("2.1", "2.11", "2.23", "2.41", "2.53", "2.64", "2.75",
                                           "2.80", "2.88", "latest"),
                         [](const auto& info) {
                           std::string name = "v" + info.param;
                           for (char& c : name) c = c == '.' ? '_' : c;
                           return name;
                         });

}  // namespace
}  // namespace ferry::testing
