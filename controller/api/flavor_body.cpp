// POST /flavors bodies, as Nova's flavors.create schema (and flavors.create's own checks)
// accept them; split from request_bodies.cpp, whose header declares ParseFlavorCreate.
#include <cstdlib>
#include <regex>

#include "common/errors.hpp"
#include "common/uuid.hpp"
#include "controller/api/nova_schema.hpp"
#include "controller/api/request_bodies.hpp"
#include "controller/api/validation.hpp"

namespace ferry::controller::api {
namespace {

using nlohmann::json;

// The flavor id as Nova's flavors.create stores it (schema flavors.create: string, number or
// null). A string is kept as sent: 1-255 characters of [a-zA-Z0-9. _-], no space at either end.
// A number becomes the text Python's str() prints (`12345` -> "12345", `1.5` -> "1.5"): Tempest
// creates flavors with random integer ids. Null, no id, or a number Python reads as false (0)
// gets a new uuid, as `if not flavorid` does.
std::string FlavorId(const json& body) {
  namespace ns = nova_schema;
  auto it = body.find("id");
  if (it == body.end() || it->is_null()) return NewUuid();
  const json& id = *it;
  if (id.is_number()) return id == 0 ? NewUuid() : id.dump();
  if (!id.is_string())
    ns::Invalid("id", id, ns::Repr(id) + " is not of type 'string', 'number', 'null'");
  const std::string& text = id.get_ref<const std::string&>();
  // 255: the schema's maxLength (flavors.flavorid is a String(255) column).
  if (text.empty()) ns::Invalid("id", id, ns::Repr(id) + " is too short");
  if (text.size() > 255) ns::Invalid("id", id, ns::Repr(id) + " is too long");
  const bool allowed = text.find_first_not_of(
                           "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789. _-") ==
                       std::string::npos;
  if (!allowed || text.front() == ' ' || text.back() == ' ') {
    ns::Invalid("id", id, ns::Repr(id) + " does not match '^(?! )[a-zA-Z0-9. _-]+(?<! )$'");
  }
  return text;
}

// rxtx_factor: a number, or a string of digits with an optional fraction; above 0 and at most
// 3.40282e+38 (Nova's SQL_SP_FLOAT_MAX, the column is a single-precision float).
double RxtxFactor(const json& v) {
  namespace ns = nova_schema;
  constexpr double kSqlSpFloatMax = 3.40282e+38;
  double factor = 0;
  if (v.is_number()) {
    factor = v.get<double>();
    if (factor <= 0)
      ns::Invalid("rxtx_factor", v, ns::Repr(v) + " is less than or equal to the minimum of 0");
    if (factor > kSqlSpFloatMax) {
      ns::Invalid("rxtx_factor", v, ns::Repr(v) + " is greater than the maximum of 3.40282e+38");
    }
    return factor;
  }
  if (!v.is_string())
    ns::Invalid("rxtx_factor", v, ns::Repr(v) + " is not of type 'number', 'string'");
  static const std::regex kDecimal(R"(^[0-9]+(\.[0-9]+)?$)");
  const std::string& text = v.get_ref<const std::string&>();
  if (text.size() > 64 || !std::regex_search(text, kDecimal)) {  // 64: longer is never a float
    ns::Invalid("rxtx_factor", v, ns::Repr(v) + " does not match '^[0-9]+(\\\\.[0-9]+)?$'");
  }
  factor = std::strtod(text.c_str(), nullptr);
  if (factor <= 0 || factor > kSqlSpFloatMax) {
    throw Error(
        Errc::kBadRequest,
        "Invalid input received: 'rxtx_factor' argument must be a float between 0 and 3.40282e+38");
  }
  return factor;
}

}  // namespace

store::Flavor ParseFlavorCreate(const Request& req) {
  const json& body = RequireMember(req.body, "flavor");
  if (req.mv.AtLeast(55)) {
    RejectUnknownKeys(body, {"name", "id", "ram", "vcpus", "disk", "OS-FLV-EXT-DATA:ephemeral",
                             "swap", "rxtx_factor", "os-flavor-access:is_public", "description"});
  } else {
    RejectUnknownKeys(body, {"name", "id", "ram", "vcpus", "disk", "OS-FLV-EXT-DATA:ephemeral",
                             "swap", "rxtx_factor", "os-flavor-access:is_public"});
  }
  store::Flavor f;
  f.name = RequireName(body, "name");
  f.flavorid = FlavorId(body);
  constexpr int64_t kDbIntMax = 2147483647;  // Nova's limits: db.MAX_INT
  f.memory_mb = RequireInt(body, "ram", 1, kDbIntMax);
  f.vcpus = static_cast<int>(RequireInt(body, "vcpus", 1, kDbIntMax));
  f.root_gb = RequireInt(body, "disk", 0, kDbIntMax);
  f.ephemeral_gb = OptionalInt(body, "OS-FLV-EXT-DATA:ephemeral", 0, kDbIntMax).value_or(0);
  f.swap_mb = OptionalInt(body, "swap", 0, kDbIntMax).value_or(0);
  if (auto it = body.find("rxtx_factor"); it != body.end()) f.rxtx_factor = RxtxFactor(*it);
  if (auto it = body.find("os-flavor-access:is_public"); it != body.end()) {
    f.is_public = nova_schema::Boolean("os-flavor-access:is_public", *it);
  }
  f.description = OptionalString(body, "description", 65535);
  return f;
}

}  // namespace ferry::controller::api
