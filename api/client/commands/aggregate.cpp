// ferryctl aggregate ...: /v2.1/os-aggregates and its actions (add_host, remove_host,
// set_metadata).
#include <fmt/format.h>

#include <memory>

#include "api/client/commands/commands.hpp"
#include "common/uuid.hpp"

namespace ferry::client {
namespace {

struct AggregateOptions {
  std::string ref;                      // id, uuid or name
  std::string name;                     // create
  std::string zone;                     // create --zone
  std::string host;                     // add-host / remove-host
  std::vector<std::string> properties;  // set --property k=v
  std::vector<std::string> unset;       // set --unset-property k
};

// Nova's aggregate URLs take the integer id, even though 2.41 added a uuid to the body.
std::string ResolveAggregateId(Session& session, const std::string& ref) {
  if (IsAllDigits(ref)) return ref;
  const nlohmann::json aggregates =
      GetJson(session, "/v2.1/os-aggregates").value("aggregates", nlohmann::json::array());
  const char* field = IsUuid(ref) ? "uuid" : "name";
  return Field(FindOne(aggregates, field, ref, "aggregate"), "id");
}

std::string AggregatePath(Session& session, const std::string& ref) {
  return "/v2.1/os-aggregates/" + UrlEncode(ResolveAggregateId(session, ref));
}

void PrintAggregate(Session& session, const nlohmann::json& body) {
  if (session.json) return PrintJson(session, body);
  PrintResource(session, body.value("aggregate", nlohmann::json::object()));
}

void AggregateList(Session& session) {
  const nlohmann::json body = GetJson(session, "/v2.1/os-aggregates");
  if (session.json) return PrintJson(session, body);
  Table table({"ID", "Name", "Availability Zone", "Hosts", "Properties"});
  for (const auto& a : body.value("aggregates", nlohmann::json::array())) {
    table.AddRow({Field(a, "id"), Field(a, "name"), Field(a, "availability_zone"),
                  Field(a, "hosts"), Field(a, "metadata")});
  }
  PrintTable(session, table);
}

void AggregateShow(Session& session, const AggregateOptions& o) {
  PrintAggregate(session, GetJson(session, AggregatePath(session, o.ref)));
}

void AggregateCreate(Session& session, const AggregateOptions& o) {
  nlohmann::json aggregate = {{"name", o.name}};
  if (!o.zone.empty()) aggregate["availability_zone"] = o.zone;
  PrintAggregate(
      session,
      ExpectOk(session.client.Post("/v2.1/os-aggregates", {{"aggregate", aggregate}})).body);
}

void AggregateDelete(Session& session, const AggregateOptions& o) {
  const std::string path = AggregatePath(session, o.ref);
  const Response response = ExpectOk(session.client.Delete(path));
  if (session.json) {
    if (!response.body.is_null()) PrintJson(session, response.body);
    return;
  }
  session.out << fmt::format("Deleted aggregate {}.\n", o.ref);
}

void AggregateAction(Session& session, const AggregateOptions& o, const nlohmann::json& action) {
  const std::string path = AggregatePath(session, o.ref) + "/action";
  PrintAggregate(session, ExpectOk(session.client.Post(path, action)).body);
}

// --property k=v sets, --unset-property k sends k: null, which Nova's update_metadata deletes.
nlohmann::json MetadataUpdate(const AggregateOptions& o) {
  nlohmann::json metadata = nlohmann::json::object();
  for (const std::string& kv : o.properties) {
    const std::size_t eq = kv.find('=');
    metadata[kv.substr(0, eq)] = kv.substr(eq + 1);
  }
  for (const std::string& key : o.unset) {
    if (metadata.contains(key)) {
      throw CLI::ValidationError("--unset-property", "'" + key + "' is both set and unset");
    }
    metadata[key] = nullptr;
  }
  return {{"set_metadata", {{"metadata", metadata}}}};
}

CLI::Validator KeyValue() {
  return CLI::Validator(
      [](std::string& kv) -> std::string {
        const std::size_t eq = kv.find('=');
        if (eq == std::string::npos || eq == 0) return "expected KEY=VALUE, got '" + kv + "'";
        return "";
      },
      "KEY=VALUE");
}

}  // namespace

void RegisterAggregateCommands(CLI::App& app, Action* slot) {
  CLI::App* noun = AddResource(app, "aggregate", "Host aggregates and availability zones");
  auto o = std::make_shared<AggregateOptions>();

  OnRun(noun->add_subcommand("list", "List aggregates"), slot,
        [](Session& s) { AggregateList(s); });

  CLI::App* show = noun->add_subcommand("show", "Show one aggregate");
  show->add_option("aggregate", o->ref, "ID, UUID or name")->required();
  OnRun(show, slot, [o](Session& s) { AggregateShow(s, *o); });

  CLI::App* create = noun->add_subcommand("create", "Create an aggregate");
  create->add_option("name", o->name, "Aggregate name")->required();
  create->add_option("--zone", o->zone, "Availability zone it defines");
  OnRun(create, slot, [o](Session& s) { AggregateCreate(s, *o); });

  CLI::App* remove = noun->add_subcommand("delete", "Delete an (empty) aggregate");
  remove->add_option("aggregate", o->ref, "ID, UUID or name")->required();
  OnRun(remove, slot, [o](Session& s) { AggregateDelete(s, *o); });

  for (const char* verb : {"add-host", "remove-host"}) {
    const bool add = std::string(verb) == "add-host";
    CLI::App* cmd = noun->add_subcommand(verb, add ? "Add a host" : "Remove a host");
    cmd->add_option("aggregate", o->ref, "ID, UUID or name")->required();
    cmd->add_option("host", o->host, "Host name")->required();
    OnRun(cmd, slot, [o, add](Session& s) {
      AggregateAction(s, *o, {{add ? "add_host" : "remove_host", {{"host", o->host}}}});
    });
  }

  CLI::App* set = noun->add_subcommand("set", "Set or unset aggregate metadata");
  set->add_option("aggregate", o->ref, "ID, UUID or name")->required();
  // allow_extra_args(false): one value per flag, so `--property a=b agg` keeps `agg` positional.
  set->add_option("--property", o->properties, "Metadata to set (repeatable)")
      ->check(KeyValue())
      ->allow_extra_args(false);
  set->add_option("--unset-property", o->unset, "Metadata key to delete (repeatable)")
      ->allow_extra_args(false);
  set->parse_complete_callback([o] {
    if (o->properties.empty() && o->unset.empty()) {
      throw CLI::ValidationError("aggregate set", "give --property or --unset-property");
    }
    MetadataUpdate(*o);  // reports a key both set and unset as a usage error
  });
  OnRun(set, slot, [o](Session& s) { AggregateAction(s, *o, MetadataUpdate(*o)); });
}

}  // namespace ferry::client
