#include "controller/api/validation.hpp"

#include <algorithm>
#include <cctype>

#include "common/errors.hpp"
#include "common/json_limits.hpp"
#include "common/time_format.hpp"

namespace ferry::controller::api {
namespace {

[[noreturn]] void Invalid(const std::string& key, const std::string& why) {
  throw Error(Errc::kBadRequest, "Invalid input for field/attribute " + key + ". " + why);
}

// At most 64 characters of the value's JSON text; BoundedDump never serialises (or recurses
// into) more than that, so a huge or deeply nested value costs no more than a small one.
std::string Brief(const json& v) {
  std::string s = BoundedDump(v, 65);
  return s.size() > 64 ? Utf8Prefix(s, 61) + "..." : s;
}

}  // namespace

const json& RequireMember(const json& body, const char* key) {
  if (!body.is_object()) throw Error(Errc::kBadRequest, "The request body must be a JSON object.");
  auto it = body.find(key);
  if (it == body.end())
    throw Error(Errc::kBadRequest, std::string("'") + key + "' is a required property");
  if (!it->is_object())
    Invalid(key, "Value: " + Brief(*it) + ". " + Brief(*it) + " is not of type 'object'");
  return *it;
}

void RejectUnknownKeys(const json& obj, std::initializer_list<const char*> allowed) {
  for (auto it = obj.begin(); it != obj.end(); ++it) {
    bool known =
        std::any_of(allowed.begin(), allowed.end(), [&](const char* a) { return it.key() == a; });
    if (!known) {
      throw Error(Errc::kBadRequest,
                  "Additional properties are not allowed ('" + it.key() + "' was unexpected)");
    }
  }
}

std::string RequireName(const json& obj, const char* key, size_t max_len) {
  auto it = obj.find(key);
  if (it == obj.end())
    throw Error(Errc::kBadRequest, std::string("'") + key + "' is a required property");
  if (!it->is_string())
    Invalid(key, "Value: " + Brief(*it) + ". " + Brief(*it) + " is not of type 'string'");
  std::string v = it->get<std::string>();
  if (v.empty()) Invalid(key, "Value: ''. '' is too short");
  if (v.size() > max_len)
    Invalid(key, "Value: " + Brief(*it) + ". It is too long (max " + std::to_string(max_len) + ")");
  if (std::isspace(static_cast<unsigned char>(v.front())) ||
      std::isspace(static_cast<unsigned char>(v.back()))) {
    Invalid(key, "Value: " + Brief(*it) + ". Leading or trailing whitespace is not allowed");
  }
  for (unsigned char c : v) {
    if (c < 0x20 || c == 0x7f)
      Invalid(key, "Value: " + Brief(*it) + ". Control characters are not allowed");
  }
  return v;
}

std::optional<std::string> OptionalString(const json& obj, const char* key, size_t max_len,
                                          bool allow_null) {
  auto it = obj.find(key);
  if (it == obj.end()) return std::nullopt;
  if (it->is_null() && allow_null) return std::nullopt;
  if (!it->is_string())
    Invalid(key, "Value: " + Brief(*it) + ". " + Brief(*it) + " is not of type 'string'");
  std::string v = it->get<std::string>();
  if (v.size() > max_len)
    Invalid(key, "Value: " + Brief(*it) + ". It is too long (max " + std::to_string(max_len) + ")");
  return v;
}

int64_t RequireInt(const json& obj, const char* key, int64_t min, int64_t max) {
  auto v = OptionalInt(obj, key, min, max);
  if (!v) throw Error(Errc::kBadRequest, std::string("'") + key + "' is a required property");
  return *v;
}

std::optional<int64_t> OptionalInt(const json& obj, const char* key, int64_t min, int64_t max) {
  auto it = obj.find(key);
  if (it == obj.end()) return std::nullopt;
  int64_t v = 0;
  if (it->is_number_integer()) {
    v = it->get<int64_t>();
  } else if (it->is_string() && !it->get<std::string>().empty() &&
             it->get<std::string>().size() < 19 &&
             it->get<std::string>().find_first_not_of("0123456789") == std::string::npos) {
    v = std::stoll(it->get<std::string>());
  } else {
    Invalid(key, "Value: " + Brief(*it) + ". " + Brief(*it) + " is not of type 'integer'");
  }
  if (v < min)
    Invalid(key, "Value: " + std::to_string(v) + ". It is less than the minimum of " +
                     std::to_string(min));
  if (v > max)
    Invalid(key, "Value: " + std::to_string(v) + ". It is greater than the maximum of " +
                     std::to_string(max));
  return v;
}

std::optional<bool> OptionalBool(const json& obj, const char* key) {
  auto it = obj.find(key);
  if (it == obj.end()) return std::nullopt;
  if (it->is_boolean()) return it->get<bool>();
  if (it->is_string()) return ParseBoolParam(key, it->get<std::string>());
  Invalid(key, "Value: " + Brief(*it) + ". " + Brief(*it) + " is not of type 'boolean'");
}

bool ParseBoolParam(const std::string& name, const std::string& value) {
  std::string v;
  for (char c : value) v.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
  if (v == "true" || v == "1" || v == "yes" || v == "on" || v == "t" || v == "y") return true;
  if (v == "false" || v == "0" || v == "no" || v == "off" || v == "f" || v == "n") return false;
  throw Error(Errc::kBadRequest, "Invalid input for query parameters " + name +
                                     ". Value: " + value + ". Value must be a boolean");
}

int64_t ParseLimitParam(const std::string& value) {
  if (value.empty() || value.size() > 18 ||
      value.find_first_not_of("0123456789") != std::string::npos) {
    throw Error(Errc::kBadRequest, "limit param must be an integer");
  }
  return std::stoll(value);
}

TimePoint ParseTimeParam(const std::string& name, const std::string& value) {
  auto t = ParseIsoTime(value);
  if (!t) {
    throw Error(Errc::kBadRequest, "Invalid input for query parameters " + name + ". Value: " +
                                       value + ". '" + value + "' is not a 'date-time'");
  }
  return *t;
}

}  // namespace ferry::controller::api
