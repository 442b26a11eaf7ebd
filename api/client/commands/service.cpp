// ferryctl service list|set: GET/PUT /v2.1/os-services.
#include <fmt/format.h>

#include <memory>

#include "api/client/commands/commands.hpp"

namespace ferry::client {
namespace {

struct ServiceListOptions {
  std::string host;
  std::string binary;
};

struct ServiceSetOptions {
  std::string host;
  std::string binary = "nova-compute";
  bool enable = false;
  bool disable = false;
  std::string reason;
  bool force_down = false;
  bool no_force_down = false;
};

Table ServiceTable() {
  return Table({"ID", "Binary", "Host", "Zone", "Status", "State", "Updated At", "Disabled Reason",
                "Forced Down"});
}

void AddServiceRow(Table& table, const nlohmann::json& s) {
  table.AddRow({Field(s, "id"), Field(s, "binary"), Field(s, "host"), Field(s, "zone"),
                Field(s, "status"), Field(s, "state"), Field(s, "updated_at"),
                Field(s, "disabled_reason"), Field(s, "forced_down")});
}

void ServiceList(Session& session, const ServiceListOptions& options) {
  QueryParams query;
  if (!options.host.empty()) query.emplace_back("host", options.host);
  if (!options.binary.empty()) query.emplace_back("binary", options.binary);
  const nlohmann::json body = GetJson(session, "/v2.1/os-services" + QueryString(query));
  if (session.json) return PrintJson(session, body);
  Table table = ServiceTable();
  for (const auto& service : body.value("services", nlohmann::json::array())) {
    AddServiceRow(table, service);
  }
  PrintTable(session, table);
}

// 2.53+: one PUT on the service's uuid carries every change at once.
nlohmann::json SetByUuid(Session& session, const ServiceSetOptions& o) {
  const nlohmann::json found =
      GetJson(session, "/v2.1/os-services" + QueryString({{"host", o.host}, {"binary", o.binary}}));
  const nlohmann::json services = found.value("services", nlohmann::json::array());
  if (services.empty()) {
    throw Error(Errc::kNotFound, fmt::format("No {} service on host '{}'.", o.binary, o.host));
  }
  if (services.size() > 1) {
    throw Error(Errc::kConflict,
                fmt::format("{} {} services on host '{}'; refusing to guess which one to change.",
                            services.size(), o.binary, o.host));
  }
  nlohmann::json update = nlohmann::json::object();
  if (o.enable) update["status"] = "enabled";
  if (o.disable) {
    update["status"] = "disabled";
    if (!o.reason.empty()) update["disabled_reason"] = o.reason;
  }
  if (o.force_down || o.no_force_down) update["forced_down"] = o.force_down;
  return ExpectOk(
             session.client.Put("/v2.1/os-services/" + UrlEncode(Field(services[0], "id")), update))
      .body;
}

// Before 2.53 each change is its own action URL keyed by host and binary (Nova's legacy API).
nlohmann::json SetByHost(Session& session, const ServiceSetOptions& o) {
  const nlohmann::json key = {{"host", o.host}, {"binary", o.binary}};
  nlohmann::json last;
  if (o.enable) last = ExpectOk(session.client.Put("/v2.1/os-services/enable", key)).body;
  if (o.disable && o.reason.empty()) {
    last = ExpectOk(session.client.Put("/v2.1/os-services/disable", key)).body;
  }
  if (o.disable && !o.reason.empty()) {
    nlohmann::json body = key;
    body["disabled_reason"] = o.reason;
    last = ExpectOk(session.client.Put("/v2.1/os-services/disable-log-reason", body)).body;
  }
  if (o.force_down || o.no_force_down) {
    if (!session.version.AtLeast(11)) {
      throw Error(Errc::kBadRequest,
                  "--force-down/--no-force-down need microversion 2.11 or later");
    }
    nlohmann::json body = key;
    body["forced_down"] = o.force_down;
    last = ExpectOk(session.client.Put("/v2.1/os-services/force-down", body)).body;
  }
  return last;
}

void ServiceSet(Session& session, const ServiceSetOptions& options) {
  const nlohmann::json body =
      session.version.AtLeast(53) ? SetByUuid(session, options) : SetByHost(session, options);
  if (session.json) return PrintJson(session, body);
  // The legacy API answers with a partial service, so show whatever fields came back.
  if (!session.version.AtLeast(53)) return PrintResource(session, body.value("service", body));
  Table table = ServiceTable();
  AddServiceRow(table, body.value("service", nlohmann::json::object()));
  PrintTable(session, table);
}

}  // namespace

void RegisterServiceCommands(CLI::App& app, Action* slot) {
  CLI::App* noun = AddResource(app, "service", "Compute services (one per host)");

  auto list_options = std::make_shared<ServiceListOptions>();
  CLI::App* list = noun->add_subcommand("list", "List compute services");
  list->add_option("--host", list_options->host, "Only services on this host");
  list->add_option("--binary", list_options->binary, "Only this binary, e.g. nova-compute");
  OnRun(list, slot, [list_options](Session& s) { ServiceList(s, *list_options); });

  auto o = std::make_shared<ServiceSetOptions>();
  CLI::App* set = noun->add_subcommand("set", "Enable, disable or force down a host's service");
  set->add_option("host", o->host, "Host name")->required();
  set->add_option("--binary", o->binary, "Service binary")->capture_default_str();
  CLI::Option* enable = set->add_flag("--enable", o->enable, "Let the scheduler use the host");
  CLI::Option* disable = set->add_flag("--disable", o->disable, "Take the host out of scheduling");
  CLI::Option* reason = set->add_option("--reason", o->reason, "Why it is disabled");
  CLI::Option* down = set->add_flag("--force-down", o->force_down,
                                    "Mark it down now (fenced), making evacuation legal");
  CLI::Option* up = set->add_flag("--no-force-down", o->no_force_down, "Clear forced_down");
  enable->excludes(disable);
  down->excludes(up);
  reason->needs(disable);
  OnRun(set, slot, [o](Session& s) { ServiceSet(s, *o); });
  set->parse_complete_callback([o] {
    if (!o->enable && !o->disable && !o->force_down && !o->no_force_down) {
      throw CLI::ValidationError(
          "service set",
          "nothing to change: give --enable, --disable, --force-down or --no-force-down");
    }
  });
}

}  // namespace ferry::client
