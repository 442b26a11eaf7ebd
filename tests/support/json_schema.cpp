#include "tests/support/json_schema.hpp"

#include <fstream>
#include <regex>
#include <sstream>
#include <stdexcept>

namespace ferry::testing {

using nlohmann::json;

std::string SchemaError::ToString() const {
  return (pointer.empty() ? std::string("(body)") : pointer) + ": " + message;
}

std::optional<std::pair<int, int>> ParseMicroversion(const std::string& text) {
  static const std::regex kVersion(R"(^(\d+)\.(\d+)$)");
  std::smatch m;
  if (!std::regex_match(text, m, kVersion)) return std::nullopt;
  return std::make_pair(std::stoi(m[1]), std::stoi(m[2]));
}

std::string PointerAppend(const std::string& pointer, const std::string& key) {
  std::string out = pointer + "/";
  for (char c : key) {
    if (c == '~') {
      out += "~0";
    } else if (c == '/') {
      out += "~1";
    } else {
      out += c;
    }
  }
  return out;
}

const json& SchemaStore::Document(const std::string& name) {
  auto it = docs_.find(name);
  if (it != docs_.end()) return it->second;
  std::ifstream in(dir_ + "/" + name);
  if (!in) throw std::runtime_error("schema " + dir_ + "/" + name + ": cannot be read");
  std::stringstream text;
  text << in.rdbuf();
  json doc = json::parse(text.str(), nullptr, false);
  if (doc.is_discarded()) throw std::runtime_error("schema " + name + ": not valid JSON");
  return docs_.emplace(name, std::move(doc)).first->second;
}

namespace {

std::string TypeName(const json& v) {
  switch (v.type()) {
    case json::value_t::null:
      return "null";
    case json::value_t::boolean:
      return "boolean";
    case json::value_t::number_integer:
    case json::value_t::number_unsigned:
      return "integer";
    case json::value_t::number_float:
      return "number";
    case json::value_t::string:
      return "string";
    case json::value_t::array:
      return "array";
    default:
      return "object";
  }
}

bool HasType(const json& v, const std::string& type) {
  const std::string actual = TypeName(v);
  return actual == type || (type == "number" && actual == "integer");
}

std::string Short(const json& v) {
  std::string s = v.dump();
  return s.size() > 80 ? s.substr(0, 77) + "..." : s;
}

// Compiled once per pattern: the hook validates every response of a test run.
const std::regex& CompiledPattern(const std::string& pattern) {
  static thread_local std::map<std::string, std::regex> cache;
  auto it = cache.find(pattern);
  if (it == cache.end()) it = cache.emplace(pattern, std::regex(pattern)).first;
  return it->second;
}

bool FormatHolds(const std::string& format, const std::string& value) {
  // Loose on purpose: Nova prints times both as "2013-10-29T13:42:02Z" and, in migrations and
  // instance actions, as "2013-10-29T13:42:02.000000" without a zone.
  static const std::regex kDateTime(
      R"(^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:?\d{2})?$)");
  static const std::regex kUuid(
      R"(^[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}$)");
  if (format == "date-time") return std::regex_match(value, kDateTime);
  if (format == "uuid") return std::regex_match(value, kUuid);
  return true;  // formats Nova's schemas name but do not constrain in practice
}

}  // namespace

class SchemaValidator {
 public:
  SchemaValidator(SchemaStore* store, const SchemaOptions& options)
      : store_(store), options_(options), version_(ParseMicroversion(options.microversion)) {}

