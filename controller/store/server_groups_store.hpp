#pragma once
// Server groups (Nova's os-server-groups) and their members. A server is in at most one group.
#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "common/clock.hpp"

namespace ferry::controller::store {

class Tx;

struct ServerGroup {
  int64_t id = 0;
  std::string uuid;
  std::string name;
  std::string policy;  // affinity | anti-affinity | soft-affinity | soft-anti-affinity
  nlohmann::json rules = nlohmann::json::object();  // 2.64: {"max_server_per_host": N}
  std::string user_id;
  std::string project_id;
  TimePoint created_at;
  std::vector<std::string> members;  // server uuids
};

ServerGroup InsertServerGroup(Tx& tx, const ServerGroup& group);
std::optional<ServerGroup> FindServerGroup(Tx& tx, const std::string& uuid);
// Locks the group row until the transaction ends, so concurrent creates into one group are
// scheduled one after the other and cannot both pick the same host.
std::optional<ServerGroup> LockServerGroup(Tx& tx, const std::string& uuid);
// project_id nullopt = every project (admin all_projects); ordered by creation.
std::vector<ServerGroup> ListServerGroups(Tx& tx, const std::optional<std::string>& project_id,
                                          int64_t limit, int64_t offset);
bool DeleteServerGroup(Tx& tx, const std::string& uuid);

void AddServerGroupMember(Tx& tx, int64_t group_id, const std::string& server_uuid);
void RemoveServerGroupMember(Tx& tx, const std::string& server_uuid);
std::optional<ServerGroup> FindServerGroupOfServer(Tx& tx, const std::string& server_uuid);

// Host name -> how many members of the group are there (or arriving there by a live migration
// in flight), leaving out `except_server`.
std::vector<std::pair<std::string, int>> GroupMemberHosts(Tx& tx, int64_t group_id,
                                                          const std::string& except_server);

// For moves: the hosts a member of a hard anti-affinity group must avoid, i.e. hosts already
// holding max_server_per_host (default 1) other members. Empty for any other policy or no group.
std::set<std::string> AntiAffinityHosts(Tx& tx, const std::string& server_uuid);
// The same rule from a group and its member hosts (used at create, before the server exists).
std::set<std::string> AntiAffinityHostsOf(const ServerGroup& group,
                                          const std::vector<std::pair<std::string, int>>& hosts);

}  // namespace ferry::controller::store
