#include "controller/live_migration/kind.hpp"

#include <spdlog/spdlog.h>

#include "common/errors.hpp"
#include "controller/store/live_migrations_store.hpp"

namespace ferry::controller::live_migration {
namespace {

std::optional<store::LiveMigration> Load(const Context& ctx, const std::string& uuid) {
  std::optional<store::LiveMigration> m;
  ctx.db.Transact([&](store::Tx& tx) { m = store::FindLiveMigration(tx, uuid); });
  return m;
}

// The policy is JSON resolved once at acceptance; everything else the steps read is typed.
void RequireReadable(const store::LiveMigration& m) {
  if (!m.policy.is_object()) {
    throw Error(Errc::kInternal, "unreadable record: policy is not a JSON object");
  }
}

const char* Describe(StepResult r) {
  switch (r) {
    case StepResult::kAgain:
      return "again";
    case StepResult::kWait:
      return "wait";
    case StepResult::kDone:
      return "done";
  }
  return "?";
}

}  // namespace

moves::StepOutcome Kind::Step(const std::string& uuid) {
  auto m = Load(ctx_, uuid);
  if (!m || m->lease_owner != ctx_.engine.owner) return {};
  RequireReadable(*m);
  const auto before = m->status;
  const auto result = steps_.Run(*m);
  spdlog::debug("live migration {}: {} step ran, now {} ({})", uuid, before, m->status,
                Describe(result));
  // Queued: it waits for a slot. Ended (done after a status change): it may have freed one.
  const bool slots_changed = m->status != before && (m->status == store::MigrationStatus::kQueued ||
                                                     result == StepResult::kDone);
  return {result, slots_changed, m->step_failures > 0};
}

bool Kind::Admit(store::Tx& tx, const std::string& uuid) { return steps_.Admit(tx, uuid); }

void Kind::GiveUp(const std::string& uuid, const std::string& reason) {
  auto m = Load(ctx_, uuid);
  if (m) steps_.GiveUp(*m, reason);
}

}  // namespace ferry::controller::live_migration
