// The built-in dashboard over HTTP (the browser itself: tests/browser): its headers, login into
// a session cookie and logout, idle and absolute expiry, what a member sees (their project's
// moves only, no hosts, no drains) and bad input answered with Nova's error body. A session ends
// with its token; a user has at most 20; refused logins are logged; a member's history query
// starts from their servers; a TLS proxy's X-Forwarded-Host is a same origin.
#include <gtest/gtest.h>
#include <httplib.h>

#include <algorithm>
#include <fstream>
#include <pqxx/pqxx>
#include <regex>
#include <set>

#include "controller/store/dashboard_store.hpp"
#include "tests/support/live_migration_stack.hpp"

namespace ferry::testing {
namespace {

struct Answer {
  int status = 0;
  std::string body;
  httplib::Headers headers;
  nlohmann::json Json() const { return nlohmann::json::parse(body, nullptr, false); }
  std::string Header(const std::string& name) const {
    auto it = headers.find(name);
    return it == headers.end() ? "" : it->second;
  }
};

// A browser-like client: the session cookie travels in a Cookie header, never a token.
class Browser {
 public:
  explicit Browser(const std::string& url) : url_(url) {}
  void SetCookie(std::string id) { cookie_ = std::move(id); }
  const std::string& cookie() const { return cookie_; }

  Answer Get(const std::string& path, httplib::Headers extra = {}) const {
    return Send("GET", path, "", "", std::move(extra));
  }
  Answer Post(const std::string& path, const std::string& body, const std::string& type,
              httplib::Headers extra = {}) const {
    return Send("POST", path, body, type, std::move(extra));
  }
  // Logs in with `token` as the page's form does; keeps the cookie.
  Answer Login(const std::string& token, httplib::Headers extra = {}) {
    auto a = Post("/dashboard/login", "token=" + token, "application/x-www-form-urlencoded",
                  std::move(extra));
    std::smatch m;
    const std::string set = a.Header("Set-Cookie");
    if (std::regex_search(set, m, std::regex("ferry_session=([0-9a-f]{64})"))) cookie_ = m[1];
    return a;
  }

