// ferryctl hypervisor list|show: GET /v2.1/os-hypervisors[/detail|/{id}].
#include <memory>

#include "api/client/commands/commands.hpp"
#include "common/uuid.hpp"

namespace ferry::client {
namespace {

struct HypervisorOptions {
  std::string ref;  // id (uuid since 2.53, integer before) or hypervisor_hostname
  bool with_servers = false;
};

// The sim driver models a hypervisor; the architecture requires it to be labelled as a
// simulation wherever it shows, so nobody mistakes a demo cluster for real capacity.
std::string DisplayType(const nlohmann::json& hypervisor) {
  const std::string type = Field(hypervisor, "hypervisor_type");
  return type == "ferry-sim" ? type + " (simulated)" : type;
}

std::string ServersCell(const nlohmann::json& hypervisor) {
  std::string out;
  if (!hypervisor.contains("servers") || !hypervisor["servers"].is_array()) return out;
  for (const auto& server : hypervisor["servers"]) {
    if (!out.empty()) out += "\n";
    out += Field(server, "name") + " (" + Field(server, "uuid") + ")";
  }
  return out;
}

std::string WithServersQuery(bool with_servers) {
  return with_servers ? QueryString({{"with_servers", "true"}}) : "";
}

void HypervisorList(Session& session, const HypervisorOptions& options) {
  const nlohmann::json body =
      GetAllPages(session, "/v2.1/os-hypervisors/detail" + WithServersQuery(options.with_servers),
                  "hypervisors");
  if (session.json) return PrintJson(session, body);
  std::vector<std::string> headers = {
      "ID", "Hypervisor Hostname", "Hypervisor Type", "State", "Status", "Host IP"};
  if (options.with_servers) headers.push_back("Servers");
  Table table(headers);
  for (const auto& h : body["hypervisors"]) {
    std::vector<std::string> row = {Field(h, "id"),     Field(h, "hypervisor_hostname"),
                                    DisplayType(h),     Field(h, "state"),
                                    Field(h, "status"), Field(h, "host_ip")};
    if (options.with_servers) {
      row.push_back(std::to_string(h.contains("servers") ? h["servers"].size() : 0));
    }
    table.AddRow(std::move(row));
  }
  if (options.with_servers) table.SetAlign(6, Align::kRight);
  PrintTable(session, table);
}

// An id goes straight to GET /os-hypervisors/{id}; a name is matched exactly against the
// list (hypervisor_hostname_pattern narrows it server-side, but it is a substring match).
std::string ResolveHypervisorId(Session& session, const std::string& ref) {
  if (IsUuid(ref) || IsAllDigits(ref)) return ref;
  const nlohmann::json body = GetAllPages(
      session, "/v2.1/os-hypervisors/detail" + QueryString({{"hypervisor_hostname_pattern", ref}}),
      "hypervisors");
  return Field(FindOne(body["hypervisors"], "hypervisor_hostname", ref, "hypervisor"), "id");
}

void HypervisorShow(Session& session, const HypervisorOptions& options) {
  const std::string id = ResolveHypervisorId(session, options.ref);
  nlohmann::json body = GetJson(
      session, "/v2.1/os-hypervisors/" + UrlEncode(id) + WithServersQuery(options.with_servers));
  if (session.json) return PrintJson(session, body);
  nlohmann::json hypervisor = body.value("hypervisor", nlohmann::json::object());
  hypervisor["hypervisor_type"] = DisplayType(hypervisor);
  if (hypervisor.contains("servers")) hypervisor["servers"] = ServersCell(hypervisor);
  PrintResource(session, hypervisor);
}

}  // namespace

void RegisterHypervisorCommands(CLI::App& app, Action* slot) {
  CLI::App* noun = AddResource(app, "hypervisor", "Hypervisors (compute nodes)");
  auto options = std::make_shared<HypervisorOptions>();

  CLI::App* list = noun->add_subcommand("list", "List hypervisors");
  list->add_flag("--with-servers", options->with_servers, "Also count the servers on each");
  OnRun(list, slot, [options](Session& s) { HypervisorList(s, *options); });

  CLI::App* show = noun->add_subcommand("show", "Show one hypervisor");
  show->add_option("hypervisor", options->ref, "ID or hypervisor hostname")->required();
  show->add_flag("--with-servers", options->with_servers, "Also list the servers on it");
  OnRun(show, slot, [options](Session& s) { HypervisorShow(s, *options); });
}

}  // namespace ferry::client
