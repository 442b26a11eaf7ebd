#include "agent/jobs/job_registry.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cctype>

#include "common/errors.hpp"
#include "common/metrics/metrics.hpp"
#include "common/uuid.hpp"

namespace ferry::agent {
namespace {

struct JobMetrics {
  metrics::CounterFamily& started;
  metrics::CounterFamily& ended;
  metrics::HistogramFamily& duration;
};

JobMetrics& Metrics() {
  static JobMetrics m = [] {
    auto& r = metrics::DefaultRegistry();
    JobMetrics j{
        r.AddCounter("ferry_agent_jobs_started_total",
                     "Outgoing jobs this agent started, by kind: live-migration or cold-copy.",
                     {"kind"}),
        r.AddCounter("ferry_agent_jobs_total",
                     "Outgoing jobs that ended, by kind (live-migration, cold-copy) and result "
                     "(completed, failed, cancelled).",
                     {"kind", "result"}),
        r.AddHistogram("ferry_agent_job_duration_seconds",
                       "Seconds from a job's start to its end, by kind and result (jobs this "
                       "process started; one adopted after a restart has no duration).",
                       {"kind", "result"}, metrics::DurationBuckets()),
    };
    for (const char* kind : {kJobKindLive, kJobKindColdCopy}) {
      j.started.With({kind});
      for (const char* result : {"completed", "failed", "cancelled"}) {
        j.ended.With({kind, result});
        j.duration.With({kind, result});
      }
    }
    return j;
  }();
  return m;
}

std::string JobKindLabel(const std::string& kind) {
  return kind == kJobKindColdCopy ? kJobKindColdCopy : kJobKindLive;
}

std::string JobResultLabel(const std::string& state) {
  for (const char* s : {"completed", "failed", "cancelled"}) {
    if (state == s) return s;
  }
  return "other";
}

// Uuids are compared lowercase: the same migration or domain in another case must not pass the
// one-migration-per-domain rule or miss a tombstone.
std::string Key(std::string uuid) {
  std::transform(uuid.begin(), uuid.end(), uuid.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return uuid;
}

bool IsTombstone(const JobRecord& r) { return r.spec.domain.uuid.empty(); }

}  // namespace

JobRegistry::JobRegistry(std::string journal_dir, JobPrimitives& primitives, Clock& clock,
                         JobRegistryLimits limits)
    : journal_(std::move(journal_dir)), primitives_(primitives), clock_(clock), limits_(limits) {
  Metrics();  // the families show from the start
}

double JobRegistry::Now() const {
  return std::chrono::duration<double>(clock_.Now().time_since_epoch()).count();
}

void JobRegistry::Recover() {
  std::vector<JobRecord> loaded = journal_.LoadAll();
  for (auto& record : loaded) {
    const std::string as_written = record.spec.migration_uuid;
    record.spec.migration_uuid = Key(record.spec.migration_uuid);
    record.spec.domain.uuid = Key(record.spec.domain.uuid);
    if (record.cold) {
      record.cold->migration_uuid = record.spec.migration_uuid;
      record.cold->domain.uuid = record.spec.domain.uuid;
    }
    if (as_written != record.spec.migration_uuid && journal_.Put(record)) {
      journal_.Remove(as_written);  // one file per migration, under its lowercase name
    }
    std::optional<wire::LiveMigrationJob> outcome;
    if (!record.Ended()) {
      // Asked before the registry knows the job: nothing samples it meanwhile.
      outcome = primitives_.RecoverJob(record);
      if (!outcome) {
        spdlog::info("agent: watching migration {} again (the hypervisor still runs it)",
                     record.spec.migration_uuid);
      }
    }
    std::lock_guard lock(mu_);
    auto& kept = records_[record.spec.migration_uuid] = std::move(record);
    if (outcome) {
      spdlog::info("agent: migration {} ended {} while no agent watched it",
                   kept.spec.migration_uuid, outcome->state);
      EndLocked(kept, std::move(*outcome));
    }
  }
  std::lock_guard lock(mu_);
  PruneLocked();
}

void JobRegistry::Start(const wire::LiveMigrationSpec& spec) {
  JobRecord record;
  record.spec = spec;
  record.last.phase = "precopy";
  StartRecord(std::move(record));
}

void JobRegistry::StartColdCopy(const wire::ColdMigrationSpec& cold) {
  JobRecord record;
  record.kind = kJobKindColdCopy;
  record.spec.migration_uuid = cold.migration_uuid;
  record.spec.domain = cold.domain;
  record.spec.source_host = cold.source_host;
  record.spec.dest_host = cold.dest_host;
  record.spec.dest_migration_address = cold.dest_migration_address;
  record.spec.bandwidth_mibps = cold.bandwidth_mibps;
  record.spec.monitor_interval_s = cold.monitor_interval_s;
  record.cold = cold;
  record.last.phase = "copying";
  StartRecord(std::move(record));
}

void JobRegistry::StartRecord(JobRecord record) {
  wire::LiveMigrationSpec& spec = record.spec;
  spec.migration_uuid = Key(spec.migration_uuid);
  spec.domain.uuid = Key(spec.domain.uuid);
  if (record.cold) {
    record.cold->migration_uuid = spec.migration_uuid;
    record.cold->domain.uuid = spec.domain.uuid;
  }
  auto refuse_second_copy = [&]() {
    for (const auto& [uuid, r] : records_) {
      if (!r.Ended() && r.spec.domain.uuid == spec.domain.uuid && uuid != spec.migration_uuid) {
        throw Error(Errc::kConflict, "domain " + spec.domain.uuid +
                                         " is already migrating (migration " + uuid + ")");
      }
    }
  };
  {
    std::lock_guard lock(mu_);
    if (records_.count(spec.migration_uuid) != 0) return;  // started, ended, or aborted first
    refuse_second_copy();
  }
  nlohmann::json facts = primitives_.CheckJobStart(record);
  std::lock_guard lock(mu_);
  if (records_.count(spec.migration_uuid) != 0) return;
  refuse_second_copy();
  record.driver_facts = facts.is_object() ? std::move(facts) : nlohmann::json::object();
  record.last.migration_uuid = spec.migration_uuid;
  record.last.domain_uuid = spec.domain.uuid;
  record.last.state = "running";
  record.last.sampled_at = Now();
  if (!journal_.Put(record)) {
    throw Error(Errc::kUnavailable, "migration " + spec.migration_uuid +
                                        ": the job could not be recorded in the agent's state "
                                        "directory, so it was not started");
  }
  const std::string migration_uuid = spec.migration_uuid;
  auto& kept = records_[migration_uuid] = std::move(record);
  started_at_[migration_uuid] = Now();
  Metrics().started.With({JobKindLabel(kept.kind)}).Inc();
  try {
    primitives_.LaunchJob(kept);
  } catch (const std::exception& e) {
    wire::LiveMigrationJob failed = kept.last;
    failed.state = "failed";
    failed.error = std::string("the job did not start: ") + e.what();
    EndLocked(kept, std::move(failed));
    throw;
  }
}

std::optional<wire::LiveMigrationJob> JobRegistry::Refresh(const std::string& migration_uuid) {
  JobRecord snapshot;
  {
    std::lock_guard lock(mu_);
    auto it = records_.find(migration_uuid);
    if (it == records_.end()) return std::nullopt;
    if (it->second.Ended()) return it->second.last;
    snapshot = it->second;
  }
  std::optional<wire::LiveMigrationJob> sample = primitives_.SampleJob(snapshot);
  std::lock_guard lock(mu_);
  auto it = records_.find(migration_uuid);
  if (it == records_.end()) return std::nullopt;
  JobRecord& record = it->second;
  if (sample && !record.Ended()) {
    sample->migration_uuid = record.spec.migration_uuid;
    sample->domain_uuid = record.spec.domain.uuid;
    if (sample->state != "running") {
      EndLocked(record, std::move(*sample));
    } else {
      record.last = std::move(*sample);
    }
  }
  return record.last;
}

std::optional<wire::LiveMigrationJob> JobRegistry::Stats(const std::string& migration_uuid) {
  return Refresh(Key(migration_uuid));
}

std::vector<wire::LiveMigrationJob> JobRegistry::ToReport() {
  std::vector<std::string> pending;
  {
    std::lock_guard lock(mu_);
    for (const auto& [uuid, r] : records_) {
      if (!r.Ended() || !r.reported) pending.push_back(uuid);
    }
  }
  std::vector<wire::LiveMigrationJob> out;
  for (const auto& uuid : pending) {
    if (auto j = Refresh(uuid)) out.push_back(std::move(*j));
  }
  return out;
}

void JobRegistry::Acknowledge(const std::string& migration_uuid) {
  std::lock_guard lock(mu_);
  auto it = records_.find(Key(migration_uuid));
  if (it == records_.end() || !it->second.Ended() || it->second.reported) return;
  it->second.reported = true;
  journal_.Put(it->second);
}

void JobRegistry::Abort(const std::string& requested_uuid) {
  const std::string migration_uuid = Key(requested_uuid);
  if (!IsUuid(migration_uuid)) {
    throw Error(Errc::kBadRequest, "migration_uuid '" + requested_uuid + "' is not a uuid");
  }
  JobRecord snapshot;
  {
    std::lock_guard lock(mu_);
    auto it = records_.find(migration_uuid);
    if (it == records_.end()) {
      // Not started here: a tombstone, so a start that arrives late does nothing.
      JobRecord tomb;
      tomb.spec.migration_uuid = migration_uuid;
      tomb.last.migration_uuid = migration_uuid;
      tomb.last.state = "cancelled";
      tomb.last.phase = "done";
      tomb.last.error = "aborted before the copy started";
      tomb.last.sampled_at = Now();
      tomb.ended_at = tomb.last.sampled_at;
      tomb.reported = true;  // nothing ran: there is no outcome to push
      if (!journal_.Put(tomb)) {
        throw Error(Errc::kUnavailable, "migration " + migration_uuid +
                                            ": the abort could not be recorded, so a late start "
                                            "could still run; try again");
      }
      records_.emplace(migration_uuid, std::move(tomb));
      PruneLocked();
      return;
    }
    JobRecord& record = it->second;
    if (record.Ended()) {
      if (record.last.state == "completed") {
        throw Error(
            Errc::kConflict,
            "migration " + migration_uuid +
                (record.IsColdCopy() ? " has copied every disk to the destination"
                                     : " has completed; the guest runs on the destination"));
      }
      return;  // failed or cancelled: the guest is on the source already
    }
    // Post-copy asked counts as post-copy: a sample may not have shown it yet.
    if (record.last.phase == "postcopy" || (record.forcing && record.post_copy)) {
      throw Error(Errc::kConflict, "migration " + migration_uuid +
                                       " is in post-copy: the guest runs on the destination and "
                                       "cannot be brought back");
    }
    if (!record.abort_requested) {
      record.abort_requested = true;
      journal_.Put(record);  // best effort: an adopted job uses it to say "cancelled"
    }
    snapshot = record;
  }
  try {
    primitives_.AbortJob(snapshot);
  } catch (...) {
    // The hypervisor did not take the abort: the job goes on, and its end must not be read as
    // a cancellation.
    std::lock_guard lock(mu_);
    auto it = records_.find(migration_uuid);
    if (it != records_.end() && !it->second.Ended() && it->second.abort_requested) {
      it->second.abort_requested = false;
      journal_.Put(it->second);
    }
    throw;
  }
  // Wait for the end, so a job that completed anyway (switch-over already under way) is told
  // apart from one cancelled. A job adopted after a restart has no thread of ours to end it:
  // sampling it is how its end is noticed.
  const auto deadline = std::chrono::steady_clock::now() + limits_.abort_wait;
  for (;;) {
    {
      std::unique_lock lock(mu_);
      auto ended = [&] {
        auto it = records_.find(migration_uuid);
        return it == records_.end() || it->second.Ended();
      };
      ended_.wait_for(lock, limits_.abort_poll, ended);
      if (ended()) {
        auto it = records_.find(migration_uuid);
        if (it != records_.end() && it->second.last.state == "completed") {
          throw Error(Errc::kConflict,
                      "migration " + migration_uuid + " completed before the abort");
        }
        return;
      }
    }
    if (std::chrono::steady_clock::now() >= deadline) return;  // asked; its end is reported
    Refresh(migration_uuid);
  }
}

void JobRegistry::ForceComplete(const std::string& requested_uuid, bool permit_post_copy) {
  const std::string migration_uuid = Key(requested_uuid);
  JobRecord snapshot;
  {
    std::lock_guard lock(mu_);
    auto it = records_.find(migration_uuid);
    if (it == records_.end()) {
      throw Error(Errc::kNotFound, "no live migration " + migration_uuid + " on this host");
    }
    JobRecord& record = it->second;
    if (record.IsColdCopy()) {
      // The guest is off: there is no dirtying to outrun, so nothing to force.
      throw Error(Errc::kConflict,
                  "migration " + migration_uuid + ": a cold migration's copy cannot be forced");
    }
    if (record.Ended()) {
      if (record.last.state == "completed") return;
      throw Error(Errc::kConflict, "migration " + migration_uuid + " has ended " +
                                       record.last.state + "; nothing to force");
    }
    if (record.forcing) return;
    // Marked before the hypervisor is asked: from here an abort is refused as post-copy (a
    // refusal is always safe), and a second force does nothing. Whether post-copy really moved
    // the guest is for the driver to tell from the hypervisor, never from this mark.
    record.forcing = true;
    // Post-copy only when the job was started able to switch to it.
    record.post_copy = permit_post_copy && record.spec.permit_post_copy;
    journal_.Put(record);
    snapshot = record;
  }
  try {
    primitives_.ForceCompleteJob(snapshot, snapshot.post_copy);
  } catch (...) {
    std::lock_guard lock(mu_);
    auto it = records_.find(migration_uuid);
    if (it != records_.end() && !it->second.Ended()) {
      it->second.forcing = false;
      it->second.post_copy = false;
      journal_.Put(it->second);
    }
    throw;
  }
}

void JobRegistry::End(const std::string& requested_uuid, wire::LiveMigrationJob final_state) {
  const std::string migration_uuid = Key(requested_uuid);
  {
    std::lock_guard lock(mu_);
    auto it = records_.find(migration_uuid);
    if (it == records_.end() || it->second.Ended()) return;
    EndLocked(it->second, std::move(final_state));
  }
  std::lock_guard lock(listener_mu_);
  if (end_listener_) end_listener_(migration_uuid);
}

void JobRegistry::SetEndListener(std::function<void(const std::string&)> listener) {
  std::lock_guard lock(listener_mu_);
  end_listener_ = std::move(listener);
}

void JobRegistry::EndLocked(JobRecord& record, wire::LiveMigrationJob final_state) {
  if (final_state.state == "running" || !wire::ParseJobState(final_state.state)) {
    final_state.error =
        "job ended in an unknown state '" + final_state.state + "'; " + final_state.error;
    final_state.state = "failed";
  }
  final_state.migration_uuid = record.spec.migration_uuid;
  if (final_state.domain_uuid.empty()) final_state.domain_uuid = record.spec.domain.uuid;
  if (final_state.sampled_at == 0) final_state.sampled_at = Now();
  record.last = std::move(final_state);
  record.ended_at = Now();
  if (!IsTombstone(record)) {
    const std::string kind = JobKindLabel(record.kind);
    const std::string result = JobResultLabel(record.last.state);
    Metrics().ended.With({kind, result}).Inc();
    if (auto it = started_at_.find(record.spec.migration_uuid); it != started_at_.end()) {
      Metrics().duration.With({kind, result}).Observe(std::max(0.0, record.ended_at - it->second));
      started_at_.erase(it);
    }
  }
  // A copy that ended sends nothing more: its move's credential is not kept a day longer.
  if (record.cold) record.cold->transfer_token.clear();
  journal_.Put(record);  // best effort: memory keeps the outcome for this process's life
  PruneLocked();
  ended_.notify_all();
}

bool JobRegistry::SetDriverFacts(const std::string& migration_uuid, const nlohmann::json& facts) {
  std::lock_guard lock(mu_);
  auto it = records_.find(Key(migration_uuid));
  if (it == records_.end()) return false;
  for (const auto& [key, value] : facts.items()) it->second.driver_facts[key] = value;
  return journal_.Put(it->second);
}

std::optional<JobRecord> JobRegistry::Find(const std::string& migration_uuid) const {
  std::lock_guard lock(mu_);
  auto it = records_.find(Key(migration_uuid));
  if (it == records_.end()) return std::nullopt;
  return it->second;
}

bool JobRegistry::AbortRequested(const std::string& migration_uuid) const {
  std::lock_guard lock(mu_);
  auto it = records_.find(Key(migration_uuid));
  return it != records_.end() && it->second.abort_requested;
}

void JobRegistry::PruneLocked() {
  const double now = Now();
  const double keep = std::chrono::duration<double>(limits_.keep_ended).count();
  // By count, only what nobody still needs: outcomes the controller acknowledged, and
  // tombstones (against their own, larger cap, so aborts of unknown migrations can never push
  // out a real outcome). An outcome not yet acknowledged goes only with age.
  std::vector<std::pair<double, std::string>> acknowledged, tombstones;
  for (auto it = records_.begin(); it != records_.end();) {
    const JobRecord& r = it->second;
    if (r.Ended() && now - r.ended_at > keep) {
      journal_.Remove(it->first);
      it = records_.erase(it);
      continue;
    }
    if (r.Ended() && IsTombstone(r)) {
      tombstones.emplace_back(r.ended_at, it->first);
    } else if (r.Ended() && r.reported) {
      acknowledged.emplace_back(r.ended_at, it->first);
    }
    ++it;
  }
  auto drop_oldest = [&](std::vector<std::pair<double, std::string>>& v, size_t cap) {
    if (v.size() <= cap) return;
    std::sort(v.begin(), v.end());
    for (size_t i = 0; i + cap < v.size(); ++i) {
      journal_.Remove(v[i].second);
      records_.erase(v[i].second);
    }
  };
  drop_oldest(acknowledged, limits_.max_ended);
  drop_oldest(tombstones, limits_.max_tombstones);
}

}  // namespace ferry::agent