 private:
  Answer Send(const std::string& method, const std::string& path, const std::string& body,
              const std::string& type, httplib::Headers h) const {
    httplib::Client cli(url_);
    cli.set_read_timeout(std::chrono::seconds(30));
    if (!cookie_.empty()) h.emplace("Cookie", "theme=dark; ferry_session=" + cookie_);
    auto res = method == "GET"
                   ? cli.Get(path.c_str(), h)
                   : cli.Post(path.c_str(), h, body, type.empty() ? "text/plain" : type);
    Answer a;
    if (!res) return a;
    a.status = res->status;
    a.body = res->body;
    a.headers = res->headers;
    return a;
  }
  std::string url_;
  std::string cookie_;
};

// Nova's error body: {"<fault>": {"code": N, "message": "..."}} with the answer's status.
void ExpectNovaError(const Answer& a, int status, const std::string& fault) {
  EXPECT_EQ(a.status, status) << a.body;
  auto j = a.Json();
  ASSERT_TRUE(j.is_object() && j.contains(fault)) << a.body;
  EXPECT_EQ(j[fault]["code"], status) << a.body;
  EXPECT_TRUE(j[fault]["message"].is_string()) << a.body;
}

void ExpectStrictHeaders(const Answer& a) {
  const auto csp = a.Header("Content-Security-Policy");
  EXPECT_NE(csp.find("default-src 'self'"), std::string::npos) << csp;
  EXPECT_NE(csp.find("frame-ancestors 'none'"), std::string::npos) << csp;
  EXPECT_EQ(a.Header("X-Frame-Options"), "DENY");
  EXPECT_EQ(a.Header("X-Content-Type-Options"), "nosniff");
}

class Dashboard : public ::testing::Test {
 protected:
  void SetUp() override {
    FERRY_REQUIRE_PG(dsn);
    lm_ = std::make_unique<LiveMigrationStack>(dsn);
  }
  void Exec(const std::string& sql) {
    pqxx::connection c(lm_->stack->dsn());
    pqxx::work w(c);
    w.exec(sql);
    w.commit();
  }
  int64_t Count(const std::string& sql) {
    pqxx::connection c(lm_->stack->dsn());
    pqxx::work w(c);
    return w.exec1(sql)[0].as<int64_t>();
  }
  Browser NewBrowser() const { return Browser(lm_->stack->url()); }
  // The stack's token file (its directory is the agents' state dirs' parent).
  std::string TokenFile() const {
    const std::string state = lm_->stack->AgentStateDir("x");
    return state.substr(0, state.size() - std::string("/state-x").size()) + "/tokens";
  }
  std::unique_ptr<LiveMigrationStack> lm_;
};

TEST_F(Dashboard, PageAndAssetsComeFromTheControllerWithStrictHeaders) {
  auto b = NewBrowser();
  auto page = b.Get("/dashboard");
  ASSERT_EQ(page.status, 200);
  EXPECT_EQ(page.Header("Content-Type"), "text/html; charset=utf-8");
  EXPECT_EQ(page.Header("Cache-Control"), "no-store");
  ExpectStrictHeaders(page);
  // Everything the page loads is the controller's own: no scheme-qualified URL anywhere.
  EXPECT_EQ(page.body.find("http://"), std::string::npos);
  EXPECT_EQ(page.body.find("https://"), std::string::npos);
  EXPECT_EQ(page.body.find("<script>"), std::string::npos) << "no inline script (CSP)";
  for (const char* asset : {"/dashboard/static/dashboard.js", "/dashboard/static/dashboard.css"}) {
    auto a = b.Get(asset);
    ASSERT_EQ(a.status, 200) << asset;
    ExpectStrictHeaders(a);
    EXPECT_EQ(a.body.find("https://"), std::string::npos) << asset;
  }
  EXPECT_EQ(b.Get("/dashboard/static/nothing.js").status, 404);
}

TEST_F(Dashboard, LoginGivesAStrictSessionCookieAndLogoutEndsTheSession) {
  auto b = NewBrowser();
  auto login = b.Login(kAdminToken);
  ASSERT_EQ(login.status, 200) << login.body;
  ExpectStrictHeaders(login);
  const std::string set = login.Header("Set-Cookie");
  EXPECT_TRUE(std::regex_search(set, std::regex("^ferry_session=[0-9a-f]{64}; "))) << set;
  for (const char* attr : {"; HttpOnly", "; SameSite=Strict", "; Path=/dashboard", "; Max-Age="}) {
    EXPECT_NE(set.find(attr), std::string::npos) << attr << " in " << set;
  }
  EXPECT_EQ(set.find("Secure"), std::string::npos) << "plain HTTP, no flag: " << set;
  ASSERT_EQ(b.cookie().size(), 64u);
  EXPECT_EQ(login.Json()["role"], "admin");

  // Only the id's SHA-256 is stored.
  EXPECT_EQ(Count("SELECT count(*) FROM dashboard_sessions WHERE id_sha256 = sha256('" +
                  b.cookie() + "'::bytea) AND role = 'admin' AND name = 'admin'"),
            1);
  EXPECT_EQ(Count("SELECT count(*) FROM dashboard_sessions WHERE encode(id_sha256, 'hex') = '" +
                  b.cookie() + "'"),
            0);

  auto me = b.Get("/dashboard/api/me");
  ASSERT_EQ(me.status, 200) << me.body;
  EXPECT_EQ(me.Json()["admin"], true);
  EXPECT_EQ(me.Header("Cache-Control"), "no-store");
  ExpectStrictHeaders(me);
  for (const char* path : {"/dashboard/api/moves", "/dashboard/api/history", "/dashboard/api/hosts",
                           "/dashboard/api/drains"}) {
    auto a = b.Get(path);
    EXPECT_EQ(a.status, 200) << path << ": " << a.body;
    EXPECT_EQ(a.Header("Cache-Control"), "no-store") << path;
  }

  auto out = b.Post("/dashboard/logout", "", "");
  EXPECT_EQ(out.status, 204) << out.body;
  EXPECT_NE(out.Header("Set-Cookie").find("Max-Age=0"), std::string::npos);
  EXPECT_EQ(Count("SELECT count(*) FROM dashboard_sessions"), 0);
  // The old cookie is worth nothing now, on every endpoint.
  ExpectNovaError(b.Get("/dashboard/api/me"), 401, "unauthorized");
  ExpectNovaError(b.Get("/dashboard/api/moves"), 401, "unauthorized");
  ExpectNovaError(b.Post("/dashboard/logout", "", ""), 401, "unauthorized");
}

TEST_F(Dashboard, TheCookieIsSecureBehindATlsProxyAndSessionsOutliveARestart) {
  auto b = NewBrowser();
  auto proxied = b.Login(kAdminToken, {{"X-Forwarded-Proto", "https"}});
  ASSERT_EQ(proxied.status, 200);
  EXPECT_NE(proxied.Header("Set-Cookie").find("; Secure"), std::string::npos);
  // Sessions live in PostgreSQL: a restarted controller (or another replica) knows them.
  lm_->stack->StopController();
  lm_->stack->StartController();
  EXPECT_EQ(b.Get("/dashboard/api/me").status, 200) << "a restart keeps sessions";
  EXPECT_EQ(lm_->stack->Admin().Get("/v2.1").status, 200);
}

TEST(DashboardFlags, SecureCookieFlagMarksEveryCookieSecure) {
  FERRY_REQUIRE_PG(dsn);
  LiveMigrationStack lm(dsn, {"--dashboard-secure-cookie"});
  Browser b(lm.stack->url());
  auto login = b.Login(kAdminToken);
  ASSERT_EQ(login.status, 200) << login.body;
  EXPECT_NE(login.Header("Set-Cookie").find("; Secure"), std::string::npos);
  auto out = b.Post("/dashboard/logout", "", "");
  EXPECT_EQ(out.status, 204);
  EXPECT_NE(out.Header("Set-Cookie").find("; Secure"), std::string::npos);
}

TEST_F(Dashboard, TokensOnlyInABodyAndOnlyForRolesThatMayLogIn) {
  auto b = NewBrowser();
  const std::string form = "application/x-www-form-urlencoded";
  ExpectNovaError(b.Login("no-such-token"), 401, "unauthorized");
  // Agents (and any role but admin, member and reader) never log in.
  ExpectNovaError(b.Login(kAgentToken), 403, "forbidden");
  // A token in the URL is not looked at: the body must carry it.
  ExpectNovaError(b.Post(std::string("/dashboard/login?token=") + kAdminToken, "", form), 400,
                  "badRequest");
  EXPECT_EQ(b.Get(std::string("/dashboard/login?token=") + kAdminToken).status, 405);
  ExpectNovaError(b.Post("/dashboard/login", "token=", form), 400, "badRequest");
  ExpectNovaError(b.Post("/dashboard/login", "token=a%0Ab", form), 400, "badRequest");
  ExpectNovaError(b.Post("/dashboard/login", std::string("token=") + kAdminToken, "text/plain"),
                  400, "badRequest");
  ExpectNovaError(b.Post("/dashboard/login", "{\"token\": 1}", "application/json"), 400,
                  "badRequest");
  // JSON works as well as the form.
  EXPECT_EQ(b.Post("/dashboard/login", std::string("{\"token\": \"") + kAdminToken + "\"}",
                   "application/json")
                .status,
            200);
  // The login body is tiny: 4 KiB at most, refused before it is read.
  EXPECT_EQ(b.Post("/dashboard/login", "token=" + std::string(5000, 'a'), form).status, 413);
  // Another site's page cannot log a browser in (login CSRF).
  ExpectNovaError(b.Post("/dashboard/login", std::string("token=") + kAdminToken, form,
                         {{"Origin", "http://evil.example"}}),
                  403, "forbidden");
  // A token is not a session: the data endpoints want the cookie.
  httplib::Client cli(lm_->stack->url());
  auto with_token = cli.Get("/dashboard/api/moves", {{"X-Auth-Token", kAdminToken}});
  ASSERT_TRUE(with_token);
  EXPECT_EQ(with_token->status, 401);
  // A made-up cookie of the right shape is unknown; a malformed one is refused unread.
  Browser forged = NewBrowser();
  forged.SetCookie(std::string(64, 'a'));
  ExpectNovaError(forged.Get("/dashboard/api/moves"), 401, "unauthorized");
  forged.SetCookie("../../etc");
  ExpectNovaError(forged.Get("/dashboard/api/moves"), 401, "unauthorized");
  EXPECT_EQ(Count("SELECT count(*) FROM dashboard_sessions"), 1);  // the JSON login's
}

TEST_F(Dashboard, SessionsEndWhenIdleOrOldAndEndedOnesAreCleanedUp) {
  auto idle = NewBrowser();
  ASSERT_EQ(idle.Login(kAdminToken).status, 200);
  auto old = NewBrowser();
  ASSERT_EQ(old.Login(kMemberToken).status, 200);
  ASSERT_EQ(idle.Get("/dashboard/api/me").status, 200);
  ASSERT_EQ(old.Get("/dashboard/api/me").status, 200);
  // 31 min without a request (idle default 30 min); past the absolute end.
  Exec(
      "UPDATE dashboard_sessions SET last_seen_at = now() - interval '31 minutes' "
      "WHERE role = 'admin'");
  Exec(
      "UPDATE dashboard_sessions SET created_at = now() - interval '13 hours', "
      "expires_at = now() - interval '1 hour' WHERE role = 'member'");
  ExpectNovaError(idle.Get("/dashboard/api/me"), 401, "unauthorized");
  ExpectNovaError(old.Get("/dashboard/api/moves"), 401, "unauthorized");
  // A session in use moves its last_seen_at (at most every 15 s).
  auto fresh = NewBrowser();
  ASSERT_EQ(fresh.Login(kAdminToken).status, 200);  // deletes the ended ones on the way
  EXPECT_EQ(Count("SELECT count(*) FROM dashboard_sessions"), 1);
  Exec("UPDATE dashboard_sessions SET last_seen_at = now() - interval '20 minutes'");
  ASSERT_EQ(fresh.Get("/dashboard/api/me").status, 200);
  EXPECT_EQ(Count("SELECT count(*) FROM dashboard_sessions "
                  "WHERE last_seen_at > now() - interval '1 minute'"),
            1);
}

TEST_F(Dashboard, BadInputGetsNovasErrorBody) {
  auto b = NewBrowser();
  ASSERT_EQ(b.Login(kAdminToken).status, 200);
  for (const char* path :
       {"/dashboard/api/history?kind=teleport", "/dashboard/api/history?outcome=maybe",
        "/dashboard/api/history?limit=0", "/dashboard/api/history?limit=201",
        "/dashboard/api/history?limit=1e3", "/dashboard/api/history?since=yesterday",
        "/dashboard/api/history?since=-5", "/dashboard/api/history?since=100&until=50",
        "/dashboard/api/history?host=a%20b", "/dashboard/api/history?colour=red",
        "/dashboard/api/moves?project_id=other", "/dashboard/api/moves/not-a-uuid/events"}) {
    ExpectNovaError(b.Get(path), 400, "badRequest");
  }
  ExpectNovaError(b.Get("/dashboard/api/moves/00000000-0000-0000-0000-000000000000/events"), 404,
                  "itemNotFound");
  ExpectNovaError(b.Get("/dashboard/api/nothing"), 404, "itemNotFound");
  EXPECT_EQ(b.Get("/dashboard/api/history?kind=live-migration&outcome=succeeded&host=sim-1"
                  "&since=0&until=99999999999&limit=200")
                .status,
            200);
}

TEST_F(Dashboard, AMemberSeesOnlyTheirProjectsMovesAndNoHostsOrDrains) {
  lm_->StartHosts({{"sim-1", {}}, {"sim-2", {}}});
  lm_->stack->EnsureFlavor("1", 1, 512, 1);
  auto theirs = lm_->ServerOn("sim-1", "admins-server");
  // The member (project "alice" in the token file) creates a server of their own.
  auto member_api = lm_->stack->Member();
  auto created = member_api.Post("/v2.1/servers",
                                 {{"server", {{"name", "alices-server"}, {"flavorRef", "1"}}}});
  ASSERT_EQ(created.status, 202) << created.raw;
  const std::string mine = created.body["server"]["id"];
  ASSERT_EQ(lm_->stack->WaitServerSettled(mine)["status"], "ACTIVE");
  for (const auto& id : {theirs, mine}) {
    ASSERT_EQ(lm_->MigrateLive(id, {{"host", nullptr}, {"block_migration", "auto"}}).status, 202);
    ASSERT_TRUE(lm_->WaitTerminal(id));
    ASSERT_EQ(lm_->LatestStatus(id), "completed");
  }
  const std::string their_move = lm_->LatestMigration(theirs)["uuid"];
  const std::string my_move = lm_->LatestMigration(mine)["uuid"];

  auto admin = NewBrowser();
  ASSERT_EQ(admin.Login(kAdminToken).status, 200);
  auto all = admin.Get("/dashboard/api/history").Json()["history"];
  ASSERT_EQ(all.size(), 2u) << all.dump();
  EXPECT_TRUE(all[0].contains("source_host")) << all.dump();
  EXPECT_EQ(admin.Get("/dashboard/api/moves/" + their_move + "/events").status, 200);
  auto hosts = admin.Get("/dashboard/api/hosts").Json()["hosts"];
  EXPECT_EQ(hosts.size(), 2u) << hosts.dump();
  auto on_sim1 = admin.Get("/dashboard/api/history?host=sim-1").Json()["history"];
  EXPECT_GE(on_sim1.size(), 1u);
  // Both moves over: the tiles count none in flight (an admin's counts at most 2 s old).
  const nlohmann::json none = {{"in_progress", 0}, {"queued", 0}};
  EXPECT_EQ(admin.Get("/dashboard/api/moves").Json()["counts"], none);

  auto member = NewBrowser();
  ASSERT_EQ(member.Login(kMemberToken).status, 200);
  auto me = member.Get("/dashboard/api/me").Json();
  EXPECT_EQ(me["admin"], false);
  EXPECT_EQ(me["project_id"], "alice");
  auto history = member.Get("/dashboard/api/history").Json()["history"];
  ASSERT_EQ(history.size(), 1u) << history.dump();
  EXPECT_EQ(history[0]["server_uuid"], mine);
  EXPECT_EQ(history[0]["outcome"], "succeeded");
  for (const char* hidden :
       {"source_host", "dest_host", "drain_uuid", "reason", "project_id", "user_id"}) {
    EXPECT_FALSE(history[0].contains(hidden)) << hidden;
  }
  const auto member_moves = member.Get("/dashboard/api/moves").Json();
  EXPECT_EQ(member_moves["moves"].size(), 0u);
  EXPECT_EQ(member_moves["counts"], none) << member_moves.dump();
  auto trail = member.Get("/dashboard/api/moves/" + my_move + "/events");
  ASSERT_EQ(trail.status, 200) << trail.body;
  EXPECT_GE(trail.Json()["events"].size(), 3u);
  for (const auto& event : trail.Json()["events"]) {
    for (const char* hidden : {"project_id", "request_id", "actor", "reason"}) {
      EXPECT_FALSE(event.contains(hidden)) << hidden << ": " << event.dump();
    }
  }
  // The admin sees them.
  auto admin_trail = admin.Get("/dashboard/api/moves/" + my_move + "/events").Json()["events"];
  ASSERT_FALSE(admin_trail.empty());
  EXPECT_TRUE(admin_trail[0].contains("request_id")) << admin_trail.dump();
  EXPECT_TRUE(admin.Get("/dashboard/api/history").Json()["history"][0].contains("user_id"));
  // Another project's move does not exist for them.
  ExpectNovaError(member.Get("/dashboard/api/moves/" + their_move + "/events"), 404,
                  "itemNotFound");
  // Admin-only panels and filters: 403.
  ExpectNovaError(member.Get("/dashboard/api/hosts"), 403, "forbidden");
  ExpectNovaError(member.Get("/dashboard/api/drains"), 403, "forbidden");
  ExpectNovaError(member.Get("/dashboard/api/history?host=sim-1"), 403, "forbidden");
  // Two moves in flight, one of each project's server, both asked by the admin (the member's
  // rows go by the server's project, not the move's), held by another controller's lease so
  // that this one's engine leaves them be: the member's live moves are theirs alone, with
  // progress and without the admin-only fields; their counts, read with the page, agree.
  Exec(
      "INSERT INTO migrations (uuid, instance_uuid, migration_type, status, source_compute, "
      "dest_compute, user_id, project_id, lease_owner, lease_until, memory_total, "
      "memory_remaining) SELECT gen_random_uuid(), uuid, 'live-migration', 'running', 'sim-1', "
      "'sim-2', 'admin', 'admin', 'another-controller', now() + interval '1 hour', 1000, 400 "
      "FROM servers WHERE uuid IN ('" +
      mine + "', '" + theirs + "')");
  const auto in_flight = member.Get("/dashboard/api/moves").Json();
  ASSERT_EQ(in_flight["moves"].size(), 1u) << in_flight.dump();
  EXPECT_EQ(in_flight["moves"][0]["server_uuid"], mine);
  EXPECT_EQ(in_flight["moves"][0]["progress_percent"], 60.0);
  EXPECT_EQ(in_flight["moves"][0]["status"], "running");
  for (const char* hidden :
       {"source_host", "dest_host", "lease_owner", "lease_expired", "step_failures",
        "last_step_error", "drain_uuid", "project_id", "user_id"}) {
    EXPECT_FALSE(in_flight["moves"][0].contains(hidden)) << hidden;
  }
  const nlohmann::json one = {{"in_progress", 1}, {"queued", 0}};
  EXPECT_EQ(in_flight["counts"], one) << in_flight.dump();
  const auto admin_moves = admin.Get("/dashboard/api/moves").Json()["moves"];
  ASSERT_EQ(admin_moves.size(), 2u) << admin_moves.dump();
  EXPECT_TRUE(admin_moves[0].contains("lease_owner"));

  // No token ever appeared in a URL the controller logged.
  const auto log = lm_->stack->ControllerLog();
  EXPECT_EQ(log.find(std::string("path=/dashboard") + "/login?"), std::string::npos);
  EXPECT_EQ(log.find(kMemberToken), std::string::npos);
}

TEST_F(Dashboard, ASessionEndsWithItsTokenEvenAcrossARestart) {
  auto member = NewBrowser();
  ASSERT_EQ(member.Login(kMemberToken).status, 200);
  auto admin = NewBrowser();
  ASSERT_EQ(admin.Login(kAdminToken).status, 200);
  // The row keeps the token's SHA-256, never the token.
  EXPECT_EQ(Count(std::string("SELECT count(*) FROM dashboard_sessions WHERE token_sha256 = "
                              "sha256('") +
                  kMemberToken + "'::bytea) AND role = 'member'"),
            1);
  // The member's token leaves the token file; the admin's is there with another role.
  {
    std::ofstream f(TokenFile(), std::ios::trunc);
    f << kAdminToken << " admin admin\n"
      << kAgentToken << " agent\n"
      << kMetricsToken << " metrics prometheus\n"
      << "replacement-member-token member alice\n";
  }
  lm_->stack->StopController();
  lm_->stack->StartController();
  ExpectNovaError(member.Get("/dashboard/api/me"), 401, "unauthorized");
  ExpectNovaError(member.Get("/dashboard/api/moves"), 401, "unauthorized");
  EXPECT_EQ(admin.Get("/dashboard/api/me").status, 200) << "its token is still there";
  // The same token with another role: its old session is not the new role's.
  {
    std::ofstream f(TokenFile(), std::ios::trunc);
    f << kAdminToken << " member admin\n" << kAgentToken << " agent\n";
  }
  lm_->stack->StopController();
  lm_->stack->StartController();
  ExpectNovaError(admin.Get("/dashboard/api/me"), 401, "unauthorized");
}

TEST_F(Dashboard, AUserKeepsAtMostTwentySessionsAndRefusedLoginsAreLogged) {
  std::vector<Browser> browsers;
  for (int i = 0; i < 25; ++i) {
    browsers.push_back(NewBrowser());
    ASSERT_EQ(browsers.back().Login(kMemberToken).status, 200) << i;
  }
  auto admin = NewBrowser();
  ASSERT_EQ(admin.Login(kAdminToken).status, 200);
  EXPECT_EQ(Count("SELECT count(*) FROM dashboard_sessions WHERE user_id = 'alice'"), 20);
  // The oldest five are gone, the newest twenty and the other user's session live.
  for (int i = 0; i < 5; ++i) {
    ExpectNovaError(browsers[i].Get("/dashboard/api/me"), 401, "unauthorized");
  }
  for (int i = 5; i < 25; ++i) EXPECT_EQ(browsers[i].Get("/dashboard/api/me").status, 200) << i;
  EXPECT_EQ(admin.Get("/dashboard/api/me").status, 200);

  // Refused logins are logged at info with the reason and the peer, never the token.
  auto b = NewBrowser();
  ExpectNovaError(b.Login("guessed-token-0123"), 401, "unauthorized");
  ExpectNovaError(b.Login(kAgentToken), 403, "forbidden");
  ASSERT_TRUE(Stack::WaitFor(
      [&] {
        return lm_->stack->ControllerLog().find("a role that may not log in") != std::string::npos;
      },
      std::chrono::seconds(5)));
  const auto log = lm_->stack->ControllerLog();
  EXPECT_TRUE(std::regex_search(
      log, std::regex(R"( info \S+ dashboard login refused: unknown token peer=127\.0\.0\.1)")))
      << log.substr(log.size() > 4000 ? log.size() - 4000 : 0);
  EXPECT_EQ(log.find("guessed-token-0123"), std::string::npos);
}

TEST_F(Dashboard, BehindATlsProxyTheForwardedHostIsTheSameOrigin) {
  auto b = NewBrowser();
  const std::string form = "application/x-www-form-urlencoded";
  const std::string body = std::string("token=") + kAdminToken;
  // The proxy rewrites Host to the controller's; the browser's Origin is the proxy's.
  ExpectNovaError(b.Post("/dashboard/login", body, form, {{"Origin", "https://dash.example.com"}}),
                  403, "forbidden");
  auto ok = b.Login(kAdminToken, {{"Origin", "https://dash.example.com"},
                                  {"X-Forwarded-Host", "dash.example.com"},
                                  {"X-Forwarded-Proto", "https"}});
  EXPECT_EQ(ok.status, 200) << ok.body;
  // The first of a proxy chain's hosts; another site is still refused.
  EXPECT_EQ(b.Post("/dashboard/login", body, form,
                   {{"Origin", "https://dash.example.com"},
                    {"X-Forwarded-Host", "dash.example.com, inner.example"}})
                .status,
            200);
  ExpectNovaError(
      b.Post("/dashboard/login", body, form,
             {{"Origin", "https://evil.example"}, {"X-Forwarded-Host", "dash.example.com"}}),
      403, "forbidden");
  // Logout too.
  EXPECT_EQ(
      b.Post("/dashboard/logout", "", "",
             {{"Origin", "https://dash.example.com"}, {"X-Forwarded-Host", "dash.example.com"}})
          .status,
      204);
}

// Hosts come in pages by name (a page costs what its hosts hold, never the whole cloud); the
// tiles count every host; "problems" keeps those down, disabled or draining.
TEST_F(Dashboard, AnAdminPagesThroughHostsByNameWhileTheTilesCountEveryHost) {
  Exec(R"sql(
    INSERT INTO hosts (service_uuid, node_uuid, name, hypervisor_type, state, forced_down,
                       disabled, disabled_reason, last_heartbeat_at, vcpus, memory_mb, local_gb)
    SELECT gen_random_uuid(), gen_random_uuid(),
           -- The 100th host, the first page's end, has a name with a space and a colon (hosts
           -- are named by their agents: any 1-255 bytes), and the next page starts after it.
           'page-host-' || lpad(g::text, 3, '0') || CASE WHEN g = 99 THEN ' rack:a' ELSE '' END,
           'QEMU',
           CASE WHEN g % 50 = 7 THEN 'down' ELSE 'up' END, g = 100, g IN (11, 12),
           CASE WHEN g IN (11, 12) THEN 'maintenance' END, now(), 64, 262144, 2000
    FROM generate_series(0, 249) g;
    -- Paused with a server left: the drain engine leaves it as it is.
    INSERT INTO drains (uuid, host, mode, status, max_parallel, plan)
    VALUES (gen_random_uuid(), 'page-host-200', 'live', 'paused', 2, '{}'),
           (gen_random_uuid(), 'page-host-201', 'live', 'done', 2, '{}');
    INSERT INTO drain_servers (drain_id, server_uuid, name, position, kind, state, bytes,
                               predicted_seconds)
    SELECT id, gen_random_uuid(), 'left', 1, 'live', 'pending', 1 << 30, 60
    FROM drains WHERE host = 'page-host-200';
    -- A claim nothing holds: its consumer is neither a server nor a move.
    INSERT INTO claims (consumer_uuid, host_id, resource, amount)
    SELECT gen_random_uuid(), id, 'VCPU', 1 FROM hosts WHERE name = 'page-host-005';
  )sql");
  auto b = NewBrowser();
  ASSERT_EQ(b.Login(kAdminToken).status, 200);

