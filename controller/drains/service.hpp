#pragma once
// What the API asks of host drains: plan one (a dry run changes nothing), start one (or attach
// to the host's running drain, or to the drain an Idempotency-Key started: a cron re-run is not
// a second drain), read them, and pause, resume or cancel one.
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "controller/drains/context.hpp"
#include "controller/drains/planner.hpp"
#include "controller/drains/states.hpp"
#include "controller/store/drains_store.hpp"

namespace ferry::controller::drains {

struct DrainRequest {
  std::string host;
  std::string mode = "auto";
  int max_parallel = 2;
  bool dry_run = false;
  std::vector<std::string> target_hosts;
  std::optional<TimePoint> deadline;
  std::optional<std::string> idempotency_key;
  std::string user_id;
  std::string project_id;
};

struct DrainAnswer {
  store::Drain drain;    // a dry run's is not stored (id empty, status "planned")
  bool created = false;  // false: a dry run, or attached to an existing drain
};

class Service {
 public:
  explicit Service(const Context& ctx) : ctx_(ctx) {}

  DrainAnswer Request(const DrainRequest& r);
  store::Drain Get(const std::string& uuid) const;  // 404 when unknown
  std::vector<store::Drain> List() const;
  // "pause" (running), "resume" (paused), "cancel" (running or paused); 409 otherwise.
  store::Drain Act(const std::string& uuid, const std::string& action);

  // The plan of draining `host` now, as a drain row with its servers (not stored).
  store::Drain PlanOf(const DrainRequest& r) const;

  // Called after a drain was stored or asked to change (the runner looks at once instead of at
  // its next tick).
  void OnChanged(std::function<void()> fn) { on_changed_ = std::move(fn); }
  // Told after each transition of a drain's status it commits (pause, resume, cancel).
  void OnTransition(TransitionHook hook) { on_transition_ = std::move(hook); }

 private:
  const Context& ctx_;
  std::function<void()> on_changed_;
  TransitionHook on_transition_;
};

}  // namespace ferry::controller::drains
