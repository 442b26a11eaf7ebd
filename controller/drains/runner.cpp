#include "controller/drains/runner.hpp"

#include <fmt/ranges.h>
#include <spdlog/spdlog.h>

#include <algorithm>

#include "common/errors.hpp"
#include "controller/drains/plan_now.hpp"
#include "controller/store/cold_migrations_store.hpp"
#include "controller/store/hosts_store.hpp"
#include "controller/store/servers_store.hpp"

namespace ferry::controller::drains {
namespace {

bool FailedOn(const store::DrainServer& s, const std::string& host) {
  return std::find(s.failed_dests.begin(), s.failed_dests.end(), host) != s.failed_dests.end();
}

// The host a server's current attempt asks for: a retry's re-planned host (saved before it is
// asked for, so a start made again after a crash asks the same), else the plan's, unless a move
// there failed before.
std::optional<std::string> RequestedHost(const store::DrainServer& s) {
  if (s.dest && !FailedOn(s, *s.dest)) return s.dest;
  if (s.planned_dest && !FailedOn(s, *s.planned_dest)) return s.planned_dest;
  return std::nullopt;
}

}  // namespace

void Runner::Start() {
  thread_ = std::thread([this] {
    std::unique_lock lock(mu_);
    while (!stop_) {
      lock.unlock();
      try {
        Tick();
      } catch (const std::exception& e) {
        spdlog::warn("drain runner: {}", e.what());
      }
      lock.lock();
      cv_.wait_for(lock, ctx_.engine.tick, [&] { return stop_ || poked_; });
      poked_ = false;
    }
  });
}

void Runner::Poke() {
  {
    std::lock_guard lock(mu_);
    poked_ = true;
  }
  cv_.notify_all();
}

void Runner::Stop() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void Runner::Tick() {
  std::vector<std::string> mine;
  ctx_.db.Transact([&](store::Tx& tx) {
    mine = store::AcquireDrainLeases(tx, ctx_.engine.owner, ctx_.engine.lease);
  });
  for (const auto& uuid : mine) {
    try {
      Drive(uuid);
    } catch (const std::exception& e) {
      spdlog::warn("drain {}: {}", uuid, e.what());
    }
  }
}

void Runner::Save(const store::Drain& d, const store::DrainServer& s) {
  ctx_.db.Transact([&](store::Tx& tx) {
    // A stalled controller whose lease lapsed writes nothing (the new owner drives the drain).
    if (!store::DrainLeaseHeld(tx, d.uuid, ctx_.engine.owner)) {
      throw Error(Errc::kConflict, "drain " + d.uuid + " is no longer driven here");
    }
    store::SaveDrainServer(tx, d.id, s);
  });
}

void Runner::Enter(const store::Drain& d, store::DrainServer& s, std::string_view to,
                   std::string_view event) {
  const std::string from = s.state;
  if (!IsAllowed(Subject::kServer, from, to, event)) {
    spdlog::error("drain {}: {} takes {} -> {} ({}), which the state table does not have", d.uuid,
                  s.name, from, to, event);
  }
  s.state = to;
  Save(d, s);
  spdlog::info("drain {} server {} ({}) {} -> {} ({}): {}", d.uuid, s.server_uuid, s.name, from, to,
               event, s.reason.value_or(s.dest.value_or("")));
  if (on_transition_) on_transition_({Subject::kServer, from, to, event}, d.uuid);
}

void Runner::Failed(const store::Drain& d, store::DrainServer& s, const std::string& reason,
                    std::string_view event) {
  s.reason = reason;
  s.migration_uuid.reset();
  s.dest.reset();  // where it was going is in failed_dests
  if (s.attempts < kMaxAttemptsPerServer && (d.status == "running" || d.status == "paused")) {
    spdlog::warn("drain {}: {} failed to move ({}); trying once more elsewhere", d.uuid, s.name,
                 reason);
    Enter(d, s, "pending", event);  // once more, elsewhere
  } else {
    s.finished_at = ctx_.clock.Now();
    spdlog::warn("drain {}: {} not moved: {}", d.uuid, s.name, reason);
    Enter(d, s, "failed", event);
  }
}

void Runner::Follow(store::Drain& d, store::DrainServer& s) {
  if (!s.migration_uuid) return Failed(d, s, "its move was lost", "move_failed");
  std::optional<store::MoveOutcome> o;
  bool host_down = false;
  ctx_.db.Transact([&](store::Tx& tx) {
    o = store::FindMoveOutcome(tx, *s.migration_uuid);
    if (o && (o->status == "finished" || o->status == "confirming")) {
      const auto host = store::FindHostNamed(tx, d.host);
      host_down = !host || !host->IsUp();
    }
    // A cold move waits in VERIFY_RESIZE for a confirm: a drain confirms its own, so the host
    // really empties (the source's copy goes).
    if (o && o->status == "finished" && (o->type == "migration" || o->type == "resize")) {
      store::RequestConfirm(tx, *s.migration_uuid, ctx_.clock.Now(), "drain");
    }
  });
  if (!o) return Failed(d, s, "its move was lost", "move_failed");
  // A cold move whose guest runs on its destination, waiting for its confirm, while the drained
  // host is down: the confirm (the source's copy removed) needs that host's agent and is the
  // engine's to finish when it returns; the drain does not wait for a host that may never.
  const bool confirm_waits_for_dead_source =
      host_down && (o->status == "finished" || o->status == "confirming") &&
      (o->type == "migration" || o->type == "resize");
  const bool moved = o->status == "completed" || o->status == "confirmed" ||
                     (o->type == "evacuation" && o->status == "done") ||
                     confirm_waits_for_dead_source;
  if (moved) {
    s.dest = o->dest;
    s.finished_at = ctx_.clock.Now();
    if (o->bytes_moved > 0) s.bytes = o->bytes_moved;
    s.reason.reset();
    if (confirm_waits_for_dead_source) {
      s.reason = "running on " + o->dest.value_or("its destination") + "; " + d.host +
                 "'s copy is removed when " + d.host + " returns";
    }
    return Enter(d, s, "moved", "move_succeeded");
  }
  const bool stop = d.status == "cancelling" || (d.deadline && ctx_.clock.Now() >= *d.deadline);
  const bool ended = o->status == "failed" || o->status == "error" || o->status == "cancelled" ||
                     o->status == "reverted";
  if (!ended) {
    // Cancelled or past its deadline: a move still waiting in the engine's queue has not
    // started and is aborted (it ends "cancelled", nothing touched); one under way ends itself.
    if (stop && o->status == "queued") AbortQueued(s, *o);
    return;
  }
  if (o->status == "cancelled" && stop) {
    s.reason = d.status == "cancelling" ? "the drain was cancelled" : "the deadline passed";
    s.finished_at = ctx_.clock.Now();
    s.migration_uuid.reset();
    return Enter(d, s, "cancelled", "queued_move_aborted");
  }
  // Where it was going, or (a move that failed before it had a destination, e.g. the planned one
  // no longer fits) where it was asked to go: the retry goes elsewhere.
  if (o->dest) {
    s.failed_dests.push_back(*o->dest);
  } else if (auto asked = RequestedHost(s)) {
    s.failed_dests.push_back(*asked);
  }
  Failed(d, s, o->error_reason.value_or("the move ended " + o->status), "move_failed");
}

void Runner::AbortQueued(const store::DrainServer& s, const store::MoveOutcome& o) {
  try {
    if (o.type == "live-migration") {
      live_.Abort(s.server_uuid, o.id, /*allow_before_running=*/true, /*admin=*/true);
    } else if (o.type == "migration" || o.type == "resize") {
      cold_.Abort(s.server_uuid, o.id, /*admin=*/true);
    }
    // An evacuation has no abort (Nova has none): it ends on its own.
  } catch (const Error& e) {
    // Admitted meanwhile, or asked already: it ends on its own.
    spdlog::info("drain: {}'s queued move not aborted: {}", s.name, e.what());
  }
}

void Runner::StartMove(store::Drain& d, store::DrainServer& s) {
  std::optional<store::Server> server;
  ctx_.db.Transact([&](store::Tx& tx) { server = store::FindServer(tx, s.server_uuid); });
  if (!server) {
    s.reason = "the server was deleted";
    s.finished_at = ctx_.clock.Now();
    return Enter(d, s, "skipped", "server_deleted");
  }
  if (server->host != d.host && s.state != "starting") {
    s.dest = server->host;
    s.reason = "moved by another request";
    s.finished_at = ctx_.clock.Now();
    return Enter(d, s, "moved", "moved_elsewhere");
  }
  const bool fresh = s.state != "starting";
  if (fresh && server->task_state) {
    // Busy with a task of its own (an admin's move, a resize waiting for confirm...): the drain
    // waits for it to end rather than spend an attempt on a refusal, and a move elsewhere then
    // counts as moved. Not for ever: some tasks wait on a host that may never return, and the
    // drain holds its host's one live drain. Past --drain-busy-wait (from when the wait began,
    // kept in started_at) its requests are made, and refused, as for any server that cannot
    // move.
    if (!s.started_at) s.started_at = ctx_.clock.Now();
    if (ctx_.clock.Now() - *s.started_at < ctx_.options.busy_wait) {
      const std::string why = "waiting for its task " + *server->task_state + " to end";
      if (s.reason != why) {
        s.reason = why;
        Save(d, s);
      }
      return;
    }
  }
  // The plan's destination the first time; after a failure, placed again as the plan placed it
  // (its filters, target_hosts, hosts being drained avoided) without where it failed: the
  // destination may have stopped fitting. A start made again after a crash asks under the same
  // key, which finds the move already made.
  std::optional<std::string> host = RequestedHost(s);
  const std::string request_id = "req-drain-" + d.uuid;
  const std::string user = d.user_id.value_or("admin");
  const std::string project = d.project_id.value_or("admin");
  if (s.state != "starting") {
    // The intent first, under the lease: a controller that dies (or stalls past its lease)
    // between here and the move's own record leaves "starting", and whoever drives the drain
    // next makes the same request under the same key, getting the same move, never a second.
    ++s.attempts;
    s.started_at = ctx_.clock.Now();
    Enter(d, s, "starting", "intent_saved");
  }
  const std::string key =
      "drain:" + d.uuid + ":" + s.server_uuid + ":" + std::to_string(s.attempts);
  try {
    if (!host) {
      // A retry: placed again now, and saved before it is asked for.
      host = Replan(d, s);
      s.dest = host;
      Save(d, s);
    }
    std::string migration;
    if (s.kind == "live") {
      live_migration::LiveMigrateRequest r;
      r.server_uuid = s.server_uuid;
      r.host = host;
      r.admin = true;
      r.user_id = user;
      r.project_id = project;
      r.request_id = request_id;
      r.idempotency_key = key;
      r.drain_uuid = d.uuid;
      migration = live_.Request(r).uuid;
    } else if (s.kind == "cold") {
      cold_migration::ColdMoveRequest r;
      r.server_uuid = s.server_uuid;
      r.host = host;
      r.admin = true;
      r.user_id = user;
      r.project_id = project;
      r.request_id = request_id;
      r.idempotency_key = key;
      r.drain_uuid = d.uuid;
      migration = cold_.Request(r).uuid;
    } else {
      evacuation::EvacuateRequest r;
      r.server_uuid = s.server_uuid;
      r.host = host;
      r.user_id = user;
      r.project_id = project;
      r.request_id = request_id;
      r.idempotency_key = key;
      r.drain_uuid = d.uuid;
      migration = evacuations_.Request(r).uuid;
    }
    // Tagged at its creation already; this tags a move an older controller created untagged.
    ctx_.db.Transact([&](store::Tx& tx) { store::SetMoveDrain(tx, migration, d.uuid); });
    s.migration_uuid = migration;
    s.reason.reset();
    spdlog::info("drain {}: {} moving ({}) to {}", d.uuid, s.name, s.kind,
                 host.value_or("the scheduler's choice"));
  } catch (const Error& e) {
    if (e.code() == Errc::kUnavailable) throw;  // the database: the same key next tick
    if (host) s.failed_dests.push_back(*host);
    return Failed(d, s, e.what(), "request_refused");
  }
  Enter(d, s, "moving", "move_requested");
}

std::string Runner::Replan(const store::Drain& d, const store::DrainServer& s) {
  PlanScope scope;
  scope.host = d.host;
  scope.mode = s.kind == "evacuate" ? d.mode : s.kind;
  scope.target_hosts = d.target_hosts;
  scope.max_parallel = 1;
  scope.only_server = s.server_uuid;
  scope.also_avoid = s.failed_dests;
  scope.targets_must_exist = false;
  const auto made = PlanNow(ctx_, scope);
  if (made.plan.servers.empty()) throw Error(Errc::kConflict, "the server left the host");
  const auto& p = made.plan.servers.front();
  if (!p.dest) throw Error(Errc::kConflict, p.reason.value_or("no destination fits"));
  spdlog::info("drain {}: {} placed again on {} (not on {})", d.uuid, s.name, *p.dest,
               fmt::join(s.failed_dests, ", "));
  return *p.dest;
}

void Runner::Drive(const std::string& uuid) {
  std::optional<store::Drain> found;
  ctx_.db.Transact([&](store::Tx& tx) { found = store::FindDrain(tx, uuid); });
  if (!found || found->lease_owner != ctx_.engine.owner) return;
  store::Drain& d = *found;
  const bool past_deadline = d.deadline && ctx_.clock.Now() >= *d.deadline;

  int moving = 0;
  for (auto& s : d.servers) {
    if (s.state == "moving") {
      Follow(d, s);
      if (s.state == "moving") ++moving;
    }
  }
  for (auto& s : d.servers) {
    // A start a crashed (or stalled) owner left half-made: made again under its key.
    if (s.state != "starting") continue;
    StartMove(d, s);
    if (s.state == "moving") ++moving;
  }
  for (auto& s : d.servers) {
    if (s.state != "pending") continue;
    // Cancelled, or past the deadline: what has not started does not start; moves under way end
    // on their own (nothing is left half-done).
    if (d.status == "cancelling" || past_deadline) {
      s.reason = d.status == "cancelling" ? "the drain was cancelled" : "the deadline passed";
      s.finished_at = ctx_.clock.Now();
      Enter(d, s, "cancelled", "drain_stopped");
      continue;
    }
    if (d.status != "running" || moving >= d.max_parallel) continue;
    StartMove(d, s);
    if (s.state == "moving") ++moving;
  }
  if (std::all_of(d.servers.begin(), d.servers.end(),
                  [](const auto& s) { return IsServerEnded(s.state); })) {
    Finish(d);
  }
}

void Runner::Finish(const store::Drain& d) {
  const auto moved = std::count_if(d.servers.begin(), d.servers.end(),
                                   [](const auto& s) { return s.state == "moved"; });
  std::string end = "partial";
  std::string_view event = "some_not_moved";
  if (d.status == "cancelling") {
    end = "cancelled";
    event = "moves_ended";
  } else if (moved == static_cast<long>(d.servers.size())) {
    // Every planned server moved; a server that arrived after the plan (a move into the host
    // under way when it was made) still leaves the host not empty.
    bool empty = true;
    ctx_.db.Transact([&](store::Tx& tx) {
      store::ServerFilter f;
      f.host = d.host;
      f.limit = 1;
      empty = store::ListServers(tx, f).empty();
    });
    if (empty) {
      end = "done";
      event = "all_moved";
    }
  } else if (moved == 0) {
    end = "failed";
    event = "none_moved";
  }
  if (!IsAllowed(Subject::kDrain, d.status, end, event)) {
    spdlog::error("drain {} takes {} -> {} ({}), which the state table does not have", d.uuid,
                  d.status, end, event);
  }
  // From the status this pass decided on: paused or cancelled meanwhile, the next pass decides.
  bool finished = false;
  ctx_.db.Transact([&](store::Tx& tx) {
    finished = store::FinishDrain(tx, d.uuid, ctx_.engine.owner, d.status, end);
  });
  if (!finished) return;
  spdlog::info("drain {} {} -> {} ({}): host={} moved={}/{}", d.uuid, d.status, end, event, d.host,
               moved, d.servers.size());
  if (on_transition_) on_transition_({Subject::kDrain, d.status, end, event}, d.uuid);
}

}  // namespace ferry::controller::drains
