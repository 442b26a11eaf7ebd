// ferryctl unmanaged list|adopt: ferry's extension for domains that agents see running on a
// host but that no server record owns (created outside ferry, or left behind by a crash).
//   GET  /v2.1/ferry/unmanaged-domains
//   POST /v2.1/ferry/unmanaged-domains/{uuid}/action {"adopt": {"flavorRef": F}} -> 202 server
#include <memory>

#include "api/client/commands/commands.hpp"

namespace ferry::client {
namespace {

struct UnmanagedOptions {
  std::string uuid;
  std::string flavor;
};

void UnmanagedList(Session& session) {
  const nlohmann::json body = GetJson(session, "/v2.1/ferry/unmanaged-domains");
  if (session.json) return PrintJson(session, body);
  Table table({"Host", "UUID", "Name", "VCPUs", "RAM (MB)", "Disk (GB)", "Power State",
               "First Seen", "Last Seen"});
  for (std::size_t c = 3; c <= 5; ++c) table.SetAlign(c, Align::kRight);
  for (const auto& d : body.value("unmanaged_domains", nlohmann::json::array())) {
    table.AddRow({Field(d, "host"), Field(d, "uuid"), Field(d, "name"), Field(d, "vcpus"),
                  Field(d, "memory_mb"), Field(d, "disk_gb"),
                  PowerStateName(d.value("power_state", nlohmann::json())),
                  Field(d, "first_seen_at"), Field(d, "last_seen_at")});
  }
  PrintTable(session, table);
}

void UnmanagedAdopt(Session& session, const UnmanagedOptions& o) {
  const nlohmann::json request = {{"adopt", {{"flavorRef", ResolveFlavorId(session, o.flavor)}}}};
  const nlohmann::json body =
      ExpectOk(session.client.Post("/v2.1/ferry/unmanaged-domains/" + UrlEncode(o.uuid) + "/action",
                                   request))
          .body;
  if (session.json) return PrintJson(session, body);
  nlohmann::json server = body.value("server", nlohmann::json::object());
  server.erase("links");
  PrintResource(session, server);
}

}  // namespace

void RegisterUnmanagedCommands(CLI::App& app, Action* slot) {
  CLI::App* noun =
      AddResource(app, "unmanaged", "Domains running on hosts that ferry does not manage");
  auto o = std::make_shared<UnmanagedOptions>();

  OnRun(noun->add_subcommand("list", "List unmanaged domains"), slot,
        [](Session& s) { UnmanagedList(s); });

  CLI::App* adopt = noun->add_subcommand("adopt", "Make an unmanaged domain a ferry server");
  adopt->add_option("uuid", o->uuid, "Domain UUID")->required();
  adopt->add_option("--flavor", o->flavor, "Flavor ID or name to account it under")->required();
  OnRun(adopt, slot, [o](Session& s) { UnmanagedAdopt(s, *o); });
}

}  // namespace ferry::client
