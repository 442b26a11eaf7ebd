// Every error the live-migration API can answer, against Nova's status code and Nova's error
// body ({"badRequest"|"forbidden"|"itemNotFound"|"conflictingRequest": {"code", "message"}}),
// and proof that a refused request changed nothing: no migration row, the server's host and
// states as they were, the claims as they were.
//
// The texts are Nova's: migrate_server.py, server_migrations.py, migrations.py, the
// exception classes behind them (InstanceInvalidState, ComputeHostNotFound,
// UnableToMigrateToSelf, MigrationNotFoundForInstance, InvalidMigrationState, MarkerNotFound,
// PolicyNotAuthorized) and the JSON-schema validator's "Invalid input for field/attribute <f>.
// Value: <python str>. <reason>". A server's lock binds only non-admins in Nova
// (check_instance_lock), and every route here is admin-only, so a lock never answers 409.
//
// One stack serves the whole file (starting hosts is the slow part): sim-1 dirties memory
// faster than it can copy, so a migration out of it stays `running` for as long as a test
// needs; sim-2 copies at full speed; sim-3 lives in another cell.
#include <gtest/gtest.h>

#include <set>

#include "tests/support/live_migration_stack.hpp"

namespace ferry::testing {
namespace {

// The fault name Nova's wsgi.Fault gives each code.
std::string FaultName(int code) {
  switch (code) {
    case 400:
      return "badRequest";
    case 403:
      return "forbidden";
    case 404:
      return "itemNotFound";
    case 409:
      return "conflictingRequest";
  }
  return "?";
}

// The status and the whole body, as Nova would send them.
void ExpectFault(const HttpResult& r, int code, const std::string& message) {
  EXPECT_EQ(r.status, code) << r.raw;
  const json want = {{FaultName(code), {{"code", code}, {"message", message}}}};
  EXPECT_EQ(r.body, want) << r.raw;
}

// Everything an error must leave alone.
struct Snapshot {
  int64_t migrations = 0;
  int64_t events = 0;
  json server;  // host, vm_state, task_state, locked of the watched server
  std::vector<std::tuple<std::string, std::string, std::string, int64_t>> claims;
  std::set<std::pair<int64_t, std::string>> statuses;  // every migration's id and status
  bool operator==(const Snapshot&) const = default;
};

class LiveMigrationErrors : public ::testing::Test {
 protected:
  static void TearDownTestSuite() { shared_.reset(); }

  void SetUp() override {
    FERRY_REQUIRE_PG(dsn);
    if (!shared_) {
      shared_ = std::make_unique<LiveMigrationStack>(dsn);
      shared_->StartHosts(
          {{"sim-1", {"--sim-bandwidth-mbps", "100", "--sim-dirty-rate-mbps", "150"}},
           {"sim-2", {}},
           {"sim-3", {"--cell", "cell2"}}});
      shared_->stack->EnsureFlavor("1", 1, 512, 1);
    }
    lm_ = shared_.get();
  }

  HttpClient Admin(const std::string& mv) const {
    auto c = lm_->stack->Admin();
    c.SetMicroversion(mv);
    return c;
  }
  HttpClient Member(const std::string& mv) const {
    auto c = lm_->stack->Member();
    c.SetMicroversion(mv);
    return c;
  }

  Snapshot Take(const std::string& server) {
    Snapshot s;
    s.migrations = lm_->Count("SELECT count(*) FROM migrations");
    s.events = lm_->Count("SELECT count(*) FROM migration_events");
    {
      pqxx::connection c(lm_->stack->dsn());
      pqxx::work w(c);
      auto rows = w.exec_params(
          "SELECT coalesce(h.name, ''), s.vm_state, coalesce(s.task_state, ''), s.locked FROM "
          "servers s "
          "LEFT JOIN hosts h ON h.id = s.host_id WHERE s.uuid::text = $1",
          server);
      if (!rows.empty()) {
        s.server = {rows[0][0].as<std::string>(), rows[0][1].as<std::string>(),
                    rows[0][2].as<std::string>(), rows[0][3].as<bool>()};
      }
      for (const auto& r : w.exec("SELECT id, status FROM migrations")) {
        s.statuses.insert({r[0].as<int64_t>(), r[1].as<std::string>()});
      }
    }
    for (const auto& c : lm_->Claims())
      s.claims.emplace_back(c.consumer, c.host, c.resource, c.amount);
    return s;
  }

