#include "agent/drivers/sim/sim_migration_model.hpp"

#include <algorithm>
#include <cmath>

#include "common/errors.hpp"

namespace ferry::agent::sim {
namespace {

// Nova's floor for the size that scales the downtime delay: 2 GiB per RAM and per disk
// (nova/virt/libvirt/driver.py _live_migration_data_gb).
constexpr double kMinDataGib = 2.0;
// Below one byte a floating-point remainder is rounding noise, not data to send.
constexpr double kByteEpsilon = 1.0;

}  // namespace

int64_t MaxDowntimeMsAt(int64_t max_downtime_ms, int steps, int64_t delay_s_per_gib,
                        double data_gib, double elapsed_s) {
  steps = std::max(steps, 1);
  double base = static_cast<double>(max_downtime_ms) / steps;
  double offset = (static_cast<double>(max_downtime_ms) - base) / steps;
  double delay_s = static_cast<double>(delay_s_per_gib) * data_gib;
  int step = steps;
  if (delay_s > 0)
    step = static_cast<int>(std::min<double>(steps, std::floor(elapsed_s / delay_s)));
  return static_cast<int64_t>(base + offset * step);
}

std::string PhaseName(ModelPhase phase) {
  switch (phase) {
    case ModelPhase::kDisk:
    case ModelPhase::kPrecopy:
      return "precopy";
    case ModelPhase::kSwitchover:
      return "switchover";
    case ModelPhase::kPostcopy:
      return "postcopy";
    case ModelPhase::kPaused:
      return "paused";
    case ModelPhase::kDone:
      return "done";
  }
  return "precopy";
}

MigrationModel::MigrationModel(MigrationModelInput input)
    : in_(input),
      rate_(static_cast<double>(input.rate_bytes_per_s)),
      phase_(input.disk_bytes > 0 ? ModelPhase::kDisk : ModelPhase::kPrecopy) {
  if (in_.rate_bytes_per_s <= 0) throw Error(Errc::kBadRequest, "migration rate must be > 0");
  if (phase_ == ModelPhase::kPrecopy) {
    iteration_ = 1;
    round_left_ = static_cast<double>(in_.memory_bytes);
  }
}

double MigrationModel::EffectiveDirtyRate() const {
  if (phase_ != ModelPhase::kPrecopy && phase_ != ModelPhase::kDisk) return 0;
  return static_cast<double>(in_.dirty_bytes_per_s) * (100 - throttle_percent_) / 100.0;
}

double MigrationModel::AllowedDowntimeMs() const {
  double data_gib = std::max(kMinDataGib, static_cast<double>(in_.memory_bytes) / kBytesPerGiB);
  if (in_.disk_bytes > 0) {
    data_gib += std::max(kMinDataGib, static_cast<double>(in_.disk_bytes) / kBytesPerGiB);
  }
  return static_cast<double>(MaxDowntimeMsAt(in_.max_downtime_ms, in_.downtime_steps,
                                             in_.downtime_delay_s, data_gib, elapsed_s_));
}

void MigrationModel::Advance(double dt_s) {
  double budget = std::max(0.0, dt_s) * rate_;
  const double memory = static_cast<double>(in_.memory_bytes);
  while (budget > 0 && !Done()) {
    // Time advances with each chunk before any round ends, so a measured downtime is exact.
    double send = 0;
    if (phase_ == ModelPhase::kDisk) {
      send = std::min(budget, static_cast<double>(in_.disk_bytes) - disk_processed_);
      disk_processed_ += send;
    } else {
      send = std::min(budget, round_left_);
      // Sending at the full rate, so the time this chunk takes is send / rate.
      dirtied_ = std::min(memory, dirtied_ + EffectiveDirtyRate() * send / rate_);
      round_left_ -= send;
      memory_processed_ += send;
    }
    budget -= send;
    elapsed_s_ += send / rate_;
    if (phase_ == ModelPhase::kDisk) {
      if (static_cast<double>(in_.disk_bytes) - disk_processed_ < kByteEpsilon) {
        disk_processed_ = static_cast<double>(in_.disk_bytes);
        phase_ = ModelPhase::kPrecopy;
        iteration_ = 1;
        round_left_ = memory;
        ApplyPendingForce();
      }
    } else if (round_left_ < kByteEpsilon) {
      EndRound();
    }
  }
}

void MigrationModel::EndRound() {
  round_left_ = 0;
  if (phase_ != ModelPhase::kPrecopy) {
    // Switch-over, pause and post-copy drain without new dirtying: the copy is complete.
    if (phase_ == ModelPhase::kPaused) downtime_ms_ = (elapsed_s_ - forced_at_s_) * 1000.0;
    phase_ = ModelPhase::kDone;
    return;
  }
  double pending = dirtied_;
  dirtied_ = 0;
  double expected_ms = pending / rate_ * 1000.0;
  if (expected_ms <= AllowedDowntimeMs()) {
    phase_ = ModelPhase::kSwitchover;  // guest paused, the last dirty pages go over
    downtime_ms_ = expected_ms;
    round_left_ = pending;
    if (round_left_ < kByteEpsilon) EndRound();
    return;
  }
  ++iteration_;
  ++rounds_without_convergence_;
  round_left_ = pending;
  if (in_.auto_converge && rounds_without_convergence_ >= kRoundsBeforeThrottle) {
    throttle_percent_ =
        throttle_percent_ == 0
            ? kThrottleInitialPercent
            : std::min(kThrottleMaxPercent, throttle_percent_ + kThrottleIncrementPercent);
  }
}

void MigrationModel::StartPostcopy() {
  if (pending_force_ == Force::kNone) pending_force_ = Force::kPostcopy;
  if (phase_ == ModelPhase::kPrecopy) ApplyPendingForce();
}

void MigrationModel::Pause() {
  if (pending_force_ == Force::kNone) pending_force_ = Force::kPause;
  if (phase_ == ModelPhase::kPrecopy) ApplyPendingForce();
}

void MigrationModel::ApplyPendingForce() {
  if (pending_force_ == Force::kNone || phase_ != ModelPhase::kPrecopy) return;
  // What was dirtied this round must go too; from now on nothing new is dirtied at the source.
  round_left_ = std::min(static_cast<double>(in_.memory_bytes), round_left_ + dirtied_);
  dirtied_ = 0;
  forced_at_s_ = elapsed_s_;
  if (pending_force_ == Force::kPostcopy) {
    phase_ = ModelPhase::kPostcopy;
    downtime_ms_ = 0;  // the guest resumes on the destination at once; pages follow on demand
  } else {
    phase_ = ModelPhase::kPaused;
  }
}

double MigrationModel::FirstPassFraction() const {
  double total = static_cast<double>(in_.disk_bytes + in_.memory_bytes);
  if (total <= 0) return 1.0;
  double sent =
      disk_processed_ + std::min(memory_processed_, static_cast<double>(in_.memory_bytes));
  return std::clamp(sent / total, 0.0, 1.0);
}

void MigrationModel::FillStats(wire::LiveMigrationJob& job) const {
  const double memory = static_cast<double>(in_.memory_bytes);
  double remaining = memory;
  if (Done()) {
    remaining = 0;
  } else if (phase_ != ModelPhase::kDisk) {
    remaining = std::min(memory, round_left_ + dirtied_);
  }
  job.phase = PhaseName(phase_);
  job.iteration = iteration_;
  job.memory_total = in_.memory_bytes;
  job.memory_processed = std::llround(memory_processed_);
  job.memory_remaining = std::llround(remaining);
  job.disk_total = in_.disk_bytes;
  job.disk_processed = std::llround(disk_processed_);
  job.disk_remaining = in_.disk_bytes - job.disk_processed;
  job.transfer_rate_bps = Done() ? 0 : in_.rate_bytes_per_s;
  job.dirty_rate_bps = std::llround(EffectiveDirtyRate());
  // Running: what a switch-over now would cost; done: what it cost.
  bool measured = Done() || phase_ == ModelPhase::kSwitchover || phase_ == ModelPhase::kPostcopy;
  job.downtime_ms = std::llround(measured ? downtime_ms_ : remaining / rate_ * 1000.0);
  job.throttle_percent = throttle_percent_;
}

}  // namespace ferry::agent::sim
