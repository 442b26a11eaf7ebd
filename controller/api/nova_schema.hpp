#pragma once
// Nova's JSON-schema error texts, for handlers that check a body by hand. Nova's validator
// answers "Invalid input for field/attribute <field>. Value: <value>. <reason>", where <value>
// is Python's str() of the offending instance and <reason> is jsonschema's message, which
// quotes the instance with repr(). Clients match on these texts, so they are rebuilt exactly:
// a JSON object prints as a Python dict, null as None, booleans as True/False.
#include <nlohmann/json.hpp>
#include <string>

#include "common/errors.hpp"

namespace ferry::controller::api::nova_schema {

using nlohmann::json;

// repr() of the Python value json.loads would give. Object keys come out in the body's order
// as parsed (nlohmann sorts them; a client that sends sorted keys sees Nova's exact text).
inline std::string Repr(const json& v) {
  switch (v.type()) {
    case json::value_t::null: return "None";
    case json::value_t::boolean: return v.get<bool>() ? "True" : "False";
    case json::value_t::string: {
      const std::string s = v.get<std::string>();
      // Python picks double quotes only for a string holding ' and no ".
      const char q = (s.find('\'') != std::string::npos && s.find('"') == std::string::npos) ? '"' : '\'';
      std::string out(1, q);
      for (char c : s) {
        if (c == '\\' || c == q) out += '\\';
        if (c == '\n') { out += "\\n"; continue; }
        if (c == '\t') { out += "\\t"; continue; }
        out += c;
      }
      return out + q;
    }
    case json::value_t::array: {
      std::string out = "[";
      for (size_t i = 0; i < v.size(); ++i) out += (i ? ", " : "") + Repr(v[i]);
      return out + "]";
    }
    case json::value_t::object: {
      std::string out = "{";
      bool first = true;
      for (auto it = v.begin(); it != v.end(); ++it) {
        out += (first ? "" : ", ") + Repr(json(it.key())) + ": " + Repr(it.value());
        first = false;
      }
      return out + "}";
    }
    default: return v.dump();  // numbers print alike
  }
}

// str(): a string as is, everything else as repr().
inline std::string Str(const json& v) { return v.is_string() ? v.get<std::string>() : Repr(v); }

[[noreturn]] inline void Invalid(const std::string& field, const json& value, const std::string& reason) {
  throw Error(Errc::kBadRequest,
              "Invalid input for field/attribute " + field + ". Value: " + Str(value) + ". " + reason);
}

// parameter_types.boolean: a JSON boolean or one of these exact strings.
inline const json& BooleanEnum() {
  static const json values = json::array({true, "True", "TRUE", "true", "1", "ON", "On", "on", "YES", "Yes",
                                          "yes", false, "False", "FALSE", "false", "0", "OFF", "Off", "off",
                                          "NO", "No", "no"});
  return values;
}

inline bool IsBoolean(const json& v) {
  if (v.is_boolean()) return true;
  if (!v.is_string()) return false;
  for (const auto& e : BooleanEnum()) {
    if (e.is_string() && e == v) return true;
  }
  return false;
}

// Validates `v` as parameter_types.boolean (400 with Nova's text) and reads it the way
// strutils.bool_from_string(strict=True) does.
inline bool Boolean(const std::string& field, const json& v) {
  if (!v.is_boolean() && !v.is_string()) Invalid(field, v, Repr(v) + " is not of type 'boolean', 'string'");
  if (!IsBoolean(v)) Invalid(field, v, Repr(v) + " is not one of " + Repr(BooleanEnum()));
  if (v.is_boolean()) return v.get<bool>();
  const std::string s = v.get<std::string>();
  return s == "True" || s == "TRUE" || s == "true" || s == "1" || s == "ON" || s == "On" || s == "on" ||
         s == "YES" || s == "Yes" || s == "yes";
}

}  // namespace ferry::controller::api::nova_schema