  // `doc` is the document `schema` lives in (for "#/..." references), `doc_name` its name.
  void Check(const json& schema, const json& doc, const std::string& doc_name, const json& instance,
             const std::string& ptr, std::vector<SchemaError>& errors) {
    if (!schema.is_object()) return;
    if (schema.contains("$ref")) {
      CheckRef(schema["$ref"].get<std::string>(), doc, doc_name, instance, ptr, errors);
      return;
    }
    if (schema.contains("type") && !CheckType(schema["type"], instance, ptr, errors)) return;
    if (schema.contains("enum")) CheckEnum(schema["enum"], instance, ptr, errors);
    if (schema.contains("format") && instance.is_string() &&
        !FormatHolds(schema["format"], instance.get<std::string>())) {
      errors.push_back({ptr, Short(instance) + " is not a " + schema["format"].get<std::string>()});
    }
    if (instance.is_object()) CheckObject(schema, doc, doc_name, instance, ptr, errors);
    if (instance.is_array()) CheckArray(schema, doc, doc_name, instance, ptr, errors);
    CheckCombinators(schema, doc, doc_name, instance, ptr, errors);
  }

 private:
  void CheckRef(const std::string& ref, const json& doc, const std::string& doc_name,
                const json& instance, const std::string& ptr, std::vector<SchemaError>& errors) {
    const auto hash = ref.find('#');
    const std::string file = ref.substr(0, hash);
    const std::string fragment = hash == std::string::npos ? "" : ref.substr(hash + 1);
    if (!file.empty() && !store_) throw std::runtime_error("$ref " + ref + ": no schema store");
    const json& target_doc = file.empty() ? doc : store_->Document(file);
    const std::string target_name = file.empty() ? doc_name : file;
    const json::json_pointer at(fragment);
    if (!target_doc.contains(at))
      throw std::runtime_error("$ref " + ref + " in " + doc_name + ": not found");
    Check(target_doc.at(at), target_doc, target_name, instance, ptr, errors);
  }

  bool CheckType(const json& type, const json& instance, const std::string& ptr,
                 std::vector<SchemaError>& errors) {
    const json types = type.is_array() ? type : json::array({type});
    for (const auto& t : types) {
      if (HasType(instance, t.get<std::string>())) return true;
    }
    errors.push_back({ptr, "is " + TypeName(instance) + ", expected " + type.dump()});
    return false;
  }

  void CheckEnum(const json& values, const json& instance, const std::string& ptr,
                 std::vector<SchemaError>& errors) {
    for (const auto& v : values) {
      if (v == instance) return;
    }
    errors.push_back({ptr, Short(instance) + " is not one of " + Short(values)});
  }

  // Whether a declared property exists at the negotiated microversion.
  bool InVersion(const json& property_schema) const {
    if (!version_ || !property_schema.is_object()) return true;
    if (property_schema.contains("x-since")) {
      auto since = ParseMicroversion(property_schema["x-since"].get<std::string>());
      if (since && *version_ < *since) return false;
    }
    if (property_schema.contains("x-until")) {
      auto until = ParseMicroversion(property_schema["x-until"].get<std::string>());
      if (until && *version_ > *until) return false;
    }
    return true;
  }

  void CheckObject(const json& schema, const json& doc, const std::string& doc_name,
                   const json& instance, const std::string& ptr, std::vector<SchemaError>& errors) {
    const json empty = json::object();
    const json& props = schema.contains("properties") ? schema["properties"] : empty;
    const json& patterns =
        schema.contains("patternProperties") ? schema["patternProperties"] : empty;
    if (schema.contains("required")) {
      for (const auto& name : schema["required"]) {
        const std::string key = name.get<std::string>();
        if (instance.contains(key)) continue;
        if (props.contains(key) && !InVersion(props[key])) continue;
        errors.push_back({PointerAppend(ptr, key), "required property missing"});
      }
    }
    CheckSize(schema, "minProperties", "maxProperties", instance.size(), "properties", ptr, errors);
    for (const auto& [key, value] : instance.items()) {
      const std::string at = PointerAppend(ptr, key);
      bool matched = false;
      if (props.contains(key) && InVersion(props[key])) {
        matched = true;
        Check(props[key], doc, doc_name, value, at, errors);
      }
      for (const auto& [pattern, sub] : patterns.items()) {
        if (!std::regex_search(key, CompiledPattern(pattern))) continue;
        matched = true;
        Check(sub, doc, doc_name, value, at, errors);
      }
      if (matched || !schema.contains("additionalProperties")) continue;
      const json& extra = schema["additionalProperties"];
      if (extra.is_object()) {
        Check(extra, doc, doc_name, value, at, errors);
      } else if (extra == false &&
                 !(options_.extra_key_allowed && options_.extra_key_allowed(key))) {
        errors.push_back({at, props.contains(key)
                                  ? "not part of the body at microversion " + options_.microversion
                                  : "additional property not allowed"});
      }
    }
  }

