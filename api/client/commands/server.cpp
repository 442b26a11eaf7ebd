// ferryctl server list|show|create|delete: /v2.1/servers (migrate and migration:
// server_migration.cpp).
#include <fmt/format.h>

#include <memory>

#include "api/client/commands/commands.hpp"
#include "common/uuid.hpp"

namespace ferry::client {
namespace {

struct ServerOptions {
  std::string ref;  // show/delete: uuid or name
  // list filters
  std::string host;
  std::string name;
  std::string status;
  bool all_projects = false;
  // create
  std::string flavor;
  std::string image;
  std::string zone;
  std::string network = "none";
};

// Since 2.47 the server embeds its flavor ({"original_name", "vcpus", ...}); before, only a
// {"id", "links"} reference.
std::string FlavorCell(const nlohmann::json& server) {
  const nlohmann::json flavor = server.value("flavor", nlohmann::json::object());
  return flavor.contains("original_name") ? Field(flavor, "original_name") : Field(flavor, "id");
}

void ServerList(Session& session, const ServerOptions& o) {
  QueryParams query;
  if (!o.host.empty()) query.emplace_back("host", o.host);
  if (!o.name.empty()) query.emplace_back("name", o.name);
  if (!o.status.empty()) query.emplace_back("status", o.status);
  if (o.all_projects) query.emplace_back("all_tenants", "1");
  const nlohmann::json body =
      GetAllPages(session, "/v2.1/servers/detail" + QueryString(query), "servers");
  if (session.json) return PrintJson(session, body);
  Table table({"ID", "Name", "Status", "Task State", "Power State", "Host", "Flavor"});
  for (const auto& s : body["servers"]) {
    table.AddRow({Field(s, "id"), Field(s, "name"), Field(s, "status"),
                  Field(s, "OS-EXT-STS:task_state"),
                  PowerStateName(s.value("OS-EXT-STS:power_state", nlohmann::json())),
                  Field(s, "OS-EXT-SRV-ATTR:host"), FlavorCell(s)});
  }
  PrintTable(session, table);
}

void PrintServer(Session& session, const nlohmann::json& body) {
  if (session.json) return PrintJson(session, body);
  nlohmann::json server = body.value("server", nlohmann::json::object());
  if (server.contains("OS-EXT-STS:power_state")) {
    server["OS-EXT-STS:power_state"] = PowerStateName(server["OS-EXT-STS:power_state"]);
  }
  server.erase("links");  // navigation for programs; --json keeps it
  PrintResource(session, server);
}

void ServerShow(Session& session, const ServerOptions& o) {
  const std::string id = ResolveServerId(session, o.ref);
  PrintServer(session, GetJson(session, "/v2.1/servers/" + UrlEncode(id)));
}

nlohmann::json CreateBody(Session& session, const ServerOptions& o) {
  nlohmann::json server = {{"name", o.name}, {"flavorRef", ResolveFlavorId(session, o.flavor)}};
  if (!o.image.empty()) server["imageRef"] = o.image;
  // 2.37 made "networks" mandatory; a server that only moves between hosts needs no port.
  if (session.version.AtLeast(37)) server["networks"] = o.network;
  if (!o.host.empty() && session.version.AtLeast(74)) {
    // 2.74: the requested host is validated by the scheduler filters instead of bypassing them.
    server["host"] = o.host;
    if (!o.zone.empty()) server["availability_zone"] = o.zone;
  } else if (!o.host.empty()) {
    // Before 2.74 the only way to name a host: Nova's forced-host form "<zone>:<host>".
    server["availability_zone"] = (o.zone.empty() ? std::string("nova") : o.zone) + ":" + o.host;
  } else if (!o.zone.empty()) {
    server["availability_zone"] = o.zone;
  }
  return {{"server", server}};
}

void ServerCreate(Session& session, const ServerOptions& o) {
  const nlohmann::json request = CreateBody(session, o);
  PrintServer(session, ExpectOk(session.client.Post("/v2.1/servers", request)).body);
}

void ServerDelete(Session& session, const ServerOptions& o) {
  const std::string id = ResolveServerId(session, o.ref);
  ExpectOk(session.client.Delete("/v2.1/servers/" + UrlEncode(id)));
  if (!session.json) {
    session.out << fmt::format("Request to delete server {} has been accepted.\n", id);
  }
}

}  // namespace

// Nova's name filter is a regular expression (a substring match in effect), so the lookup
// keeps only exact matches and refuses to guess between servers that share a name. An operator
// names any project's server: all_tenants widens an admin's list (Nova shows an admin only their
// own project's servers without it) and is ignored for a member.
std::string ResolveServerId(Session& session, const std::string& ref) {
  if (IsUuid(ref)) return ref;
  const nlohmann::json body = GetAllPages(
      session, "/v2.1/servers/detail" + QueryString({{"name", ref}, {"all_tenants", "1"}}),
      "servers");
  return Field(FindOne(body["servers"], "name", ref, "server"), "id");
}

void RegisterServerCommands(CLI::App& app, Action* slot) {
  CLI::App* noun = AddResource(app, "server", "Servers (instances)");
  auto o = std::make_shared<ServerOptions>();

  CLI::App* list = noun->add_subcommand("list", "List servers");
  list->add_option("--host", o->host, "Only servers on this host");
  list->add_option("--name", o->name, "Only servers whose name matches (Nova regex)");
  list->add_option("--status", o->status, "Only servers in this status, e.g. ACTIVE");
  list->add_flag("--all-projects", o->all_projects, "Servers of every project (all_tenants=1)");
  OnRun(list, slot, [o](Session& s) { ServerList(s, *o); });

  CLI::App* show = noun->add_subcommand("show", "Show one server");
  show->add_option("server", o->ref, "UUID or name")->required();
  OnRun(show, slot, [o](Session& s) { ServerShow(s, *o); });

  CLI::App* create = noun->add_subcommand("create", "Create a server");
  create->add_option("name", o->name, "Server name")->required();
  create->add_option("--flavor", o->flavor, "Flavor ID or name")->required();
  create->add_option("--host", o->host, "Put it on this host (admin)");
  create->add_option("--availability-zone", o->zone, "Availability zone");
  create->add_option("--image", o->image, "Image ID (imageRef)");
  create->add_option("--network", o->network, "networks value for 2.37+: none or auto")
      ->check(CLI::IsMember({"none", "auto"}))
      ->capture_default_str();
  OnRun(create, slot, [o](Session& s) { ServerCreate(s, *o); });

  CLI::App* remove = noun->add_subcommand("delete", "Delete a server");
  remove->add_option("server", o->ref, "UUID or name")->required();
  OnRun(remove, slot, [o](Session& s) { ServerDelete(s, *o); });

  RegisterServerMigrationCommands(*noun, slot);
  RegisterServerResizeCommands(*noun, slot);
}

}  // namespace ferry::client
