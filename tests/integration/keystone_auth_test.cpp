// --auth keystone against a real Keystone (deploy/keystone): Keystone's roles and projects
// decide what a caller may do, revoked and expired tokens stop working, Keystone being down is
// 503 (never an accepted token), and the openstack CLI works with plain password auth through
// the catalog. One Keystone for the whole suite: setting one up takes ~40 s.
#include <gtest/gtest.h>
#include <httplib.h>

#include <regex>
#include <sstream>
#include <thread>

#include "api/client/ferryctl.hpp"
#include "tests/support/keystone.hpp"
#include "tests/support/stack.hpp"

namespace ferry::testing {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;

constexpr const char* kPassword = "pw-for-keystone-tests";

struct Users {
  std::string p1, p2;  // project ids
  std::string member1_id;
};

class KeystoneAuth : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    keystone_ = new KeystoneForTest();
    if (!keystone_->problem().empty()) return;
    users_ = new Users;
    users_->p1 = keystone_->CreateProject("p1");
    users_->p2 = keystone_->CreateProject("p2");
    users_->member1_id = keystone_->CreateUser("member1", kPassword);
    keystone_->Grant(users_->p1, users_->member1_id, "member");
    keystone_->Grant(users_->p2, keystone_->CreateUser("member2", kPassword), "member");
    keystone_->Grant(users_->p1, keystone_->CreateUser("reader1", kPassword), "reader");
    // A project role ferry does not know, and an admin of the domain (no project).
    keystone_->Grant(users_->p1, keystone_->CreateUser("service1", kPassword), "service");
    keystone_->GrantOnDomain(keystone_->CreateUser("domainadmin", kPassword), "admin");
  }
  static void TearDownTestSuite() {
    delete keystone_;
    delete users_;
    keystone_ = nullptr;
    users_ = nullptr;
  }

  void SetUp() override {
    FERRY_REQUIRE_PG(dsn);
    dsn_ = dsn;
    if (!keystone_->problem().empty()) {
      if (InCi()) FAIL() << "Keystone required under CI: " << keystone_->problem();
      GTEST_SKIP() << "no Keystone: " << keystone_->problem();
    }
  }

  // The stack with --auth keystone; Admin() sends a Keystone admin token.
  void StartStack(std::vector<std::string> extra_args = {}) {
    StackOptions options;
    options.controller_args = {"--auth",
                               "keystone",
                               "--keystone-url",
                               keystone_->url(),
                               "--keystone-service-password-file",
                               keystone_->ServicePasswordFile()};
    options.controller_args.insert(options.controller_args.end(), extra_args.begin(),
                                   extra_args.end());
    options.admin_token = AdminToken();
    stack_ = std::make_unique<Stack>(dsn_, options);
    stack_->StartController();
  }
  static std::string Token(const std::string& user, const std::string& project) {
    std::string token = keystone_->IssueToken(user, kPassword, project);
    EXPECT_FALSE(token.empty()) << user;
    return token;
  }
  static std::string AdminToken() {
    return keystone_->IssueToken("admin", keystone_->AdminPassword(), "admin");
  }
  HttpClient As(const std::string& token) const { return HttpClient(stack_->url(), token); }
  std::string CreateServerAs(const std::string& token, const std::string& name) {
    auto r = As(token).Post("/v2.1/servers",
                            {{"server", {{"name", name}, {"flavorRef", "1"}, {"imageRef", "x"}}}});
    EXPECT_EQ(r.status, 202) << r.raw;
    return r.body["server"].value("id", "");
  }

  static KeystoneForTest* keystone_;
  static Users* users_;
  std::string dsn_;
  std::unique_ptr<Stack> stack_;
};

KeystoneForTest* KeystoneAuth::keystone_ = nullptr;
Users* KeystoneAuth::users_ = nullptr;