  void CheckArray(const json& schema, const json& doc, const std::string& doc_name,
                  const json& instance, const std::string& ptr, std::vector<SchemaError>& errors) {
    CheckSize(schema, "minItems", "maxItems", instance.size(), "items", ptr, errors);
    if (!schema.contains("items")) return;
    for (std::size_t i = 0; i < instance.size(); ++i) {
      Check(schema["items"], doc, doc_name, instance[i], ptr + "/" + std::to_string(i), errors);
    }
  }

  void CheckSize(const json& schema, const char* min_key, const char* max_key, std::size_t size,
                 const std::string& what, const std::string& ptr,
                 std::vector<SchemaError>& errors) {
    if (schema.contains(min_key) && size < schema[min_key].get<std::size_t>()) {
      errors.push_back(
          {ptr, std::to_string(size) + " " + what + ", fewer than " + schema[min_key].dump()});
    }
    if (schema.contains(max_key) && size > schema[max_key].get<std::size_t>()) {
      errors.push_back(
          {ptr, std::to_string(size) + " " + what + ", more than " + schema[max_key].dump()});
    }
  }

  void CheckCombinators(const json& schema, const json& doc, const std::string& doc_name,
                        const json& instance, const std::string& ptr,
                        std::vector<SchemaError>& errors) {
    if (schema.contains("allOf")) {
      for (const auto& sub : schema["allOf"]) Check(sub, doc, doc_name, instance, ptr, errors);
    }
    for (const char* key : {"anyOf", "oneOf"}) {
      if (!schema.contains(key)) continue;
      std::size_t passing = 0;
      std::vector<SchemaError> closest;
      for (const auto& sub : schema[key]) {
        std::vector<SchemaError> sub_errors;
        if (InVersion(sub)) {
          Check(sub, doc, doc_name, instance, ptr, sub_errors);
        } else {
          sub_errors.push_back({ptr, "branch not part of microversion " + options_.microversion});
        }
        if (sub_errors.empty()) {
          ++passing;
        } else if (closest.empty() || sub_errors.size() < closest.size()) {
          closest = std::move(sub_errors);
        }
      }
      const bool one_of = std::string(key) == "oneOf";
      if (passing == 0) {
        errors.push_back({ptr, std::string("matches no branch of ") + key +
                                   " (closest: " + closest.front().ToString() + ")"});
      } else if (one_of && passing > 1) {
        errors.push_back({ptr, "matches " + std::to_string(passing) + " branches of oneOf"});
      }
    }
  }

  SchemaStore* store_;
  const SchemaOptions& options_;
  std::optional<std::pair<int, int>> version_;
};

std::vector<SchemaError> SchemaStore::Validate(const std::string& name, const json& instance,
                                               const SchemaOptions& options) {
  std::vector<SchemaError> errors;
  const json& doc = Document(name);
  SchemaValidator(this, options).Check(doc, doc, name, instance, "", errors);
  return errors;
}

std::vector<SchemaError> ValidateJson(const json& schema, const json& instance,
                                      const SchemaOptions& options) {
  std::vector<SchemaError> errors;
  SchemaValidator(nullptr, options).Check(schema, schema, "(inline)", instance, "", errors);
  return errors;
}

}  // namespace ferry::testing
