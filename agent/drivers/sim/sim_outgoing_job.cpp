#include "agent/drivers/sim/sim_outgoing_job.hpp"

#include <spdlog/spdlog.h>
#include <unistd.h>

#include <chrono>

#include "agent/drivers/sim/sim_migration_link.hpp"
#include "common/errors.hpp"

namespace ferry::agent::sim {
namespace {

using nlohmann::json;
using std::chrono::milliseconds;

// 100 ms ticks: smooth progress for a 0.5 s monitor poll at negligible CPU.
constexpr milliseconds kTick{100};
// 3 s to connect: the destination is prepared and listening; a SYN retransmit (1 s) fits twice.
constexpr int kConnectTimeoutMs = 3000;
// 10 s for the destination to answer "start" or "switchover": it only persists a small state
// file (one fsync) before answering.
constexpr milliseconds kReplyTimeout{10'000};
// The exit status of a process killed by SIGKILL as a shell reports it: what the
// agent-dies-mid-copy scenario must look like from outside.
constexpr int kKilledExitStatus = 137;

double Seconds(TimePoint t) { return std::chrono::duration<double>(t.time_since_epoch()).count(); }

}  // namespace

OutgoingJob::OutgoingJob(wire::LiveMigrationSpec spec, MigrationModelInput model,
                         OutgoingJobFaults faults, OutgoingJobHooks hooks, Clock& clock)
    : spec_(std::move(spec)),
      faults_(faults),
      hooks_(std::move(hooks)),
      clock_(clock),
      model_(model) {
  snapshot_.migration_uuid = spec_.migration_uuid;
  snapshot_.domain_uuid = spec_.domain.uuid;
  snapshot_.state = "running";
  model_.FillStats(snapshot_);
  snapshot_.sampled_at = Seconds(clock_.Now());
}

OutgoingJob::~OutgoingJob() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void OutgoingJob::Start() {
  thread_ = std::thread([this] { Run(); });
}

wire::LiveMigrationJob OutgoingJob::Snapshot() const {
  std::lock_guard lock(mu_);
  return snapshot_;
}

void OutgoingJob::RequestAbort() {
  {
    std::lock_guard lock(mu_);
    abort_requested_ = true;
  }
  wake_.notify_all();
}

void OutgoingJob::RequestForceComplete(bool post_copy) {
  {
    std::lock_guard lock(mu_);
    if (!force_post_copy_) force_post_copy_ = post_copy;
  }
  wake_.notify_all();
}

bool OutgoingJob::Stopping() const {
  std::lock_guard lock(mu_);
  return stop_;
}

void OutgoingJob::Run() {
  try {
    RunCopy();
  } catch (const std::exception& e) {
    if (Stopping()) return;  // shutting down: no outcome, the restarted agent reports "failed"
    End("failed", e.what());
  }
}

void OutgoingJob::RunCopy() {
  spdlog::info("ferry-sim: live migration starting migration={} domain={} to={}",
               spec_.migration_uuid, spec_.domain.uuid, spec_.incoming_uri);
  LinkConnection conn = LinkConnection::Connect(spec_.incoming_uri, kConnectTimeoutMs);
  conn.Send(json{{"type", "start"},
                 {"migration_uuid", spec_.migration_uuid},
                 {"domain", spec_.domain},
                 {"memory_total", snapshot_.memory_total},
                 {"disk_total", snapshot_.disk_total}});
  AwaitReply(conn, "start");
  TimePoint last = clock_.Now();
  int reported_round = model_.Iteration();
  for (;;) {
    bool abort = false;
    std::optional<bool> force;
    {
      std::unique_lock lock(mu_);
      // An abort once post-copy moved the guest cannot be honoured: no wake-up for it, or the
      // loop would spin until the copy ends.
      wake_.wait_for(lock, kTick, [this] { return stop_ || (abort_requested_ && !guest_left_); });
      if (stop_) return;
      abort = abort_requested_;
      force = force_post_copy_;
    }
    if (abort && !guest_left_) {
      conn.Send(json{{"type", "cancel"}, {"reason", "aborted"}});
      End("cancelled", "");
      return;
    }
    if (force) *force ? model_.StartPostcopy() : model_.Pause();
    TimePoint now = clock_.Now();
    model_.Advance(std::chrono::duration<double>(now - last).count());
    last = now;
    if (!guest_paused_ &&
        (model_.Phase() == ModelPhase::kPaused || model_.Phase() == ModelPhase::kPostcopy)) {
      guest_paused_ = true;
      hooks_.on_source_power(wire::PowerState::kPaused);
    }
    if (!guest_left_ && model_.Phase() == ModelPhase::kPostcopy) {
      if (!hooks_.journal("postcopy_started")) {
        conn.Send(json{{"type", "cancel"}, {"reason", "post-copy not recorded"}});
        throw Error(Errc::kUnavailable,
                    "post-copy was not started: the agent could not record it in its state "
                    "directory; the guest stays on the source");
      }
      conn.Send(json{{"type", "postcopy"}});
      AwaitReply(conn, "postcopy");
      guest_left_ = true;
      hooks_.journal("postcopy_confirmed");
      if (faults_.postcopy_fails) {
        Publish();
        // Leaving closes the link: the destination notices the pages it still needs will not
        // come, as QEMU's does, and pauses the guest there.
        throw Error(Errc::kUnavailable,
                    "post-copy failed: the migration link broke with " +
                        std::to_string(Snapshot().memory_remaining / (1024 * 1024)) +
                        " MiB still on the source (sim scenario postcopy-fails); the guest is "
                        "paused and needs a restart on the destination");
      }
    }
    if (faults_.die_past_half_copy && model_.FirstPassFraction() > 0.5) {
      spdlog::critical("ferry-sim: scenario agent-dies-mid-copy: exiting {} at {:.0f}% copied",
                       kKilledExitStatus, model_.FirstPassFraction() * 100);
      spdlog::default_logger()->flush();
      _exit(kKilledExitStatus);
    }
    if (model_.Iteration() != reported_round) {
      conn.Send(json{{"type", "round"},
                     {"iteration", reported_round},
                     {"memory_processed", snapshot_.memory_processed}});
      reported_round = model_.Iteration();
    }
    Publish();
    if (!model_.Done()) continue;
    if (faults_.switchover_fails && !guest_left_) {
      conn.Send(json{{"type", "cancel"}, {"reason", "switch-over failed"}});
      throw Error(Errc::kInternal,
                  "switch-over failed (sim scenario switchover-fails); the guest keeps running "
                  "on the source");
    }
    if (faults_.lost_switchover && !guest_left_) {
      spdlog::warn(
          "ferry-sim: scenario lost-switchover: the guest stops here and the job "
          "reports completed migration={}",
          spec_.migration_uuid);
      hooks_.on_source_power(wire::PowerState::kShutdown);
      End("completed", "");
      return;
    }
    if (!guest_left_ && !hooks_.journal("switchover_sent")) {
      conn.Send(json{{"type", "cancel"}, {"reason", "switch-over not recorded"}});
      throw Error(Errc::kUnavailable,
                  "switch-over was not started: the agent could not record it in its state "
                  "directory; the guest keeps running on the source");
    }
    conn.Send(json{{"type", "switchover"}, {"downtime_ms", snapshot_.downtime_ms}});
    AwaitReply(conn, "switchover");
    End("completed", "");
    return;
  }
}

json OutgoingJob::AwaitReply(LinkConnection& conn, const char* what) {
  const TimePoint deadline = clock_.Now() + kReplyTimeout;
  while (!Stopping()) {
    if (auto frame = conn.Receive(static_cast<int>(kTick.count()))) {
      std::string type = frame->value("type", "");
      if (type == "ack") return *frame;
      throw Error(Errc::kConflict, std::string("destination refused ") + what + ": " +
                                       frame->value("error", "no reason given"));
    }
    if (clock_.Now() > deadline) {
      throw Error(Errc::kUnavailable,
                  std::string("destination did not confirm ") + what + " within 10 s");
    }
  }
  throw Error(Errc::kUnavailable, "agent stopping");
}

void OutgoingJob::Publish() {
  std::lock_guard lock(mu_);
  model_.FillStats(snapshot_);
  snapshot_.sampled_at = Seconds(clock_.Now());
}

void OutgoingJob::End(const std::string& state, const std::string& error) {
  wire::LiveMigrationJob final_state = Snapshot();
  model_.FillStats(final_state);
  final_state.state = state;
  final_state.error = error;
  if (state != "completed" && final_state.phase == "done") final_state.phase = "switchover";
  // "postcopy" tells the controller the guest's execution moved (it then drops the source's
  // copy): only once the destination confirmed it, never because the model was asked to.
  if (final_state.phase == "postcopy" && !guest_left_) final_state.phase = "precopy";
  final_state.transfer_rate_bps = 0;
  final_state.sampled_at = Seconds(clock_.Now());
  spdlog::info("ferry-sim: live migration ended migration={} domain={} state={} error=\"{}\"",
               spec_.migration_uuid, spec_.domain.uuid, state, error);
  // The guest stays where it was unless it has left: resume it on the source.
  if (state != "completed" && guest_paused_ && !guest_left_) {
    hooks_.on_source_power(wire::PowerState::kRunning);
  }
  // The outcome is recorded (and the guest's new home persisted) before anyone can see it.
  hooks_.on_end(final_state);
  std::lock_guard lock(mu_);
  snapshot_ = final_state;
}

}  // namespace ferry::agent::sim
