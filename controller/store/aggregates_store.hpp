#pragma once
// Host aggregates and their metadata. The availability zone is the metadata key
// "availability_zone", as in Nova.
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "controller/store/models.hpp"

namespace ferry::controller::store {

class Tx;

std::vector<Aggregate> ListAggregates(Tx& tx);
// By integer id or uuid.
std::optional<Aggregate> FindAggregate(Tx& tx, const std::string& id_or_uuid);
// Throws ferry::Error(kConflict) if the name is taken.
Aggregate CreateAggregate(Tx& tx, const std::string& name, const std::optional<std::string>& az,
                          TimePoint now);
void RenameAggregate(Tx& tx, int64_t id, const std::string& name, TimePoint now);
void DeleteAggregate(Tx& tx, int64_t id);
void AddAggregateHost(Tx& tx, int64_t aggregate_id, int64_t host_id, TimePoint now);
void RemoveAggregateHost(Tx& tx, int64_t aggregate_id, int64_t host_id, TimePoint now);
// A nullopt value deletes the key.
void SetAggregateMetadata(Tx& tx, int64_t aggregate_id,
                          const std::map<std::string, std::optional<std::string>>& changes,
                          TimePoint now);
// The zones the host is in through its aggregates other than `except_aggregate_id` (0 = all);
// empty means the default zone.
std::vector<std::string> HostZones(Tx& tx, int64_t host_id, int64_t except_aggregate_id = 0);

}  // namespace ferry::controller::store
