#include "controller/moves/engine.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>

#include "common/errors.hpp"

namespace ferry::controller::moves {
namespace {

// The database down, restarting, read-only or timing out (store/database.cpp maps those to
// kUnavailable): nothing the move did wrong, and often nothing could record a failure anyway.
// Retried on the next tick, never counted. (Agents that do not answer never throw out of a
// step: the steps turn that into waiting.)
bool DatabaseTrouble(const std::exception& e) {
  const auto* error = dynamic_cast<const Error*>(&e);
  return error && error->code() == Errc::kUnavailable;
}

}  // namespace

std::string Describe(const std::string& type) {
  std::string out = type;
  std::ranges::replace(out, '-', ' ');
  return out;
}

Engine::Engine(const EngineOptions& options, store::Database& db, store::Database& lease_db)
    : options_(options), db_(db), lease_db_(lease_db) {}

Engine::~Engine() { Stop(); }

void Engine::AddKind(MoveKind& kind) {
  std::string type(kind.type());
  if (!kinds_.emplace(type, &kind).second) {
    throw std::logic_error("move kind " + type + " added twice");
  }
  types_.push_back(std::move(type));
}

MoveKind* Engine::KindOf(const std::string& type) const {
  auto it = kinds_.find(type);
  return it == kinds_.end() ? nullptr : it->second;
}

void Engine::Start() {
  for (int i = 0; i < options_.workers; ++i) workers_.emplace_back([this] { WorkerLoop(); });
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

void Engine::Wake(const store::MoveRef& move) {
  {
    std::lock_guard lock(mu_);
    if (stop_) return;
    if (!queued_or_running_.insert(move.uuid).second) {
      rerun_.insert(move.uuid);
      return;
    }
    queue_.push_back(move);
  }
  cv_.notify_one();
}

void Engine::Tick() {
  RenewLeases();
  AdmitQueued();
}

void Engine::RenewLeases() {
  std::vector<store::MoveRef> mine;
  lease_db_.Transact([&](store::Tx& tx) {
    mine = store::RenewLeases(tx, owner(), options_.lease, types_);
    for (auto& move : store::AcquireLeases(tx, owner(), options_.lease, types_, 100)) {
      spdlog::info("{} {}: lease taken by {}", Describe(move.type), move.uuid, owner());
      mine.push_back(std::move(move));
    }
  });
  for (const auto& move : mine) Wake(move);
}

void Engine::AdmitQueued() {
  const auto& limits = options_.limits;
  std::vector<std::pair<MoveKind*, store::MoveRef>> admitted;
  std::vector<std::pair<store::MoveRef, std::string>> refused;  // Admit threw
  db_.Transact([&](store::Tx& tx) {
    admitted.clear();  // a retried transaction starts over
    refused.clear();
    auto view = store::LockSlots(tx, limits.max_total != 0);
    for (const auto& q : view.queued) {
      // An empty source (an evacuation's dead host) sends nothing: no outbound slot.
      const bool fits =
          (q.source.empty() || view.outbound[q.source] < limits.max_outbound_per_host) &&
          view.inbound[q.dest] < limits.max_inbound_per_host &&
          (limits.max_total == 0 || view.total < limits.max_total);
      if (!fits) continue;
      // Fairness holds across controllers and kinds: a move another controller drives (or of
      // a kind this one does not) keeps its turn, its slot counted; its owner admits it.
      if (q.lease_owner == owner()) {
        auto* kind = KindOf(q.move.type);
        bool admit = false;
        try {
          // In a savepoint: a statement the database refused for this move is undone alone
          // and leaves the pass's transaction usable for the others.
          if (kind)
            store::InSavepoint(tx, [&](store::Tx& t) { admit = kind->Admit(t, q.move.uuid); });
        } catch (const Error& e) {
          // The database itself failing is no fault of this move: the pass fails and is tried
          // again next tick, nothing counted.
          if (e.code() == Errc::kUnavailable) throw;
          refused.emplace_back(q.move, e.what());
        } catch (const std::exception& e) {
          // One move that cannot be admitted must not stop admission for every other: it is
          // skipped and its failure counted below.
          refused.emplace_back(q.move, e.what());
        }
        // Not admitted: its slot stays free for the next in turn.
        if (!admit) continue;
        admitted.emplace_back(kind, q.move);
      }
      if (!q.source.empty()) ++view.outbound[q.source];
      ++view.inbound[q.dest];
      ++view.total;
    }
  });
  for (const auto& [move, what] : refused) {
    if (auto* kind = KindOf(move.type)) StepFailed(*kind, move, std::runtime_error(what));
  }
  for (const auto& [kind, move] : admitted) {
    kind->Admitted(move.uuid);
    Wake(move);
  }
}

void Engine::AdmitSoon() {
  bool ticking = false;
  {
    std::lock_guard lock(mu_);
    ticking = admission_ticker_.joinable() && !stop_;
    admit_soon_ = true;
  }
  if (ticking) {
    tick_cv_.notify_all();
    return;
  }
  try {  // no admission thread (a test driving the engine by hand): admit here
    AdmitQueued();
  } catch (const std::exception& e) {
    spdlog::warn("move engine: admission failed: {}", e.what());
  }
}

void Engine::TickLoop(void (Engine::*tick)(), const char* what) {
  const bool admission = tick == &Engine::AdmitQueued;
  std::unique_lock lock(mu_);
  while (!stop_) {
    if (admission) admit_soon_ = false;  // this pass sees every change asked before it
    lock.unlock();
    try {
      (this->*tick)();
    } catch (const std::exception& e) {
      spdlog::warn("move engine: {} failed: {}", what, e.what());
    }
    lock.lock();
    tick_cv_.wait_for(lock, options_.tick,
                      [this, admission] { return stop_ || (admission && admit_soon_); });
  }
}

void Engine::WorkerLoop() {
  std::unique_lock lock(mu_);
  while (true) {
    cv_.wait(lock, [this] { return stop_ || !queue_.empty(); });
    if (stop_) return;
    auto move = queue_.front();
    queue_.pop_front();
    lock.unlock();
    Drive(move);
    lock.lock();
    queued_or_running_.erase(move.uuid);
    if (rerun_.erase(move.uuid) && !stop_) {
      queued_or_running_.insert(move.uuid);
      queue_.push_back(move);
      cv_.notify_one();
    }
  }
}

void Engine::Drive(const store::MoveRef& move) {
  auto* kind = KindOf(move.type);
  if (!kind) return;
  // Bounded so one move cannot monopolise a worker; the next tick continues it.
  for (int step = 0; step < 20; ++step) {
    StepOutcome outcome;
    try {
      outcome = kind->Step(move.uuid);
    } catch (const std::exception& e) {
      StepFailed(*kind, move, e);
      return;
    }
    if (outcome.clears_failures) {
      try {
        db_.Transact([&](store::Tx& tx) { store::ClearStepFailures(tx, move.uuid, owner()); });
      } catch (const std::exception& e) {
        spdlog::warn("{} {}: could not clear its failure count: {}", Describe(move.type), move.uuid,
                     e.what());
      }
    }
    // A slot freed (or a move queued): admit without waiting for the tick.
    if (outcome.slots_changed) AdmitSoon();
    if (outcome.result != StepResult::kAgain) return;
  }
}

void Engine::StepFailed(MoveKind& kind, const store::MoveRef& move, const std::exception& e) {
  const auto what = Describe(move.type) + " " + move.uuid;
  if (DatabaseTrouble(e)) {
    spdlog::warn("{}: step failed, retried next tick: {}", what, e.what());
    return;
  }
  try {
    std::optional<store::StepFailures> failures;
    db_.Transact([&](store::Tx& tx) {
      failures = store::RecordStepFailure(tx, move.uuid, owner(), e.what());
    });
    if (!failures) return;  // no longer ours
    spdlog::warn("{}: step failed ({} of {} in {:.0f} s), retried next tick: {}", what,
                 failures->count, options_.step_retry_budget, failures->failing_for_s, e.what());
    if (failures->count < options_.step_retry_budget ||
        failures->failing_for_s < static_cast<double>(options_.step_retry_window.count())) {
      return;
    }
    kind.GiveUp(move.uuid, "gave up after " + std::to_string(failures->count) +
                               " failures in a row of the same step: " + e.what());
  } catch (const std::exception& again) {
    spdlog::warn("{}: could not record a failed step or give up: {}", what, again.what());
  }
}

}  // namespace ferry::controller::moves
