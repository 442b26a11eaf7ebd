#include "controller/store/server_groups_store.hpp"

#include "controller/store/row.hpp"
#include "controller/store/status_lists.hpp"
#include "controller/store/tx.hpp"

namespace ferry::controller::store {
namespace {

#define FERRY_GROUP_COLUMNS                                                               \
  "g.id, g.uuid::text, g.name, g.policy, g.rules::text, g.user_id, g.project_id, "        \
  "extract(epoch from g.created_at)::float8, "                                            \
  "(SELECT coalesce(jsonb_agg(m.server_uuid::text ORDER BY m.server_uuid), '[]'::jsonb) " \
  "FROM server_group_members m WHERE m.group_id = g.id)::text "

constexpr Statement kInsert{"server_groups_insert", R"sql(
INSERT INTO server_groups (uuid, name, policy, rules, user_id, project_id, created_at)
VALUES ($1::uuid, $2, $3, $4::jsonb, $5, $6, to_timestamp($7)) RETURNING id)sql"};

constexpr Statement kFind{"server_groups_find", "SELECT " FERRY_GROUP_COLUMNS
                                                "FROM server_groups g WHERE g.uuid = $1::uuid"};

constexpr Statement kLock{"server_groups_lock",
                          "SELECT " FERRY_GROUP_COLUMNS
                          "FROM server_groups g WHERE g.uuid = $1::uuid FOR UPDATE"};

constexpr Statement kList{"server_groups_list", "SELECT " FERRY_GROUP_COLUMNS R"sql(
FROM server_groups g WHERE ($1::text IS NULL OR g.project_id = $1)
ORDER BY g.created_at, g.id LIMIT $2 OFFSET $3)sql"};

constexpr Statement kDelete{"server_groups_delete",
                            "DELETE FROM server_groups WHERE uuid = $1::uuid RETURNING id"};

constexpr Statement kAddMember{
    "server_group_members_add",
    "INSERT INTO server_group_members (group_id, server_uuid) VALUES ($1, $2::uuid)"};

constexpr Statement kRemoveMember{"server_group_members_remove",
                                  "DELETE FROM server_group_members WHERE server_uuid = $1::uuid"};

constexpr Statement kGroupOfServer{"server_groups_of_server", "SELECT " FERRY_GROUP_COLUMNS R"sql(
FROM server_groups g JOIN server_group_members sm ON sm.group_id = g.id
WHERE sm.server_uuid = $1::uuid)sql"};

// Where the other members are, and where the ones moving (any kind of move) are going.
constexpr Statement kMemberHosts{"server_group_member_hosts", R"sql(
SELECT host, count(*)::int FROM (
  SELECT h.name AS host FROM server_group_members m
  JOIN servers s ON s.uuid = m.server_uuid JOIN hosts h ON h.id = s.host_id
  WHERE m.group_id = $1 AND m.server_uuid <> $2::uuid
  UNION ALL
  SELECT mg.dest_compute FROM server_group_members m
  JOIN migrations mg ON mg.instance_uuid = m.server_uuid
  WHERE m.group_id = $1 AND m.server_uuid <> $2::uuid AND mg.dest_compute IS NOT NULL
    AND mg.status IN )sql" FERRY_SQL_HEADS_TO_DESTINATION_STATUSES R"sql(
) member_hosts GROUP BY host ORDER BY host)sql"};

ServerGroup GroupFromRow(const pqxx::row& r) {
  ServerGroup g;
  g.id = r[0].as<int64_t>();
  g.uuid = r[1].as<std::string>();
  g.name = r[2].as<std::string>();
  g.policy = r[3].as<std::string>();
  g.rules = ToJson(r[4]);
  g.user_id = r[5].as<std::string>();
  g.project_id = r[6].as<std::string>();
  g.created_at = ToTime(r[7]);
  for (const auto& m : ToJson(r[8])) g.members.push_back(m.get<std::string>());
  return g;
}

std::optional<ServerGroup> FirstGroup(const pqxx::result& r) {
  if (r.empty()) return std::nullopt;
  return GroupFromRow(r[0]);
}

// A uuid that cannot exist, for "leave nobody out".
constexpr const char* kNoServer = "00000000-0000-0000-0000-000000000000";

}  // namespace

ServerGroup InsertServerGroup(Tx& tx, const ServerGroup& group) {
  ServerGroup g = group;
  g.id = tx.Exec(kInsert, g.uuid, g.name, g.policy, g.rules.dump(), g.user_id, g.project_id,
                 EpochSeconds(g.created_at))[0][0]
             .as<int64_t>();
  return g;
}

std::optional<ServerGroup> FindServerGroup(Tx& tx, const std::string& uuid) {
  return FirstGroup(tx.Exec(kFind, uuid));
}

std::optional<ServerGroup> LockServerGroup(Tx& tx, const std::string& uuid) {
  return FirstGroup(tx.Exec(kLock, uuid));
}

std::vector<ServerGroup> ListServerGroups(Tx& tx, const std::optional<std::string>& project_id,
                                          int64_t limit, int64_t offset) {
  std::vector<ServerGroup> out;
  for (const auto& r : tx.Exec(kList, project_id, limit, offset)) out.push_back(GroupFromRow(r));
  return out;
}

bool DeleteServerGroup(Tx& tx, const std::string& uuid) { return !tx.Exec(kDelete, uuid).empty(); }

void AddServerGroupMember(Tx& tx, int64_t group_id, const std::string& server_uuid) {
  tx.Exec(kAddMember, group_id, server_uuid);
}

void RemoveServerGroupMember(Tx& tx, const std::string& server_uuid) {
  tx.Exec(kRemoveMember, server_uuid);
}

std::optional<ServerGroup> FindServerGroupOfServer(Tx& tx, const std::string& server_uuid) {
  return FirstGroup(tx.Exec(kGroupOfServer, server_uuid));
}

std::vector<std::pair<std::string, int>> GroupMemberHosts(Tx& tx, int64_t group_id,
                                                          const std::string& except_server) {
  std::vector<std::pair<std::string, int>> out;
  for (const auto& r : tx.Exec(kMemberHosts, group_id,
                               except_server.empty() ? std::string(kNoServer) : except_server)) {
    out.emplace_back(r[0].as<std::string>(), r[1].as<int>());
  }
  return out;
}

std::set<std::string> AntiAffinityHostsOf(const ServerGroup& group,
                                          const std::vector<std::pair<std::string, int>>& hosts) {
  std::set<std::string> out;
  if (group.policy != "anti-affinity") return out;  // soft-anti-affinity only weighs (Nova)
  int max_per_host = 1;  // 1: Nova's default when the 2.64 rule is absent
  if (group.rules.is_object() && group.rules.contains("max_server_per_host") &&
      group.rules["max_server_per_host"].is_number_integer()) {
    max_per_host = group.rules["max_server_per_host"].get<int>();
  }
  for (const auto& [host, members] : hosts) {
    if (members >= max_per_host) out.insert(host);
  }
  return out;
}

std::set<std::string> AntiAffinityHosts(Tx& tx, const std::string& server_uuid) {
  auto group = FindServerGroupOfServer(tx, server_uuid);
  if (!group) return {};
  return AntiAffinityHostsOf(*group, GroupMemberHosts(tx, group->id, server_uuid));
}

}  // namespace ferry::controller::store
