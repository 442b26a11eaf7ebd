#pragma once
// Live migration as a kind of move on the move engine (controller/moves): its state table is
// controller/conductor/live_migration_states.hpp, its steps are Steps.
#include <string>
#include <string_view>

#include "controller/live_migration/context.hpp"
#include "controller/live_migration/steps.hpp"
#include "controller/moves/move_kind.hpp"

namespace ferry::controller::live_migration {

// migrations.migration_type of a live migration (Nova's).
inline constexpr std::string_view kType = "live-migration";

class Kind final : public moves::MoveKind {
 public:
  explicit Kind(const Context& ctx) : ctx_(ctx), steps_(ctx) {}

  std::string_view type() const override { return kType; }
  // Throws for a record no step can read (its policy not a JSON object), which the
  // engine counts against its retry budget.
  moves::StepOutcome Step(const std::string& uuid) override;
  bool Admit(store::Tx& tx, const std::string& uuid) override;
  void Admitted(const std::string& uuid) override { steps_.Admitted(uuid); }
  void GiveUp(const std::string& uuid, const std::string& reason) override;

  Steps& steps() { return steps_; }

 private:
  const Context& ctx_;
  Steps steps_;
};

}  // namespace ferry::controller::live_migration
