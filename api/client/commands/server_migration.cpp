// ferryctl server migrate [--live] [--wait], and server migration list|show|abort|force-complete:
// POST /servers/{id}/action {"os-migrateLive": ...} (without --live: {"migrate": ...}, see
// server_cold_move.cpp) and /servers/{id}/migrations[/{mid}].
#include <fmt/format.h>

#include <chrono>
#include <memory>
#include <thread>

#include "api/client/commands/commands.hpp"
#include "api/client/commands/migration_progress.hpp"

namespace ferry::client {
namespace {

using nlohmann::json;

struct MigrateOptions {
  std::string server;
  bool live = false;
  std::string host;
  std::string block_migration = "auto";
  bool force = false;
  bool block_migration_given = false;
  bool wait = false;
  // 1 s: often enough to watch a copy that takes seconds to minutes; agents report progress on
  // about the same period, so polling faster would show nothing new.
  double poll_seconds = 1.0;
};

struct MigrationRef {
  std::string server;
  std::string migration;  // numeric id, as in /servers/{id}/migrations/{mid}
};

// The body Nova's migrate_server.py accepts at the negotiated microversion (anchors §1.2).
json MigrateLiveBody(const Session& session, const MigrateOptions& o) {
  const json host = o.host.empty() ? json(nullptr) : json(o.host);
  json body = {{"host", host}};
  if (!session.version.AtLeast(25)) {
    // 2.1-2.24: both booleans required; "auto" did not exist, and false is novaclient's default.
    body["block_migration"] = o.block_migration == "true";
    body["disk_over_commit"] = false;
  } else if (o.block_migration == "auto") {
    body["block_migration"] = "auto";
  } else {
    body["block_migration"] = o.block_migration == "true";
  }
  if (o.force) {
    if (!session.version.AtLeast(30) || session.version.AtLeast(68)) {
      throw CLI::ValidationError("--force", "--force exists only in microversions 2.30 to 2.67");
    }
    if (o.host.empty()) throw CLI::ValidationError("--force", "--force needs --host");
    body["force"] = true;
  }
  return {{"os-migrateLive", body}};
}

std::string ServerPath(const std::string& id) { return "/v2.1/servers/" + UrlEncode(id); }

// The newest in-progress live migration of the server, or null.
json CurrentMigration(Session& session, const std::string& id) {
  const json body = GetJson(session, ServerPath(id) + "/migrations");  // outlives the loop
  json newest;
  for (const auto& m : body["migrations"]) {
    if (newest.is_null() || m.value("id", 0) > newest.value("id", 0)) newest = m;
  }
  return newest;
}

// The record of a finished migration from os-migrations: `id` when we saw it, else the
// server's newest live migration.
json FinalRecord(Session& session, const std::string& server, std::optional<int64_t> id) {
  QueryParams query = {{"instance_uuid", server}, {"migration_type", "live-migration"}};
  const json all = GetAllPages(session, "/v2.1/os-migrations" + QueryString(query), "migrations");
  json best;
  for (const auto& m : all["migrations"]) {
    if (id ? m.value("id", 0) == *id : best.is_null() || m.value("id", 0) > best.value("id", 0)) {
      best = m;
    }
  }
  return best;
}

// Redraws one line on a terminal; elsewhere prints a line when the status or phase changes
// and otherwise every 10 polls, so logs stay readable.
class ProgressPrinter {
 public:
  explicit ProgressPrinter(Session& s) : s_(s) {}
  void Show(const json& m) {
    const std::string line = ProgressLine(m);
    if (s_.tty) {
      s_.out << '\r' << line << "\x1b[K" << std::flush;
      drawn_ = true;
      return;
    }
    const std::string state =
        m.value("status", "") + "/" +
        (m.contains("phase") && m["phase"].is_string() ? m["phase"].get<std::string>() : "");
    if (state != last_state_ || ++polls_since_print_ >= 10) {
      s_.out << line << "\n";
      last_state_ = state;
      polls_since_print_ = 0;
    }
  }
  void Finish() {
    if (drawn_) s_.out << "\n";
    drawn_ = false;
  }

