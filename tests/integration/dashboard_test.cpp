// The built-in dashboard over HTTP (the browser itself: tests/browser): its headers, login into
// a session cookie and logout, idle and absolute expiry, what a member sees (their project's
// moves only, no hosts, no drains) and bad input answered with Nova's error body.
#include <gtest/gtest.h>
#include <httplib.h>

#include <pqxx/pqxx>
#include <regex>

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

  auto member = NewBrowser();
  ASSERT_EQ(member.Login(kMemberToken).status, 200);
  auto me = member.Get("/dashboard/api/me").Json();
  EXPECT_EQ(me["admin"], false);
  EXPECT_EQ(me["project_id"], "alice");
  auto history = member.Get("/dashboard/api/history").Json()["history"];
  ASSERT_EQ(history.size(), 1u) << history.dump();
  EXPECT_EQ(history[0]["server_uuid"], mine);
  EXPECT_EQ(history[0]["outcome"], "succeeded");
  for (const char* hidden : {"source_host", "dest_host", "drain_uuid", "reason"}) {
    EXPECT_FALSE(history[0].contains(hidden)) << hidden;
  }
  EXPECT_EQ(member.Get("/dashboard/api/moves").Json()["moves"].size(), 0u);
  auto trail = member.Get("/dashboard/api/moves/" + my_move + "/events");
  ASSERT_EQ(trail.status, 200) << trail.body;
  EXPECT_GE(trail.Json()["events"].size(), 3u);
  // Another project's move does not exist for them.
  ExpectNovaError(member.Get("/dashboard/api/moves/" + their_move + "/events"), 404,
                  "itemNotFound");
  // Admin-only panels and filters: 403.
  ExpectNovaError(member.Get("/dashboard/api/hosts"), 403, "forbidden");
  ExpectNovaError(member.Get("/dashboard/api/drains"), 403, "forbidden");
  ExpectNovaError(member.Get("/dashboard/api/history?host=sim-1"), 403, "forbidden");
  // No token ever appeared in a URL the controller logged.
  const auto log = lm_->stack->ControllerLog();
  EXPECT_EQ(log.find(std::string("path=/dashboard") + "/login?"), std::string::npos);
  EXPECT_EQ(log.find(kMemberToken), std::string::npos);
}

}  // namespace
}  // namespace ferry::testing
