// /image: the image service's catalog entry in a ferry-only cloud (controller/api/image_api.cpp).
// Discovery is open, as Glance's is; listing needs a token and lists no images; any image is
// 404. openstackclient's use of it through a real Keystone catalog is in keystone_auth_test.
#include <gtest/gtest.h>

#include "tests/support/stack.hpp"

namespace ferry::testing {
namespace {

class ImageApi : public ::testing::Test {
 protected:
  void SetUp() override {
    FERRY_REQUIRE_PG(dsn);
    stack_ = std::make_unique<Stack>(dsn);
    stack_->StartController();
  }
  std::unique_ptr<Stack> stack_;
};

TEST_F(ImageApi, DiscoveryNamesV2WithoutAToken) {
  for (const std::string path : {"/image", "/image/"}) {
    auto r = stack_->Anonymous().Get(path);
    ASSERT_EQ(r.status, 200) << path << ": " << r.raw;
    ASSERT_EQ(r.body["versions"].size(), 1u) << r.raw;
    EXPECT_EQ(r.body["versions"][0]["status"], "CURRENT");
    const std::string self = r.body["versions"][0]["links"][0]["href"];
    EXPECT_TRUE(self.ends_with("/image/v2/")) << self;
  }
}

TEST_F(ImageApi, ListsNoImagesAndFindsNone) {
  EXPECT_EQ(stack_->Anonymous().Get("/image/v2/images").status, 401);
  for (const auto& client : {stack_->Member(), stack_->Admin()}) {
    auto list = client.Get("/image/v2/images?limit=20");
    ASSERT_EQ(list.status, 200) << list.raw;
    EXPECT_EQ(list.body["images"], nlohmann::json::array());
    EXPECT_FALSE(list.body.contains("next")) << "one page: nothing to follow";
    auto one = client.Get("/image/v2/images/70a599e0-31e7-49b7-b260-868f441e862b");
    EXPECT_EQ(one.status, 404) << one.raw;
  }
  EXPECT_EQ(stack_->Admin().Post("/image/v2/images", {{"name", "x"}}).status, 405)
      << "ferry stores no images";
}

}  // namespace
}  // namespace ferry::testing
