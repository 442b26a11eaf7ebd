#pragma once
// Cold migration and resize as kinds of move on the move engine (controller/moves): their state
// table is states.hpp, their steps are Steps. One Kind per migration_type ("migration",
// "resize"), sharing one Steps: the two differ only in what the request asked.
#include <string>
#include <string_view>

#include "controller/cold_migration/context.hpp"
#include "controller/cold_migration/steps.hpp"
#include "controller/moves/move_kind.hpp"
#include "controller/store/cold_migrations_store.hpp"

namespace ferry::controller::cold_migration {

class Kind final : public moves::MoveKind {
 public:
  Kind(const Context& ctx, Steps& steps, store::ColdType type)
      : ctx_(ctx), steps_(steps), type_(type) {}

  std::string_view type() const override { return store::ToString(type_); }
  moves::StepOutcome Step(const std::string& uuid) override;
  bool Admit(store::Tx& tx, const std::string& uuid) override { return steps_.Admit(tx, uuid); }
  void Admitted(const std::string& uuid) override { steps_.Admitted(uuid); }
  void GiveUp(const std::string& uuid, const std::string& reason) override;

 private:
  const Context& ctx_;
  Steps& steps_;
  store::ColdType type_;
};

}  // namespace ferry::controller::cold_migration