  std::vector<std::string> seen;
  std::string query = "/dashboard/api/hosts";
  int pages = 0;
  for (;;) {
    auto page = b.Get(query);
    ASSERT_EQ(page.status, 200) << page.body;
    const auto j = page.Json();
    ++pages;
    EXPECT_EQ(j["limit"], 100);
    EXPECT_LE(j["hosts"].size(), 100u);
    for (const auto& h : j["hosts"]) seen.push_back(h["host"]);
    const auto& sum = j["summary"];
    EXPECT_EQ(sum["total"], 250) << sum.dump();
    EXPECT_EQ(sum["down"], 6) << "5 down by heartbeat, 1 forced down: " << sum.dump();
    EXPECT_EQ(sum["disabled"], 2) << sum.dump();
    EXPECT_EQ(sum["draining"], 1) << "only the live drain: " << sum.dump();
    EXPECT_EQ(sum["orphaned_claims"], 1) << sum.dump();
    if (j["next"].is_null()) break;
    ASSERT_EQ(j["next"], j["hosts"].back()["host"]);
    query = "/dashboard/api/hosts?after=" + httplib::detail::encode_query_param(j["next"]);
    ASSERT_LT(pages, 5) << "paging does not end";
  }
  EXPECT_EQ(pages, 3);
  ASSERT_EQ(seen.size(), 250u) << "every host exactly once";
  EXPECT_TRUE(std::is_sorted(seen.begin(), seen.end()));
  EXPECT_EQ(std::set<std::string>(seen.begin(), seen.end()).size(), 250u);

