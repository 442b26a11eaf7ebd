// Request bodies of the write routes, checked before anything is looked up (see the header).
// The code moved here unchanged from the route files, so that it can be run on its own.
#include "controller/api/request_bodies.hpp"

#include <algorithm>
#include <set>
#include <vector>

#include "common/errors.hpp"
#include "common/json_limits.hpp"
#include "common/uuid.hpp"
#include "controller/api/nova_schema.hpp"
#include "controller/api/validation.hpp"

namespace ferry::controller::api {
namespace {

using nlohmann::json;

// os:scheduler_hints {"group": "<uuid>"}: the server joins that server group and the scheduler
// honours its policy. Other hints are accepted and, for now, not used.
std::optional<std::string> GroupHint(const json& body) {
  for (const char* key : {"os:scheduler_hints", "OS-SCH-HNT:scheduler_hints"}) {
    if (!body.contains(key)) continue;
    const json& hints = body[key];
    if (!hints.is_object()) {
      throw Error(Errc::kBadRequest, std::string("Invalid input for field/attribute ") + key + ".");
    }
    if (!hints.contains("group")) continue;
    if (!hints["group"].is_string() || !IsUuid(hints["group"].get<std::string>())) {
      throw Error(Errc::kBadRequest, "Invalid input for field/attribute group. Value: " +
                                         BoundedDump(hints["group"]) + " is not a 'uuid'");
    }
    return hints["group"].get<std::string>();
  }
  return std::nullopt;
}

void ParseServerMetadata(const json& body, conductor::CreateServerRequest& out) {
  if (!body.contains("metadata")) return;
  if (!body["metadata"].is_object()) {
    throw Error(Errc::kBadRequest,
                "Invalid input for field/attribute metadata. It must be an object.");
  }
  for (auto it = body["metadata"].begin(); it != body["metadata"].end(); ++it) {
    if (!it->is_string() || it.key().empty() || it.key().size() > 255 ||
        it->get<std::string>().size() > 255) {
      throw Error(Errc::kBadRequest,
                  "Invalid input for field/attribute metadata. Keys and values must be strings of "
                  "at most 255 characters.");
    }
  }
  out.metadata = body["metadata"];
}

void ParseBlockDevices(const json& body, conductor::CreateServerRequest& out) {
  if (!body.contains("block_device_mapping_v2")) return;
  if (!body["block_device_mapping_v2"].is_array()) {
    throw Error(Errc::kBadRequest, "Invalid input for field/attribute block_device_mapping_v2.");
  }
  for (const auto& bdm : body["block_device_mapping_v2"]) {
    if (!bdm.is_object()) {
      throw Error(Errc::kBadRequest, "Invalid input for field/attribute block_device_mapping_v2.");
    }
    if (bdm.value("destination_type", "") == "volume") {
      out.volumes.push_back({{"id", bdm.value("uuid", "")}});
      // Compared in place: a copy of a member's value would cost its whole size.
      auto boot_index = bdm.find("boot_index");
      if (boot_index != bdm.end() && (*boot_index == 0 || *boot_index == "0"))
        out.storage_kind = "volume";
    }
  }
}

// "zone", "zone:host", ":host" or "zone:host:node" (the node is ignored).
std::optional<std::string> ParseZone(const json& body, conductor::CreateServerRequest& out) {
  std::optional<std::string> forced;
  if (auto az = OptionalString(body, "availability_zone")) {
    auto colon = az->find(':');
    if (colon != std::string::npos) {
      forced = az->substr(colon + 1);
      if (auto second = forced->find(':'); second != std::string::npos) {
        forced = forced->substr(0, second);
      }
      if (colon > 0) out.availability_zone = az->substr(0, colon);
      if (forced->empty()) forced.reset();
    } else {
      out.availability_zone = *az;
    }
  }
  return forced;
}

// The policy names a microversion accepts: soft-* arrived in 2.15.
std::set<std::string> AllowedPolicies(const Request& req) {
  if (req.mv.AtLeast(15)) {
    return {"affinity", "anti-affinity", "soft-affinity", "soft-anti-affinity"};
  }
  return {"affinity", "anti-affinity"};
}

std::string CheckPolicy(const Request& req, const json& value, const char* field) {
  const auto allowed = AllowedPolicies(req);
  if (!value.is_string() || !allowed.count(value.get<std::string>())) {
    throw Error(Errc::kBadRequest, std::string("Invalid input for field/attribute ") + field +
                                       ". Value: " + BoundedDump(value) +
                                       " is not one of the allowed policies");
  }
  return value.get<std::string>();
}

}  // namespace

ServerCreateBody ParseServerCreate(const Request& req) {
  if (req.body.is_object()) {
    RejectUnknownKeys(req.body, {"server", "os:scheduler_hints", "OS-SCH-HNT:scheduler_hints"});
  }
  const json& body = RequireMember(req.body, "server");
  RejectUnknownKeys(body, {"name",
                           "flavorRef",
                           "imageRef",
                           "availability_zone",
                           "networks",
                           "metadata",
                           "key_name",
                           "user_data",
                           "adminPass",
                           "security_groups",
                           "block_device_mapping_v2",
                           "config_drive",
                           "host",
                           "hypervisor_hostname",
                           "description",
                           "min_count",
                           "max_count",
                           "OS-DCF:diskConfig",
                           "accessIPv4",
                           "accessIPv6",
                           "tags",
                           "hostname",
                           "return_reservation_id"});
  ServerCreateBody out;
  out.request.name = RequireName(body, "name");
  if (!body.contains("flavorRef")) {
    throw Error(Errc::kBadRequest, "'flavorRef' is a required property");
  }
  out.flavor_ref = body["flavorRef"].is_number_integer()
                       ? std::to_string(body["flavorRef"].get<int64_t>())
                       : *OptionalString(body, "flavorRef", 255, false);
  // One server per request for now: a count above 1 is refused rather than silently ignored.
  OptionalInt(body, "min_count", 1, 1);
  OptionalInt(body, "max_count", 1, 1);
  ParseServerMetadata(body, out.request);
  ParseBlockDevices(body, out.request);
  out.forced_host = ParseZone(body, out.request);
  if (auto host = OptionalString(body, "host")) {
    if (!req.mv.AtLeast(74)) {
      throw Error(Errc::kBadRequest,
                  "Additional properties are not allowed ('host' was unexpected)");
    }
    out.forced_host = host;
  }
  if (out.forced_host && !req.IsAdmin()) {
    throw Error(Errc::kForbidden,
                "Policy doesn't allow os_compute_api:servers:create:forced_host to be performed.");
  }
  out.request.attributes = ParseServerAttributes(req, body);
  out.admin_pass = OptionalString(body, "adminPass", 255, false);
  out.request.group_uuid = GroupHint(req.body);
  out.request.forced_host = out.forced_host;
  return out;
}

std::string ServerActionName(const Request& req) {
  // Nova's action_peek: the body names exactly one action.
  if (!req.body.is_object() || req.body.size() != 1) {
    throw Error(Errc::kBadRequest, "Malformed request body: too many body keys");
  }
  return req.body.begin().key();
}

// Nova's schemas for the body (migrate_server.py migrate_live, _v2_25, _v2_30, _v2_68), checked
// in the order jsonschema reports them: the properties' own schemas first (in the schema's
// property order), then `required`, then `additionalProperties`. Nothing has been looked up
// yet when one fails, exactly as Nova validates before the handler runs.
void ValidateMigrateLive(const Request& req) {
  namespace ns = nova_schema;
  const json& body = req.body.at("os-migrateLive");
  const std::string field = "os-migrateLive";
  if (!body.is_object()) ns::Invalid(field, body, ns::Repr(body) + " is not of type 'object'");
  const bool legacy = !req.mv.AtLeast(25);
  std::vector<std::string> properties =
      legacy ? std::vector<std::string>{"block_migration", "disk_over_commit", "host"}
             : std::vector<std::string>{"block_migration", "host"};
  if (req.mv.AtLeast(30) && !req.mv.AtLeast(68)) properties.push_back("force");
  for (const auto& key : properties) {
    auto it = body.find(key);
    if (it == body.end()) continue;
    const json& v = *it;
    if (key == "host") {
      if (!v.is_null() && !v.is_string()) {
        ns::Invalid(key, v, ns::Repr(v) + " is not of type 'string', 'null'");
      }
      if (v.is_string() && v.get<std::string>().empty()) {
        ns::Invalid(key, v, ns::Repr(v) + " is too short");
      }
      if (v.is_string() && v.get<std::string>().size() > 255) {
        ns::Invalid(key, v, ns::Repr(v) + " is too long");
      }
    } else if (key == "block_migration" && !legacy) {
      // oneOf [parameter_types.boolean, {"enum": ["auto"]}]
      if (v != "auto" && !ns::IsBoolean(v)) {
        ns::Invalid(key, v, ns::Repr(v) + " is not valid under any of the given schemas");
      }
    } else {
      ns::Boolean(key, v);
    }
  }
  for (const auto& key : properties) {
    if (key == "force") continue;  // the only optional one
    if (!body.contains(key)) ns::Invalid(field, body, "'" + key + "' is a required property");
  }
  std::vector<std::string> extra;
  for (auto it = body.begin(); it != body.end(); ++it) {
    if (std::find(properties.begin(), properties.end(), it.key()) == properties.end()) {
      extra.push_back(it.key());
    }
  }
  if (!extra.empty()) {
    std::string list;
    for (const auto& k : extra) list += (list.empty() ? "" : ", ") + ns::Repr(json(k));
    ns::Invalid(field, body,
                "Additional properties are not allowed (" + list +
                    (extra.size() == 1 ? " was" : " were") + " unexpected)");
  }
}

live_migration::LiveMigrateRequest ParseMigrateLive(const Request& req, const std::string& server) {
  const json& body = req.body.at("os-migrateLive");
  live_migration::LiveMigrateRequest r;
  r.server_uuid = server;
  if (body.at("host").is_string()) r.host = body.at("host").get<std::string>();
  const json& bm = body.at("block_migration");
  r.block_migration =
      bm == "auto" ? "auto" : (nova_schema::Boolean("block_migration", bm) ? "true" : "false");
  // disk_over_commit (before 2.25) is validated, then ignored, as Nova's libvirt driver does.
  if (body.contains("force")) r.force = nova_schema::Boolean("force", body.at("force"));
  // Nova's _get_force_param_for_live_migration, after the policy check.
  if (r.force && !r.host)
    throw Error(Errc::kBadRequest, "Can't force to a non-provided destination");
  r.synchronous_prechecks = !req.mv.AtLeast(34);
  r.admin = req.IsAdmin();
  r.user_id = req.principal.user_id;
  r.project_id = req.principal.project_id;
  r.request_id = req.request_id;
  r.idempotency_key = req.idempotency_key;
  return r;
}

store::ServerGroup ParseServerGroupCreate(const Request& req) {
  const json& body = RequireMember(req.body, "server_group");
  store::ServerGroup g;
  if (req.mv.AtLeast(64)) {
    RejectUnknownKeys(body, {"name", "policy", "rules"});
    g.name = RequireName(body, "name");
    if (!body.contains("policy")) throw Error(Errc::kBadRequest, "'policy' is a required property");
    g.policy = CheckPolicy(req, body["policy"], "policy");
    if (body.contains("rules")) {
      const json& rules = body["rules"];
      if (!rules.is_object())
        throw Error(Errc::kBadRequest, "Invalid input for field/attribute rules.");
      RejectUnknownKeys(rules, {"max_server_per_host"});
      if (!rules.empty() && g.policy != "anti-affinity") {
        throw Error(Errc::kBadRequest, "Only anti-affinity policy supports rules.");
      }
      if (rules.contains("max_server_per_host")) {
        g.rules["max_server_per_host"] = RequireInt(rules, "max_server_per_host", 1, 1 << 30);
      }
    }
  } else {
    RejectUnknownKeys(body, {"name", "policies"});
    g.name = RequireName(body, "name");
    if (!body.contains("policies")) {
      throw Error(Errc::kBadRequest, "'policies' is a required property");
    }
    const json& policies = body["policies"];
    if (!policies.is_array() || policies.size() != 1) {
      throw Error(Errc::kBadRequest,
                  "Invalid input for field/attribute policies. Value: " + BoundedDump(policies) +
                      ". It must be a list of exactly one policy");
    }
    g.policy = CheckPolicy(req, policies[0], "policies");
  }
  return g;
}

std::optional<std::string> ValidZone(const std::optional<std::string>& az) {
  if (az && (az->empty() || az->find(':') != std::string::npos)) {
    throw Error(Errc::kBadRequest,
                "Invalid input for field/attribute availability_zone. "
                "It must be 1-255 characters without ':'.");
  }
  return az;
}

AggregateBody ParseAggregateCreate(const Request& req) {
  const json& body = RequireMember(req.body, "aggregate");
  RejectUnknownKeys(body, {"name", "availability_zone"});
  AggregateBody out;
  out.name = RequireName(body, "name");
  out.availability_zone = ValidZone(OptionalString(body, "availability_zone"));
  out.zone_given = body.contains("availability_zone");
  return out;
}

AggregateBody ParseAggregateUpdate(const Request& req) {
  const json& body = RequireMember(req.body, "aggregate");
  RejectUnknownKeys(body, {"name", "availability_zone"});
  if (body.empty()) {
    throw Error(Errc::kBadRequest, "At least one of 'name' or 'availability_zone' is required.");
  }
  AggregateBody out;
  if (body.contains("name")) out.name = RequireName(body, "name");
  out.zone_given = body.contains("availability_zone");
  out.availability_zone = ValidZone(OptionalString(body, "availability_zone"));
  return out;
}

AggregateAction ParseAggregateAction(const Request& req) {
  if (!req.body.is_object() || req.body.size() != 1) {
    throw Error(Errc::kBadRequest,
                "The request body must hold exactly one of add_host, remove_host, set_metadata.");
  }
  AggregateAction out;
  out.action = req.body.begin().key();
  if (out.action == "add_host" || out.action == "remove_host") {
    const json& body = RequireMember(req.body, out.action.c_str());
    RejectUnknownKeys(body, {"host"});
    out.host = RequireName(body, "host");
  } else if (out.action == "set_metadata") {
    const json& body = RequireMember(req.body, "set_metadata");
    RejectUnknownKeys(body, {"metadata"});
    const json& md = RequireMember(body, "metadata");
    for (auto it = md.begin(); it != md.end(); ++it) {
      if (it.key().empty() || it.key().size() > 255) {
        throw Error(Errc::kBadRequest, "Metadata keys must be 1-255 characters.");
      }
      out.metadata[it.key()] = OptionalString(md, it.key().c_str(), 255);
    }
  } else {
    throw Error(Errc::kBadRequest,
                "Additional properties are not allowed ('" + out.action + "' was unexpected)");
  }
  return out;
}

}  // namespace ferry::controller::api
