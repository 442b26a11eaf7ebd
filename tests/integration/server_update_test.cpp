// PUT /servers/{id} as Nova's update: the name, accessIPv4/accessIPv6, description (2.19) and
// hostname (2.90) change and the answer is the server (200); bad values are 400s that change
// nothing; another project's server is 404. Access addresses given on create are checked and
// shown. Tempest's test_update_server_name, test_update_access_server_address,
// test_create_server_with_ipv6_addr_only, test_invalid_access_ip_v4_address and the update
// negative tests do these.
#include <gtest/gtest.h>

#include <string>

#include "tests/support/stack.hpp"

namespace ferry::testing {
namespace {

using nlohmann::json;

class ServerUpdate : public ::testing::Test {
 protected:
  void SetUp() override {
    FERRY_REQUIRE_PG(dsn);
    stack_ = std::make_unique<Stack>(dsn);
    stack_->StartController();
    stack_->EnsureFlavor("1");
    auto r = stack_->Member().Post(
        "/v2.1/servers", {{"server", {{"name", "web"}, {"flavorRef", "1"}, {"adminPass", "pw1"}}}});
    ASSERT_EQ(r.status, 202) << r.raw;
    EXPECT_EQ(r.body["server"]["adminPass"], "pw1") << "Nova answers the password it was given";
    uuid_ = r.body["server"]["id"];
    path_ = "/v2.1/servers/" + uuid_;
  }
  HttpClient Member(const std::string& mv = "2.1") const {
    auto c = stack_->Member();
    c.SetMicroversion(mv);
    return c;
  }
  json Show(const std::string& mv = "2.1") const { return Member(mv).Get(path_).body["server"]; }

