#pragma once
// Drives every running drain this controller holds the lease of (a crashed controller's drains
// are taken over when their lease lapses), once a tick: it reads what became of each server's
// move, retries a failed one once (re-planned as the plan was made, without the host it failed
// on, so a destination that stopped fitting is replaced), waits for a server busy with a task of
// its own, confirms a cold move's resize so
// the host really empties, starts pending servers in plan order up to max_parallel, and ends the
// drain done, partial, failed or cancelled. Every move goes through the same services as an
// admin's request (Nova's checks, the engine's fair queue, in the drain's own turn).
#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>

#include "controller/cold_migration/service.hpp"
#include "controller/drains/context.hpp"
#include "controller/drains/states.hpp"
#include "controller/evacuation/service.hpp"
#include "controller/live_migration/service.hpp"
#include "controller/store/drains_store.hpp"

namespace ferry::controller::drains {

// Moves started for one server before it is given up: the first, and one retry.
inline constexpr int kMaxAttemptsPerServer = 2;

class Runner {
 public:
  Runner(const Context& ctx, live_migration::Service& live, cold_migration::Service& cold,
         evacuation::Service& evacuations)
      : ctx_(ctx), live_(live), cold_(cold), evacuations_(evacuations) {}
  ~Runner() { Stop(); }
  Runner(const Runner&) = delete;
  Runner& operator=(const Runner&) = delete;

  void Start();
  void Stop();
  // One pass over the drains this controller holds (tests call it directly).
  void Tick();
  // A move changed status: a pass runs now rather than at the next tick (passes asked for
  // while one runs join the next).
  void Poke();
  // Told after each transition this runner commits (a server's, or the drain's end).
  void OnTransition(TransitionHook hook) { on_transition_ = std::move(hook); }

 private:
  void Drive(const std::string& uuid);
  // What became of a moving server's move (its row is saved when it changed).
  void Follow(store::Drain& d, store::DrainServer& s);
  // Starts the server's next move, or ends it (its row says why).
  void StartMove(store::Drain& d, store::DrainServer& s);
  // A new destination for a server whose move failed, or kConflict with why none fits.
  std::string Replan(const store::Drain& d, const store::DrainServer& s);
  void AbortQueued(const store::DrainServer& s, const store::MoveOutcome& o);
  // Its move (or its request, `event`) failed: pending once more, or failed.
  void Failed(const store::Drain& d, store::DrainServer& s, const std::string& reason,
              std::string_view event);
  // The server's state becomes `to` (its other fields already set) and is saved under the lease.
  void Enter(const store::Drain& d, store::DrainServer& s, std::string_view to,
             std::string_view event);
  void Save(const store::Drain& d, const store::DrainServer& s);
  void Finish(const store::Drain& d);

  const Context& ctx_;
  live_migration::Service& live_;
  cold_migration::Service& cold_;
  evacuation::Service& evacuations_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  bool poked_ = false;
  std::thread thread_;
  TransitionHook on_transition_;
};

}  // namespace ferry::controller::drains
