#include "controller/evacuation/kind.hpp"

#include <spdlog/spdlog.h>

#include "common/errors.hpp"

namespace ferry::controller::evacuation {
namespace {

std::optional<store::Evacuation> Load(const Context& ctx, const std::string& uuid) {
  std::optional<store::Evacuation> e;
  ctx.db.Transact([&](store::Tx& tx) { e = store::FindEvacuation(tx, uuid); });
  return e;
}

}  // namespace

moves::StepOutcome Kind::Step(const std::string& uuid) {
  auto e = Load(ctx_, uuid);
  if (!e || e->lease_owner != ctx_.engine.owner) return {};
  if (!e->unreadable.empty()) throw Error(Errc::kInternal, "unreadable record: " + e->unreadable);
  const auto before = e->status;
  const auto result = steps_.Run(*e);
  spdlog::debug("evacuation {}: {} step ran, now {} ({})", uuid, before, e->status,
                store::ToString(e->step));
  const bool slots_changed = e->status != before && (e->status == store::MigrationStatus::kQueued ||
                                                     store::FlagsOf(before).occupies_slot !=
                                                         store::FlagsOf(e->status).occupies_slot);
  return {result, slots_changed, e->step_failures > 0};
}

void Kind::GiveUp(const std::string& uuid, const std::string& reason) {
  auto e = Load(ctx_, uuid);
  if (e) steps_.GiveUp(*e, reason);
}

}  // namespace ferry::controller::evacuation