 private:
  Session& s_;
  bool drawn_ = false;
  std::string last_state_;
  int polls_since_print_ = 0;
};

void WaitForLiveMigration(Session& session, const std::string& id, const MigrateOptions& o) {
  const auto poll = std::chrono::duration<double>(o.poll_seconds);
  ProgressPrinter printer(session);
  std::optional<int64_t> seen;
  // The migration is listed only while queued..post-migrating; before and after, the server's
  // task_state says whether the move is still on.
  while (true) {
    const json m = CurrentMigration(session, id);
    if (!m.is_null()) {
      seen = m.value("id", int64_t{0});
      printer.Show(m);
    } else {
      const json server = GetJson(session, ServerPath(id))["server"];
      if (seen || server.value("OS-EXT-STS:task_state", json()).is_null()) break;
    }
    std::this_thread::sleep_for(poll);
  }
  printer.Finish();
  const json final = FinalRecord(session, id, seen);
  const std::string host =
      Field(GetJson(session, ServerPath(id))["server"], "OS-EXT-SRV-ATTR:host");
  const std::string status = final.is_null() ? "unknown" : Field(final, "status");
  if (status == "completed") {
    session.out << fmt::format("Migration {} completed: server {} is on {}.\n", Field(final, "id"),
                               id, host);
    return;
  }
  std::string why = final.is_null() ? "" : Field(final, "error");
  throw Error(Errc::kConflict,
              fmt::format("migration {} of server {} ended {}{}; the server is on {}",
                          final.is_null() ? "?" : Field(final, "id"), id, status,
                          why.empty() ? "" : " (" + why + ")", host));
}

void ServerMigrate(Session& session, const MigrateOptions& o) {
  if (!o.live) {
    if (o.force || o.block_migration_given) {
      throw CLI::ValidationError("--live", "--force and --block-migration need --live");
    }
    return ColdMigrate(session, o.server, o.host, o.wait, o.poll_seconds);
  }
  const std::string id = ResolveServerId(session, o.server);
  const json body = MigrateLiveBody(session, o);
  ExpectOk(session.client.Post(ServerPath(id) + "/action", body));
  if (!o.wait) {
    if (!session.json) {
      session.out << fmt::format("Request to live-migrate server {} has been accepted.\n", id);
    }
    return;
  }
  WaitForLiveMigration(session, id, o);
}

void MigrationList(Session& session, const MigrationRef& r) {
  const std::string id = ResolveServerId(session, r.server);
  const json body = GetJson(session, ServerPath(id) + "/migrations");
  if (session.json) return PrintJson(session, body);
  Table table({"Id", "Status", "Progress", "Source", "Dest", "Created At"});
  for (const auto& m : body["migrations"]) {
    table.AddRow({Field(m, "id"), Field(m, "status"), ProgressLine(m), Field(m, "source_compute"),
                  Field(m, "dest_compute"), Field(m, "created_at")});
  }
  PrintTable(session, table);
}

void MigrationShow(Session& session, const MigrationRef& r) {
  const std::string id = ResolveServerId(session, r.server);
  const json body = GetJson(session, ServerPath(id) + "/migrations/" + UrlEncode(r.migration));
  if (session.json) return PrintJson(session, body);
  PrintResource(session, body.value("migration", json::object()));
}

void MigrationAbort(Session& session, const MigrationRef& r) {
  const std::string id = ResolveServerId(session, r.server);
  ExpectOk(session.client.Delete(ServerPath(id) + "/migrations/" + UrlEncode(r.migration)));
  if (!session.json) {
    session.out << fmt::format("Request to abort migration {} of server {} has been accepted.\n",
                               r.migration, id);
  }
}

void MigrationForceComplete(Session& session, const MigrationRef& r) {
  const std::string id = ResolveServerId(session, r.server);
  ExpectOk(session.client.Post(ServerPath(id) + "/migrations/" + UrlEncode(r.migration) + "/action",
                               json{{"force_complete", nullptr}}));
  if (!session.json) {
    session.out << fmt::format(
        "Request to force-complete migration {} of server {} has been accepted.\n", r.migration,
        id);
  }
}

}  // namespace

void RegisterServerMigrationCommands(CLI::App& server_noun, Action* slot) {
  auto o = std::make_shared<MigrateOptions>();
  CLI::App* migrate = server_noun.add_subcommand("migrate", "Move a server to another host");
  migrate->add_option("server", o->server, "UUID or name")->required();
  migrate->add_flag("--live", o->live, "Live-migrate (default: cold, the guest is shut down)");
  migrate->add_option("--host", o->host, "Destination host (default: the scheduler picks)");
  migrate
      ->add_option("--block-migration", o->block_migration,
                   "Copy local disks: auto|true|false (--live)")
      ->check(CLI::IsMember({"auto", "true", "false"}))
      ->capture_default_str()
      ->each([o](const std::string&) { o->block_migration_given = true; });
  migrate->add_flag("--force", o->force, "Skip the scheduler's checks of --host (2.30-2.67)");
  migrate->add_flag("--wait", o->wait, "Show progress until the migration ends");
  migrate->add_option("--poll-interval", o->poll_seconds, "Seconds between polls with --wait")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  OnRun(migrate, slot, [o](Session& s) { ServerMigrate(s, *o); });

  CLI::App* noun = AddResource(server_noun, "migration", "A server's in-progress live migrations");
  auto r = std::make_shared<MigrationRef>();
  CLI::App* list = noun->add_subcommand("list", "List a server's in-progress live migrations");
  list->add_option("server", r->server, "UUID or name")->required();
  OnRun(list, slot, [r](Session& s) { MigrationList(s, *r); });
  struct Verb {
    const char* name;
    const char* help;
    void (*run)(Session&, const MigrationRef&);
  };
  for (const Verb& v :
       {Verb{"show", "Show one migration", MigrationShow},
        Verb{"abort", "Abort a live migration (DELETE)", MigrationAbort},
        Verb{"force-complete", "Force a live migration to finish", MigrationForceComplete}}) {
    CLI::App* verb = noun->add_subcommand(v.name, v.help);
    verb->add_option("server", r->server, "UUID or name")->required();
    verb->add_option("migration", r->migration, "Migration id")->required();
    OnRun(verb, slot, [r, run = v.run](Session& s) { run(s, *r); });
  }
}

}  // namespace ferry::client
