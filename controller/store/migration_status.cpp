#include "controller/store/migration_status.hpp"

#include <stdexcept>
#include <string>

namespace ferry::controller::store {
namespace {

constexpr bool InEnumOrder() {
  for (size_t i = 0; i < kAllMigrationStatuses.size(); ++i) {
    if (static_cast<size_t>(kAllMigrationStatuses[i]) != i || detail::kStatusRows[i].name.empty())
      return false;
  }
  return true;
}
static_assert(InEnumOrder());

// A status has an outcome exactly when it is terminal (the seed's CHECK, 0014).
constexpr bool OutcomeIffTerminal() {
  for (const auto& row : detail::kStatusRows) {
    if ((row.outcome != StatusOutcome::kNone) != row.flags.is_terminal) return false;
  }
  return true;
}
static_assert(OutcomeIffTerminal());

}  // namespace

std::optional<MigrationStatus> ParseMigrationStatus(std::string_view s) {
  for (auto status : kAllMigrationStatuses) {
    if (ToString(status) == s) return status;
  }
  return std::nullopt;
}

void to_json(nlohmann::json& j, MigrationStatus s) { j = std::string(ToString(s)); }

void from_json(const nlohmann::json& j, MigrationStatus& s) {
  auto parsed = ParseMigrationStatus(j.get<std::string>());
  if (!parsed) throw std::invalid_argument("not a migration status: " + j.dump());
  s = *parsed;
}

}  // namespace ferry::controller::store
