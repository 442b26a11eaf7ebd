#pragma once
// Drives live migrations. Every non-terminal live migration is leased to one controller
// (migrations.lease_owner / lease_until); only the lease owner changes it, and every write it
// makes checks the lease (fencing), so two controllers on one database never drive the same
// migration. Each tick renews this controller's leases, takes over migrations whose lease
// expired (a crashed controller's), and looks at every migration it drives; another thread
// admits queued migrations to free slots; workers run one step at a time per migration.
#include <condition_variable>
#include <deque>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "controller/live_migration/context.hpp"
#include "controller/live_migration/steps.hpp"

namespace ferry::controller::live_migration {

class Engine {
 public:
  explicit Engine(const Context& ctx);
  // Leases renewed and taken over through `lease_db`, a pool of its own: API requests that
  // starve the shared pool must not let this controller's leases lapse.
  Engine(const Context& ctx, store::Database& lease_db);
  ~Engine();

  void Start();
  void Stop();

  // Look at this migration soon (API request, progress report, abort).
  void Wake(const std::string& uuid);
  // One tick: RenewLeases, then AdmitQueued (each also runs on a thread of its own).
  void Tick();
  // Renews this controller's leases and takes over lapsed ones, on `lease_db` only, and wakes
  // the migrations it holds.
  void RenewLeases();
  // Admits queued migrations to free slots (the shared pool).
  void AdmitQueued();

  const std::string& owner() const { return ctx_.options.owner; }
  Steps& steps() { return steps_; }

 private:
  void WorkerLoop();
  // Runs `tick` every ctx_.options.tick until Stop.
  void TickLoop(void (Engine::*tick)(), const char* what);
  void Drive(const std::string& uuid);

  const Context& ctx_;
  store::Database& lease_db_;
  Steps steps_;
  std::mutex mu_;
  std::condition_variable cv_;       // workers: the queue has work (or stop)
  std::condition_variable tick_cv_;  // the tickers: stop. Its own, so notify_one on cv_ always
                                     // reaches a worker instead of being swallowed here.
  std::deque<std::string> queue_;
  std::set<std::string> queued_or_running_;  // one worker per migration at a time
  std::set<std::string> rerun_;              // woken again while its worker ran
  bool stop_ = false;
  std::vector<std::thread> workers_;
  // Two tickers: admission waits for the shared pool, which API requests may hold for
  // seconds; lease renewal must never wait behind it (db_starvation_test).
  std::thread lease_ticker_;
  std::thread admission_ticker_;
};

}  // namespace ferry::controller::live_migration
