#include "controller/store/reap_store.hpp"

#include "controller/store/claims_store.hpp"
#include "controller/store/row.hpp"
#include "controller/store/tx.hpp"

namespace ferry::controller::store {
namespace {

constexpr Statement kRecord{"reap_record", R"sql(
INSERT INTO domains_to_reap (server_uuid, host_id, deleted_at) VALUES ($1, $2, to_timestamp($3))
ON CONFLICT (server_uuid) DO NOTHING)sql"};

constexpr Statement kFind{"reap_find", R"sql(
SELECT r.server_uuid::text, r.host_id, h.name, h.agent_url, h.state = 'up' AND NOT h.forced_down,
       extract(epoch FROM r.deleted_at)
FROM domains_to_reap r JOIN hosts h ON h.id = r.host_id
WHERE r.server_uuid = $1)sql"};

constexpr Statement kListAll{"reap_list_all", R"sql(
SELECT r.server_uuid::text, r.host_id, h.name, h.agent_url, h.state = 'up' AND NOT h.forced_down,
       extract(epoch FROM r.deleted_at)
FROM domains_to_reap r JOIN hosts h ON h.id = r.host_id
ORDER BY r.deleted_at, r.server_uuid)sql"};

constexpr Statement kListUp{"reap_list_up", R"sql(
SELECT r.server_uuid::text, r.host_id, h.name, h.agent_url, true, extract(epoch FROM r.deleted_at)
FROM domains_to_reap r JOIN hosts h ON h.id = r.host_id
WHERE h.state = 'up' AND NOT h.forced_down
ORDER BY r.deleted_at, r.server_uuid
LIMIT $1)sql"};

constexpr Statement kForget{"reap_forget", "DELETE FROM domains_to_reap WHERE server_uuid = $1"};

DomainToReap FromRow(const pqxx::row& row) {
  return {row[0].as<std::string>(), row[1].as<int64_t>(), row[2].as<std::string>(),
          row[3].as<std::string>(), row[4].as<bool>(),    ToTime(row[5])};
}

}  // namespace

void RecordDomainToReap(Tx& tx, const std::string& server_uuid, int64_t host_id, TimePoint now) {
  tx.Exec(kRecord, server_uuid, host_id, EpochSeconds(now));
}

std::optional<DomainToReap> FindDomainToReap(Tx& tx, const std::string& server_uuid) {
  auto rows = tx.Exec(kFind, server_uuid);
  if (rows.empty()) return std::nullopt;
  return FromRow(rows[0]);
}

std::vector<DomainToReap> ListDomainsToReap(Tx& tx) {
  std::vector<DomainToReap> out;
  for (const auto& row : tx.Exec(kListAll)) out.push_back(FromRow(row));
  return out;
}

std::vector<DomainToReap> ListDomainsToReapOnUpHosts(Tx& tx, int limit) {
  std::vector<DomainToReap> out;
  for (const auto& row : tx.Exec(kListUp, limit)) out.push_back(FromRow(row));
  return out;
}

void FinishReap(Tx& tx, const std::string& server_uuid) {
  tx.Exec(kForget, server_uuid);
  ReleaseClaims(tx, server_uuid);
}

}  // namespace ferry::controller::store
