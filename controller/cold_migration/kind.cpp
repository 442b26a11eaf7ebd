#include "controller/cold_migration/kind.hpp"

#include <spdlog/spdlog.h>

#include "common/errors.hpp"

namespace ferry::controller::cold_migration {
namespace {

std::optional<store::ColdMigration> Load(const Context& ctx, const std::string& uuid) {
  std::optional<store::ColdMigration> m;
  ctx.db.Transact([&](store::Tx& tx) { m = store::FindColdMigration(tx, uuid); });
  return m;
}

}  // namespace

moves::StepOutcome Kind::Step(const std::string& uuid) {
  auto m = Load(ctx_, uuid);
  if (!m || m->lease_owner != ctx_.engine.owner) return {};
  if (!m->unreadable.empty()) throw Error(Errc::kInternal, "unreadable record: " + m->unreadable);
  const auto before = m->status;
  const auto result = steps_.Run(*m);
  spdlog::debug("cold migration {}: {} step ran, now {} ({})", uuid, before, m->status,
                store::ToString(m->step));
  // Queued: it waits for a slot. Past the slot statuses, or ended: it may have freed one.
  const bool slots_changed = m->status != before && (m->status == store::MigrationStatus::kQueued ||
                                                     store::FlagsOf(before).occupies_slot !=
                                                         store::FlagsOf(m->status).occupies_slot);
  return {result, slots_changed, m->step_failures > 0};
}

void Kind::GiveUp(const std::string& uuid, const std::string& reason) {
  auto m = Load(ctx_, uuid);
  if (m) steps_.GiveUp(*m, reason);
}

}  // namespace ferry::controller::cold_migration