TEST_F(KeystoneAuth, KeystoneRolesDecideWhatACallerMayDo) {
  StartStack();
  EXPECT_EQ(stack_->Admin().Get("/v2.1/os-hypervisors").status, 200) << "admin role: admin";
  const auto member = As(Token("member1", "p1"));
  EXPECT_EQ(member.Get("/v2.1/servers").status, 200);
  auto refused = member.Get("/v2.1/os-hypervisors");
  EXPECT_EQ(refused.status, 403) << "member role on an admin route";
  EXPECT_EQ(refused.body["forbidden"]["code"], 403) << refused.raw;
  const auto reader = As(Token("reader1", "p1"));
  EXPECT_EQ(reader.Get("/v2.1/servers").status, 200) << "reader may look";
  EXPECT_EQ(reader.Get("/v2.1/flavors").status, 200);
  EXPECT_EQ(reader.Post("/v2.1/servers", {{"server", {{"name", "r"}, {"flavorRef", "1"}}}}).status,
            403)
      << "reader may not change";
  // Valid tokens that give no ferry role: 403, not 401 (Keystone vouches for who they are).
  const std::string unknown_role = Token("service1", "p1");
  const std::string domain_scoped = keystone_->IssueDomainToken("domainadmin", kPassword);
  const std::string system_scoped =
      keystone_->IssueSystemToken("admin", keystone_->AdminPassword());
  for (const auto& [what, token] : {std::pair{"a role ferry does not know", unknown_role},
                                    std::pair{"domain-scoped, even as admin", domain_scoped},
                                    std::pair{"system-scoped, even as admin", system_scoped}}) {
    ASSERT_FALSE(token.empty()) << what << ": Keystone issued no token";
    auto r = As(token).Get("/v2.1/servers");
    EXPECT_EQ(r.status, 403) << what << ": " << r.raw;
    EXPECT_EQ(As(token).Get("/v2.1/os-hypervisors").status, 403) << what;
    EXPECT_EQ(As(token).Get("/v2.1/flavors").status, 403) << what;
  }
  EXPECT_EQ(As(domain_scoped).Get("/").status, 200) << "version discovery needs no role";
  auto garbage = As("gAAAAAB-not-a-keystone-token").Get("/v2.1/servers");
  EXPECT_EQ(garbage.status, 401);
  EXPECT_EQ(garbage.body["unauthorized"]["code"], 401) << garbage.raw;
  EXPECT_EQ(stack_->Anonymous().Get("/v2.1/servers").status, 401);
  EXPECT_EQ(As(kAdminToken).Get("/v2.1/servers").status, 401)
      << "the token file's API tokens do not count with --auth keystone";
}

TEST_F(KeystoneAuth, AServerBelongsToItsKeystoneProject) {
  StartStack();
  stack_->StartAgent("sim-1");  // agents still authenticate with the token file
  ASSERT_TRUE(stack_->WaitUntilUp({"sim-1"}));
  stack_->EnsureFlavor("1");
  const std::string member1 = Token("member1", "p1");
  const std::string uuid = CreateServerAs(member1, "p1-server");
  ASSERT_FALSE(uuid.empty());
  auto own = As(member1).Get("/v2.1/servers/" + uuid);
  ASSERT_EQ(own.status, 200) << own.raw;
  EXPECT_EQ(own.body["server"]["tenant_id"], users_->p1) << "Keystone's project id, not a name";
  EXPECT_EQ(own.body["server"]["user_id"], users_->member1_id);
  const auto member2 = As(Token("member2", "p2"));
  EXPECT_EQ(member2.Get("/v2.1/servers/" + uuid).status, 404) << "another project's server";
  auto listed = member2.Get("/v2.1/servers");
  ASSERT_EQ(listed.status, 200);
  EXPECT_TRUE(listed.body["servers"].empty()) << listed.raw;
  EXPECT_EQ(As(Token("reader1", "p1")).Get("/v2.1/servers/" + uuid).status, 200);
  EXPECT_EQ(stack_->Admin().Get("/v2.1/servers/" + uuid).status, 200);
}

TEST_F(KeystoneAuth, ARevokedTokenStopsWorkingOnceItsCacheEntryAgesOut) {
  StartStack({"--keystone-cache-seconds", "1"});
  const std::string token = Token("member1", "p1");
  ASSERT_EQ(As(token).Get("/v2.1/servers").status, 200);
  ASSERT_EQ(keystone_->Revoke(token), 204);
  std::this_thread::sleep_for(1500ms);  // the 1 s cache lifetime; a real process, a real clock
  EXPECT_EQ(As(token).Get("/v2.1/servers").status, 401);
  EXPECT_EQ(As(Token("member1", "p1")).Get("/v2.1/servers").status, 200) << "a new token works";
}

