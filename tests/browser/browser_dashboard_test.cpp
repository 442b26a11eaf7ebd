// The dashboard in a real browser: Debian's Chromium, driven by playwright-core (from the npm
// registry, pinned in tests/browser/package-lock.json) through tests/browser/dashboard.mjs,
// against a controller with two sim agents. While a throttled live migration runs, the page
// shows its progress bar growing, then the move completed in the history; a member sees only
// their own server's move and no hosts. The screenshots stay under the build dir.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "tests/support/live_migration_stack.hpp"

namespace ferry::testing {
namespace {

const std::string kBrowserDir = std::string(FERRY_SOURCE_DIR) + "/tests/browser";

bool Executable(const std::string& path) { return access(path.c_str(), X_OK) == 0; }

// The first `name` on PATH, "" when there is none.
std::string OnPath(const std::string& name) {
  const char* path = std::getenv("PATH");
  std::string rest = path ? path : "/usr/bin:/bin";
  size_t pos = 0;
  while (pos <= rest.size()) {
    size_t end = rest.find(':', pos);
    if (end == std::string::npos) end = rest.size();
    std::string candidate = rest.substr(pos, end - pos) + "/" + name;
    if (Executable(candidate)) return candidate;
    pos = end + 1;
  }
  return "";
}

std::string Slurp(const std::string& path) {
  std::ifstream in(path);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// playwright-core as package-lock.json pins it, installed by `npm ci` into
// tests/browser/node_modules when it is not there yet (never `npx playwright install`: the
// browser is Debian's).
bool EnsurePlaywright(const std::string& npm, std::string* why) {
  const std::string installed = kBrowserDir + "/node_modules/playwright-core/package.json";
  const std::string lock = Slurp(kBrowserDir + "/package-lock.json");
  const std::string have = Slurp(installed);
  auto version = [](const std::string& text, const std::string& after) {
    auto at = text.find(after);
    if (at == std::string::npos) return std::string();
    auto v = text.find("\"version\": \"", at);
    if (v == std::string::npos) return std::string();
    v += 12;
    return text.substr(v, text.find('"', v) - v);
  };
  const std::string wanted = version(lock, "\"node_modules/playwright-core\"");
  if (!wanted.empty() && version(have, "\"name\": \"playwright-core\"") == wanted) return true;
  const std::string cmd = "cd '" + kBrowserDir + "' && '" + npm +
                          "' ci --no-audit --no-fund --loglevel=error > '" + kBrowserDir +
                          "/npm-ci.log' 2>&1";
  if (std::system(cmd.c_str()) != 0) {
    *why = "npm ci failed: " + Slurp(kBrowserDir + "/npm-ci.log");
    return false;
  }
  return true;
}

TEST(BrowserDashboard, AdminWatchesAMoveRunAndCompleteAndAMemberSeesOnlyTheirs) {
  const std::string chromium =
      std::getenv("CHROMIUM") ? std::getenv("CHROMIUM") : "/usr/bin/chromium";
  const std::string node = OnPath("node");
  const std::string npm = OnPath("npm");
  if (!Executable(chromium) || node.empty() || npm.empty()) {
    const std::string missing = std::string(Executable(chromium) ? "" : " chromium") +
                                (node.empty() ? " node" : "") + (npm.empty() ? " npm" : "");
    if (InCi()) FAIL() << "missing under CI:" << missing << " (deploy/install-deps)";
    GTEST_SKIP() << "missing:" << missing << "; deploy/install-deps installs chromium nodejs npm";
  }
  FERRY_REQUIRE_PG(dsn);
  std::string why;
  ASSERT_TRUE(EnsurePlaywright(npm, &why)) << why;

  LiveMigrationStack lm(dsn);
  // 25 MB/s: a 1 GiB guest takes ~40 s to copy, long enough to watch the bar move.
  lm.StartHosts(
      {{"sim-1", {"--sim-bandwidth-mbps", "25"}}, {"sim-2", {"--sim-bandwidth-mbps", "25"}}});
  lm.stack->EnsureFlavor("1", 1, 512, 1);
  lm.stack->EnsureFlavor("2", 1, 1024, 1);
  const auto admins = lm.ServerOn("sim-1", "web-frontend-1", "2");
  auto created = lm.stack->Member().Post(
      "/v2.1/servers", {{"server", {{"name", "alice-db-1"}, {"flavorRef", "1"}}}});
  ASSERT_EQ(created.status, 202) << created.raw;
  const std::string members = created.body["server"]["id"];
  ASSERT_EQ(lm.stack->WaitServerSettled(members)["status"], "ACTIVE");
  ASSERT_EQ(lm.MigrateLive(members, {{"host", nullptr}, {"block_migration", "auto"}}).status, 202);
  ASSERT_TRUE(lm.WaitTerminal(members, std::chrono::seconds(90)));
  ASSERT_EQ(lm.LatestStatus(members), "completed");

  const std::string artifacts = std::string(FERRY_BINARY_DIR) + "/test-artifacts/browser";
  std::filesystem::create_directories(artifacts);
  const std::string log = artifacts + "/dashboard.log";
  std::filesystem::remove(log);  // Process appends: only this run's lines
  Process browser(
      node, {kBrowserDir + "/dashboard.mjs"}, log,
      {"FERRY_URL=" + lm.stack->url(), std::string("FERRY_ADMIN_TOKEN=") + kAdminToken,
       std::string("FERRY_MEMBER_TOKEN=") + kMemberToken, "FERRY_ADMIN_SERVER=" + admins,
       "FERRY_MEMBER_SERVER=" + members, "FERRY_ARTIFACTS=" + artifacts, "CHROMIUM=" + chromium,
       "NODE_PATH=" + kBrowserDir + "/node_modules"});
  // The page is open and logged in: now the move it is to watch.
  ASSERT_TRUE(Stack::WaitFor(
      [&] { return Slurp(log).find("ready-for-move") != std::string::npos || !browser.Running(); },
      std::chrono::seconds(90)))
      << Slurp(log);
  ASSERT_NE(Slurp(log).find("ready-for-move"), std::string::npos) << Slurp(log);
  ASSERT_EQ(lm.MigrateLive(admins, {{"host", "sim-2"}, {"block_migration", "auto"}}).status, 202);
  const int status = browser.Wait(std::chrono::seconds(240));
  const std::string out = Slurp(log);
  std::cout << out;
  for (const char* shot : {"dashboard-admin-running.png", "dashboard-admin-trail.png",
                           "dashboard-admin.png", "dashboard-member.png"}) {
    const std::string path = artifacts + "/" + shot;
    if (std::filesystem::exists(path)) std::cout << "screenshot artifact: " << path << "\n";
  }
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << out;
  EXPECT_EQ(lm.LatestStatus(admins), "completed");
}

}  // namespace
}  // namespace ferry::testing
