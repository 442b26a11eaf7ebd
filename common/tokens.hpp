#pragma once
// The token file: one "<token> <role> [<name>]" per line, '#' comments. Roles: admin, member,
// agent. Read once at start; a restart picks up changes.
#include <optional>
#include <string>
#include <unordered_map>

namespace ferry {

enum class Role { kAdmin, kMember, kAgent };

struct Principal {
  Role role;
  std::string name;
};

class TokenTable {
 public:
  static TokenTable LoadFile(const std::string& path);  // throws std::runtime_error
  void Add(const std::string& token, Principal p) { tokens_[token] = std::move(p); }
  std::optional<Principal> Find(const std::string& token) const;

 private:
  std::unordered_map<std::string, Principal> tokens_;
};

}  // namespace ferry
