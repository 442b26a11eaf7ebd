// ferryctl version: GET /v2.1, the compute version document (Nova's "versions" API).
#include "api/client/commands/commands.hpp"

namespace ferry::client {
namespace {

void Version(Session& session) {
  const nlohmann::json body = GetJson(session, "/v2.1");
  if (session.json) return PrintJson(session, body);
  const nlohmann::json v = body.value("version", nlohmann::json::object());
  Table table({"Property", "Value"});
  table.AddRow({"URL", session.client.BaseUrl() + "/v2.1"});
  table.AddRow({"ID", Field(v, "id")});
  table.AddRow({"Status", Field(v, "status")});
  table.AddRow({"Min Microversion", Field(v, "min_version")});
  table.AddRow({"Max Microversion", Field(v, "version")});
  table.AddRow({"Requested Microversion", session.version.ToString()});
  table.AddRow({"Updated", Field(v, "updated")});
  PrintTable(session, table);
}

}  // namespace

void RegisterVersionCommand(CLI::App& app, Action* slot) {
  OnRun(app.add_subcommand("version", "Show the API version document"), slot,
        [](Session& s) { Version(s); });
}

}  // namespace ferry::client
