// The JSON-Schema validator behind the Nova contract tests: each keyword Nova's response
// schemas use accepts a conforming body and names the offending member of one that is not.
#include "tests/support/json_schema.hpp"

#include <gtest/gtest.h>

namespace ferry::testing {
namespace {

using nlohmann::json;

std::vector<std::string> Errors(const json& schema, const json& instance,
                                const SchemaOptions& options = {}) {
  std::vector<std::string> out;
  for (const auto& e : ValidateJson(schema, instance, options)) out.push_back(e.ToString());
  return out;
}

using Strings = std::vector<std::string>;

const json kHypervisor = json::parse(R"({
  "type": "object",
  "properties": {
    "hypervisors": {"type": "array", "items": {
      "type": "object",
      "properties": {"id": {"type": ["integer", "string"]}, "status": {"enum": ["enabled", "disabled"]},
                     "state": {"type": "string"}, "uptime": {"type": ["string", "null"], "x-since": "2.88"}},
      "required": ["id", "status", "state", "uptime"],
      "additionalProperties": false}}},
  "required": ["hypervisors"],
  "additionalProperties": false})");

TEST(JsonSchema, AConformingBodyHasNoErrors) {
  EXPECT_EQ(
      Errors(kHypervisor, {{"hypervisors", {{{"id", 1}, {"status", "enabled"}, {"state", "up"}}}}},
             {.microversion = "2.1"}),
      Strings{});
}

TEST(JsonSchema, AStrayFieldIsNamedByItsPointer) {
  json body = {{"hypervisors",
                {{{"id", 1}, {"status", "enabled"}, {"state", "up"}, {"ferry:simulated", true}}}}};
  EXPECT_EQ(Errors(kHypervisor, body, {.microversion = "2.1"}),
            Strings{"/hypervisors/0/ferry:simulated: additional property not allowed"});
}

TEST(JsonSchema, AMissingRequiredFieldIsNamed) {
  EXPECT_EQ(Errors(kHypervisor, {{"hypervisors", {{{"id", 1}, {"status", "enabled"}}}}}),
            (Strings{"/hypervisors/0/state: required property missing",
                     "/hypervisors/0/uptime: required property missing"}));
}

TEST(JsonSchema, PropertiesComeAndGoWithTheMicroversion) {
  json old_body = {{"hypervisors", {{{"id", 1}, {"status", "enabled"}, {"state", "up"}}}}};
  EXPECT_EQ(Errors(kHypervisor, old_body, {.microversion = "2.88"}),
            Strings{"/hypervisors/0/uptime: required property missing"});
  old_body["hypervisors"][0]["uptime"] = nullptr;
  EXPECT_EQ(Errors(kHypervisor, old_body, {.microversion = "2.88"}), Strings{});
  EXPECT_EQ(Errors(kHypervisor, old_body, {.microversion = "2.87"}),
            Strings{"/hypervisors/0/uptime: not part of the body at microversion 2.87"});
}

TEST(JsonSchema, TypeListsEnumsAndNull) {
  json body = {{"hypervisors", {{{"id", 1.5}, {"status", "on"}, {"state", nullptr}}}}};
  EXPECT_EQ(Errors(kHypervisor, body, {.microversion = "2.1"}),
            (Strings{"/hypervisors/0/id: is number, expected [\"integer\",\"string\"]",
                     "/hypervisors/0/state: is null, expected \"string\"",
                     "/hypervisors/0/status: \"on\" is not one of [\"enabled\",\"disabled\"]"}));
}

TEST(JsonSchema, ExtensionKeysAreAllowedOnlyWhereTheCallerSaysSoAndRequiredStillHolds) {
  SchemaOptions options{.microversion = "2.1", .extra_key_allowed = [](const std::string& k) {
                          return k.find("ferry") != std::string::npos;
                        }};
  json body = {{"hypervisors",
                {{{"id", 1}, {"status", "enabled"}, {"ferry:simulated", true}, {"other", 1}}}}};
  EXPECT_EQ(Errors(kHypervisor, body, options),
            (Strings{"/hypervisors/0/state: required property missing",
                     "/hypervisors/0/other: additional property not allowed"}));
}

TEST(JsonSchema, PatternAndSchemaValuedAdditionalProperties) {
  json schema = {{"type", "object"},
                 {"patternProperties", {{"^x-", {{"type", "integer"}}}}},
                 {"additionalProperties", {{"type", "string"}}},
                 {"maxProperties", 2}};
  EXPECT_EQ(Errors(schema, {{"x-a", 1}, {"b", "c"}}), Strings{});
  EXPECT_EQ(Errors(schema, {{"x-a", "1"}, {"b", 2}, {"c", "d"}}),
            (Strings{"(body): 3 properties, more than 2", "/b: is integer, expected \"string\"",
                     "/x-a: is string, expected \"integer\""}));
}

TEST(JsonSchema, ItemsCountsAndPointerEscaping) {
  json schema = {
      {"type", "object"},
      {"additionalProperties",
       {{"type", "array"}, {"minItems", 1}, {"maxItems", 2}, {"items", {{"type", "string"}}}}}};
  EXPECT_EQ(Errors(schema, {{"a/b~c", json::array()}, {"d", {"x", 1, "y"}}}),
            (Strings{"/a~1b~0c: 0 items, fewer than 1", "/d: 3 items, more than 2",
                     "/d/1: is integer, expected \"string\""}));
}

TEST(JsonSchema, FormatsAreCheckedLoosely) {
  json schema = {{"type", "array"}, {"items", {{"type", "string"}, {"format", "date-time"}}}};
  EXPECT_EQ(Errors(schema, {"2013-10-29T13:42:02Z", "2013-10-29T13:42:02.000000",
                            "2024-01-01T00:00:00+00:00"}),
            Strings{});
  EXPECT_EQ(Errors(schema, {"yesterday"}), Strings{"/0: \"yesterday\" is not a date-time"});
  json uuid = {{"type", "string"}, {"format", "uuid"}};
  EXPECT_EQ(Errors(uuid, "6ba7b810-9dad-11d1-80b4-00c04fd430c8"), Strings{});
  EXPECT_EQ(Errors(uuid, "42"), Strings{"(body): \"42\" is not a uuid"});
}

TEST(JsonSchema, OneOfAnyOfAndLocalRefs) {
  json schema = json::parse(R"({
    "definitions": {"id": {"oneOf": [{"type": "integer"}, {"type": "string", "format": "uuid"}]}},
    "type": "array", "items": {"$ref": "#/definitions/id"}})");
  EXPECT_EQ(Errors(schema, {7, "6ba7b810-9dad-11d1-80b4-00c04fd430c8"}), Strings{});
  EXPECT_EQ(
      Errors(schema, {"seven"}),
      Strings{"/0: matches no branch of oneOf (closest: /0: is string, expected \"integer\")"});
  json any = {{"anyOf", {{{"type", "integer"}}, {{"type", "number"}}}}};
  EXPECT_EQ(Errors(any, 3), Strings{});
  json one = {{"oneOf", {{{"type", "integer"}}, {{"type", "number"}}}}};
  EXPECT_EQ(Errors(one, 3), Strings{"(body): matches 2 branches of oneOf"});
}

TEST(JsonSchema, RefsAcrossDocumentsOfAStore) {
  SchemaStore store("/nonexistent");
  store.Add("common.json", json::parse(R"({"definitions": {"link": {"type": "object",
    "properties": {"href": {"type": "string"}, "rel": {"type": "string"}},
    "required": ["href", "rel"], "additionalProperties": false}}})"));
  store.Add(
      "links.json",
      json::parse(R"({"type": "array", "items": {"$ref": "common.json#/definitions/link"}})"));
  EXPECT_TRUE(store.Validate("links.json", {{{"href", "h"}, {"rel", "self"}}}).empty());
  auto errors = store.Validate("links.json", {{{"href", "h"}}});
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0].ToString(), "/0/rel: required property missing");
  EXPECT_THROW(store.Validate("missing.json", 1), std::runtime_error);
}

}  // namespace
}  // namespace ferry::testing
