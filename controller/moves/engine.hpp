#pragma once
// Drives every move of every kind. Each non-terminal move is leased to one controller
// (migrations.lease_owner / lease_until / lease_epoch); only the lease owner changes it, and
// every write it makes checks the lease (fencing), so two controllers on one database never
// drive the same move. One ticker renews this controller's leases and takes over moves whose
// lease expired (a crashed controller's), waking each; another admits queued moves of every
// kind to free slots in fair order; workers run one move's steps at a time. A step that keeps
// throwing ends its move in error after the retry budget; a database outage fails nothing.
#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "controller/moves/engine_options.hpp"
#include "controller/moves/move_kind.hpp"
#include "controller/store/database.hpp"
#include "controller/store/moves_store.hpp"

namespace ferry::controller::moves {

class Engine {
 public:
  // Leases are renewed and taken over through `lease_db`, a pool of its own: API requests that
  // starve the shared pool `db` must not let this controller's leases lapse.
  Engine(const EngineOptions& options, store::Database& db, store::Database& lease_db);
  ~Engine();
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  // Every kind this controller drives, before Start. Moves of other kinds are never leased.
  void AddKind(MoveKind& kind);
  void Start();
  void Stop();

  // Look at this move soon (API request, progress report, abort).
  void Wake(const store::MoveRef& move);
  // One tick: RenewLeases, then AdmitQueued (each also runs on a thread of its own).
  void Tick();
  // Renews this controller's leases and takes over lapsed ones, on `lease_db` only, and wakes
  // the moves it holds.
  void RenewLeases();
  // Admits queued moves of every kind to free slots (the shared pool), and wakes them.
  void AdmitQueued();

  const std::string& owner() const { return options_.owner; }
  const EngineOptions& options() const { return options_; }

 private:
  // A slot freed or a move queued: the admission thread runs a pass at once. Requests made
  // while a pass runs join the next one, so a burst of N moves costs a few passes over the
  // queue, not N (each pass reads every queued move).
  void AdmitSoon();
  void WorkerLoop();
  // Runs `tick` every options_.tick until Stop.
  void TickLoop(void (Engine::*tick)(), const char* what);
  void Drive(const store::MoveRef& move);
  // A step threw: counted against the budget unless the database is what failed.
  void StepFailed(MoveKind& kind, const store::MoveRef& move, const std::exception& e);
  MoveKind* KindOf(const std::string& type) const;

  const EngineOptions& options_;
  store::Database& db_;
  store::Database& lease_db_;
  std::map<std::string, MoveKind*, std::less<>> kinds_;
  std::vector<std::string> types_;

  std::mutex mu_;
  std::condition_variable cv_;       // workers: the queue has work (or stop)
  std::condition_variable tick_cv_;  // the tickers: stop. Its own, so notify_one on cv_ always
                                     // reaches a worker instead of being swallowed here.
  std::deque<store::MoveRef> queue_;
  std::set<std::string> queued_or_running_;  // uuids: one worker per move at a time
  std::set<std::string> rerun_;              // woken again while its worker ran
  bool stop_ = false;
  bool admit_soon_ = false;  // AdmitSoon asked for a pass
  std::vector<std::thread> workers_;
  // Two tickers: admission waits for the shared pool, which API requests may hold for
  // seconds; lease renewal must never wait behind it (db_starvation_test).
  std::thread lease_ticker_;
  std::thread admission_ticker_;
};

// "live-migration" -> "live migration": how logs name a move of that type.
std::string Describe(const std::string& type);

}  // namespace ferry::controller::moves