  // Sends the request, checks Nova's answer, and checks that nothing moved.
  template <typename Send>
  void Refused(const std::string& watched, Send send, int code, const std::string& message) {
    const auto before = Take(watched);
    const HttpResult r = send();
    ExpectFault(r, code, message);
    const auto after = Take(watched);
    EXPECT_TRUE(before == after) << "the refused request changed state: server "
                                 << before.server.dump() << " -> " << after.server.dump()
                                 << ", migrations " << before.migrations << " -> "
                                 << after.migrations << ", events " << before.events << " -> "
                                 << after.events;
  }

  void RefusedMigrateLive(const std::string& server, const json& body, const std::string& mv,
                          int code, const std::string& message, bool member = false) {
    Refused(
        server,
        [&] {
          auto c = member ? Member(mv) : Admin(mv);
          return c.Post("/v2.1/servers/" + server + "/action", {{"os-migrateLive", body}});
        },
        code, message);
  }

  // Ends a migration a test started, so the next test's sim-1 has its outbound slot free.
  void AbortAndWait(const std::string& server, int64_t mid) {
    auto r = Admin("2.65").Delete("/v2.1/servers/" + server + "/migrations/" + std::to_string(mid));
    EXPECT_EQ(r.status, 202) << r.raw;
    EXPECT_TRUE(lm_->WaitTerminal(server, 30s));
  }

  void SetServer(const std::string& server, const std::string& assignments) {
    lm_->Sql("UPDATE servers SET " + assignments + " WHERE uuid = '" + server + "'");
  }

