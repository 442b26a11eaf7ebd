#pragma once
// A small JSON-Schema (draft 4) validator for the Nova contract tests: the subset Nova's
// published response schemas use. Keywords: type (a name or a list, "null" included),
// properties, required, additionalProperties (bool or schema), patternProperties,
// minProperties/maxProperties, items (one schema), minItems/maxItems, enum, oneOf/anyOf/allOf,
// format (date-time and uuid, loosely), and $ref to "#/..." in the same document or
// "file.json#/..." in another document of the same SchemaStore.
//
// Two additions, both for microversions, so one file can describe a body whose members come and
// go across versions instead of one near-copy per version: a property's schema may carry
// "x-since": "2.N" and/or "x-until": "2.M" (inclusive). Outside that range the property is
// treated as undeclared: it is not required, and additionalProperties decides whether it may be
// there (with false, its presence is an error naming the microversion). A branch of anyOf/oneOf
// carrying them matches nothing outside its range. $refs name documents relative to the store's
// directory ("common.json#/definitions/link"), whichever document they appear in.
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

namespace ferry::testing {

struct SchemaError {
  std::string pointer;  // JSON pointer into the instance ("" is the whole body)
  std::string message;
  std::string ToString() const;
};

struct SchemaOptions {
  // "2.53"; empty means x-since/x-until are not consulted (every property is declared).
  std::string microversion = "";
  // Keys allowed in an object even where additionalProperties forbids them (ferry's additive
  // fields under X-Ferry-Extensions). Declared properties are still checked and still required.
  std::function<bool(const std::string& key)> extra_key_allowed = nullptr;
};

// "2.53" -> (2, 53); nullopt for anything else.
std::optional<std::pair<int, int>> ParseMicroversion(const std::string& text);

// Appends `key` to a JSON pointer, escaping '~' and '/'.
std::string PointerAppend(const std::string& pointer, const std::string& key);

// Documents by file name under one directory, parsed once, kept for the process.
class SchemaStore {
 public:
  explicit SchemaStore(std::string dir) : dir_(std::move(dir)) {}
  // Registers a document under a name instead of reading it from the directory (unit tests).
  void Add(const std::string& name, nlohmann::json doc) { docs_[name] = std::move(doc); }
  // The document `name` (a path relative to the directory). Throws std::runtime_error when it
  // cannot be read or parsed: a broken schema must stop the test, not pass it.
  const nlohmann::json& Document(const std::string& name);
  // Every way `instance` breaks the schema in document `name`; empty when it conforms.
  std::vector<SchemaError> Validate(const std::string& name, const nlohmann::json& instance,
                                    const SchemaOptions& options = {});

 private:
  friend class SchemaValidator;
  std::string dir_;
  std::map<std::string, nlohmann::json> docs_;
};

// Validates against a single in-memory schema whose $refs are all local ("#/...").
std::vector<SchemaError> ValidateJson(const nlohmann::json& schema, const nlohmann::json& instance,
                                      const SchemaOptions& options = {});

}  // namespace ferry::testing
