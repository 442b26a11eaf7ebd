#pragma once
// The sim's model of one outgoing live-migration job, as QEMU runs it: optional block copy
// first, then pre-copy rounds (round 1 sends all RAM, each later round what the guest dirtied
// during the previous one), switch-over once the rest fits in the allowed downtime, and the two
// ways to force completion (post-copy, pause). Pure arithmetic on elapsed time: no threads, no
// clock, no I/O, so tests drive it step by step.
#include <cstdint>
#include <string>

#include "api/wire/live_migration_messages.hpp"

namespace ferry::agent::sim {

inline constexpr int64_t kBytesPerMiB = int64_t{1} << 20;
inline constexpr int64_t kBytesPerGiB = int64_t{1} << 30;
// QEMU's auto-converge defaults: cpu-throttle-initial 20 %, cpu-throttle-increment 10 %,
// max-cpu-throttle 99 %.
inline constexpr int kThrottleInitialPercent = 20;
inline constexpr int kThrottleIncrementPercent = 10;
inline constexpr int kThrottleMaxPercent = 99;
// QEMU starts throttling after this many rounds that did not converge (the sim's simplification
// of "dirty pages exceeded 50 % of the transfer twice in a row").
inline constexpr int kRoundsBeforeThrottle = 2;

// Nova's stepwise downtime increase (nova/virt/libvirt/migration.py downtime_steps): the allowed
// downtime starts at max/steps and rises by (max - max/steps)/steps every
// delay_s_per_gib x data_gib seconds until it reaches max_downtime_ms.
int64_t MaxDowntimeMsAt(int64_t max_downtime_ms, int steps, int64_t delay_s_per_gib,
                        double data_gib, double elapsed_s);

struct MigrationModelInput {
  int64_t memory_bytes = 0;
  int64_t disk_bytes = 0;  // 0 unless block migration
  int64_t rate_bytes_per_s = 0;
  int64_t dirty_bytes_per_s = 0;
  int64_t max_downtime_ms = 500;
  int downtime_steps = 10;
  int64_t downtime_delay_s = 75;
  bool auto_converge = false;
};

enum class ModelPhase { kDisk, kPrecopy, kSwitchover, kPostcopy, kPaused, kDone };

// The wire name of a phase ("precopy", ...); kDisk is reported as "precopy" like libvirt does.
std::string PhaseName(ModelPhase phase);

class MigrationModel {
 public:
  // Throws ferry::Error(kBadRequest) when the rate is not positive.
  explicit MigrationModel(MigrationModelInput input);

  // Advances by dt seconds of transfer at the full rate.
  void Advance(double dt_s);
  // The guest now runs on the destination; the rest is pulled at the rate and no longer dirtied
  // at the source. Applied when RAM copying starts if still copying disks. No-op once forcing.
  void StartPostcopy();
  // The guest is paused at the source: nothing is dirtied any more, so the copy converges.
  void Pause();

  ModelPhase Phase() const { return phase_; }
  bool Done() const { return phase_ == ModelPhase::kDone; }
  int Iteration() const { return iteration_; }
  int ThrottlePercent() const { return throttle_percent_; }
  // Share of the first full copy (disk + one pass of RAM) sent so far, in [0, 1].
  double FirstPassFraction() const;
  // The counters as the wire reports them (state and identity are the caller's).
  void FillStats(wire::LiveMigrationJob& job) const;

 private:
  double EffectiveDirtyRate() const;
  double AllowedDowntimeMs() const;
  void EndRound();
  void ApplyPendingForce();

  const MigrationModelInput in_;
  const double rate_;
  ModelPhase phase_;
  double elapsed_s_ = 0;
  double disk_processed_ = 0;
  double memory_processed_ = 0;
  double round_left_ = 0;  // bytes of the current round not yet sent
  double dirtied_ = 0;     // bytes dirtied since the current round started (capped at RAM)
  int iteration_ = 0;
  int rounds_without_convergence_ = 0;
  int throttle_percent_ = 0;
  double downtime_ms_ = 0;  // expected while running, measured once done
  double forced_at_s_ = -1;
  enum class Force { kNone, kPostcopy, kPause } pending_force_ = Force::kNone;
};

}  // namespace ferry::agent::sim
