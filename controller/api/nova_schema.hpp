#pragma once
// Nova's JSON-schema error texts, for handlers that check a body by hand. Nova's validator
// answers "Invalid input for field/attribute <field>. Value: <value>. <reason>", where <value>
// is Python's str() of the offending instance and <reason> is jsonschema's message, which
// quotes the instance with repr(). Clients match on these texts, so they are rebuilt exactly:
// a JSON object prints as a Python dict, null as None, booleans as True/False.
#include <nlohmann/json.hpp>
#include <string>

#include "common/errors.hpp"
#include "common/json_limits.hpp"

namespace ferry::controller::api::nova_schema {

using nlohmann::json;

// Longest repr() an error message quotes: 1024 characters hold every value Nova's own texts
// are matched on (the boolean enum is ~170); a member's megabyte-long list is cut after it.
inline constexpr std::size_t kMaxReprChars = 1024;

// Appends repr() of `v` to `out`, stopping once `out` passes `limit`. Recursion is bounded by
// the nesting of parsed bodies (ParseBoundedJson: 64 levels).
inline void AppendRepr(const json& v, std::string& out, std::size_t limit) {
  if (out.size() > limit) return;
  switch (v.type()) {
    case json::value_t::null:
      out += "None";
      return;
    case json::value_t::boolean:
      out += v.get<bool>() ? "True" : "False";
      return;
    case json::value_t::string: {
      const auto& s = v.get_ref<const std::string&>();
      // Python picks double quotes only for a string holding ' and no ".
      const char q =
          (s.find('\'') != std::string::npos && s.find('"') == std::string::npos) ? '"' : '\'';
      out += q;
      for (char c : s) {
        if (out.size() > limit) return;
        if (c == '\\' || c == q) out += '\\';
        if (c == '\n') {
          out += "\\n";
          continue;
        }
        if (c == '\t') {
          out += "\\t";
          continue;
        }
        out += c;
      }
      out += q;
      return;
    }
    case json::value_t::array: {
      out += '[';
      for (size_t i = 0; i < v.size() && out.size() <= limit; ++i) {
        if (i) out += ", ";
        AppendRepr(v[i], out, limit);
      }
      out += ']';
      return;
    }
    case json::value_t::object: {
      out += '{';
      bool first = true;
      for (auto it = v.begin(); it != v.end() && out.size() <= limit; ++it) {
        out += first ? "" : ", ";
        AppendRepr(json(it.key()), out, limit);
        out += ": ";
        AppendRepr(it.value(), out, limit);
        first = false;
      }
      out += '}';
      return;
    }
    default:  // numbers print alike
      out += v.dump();
      return;
  }
}

// repr() of the Python value json.loads would give, cut to kMaxReprChars (then ending in "...").
// Object keys come out in the body's order as parsed (nlohmann sorts them; a client that sends
// sorted keys sees Nova's exact text).
inline std::string Repr(const json& v) {
  std::string out;
  AppendRepr(v, out, kMaxReprChars);
  if (out.size() <= kMaxReprChars) return out;
  return Utf8Prefix(out, kMaxReprChars) + "...";
}

// str(): a string as is, everything else as repr().
inline std::string Str(const json& v) {
  if (!v.is_string()) return Repr(v);
  const auto& s = v.get_ref<const std::string&>();
  return s.size() <= kMaxReprChars ? s : Utf8Prefix(s, kMaxReprChars) + "...";
}

[[noreturn]] inline void Invalid(const std::string& field, const json& value,
                                 const std::string& reason) {
  throw Error(Errc::kBadRequest, "Invalid input for field/attribute " + field +
                                     ". Value: " + Str(value) + ". " + reason);
}

// parameter_types.boolean: a JSON boolean or one of these exact strings.
inline const json& BooleanEnum() {
  static const json values =
      json::array({true,  "True",  "TRUE",  "true",  "1", "ON",  "On",  "on",  "YES", "Yes", "yes",
                   false, "False", "FALSE", "false", "0", "OFF", "Off", "off", "NO",  "No",  "no"});
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
  if (!v.is_boolean() && !v.is_string())
    Invalid(field, v, Repr(v) + " is not of type 'boolean', 'string'");
  if (!IsBoolean(v)) Invalid(field, v, Repr(v) + " is not one of " + Repr(BooleanEnum()));
  if (v.is_boolean()) return v.get<bool>();
  const std::string s = v.get<std::string>();
  return s == "True" || s == "TRUE" || s == "true" || s == "1" || s == "ON" || s == "On" ||
         s == "on" || s == "YES" || s == "Yes" || s == "yes";
}

}  // namespace ferry::controller::api::nova_schema
