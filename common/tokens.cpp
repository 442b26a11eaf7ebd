#include "common/tokens.hpp"

#include <fstream>
#include <sstream>
#include <stdexcept>

namespace ferry {

TokenTable TokenTable::LoadFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw std::runtime_error("cannot read token file " + path);
  TokenTable table;
  std::string line;
  int lineno = 0;
  while (std::getline(in, line)) {
    ++lineno;
    if (auto hash = line.find('#'); hash != std::string::npos) line.erase(hash);
    std::istringstream fields(line);
    std::string token, role, name;
    if (!(fields >> token)) continue;
    fields >> role >> name;
    Role r;
    if (role == "admin") {
      r = Role::kAdmin;
    } else if (role == "member") {
      r = Role::kMember;
    } else if (role == "agent") {
      r = Role::kAgent;
    } else if (role == "metrics") {
      r = Role::kMetrics;
    } else {
      throw std::runtime_error(path + ":" + std::to_string(lineno) + ": unknown role '" + role +
                               "' (admin, member, agent or metrics)");
    }
    if (table.Find(token)) {
      // Two lines for one token would make its role depend on line order.
      throw std::runtime_error(path + ":" + std::to_string(lineno) + ": token listed twice");
    }
    table.Add(token, Principal{r, name.empty() ? role : name});
  }
  return table;
}

std::optional<Principal> TokenTable::Find(const std::string& token) const {
  auto it = tokens_.find(token);
  if (it == tokens_.end()) return std::nullopt;
  return it->second;
}

}  // namespace ferry
