// ferryctl flavor list|show|create|delete: /v2.1/flavors.
#include <fmt/format.h>

#include <memory>

#include "api/client/commands/commands.hpp"

namespace ferry::client {
namespace {

struct FlavorOptions {
  std::string ref;  // id or name
  std::string name;
  int vcpus = 0;
  int ram_mb = 0;
  int disk_gb = 0;
  std::string id;  // create --id; empty lets the server pick (Nova generates a uuid)
};

void FlavorList(Session& session) {
  const nlohmann::json body = GetAllPages(session, "/v2.1/flavors/detail", "flavors");
  if (session.json) return PrintJson(session, body);
  Table table({"ID", "Name", "VCPUs", "RAM (MB)", "Disk (GB)", "Ephemeral", "Is Public"});
  for (std::size_t c = 2; c <= 5; ++c) table.SetAlign(c, Align::kRight);
  for (const auto& f : body["flavors"]) {
    table.AddRow({Field(f, "id"), Field(f, "name"), Field(f, "vcpus"), Field(f, "ram"),
                  Field(f, "disk"), Field(f, "OS-FLV-EXT-DATA:ephemeral"),
                  Field(f, "os-flavor-access:is_public")});
  }
  PrintTable(session, table);
}

// Nova flavor ids are free-form strings ("1", "m1.small", a uuid) that can collide with other
// flavors' names, so an exact id wins and only a 404 falls back to a name lookup.
nlohmann::json GetFlavor(Session& session, const std::string& ref) {
  const Response by_id = session.client.Get("/v2.1/flavors/" + UrlEncode(ref));
  if (by_id.status != 404) return ExpectOk(by_id).body;
  const nlohmann::json all = GetAllPages(session, "/v2.1/flavors/detail", "flavors");
  return {{"flavor", FindOne(all["flavors"], "name", ref, "flavor")}};
}

void FlavorShow(Session& session, const FlavorOptions& o) {
  const nlohmann::json body = GetFlavor(session, o.ref);
  if (session.json) return PrintJson(session, body);
  PrintResource(session, body.value("flavor", nlohmann::json::object()));
}

void FlavorCreate(Session& session, const FlavorOptions& o) {
  nlohmann::json flavor = {
      {"name", o.name}, {"vcpus", o.vcpus}, {"ram", o.ram_mb}, {"disk", o.disk_gb}};
  if (!o.id.empty()) flavor["id"] = o.id;
  const nlohmann::json body =
      ExpectOk(session.client.Post("/v2.1/flavors", {{"flavor", flavor}})).body;
  if (session.json) return PrintJson(session, body);
  PrintResource(session, body.value("flavor", nlohmann::json::object()));
}

void FlavorDelete(Session& session, const FlavorOptions& o) {
  const std::string id = ResolveFlavorId(session, o.ref);
  ExpectOk(session.client.Delete("/v2.1/flavors/" + UrlEncode(id)));
  if (!session.json) session.out << fmt::format("Deleted flavor {}.\n", id);
}

}  // namespace

std::string ResolveFlavorId(Session& session, const std::string& ref) {
  return Field(GetFlavor(session, ref).value("flavor", nlohmann::json::object()), "id");
}

void RegisterFlavorCommands(CLI::App& app, Action* slot) {
  CLI::App* noun = AddResource(app, "flavor", "Flavors (server sizes)");
  auto o = std::make_shared<FlavorOptions>();

  OnRun(noun->add_subcommand("list", "List flavors"), slot, [](Session& s) { FlavorList(s); });

  CLI::App* show = noun->add_subcommand("show", "Show one flavor");
  show->add_option("flavor", o->ref, "ID or name")->required();
  OnRun(show, slot, [o](Session& s) { FlavorShow(s, *o); });

  CLI::App* create = noun->add_subcommand("create", "Create a flavor");
  create->add_option("name", o->name, "Flavor name")->required();
  create->add_option("--vcpus", o->vcpus, "Virtual CPUs")->required()->check(CLI::PositiveNumber);
  create->add_option("--ram", o->ram_mb, "Memory in MB")->required()->check(CLI::PositiveNumber);
  create->add_option("--disk", o->disk_gb, "Root disk in GB (0: volume-backed only)")
      ->required()
      ->check(CLI::NonNegativeNumber);
  create->add_option("--id", o->id, "Flavor id (default: server-generated)");
  OnRun(create, slot, [o](Session& s) { FlavorCreate(s, *o); });

  CLI::App* remove = noun->add_subcommand("delete", "Delete a flavor");
  remove->add_option("flavor", o->ref, "ID or name")->required();
  OnRun(remove, slot, [o](Session& s) { FlavorDelete(s, *o); });
}

}  // namespace ferry::client