TEST_F(KeystoneAuth, TheControllerRenewsItsOwnTokenWhenKeystoneRefusesIt) {
  StartStack();
  ASSERT_EQ(As(Token("member1", "p1")).Get("/v2.1/servers").status, 200);
  keystone_->RevokeServiceUserTokens();
  // Keystone's revocation events have one-second resolution: a token issued within the same
  // second would count as revoked too.
  std::this_thread::sleep_for(1100ms);
  auto after = As(Token("member1", "p1")).Get("/v2.1/servers");  // a token not cached yet
  EXPECT_EQ(after.status, 200) << "401 on its service token: a new one, then the answer\n"
                               << after.raw;
}

TEST_F(KeystoneAuth, KeystoneDownIs503ThenExpiredTokensAreRefused) {
  StartStack();
  const std::string unseen = Token("member1", "p1");
  keystone_->Stop();
  auto down = As(unseen).Get("/v2.1/servers");
  EXPECT_EQ(down.status, 503) << down.raw;
  EXPECT_EQ(down.body["serviceUnavailable"]["code"], 503) << down.raw;
  // 4 s tokens from now on (Keystone's [token] expiration), to watch one expire.
  keystone_->Start(4);
  // Keystone back: the token works once the controller's window of instant 503s after a failed
  // call (KeystoneAuthenticator::kDownFor, 2 s) has passed.
  int status = 0;
  EXPECT_TRUE(Stack::WaitFor(
      [&] {
        status = As(unseen).Get("/v2.1/servers").status;
        return status == 200;
      },
      6s))
      << "Keystone back: the token works; last status " << status;
  const std::string short_lived = Token("member1", "p1");
  ASSERT_EQ(As(short_lived).Get("/v2.1/servers").status, 200) << "validated and cached";
  std::this_thread::sleep_for(5s);
  EXPECT_EQ(As(short_lived).Get("/v2.1/servers").status, 401) << "expired, though cached";
  keystone_->Stop();
  keystone_->Start(3600);
}

// A dashboard session made from a Keystone token ends when the token does (Keystone's
// expires_at), well before the 1 h cap: with 12 s tokens the cookie lives at most 12 s, and the
// session is refused once the token has expired.
TEST_F(KeystoneAuth, ADashboardSessionEndsWhenItsKeystoneTokenDoes) {
  StartStack();
  keystone_->Stop();
  keystone_->Start(12);
  struct Restore {  // the other tests' 1 h tokens, whatever happens here
    ~Restore() {
      keystone_->Stop();
      keystone_->Start(3600);
    }
  } restore;
  const std::string token = Token("member1", "p1");
  httplib::Client web(stack_->url());
  auto login = web.Post("/dashboard/login", "token=" + token, "application/x-www-form-urlencoded");
  ASSERT_TRUE(login);
  ASSERT_EQ(login->status, 200) << login->body;
  const std::string cookie = login->get_header_value("Set-Cookie");
  std::smatch m;
  ASSERT_TRUE(std::regex_search(cookie, m, std::regex("Max-Age=([0-9]+)"))) << cookie;
  EXPECT_LE(std::stoi(m[1]), 12) << cookie;
  ASSERT_TRUE(std::regex_search(cookie, m, std::regex("ferry_session=([0-9a-f]{64})"))) << cookie;
  const httplib::Headers with_cookie = {{"Cookie", "ferry_session=" + m[1].str()}};
  auto me = web.Get("/dashboard/api/me", with_cookie);
  ASSERT_TRUE(me);
  EXPECT_EQ(me->status, 200) << me->body;
  std::this_thread::sleep_for(13s);
  me = web.Get("/dashboard/api/me", with_cookie);
  ASSERT_TRUE(me);
  EXPECT_EQ(me->status, 401) << "the token has expired, so has its session: " << me->body;
}

