// The bodies of the server actions that move a server by its host, migrate, resize and evacuate
// (declared in request_bodies.hpp), checked against Nova's schemas (schemas/migrate_server.py
// migrate, schemas/servers.py resize, schemas/evacuate.py) in the order jsonschema reports: an
// object's `type`, then each property's own schema in the schema's property order, then `required`,
// then `additionalProperties`. Nothing has been looked up when one fails.
#include <string>
#include <vector>

#include "common/errors.hpp"
#include "controller/api/nova_schema.hpp"
#include "controller/api/request_bodies.hpp"

namespace ferry::controller::api {
namespace {

using nlohmann::json;
namespace ns = nova_schema;

void RejectExtra(const std::string& field, const json& body,
                 const std::vector<std::string>& properties) {
  std::vector<std::string> extra;
  for (auto it = body.begin(); it != body.end(); ++it) {
    if (std::find(properties.begin(), properties.end(), it.key()) == properties.end()) {
      extra.push_back(it.key());
    }
  }
  if (extra.empty()) return;
  std::string list;
  for (const auto& k : extra) list += (list.empty() ? "" : ", ") + ns::Repr(json(k));
  ns::Invalid(field, body,
              "Additional properties are not allowed (" + list +
                  (extra.size() == 1 ? " was" : " were") + " unexpected)");
}

// migrate_server.host: parameter_types.fqdn (underscores allowed, as Nova's note says real
// hosts have them) with null allowed; keywords in the schema's order: type, pattern,
// minLength, maxLength.
void CheckHost(const json& v) {
  if (v.is_null()) return;
  if (!v.is_string()) ns::Invalid("host", v, ns::Repr(v) + " is not of type 'string', 'null'");
  const std::string& s = v.get_ref<const std::string&>();
  for (char c : s) {
    const bool ok = std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '.' || c == '_';
    if (!ok) ns::Invalid("host", v, ns::Repr(v) + " does not match '^[a-zA-Z0-9-._]*$'");
  }
  if (s.empty()) ns::Invalid("host", v, ns::Repr(v) + " is too short");
  if (s.size() > 255) ns::Invalid("host", v, ns::Repr(v) + " is too long");
}

cold_migration::ColdMoveRequest Common(const Request& req, const std::string& server) {
  cold_migration::ColdMoveRequest r;
  r.server_uuid = server;
  r.admin = req.IsAdmin();
  r.user_id = req.principal.user_id;
  r.project_id = req.principal.project_id;
  r.request_id = req.request_id;
  r.idempotency_key = req.idempotency_key;
  return r;
}

}  // namespace

cold_migration::ColdMoveRequest ParseMigrate(const Request& req, const std::string& server) {
  cold_migration::ColdMoveRequest r = Common(req, server);
  // Nova: @validation.schema(schema.migrate, "2.56"); below it the body's value is not read.
  if (!req.mv.AtLeast(56)) return r;
  const json& body = req.body.at("migrate");
  if (!body.is_null() && !body.is_object()) {
    ns::Invalid("migrate", body, ns::Repr(body) + " is not of type 'object', 'null'");
  }
  if (body.is_null()) return r;
  if (body.contains("host")) CheckHost(body.at("host"));
  RejectExtra("migrate", body, {"host"});
  // A null host is no host: the scheduler picks one (Nova's `if host_name:`).
  if (body.contains("host") && body.at("host").is_string()) r.host = body.at("host");
  return r;
}

cold_migration::ColdMoveRequest ParseResize(const Request& req, const std::string& server) {
  const json& body = req.body.at("resize");
  if (!body.is_object()) ns::Invalid("resize", body, ns::Repr(body) + " is not of type 'object'");
  // parameter_types.flavor_ref: {"type": ["string", "integer"], "minLength": 1}. JSON booleans
  // and floats are neither (jsonschema's integer excludes bool).
  if (auto it = body.find("flavorRef"); it != body.end()) {
    const json& v = *it;
    if (!v.is_string() && !v.is_number_integer()) {
      ns::Invalid("flavorRef", v, ns::Repr(v) + " is not of type 'string', 'integer'");
    }
    if (v.is_string() && v.get_ref<const std::string&>().empty()) {
      ns::Invalid("flavorRef", v, ns::Repr(v) + " is too short");
    }
  }
  // parameter_types.disk_config: {"type": "string", "enum": ["AUTO", "MANUAL"]}.
  if (auto it = body.find("OS-DCF:diskConfig"); it != body.end()) {
    const json& v = *it;
    if (!v.is_string())
      ns::Invalid("OS-DCF:diskConfig", v, ns::Repr(v) + " is not of type 'string'");
    if (v != "AUTO" && v != "MANUAL") {
      ns::Invalid("OS-DCF:diskConfig", v, ns::Repr(v) + " is not one of ['AUTO', 'MANUAL']");
    }
  }
  if (!body.contains("flavorRef"))
    ns::Invalid("resize", body, "'flavorRef' is a required property");
  RejectExtra("resize", body, {"flavorRef", "OS-DCF:diskConfig"});
  cold_migration::ColdMoveRequest r = Common(req, server);
  // Nova's _resize: str(flavorRef), used as the flavor id as it is (no link is resolved).
  const json& ref = body.at("flavorRef");
  r.flavor_ref = ref.is_string() ? ref.get<std::string>() : ref.dump();
  if (body.contains("OS-DCF:diskConfig")) r.disk_config = body.at("OS-DCF:diskConfig");
  return r;
}

evacuation::EvacuateRequest ParseEvacuate(const Request& req, const std::string& server) {
  // schemas/evacuate.py: 2.1-2.13 {host, onSharedStorage (required), adminPass}; 2.14 drops
  // onSharedStorage; 2.29-2.67 add force; 2.68 drops it again; 2.95 is 2.68's schema.
  const bool legacy = !req.mv.AtLeast(14);
  const bool has_force = req.mv.AtLeast(29) && !req.mv.AtLeast(68);
  const json& body = req.body.at("evacuate");
  if (!body.is_object()) ns::Invalid("evacuate", body, ns::Repr(body) + " is not of type 'object'");
  if (body.contains("host")) {
    // parameter_types.fqdn: a string (migrate's host may be null; evacuate's may not).
    if (!body.at("host").is_string()) {
      ns::Invalid("host", body.at("host"), ns::Repr(body.at("host")) + " is not of type 'string'");
    }
    CheckHost(body.at("host"));
  }
  if (legacy && body.contains("onSharedStorage")) {
    ns::Boolean("onSharedStorage", body.at("onSharedStorage"));
  }
  if (auto it = body.find("adminPass"); it != body.end() && !it->is_string()) {
    ns::Invalid("adminPass", *it, ns::Repr(*it) + " is not of type 'string'");
  }
  if (has_force && body.contains("force")) ns::Boolean("force", body.at("force"));
  if (legacy && !body.contains("onSharedStorage")) {
    ns::Invalid("evacuate", body, "'onSharedStorage' is a required property");
  }
  std::vector<std::string> allowed = {"host", "adminPass"};
  if (legacy) allowed.push_back("onSharedStorage");
  if (has_force) allowed.push_back("force");
  RejectExtra("evacuate", body, allowed);

  evacuation::EvacuateRequest r;
  r.server_uuid = server;
  r.user_id = req.principal.user_id;
  r.project_id = req.principal.project_id;
  r.request_id = req.request_id;
  r.idempotency_key = req.idempotency_key;
  if (body.contains("host") && body.at("host").is_string()) r.host = body.at("host");
  if (legacy) r.on_shared_storage = ns::Boolean("onSharedStorage", body.at("onSharedStorage"));
  r.admin_pass_given = body.contains("adminPass");
  if (has_force && body.contains("force")) r.force = ns::Boolean("force", body.at("force"));
  // Before 2.29 Nova's evacuate takes a named host as it is, past the scheduler (force came
  // with 2.29 to make that a choice).
  if (!req.mv.AtLeast(29) && r.host) r.force = true;
  r.stay_stopped = req.mv.AtLeast(95);
  return r;
}

}  // namespace ferry::controller::api
