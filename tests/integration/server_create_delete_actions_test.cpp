// A server's create and delete are instance actions, as in Nova: GET
// /servers/{id}/os-instance-actions/{request_id} finds the "create" under the create request's
// id, and from 2.21 a deleted server's actions are listed, delete first (Tempest's
// InstanceActionsTestJSON.test_get_instance_action and
// InstanceActionsV221TestJSON.test_get_list_deleted_instance_actions).
#include <gtest/gtest.h>

#include <chrono>
#include <string>

#include "tests/support/stack.hpp"

namespace ferry::testing {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;

class ServerCreateDeleteActions : public ::testing::Test {
 protected:
  void SetUp() override {
    FERRY_REQUIRE_PG(dsn);
    stack_ = std::make_unique<Stack>(dsn);
    stack_->StartController();
    stack_->EnsureFlavor("1");
  }
  HttpClient Member(const std::string& mv) const {
    auto c = stack_->Member();
    c.SetMicroversion(mv);
    return c;
  }
  std::unique_ptr<Stack> stack_;
};

TEST_F(ServerCreateDeleteActions, CreateAndDeleteAreListedAlsoAfterTheServerIsGone) {
  stack_->StartAgent("sim-1");
  ASSERT_TRUE(stack_->WaitUntilUp({"sim-1"}));
  auto created =
      stack_->Member().Post("/v2.1/servers", {{"server", {{"name", "a"}, {"flavorRef", "1"}}}});
  ASSERT_EQ(created.status, 202) << created.raw;
  const std::string uuid = created.body["server"]["id"];
  const std::string create_id = created.Header("x-openstack-request-id");
  ASSERT_FALSE(create_id.empty());
  const std::string actions = "/v2.1/servers/" + uuid + "/os-instance-actions";

  auto shown = stack_->Member().Get(actions + "/" + create_id);
  ASSERT_EQ(shown.status, 200) << shown.raw;
  const json action = shown.body["instanceAction"];
  EXPECT_EQ(action["action"], "create");
  EXPECT_EQ(action["instance_uuid"], uuid);
  EXPECT_EQ(action["request_id"], create_id);
  EXPECT_TRUE(action["user_id"].is_string()) << action;
  EXPECT_TRUE(action["message"].is_null()) << action;
  auto as_admin = stack_->Admin().Get(actions + "/" + create_id);
  ASSERT_EQ(as_admin.status, 200) << as_admin.raw;
  ASSERT_EQ(as_admin.body["instanceAction"]["events"].size(), 1u) << as_admin.raw;
  EXPECT_EQ(as_admin.body["instanceAction"]["events"][0]["event"],
            "conductor_schedule_and_build_instances");
  EXPECT_EQ(as_admin.body["instanceAction"]["events"][0]["result"], "Success");

  stack_->WaitServerSettled(uuid);
  auto deleted = stack_->Member().Delete("/v2.1/servers/" + uuid);
  ASSERT_EQ(deleted.status, 204) << deleted.raw;
  ASSERT_TRUE(Stack::WaitFor(
      [&] { return stack_->Member().Get("/v2.1/servers/" + uuid).status == 404; }, 30s));
  EXPECT_EQ(Member("2.20").Get(actions).status, 404) << "a deleted server's actions are 2.21's";
  auto listed = Member("2.21").Get(actions);
  ASSERT_EQ(listed.status, 200) << listed.raw;
  const json list = listed.body["instanceActions"];
  ASSERT_EQ(list.size(), 2u) << listed.raw;
  EXPECT_EQ(list[0]["action"], "delete");
  EXPECT_EQ(list[0]["request_id"], deleted.Header("x-openstack-request-id"));
  EXPECT_EQ(list[1]["action"], "create");
  EXPECT_EQ(Member("2.21")
                .Get("/v2.1/servers/5b0e8f4c-1111-4222-8333-444455556666/"
                     "os-instance-actions")
                .status,
            404);
}

TEST_F(ServerCreateDeleteActions, ACreateWithoutAHostIsAnActionThatFailed) {
  // No agent: no host can take the server.
  auto created =
      stack_->Member().Post("/v2.1/servers", {{"server", {{"name", "b"}, {"flavorRef", "1"}}}});
  ASSERT_EQ(created.status, 202) << created.raw;
  const std::string uuid = created.body["server"]["id"];
  auto shown = stack_->Admin().Get("/v2.1/servers/" + uuid + "/os-instance-actions/" +
                                   created.Header("x-openstack-request-id"));
  ASSERT_EQ(shown.status, 200) << shown.raw;
  EXPECT_EQ(shown.body["instanceAction"]["action"], "create");
  EXPECT_EQ(shown.body["instanceAction"]["message"], "Error");
  EXPECT_EQ(shown.body["instanceAction"]["events"][0]["result"], "Error");
}

}  // namespace
}  // namespace ferry::testing
