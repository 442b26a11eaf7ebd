#pragma once
// Small helpers shared by the SimDriver's source and destination halves of live migration.
#include <algorithm>
#include <cctype>
#include <string>

#include "api/wire/live_migration_messages.hpp"
#include "common/errors.hpp"
#include "common/uuid.hpp"

namespace ferry::agent::sim::lm {

inline std::string Lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

inline void ValidateSpec(const wire::LiveMigrationSpec& spec) {
  if (!IsUuid(spec.migration_uuid)) {
    throw Error(Errc::kBadRequest, "migration_uuid '" + spec.migration_uuid + "' is not a uuid");
  }
  if (!IsUuid(spec.domain.uuid)) {
    throw Error(Errc::kBadRequest, "domain uuid '" + spec.domain.uuid + "' is not a uuid");
  }
}

}  // namespace ferry::agent::sim::lm
