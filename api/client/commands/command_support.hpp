#pragma once
// What every ferryctl command shares: the Session it runs in (client, output stream, flags),
// the action slot the parser fills, and helpers for Nova idioms (paged lists, name -> id
// lookups, "Property | Value" tables).
#include <CLI/CLI.hpp>
#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

#include "api/client/rest_client.hpp"
#include "api/client/table.hpp"

namespace ferry::client {

// A compute API microversion as sent in OpenStack-API-Version: "2.NN" or "latest".
class ApiVersion {
 public:
  static std::optional<ApiVersion> Parse(std::string_view text);
  // "latest" is at least everything: the server resolves it to its own maximum.
  bool AtLeast(int minor) const { return latest_ || minor_ >= minor; }
  std::string ToString() const;

 private:
  int minor_ = 1;  // the major version is always 2 for /v2.1
  bool latest_ = false;
};

struct Session {
  RestClient& client;
  std::ostream& out;
  bool json = false;  // --json: print the API's JSON instead of a table
  ApiVersion version;
  bool tty = false;  // `out` is a terminal: progress may redraw one line
  // What ferryctl exits with when the action returns normally: commands whose outcome is not
  // plain success (`host drain` partial, nothing fits, ...) set it; errors still throw.
  int exit_code = 0;
};

using Action = std::function<void(Session&)>;

// Parsing only records which action to run. The API is called after the whole command line
// parsed, so a usage error found late on the line never follows a change already made.
void OnRun(CLI::App* command, Action* slot, Action action);
// A resource noun ("server", "aggregate") that needs exactly one verb after it.
CLI::App* AddResource(CLI::App& app, const std::string& name, const std::string& description);

// GET, fail on non-2xx (ApiError), return the JSON body.
nlohmann::json GetJson(Session& session, const std::string& path);
// GET a Nova collection and follow its "<key>_links" rel=next pages (Nova caps a page at
// osapi_max_limit, 1000 by default). Returns the first page's body with every page's items in
// body[key]; the links are dropped only when further pages were merged in.
nlohmann::json GetAllPages(Session& session, const std::string& path, const std::string& key);

void PrintJson(Session& session, const nlohmann::json& body);
void PrintTable(Session& session, const Table& table);
// A "Property | Value" table of one resource, keys sorted as the nova CLI does.
void PrintResource(Session& session, const nlohmann::json& resource);

// Cell text for a JSON value: "" for null, strings as-is, scalar arrays joined by ", ",
// objects as key=value (one per line when multiline, else joined by ", ").
std::string FormatValue(const nlohmann::json& value, bool multiline = false);
// FormatValue(object[key]), or "" when the key is missing.
std::string Field(const nlohmann::json& object, const std::string& key);
// Nova's power_state integers as the openstack CLI names them; strings pass through.
std::string PowerStateName(const nlohmann::json& value);

// The one element of `items` whose `field` equals `value`. Throws ferry::Error kNotFound when
// none does and kConflict when several do (names are not unique in Nova).
nlohmann::json FindOne(const nlohmann::json& items, const std::string& field,
                       const std::string& value, const std::string& kind);

// Server uuid for a uuid or an exact name (server.cpp).
std::string ResolveServerId(Session& session, const std::string& ref);

// Flavor id for an id or a name (server create and unmanaged adopt both take either).
std::string ResolveFlavorId(Session& session, const std::string& ref);

bool IsAllDigits(std::string_view s);

}  // namespace ferry::client