  auto problems = b.Get("/dashboard/api/hosts?problems=1&limit=500").Json();
  std::vector<std::string> names;
  for (const auto& h : problems["hosts"]) names.push_back(h["host"]);
  EXPECT_EQ(names, (std::vector<std::string>{"page-host-007", "page-host-011", "page-host-012",
                                             "page-host-057", "page-host-100", "page-host-107",
                                             "page-host-157", "page-host-200", "page-host-207"}))
      << problems.dump();
  EXPECT_TRUE(problems["next"].is_null());
  // The drain's host shows its drain; the others none.
  for (const auto& h : problems["hosts"]) {
    EXPECT_EQ(h["drain_uuid"].is_null(), h["host"] != "page-host-200") << h.dump();
  }

  for (const char* bad : {"/dashboard/api/hosts?after=a%0Ab", "/dashboard/api/hosts?after=",
                          "/dashboard/api/hosts?problems=yes", "/dashboard/api/hosts?limit=501",
                          "/dashboard/api/hosts?limit=0", "/dashboard/api/hosts?host=x"}) {
    ExpectNovaError(b.Get(bad), 400, "badRequest");
  }
}

// A member's history read starts from their project's servers (migrations_instance_idx), not
// from a walk of every finished move: a small project in a busy cloud, as the statement the
// store sends (a prepared statement with the member's parameters).
TEST_F(Dashboard, AMembersHistoryStartsFromTheirServers) {
  Exec(R"sql(
    SET session_replication_role = replica;
    INSERT INTO hosts (service_uuid, node_uuid, name, hypervisor_type, state, last_heartbeat_at,
                       vcpus, memory_mb, local_gb)
    VALUES (gen_random_uuid(), gen_random_uuid(), 'plan-host', 'QEMU', 'up', now(), 64, 262144,
            2000);
    INSERT INTO servers (uuid, name, host_id, flavorid, flavor_name, vcpus, memory_mb, root_gb,
                         vm_state, user_id, project_id)
    SELECT ('00000000-0000-4000-8000-' || lpad(to_hex(g), 12, '0'))::uuid, 'vm-' || g,
           (SELECT id FROM hosts WHERE name = 'plan-host'), 'f1', 'm1.small', 2, 4096, 20,
           'active', 'user', CASE WHEN g < 2 THEN 'small' ELSE 'big-' || (g % 50) END
    FROM generate_series(0, 4999) g;
    INSERT INTO migrations (uuid, instance_uuid, migration_type, status, source_compute,
                            dest_compute, user_id, project_id, created_at, updated_at,
                            started_at, finished_at)
    SELECT gen_random_uuid(),
           ('00000000-0000-4000-8000-' || lpad(to_hex(g % 5000), 12, '0'))::uuid,
           'live-migration', 'completed', 'plan-host', 'plan-host', 'admin', 'admin', t, t, t, t
    FROM generate_series(1, 60000) g,
         LATERAL (SELECT now() - g * interval '1 second' AS t) t;
    ANALYZE servers;
    ANALYZE migrations;
  )sql");
  pqxx::connection c(lm_->stack->dsn());
  pqxx::nontransaction n(c);
  n.exec(std::string("PREPARE history AS ") + controller::store::DashboardHistorySql());
  const std::string args =
      "(extract(epoch FROM now() - interval '24 hours')::float8, "
      "extract(epoch FROM now())::float8 + 1, 50)";
  // The first executions of a prepared statement are planned for their parameters, as the
  // controller's are; a member's and an admin's (no project).
  std::string plan;
  for (const auto& r :
       n.exec("EXPLAIN EXECUTE history('small', NULL, NULL, NULL, " + args.substr(1))) {
    plan += r[0].as<std::string>() + "\n";
  }
  EXPECT_NE(plan.find("migrations_instance_idx"), std::string::npos) << plan;
  EXPECT_EQ(plan.find("migrations_finished_idx"), std::string::npos) << plan;
  EXPECT_EQ(plan.find("Seq Scan on migrations"), std::string::npos) << plan;
  auto rows = n.exec1("EXECUTE history('small', NULL, NULL, NULL, " + args.substr(1))[0];
  EXPECT_EQ(nlohmann::json::parse(rows.as<std::string>()).size(), 24u);

  // The page's read: 24 h by default; 31 days at most.
  auto b = NewBrowser();
  ASSERT_EQ(b.Login(kAdminToken).status, 200);
  auto page = b.Get("/dashboard/api/history?since=0").Json();
  ASSERT_TRUE(page.contains("since")) << page.dump();
  EXPECT_NEAR(page["until"].get<double>() - page["since"].get<double>(), 31 * 86400, 5);
  page = b.Get("/dashboard/api/history").Json();
  EXPECT_NEAR(page["until"].get<double>() - page["since"].get<double>(), 86400, 5);
  EXPECT_EQ(page["history"].size(), 50u);
}

}  // namespace
}  // namespace ferry::testing
