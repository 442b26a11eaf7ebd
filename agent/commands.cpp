#include "agent/commands.hpp"

#include <map>

#include "common/errors.hpp"

namespace ferry::agent {
namespace {

std::optional<wire::Domain> CreateDomain(Driver& driver, const nlohmann::json& args) {
  if (!args.is_object()) throw Error(Errc::kBadRequest, "create_domain args must be an object");
  return driver.CreateDomain(args.get<wire::Domain>());
}

std::optional<wire::Domain> DeleteDomain(Driver& driver, const nlohmann::json& args) {
  if (!args.is_object() || !args.contains("uuid") || !args.at("uuid").is_string()) {
    throw Error(Errc::kBadRequest, "delete_domain args must be {\"uuid\": \"...\"}");
  }
  driver.DeleteDomain(args.at("uuid").get<std::string>());
  return std::nullopt;
}

const std::map<std::string, CommandFn>& Table() {
  static const std::map<std::string, CommandFn> kTable = {
      {"create_domain", CreateDomain},
      {"delete_domain", DeleteDomain},
  };
  return kTable;
}

}  // namespace

const CommandFn* FindCommand(const std::string& kind) {
  const auto& table = Table();
  auto it = table.find(kind);
  return it == table.end() ? nullptr : &it->second;
}

}  // namespace ferry::agent