  static std::unique_ptr<LiveMigrationStack> shared_;
  LiveMigrationStack* lm_ = nullptr;
};

std::unique_ptr<LiveMigrationStack> LiveMigrationErrors::shared_;

constexpr const char* kUnknownServer = "8a4f1b2c-0d3e-4f5a-9b6c-7d8e9f0a1b2c";
const json kAuto = {{"host", "sim-2"}, {"block_migration", "auto"}};
const json kLegacy = {{"host", "sim-2"}, {"block_migration", false}, {"disk_over_commit", false}};

std::string NotFound(const std::string& uuid) {
  return "Instance " + uuid + " could not be found.";
}

// --- POST /servers/{id}/action os-migrateLive: the checks behind the schema ---------------

TEST_F(LiveMigrationErrors, MigrateLiveDestinationErrorsAre400) {
  auto id = lm_->ServerOn("sim-1", "dest-errors");
  for (const char* mv : {"2.1", "2.24", "2.25", "2.30", "2.34", "2.68", "2.80"}) {
    SCOPED_TRACE(mv);
    const bool legacy = std::string(mv) == "2.1" || std::string(mv) == "2.24";
    auto body = [&](const std::string& host) {
      json b = legacy ? kLegacy : kAuto;
      b["host"] = host;
      return b;
    };
    // ComputeHostNotFound, raised by the API's own lookup of the host at every version.
    RefusedMigrateLive(id, body("no-such-host"), mv, 400,
                       "Compute host no-such-host could not be found.");
    // A host of another cell: Nova's API looks the host up in the server's cell, so it is not
    // found there.
    RefusedMigrateLive(id, body("sim-3"), mv, 400, "Compute host sim-3 could not be found.");
    // UnableToMigrateToSelf: Nova raises it in the conductor, so it is the request's 400 only
    // before 2.34 (from 2.34 below).
    if (std::string(mv) < "2.34") {
      RefusedMigrateLive(id, body("sim-1"), mv, 400,
                         "Unable to migrate instance (" + id + ") to current host (sim-1).");
    }
  }
  // From 2.34 the request is accepted and the migration fails its pre-checks: status error,
  // the server untouched on its host.
  for (const char* mv : {"2.34", "2.80"}) {
    SCOPED_TRACE(mv);
    auto r = Admin(mv).Post("/v2.1/servers/" + id + "/action",
                            {{"os-migrateLive", {{"host", "sim-1"}, {"block_migration", "auto"}}}});
    ASSERT_EQ(r.status, 202) << r.raw;
    ASSERT_TRUE(lm_->WaitTerminal(id, 30s));
    auto m = lm_->LatestMigration(id);
    EXPECT_EQ(m["status"], "error") << m.dump();
    EXPECT_EQ(m["error"], "Unable to migrate instance (" + id + ") to current host (sim-1).")
        << m.dump();
    auto server = lm_->Server(id);
    EXPECT_EQ(server["OS-EXT-SRV-ATTR:host"], "sim-1");
    EXPECT_EQ(server["status"], "ACTIVE");
    EXPECT_TRUE(server["OS-EXT-STS:task_state"].is_null());
  }
  // force=true names no destination (2.30-2.67).
  RefusedMigrateLive(id, {{"host", nullptr}, {"block_migration", "auto"}, {"force", true}}, "2.30",
                     400, "Can't force to a non-provided destination");
  RefusedMigrateLive(id, {{"block_migration", "auto"}, {"force", true}, {"host", nullptr}}, "2.67",
                     400, "Can't force to a non-provided destination");
}

TEST_F(LiveMigrationErrors, MigrateLiveStateErrorsAre409) {
  auto id = lm_->ServerOn("sim-1", "state-errors");
  for (const char* vm_state : {"stopped", "suspended", "error"}) {
    SetServer(id, std::string("vm_state = '") + vm_state + "'");
    RefusedMigrateLive(
        id, kAuto, "2.80", 409,
        "Cannot 'os-migrateLive' instance " + id + " while it is in vm_state " + vm_state);
    RefusedMigrateLive(
        id, kLegacy, "2.1", 409,
        "Cannot 'os-migrateLive' instance " + id + " while it is in vm_state " + vm_state);
  }
  SetServer(id, "vm_state = 'active', task_state = 'rebooting'");
  RefusedMigrateLive(
      id, kAuto, "2.80", 409,
      "Cannot 'os-migrateLive' instance " + id + " while it is in task_state rebooting");
  // A lock binds only non-admins (Nova's check_instance_lock), and non-admins are refused by
  // the policy before it: for the admin a locked server is judged by its state alone.
  // The member's own project's server: another project's would be 404 (MigrateLiveUnknown...).
  SetServer(id, "vm_state = 'stopped', task_state = NULL, locked = true, project_id = 'alice'");
  RefusedMigrateLive(id, kAuto, "2.80", 409,
                     "Cannot 'os-migrateLive' instance " + id + " while it is in vm_state stopped");
  RefusedMigrateLive(
      id, kAuto, "2.80", 403,
      "Policy doesn't allow os_compute_api:os-migrate-server:migrate_live to be performed.",
      /*member=*/true);
  SetServer(id, "vm_state = 'active', locked = false");

  // A real migration in progress (task_state migrating), of a locked server: the admin's
  // request is accepted all the same.
  auto busy = lm_->ServerOn("sim-1", "state-busy");
  SetServer(busy, "locked = true");
  ASSERT_EQ(lm_->MigrateLive(busy, kAuto).status, 202);
  ASSERT_TRUE(lm_->WaitStatus(busy, "running")) << lm_->LatestMigration(busy).dump();
  const auto mid = lm_->LatestMigration(busy)["id"].get<int64_t>();
  RefusedMigrateLive(
      busy, kAuto, "2.80", 409,
      "Cannot 'os-migrateLive' instance " + busy + " while it is in task_state migrating");
  RefusedMigrateLive(
      busy, {{"host", nullptr}, {"block_migration", "auto"}}, "2.68", 409,
      "Cannot 'os-migrateLive' instance " + busy + " while it is in task_state migrating");
  AbortAndWait(busy, mid);
}

TEST_F(LiveMigrationErrors, MigrateLiveUnknownServerIs404AndNonAdminIs403) {
  auto id = lm_->ServerOn("sim-1", "policy");
  // Another project's server is not found for a member (Nova looks it up in the caller's
  // context): a 403 would tell that it exists.
  RefusedMigrateLive(id, kAuto, "2.80", 404, "Instance " + id + " could not be found.",
                     /*member=*/true);
  SetServer(id, "project_id = 'alice'");  // the member's project: found, then refused
  RefusedMigrateLive(
      id, kAuto, "2.80", 403,
      "Policy doesn't allow os_compute_api:os-migrate-server:migrate_live to be performed.",
      /*member=*/true);
  RefusedMigrateLive(
      id, kLegacy, "2.1", 403,
      "Policy doesn't allow os_compute_api:os-migrate-server:migrate_live to be performed.",
      /*member=*/true);
  for (const char* mv : {"2.1", "2.80"}) {
    json body = std::string(mv) == "2.1" ? kLegacy : kAuto;
    Refused(
        id,
        [&] {
          return Admin(mv).Post(std::string("/v2.1/servers/") + kUnknownServer + "/action",
                                {{"os-migrateLive", body}});
        },
        404, NotFound(kUnknownServer));
    Refused(
        id,
        [&] {
          return Admin(mv).Post("/v2.1/servers/not-a-uuid/action", {{"os-migrateLive", body}});
        },
        404, NotFound("not-a-uuid"));
    // Nova looks the server up before the policy check: a member learns 404 too.
    Refused(
        id,
        [&] {
          return Member(mv).Post(std::string("/v2.1/servers/") + kUnknownServer + "/action",
                                 {{"os-migrateLive", body}});
        },
        404, NotFound(kUnknownServer));
  }
  // ... and validates the body before either.
  RefusedMigrateLive(id, {{"host", nullptr}}, "2.80", 400,
                     "Invalid input for field/attribute os-migrateLive. Value: {'host': None}. "
                     "'block_migration' is a required property",
                     /*member=*/true);
}

// --- os-migrateLive: the schema of each microversion ----------------------------------------

TEST_F(LiveMigrationErrors, MigrateLiveSchemaOfEachMicroversion) {
  auto id = lm_->ServerOn("sim-1", "schema");
  const std::string kBoolEnum =
      "[True, 'True', 'TRUE', 'true', '1', 'ON', 'On', 'on', 'YES', 'Yes', 'yes', False, 'False', "
      "'FALSE', 'false', '0', 'OFF', 'Off', 'off', 'NO', 'No', 'no']";

  // 2.1-2.24: block_migration and disk_over_commit are required booleans.
  RefusedMigrateLive(
      id, {{"host", nullptr}, {"disk_over_commit", false}}, "2.24", 400,
      "Invalid input for field/attribute os-migrateLive. Value: {'disk_over_commit': False, "
      "'host': None}. 'block_migration' is a required property");
  RefusedMigrateLive(
      id, {{"host", nullptr}, {"block_migration", false}}, "2.1", 400,
      "Invalid input for field/attribute os-migrateLive. Value: {'block_migration': False, "
      "'host': None}. 'disk_over_commit' is a required property");
  RefusedMigrateLive(
      id, {{"block_migration", false}, {"disk_over_commit", false}}, "2.1", 400,
      "Invalid input for field/attribute os-migrateLive. Value: {'block_migration': False, "
      "'disk_over_commit': False}. 'host' is a required property");
  RefusedMigrateLive(
      id, {{"host", nullptr}, {"block_migration", "auto"}, {"disk_over_commit", false}}, "2.24",
      400,
      "Invalid input for field/attribute block_migration. Value: auto. 'auto' is not one of " +
          kBoolEnum);
  RefusedMigrateLive(
      id, {{"host", nullptr}, {"block_migration", false}, {"disk_over_commit", "maybe"}}, "2.1",
      400,
      "Invalid input for field/attribute disk_over_commit. Value: maybe. 'maybe' is not one of " +
          kBoolEnum);
  RefusedMigrateLive(
      id, {{"host", nullptr}, {"block_migration", 1}, {"disk_over_commit", false}}, "2.1", 400,
      "Invalid input for field/attribute block_migration. Value: 1. 1 is not of type 'boolean', "
      "'string'");
  RefusedMigrateLive(
      id,
      {{"host", nullptr},
       {"block_migration", false},
       {"disk_over_commit", false},
       {"force", false}},
      "2.24", 400,
      "Invalid input for field/attribute os-migrateLive. Value: {'block_migration': False, "
      "'disk_over_commit': False, 'force': False, 'host': None}. Additional properties are not "
      "allowed ('force' was unexpected)");

  // 2.25+: disk_over_commit is gone; block_migration may be "auto".
  RefusedMigrateLive(
      id, {{"host", nullptr}, {"block_migration", "auto"}, {"disk_over_commit", false}}, "2.25",
      400,
      "Invalid input for field/attribute os-migrateLive. Value: {'block_migration': 'auto', "
      "'disk_over_commit': False, 'host': None}. Additional properties are not allowed "
      "('disk_over_commit' was unexpected)");
  RefusedMigrateLive(id, {{"host", nullptr}}, "2.25", 400,
                     "Invalid input for field/attribute os-migrateLive. Value: {'host': None}. "
                     "'block_migration' is a required property");
  RefusedMigrateLive(
      id, {{"block_migration", "auto"}}, "2.80", 400,
      "Invalid input for field/attribute os-migrateLive. Value: {'block_migration': 'auto'}. "
      "'host' is a required property");
  RefusedMigrateLive(
      id, {{"host", nullptr}, {"block_migration", "sometimes"}}, "2.25", 400,
      "Invalid input for field/attribute block_migration. Value: sometimes. 'sometimes' is not "
      "valid under any of the given schemas");
  RefusedMigrateLive(
      id, {{"host", 5}, {"block_migration", "auto"}}, "2.80", 400,
      "Invalid input for field/attribute host. Value: 5. 5 is not of type 'string', 'null'");

  // force: only 2.30-2.67.
  RefusedMigrateLive(
      id, {{"host", "sim-2"}, {"block_migration", "auto"}, {"force", false}}, "2.29", 400,
      "Invalid input for field/attribute os-migrateLive. Value: {'block_migration': 'auto', "
      "'force': False, 'host': 'sim-2'}. Additional properties are not allowed ('force' was "
      "unexpected)");
  RefusedMigrateLive(
      id, {{"host", "sim-2"}, {"block_migration", "auto"}, {"force", "nope"}}, "2.30", 400,
      "Invalid input for field/attribute force. Value: nope. 'nope' is not one of " + kBoolEnum);
  RefusedMigrateLive(
      id, {{"host", "sim-2"}, {"block_migration", "auto"}, {"force", false}}, "2.68", 400,
      "Invalid input for field/attribute os-migrateLive. Value: {'block_migration': 'auto', "
      "'force': False, 'host': 'sim-2'}. Additional properties are not allowed ('force' was "
      "unexpected)");
  RefusedMigrateLive(
      id, {{"host", "sim-2"}, {"block_migration", "auto"}, {"force", true}}, "2.80", 400,
      "Invalid input for field/attribute os-migrateLive. Value: {'block_migration': 'auto', "
      "'force': True, 'host': 'sim-2'}. Additional properties are not allowed ('force' was "
      "unexpected)");

  // The action's value must be an object.
  RefusedMigrateLive(
      id, nullptr, "2.80", 400,
      "Invalid input for field/attribute os-migrateLive. Value: None. None is not of type "
      "'object'");
}

// --- GET /servers/{id}/migrations[/{mid}] ----------------------------------------------------

TEST_F(LiveMigrationErrors, ServerMigrationsListAndShow404s) {
  // A completed migration (sim-2 -> sim-1 converges at once), then one that keeps running.
  auto id = lm_->ServerOn("sim-2", "show");
  ASSERT_EQ(lm_->MigrateLive(id, {{"host", "sim-1"}, {"block_migration", "auto"}}).status, 202);
  ASSERT_TRUE(lm_->WaitStatus(id, "completed")) << lm_->LatestMigration(id).dump();
  const auto done = lm_->LatestMigration(id)["id"].get<int64_t>();
  ASSERT_EQ(lm_->MigrateLive(id, {{"host", "sim-2"}, {"block_migration", "auto"}}).status, 202);
  ASSERT_TRUE(lm_->WaitStatus(id, "running"));
  const auto running = lm_->LatestMigration(id)["id"].get<int64_t>();
  const std::string base = "/v2.1/servers/" + id + "/migrations";

  // The routes exist from 2.23.
  for (const auto& path : {base, base + "/" + std::to_string(running)}) {
    Refused(
        id, [&] { return Admin("2.22").Get(path); }, 404, "The resource could not be found.");
    Refused(
        id, [&] { return Admin("2.1").Get(path); }, 404, "The resource could not be found.");
  }
  for (const char* mv : {"2.23", "2.80"}) {
    SCOPED_TRACE(mv);
    Refused(
        id,
        [&] {
          return Admin(mv).Get(std::string("/v2.1/servers/") + kUnknownServer + "/migrations");
        },
        404, NotFound(kUnknownServer));
    Refused(
        id,
        [&] {
          return Admin(mv).Get(std::string("/v2.1/servers/") + kUnknownServer + "/migrations/" +
                               std::to_string(running));
        },
        404, NotFound(kUnknownServer));
    Refused(
        id, [&] { return Admin(mv).Get(base + "/999999"); }, 404,
        "In-progress live migration 999999 is not found for server " + id + ".");
    // Another server's migration is not this server's.
    auto other = lm_->ServerOn("sim-2", std::string("show-other-") + mv);
    Refused(
        id,
        [&] {
          return Admin(mv).Get("/v2.1/servers/" + other + "/migrations/" + std::to_string(running));
        },
        404,
        "In-progress live migration " + std::to_string(running) + " is not found for server " +
            other + ".");
    Refused(
        id, [&] { return Admin(mv).Get(base + "/" + std::to_string(done)); }, 404,
        "Live migration " + std::to_string(done) + " for server " + id + " is not in progress.");
    auto ok = Admin(mv).Get(base + "/" + std::to_string(running));
    EXPECT_EQ(ok.status, 200) << ok.raw;
  }
  Refused(
      id, [&] { return Member("2.80").Get(base); }, 404,
      "Instance " + id + " could not be found.");  // another project's server
  SetServer(id, "project_id = 'alice'");
  Refused(
      id, [&] { return Member("2.80").Get(base); }, 403,
      "Policy doesn't allow os_compute_api:servers:migrations:index to be performed.");
  Refused(
      id, [&] { return Member("2.80").Get(base + "/" + std::to_string(running)); }, 403,
      "Policy doesn't allow os_compute_api:servers:migrations:show to be performed.");
  AbortAndWait(id, running);
}

// --- force_complete (2.22) and abort (2.24) --------------------------------------------------

TEST_F(LiveMigrationErrors, ForceCompleteAndAbortErrors) {
  // `id`: a completed migration `done`, then a migration `running` that keeps running.
  auto id = lm_->ServerOn("sim-2", "fc");
  ASSERT_EQ(lm_->MigrateLive(id, {{"host", "sim-1"}, {"block_migration", "auto"}}).status, 202);
  ASSERT_TRUE(lm_->WaitStatus(id, "completed")) << lm_->LatestMigration(id).dump();
  const auto done = lm_->LatestMigration(id)["id"].get<int64_t>();
  ASSERT_EQ(lm_->MigrateLive(id, {{"host", "sim-2"}, {"block_migration", "auto"}}).status, 202);
  ASSERT_TRUE(lm_->WaitStatus(id, "running"));
  const auto running = lm_->LatestMigration(id)["id"].get<int64_t>();
  // `queued`: waits behind `running` (one outbound migration per host).
  auto queued_server = lm_->ServerOn("sim-1", "fc-queued");
  ASSERT_EQ(lm_->MigrateLive(queued_server, kAuto).status, 202);
  ASSERT_TRUE(lm_->WaitStatus(queued_server, "queued"));
  const auto queued = lm_->LatestMigration(queued_server)["id"].get<int64_t>();
  // `idle`: no migration at all.
  auto idle = lm_->ServerOn("sim-2", "fc-idle");

  auto fc = [&](const std::string& mv, const std::string& server, const std::string& mid) {
    return [=, this] {
      return Admin(mv).Post("/v2.1/servers/" + server + "/migrations/" + mid + "/action",
                            {{"force_complete", nullptr}});
    };
  };
  auto abort = [&](const std::string& mv, const std::string& server, const std::string& mid) {
    return [=, this] { return Admin(mv).Delete("/v2.1/servers/" + server + "/migrations/" + mid); };
  };
  const std::string r = std::to_string(running), d = std::to_string(done),
                    q = std::to_string(queued);

  // Before their microversions the routes do not exist.
  Refused(id, fc("2.21", id, r), 404, "The resource could not be found.");
  Refused(id, fc("2.1", id, r), 404, "The resource could not be found.");
  Refused(id, abort("2.23", id, r), 404, "The resource could not be found.");
  Refused(id, abort("2.1", id, r), 404, "The resource could not be found.");

  // Unknown server.
  Refused(id, fc("2.22", kUnknownServer, r), 404, NotFound(kUnknownServer));
  Refused(id, abort("2.24", kUnknownServer, r), 404, NotFound(kUnknownServer));
  Refused(id, abort("2.65", kUnknownServer, r), 404, NotFound(kUnknownServer));

  // Unknown migration: abort answers 404, force_complete 400 (Nova maps
  // MigrationNotFoundForInstance to HTTPBadRequest there).
  Refused(id, abort("2.24", id, "999999"), 404, "Migration 999999 not found for instance " + id);
  Refused(id, fc("2.22", id, "999999"), 400, "Migration 999999 not found for instance " + id);
  // Another server's migration is unknown for this one.
  Refused(id, abort("2.65", id, q), 404, "Migration " + q + " not found for instance " + id);
  Refused(id, fc("2.22", id, q), 400, "Migration " + q + " not found for instance " + id);

  // The migration is not in a state the operation accepts: 400 InvalidMigrationState.
  auto invalid = [&](const std::string& mid, const std::string& server, const std::string& status,
                     const std::string& method) {
    return "Migration " + mid + " state of instance " + server + " is " + status + ". Cannot " +
           method + " while the migration is in this state.";
  };
  Refused(id, fc("2.22", id, d), 400, invalid(d, id, "completed", "force complete"));
  Refused(id, abort("2.24", id, d), 400, invalid(d, id, "completed", "abort live migration"));
  Refused(id, abort("2.80", id, d), 400, invalid(d, id, "completed", "abort live migration"));
  Refused(queued_server, fc("2.80", queued_server, q), 400,
          invalid(q, queued_server, "queued", "force complete"));
  // 2.24-2.64 abort only a running migration; 2.65 adds queued and preparing.
  Refused(queued_server, abort("2.24", queued_server, q), 400,
          invalid(q, queued_server, "queued", "abort live migration"));
  Refused(queued_server, abort("2.64", queued_server, q), 400,
          invalid(q, queued_server, "queued", "abort live migration"));

  // The server is not migrating: 409, before the migration is even looked up.
  Refused(idle, fc("2.22", idle, r), 409,
          "Cannot 'force_complete' instance " + idle + " while it is in task_state None");
  Refused(idle, abort("2.24", idle, r), 409,
          "Cannot 'abort live migration' instance " + idle + " while it is in task_state None");
  Refused(idle, abort("2.65", idle, "999999"), 409,
          "Cannot 'abort live migration' instance " + idle + " while it is in task_state None");
  // force_complete also wants vm_state active.
  SetServer(id, "vm_state = 'paused'");
  Refused(id, fc("2.22", id, r), 409,
          "Cannot 'force_complete' instance " + id + " while it is in vm_state paused");
  SetServer(id, "vm_state = 'active'");

  // A lock does not bind the admin: the answers are those of an unlocked server.
  SetServer(queued_server, "locked = true");
  Refused(queued_server, fc("2.80", queued_server, q), 400,
          invalid(q, queued_server, "queued", "force complete"));
  Refused(queued_server, abort("2.64", queued_server, q), 400,
          invalid(q, queued_server, "queued", "abort live migration"));
  SetServer(queued_server, "locked = false");

  // force_complete's body is {"force_complete": null}.
  Refused(
      id,
      [&] {
        return Admin("2.22").Post("/v2.1/servers/" + id + "/migrations/" + r + "/action",
                                  {{"force_complete", 1}});
      },
      400, "Invalid input for field/attribute force_complete. Value: 1. 1 is not of type 'null'");
  Refused(
      id,
      [&] {
        return Admin("2.22").Post("/v2.1/servers/" + id + "/migrations/" + r + "/action",
                                  {{"finish", nullptr}});
      },
      400, "There is no such action: finish");

  // Admin only (for a member of the server's own project; another project's is not found).
  SetServer(id, "project_id = 'alice'");
  Refused(
      id,
      [&] {
        return Member("2.22").Post("/v2.1/servers/" + id + "/migrations/" + r + "/action",
                                   {{"force_complete", nullptr}});
      },
      403,
      "Policy doesn't allow os_compute_api:servers:migrations:force_complete to be performed.");
  Refused(
      id, [&] { return Member("2.24").Delete("/v2.1/servers/" + id + "/migrations/" + r); }, 403,
      "Policy doesn't allow os_compute_api:servers:migrations:delete to be performed.");

  AbortAndWait(queued_server, queued);
  AbortAndWait(id, running);
}

// --- GET /os-migrations ----------------------------------------------------------------------

TEST_F(LiveMigrationErrors, OsMigrationsQueryErrors) {
  auto id = lm_->ServerOn("sim-2", "os-migrations");
  auto get = [&](const std::string& mv, const std::string& query) {
    return [=, this] { return Admin(mv).Get("/v2.1/os-migrations" + query); };
  };
  Refused(id, get("2.59", "?limit=-1"), 400,
          "Invalid input for query parameters limit. Value: -1. '-1' does not match '^[0-9]*$'");
  Refused(id, get("2.80", "?limit=ten"), 400,
          "Invalid input for query parameters limit. Value: ten. 'ten' does not match '^[0-9]*$'");
  Refused(id, get("2.80", "?limit=1&limit=2"), 400,
          "Invalid input for query parameters limit. Value: ['1', '2']. ['1', '2'] is too long");
  Refused(id, get("2.59", std::string("?marker=") + kUnknownServer), 400,
          std::string("Marker ") + kUnknownServer + " could not be found.");
  Refused(id, get("2.80", "?marker=not-a-uuid"), 400, "Marker not-a-uuid could not be found.");
  Refused(id, get("2.59", "?changes-since=yesterday"), 400,
          "Invalid input for query parameters changes-since. Value: yesterday. 'yesterday' is not "
          "a 'date-time'");
  Refused(id, get("2.66", "?changes-before=tomorrow"), 400,
          "Invalid input for query parameters changes-before. Value: tomorrow. 'tomorrow' is not a "
          "'date-time'");
  Refused(id,
          get("2.66", "?changes-since=2026-02-01T00:00:00Z&changes-before=2026-01-01T00:00:00Z"),
          400, "The value of changes-since must be less than or equal to changes-before.");
  Refused(id, get("2.59", "?sort_key=id"), 400,
          "Additional properties are not allowed ('sort_key' was unexpected)");
  Refused(id, get("2.80", "?sort_dir=asc&sort_key=id&sort_key=uuid"), 400,
          "Additional properties are not allowed ('sort_dir', 'sort_key' were unexpected)");
  // The parameters' own schemas are reported before the unexpected keys.
  Refused(id, get("2.80", "?sort_key=id&limit=x"), 400,
          "Invalid input for query parameters limit. Value: x. 'x' does not match '^[0-9]*$'");
  Refused(id, get("2.80", "?user_id=a&user_id=b"), 400,
          "Invalid input for query parameters user_id. Value: ['a', 'b']. ['a', 'b'] is too long");
  Refused(
      id, [&] { return Member("2.80").Get("/v2.1/os-migrations"); }, 403,
      "Policy doesn't allow os_compute_api:os-migrations:index to be performed.");

  // Not errors in Nova: status is any string, and before 2.59 unknown parameters and paging
  // are ignored.
  auto bogus = Admin("2.80").Get("/v2.1/os-migrations?status=no-such-status");
  EXPECT_EQ(bogus.status, 200) << bogus.raw;
  EXPECT_EQ(bogus.body["migrations"], json::array());
  auto old = Admin("2.58").Get("/v2.1/os-migrations?sort_key=id&limit=-1&marker=x");
  EXPECT_EQ(old.status, 200) << old.raw;
}

}  // namespace
}  // namespace ferry::testing
