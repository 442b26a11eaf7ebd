// GET /flavors reads Nova's query parameters: minRam and minDisk filter, limit and marker page
// (with flavors_links to the next page). Tempest's flavor list tests (FlavorsV2TestJSON
// test_list_flavors_limit_results, ..._using_marker, ..._filter_by_min_disk/ram) page this way.
#include <gtest/gtest.h>

#include <vector>

#include "tests/support/stack.hpp"

namespace ferry::testing {
namespace {

using nlohmann::json;

class FlavorListQuery : public ::testing::Test {
 protected:
  void SetUp() override {
    FERRY_REQUIRE_PG(dsn);
    stack_ = std::make_unique<Stack>(dsn);
    stack_->StartController();
    auto admin = stack_->Admin();
    // ram, disk: two small, one big on both counts.
    for (const auto& [id, ram, disk] : std::vector<std::tuple<std::string, int, int>>{
             {"1", 512, 1}, {"2", 1024, 10}, {"3", 4096, 40}}) {
      auto r = admin.Post(
          "/v2.1/flavors",
          {{"flavor",
            {{"id", id}, {"name", "f" + id}, {"ram", ram}, {"vcpus", 1}, {"disk", disk}}}});
      ASSERT_EQ(r.status, 200) << r.raw;
    }
  }
  std::vector<std::string> Ids(const std::string& query) const {
    auto r = stack_->Member().Get("/v2.1/flavors/detail" + query);
    EXPECT_EQ(r.status, 200) << query << ": " << r.raw;
    std::vector<std::string> ids;
    for (const auto& f : r.body["flavors"]) ids.push_back(f["id"].get<std::string>());
    return ids;
  }
  std::unique_ptr<Stack> stack_;
};

TEST_F(FlavorListQuery, MinRamAndMinDiskFilter) {
  EXPECT_EQ(Ids("?minRam=1024"), (std::vector<std::string>{"2", "3"}));
  EXPECT_EQ(Ids("?minDisk=11"), (std::vector<std::string>{"3"}));
  EXPECT_EQ(Ids("?minRam=1&minDisk=10"), (std::vector<std::string>{"2", "3"}));
  EXPECT_TRUE(Ids("?minRam=999999").empty());
}

TEST_F(FlavorListQuery, LimitAndMarkerPage) {
  EXPECT_EQ(Ids(""), (std::vector<std::string>{"1", "2", "3"}));
  auto first = stack_->Member().Get("/v2.1/flavors?limit=1");
  ASSERT_EQ(first.status, 200) << first.raw;
  ASSERT_EQ(first.body["flavors"].size(), 1u) << first.raw;
  EXPECT_EQ(first.body["flavors"][0]["id"], "1");
  const std::string next = first.body["flavors_links"][0]["href"].get<std::string>();
  EXPECT_NE(next.find("marker=1"), std::string::npos) << next;
  EXPECT_EQ(Ids("?marker=1"), (std::vector<std::string>{"2", "3"}));
  EXPECT_EQ(Ids("?marker=2&limit=5"), (std::vector<std::string>{"3"}));
  EXPECT_TRUE(Ids("?marker=3").empty());
}

TEST_F(FlavorListQuery, NextLinkKeepsTheFiltersAndEncodesTheMarker) {
  auto admin = stack_->Admin();
  auto made = admin.Post(
      "/v2.1/flavors",
      {{"flavor",
        {{"id", "big one"}, {"name", "big one"}, {"ram", 8192}, {"vcpus", 1}, {"disk", 80}}}});
  ASSERT_EQ(made.status, 200) << made.raw;
  // Page 1 of the flavors with 2048 MB or more: "3", then "big one" on the next page.
  auto first = stack_->Member().Get("/v2.1/flavors?minRam=2048&limit=1");
  ASSERT_EQ(first.status, 200) << first.raw;
  ASSERT_EQ(first.body["flavors"].size(), 1u) << first.raw;
  std::string next = first.body["flavors_links"][0]["href"].get<std::string>();
  EXPECT_NE(next.find("minRam=2048"), std::string::npos) << "page 2 stays filtered: " << next;
  next = next.substr(next.find("/v2.1/"));
  auto second = stack_->Member().Get(next);
  ASSERT_EQ(second.status, 200) << second.raw;
  ASSERT_EQ(second.body["flavors"].size(), 1u) << second.raw;
  EXPECT_EQ(second.body["flavors"][0]["id"], "big one");
  std::string last = second.body["flavors_links"][0]["href"].get<std::string>();
  EXPECT_NE(last.find("marker=big%20one"), std::string::npos) << last;
  auto end = stack_->Member().Get(last.substr(last.find("/v2.1/")));
  ASSERT_EQ(end.status, 200) << "an id with a space is a marker that works: " << end.raw;
  EXPECT_TRUE(end.body["flavors"].empty()) << end.raw;
}

TEST_F(FlavorListQuery, BadParametersAre400) {
  auto member = stack_->Member();
  for (const std::string q : {"?minRam=abc", "?minDisk=-1", "?limit=x", "?marker=nope"}) {
    auto r = member.Get("/v2.1/flavors" + q);
    EXPECT_EQ(r.status, 400) << q << ": " << r.raw;
    EXPECT_TRUE(r.body.contains("badRequest")) << q << ": " << r.raw;
  }
}

}  // namespace
}  // namespace ferry::testing
