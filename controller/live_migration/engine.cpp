#include "controller/live_migration/engine.hpp"

#include <spdlog/spdlog.h>

#include "controller/store/live_migrations_store.hpp"

namespace ferry::controller::live_migration {

Engine::Engine(const Context& ctx) : Engine(ctx, ctx.db) {}
Engine::Engine(const Context& ctx, store::Database& lease_db)
    : ctx_(ctx), lease_db_(lease_db), steps_(ctx) {}

Engine::~Engine() { Stop(); }

void Engine::Start() {
  for (int i = 0; i < ctx_.options.workers; ++i) workers_.emplace_back([this] { WorkerLoop(); });
  lease_ticker_ = std::thread([this] { TickLoop(&Engine::RenewLeases, "lease renewal"); });
  admission_ticker_ = std::thread([this] { TickLoop(&Engine::AdmitQueued, "admission"); });
}

void Engine::Stop() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  tick_cv_.notify_all();
  for (auto& t : workers_) {
    if (t.joinable()) t.join();
  }
  workers_.clear();
  if (lease_ticker_.joinable()) lease_ticker_.join();
  if (admission_ticker_.joinable()) admission_ticker_.join();
}

void Engine::Wake(const std::string& uuid) {
  {
    std::lock_guard lock(mu_);
    if (stop_) return;
    if (!queued_or_running_.insert(uuid).second) {
      rerun_.insert(uuid);
      return;
    }
    queue_.push_back(uuid);
  }
  cv_.notify_one();
}

void Engine::Tick() {
  RenewLeases();
  AdmitQueued();
}

void Engine::RenewLeases() {
  std::vector<std::string> mine;
  lease_db_.Transact([&](store::Tx& tx) {
    mine = store::RenewLeases(tx, owner(), ctx_.options.lease);
    for (auto& uuid : store::AcquireLeases(tx, owner(), ctx_.options.lease, 100)) {
      spdlog::info("live migration {}: lease taken by {}", uuid, owner());
      mine.push_back(std::move(uuid));
    }
  });
  for (const auto& uuid : mine) Wake(uuid);
}

void Engine::AdmitQueued() {
  for (const auto& uuid : steps_.AdmitQueued()) Wake(uuid);
}

void Engine::TickLoop(void (Engine::*tick)(), const char* what) {
  std::unique_lock lock(mu_);
  while (!stop_) {
    lock.unlock();
    try {
      (this->*tick)();
    } catch (const std::exception& e) {
      spdlog::warn("live migration {} failed: {}", what, e.what());
    }
    lock.lock();
    tick_cv_.wait_for(lock, ctx_.options.tick, [this] { return stop_; });
  }
}

void Engine::WorkerLoop() {
  std::unique_lock lock(mu_);
  while (true) {
    cv_.wait(lock, [this] { return stop_ || !queue_.empty(); });
    if (stop_) return;
    auto uuid = queue_.front();
    queue_.pop_front();
    lock.unlock();
    Drive(uuid);
    lock.lock();
    queued_or_running_.erase(uuid);
    if (rerun_.erase(uuid) && !stop_) {
      queued_or_running_.insert(uuid);
      queue_.push_back(uuid);
      cv_.notify_one();
    }
  }
}

void Engine::Drive(const std::string& uuid) {
  // Bounded so one migration cannot monopolise a worker; the next tick continues it.
  for (int step = 0; step < 20; ++step) {
    StepResult result = StepResult::kDone;
    try {
      std::optional<store::LiveMigration> m;
      ctx_.db.Transact([&](store::Tx& tx) { m = store::FindLiveMigration(tx, uuid); });
      if (!m) return;
      const auto before = m->status;
      result = steps_.Run(*m);
      spdlog::debug("live migration {}: {} step ran, now {} ({})", uuid, before, m->status,
                    result == StepResult::kAgain  ? "again"
                    : result == StepResult::kWait ? "wait"
                                                  : "done");
      // A slot freed (or a migration queued): admit without waiting for the tick.
      if (m->status != before && (m->status == "queued" || result == StepResult::kDone)) {
        for (const auto& admitted : steps_.AdmitQueued()) {
          if (admitted != uuid) Wake(admitted);
        }
      }
    } catch (const std::exception& e) {
      spdlog::warn("live migration {}: step failed, retried next tick: {}", uuid, e.what());
      return;
    }
    if (result != StepResult::kAgain) return;
  }
}

}  // namespace ferry::controller::live_migration