  std::unique_ptr<Stack> stack_;
  std::string uuid_, path_;
};

TEST_F(ServerUpdate, RenamesAndSetsAccessAddresses) {
  auto r = Member().Put(path_, {{"server", {{"name", "\u00cd\u00f1st\u00e1nce"}}}});
  ASSERT_EQ(r.status, 200) << r.raw;
  EXPECT_EQ(r.body["server"]["id"], uuid_);
  EXPECT_EQ(r.body["server"]["name"], "\u00cd\u00f1st\u00e1nce");
  EXPECT_FALSE(r.body["server"].contains("OS-EXT-AZ:availability_zone")) << "not before 2.75";
  EXPECT_EQ(Show()["name"], "\u00cd\u00f1st\u00e1nce");

  r = Member().Put(path_,
                   {{"server", {{"accessIPv4", "1.1.1.1"}, {"accessIPv6", "::babe:202:202"}}}});
  ASSERT_EQ(r.status, 200) << r.raw;
  EXPECT_EQ(r.body["server"]["accessIPv4"], "1.1.1.1");
  const json shown = Show();
  EXPECT_EQ(shown["accessIPv4"], "1.1.1.1");
  EXPECT_EQ(shown["accessIPv6"], "::babe:202:202");
  EXPECT_EQ(shown["name"], "\u00cd\u00f1st\u00e1nce") << "an update changes only what it names";

  auto at275 = Member("2.75").Put(path_, {{"server", {{"name", "web2"}}}});
  ASSERT_EQ(at275.status, 200) << at275.raw;
  EXPECT_TRUE(at275.body["server"].contains("OS-EXT-AZ:availability_zone")) << "2.75: as a show";
}

TEST_F(ServerUpdate, DescriptionFrom219AndHostnameFrom290) {
  EXPECT_EQ(Member().Put(path_, {{"server", {{"description", "d"}}}}).status, 400)
      << "description is 2.19's";
  auto r = Member("2.19").Put(path_, {{"server", {{"description", "front end"}}}});
  ASSERT_EQ(r.status, 200) << r.raw;
  EXPECT_EQ(r.body["server"]["description"], "front end");
  EXPECT_EQ(Show("2.19")["description"], "front end");
  ASSERT_EQ(Member("2.19").Put(path_, {{"server", {{"description", nullptr}}}}).status, 200);
  EXPECT_TRUE(Show("2.19")["description"].is_null());

  EXPECT_EQ(Member("2.89").Put(path_, {{"server", {{"hostname", "web-1"}}}}).status, 400);
  EXPECT_EQ(Show("2.90")["OS-EXT-SRV-ATTR:hostname"], "web") << "the name until one is set";
  ASSERT_EQ(Member("2.90").Put(path_, {{"server", {{"hostname", "web-1"}}}}).status, 200);
  EXPECT_EQ(Show("2.90")["OS-EXT-SRV-ATTR:hostname"], "web-1");
  EXPECT_EQ(Member("2.90").Put(path_, {{"server", {{"hostname", "no spaces"}}}}).status, 400);
  // 2.94: a fully qualified name, up to 255 characters; before it, 63 and no shorter than 2.
  const std::string fqdn = "web-1." + std::string(60, 'a') + ".example.org";
  EXPECT_EQ(Member("2.93").Put(path_, {{"server", {{"hostname", fqdn}}}}).status, 400);
  EXPECT_EQ(Member("2.93").Put(path_, {{"server", {{"hostname", "w"}}}}).status, 400);
  EXPECT_EQ(Show("2.90")["OS-EXT-SRV-ATTR:hostname"], "web-1") << "a refused update changed it";
  ASSERT_EQ(Member("2.94").Put(path_, {{"server", {{"hostname", fqdn}}}}).status, 200);
  EXPECT_EQ(Show("2.94")["OS-EXT-SRV-ATTR:hostname"], fqdn);
  ASSERT_EQ(Member("2.94").Put(path_, {{"server", {{"hostname", "w"}}}}).status, 200);
  EXPECT_EQ(Member("2.94").Put(path_, {{"server", {{"hostname", std::string(256, 'a')}}}}).status,
            400);
  EXPECT_EQ(Member("2.94").Put(path_, {{"server", {{"hostname", "a b.example"}}}}).status, 400);
}

TEST_F(ServerUpdate, BadUpdatesAre400AndChangeNothing) {
  for (const json& server :
       {json{{"name", ""}}, json{{"name", std::string(256, 'a')}}, json{{"name", " padded"}},
        json{{"accessIPv4", "1.1.1.1.1.1"}}, json{{"accessIPv6", "2.2.2.2"}},
        json{{"colour", "red"}}, json{{"accessIPv4", 1}}}) {
    auto r = Member().Put(path_, {{"server", server}});
    EXPECT_EQ(r.status, 400) << server << ": " << r.raw;
    EXPECT_TRUE(r.body.contains("badRequest")) << server << ": " << r.raw;
  }
  EXPECT_EQ(Member().Put(path_, json{{"name", "x"}}).status, 400) << "no server key";
  const json shown = Show();
  EXPECT_EQ(shown["name"], "web");
  EXPECT_EQ(shown["accessIPv4"], "");
}

TEST_F(ServerUpdate, UnknownOrAnotherProjectsServerIs404) {
  auto missing = Member().Put("/v2.1/servers/5b0e8f4c-1111-4222-8333-444455556666",
                              {{"server", {{"name", "x"}}}});
  EXPECT_EQ(missing.status, 404) << missing.raw;
  EXPECT_TRUE(missing.body.contains("itemNotFound")) << missing.raw;
  const std::string admins = stack_->CreateServer("admins");
  EXPECT_EQ(Member().Put("/v2.1/servers/" + admins, {{"server", {{"name", "x"}}}}).status, 404);
  EXPECT_EQ(stack_->Admin().Get("/v2.1/servers/" + admins).body["server"]["name"], "admins");
  EXPECT_EQ(stack_->Admin().Put(path_, {{"server", {{"name", "by-admin"}}}}).status, 200)
      << "an admin updates any project's server";
}

TEST_F(ServerUpdate, CreateChecksAndShowsAccessAddresses) {
  auto member = Member();
  auto r = member.Post("/v2.1/servers", {{"server",
                                          {{"name", "v6"},
                                           {"flavorRef", "1"},
                                           {"imageRef", "70a599e0-31e7-49b7-b260-868f441e862b"},
                                           {"accessIPv4", "192.0.2.7"},
                                           {"accessIPv6", "2001:2001::3"}}}});
  ASSERT_EQ(r.status, 202) << r.raw;
  // Nova keeps the address and shows its canonical text (RFC 5952), as Tempest's
  // test_verify_server_details compares it.
  auto long_form = member.Post("/v2.1/servers",
                               {{"server",
                                 {{"name", "v6-long"},
                                  {"flavorRef", "1"},
                                  {"accessIPv6", "0000:0000:0000:0000:0000:BABE:220.12.22.2"}}}});
  ASSERT_EQ(long_form.status, 202) << long_form.raw;
  EXPECT_EQ(member.Get("/v2.1/servers/" + long_form.body["server"]["id"].get<std::string>())
                .body["server"]["accessIPv6"],
            "::babe:dc0c:1602");
  ASSERT_EQ(r.status, 202) << r.raw;
  const json shown =
      member.Get("/v2.1/servers/" + r.body["server"]["id"].get<std::string>()).body["server"];
  EXPECT_EQ(shown["accessIPv4"], "192.0.2.7");
  EXPECT_EQ(shown["accessIPv6"], "2001:2001::3");
  // Nova's view of an image-booted server's image (Tempest's test_verify_server_details).
  EXPECT_EQ(shown["image"]["id"], "70a599e0-31e7-49b7-b260-868f441e862b");
  EXPECT_EQ(shown["image"]["links"][0]["rel"], "bookmark");
  EXPECT_EQ(Show()["image"], "") << "no imageRef: booted from a volume, as Nova shows it";
  const auto before = member.Get("/v2.1/servers").body["servers"].size();
  for (const json& bad : {json{{"accessIPv4", "1.1.1.1.1.1"}}, json{{"accessIPv6", "2.2.2.2"}}}) {
    json server = {{"name", "bad"}, {"flavorRef", "1"}};
    server.update(bad);
    auto refused = member.Post("/v2.1/servers", {{"server", server}});
    EXPECT_EQ(refused.status, 400) << bad << ": " << refused.raw;
  }
  EXPECT_EQ(member.Get("/v2.1/servers").body["servers"].size(), before) << "nothing created";
}

}  // namespace
}  // namespace ferry::testing
