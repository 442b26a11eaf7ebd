#pragma once
// Request-body checks in the spirit of Nova's JSON schemas: a clear 400 naming the field, and
// no side effect has happened yet when one fires (handlers validate before touching the store).
#include <cstdint>
#include <initializer_list>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "common/clock.hpp"

namespace ferry::controller::api {

using nlohmann::json;

// body must be an object holding `key` as an object; returns it.
const json& RequireMember(const json& body, const char* key);
// Nova: "Additional properties are not allowed ('x' was unexpected)".
void RejectUnknownKeys(const json& obj, std::initializer_list<const char*> allowed);
// A printable name, no leading/trailing whitespace, length within [min_len, max_len].
std::string RequireName(const json& obj, const char* key, size_t max_len = 255);
std::optional<std::string> OptionalString(const json& obj, const char* key, size_t max_len = 255,
                                          bool allow_null = true);
// Integer, or a string of digits (Nova's flavor parameters accept both).
int64_t RequireInt(const json& obj, const char* key, int64_t min, int64_t max);
std::optional<int64_t> OptionalInt(const json& obj, const char* key, int64_t min, int64_t max);
std::optional<bool> OptionalBool(const json& obj, const char* key);
// Query-string booleans as oslo's strutils reads them; anything else is a 400.
bool ParseBoolParam(const std::string& name, const std::string& value);
// An ISO 8601 time query parameter (changes-since, changes-before); else Nova's 400.
TimePoint ParseTimeParam(const std::string& name, const std::string& value);
// Positive integer query parameter (limit).
int64_t ParseLimitParam(const std::string& value);

}  // namespace ferry::controller::api