TEST_F(KeystoneAuth, OpenstackCliWithPasswordAuthFindsFerryInTheCatalog) {
  StartStack();
  stack_->StartAgent("sim-1");
  ASSERT_TRUE(stack_->WaitUntilUp({"sim-1"}));
  stack_->EnsureFlavor("1");
  keystone_->SetFerryUrl(stack_->url());
  const std::string uuid = CreateServerAs(Token("member1", "p1"), "cli-server");
  // OS_* password auth, as an openrc file sets it: no endpoint given, the catalog names ferry.
  auto cli = [&](const std::string& user, const std::string& password, const std::string& project,
                 std::vector<std::string> args) {
    std::vector<std::string> argv{"/usr/bin/env",
                                  "OS_AUTH_URL=" + keystone_->url(),
                                  "OS_IDENTITY_API_VERSION=3",
                                  "OS_USERNAME=" + user,
                                  "OS_PASSWORD=" + password,
                                  "OS_PROJECT_NAME=" + project,
                                  "OS_USER_DOMAIN_NAME=Default",
                                  "OS_PROJECT_DOMAIN_NAME=Default",
                                  "OS_REGION_NAME=RegionOne"};
    argv.insert(argv.end(), args.begin(), args.end());
    std::string out;
    EXPECT_EQ(RunCommand(argv, &out), 0) << out;
    return out;
  };
  auto hypervisors = json::parse(cli("admin", keystone_->AdminPassword(), "admin",
                                     {"/usr/bin/openstack", "hypervisor", "list", "-f", "json"}),
                                 nullptr, false);
  ASSERT_TRUE(hypervisors.is_array()) << hypervisors;
  ASSERT_EQ(hypervisors.size(), 1u);
  EXPECT_EQ(hypervisors[0]["Hypervisor Hostname"], "sim-1");
  // openstackclient opens an image client for `server list` and `server show`: the catalog's
  // image entry is ferry's, which has no images, so the image shows as the server's imageRef.
  auto mine = json::parse(
      cli("member1", kPassword, "p1", {"/usr/bin/openstack", "server", "list", "-f", "json"}),
      nullptr, false);
  ASSERT_TRUE(mine.is_array()) << mine;
  ASSERT_EQ(mine.size(), 1u) << mine;
  EXPECT_EQ(mine[0]["ID"], uuid);
  EXPECT_EQ(mine[0]["Name"], "cli-server");
  auto shown = json::parse(
      cli("member1", kPassword, "p1", {"/usr/bin/openstack", "server", "show", uuid, "-f", "json"}),
      nullptr, false);
  EXPECT_EQ(shown.value("id", ""), uuid) << shown;
  EXPECT_EQ(shown.value("image", ""), "x") << shown;
  auto theirs = json::parse(
      cli("member2", kPassword, "p2", {"/usr/bin/openstack", "server", "list", "-f", "json"}),
      nullptr, false);
  EXPECT_EQ(theirs, json::array()) << "another project's server, or an error";
  auto images = json::parse(
      cli("member1", kPassword, "p1", {"/usr/bin/openstack", "image", "list", "-f", "json"}),
      nullptr, false);
  EXPECT_EQ(images, json::array());
  // novaclient, too, through the same catalog.
  const std::string nova_list = cli("member1", kPassword, "p1", {"/usr/bin/nova", "list"});
  EXPECT_NE(nova_list.find(uuid), std::string::npos) << nova_list;

  // ferryctl with the same OS_* variables and neither FERRY_URL nor FERRY_TOKEN.
  client::KeystoneCredentials member1;
  member1.auth_url = keystone_->url();
  member1.username = "member1";
  member1.password = kPassword;
  member1.project_name = "p1";
  std::ostringstream out, err;
  std::vector<std::string> args{"ferryctl", "server", "list"};
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  const client::Env env{std::nullopt, std::nullopt, false, member1};
  EXPECT_EQ(client::RunFerryctl(static_cast<int>(argv.size()), argv.data(), out, err, env), 0)
      << err.str();
  EXPECT_NE(out.str().find("cli-server"), std::string::npos) << out.str();
}

}  // namespace
}  // namespace ferry::testing
