#include "api/client/commands/command_support.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <set>

namespace ferry::client {

std::optional<ApiVersion> ApiVersion::Parse(std::string_view text) {
  ApiVersion version;
  if (text == "latest") {
    version.latest_ = true;
    return version;
  }
  if (text.substr(0, 2) != "2." || text.size() == 2) return std::nullopt;
  const std::string_view minor = text.substr(2);
  auto [end, ec] = std::from_chars(minor.data(), minor.data() + minor.size(), version.minor_);
  if (ec != std::errc() || end != minor.data() + minor.size() || version.minor_ < 1) {
    return std::nullopt;
  }
  return version;
}

std::string ApiVersion::ToString() const {
  return latest_ ? "latest" : fmt::format("2.{}", minor_);
}

void OnRun(CLI::App* command, Action* slot, Action action) {
  command->callback([slot, action = std::move(action)] { *slot = action; });
}

CLI::App* AddResource(CLI::App& app, const std::string& name, const std::string& description) {
  CLI::App* resource = app.add_subcommand(name, description);
  resource->require_subcommand(1);
  return resource;
}

nlohmann::json GetJson(Session& session, const std::string& path) {
  return ExpectOk(session.client.Get(path)).body;
}

namespace {

std::string NextHref(const nlohmann::json& links) {
  if (!links.is_array()) return "";
  for (const auto& link : links) {
    if (link.is_object() && link.value("rel", "") == "next" && link.contains("href") &&
        link["href"].is_string()) {
      return link["href"].get<std::string>();
    }
  }
  return "";
}

}  // namespace

nlohmann::json GetAllPages(Session& session, const std::string& path, const std::string& key) {
  nlohmann::json body = GetJson(session, path);
  if (!body.is_object() || !body.contains(key) || !body[key].is_array()) {
    throw Error(Errc::kInternal,
                fmt::format("unexpected answer to GET {}: no '{}' list", path, key));
  }
  const std::string links_key = key + "_links";
  std::string href = NextHref(body.value(links_key, nlohmann::json()));
  std::set<std::string> seen;
  bool merged = false;
  while (!href.empty()) {
    // A server that hands out the same marker twice would loop forever; stop and say so.
    if (!seen.insert(href).second) {
      throw Error(Errc::kInternal, fmt::format("paging loop: '{}' returned twice", href));
    }
    nlohmann::json page = GetJson(session, session.client.RelativePath(href));
    if (!page.is_object() || !page.contains(key) || !page[key].is_array()) break;
    for (auto& item : page[key]) body[key].push_back(std::move(item));
    merged = true;
    href = NextHref(page.value(links_key, nlohmann::json()));
  }
  if (merged) body.erase(links_key);
  return body;
}

void PrintJson(Session& session, const nlohmann::json& body) {
  session.out << body.dump(2) << "\n";
}

void PrintTable(Session& session, const Table& table) { session.out << table.Render(); }

void PrintResource(Session& session, const nlohmann::json& resource) {
  Table table({"Property", "Value"});
  if (resource.is_object()) {
    // nlohmann::json objects iterate in sorted key order already.
    for (const auto& [key, value] : resource.items()) {
      table.AddRow({key, FormatValue(value, /*multiline=*/true)});
    }
  }
  PrintTable(session, table);
}

std::string FormatValue(const nlohmann::json& value, bool multiline) {
  const char* separator = multiline ? "\n" : ", ";
  switch (value.type()) {
    case nlohmann::json::value_t::null:
      return "";
    case nlohmann::json::value_t::string:
      return value.get<std::string>();
    case nlohmann::json::value_t::boolean:
      return value.get<bool>() ? "true" : "false";
    case nlohmann::json::value_t::array: {
      const bool scalars = std::none_of(value.begin(), value.end(),
                                        [](const nlohmann::json& v) { return v.is_structured(); });
      std::string out;
      for (const auto& item : value) {
        if (!out.empty()) out += scalars ? ", " : separator;
        out += scalars ? FormatValue(item) : item.dump();
      }
      return out;
    }
    case nlohmann::json::value_t::object: {
      std::string out;
      for (const auto& [key, item] : value.items()) {
        if (!out.empty()) out += separator;
        out += key + "=" + (item.is_structured() ? item.dump() : FormatValue(item));
      }
      return out;
    }
    default:
      return value.dump();
  }
}

std::string Field(const nlohmann::json& object, const std::string& key) {
  if (!object.is_object() || !object.contains(key)) return "";
  return FormatValue(object[key]);
}

std::string PowerStateName(const nlohmann::json& value) {
  if (!value.is_number_integer()) return FormatValue(value);
  // nova/compute/power_state.py; 2 (BLOCKED) and 5 (SHUTOFF) are retired there.
  switch (value.get<int>()) {
    case 0:
      return "NOSTATE";
    case 1:
      return "Running";
    case 3:
      return "Paused";
    case 4:
      return "Shutdown";
    case 6:
      return "Crashed";
    case 7:
      return "Suspended";
    default:
      return value.dump();
  }
}

nlohmann::json FindOne(const nlohmann::json& items, const std::string& field,
                       const std::string& value, const std::string& kind) {
  std::vector<nlohmann::json> matches;
  if (items.is_array()) {
    for (const auto& item : items) {
      if (item.is_object() && item.contains(field) && FormatValue(item[field]) == value) {
        matches.push_back(item);
      }
    }
  }
  if (matches.empty()) {
    throw Error(Errc::kNotFound,
                fmt::format("No {} with a name or ID of '{}' exists.", kind, value));
  }
  if (matches.size() > 1) {
    throw Error(Errc::kConflict,
                fmt::format("More than one {} is named '{}'; use its ID.", kind, value));
  }
  return matches.front();
}

bool IsAllDigits(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

}  // namespace ferry::client
