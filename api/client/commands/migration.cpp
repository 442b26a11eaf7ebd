// ferryctl migration list: GET /v2.1/os-migrations, every move's record (admin).
#include <memory>

#include "api/client/commands/commands.hpp"

namespace ferry::client {
namespace {

struct ListOptions {
  std::string host;
  std::string status;
  std::string server;
  std::string type;
  int64_t limit = 0;  // 0: every page
};

void MigrationList(Session& session, const ListOptions& o) {
  QueryParams query;
  if (!o.host.empty()) query.emplace_back("host", o.host);
  if (!o.status.empty()) query.emplace_back("status", o.status);
  if (!o.server.empty()) query.emplace_back("instance_uuid", ResolveServerId(session, o.server));
  if (!o.type.empty()) query.emplace_back("migration_type", o.type);
  nlohmann::json body;
  if (o.limit > 0) {
    query.emplace_back("limit", std::to_string(o.limit));
    body = GetJson(session, "/v2.1/os-migrations" + QueryString(query));
  } else {
    body = GetAllPages(session, "/v2.1/os-migrations" + QueryString(query), "migrations");
  }
  if (session.json) return PrintJson(session, body);
  Table table({"Id", "Server", "Type", "Status", "Source", "Dest", "Phase", "Progress",
               "Created At", "Updated At"});
  for (const auto& m : body["migrations"]) {
    const std::string progress = Field(m, "progress_percent");
    table.AddRow({Field(m, "id"), Field(m, "instance_uuid"), Field(m, "migration_type"),
                  Field(m, "status"), Field(m, "source_compute"), Field(m, "dest_compute"),
                  Field(m, "phase"), progress.empty() ? "" : progress + "%", Field(m, "created_at"),
                  Field(m, "updated_at")});
  }
  PrintTable(session, table);
}

}  // namespace

void RegisterMigrationCommands(CLI::App& app, Action* slot) {
  CLI::App* noun = AddResource(app, "migration", "Migration records of every move (os-migrations)");
  auto o = std::make_shared<ListOptions>();
  CLI::App* list = noun->add_subcommand("list", "List migrations, newest first");
  list->add_option("--host", o->host, "Source or destination host");
  list->add_option("--status", o->status, "Only this status, e.g. running");
  list->add_option("--server", o->server, "Only this server (UUID or name)");
  list->add_option("--type", o->type, "live-migration|migration|resize|evacuation")
      ->check(CLI::IsMember({"live-migration", "migration", "resize", "evacuation"}));
  list->add_option("--limit", o->limit, "At most this many (one page; 2.59+)")
      ->check(CLI::PositiveNumber);
  OnRun(list, slot, [o](Session& s) { MigrationList(s, *o); });
}

}  // namespace ferry::client
