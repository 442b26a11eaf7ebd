#pragma once
// Evacuation as a kind of move on the move engine (controller/moves): its state table is
// states.hpp, its steps are Steps.
#include <string>
#include <string_view>

#include "controller/evacuation/context.hpp"
#include "controller/evacuation/steps.hpp"
#include "controller/moves/move_kind.hpp"

namespace ferry::controller::evacuation {

class Kind final : public moves::MoveKind {
 public:
  Kind(const Context& ctx, Steps& steps) : ctx_(ctx), steps_(steps) {}

  std::string_view type() const override { return "evacuation"; }
  moves::StepOutcome Step(const std::string& uuid) override;
  bool Admit(store::Tx& tx, const std::string& uuid) override { return steps_.Admit(tx, uuid); }
  void Admitted(const std::string& uuid) override { steps_.Admitted(uuid); }
  void GiveUp(const std::string& uuid, const std::string& reason) override;

 private:
  const Context& ctx_;
  Steps& steps_;
};

}  // namespace ferry::controller::evacuation
