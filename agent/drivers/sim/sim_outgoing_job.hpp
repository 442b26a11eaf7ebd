#pragma once
// One outgoing live migration on a source sim: a thread that connects to the destination's
// incoming_uri, runs the MigrationModel in real time (100 ms ticks) and tells the destination
// about each round and the switch-over over that connection. The driver decides what is
// allowed (abort after post-copy, ...); this class only runs the copy.
#include <condition_variable>
#include <functional>
#include <mutex>
#include <optional>
#include <thread>

#include "agent/drivers/sim/sim_migration_model.hpp"
#include "api/wire/live_migration_messages.hpp"
#include "common/clock.hpp"

namespace ferry::agent::sim {

struct OutgoingJobHooks {
  // The job ended (completed, failed or cancelled). For "completed" the guest has switched over:
  // the destination confirmed it runs there, so the source must forget it.
  std::function<void(const wire::LiveMigrationJob& final_state)> on_end;
  // The source guest was paused (pause or post-copy) or resumed (the job ended without moving).
  std::function<void(wire::PowerState)> on_source_power;
  // Journals a fact about how far the job got (true once durable), so that an agent restarted
  // mid-job knows where the guest may be: "postcopy_started" and "switchover_sent" just before
  // the destination is told (false: the job fails instead, the guest still here),
  // "postcopy_confirmed" once the destination runs the guest (best effort).
  std::function<bool(const char* fact)> journal;
};

struct OutgoingJobFaults {
  bool switchover_fails = false;    // the switch-over fails; the guest stays on the source
  bool die_past_half_copy = false;  // _exit(137) once the first pass is half sent
  // The link breaks right after post-copy moved the guest's execution to the destination:
  // the pages still on the source never arrive, and neither host can run the guest.
  bool postcopy_fails = false;
  // The job reports "completed" although the switch-over never reached the destination: the
  // guest stopped on the source mid-copy (a host reboot, QEMU killed) and was read as migrated
  // (review C1). It stays defined on the source, shut off; the destination keeps its paused
  // incoming copy.
  bool lost_switchover = false;
};

class OutgoingJob {
 public:
  OutgoingJob(wire::LiveMigrationSpec spec, MigrationModelInput model, OutgoingJobFaults faults,
              OutgoingJobHooks hooks, Clock& clock);
  // Stops the thread without an outcome (the agent is shutting down; a real hypervisor's job
  // would outlive the agent, the sim's cannot).
  ~OutgoingJob();
  OutgoingJob(const OutgoingJob&) = delete;
  OutgoingJob& operator=(const OutgoingJob&) = delete;

  void Start();
  wire::LiveMigrationJob Snapshot() const;
  void RequestAbort();
  void RequestForceComplete(bool post_copy);

 private:
  void Run();
  void RunCopy();
  bool Tick();  // false once the job has ended
  nlohmann::json AwaitReply(class LinkConnection& conn, const char* what);
  void Publish();
  void End(const std::string& state, const std::string& error);
  bool Stopping() const;

  const wire::LiveMigrationSpec spec_;
  const OutgoingJobFaults faults_;
  const OutgoingJobHooks hooks_;
  Clock& clock_;

  mutable std::mutex mu_;
  std::condition_variable wake_;
  bool stop_ = false;
  bool abort_requested_ = false;
  std::optional<bool> force_post_copy_;  // set once force-complete was asked
  wire::LiveMigrationJob snapshot_;

  // Job-thread state.
  MigrationModel model_;
  bool guest_paused_ = false;
  bool guest_left_ = false;  // post-copy started: the guest runs on the destination
  std::thread thread_;
};

}  // namespace ferry::agent::sim
